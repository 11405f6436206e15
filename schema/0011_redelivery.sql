-- 0011_redelivery.sql — recognising the SMSC's redelivery of an MO whose
-- effect is committed but whose deliver_sm_resp the SMSC may never have read
-- (engine/src/ack.c; docs/reliability.md).
--
-- Every MO row dialogd commits (a relay's sms_usage row, a command's
-- mo_inbound row) carries the engine's ack_mark (run << 32 | counter) and the
-- MO's fingerprint (FNV-1a of source, destination, data_coding, esm_class
-- and payload). engine_ack.confirmed_mark is the engine's watermark: every
-- row at or below it was answered and the SMSC provably read the answer.
-- After a crash, the rows above it (inside the redelivery window) are the
-- ones the SMSC may deliver again: dialogd answers such a redelivery
-- ESME_ROK without relaying, charging or executing it a second time.

CREATE TABLE engine_ack (
    id             integer PRIMARY KEY CHECK (id = 1),
    run            bigint NOT NULL DEFAULT 0,    -- dialogd starts so far
    confirmed_mark bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz
);
INSERT INTO engine_ack (id) VALUES (1);

ALTER TABLE sms_usage ADD COLUMN ack_mark bigint, ADD COLUMN mo_fp bigint;
ALTER TABLE mo_inbound ADD COLUMN ack_mark bigint, ADD COLUMN mo_fp bigint;
-- Marks grow with the insertion order: a BRIN index costs almost nothing
-- per insert and finds the last rows at start-up.
CREATE INDEX sms_usage_ack_mark ON sms_usage USING brin (ack_mark);
CREATE INDEX mo_inbound_ack_mark ON mo_inbound USING brin (ack_mark);

-- The recorder, now with the marks and fingerprints. Relays are recorded on
-- several connections at once ([db] record_connections): two batches take
-- their row locks in one order — pair counters upserted in key order, the
-- payers' rows locked in id order before any balance moves — so that they
-- cannot deadlock each other.
DROP FUNCTION dlg_record_relays(text[], timestamptz[], text[], text[], bigint[], bigint[],
                                date[], integer[], integer[], bigint[], text[], date[], text[]);
CREATE FUNCTION dlg_record_relays(
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

-- Suspects: committed MOs whose answer the SMSC may not have read, watched
-- until expires_at for their redelivery. dialogd stores the ones a lost link
-- leaves; at start-up dlg_ack_begin adds the rows a dead run left above its
-- watermark. Few rows: no index.
CREATE TABLE ack_suspect (
    fp         bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL
);

-- A new run: the rows above the last watermark inside the window become
-- stored suspects, expired suspects go, the run number moves on and the
-- watermark starts at the new run's base (run << 32). Returns the run.
CREATE FUNCTION dlg_ack_begin(p_now timestamptz, p_window_s integer)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    w bigint;
    r bigint;
    win interval := make_interval(secs => p_window_s);
BEGIN
    SELECT confirmed_mark, run + 1 INTO w, r FROM engine_ack WHERE id = 1 FOR UPDATE;
    IF p_window_s > 0 THEN
        INSERT INTO ack_suspect (fp, expires_at, created_at)
        SELECT u.mo_fp, u.at + win, p_now FROM sms_usage u
         WHERE u.ack_mark > w AND u.at >= p_now - win AND u.mo_fp IS NOT NULL
        UNION ALL
        SELECT m.mo_fp, m.received_at + win, p_now FROM mo_inbound m
         WHERE m.ack_mark > w AND m.received_at >= p_now - win AND m.mo_fp IS NOT NULL;
    END IF;
    DELETE FROM ack_suspect WHERE expires_at <= p_now OR p_window_s = 0;
    UPDATE engine_ack SET run = r, confirmed_mark = r << 32, updated_at = p_now WHERE id = 1;
    RETURN r;
END;
$$;

-- Forget one stored suspect per fingerprint (its redelivery was answered
-- and the answer read), and every expired one.
CREATE FUNCTION dlg_ack_forget(p_fp bigint[], p_now timestamptz)
RETURNS void
LANGUAGE sql AS $$
    DELETE FROM ack_suspect WHERE expires_at <= p_now;
    DELETE FROM ack_suspect s
     WHERE s.ctid IN (SELECT DISTINCT ON (x.fp) a.ctid
                        FROM unnest(p_fp) x(fp) JOIN ack_suspect a ON a.fp = x.fp
                       ORDER BY x.fp, a.expires_at);
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dialog_engine') THEN
        EXECUTE format('GRANT SELECT, UPDATE ON %I.engine_ack TO dialog_engine', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, DELETE ON %I.ack_suspect TO dialog_engine',
                       current_schema());
        EXECUTE format('GRANT SELECT ON %I.engine_ack TO dialog_support, dialog_billing',
                       current_schema());
    END IF;
END;
$$;
