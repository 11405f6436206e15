-- 0004_rating.sql — relaying and rating subscriber-to-subscriber SMS
-- (R9-R12, R17, D5-D8).
--
-- dialogd rates each relayed message in memory (allowance counters per pair
-- and day, rebuilt from pair_usage at start-up) and, once the SMSC accepted
-- the relayed submit_sm, records it here in a group commit: the usage row,
-- the pair's counter, and for a chargeable message the ledger entry and the
-- sender's balance. A prepaid sender's money is held (sms_hold) before the
-- relay, so that no other writer (daily billing) can spend it meanwhile; the
-- hold becomes the charge when the relay is confirmed, or is released.

-- One row per relayed message (all its segments). relay_key is the
-- engine's idempotency key for the message ("<boot>:<n>"); the ledger entry
-- of a charged message has idem_key 'sms:' || relay_key. This is the
-- highest-volume table: it has no foreign keys (the engine writes ids it
-- read from subscriber and dialog; per-row FK triggers would cost more than
-- the insert) and only the indexes look-ups need.
CREATE TABLE sms_usage (
    id               bigserial NOT NULL,
    relay_key        text PRIMARY KEY,
    at               timestamptz NOT NULL,
    src              text NOT NULL,
    dst              text NOT NULL,
    src_sub_id       bigint NOT NULL,
    dialog_id        bigint,
    pair_day         date,              -- allowance day (inviter's region, D5)
    segments         integer NOT NULL CHECK (segments > 0),
    free_segments    integer NOT NULL CHECK (free_segments >= 0),
    charged_segments integer NOT NULL CHECK (charged_segments >= 0),
    price            bigint NOT NULL CHECK (price >= 0),      -- per segment
    amount           bigint NOT NULL CHECK (amount >= 0),
    rule             text NOT NULL CHECK (rule IN ('R9', 'R10', 'R11')),
    bill_date        date NOT NULL,     -- payer's region day (D7)
    message_id       text,              -- the SMSC's id of the relayed submit_sm
    CHECK (free_segments + charged_segments = segments),
    CHECK (amount = charged_segments * price)
);
CREATE INDEX sms_usage_src_at ON sms_usage (src, at);
CREATE INDEX sms_usage_message ON sms_usage (message_id) WHERE message_id IS NOT NULL;

-- The engine finds a pair's open dialog by the two numbers.
CREATE INDEX dialog_open_pair_msisdn ON dialog (least(inviter, invitee), greatest(inviter, invitee))
    WHERE state IN ('pending', 'active', 'suspended');

-- Money held for a prepaid sender's chargeable message while it is relayed.
CREATE TABLE sms_hold (
    relay_key     text PRIMARY KEY,
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    amount        bigint NOT NULL CHECK (amount > 0),
    created_at    timestamptz NOT NULL
);
CREATE INDEX sms_hold_subscriber ON sms_hold (subscriber_id);

-- What a prepaid account may still spend: balance less holds, down to
-- -credit_limit (R17, D13).
CREATE FUNCTION dlg_spendable(p_sub bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT s.balance + s.credit_limit
           - coalesce((SELECT sum(h.amount) FROM sms_hold h WHERE h.subscriber_id = s.id), 0)
      FROM subscriber s WHERE s.id = p_sub
$$;

-- Hold p_amount for a prepaid sender (postpaid: always granted, nothing
-- held). Returns true when granted.
CREATE FUNCTION dlg_hold(p_key text, p_sub bigint, p_amount bigint, p_now timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t text;
BEGIN
    SELECT account_type INTO t FROM subscriber WHERE id = p_sub FOR UPDATE;
    IF t IS NULL THEN
        RETURN false;
    END IF;
    IF t = 'postpaid' THEN
        RETURN true;
    END IF;
    IF dlg_spendable(p_sub) < p_amount THEN
        RETURN false;
    END IF;
    INSERT INTO sms_hold (relay_key, subscriber_id, amount, created_at)
    VALUES (p_key, p_sub, p_amount, p_now)
    ON CONFLICT (relay_key) DO NOTHING;
    RETURN true;
END;
$$;

-- Record a batch of relayed messages (arrays of equal length, one element
-- per message) in one statement. Idempotent by relay_key: a key already
-- recorded is skipped, and so are its counter, charge and balance.
CREATE FUNCTION dlg_record_relays(
    p_key text[], p_at timestamptz[], p_src text[], p_dst text[], p_sub bigint[],
    p_dialog bigint[], p_pair_day date[], p_segments integer[], p_free integer[],
    p_price bigint[], p_rule text[], p_bill_date date[], p_message_id text[])
RETURNS integer
LANGUAGE sql AS $$
WITH b AS (
    SELECT * FROM unnest(p_key, p_at, p_src, p_dst, p_sub, p_dialog, p_pair_day, p_segments,
                         p_free, p_price, p_rule, p_bill_date, p_message_id)
           AS b(relay_key, at, src, dst, sub, dialog, pair_day, segments, free, price, rule,
                bill_date, message_id)
), ins AS (
    INSERT INTO sms_usage (relay_key, at, src, dst, src_sub_id, dialog_id, pair_day, segments,
                           free_segments, charged_segments, price, amount, rule, bill_date,
                           message_id)
    SELECT relay_key, at, src, dst, sub, dialog, pair_day, segments, free, segments - free,
           price, (segments - free) * price, rule, bill_date, message_id
      FROM b
    ON CONFLICT (relay_key) DO NOTHING
    RETURNING relay_key, at, src, dst, src_sub_id, dialog_id, pair_day, segments,
              free_segments, charged_segments, amount, rule, bill_date, price
), pu AS (
    INSERT INTO pair_usage AS pu (pair_lo, pair_hi, day, used)
    SELECT least(src, dst), greatest(src, dst), pair_day, sum(free_segments)
      FROM ins WHERE dialog_id IS NOT NULL AND pair_day IS NOT NULL AND free_segments > 0
     GROUP BY 1, 2, 3
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
     WHERE s.id = c.src_sub_id
), hold AS (
    DELETE FROM sms_hold h USING b WHERE h.relay_key = b.relay_key
)
SELECT count(*)::integer FROM ins
$$;

-- The engine keeps subscribers, dialogs and regions in memory; every change
-- by anyone is announced on channel 'dialog_cache' when it commits, and the
-- engine forgets what it knew about those numbers.
CREATE FUNCTION dlg_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'subscriber' THEN
        PERFORM pg_notify('dialog_cache', 's ' || NEW.msisdn);
    ELSIF TG_TABLE_NAME = 'dialog' THEN
        PERFORM pg_notify('dialog_cache', 'd ' || NEW.inviter || ' ' || NEW.invitee);
    ELSE
        PERFORM pg_notify('dialog_cache', 'r ' || NEW.code);
    END IF;
    RETURN NULL;
END;
$$;
-- (Balance changes are not announced: the engine never caches money.)
CREATE TRIGGER subscriber_cache
    AFTER INSERT OR UPDATE OF status, region, tariff, account_type, retired_at ON subscriber
    FOR EACH ROW EXECUTE FUNCTION dlg_cache_notify();
CREATE TRIGGER dialog_cache AFTER INSERT OR UPDATE OF state ON dialog
    FOR EACH ROW EXECUTE FUNCTION dlg_cache_notify();
CREATE TRIGGER region_cache AFTER INSERT OR UPDATE ON region
    FOR EACH ROW EXECUTE FUNCTION dlg_cache_notify();
CREATE FUNCTION dlg_tariff_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dialog_cache', 't ' || NEW.code);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tariff_cache AFTER UPDATE ON tariff
    FOR EACH ROW EXECUTE FUNCTION dlg_tariff_notify();
