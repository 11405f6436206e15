-- 0005_billing.sql — the daily billing run (`dialogctl bill daily`): daily
-- fees, the free week, trial reminders, suspension and resumption (R13,
-- R13a, R13b, R16, R17, D4, D11, D12, D13, D15).
--
-- The work is set-based: dialogctl calls bill_daily_chunk() once per chunk
-- of dialog ids, each in its own transaction, under a session advisory lock
-- (one run at a time). Every effect is idempotent, so a chunk may be
-- repeated after a crash and a run may be repeated at will:
--   ledger        'daily_fee:<dialog>:<subscriber>:<day>' idem_key (R16)
--   bill_unpaid   (dialog, subscriber, day) a day settled unpaid (D13, R13b)
--   bill_run_done (region, day) completed up to a dialog id: re-runs are quick
--   trial_reminder (subscriber, day) one reminder per subscriber per day (D4)
--   suspend / resume only when the state change happens in this statement.

-- Reminders of the end of the free week (R13b, D4): one per subscriber and
-- bill day of the run that queued it. Accepted = the outbox row is
-- 'submitted' and no failed delivery receipt came back for it.
CREATE TABLE trial_reminder (
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    bill_date     date NOT NULL,
    outbox_id     bigint NOT NULL REFERENCES outbox (id),
    PRIMARY KEY (subscriber_id, bill_date)
);

-- Participant-days a daily run settled without a charge, never charged
-- later (a re-run of that day leaves them alone): rule 'D13' the dialog could
-- not be paid in full, so nobody in it was charged; rule 'R13b' a trial
-- leaver's postponed day (no accepted reminder before the run).
CREATE TABLE bill_unpaid (
    dialog_id     bigint NOT NULL REFERENCES dialog (id),
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    bill_date     date NOT NULL,
    rule          text NOT NULL CHECK (rule IN ('D13', 'R13b')),
    amount        bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (dialog_id, subscriber_id, bill_date)
);

-- Region-days a run completed: every dialog with id <= upto was settled for
-- that day, so a re-run looks only at newer dialogs and suspended ones (the
-- retry of D13).
CREATE TABLE bill_run_done (
    region    text NOT NULL REFERENCES region (code),
    bill_date date NOT NULL,
    upto      bigint NOT NULL,
    done_at   timestamptz NOT NULL,
    PRIMARY KEY (region, bill_date)
);

-- Suspension history look-ups ("was the dialog suspended at 00:00?").
CREATE INDEX dialog_event_suspension ON dialog_event (dialog_id, at)
    WHERE type IN ('suspended', 'resumed');

-- dialogd renders and sends outbox rows; a row inserted by another program
-- must wake it. dialogd's own sessions set dialog.engine = 'on'.
CREATE FUNCTION outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('dialog.engine', true), '') <> 'on' THEN
        PERFORM pg_notify('dialog_cache', 'o');
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();

-- Whether a subscriber has an accepted trial reminder (R13b): accepted by the
-- SMSC ('submitted') and no failed delivery receipt (expired, deleted,
-- undeliverable, rejected).
CREATE FUNCTION bill_reminder_accepted(p_sub bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM trial_reminder t JOIN outbox o ON o.id = t.outbox_id
         WHERE t.subscriber_id = p_sub AND o.state = 'submitted'
           AND NOT EXISTS (SELECT 1 FROM sms_receipt r
                            WHERE r.message_id = ANY (o.message_ids)
                              AND r.state IN (3, 4, 5, 8)))
$$;

-- The regions and the day each bills in this run (D15): p_date, else the
-- region's own current day; `begun` when that day has started there.
CREATE FUNCTION bill_daily_regions(p_now timestamptz, p_date date)
RETURNS TABLE (code text, tz text, fee bigint, d date, s_at timestamptz, begun boolean,
               local_now text)
LANGUAGE sql STABLE AS $$
    SELECT x.code, x.tz, x.daily_fee, x.d, (x.d::timestamp AT TIME ZONE x.tz),
           (p_now AT TIME ZONE x.tz)::date >= x.d,
           to_char(p_now AT TIME ZONE x.tz, 'YYYY-MM-DD HH24:MI')
      FROM (SELECT r.*, coalesce(p_date, (p_now AT TIME ZONE r.tz)::date) AS d FROM region r) x
     ORDER BY x.code
$$;

-- The earliest 00:00 among the regions billed (NULL when none has begun):
-- dialogs ended before it cannot owe anything.
CREATE FUNCTION bill_daily_smin(p_now timestamptz, p_date date) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT min(s_at) FROM bill_daily_regions(p_now, p_date) WHERE begun
$$;

-- Up to which dialog id every region billed in this run has completed its
-- day already (0 when one has not).
CREATE FUNCTION bill_daily_done(p_now timestamptz, p_date date) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(coalesce(dn.upto, 0)), 0)
      FROM bill_daily_regions(p_now, p_date) r
      LEFT JOIN bill_run_done dn ON dn.region = r.code AND dn.bill_date = r.d
     WHERE r.begun
$$;

-- Record that the run completed its day in every region it billed, for the
-- dialogs up to p_upto.
CREATE FUNCTION bill_daily_finish(p_now timestamptz, p_date date, p_upto bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO bill_run_done (region, bill_date, upto, done_at)
    SELECT code, d, p_upto, p_now FROM bill_daily_regions(p_now, p_date) WHERE begun
    ON CONFLICT (region, bill_date)
        DO UPDATE SET upto = greatest(bill_run_done.upto, excluded.upto), done_at = excluded.done_at
$$;

-- The chunks of a run: upper bounds of successive id ranges of about
-- p_size candidate dialogs each (the last bound is the highest id).
CREATE FUNCTION bill_daily_chunks(p_now timestamptz, p_date date, p_size integer)
RETURNS TABLE (upto bigint, n bigint)
LANGUAGE sql STABLE AS $$
    WITH m AS MATERIALIZED (SELECT bill_daily_smin(p_now, p_date) AS smin,
                                   bill_daily_done(p_now, p_date) AS done)
    SELECT max(id), count(*)
      FROM (SELECT d.id, (row_number() OVER (ORDER BY d.id) - 1) / p_size AS k
              FROM dialog d, m
             WHERE d.activated_at IS NOT NULL
               AND (d.id > m.done OR d.state = 'suspended')
               AND (d.state IN ('active', 'suspended')
                    OR (d.state = 'ended' AND d.ended_at > m.smin))) c
     GROUP BY k ORDER BY k
$$;

-- One chunk of the daily run: the candidate dialogs with p_after < id <=
-- p_upto (bill_daily_chunks() cuts them). Returns the last id looked at
-- (NULL when there were none) and what was done. Call it in a transaction
-- of its own; chunks may run in parallel sessions (payers are locked).
CREATE FUNCTION bill_daily_chunk(p_now timestamptz, p_date date, p_after bigint, p_upto bigint,
                                 p_trial integer, p_grace integer, p_short text,
                                 OUT last_id bigint, OUT scanned integer, OUT dialogs integer,
                                 OUT fees integer, OUT amount bigint, OUT trial_days integer,
                                 OUT postponed integer, OUT reminders integer,
                                 OUT suspended integer, OUT resumed integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_smin timestamptz;
    v_done bigint;
BEGIN
    fees := 0; amount := 0; reminders := 0; suspended := 0; resumed := 0;
    dialogs := 0; trial_days := 0; postponed := 0; scanned := 0;
    v_smin := bill_daily_smin(p_now, p_date);
    v_done := bill_daily_done(p_now, p_date);
    IF v_smin IS NULL THEN
        RETURN;
    END IF;
    DROP TABLE IF EXISTS _bd_r, _bd_d, _bd_p, _bd_o, _bd_due, _bd_res, _bd_rem;

    CREATE TEMP TABLE _bd_r ON COMMIT DROP AS
        SELECT * FROM bill_daily_regions(p_now, p_date) WHERE begun;

    CREATE TEMP TABLE _bd_d ON COMMIT DROP AS
        SELECT id, state, activated_at, ended_at, inviter_id, invitee_id, inviter, invitee
          FROM dialog
         WHERE id > p_after AND id <= p_upto AND activated_at IS NOT NULL
           AND (id > v_done OR state = 'suspended')
           AND (state IN ('active', 'suspended') OR (state = 'ended' AND ended_at > v_smin));
    SELECT max(id), count(*) INTO last_id, scanned FROM _bd_d;
    IF last_id IS NULL THEN
        RETURN;
    END IF;

    -- The unit is (dialog, participant); the participant's region decides
    -- the day, its 00:00, the fee and the trial arithmetic (D11, D12).
    CREATE TEMP TABLE _bd_p ON COMMIT DROP AS
        SELECT d.id AS dialog_id, d.state, d.activated_at, d.ended_at, v.sub_id, v.peer,
               s.msisdn, s.account_type, r.tz, r.fee, r.d, r.s_at,
               (coalesce(s.first_activated_at, d.activated_at) AT TIME ZONE r.tz)::date AS f_day,
               (d.activated_at AT TIME ZONE r.tz)::date AS a_day,
               'daily_fee:' || d.id || ':' || v.sub_id || ':' || to_char(r.d, 'YYYY-MM-DD') AS idem
          FROM _bd_d d
         CROSS JOIN LATERAL (VALUES (d.inviter_id, d.invitee), (d.invitee_id, d.inviter)) v(sub_id, peer)
          JOIN subscriber s ON s.id = v.sub_id
          JOIN _bd_r r ON r.code = s.region;
    ANALYZE _bd_p;

    -- Owed: the dialog was active at 00:00 of the day (R13): activated
    -- before it (the activation day is free), not ended by then, not
    -- suspended then (a dialog suspended now is retried, D13); not yet
    -- charged or settled unpaid for that day.
    CREATE TEMP TABLE _bd_o ON COMMIT DROP AS
        SELECT p.*,
               CASE
                   WHEN p_trial > 0 AND p.d BETWEEN p.f_day + 1 AND p.f_day + p_trial
                       THEN 'trial'                                           -- R13a
                   WHEN p_trial > 0 AND p.a_day <= p.f_day + p_trial
                        AND p.d BETWEEN p.f_day + p_trial + 1 AND p.f_day + p_trial + p_grace
                        AND NOT bill_reminder_accepted(p.sub_id)
                       THEN 'postponed'                                       -- R13b
                   ELSE 'due'
               END AS class
          FROM _bd_p p
         WHERE p.activated_at < p.s_at
           AND (p.ended_at IS NULL OR p.ended_at > p.s_at)
           AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.idem_key = p.idem)
           AND NOT EXISTS (SELECT 1 FROM bill_unpaid u
                            WHERE u.dialog_id = p.dialog_id AND u.subscriber_id = p.sub_id
                              AND u.bill_date = p.d)
           AND (p.state = 'suspended'
                OR coalesce((SELECT e.type FROM dialog_event e
                              WHERE e.dialog_id = p.dialog_id
                                AND e.type IN ('suspended', 'resumed') AND e.at < p.s_at
                              ORDER BY e.at DESC, e.id DESC LIMIT 1), '') <> 'suspended');

    SELECT count(DISTINCT dialog_id), count(*) FILTER (WHERE class = 'trial'),
           count(*) FILTER (WHERE class = 'postponed')
      INTO dialogs, trial_days, postponed FROM _bd_o;

    -- Prepaid payers are locked (id order) so that no hold or charge by
    -- dialogd slips in between the check and the charge (R17).
    PERFORM 1 FROM subscriber
      WHERE id IN (SELECT sub_id FROM _bd_o
                    WHERE class = 'due' AND fee > 0 AND account_type = 'prepaid')
      ORDER BY id FOR UPDATE;

    -- Can each pay? Several fees of one prepaid subscriber in this chunk
    -- count cumulatively, in dialog id order (D11, D13).
    CREATE TEMP TABLE _bd_due ON COMMIT DROP AS
        SELECT o.dialog_id, o.sub_id, o.msisdn, o.fee, o.d, o.idem,
               CASE WHEN o.account_type = 'postpaid' OR o.fee = 0 THEN true
                    ELSE dlg_spendable(o.sub_id)
                         >= sum(o.fee) OVER (PARTITION BY o.sub_id ORDER BY o.dialog_id)
               END AS can_pay
          FROM _bd_o o
         WHERE o.class = 'due';

    -- Each dialog settles atomically (D13).
    CREATE TEMP TABLE _bd_res ON COMMIT DROP AS
        SELECT o.dialog_id,
               bool_and(coalesce(du.can_pay, true)) AS ok,
               (array_agg(du.msisdn ORDER BY du.sub_id) FILTER (WHERE NOT du.can_pay))[1] AS payer,
               (array_agg(du.fee ORDER BY du.sub_id) FILTER (WHERE NOT du.can_pay))[1] AS payer_fee,
               min(o.d) AS d
          FROM _bd_o o
          LEFT JOIN _bd_due du ON du.dialog_id = o.dialog_id AND du.sub_id = o.sub_id
         GROUP BY o.dialog_id;

    -- Charges (R13, R16): the balance moves only by the rows inserted.
    WITH ins AS (
        INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at,
                            idem_key, rule, detail)
        SELECT du.sub_id, du.msisdn, du.dialog_id, 'daily_fee', du.fee, du.d, p_now, du.idem, 'R13',
               'daily fee of dialog ' || du.dialog_id || ' for ' || to_char(du.d, 'YYYY-MM-DD')
          FROM _bd_due du JOIN _bd_res r ON r.dialog_id = du.dialog_id AND r.ok
         WHERE du.fee > 0
        ON CONFLICT (idem_key) DO NOTHING
        RETURNING subscriber_id, ledger.amount AS amt
    ), bal AS (
        UPDATE subscriber s SET balance = s.balance - t.total
          FROM (SELECT subscriber_id, sum(amt) AS total FROM ins GROUP BY subscriber_id) t
         WHERE s.id = t.subscriber_id
    )
    SELECT count(*), coalesce(sum(amt), 0) INTO fees, amount FROM ins;

    -- Unpaid: nobody in the dialog is charged for the day, ever (D13).
    INSERT INTO bill_unpaid (dialog_id, subscriber_id, bill_date, rule, amount, created_at)
    SELECT du.dialog_id, du.sub_id, du.d, 'D13', du.fee, p_now
      FROM _bd_due du JOIN _bd_res r ON r.dialog_id = du.dialog_id AND NOT r.ok
    UNION ALL
    SELECT o.dialog_id, o.sub_id, o.d, 'R13b', o.fee, p_now
      FROM _bd_o o WHERE o.class = 'postponed'
    ON CONFLICT DO NOTHING;

    -- Suspend (R17, D13): only dialogs this statement moves from active.
    WITH sus AS (
        UPDATE dialog d SET state = 'suspended'
          FROM _bd_res r
         WHERE d.id = r.dialog_id AND NOT r.ok AND d.state = 'active'
        RETURNING d.id, d.inviter, d.invitee, r.payer, r.payer_fee, r.d
    ), ev AS (
        INSERT INTO dialog_event (dialog_id, at, type, actor, channel, detail)
        SELECT id, p_now, 'suspended', 'bill daily', NULL,
               format('R17/D13: +%s could not pay the daily fee of %s kop for %s',
                      payer, payer_fee, to_char(d, 'YYYY-MM-DD'))
          FROM sus
    ), msg AS (
        INSERT INTO outbox (created_at, src, dst, msg, params)
        SELECT p_now, p_short, x.dst, 'suspended',
               jsonb_build_object('peer', '+' || x.peer, 'fee_kop', sus.payer_fee,
                                  'payer', '+' || sus.payer)
          FROM sus CROSS JOIN LATERAL (VALUES (sus.inviter, sus.invitee),
                                              (sus.invitee, sus.inviter)) x(dst, peer)
    )
    SELECT count(*) INTO suspended FROM sus;

    -- Resume (D13): every participant billed in this run could pay.
    WITH res AS (
        UPDATE dialog d SET state = 'active'
          FROM _bd_res r
         WHERE d.id = r.dialog_id AND r.ok AND d.state = 'suspended'
        RETURNING d.id, d.inviter_id, d.invitee_id, d.inviter, d.invitee
    ), ev AS (
        INSERT INTO dialog_event (dialog_id, at, type, actor, channel, detail)
        SELECT id, p_now, 'resumed', 'bill daily', NULL, 'D13: the daily fee was paid'
          FROM res
    ), msg AS (
        INSERT INTO outbox (created_at, src, dst, msg, params)
        SELECT p_now, p_short, x.dst, 'resumed',
               jsonb_build_object('peer', '+' || x.peer, 'fee_kop', rg.daily_fee)
          FROM res
         CROSS JOIN LATERAL (VALUES (res.inviter_id, res.inviter, res.invitee),
                                    (res.invitee_id, res.invitee, res.inviter)) x(sub_id, dst, peer)
          JOIN subscriber s ON s.id = x.sub_id
          JOIN region rg ON rg.code = s.region
    )
    SELECT count(*) INTO resumed FROM res;

    -- Trial reminders (R13b, D4): to each trial leaver of a dialog active
    -- now for whom the next day would be the first charged one, with no
    -- accepted reminder yet; one per subscriber and day.
    CREATE TEMP TABLE _bd_rem ON COMMIT DROP AS
        SELECT q.sub_id, q.msisdn, q.fee, q.d,
               nextval(pg_get_serial_sequence('outbox', 'id')) AS outbox_id
          FROM (SELECT DISTINCT ON (p.sub_id) p.sub_id, p.msisdn, p.fee, p.d
                  FROM _bd_p p JOIN dialog dl ON dl.id = p.dialog_id AND dl.state = 'active'
                 WHERE p_trial > 0 AND p.ended_at IS NULL
                   AND p.a_day <= p.f_day + p_trial
                   AND p.d BETWEEN p.f_day + p_trial AND p.f_day + p_trial + p_grace
                   AND NOT EXISTS (SELECT 1 FROM trial_reminder t
                                    WHERE t.subscriber_id = p.sub_id AND t.bill_date = p.d)
                   AND NOT bill_reminder_accepted(p.sub_id)
                 ORDER BY p.sub_id, p.dialog_id) q;
    INSERT INTO outbox (id, created_at, src, dst, msg, params)
    SELECT outbox_id, p_now, p_short, msisdn, 'trial_reminder',
           jsonb_build_object('fee_kop', fee, 'fee_from', to_char(d + 1, 'YYYY-MM-DD'))
      FROM _bd_rem;
    INSERT INTO trial_reminder (subscriber_id, bill_date, outbox_id)
    SELECT sub_id, d, outbox_id FROM _bd_rem;
    SELECT count(*) INTO reminders FROM _bd_rem;
END;
$$;
