-- 0007_support.sql — support actions of dialogctl: `dialog create` and
-- `dialog end` through the operator (0611) or self-service channel (R14, R15,
-- D2, D10, D13).
--
-- An operator action costs the requesting subscriber their region's
-- operator_fee (ledger kind 'operator_fee', rule 'R15'), unless the support
-- agent waived it with a written reason (audited). Self-service is free.
--
--   end     charged when it ends: one ledger entry per request, idem_key
--           'operator_fee:end:<audit id>', however many dialogs it ends.
--   create  charged when the invitation is ACCEPTED (not if declined,
--           expired or withdrawn): idem_key 'operator_fee:create:<dialog id>'.
--           The fee of a prepaid requester is held (sms_hold, key = the
--           idem_key) from the request to the answer, so that the money is
--           there on acceptance; the hold is released when the invitation
--           ends any other way.
--
-- Each request writes one audit row (agent, action, detail: channel,
-- passport flag, waiver reason, outcome, fee); its id is taken first so that
-- the ledger key can name it.

-- An operator-channel invitation and its fee (R15, D10).
CREATE TABLE operator_request (
    dialog_id     bigint PRIMARY KEY REFERENCES dialog (id),
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    fee           bigint NOT NULL CHECK (fee >= 0),
    waived        boolean NOT NULL DEFAULT false,
    audit_id      bigint NOT NULL REFERENCES audit (id) DEFERRABLE INITIALLY DEFERRED,
    ledger_id     bigint REFERENCES ledger (id),
    charged_at    timestamptz,
    note          text
);

-- The key of an operator fee for a create: ledger idem_key and hold key.
CREATE FUNCTION sup_create_key(p_dialog bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT 'operator_fee:create:' || p_dialog $$;

-- Charge one operator fee (R15, R16): the ledger entry and the balance.
-- Returns the ledger id, or NULL when the key was charged already.
CREATE FUNCTION sup_charge(p_now timestamptz, p_sub bigint, p_dialog bigint, p_fee bigint,
                           p_key text, p_detail text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    lid bigint;
BEGIN
    SELECT sb.id, sb.msisdn, r.tz INTO s
      FROM subscriber sb JOIN region r ON r.code = sb.region WHERE sb.id = p_sub;
    INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at,
                        idem_key, rule, detail)
    VALUES (s.id, s.msisdn, p_dialog, 'operator_fee', p_fee, dlg_local_day(p_now, s.tz), p_now,
            p_key, 'R15', p_detail)
    ON CONFLICT (idem_key) DO NOTHING
    RETURNING id INTO lid;
    IF lid IS NOT NULL THEN
        UPDATE subscriber SET balance = balance - p_fee WHERE id = p_sub;
    END IF;
    RETURN lid;
END;
$$;

-- The operator fee of an operator-channel invitation that has just been
-- accepted (called by dlg_activate). Idempotent by idem_key. The held money
-- becomes the charge; a prepaid account that could still not pay is left
-- uncharged with a note (never below its credit limit, R17).
CREATE FUNCTION sup_create_charge(p_now timestamptz, p_dialog bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    q operator_request%ROWTYPE;
    k text := sup_create_key(p_dialog);
    lid bigint;
BEGIN
    SELECT * INTO q FROM operator_request WHERE dialog_id = p_dialog FOR UPDATE;
    IF NOT FOUND OR q.ledger_id IS NOT NULL THEN
        RETURN NULL;
    END IF;
    DELETE FROM sms_hold WHERE relay_key = k;
    IF q.waived OR q.fee = 0 THEN
        RETURN NULL;
    END IF;
    IF (SELECT account_type FROM subscriber WHERE id = q.subscriber_id) = 'prepaid'
       AND dlg_spendable(q.subscriber_id) < q.fee THEN
        UPDATE operator_request SET note = 'not charged: prepaid balance too low on acceptance (R17)'
         WHERE dialog_id = p_dialog;
        RETURN NULL;
    END IF;
    lid := sup_charge(p_now, q.subscriber_id, p_dialog, q.fee, k,
                      'operator create, dialog ' || p_dialog || ' accepted (audit ' || q.audit_id || ')');
    IF lid IS NOT NULL THEN
        UPDATE operator_request SET ledger_id = lid, charged_at = p_now WHERE dialog_id = p_dialog;
    END IF;
    RETURN lid;
END;
$$;

-- An operator-channel invitation that ends without acceptance (declined,
-- expired, withdrawn) costs nothing (D10): release the held fee.
CREATE FUNCTION sup_release_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sms_hold WHERE relay_key = sup_create_key(NEW.id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER dialog_operator_hold AFTER UPDATE OF state ON dialog
    FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state IN ('declined', 'expired', 'ended'))
    EXECUTE FUNCTION sup_release_hold();

-- dlg_activate of 0002, unchanged, plus the operator fee of an
-- operator-channel invitation (R15, D10).
CREATE OR REPLACE FUNCTION dlg_activate(p_now timestamptz, p_dialog bigint, p_actor text, p_channel text,
                                        p_short text, p_inbound bigint, p_trial_days integer,
                                        p_detail text) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    dl dialog%ROWTYPE;
    s record;
    t record;
    ids bigint[] := '{}';
BEGIN
    SELECT * INTO dl FROM dialog WHERE id = p_dialog FOR UPDATE;
    UPDATE dialog SET state = 'active', activated_at = p_now, expires_at = NULL
     WHERE id = p_dialog;
    PERFORM dlg_event(p_dialog, p_now, 'accepted', p_actor, p_channel, p_detail);
    FOR s IN
        SELECT sb.id, sb.msisdn, sb.first_activated_at, r.tz, r.daily_fee,
               CASE WHEN sb.id = dl.inviter_id THEN dl.invitee ELSE dl.inviter END AS peer
          FROM subscriber sb JOIN region r ON r.code = sb.region
         WHERE sb.id IN (dl.inviter_id, dl.invitee_id)
         ORDER BY (sb.id = dl.inviter_id) DESC
    LOOP
        SELECT * INTO t FROM dlg_terms(p_now, s.first_activated_at, s.tz, s.daily_fee, p_trial_days, s.peer);
        ids := ids || dlg_say(p_now, p_short, s.msisdn, t.msg, t.params, p_inbound);
        IF s.first_activated_at IS NULL THEN
            UPDATE subscriber SET first_activated_at = p_now WHERE id = s.id;
        END IF;
    END LOOP;
    PERFORM sup_create_charge(p_now, p_dialog);                -- R15, D10
    RETURN ids;
END;
$$;

-- dialogctl dialog end MSISDN [PEER] (R14, R15, D2, D10, D13): what SMS STOP
-- [PEER] does (the same dialogs, ended by dlg_finish, both sides told), as
-- the support agent p_agent on channel p_channel ('selfcare' or 'operator'),
-- plus one operator fee per request. Returns a JSON object whose "status" is
-- 'ok', 'no_subscriber', 'nothing' (D10: nothing to end, nothing done) or
-- 'unpaid' (D13: a prepaid account cannot pay the fee, nothing done).
-- The caller checks passport verification and the waiver's reason.
CREATE FUNCTION sup_end(p_now timestamptz, p_msisdn text, p_peer text, p_channel text,
                        p_agent text, p_passport boolean, p_waive boolean, p_reason text,
                        p_short text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a record;
    dl dialog%ROWTYPE;
    fee bigint := 0;
    aid bigint;
    lid bigint;
    ended jsonb := '[]';
    peers text[] := '{}';
    n integer := 0;
    one_dialog bigint;
    detail jsonb;
    why text;
BEGIN
    -- the same locks as dlg_command: both subscribers in id order
    PERFORM 1 FROM subscriber
      WHERE msisdn IN (p_msisdn, coalesce(p_peer, p_msisdn)) AND retired_at IS NULL
      ORDER BY id FOR UPDATE;
    SELECT s.*, r.operator_fee INTO a
      FROM subscriber s JOIN region r ON r.code = s.region
     WHERE s.msisdn = p_msisdn AND s.retired_at IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'no_subscriber');
    END IF;

    SELECT count(*) INTO n FROM dialog d
     WHERE ((d.inviter_id = a.id AND (p_peer IS NULL OR d.invitee = p_peer))
         OR (d.invitee_id = a.id AND (p_peer IS NULL OR d.inviter = p_peer)))
       AND (d.state IN ('active', 'suspended') OR (d.state = 'pending' AND d.inviter_id = a.id));
    IF n = 0 THEN                                                        -- D10
        RETURN jsonb_build_object('status', 'nothing');
    END IF;

    IF p_channel = 'operator' AND NOT p_waive THEN                       -- R15
        fee := a.operator_fee;
    END IF;
    IF fee > 0 AND a.account_type = 'prepaid' AND dlg_spendable(a.id) < fee THEN   -- D13
        RETURN jsonb_build_object('status', 'unpaid', 'fee', fee,
                                  'spendable', dlg_spendable(a.id));
    END IF;

    aid := nextval(pg_get_serial_sequence('audit', 'id'));
    why := p_channel || ' end by ' || p_agent || CASE WHEN p_channel = 'operator' THEN ' (R15)' ELSE ' (R14)' END;
    n := 0;
    FOR dl IN
        SELECT * FROM dialog d
         WHERE ((d.inviter_id = a.id AND (p_peer IS NULL OR d.invitee = p_peer))
             OR (d.invitee_id = a.id AND (p_peer IS NULL OR d.inviter = p_peer)))
           AND (d.state IN ('active', 'suspended') OR (d.state = 'pending' AND d.inviter_id = a.id))
         ORDER BY d.id
         FOR UPDATE
    LOOP
        PERFORM dlg_finish(p_now, dl.id, a.id, p_agent, p_channel, why, p_short, NULL);
        ended := ended || jsonb_build_object(
            'id', dl.id,
            'peer', CASE WHEN dl.inviter_id = a.id THEN dl.invitee ELSE dl.inviter END,
            'was', dl.state,
            'event', CASE WHEN dl.state = 'pending' THEN 'withdrawn' ELSE 'ended' END);
        peers := peers || ('+' || CASE WHEN dl.inviter_id = a.id THEN dl.invitee ELSE dl.inviter END);
        one_dialog := dl.id;
        n := n + 1;
    END LOOP;

    IF fee > 0 THEN                                                      -- R15, D10: one fee
        lid := sup_charge(p_now, a.id, CASE WHEN n = 1 THEN one_dialog END, fee,
                          'operator_fee:end:' || aid,
                          'operator end of ' || n || ' dialog(s) (audit ' || aid || ')');
        PERFORM dlg_say(p_now, p_short, a.msisdn, 'operator_ended',
                        jsonb_build_object('peer', array_to_string(peers, ', '), 'fee_kop', fee), NULL);
    END IF;

    detail := jsonb_build_object('msisdn', a.msisdn, 'peer', p_peer, 'channel', p_channel,
                                 'passport_verified', p_passport, 'fee', fee,
                                 'operator_fee', CASE WHEN p_channel = 'operator' THEN a.operator_fee ELSE 0 END,
                                 'fee_waived', p_waive, 'reason', p_reason,
                                 'ledger_id', lid, 'dialogs', ended);
    INSERT INTO audit (id, at, agent, action, detail)
    VALUES (aid, p_now, p_agent, 'dialog end', detail);
    RETURN detail || jsonb_build_object('status', 'ok', 'audit_id', aid);
END;
$$;

-- dialogctl dialog create A B --channel operator (R4, R5, R15, D10, D13):
-- A's invitation through the normal flow (dlg_command 'invite', channel
-- 'operator'), marked as an operator request whose fee is charged when B
-- accepts. A crossing invitation (D1: B had invited A) is accepted at once,
-- and charged at once. Returns a JSON object whose "status" is 'pending',
-- 'active', 'refused' (R4: "reason" is the refusal SMS queued to A, as by
-- SMS), 'no_subscriber' (A unknown, nothing done) or 'unpaid' (D13).
CREATE FUNCTION sup_create(p_now timestamptz, p_a text, p_b text, p_agent text,
                           p_passport boolean, p_waive boolean, p_reason text, p_short text,
                           p_max_dialogs integer, p_max_pending integer, p_max_daily integer,
                           p_ttl_s integer, p_cooldown_days integer, p_trial_days integer)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    a record;
    fee bigint := 0;
    aid bigint;
    lid bigint;
    msgs text[];
    st text;
    why text;
    did bigint;
    detail jsonb;
BEGIN
    PERFORM 1 FROM subscriber
      WHERE msisdn IN (p_a, p_b) AND retired_at IS NULL
      ORDER BY id FOR UPDATE;
    SELECT s.*, r.operator_fee INTO a
      FROM subscriber s JOIN region r ON r.code = s.region
     WHERE s.msisdn = p_a AND s.retired_at IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('status', 'no_subscriber');
    END IF;
    IF NOT p_waive THEN
        fee := a.operator_fee;
    END IF;
    IF fee > 0 AND a.account_type = 'prepaid' AND dlg_spendable(a.id) < fee THEN   -- D13
        RETURN jsonb_build_object('status', 'unpaid', 'fee', fee,
                                  'spendable', dlg_spendable(a.id));
    END IF;

    aid := nextval(pg_get_serial_sequence('audit', 'id'));
    SELECT array_agg(DISTINCT o.msg) INTO msgs
      FROM dlg_command(p_now, p_a, 'invite', p_b, NULL, p_short, p_max_dialogs, p_max_pending,
                       p_max_daily, p_ttl_s, p_cooldown_days, p_trial_days, 'operator') o
     WHERE o.dst = p_a;

    IF 'invite_sent' = ANY (msgs) THEN
        st := 'pending';
        SELECT id INTO did FROM dialog
         WHERE inviter_id = a.id AND invitee = p_b AND state = 'pending' AND channel = 'operator'
         ORDER BY id DESC LIMIT 1;
        UPDATE dialog_event SET actor = p_agent,
                                detail = 'operator request for ' || p_a || ' (R15)'
         WHERE dialog_id = did AND type = 'invited';
    ELSIF msgs && ARRAY['activated', 'activated_trial'] THEN               -- D1
        st := 'active';
        SELECT id INTO did FROM dialog
         WHERE least(inviter, invitee) = least(p_a, p_b) AND greatest(inviter, invitee) = greatest(p_a, p_b)
           AND state = 'active'
         ORDER BY id DESC LIMIT 1;
        UPDATE dialog_event SET actor = p_agent, channel = 'operator',
                                detail = 'crossing invitation (D1), operator request for ' || p_a || ' (R15)'
         WHERE dialog_id = did AND type = 'accepted';
    ELSE
        st := 'refused';                                                   -- R4, D10
        why := coalesce(msgs[1], 'refused');
        fee := 0;
    END IF;

    IF did IS NOT NULL THEN
        INSERT INTO operator_request (dialog_id, subscriber_id, fee, waived, audit_id)
        VALUES (did, a.id, a.operator_fee, p_waive, aid);
        IF st = 'pending' AND fee > 0 THEN
            PERFORM dlg_hold(sup_create_key(did), a.id, fee, p_now);
        ELSIF st = 'active' THEN
            lid := sup_create_charge(p_now, did);
        END IF;
    END IF;

    detail := jsonb_build_object('msisdn', p_a, 'peer', p_b, 'channel', 'operator',
                                 'passport_verified', p_passport, 'fee', fee,
                                 'operator_fee', a.operator_fee,
                                 'fee_waived', p_waive, 'reason', p_reason,
                                 'outcome', st, 'refusal', why, 'dialog_id', did,
                                 'ledger_id', lid);
    INSERT INTO audit (id, at, agent, action, detail)
    VALUES (aid, p_now, p_agent, 'dialog create', detail);
    RETURN detail || jsonb_build_object('status', st, 'audit_id', aid);
END;
$$;
