-- 0010_bill_speed.sql — a cheaper daily billing run (`dialogctl bill daily`,
-- docs/performance.md "Daily billing"). Same rules, same effects, same
-- idempotency keys as 0005; fewer passes over each chunk.
--
-- Measured on one chunk of 100,000 postpaid dialogs (200,000 fees), what the
-- 0005 version spent its time on: the balance UPDATE (~3.4 s: only one row
-- in four was a HOT update, the others inserted three subscriber index
-- entries each), the ledger INSERT (~2 s) and its per-row foreign-key
-- triggers (~2 s), five temporary tables built one from the other (~2 s),
-- sorts and hashes spilling to disk at the default work_mem.
--
-- * subscriber fillfactor 45 (was 80, 0009): a run updates the balance of
--   every billed subscriber once, in one transaction per chunk, so every
--   row of a page may need a new version before any old one can be pruned;
--   with less than half of each page filled, all of them stay HOT (no index
--   entry). New pages only: `VACUUM FULL subscriber` (or pg_repack) applies
--   it to an existing table.
-- * bill_daily_chunk(): one temporary table of the chunk's participants that
--   already says which participant-days are owed and how (trial, postponed,
--   due), instead of five; the prepaid checks (R17, D13) look only at
--   prepaid payers; the statements that have nothing to do (no suspension,
--   no postponed day, no reminder window) are skipped; work_mem is large
--   enough that no sort or hash of a chunk spills; no JIT (its compile time
--   is paid on every chunk for nothing). The ledger rows, their keys
--   'daily_fee:<dialog>:<subscriber>:<day>', the ONE aggregated balance
--   UPDATE per chunk, bill_unpaid, the suspension and resumption and their
--   notices, and the reminders are exactly those of 0005.
-- * the per-participant look-ups (idempotency key, bill_unpaid) are index
--   probes whatever the statistics say (enable_seqscan off for that one
--   statement, OFFSET 0 against hashing the whole ledger): with the
--   statistics of an empty ledger the planner chose a sequential scan per
--   participant, quadratic while the other worker fills the ledger.

ALTER TABLE subscriber SET (fillfactor = 45);

CREATE OR REPLACE FUNCTION bill_daily_chunk(p_now timestamptz, p_date date, p_after bigint,
                                            p_upto bigint, p_trial integer, p_grace integer,
                                            p_short text,
                                            OUT last_id bigint, OUT scanned integer,
                                            OUT dialogs integer, OUT fees integer,
                                            OUT amount bigint, OUT trial_days integer,
                                            OUT postponed integer, OUT reminders integer,
                                            OUT suspended integer, OUT resumed integer)
LANGUAGE plpgsql
SET work_mem = '128MB'
SET jit = off
SET enable_seqscan = on
AS $$
#variable_conflict use_column
DECLARE
    v_smin timestamptz;
    v_done bigint;
    v_bad integer := 0;     -- dialogs that cannot be paid in full (D13)
    v_susp integer := 0;    -- owed participant-days of suspended dialogs
    v_remind integer := 0;  -- participants inside a reminder window (R13b)
BEGIN
    fees := 0; amount := 0; reminders := 0; suspended := 0; resumed := 0;
    dialogs := 0; trial_days := 0; postponed := 0; scanned := 0;
    v_smin := bill_daily_smin(p_now, p_date);
    v_done := bill_daily_done(p_now, p_date);
    IF v_smin IS NULL THEN
        RETURN;
    END IF;
    DROP TABLE IF EXISTS _bd_r, _bd_p, _bd_bad, _bd_rem;

    CREATE TEMP TABLE _bd_r ON COMMIT DROP AS
        SELECT *, to_char(d, 'YYYY-MM-DD') AS d_txt
          FROM bill_daily_regions(p_now, p_date) WHERE begun;

    -- The candidate dialogs of the chunk (what the progress counts).
    SELECT max(id), count(*) INTO last_id, scanned
      FROM dialog
     WHERE id > p_after AND id <= p_upto AND activated_at IS NOT NULL
       AND (id > v_done OR state = 'suspended')
       AND (state IN ('active', 'suspended') OR (state = 'ended' AND ended_at > v_smin));
    IF last_id IS NULL THEN
        RETURN;
    END IF;

    -- The unit is (dialog, participant); the participant's region decides
    -- the day, its 00:00, the fee and the trial arithmetic (D11, D12).
    -- owed: the dialog was active at 00:00 of the day (R13): activated
    -- before it (the activation day is free), not ended by then, not
    -- suspended then (a dialog suspended now is retried, D13); not yet
    -- charged or settled unpaid for that day. class (owed rows only):
    -- 'trial' (R13a), 'postponed' (R13b: no accepted reminder) or 'due'.
    -- The look-ups per participant are index probes whatever the statistics
    -- say: on a new ledger (statistics of an empty table) the planner would
    -- probe it by sequential scan while the other worker's chunk fills it (a
    -- first run once took minutes for one chunk that way), and on a large one
    -- it may hash every key of the ledger for each chunk (OFFSET 0 keeps the
    -- NOT EXISTS a per-row probe).
    SET LOCAL enable_seqscan = off;
    CREATE TEMP TABLE _bd_p ON COMMIT DROP AS
        SELECT y.*,
               CASE
                   WHEN NOT y.owed THEN NULL
                   WHEN p_trial > 0 AND y.d BETWEEN y.f_day + 1 AND y.f_day + p_trial
                       THEN 'trial'                                           -- R13a
                   WHEN p_trial > 0 AND y.a_day <= y.f_day + p_trial
                        AND y.d BETWEEN y.f_day + p_trial + 1 AND y.f_day + p_trial + p_grace
                        AND NOT bill_reminder_accepted(y.sub_id)
                       THEN 'postponed'                                       -- R13b
                   ELSE 'due'
               END AS class
          FROM (SELECT x.*,
                       x.activated_at < x.s_at
                       AND (x.ended_at IS NULL OR x.ended_at > x.s_at)
                       AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.idem_key = x.idem
                                        OFFSET 0)
                       AND NOT EXISTS (SELECT 1 FROM bill_unpaid u
                                        WHERE u.dialog_id = x.dialog_id
                                          AND u.subscriber_id = x.sub_id AND u.bill_date = x.d
                                        OFFSET 0)
                       AND (x.state = 'suspended'
                            OR coalesce((SELECT e.type FROM dialog_event e
                                          WHERE e.dialog_id = x.dialog_id
                                            AND e.type IN ('suspended', 'resumed')
                                            AND e.at < x.s_at
                                          ORDER BY e.at DESC, e.id DESC LIMIT 1), '')
                               <> 'suspended') AS owed
                  FROM (SELECT d.id AS dialog_id, d.state, d.activated_at, d.ended_at, v.sub_id,
                               v.peer, s.msisdn, s.account_type, r.tz, r.fee, r.d, r.d_txt, r.s_at,
                               (coalesce(s.first_activated_at, d.activated_at)
                                    AT TIME ZONE r.tz)::date AS f_day,
                               (d.activated_at AT TIME ZONE r.tz)::date AS a_day,
                               'daily_fee:' || d.id || ':' || v.sub_id || ':' || r.d_txt AS idem
                          FROM dialog d
                         CROSS JOIN LATERAL (VALUES (d.inviter_id, d.invitee),
                                                    (d.invitee_id, d.inviter)) v(sub_id, peer)
                          JOIN subscriber s ON s.id = v.sub_id
                          JOIN _bd_r r ON r.code = s.region
                         WHERE d.id > p_after AND d.id <= p_upto AND d.activated_at IS NOT NULL
                           AND (d.id > v_done OR d.state = 'suspended')
                           AND (d.state IN ('active', 'suspended')
                                OR (d.state = 'ended' AND d.ended_at > v_smin))) x
                OFFSET 0) y;
    SET LOCAL enable_seqscan = on;
    ANALYZE _bd_p;

    SELECT count(DISTINCT dialog_id) FILTER (WHERE owed),
           count(*) FILTER (WHERE class = 'trial'),
           count(*) FILTER (WHERE class = 'postponed'),
           count(*) FILTER (WHERE owed AND state = 'suspended'),
           count(*) FILTER (WHERE p_trial > 0 AND ended_at IS NULL
                              AND a_day <= f_day + p_trial
                              AND d BETWEEN f_day + p_trial AND f_day + p_trial + p_grace)
      INTO dialogs, trial_days, postponed, v_susp, v_remind
      FROM _bd_p;

    -- Prepaid payers (R17, D13): locked in id order so that no hold or
    -- charge by dialogd slips in between the check and the charge. Several
    -- fees of one subscriber in this chunk count cumulatively, in dialog id
    -- order (D11). A dialog with a payer who cannot pay is settled unpaid as
    -- a whole (D13). Postpaid payers and free regions always pay.
    CREATE TEMP TABLE _bd_bad (dialog_id bigint PRIMARY KEY, payer text, payer_fee bigint,
                               d date) ON COMMIT DROP;
    IF EXISTS (SELECT 1 FROM _bd_p
                WHERE class = 'due' AND fee > 0 AND account_type = 'prepaid') THEN
        PERFORM 1 FROM subscriber
          WHERE id IN (SELECT sub_id FROM _bd_p
                        WHERE class = 'due' AND fee > 0 AND account_type = 'prepaid')
          ORDER BY id FOR UPDATE;
        INSERT INTO _bd_bad (dialog_id, payer, payer_fee, d)
        SELECT q.dialog_id, (array_agg(q.msisdn ORDER BY q.sub_id))[1],
               (array_agg(q.fee ORDER BY q.sub_id))[1],
               (SELECT min(o.d) FROM _bd_p o WHERE o.dialog_id = q.dialog_id AND o.owed)
          FROM (SELECT o.dialog_id, o.sub_id, o.msisdn, o.fee,
                       dlg_spendable(o.sub_id)
                           >= sum(o.fee) OVER (PARTITION BY o.sub_id ORDER BY o.dialog_id)
                           AS can_pay
                  FROM _bd_p o
                 WHERE o.class = 'due' AND o.fee > 0 AND o.account_type = 'prepaid') q
         WHERE NOT q.can_pay
         GROUP BY q.dialog_id;
        GET DIAGNOSTICS v_bad = ROW_COUNT;
    END IF;

    -- Charges (R13, R16): the balance moves only by the rows inserted, in
    -- ONE aggregated UPDATE per chunk (in subscriber id order).
    WITH ins AS (
        INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at,
                            idem_key, rule, detail)
        SELECT p.sub_id, p.msisdn, p.dialog_id, 'daily_fee', p.fee, p.d, p_now, p.idem, 'R13',
               'daily fee of dialog ' || p.dialog_id || ' for ' || p.d_txt
          FROM _bd_p p
         WHERE p.class = 'due' AND p.fee > 0
           AND (v_bad = 0 OR NOT EXISTS (SELECT 1 FROM _bd_bad b WHERE b.dialog_id = p.dialog_id))
        ON CONFLICT (idem_key) DO NOTHING
        RETURNING subscriber_id, ledger.amount AS amt
    ), bal AS (
        UPDATE subscriber s SET balance = s.balance - t.total
          FROM (SELECT subscriber_id, sum(amt) AS total FROM ins
                 GROUP BY subscriber_id ORDER BY subscriber_id) t
         WHERE s.id = t.subscriber_id
    )
    SELECT count(*), coalesce(sum(amt), 0) INTO fees, amount FROM ins;

    -- Unpaid: nobody in the dialog is charged for the day, ever (D13); a
    -- postponed day is never charged later either (R13b).
    IF v_bad > 0 OR postponed > 0 THEN
        INSERT INTO bill_unpaid (dialog_id, subscriber_id, bill_date, rule, amount, created_at)
        SELECT p.dialog_id, p.sub_id, p.d, 'D13', p.fee, p_now
          FROM _bd_p p JOIN _bd_bad b ON b.dialog_id = p.dialog_id
         WHERE p.class = 'due'
        UNION ALL
        SELECT p.dialog_id, p.sub_id, p.d, 'R13b', p.fee, p_now
          FROM _bd_p p WHERE p.class = 'postponed'
        ON CONFLICT DO NOTHING;
    END IF;

    -- Suspend (R17, D13): only dialogs this statement moves from active.
    IF v_bad > 0 THEN
        WITH sus AS (
            UPDATE dialog d SET state = 'suspended'
              FROM _bd_bad r
             WHERE d.id = r.dialog_id AND d.state = 'active'
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
    END IF;

    -- Resume (D13): every participant billed in this run could pay. (Only
    -- the daily run suspends, so a dialog it may resume was suspended when
    -- the chunk read it.)
    IF v_susp > 0 THEN
        WITH res AS (
            UPDATE dialog d SET state = 'active'
              FROM (SELECT DISTINCT dialog_id FROM _bd_p
                     WHERE owed AND state = 'suspended') r
             WHERE d.id = r.dialog_id AND d.state = 'suspended'
               AND NOT EXISTS (SELECT 1 FROM _bd_bad b WHERE b.dialog_id = r.dialog_id)
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
    END IF;

    -- Trial reminders (R13b, D4): to each trial leaver of a dialog active
    -- now for whom the next day would be the first charged one, with no
    -- accepted reminder yet; one per subscriber and day.
    IF v_remind > 0 THEN
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
    END IF;
END;
$$;
