-- 0012_parallel_record.sql — recording relays fast and on several connections:
-- byte-order comparison for the key columns, one lock order per batch.
--
-- Numbers, relay keys, idempotency keys and SMSC message ids are compared
-- in every index probe of the hot paths (recording relays, daily billing),
-- and never sorted for people. Under a database collation such as C.UTF-8
-- or ru_RU.UTF-8, PostgreSQL compares text through strcoll(); with COLLATE
-- "C" it is a memcmp. Profiling the relay recorder at saturation showed the
-- text comparisons of btree probes as its largest cost (_bt_compare,
-- varstr_cmp, strcoll). Equality is the same under both (deterministic
-- collations), so no query changes; the indexes on these columns are rebuilt.

ALTER TABLE sms_usage
    ALTER COLUMN relay_key TYPE text COLLATE "C",
    ALTER COLUMN src TYPE text COLLATE "C",
    ALTER COLUMN dst TYPE text COLLATE "C",
    ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE sms_hold ALTER COLUMN relay_key TYPE text COLLATE "C";
ALTER TABLE pair_usage
    ALTER COLUMN pair_lo TYPE text COLLATE "C",
    ALTER COLUMN pair_hi TYPE text COLLATE "C";
ALTER TABLE ledger
    ALTER COLUMN idem_key TYPE text COLLATE "C",
    ALTER COLUMN msisdn TYPE text COLLATE "C";
ALTER TABLE mo_inbound ALTER COLUMN src TYPE text COLLATE "C";
ALTER TABLE outbox ALTER COLUMN dst TYPE text COLLATE "C";
ALTER TABLE sms_receipt ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE subscriber ALTER COLUMN msisdn TYPE text COLLATE "C";
ALTER TABLE dialog
    ALTER COLUMN inviter TYPE text COLLATE "C",
    ALTER COLUMN invitee TYPE text COLLATE "C";

-- Relays are recorded on several connections at once ([db]
-- record_connections): two batches must take their row locks in one order,
-- or they could deadlock. Pair counters are upserted in key order, payers'
-- rows locked in id order before their balances move.
CREATE OR REPLACE FUNCTION dlg_record_relays(
    p_key text[], p_at timestamptz[], p_src text[], p_dst text[], p_sub bigint[],
    p_dialog bigint[], p_pair_day date[], p_segments integer[], p_free integer[],
    p_price bigint[], p_rule text[], p_bill_date date[], p_message_id text[],
    p_mark bigint[], p_fp bigint[])
RETURNS integer
LANGUAGE sql AS $$
WITH b AS (
    SELECT * FROM unnest(p_key, p_at, p_src, p_dst, p_sub, p_dialog, p_pair_day, p_segments,
                         p_free, p_price, p_rule, p_bill_date, p_message_id, p_mark, p_fp)
           AS b(relay_key, at, src, dst, sub, dialog, pair_day, segments, free, price, rule,
                bill_date, message_id, mark, fp)
), ins AS (
    INSERT INTO sms_usage (relay_key, at, src, dst, src_sub_id, dialog_id, pair_day, segments,
                           free_segments, charged_segments, price, amount, rule, bill_date,
                           message_id, ack_mark, mo_fp)
    SELECT relay_key, at, src, dst, sub, dialog, pair_day, segments, free, segments - free,
           price, (segments - free) * price, rule, bill_date, message_id, mark, fp
      FROM b
    ON CONFLICT (relay_key) DO NOTHING
    RETURNING relay_key, at, src, dst, src_sub_id, dialog_id, pair_day, segments,
              free_segments, charged_segments, amount, rule, bill_date, price
), lk AS (
    -- the payers' rows, locked in id order before any balance moves
    SELECT s.id FROM subscriber s
     WHERE s.id IN (SELECT sub FROM b WHERE (segments - free) * price > 0)
     ORDER BY s.id FOR UPDATE
), pu AS (
    INSERT INTO pair_usage AS pu (pair_lo, pair_hi, day, used)
    SELECT least(src, dst), greatest(src, dst), pair_day, sum(free_segments)
      FROM ins WHERE dialog_id IS NOT NULL AND pair_day IS NOT NULL AND free_segments > 0
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (pair_lo, pair_hi, day) DO UPDATE SET used = pu.used + excluded.used
), led AS (
    INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at,
                        idem_key, rule, detail)
    SELECT src_sub_id, src, dialog_id,
           CASE WHEN rule = 'R10' THEN 'sms_over_allowance' ELSE 'sms_standard' END,
           amount, bill_date, at, 'sms:' || relay_key, rule,
           format('%s of %s segment(s) to %s at %s', charged_segments, segments, dst, price)
      FROM ins WHERE amount > 0
), bal AS (
    UPDATE subscriber s SET balance = s.balance - c.total
      FROM (SELECT src_sub_id, sum(amount) AS total FROM ins WHERE amount > 0
             GROUP BY src_sub_id) c
      JOIN lk ON lk.id = c.src_sub_id
     WHERE s.id = c.src_sub_id
), hold AS (
    DELETE FROM sms_hold h USING b WHERE h.relay_key = b.relay_key
)
SELECT count(*)::integer FROM ins
$$;
