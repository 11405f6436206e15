-- 0002_dialog_flow.sql — the subscription flow over SMS (R1-R8, R14, D1-D3,
-- D9): invitations, answers, STOP, STATUS and invitation expiry.
--
-- Each command is one call of dlg_command() in the same transaction that
-- records the inbound deliver_sm; everything it changes and every SMS it
-- causes (outbox rows, rendered from the message catalog by dialogd when it
-- sends them) commit together, before the deliver_sm is acknowledged.
-- Concurrency: the participants' subscriber rows are locked in id order, so
-- two commands about the same people (from dialogd, dialogctl or a batch job)
-- serialise, and limits are checked against committed state.
-- Instants come from the caller's clock (DIALOG_NOW in tests), never now().

-- The first activation of a subscriber contract (R13a: the free week is once
-- per contract, by calendar). Set by the first accepted dialog, either role.
ALTER TABLE subscriber ADD COLUMN first_activated_at timestamptz;

-- Outbox rows carry a catalog message name and its parameters; dialogd
-- renders the text in the configured language when it sends the row and
-- stores the text it sent. Keys ending in _kop are kopecks (shown as
-- roubles); ISO dates are shown in the language's format.
ALTER TABLE outbox ADD COLUMN params jsonb NOT NULL DEFAULT '{}';

-- Per pair and billing day (the inviter's region day, D5), the messages of
-- the pair counted against the daily allowance (R9). Written by the rating
-- of relayed messages; read by STATUS and dialogctl.
CREATE TABLE pair_usage (
    pair_lo  text NOT NULL CHECK (pair_lo ~ '^7[0-9]{10}$'),
    pair_hi  text NOT NULL CHECK (pair_hi ~ '^7[0-9]{10}$'),
    day      date NOT NULL,
    used     integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (pair_lo, pair_hi, day),
    CHECK (pair_lo < pair_hi)
);

-- ---------------------------------------------------------------------------
-- helpers

-- A billing day: the calendar date of an instant in a region's time zone.
CREATE FUNCTION dlg_local_day(p_at timestamptz, p_tz text) RETURNS date
LANGUAGE sql STABLE AS $$ SELECT (p_at AT TIME ZONE p_tz)::date $$;

-- Queue one SMS from the short code; returns its outbox id.
CREATE FUNCTION dlg_say(p_now timestamptz, p_src text, p_dst text, p_msg text,
                        p_params jsonb, p_inbound bigint) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO outbox (created_at, src, dst, msg, params, cause_inbound_id)
    VALUES (p_now, p_src, p_dst, p_msg, p_params, p_inbound)
    RETURNING id
$$;

-- A dialog event (the audit trail of dialogctl dialog show).
CREATE FUNCTION dlg_event(p_dialog bigint, p_now timestamptz, p_type text, p_actor text,
                          p_channel text, p_detail text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO dialog_event (dialog_id, at, type, actor, channel, detail)
    VALUES (p_dialog, p_now, p_type, p_actor, p_channel, p_detail)
$$;

-- Open dialogs (active or suspended) of a subscriber: what
-- max_dialogs_per_subscriber limits (R4, D3). A suspended dialog counts: it
-- resumes by itself when the fee is paid (D13).
CREATE FUNCTION dlg_open_count(p_sub bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM dialog
     WHERE (inviter_id = p_sub OR invitee_id = p_sub) AND state IN ('active', 'suspended')
$$;

-- The terms a subscriber gets when a dialog of theirs becomes active at
-- p_now (R6, R13, R13a): the message to send and its parameters. The
-- activation day is free; a first-timer's next trial_days days are free; a
-- returning subscriber still inside the window of their first activation
-- keeps what is left of it; otherwise the fee starts the next day.
CREATE FUNCTION dlg_terms(p_now timestamptz, p_first timestamptz, p_tz text, p_fee bigint,
                          p_trial_days integer, p_peer text,
                          OUT msg text, OUT params jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    d date := dlg_local_day(p_now, p_tz);
    trial_end date;
BEGIN
    trial_end := dlg_local_day(coalesce(p_first, p_now), p_tz) + p_trial_days;
    IF p_trial_days > 0 AND trial_end >= d + 1 THEN
        msg := 'activated_trial';
        params := jsonb_build_object('peer', '+' || p_peer, 'fee_kop', p_fee,
                                     'trial_end', trial_end, 'fee_from', trial_end + 1);
    ELSE
        msg := 'activated';
        params := jsonb_build_object('peer', '+' || p_peer, 'fee_kop', p_fee,
                                     'fee_from', d + 1);
    END IF;
END;
$$;

-- The result rows of dlg_command / dlg_expire_due: the SMS to send, one row
-- per parameter (k, v NULL when a message has none).
CREATE TYPE dlg_out AS (outbox_id bigint, dst text, msg text, k text, v text);

CREATE FUNCTION dlg_out_rows(p_ids bigint[]) RETURNS SETOF dlg_out
LANGUAGE sql STABLE AS $$
    SELECT o.id, o.dst, o.msg, kv.key, kv.value
      FROM outbox o LEFT JOIN LATERAL jsonb_each_text(o.params) kv ON true
     WHERE o.id = ANY (p_ids)
     ORDER BY o.id, kv.key
$$;

-- Activate a pending dialog (R6, D1): both participants get their own terms.
CREATE FUNCTION dlg_activate(p_now timestamptz, p_dialog bigint, p_actor text, p_channel text,
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
    RETURN ids;
END;
$$;

-- End an open dialog or withdraw a pending invitation (R14, D2). Returns the
-- SMS queued: to the one who acted and to the other side.
CREATE FUNCTION dlg_finish(p_now timestamptz, p_dialog bigint, p_actor_sub bigint, p_actor text,
                           p_channel text, p_reason text, p_short text, p_inbound bigint)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    dl dialog%ROWTYPE;
    me text;
    peer text;
    ids bigint[] := '{}';
BEGIN
    SELECT * INTO dl FROM dialog WHERE id = p_dialog FOR UPDATE;
    IF dl.inviter_id = p_actor_sub THEN
        me := dl.inviter; peer := dl.invitee;
    ELSE
        me := dl.invitee; peer := dl.inviter;
    END IF;
    IF dl.state = 'pending' THEN
        UPDATE dialog SET state = 'ended', ended_at = p_now, expires_at = NULL,
                          ended_reason = 'withdrawn'
         WHERE id = p_dialog;
        PERFORM dlg_event(p_dialog, p_now, 'withdrawn', p_actor, p_channel, p_reason);
        ids := ids || dlg_say(p_now, p_short, me, 'withdrawn_self',
                              jsonb_build_object('peer', '+' || peer), p_inbound);
        ids := ids || dlg_say(p_now, p_short, peer, 'withdrawn_invitee',
                              jsonb_build_object('peer', '+' || me), p_inbound);
    ELSE
        UPDATE dialog SET state = 'ended', ended_at = p_now, ended_reason = p_reason
         WHERE id = p_dialog;
        PERFORM dlg_event(p_dialog, p_now, 'ended', p_actor, p_channel, p_reason);
        ids := ids || dlg_say(p_now, p_short, me, 'ended_self',
                              jsonb_build_object('peer', '+' || peer), p_inbound);
        ids := ids || dlg_say(p_now, p_short, peer, 'ended_peer',
                              jsonb_build_object('peer', '+' || me), p_inbound);
    END IF;
    RETURN ids;
END;
$$;

-- ---------------------------------------------------------------------------
-- dlg_command: one SMS command to the short code (service-rules.md,
-- "Commands"). p_cmd is the parser's kind name: help, invite, accept,
-- decline, stop, status, bad_number; p_number the canonical number given
-- (NULL when none), or for bad_number the text as sent (shortened).

CREATE FUNCTION dlg_command(
    p_now timestamptz, p_src text, p_cmd text, p_number text, p_inbound bigint,
    p_short text, p_max_dialogs integer, p_max_pending integer, p_max_daily integer,
    p_ttl_s integer, p_cooldown_days integer, p_trial_days integer,
    p_channel text DEFAULT 'sms')
RETURNS SETOF dlg_out
LANGUAGE plpgsql AS $$
DECLARE
    a record;          -- the sender
    b record;          -- the other subscriber, when one is named
    dl dialog%ROWTYPE;
    ids bigint[] := '{}';
    n integer;
    until_at timestamptz;
    peer_param jsonb;
BEGIN
    IF p_cmd = 'help' THEN
        ids := ids || dlg_say(p_now, p_short, p_src, 'help', '{}', p_inbound);
        RETURN QUERY SELECT * FROM dlg_out_rows(ids);
        RETURN;
    END IF;

    -- Lock the sender and the named subscriber in id order (no deadlock
    -- between two commands about the same pair).
    PERFORM 1 FROM subscriber
      WHERE msisdn IN (p_src, coalesce(p_number, p_src)) AND retired_at IS NULL
      ORDER BY id FOR UPDATE;
    SELECT s.*, r.tz, r.daily_fee INTO a
      FROM subscriber s JOIN region r ON r.code = s.region
     WHERE s.msisdn = p_src AND s.retired_at IS NULL;

    IF NOT FOUND THEN                                       -- R1
        ids := ids || dlg_say(p_now, p_short, p_src, 'err_not_subscriber', '{}', p_inbound);
        RETURN QUERY SELECT * FROM dlg_out_rows(ids);
        RETURN;
    END IF;
    IF a.status <> 'active' THEN                            -- R1
        ids := ids || dlg_say(p_now, p_short, p_src, 'err_sender_blocked', '{}', p_inbound);
        RETURN QUERY SELECT * FROM dlg_out_rows(ids);
        RETURN;
    END IF;
    IF p_cmd = 'bad_number' THEN                            -- R2
        ids := ids || dlg_say(p_now, p_short, p_src, 'err_bad_number',
                              jsonb_build_object('text', coalesce(p_number, '')), p_inbound);
        RETURN QUERY SELECT * FROM dlg_out_rows(ids);
        RETURN;
    END IF;

    IF p_number IS NOT NULL THEN
        peer_param := jsonb_build_object('peer', '+' || p_number);
        SELECT s.*, r.tz, r.daily_fee INTO b
          FROM subscriber s JOIN region r ON r.code = s.region
         WHERE s.msisdn = p_number AND s.retired_at IS NULL;
    END IF;

    -- ---- invite (R4, R5, D1, D9) ----
    IF p_cmd = 'invite' THEN
        IF p_number = p_src THEN
            ids := ids || dlg_say(p_now, p_short, p_src, 'err_self', '{}', p_inbound);
        ELSIF b.id IS NULL THEN
            ids := ids || dlg_say(p_now, p_short, p_src, 'err_peer_unknown', peer_param, p_inbound);
        ELSIF b.status <> 'active' THEN
            ids := ids || dlg_say(p_now, p_short, p_src, 'err_peer_blocked', peer_param, p_inbound);
        ELSE
            SELECT * INTO dl FROM dialog
             WHERE least(inviter_id, invitee_id) = least(a.id, b.id)
               AND greatest(inviter_id, invitee_id) = greatest(a.id, b.id)
               AND state IN ('pending', 'active', 'suspended')
             FOR UPDATE;
            IF FOUND AND dl.state = 'pending' AND dl.inviter_id = b.id THEN
                -- D1: B already invited A: this is A's acceptance.
                IF dlg_open_count(a.id) >= p_max_dialogs THEN
                    ids := ids || dlg_say(p_now, p_short, p_src, 'accept_limit_self',
                                          peer_param || jsonb_build_object('limit', p_max_dialogs), p_inbound);
                ELSIF dlg_open_count(b.id) >= p_max_dialogs THEN
                    ids := ids || dlg_say(p_now, p_short, p_src, 'accept_limit_peer', peer_param, p_inbound);
                ELSE
                    ids := ids || dlg_activate(p_now, dl.id, p_src, p_channel, p_short, p_inbound,
                                               p_trial_days, 'crossing invitation (D1)');
                END IF;
            ELSIF FOUND AND dl.state = 'pending' THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'err_invite_exists', peer_param, p_inbound);
            ELSIF FOUND THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'err_dialog_exists', peer_param, p_inbound);
            ELSIF dlg_open_count(a.id) >= p_max_dialogs THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'err_limit_self',
                                      jsonb_build_object('limit', p_max_dialogs), p_inbound);
            ELSIF dlg_open_count(b.id) >= p_max_dialogs THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'err_limit_peer', peer_param, p_inbound);
            ELSE
                SELECT count(*) INTO n FROM dialog WHERE inviter_id = a.id AND state = 'pending';
                IF n >= p_max_pending THEN
                    ids := ids || dlg_say(p_now, p_short, p_src, 'err_pending_limit',
                                          jsonb_build_object('limit', p_max_pending), p_inbound);
                    RETURN QUERY SELECT * FROM dlg_out_rows(ids);
                    RETURN;
                END IF;
                -- D9: invitations sent today, by the inviter's region day
                SELECT count(*) INTO n FROM dialog
                 WHERE inviter_id = a.id
                   AND created_at >= (dlg_local_day(p_now, a.tz)::timestamp AT TIME ZONE a.tz)
                   AND created_at <= p_now;
                IF n >= p_max_daily THEN
                    ids := ids || dlg_say(p_now, p_short, p_src, 'err_daily_limit',
                                          jsonb_build_object('limit', p_max_daily), p_inbound);
                    RETURN QUERY SELECT * FROM dlg_out_rows(ids);
                    RETURN;
                END IF;
                -- D9: after B declined A, A waits decline_cooldown_days x 24 h
                SELECT max(ended_at) + make_interval(days => p_cooldown_days) INTO until_at
                  FROM dialog
                 WHERE inviter_id = a.id AND invitee_id = b.id AND state = 'declined';
                IF until_at IS NOT NULL AND until_at > p_now THEN
                    ids := ids || dlg_say(p_now, p_short, p_src, 'err_cooldown',
                                          peer_param || jsonb_build_object('date', dlg_local_day(until_at, a.tz)),
                                          p_inbound);
                    RETURN QUERY SELECT * FROM dlg_out_rows(ids);
                    RETURN;
                END IF;
                INSERT INTO dialog (inviter_id, invitee_id, inviter, invitee, state, channel,
                                    created_at, expires_at)
                VALUES (a.id, b.id, a.msisdn, b.msisdn, 'pending', p_channel, p_now,
                        p_now + make_interval(secs => p_ttl_s))
                RETURNING * INTO dl;
                PERFORM dlg_event(dl.id, p_now, 'invited', p_src, p_channel, NULL);
                ids := ids || dlg_say(p_now, p_short, p_src, 'invite_sent',
                                      peer_param || jsonb_build_object('ttl_hours', p_ttl_s / 3600),
                                      p_inbound);
                IF b.first_activated_at IS NULL AND p_trial_days > 0 THEN   -- R5: B's own terms
                    ids := ids || dlg_say(p_now, p_short, b.msisdn, 'invitation_trial',
                                          jsonb_build_object('peer', '+' || a.msisdn, 'fee_kop', b.daily_fee,
                                                             'trial_days', p_trial_days), p_inbound);
                ELSE
                    ids := ids || dlg_say(p_now, p_short, b.msisdn, 'invitation',
                                          jsonb_build_object('peer', '+' || a.msisdn, 'fee_kop', b.daily_fee),
                                          p_inbound);
                END IF;
            END IF;
        END IF;

    -- ---- 1 / 2 (R6, R7, D3) ----
    ELSIF p_cmd IN ('accept', 'decline') THEN
        SELECT d.* INTO dl FROM dialog d
         WHERE d.invitee_id = a.id AND d.state = 'pending'
           AND (p_number IS NULL OR d.inviter = p_number)
         ORDER BY d.created_at DESC, d.id DESC
         LIMIT 1
         FOR UPDATE;
        IF NOT FOUND THEN
            IF p_number IS NULL THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'nothing_pending', '{}', p_inbound);
            ELSE
                ids := ids || dlg_say(p_now, p_short, p_src, 'no_invite_from', peer_param, p_inbound);
            END IF;
        ELSE
            peer_param := jsonb_build_object('peer', '+' || dl.inviter);
            -- lock the inviter too (the sender is locked already)
            PERFORM 1 FROM subscriber WHERE id = dl.inviter_id FOR UPDATE;
            IF p_cmd = 'decline' THEN
                UPDATE dialog SET state = 'declined', ended_at = p_now, expires_at = NULL
                 WHERE id = dl.id;
                PERFORM dlg_event(dl.id, p_now, 'declined', p_src, p_channel, NULL);
                ids := ids || dlg_say(p_now, p_short, dl.inviter, 'declined_inviter',
                                      jsonb_build_object('peer', '+' || p_src), p_inbound);
                ids := ids || dlg_say(p_now, p_short, p_src, 'declined_invitee', peer_param, p_inbound);
            ELSIF dlg_open_count(a.id) >= p_max_dialogs THEN          -- D3
                ids := ids || dlg_say(p_now, p_short, p_src, 'accept_limit_self',
                                      peer_param || jsonb_build_object('limit', p_max_dialogs), p_inbound);
            ELSIF dlg_open_count(dl.inviter_id) >= p_max_dialogs THEN -- D3
                ids := ids || dlg_say(p_now, p_short, p_src, 'accept_limit_peer', peer_param, p_inbound);
            ELSE
                ids := ids || dlg_activate(p_now, dl.id, p_src, p_channel, p_short, p_inbound,
                                           p_trial_days, NULL);
            END IF;
        END IF;

    -- ---- STOP (R14, D2) ----
    ELSIF p_cmd = 'stop' THEN
        n := 0;
        FOR dl IN
            SELECT * FROM dialog d
             WHERE ((d.inviter_id = a.id AND (p_number IS NULL OR d.invitee = p_number))
                 OR (d.invitee_id = a.id AND (p_number IS NULL OR d.inviter = p_number)))
               AND (d.state IN ('active', 'suspended')
                    OR (d.state = 'pending' AND d.inviter_id = a.id))
             ORDER BY d.id
             FOR UPDATE
        LOOP
            ids := ids || dlg_finish(p_now, dl.id, a.id, p_src, p_channel, 'stop', p_short, p_inbound);
            n := n + 1;
        END LOOP;
        IF n = 0 THEN
            IF p_number IS NULL THEN
                ids := ids || dlg_say(p_now, p_short, p_src, 'stop_nothing', '{}', p_inbound);
            ELSE
                ids := ids || dlg_say(p_now, p_short, p_src, 'stop_nothing_with', peer_param, p_inbound);
            END IF;
        END IF;

    -- ---- STATUS ----
    ELSIF p_cmd = 'status' THEN
        ids := ids || dlg_say(p_now, p_short, p_src, 'status', dlg_status_params(p_now, a.id, p_trial_days),
                              p_inbound);
    ELSE
        ids := ids || dlg_say(p_now, p_short, p_src, 'help', '{}', p_inbound);
    END IF;

    RETURN QUERY SELECT * FROM dlg_out_rows(ids);
END;
$$;

-- The parameters of the STATUS reply (catalog: eng_render_status).
CREATE FUNCTION dlg_status_params(p_now timestamptz, p_sub bigint, p_trial_days integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    d record;
    i integer := 0;
    p jsonb;
    today date;
    trial_end date;
BEGIN
    SELECT sb.*, r.tz, r.daily_fee INTO s
      FROM subscriber sb JOIN region r ON r.code = sb.region WHERE sb.id = p_sub;
    today := dlg_local_day(p_now, s.tz);
    p := jsonb_build_object('fee_kop', s.daily_fee);
    FOR d IN
        SELECT dl.*,
               CASE WHEN dl.inviter_id = p_sub THEN dl.invitee ELSE dl.inviter END AS peer,
               ri.tz AS inviter_tz
          FROM dialog dl
          JOIN subscriber si ON si.id = dl.inviter_id
          JOIN region ri ON ri.code = si.region
         WHERE (dl.inviter_id = p_sub OR dl.invitee_id = p_sub)
           AND dl.state IN ('pending', 'active', 'suspended')
         ORDER BY dl.state <> 'active', dl.created_at
    LOOP
        p := p || jsonb_build_object(
            'peer' || i, '+' || d.peer,
            'state' || i, CASE WHEN d.state <> 'pending' THEN d.state
                               WHEN d.inviter_id = p_sub THEN 'pending_out'
                               ELSE 'pending_in' END,
            'since' || i, dlg_local_day(coalesce(d.activated_at, d.created_at), s.tz),
            'used' || i, coalesce((SELECT u.used FROM pair_usage u
                                    WHERE u.pair_lo = least(d.inviter, d.invitee)
                                      AND u.pair_hi = greatest(d.inviter, d.invitee)
                                      AND u.day = dlg_local_day(p_now, d.inviter_tz)), 0));
        i := i + 1;
    END LOOP;
    IF s.first_activated_at IS NOT NULL AND p_trial_days > 0 THEN
        trial_end := dlg_local_day(s.first_activated_at, s.tz) + p_trial_days;
    END IF;
    p := p || jsonb_build_object('n', i,
                                 'trial_end', CASE WHEN trial_end >= today THEN trial_end::text ELSE '' END);
    RETURN p;
END;
$$;

-- Invitations whose invite_ttl_s ran out (R5): expire them and tell the
-- inviter. Idempotent; safe from several processes (SKIP LOCKED).
CREATE FUNCTION dlg_expire_due(p_now timestamptz, p_short text, p_limit integer DEFAULT 1000)
RETURNS SETOF dlg_out
LANGUAGE plpgsql AS $$
DECLARE
    dl dialog%ROWTYPE;
    ids bigint[] := '{}';
BEGIN
    FOR dl IN
        SELECT * FROM dialog
         WHERE state = 'pending' AND expires_at <= p_now
         ORDER BY expires_at
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    LOOP
        UPDATE dialog SET state = 'expired', ended_at = p_now, expires_at = NULL WHERE id = dl.id;
        PERFORM dlg_event(dl.id, p_now, 'expired', NULL, NULL, 'invite_ttl_s ran out');
        ids := ids || dlg_say(p_now, p_short, dl.inviter, 'invite_expired',
                              jsonb_build_object('peer', '+' || dl.invitee), NULL);
    END LOOP;
    RETURN QUERY SELECT * FROM dlg_out_rows(ids);
END;
$$;
