-- 0008_roles.sql — database roles, and the refund of a ledger entry
-- (`dialogctl charge refund`, R16) as a function support staff may call.
--
-- Three NOLOGIN group roles; people and programs log in as LOGIN roles that
-- are members of one of them (docs/operations.md, "Database roles"):
--
--   dialog_engine   dialogd: reads everything, writes what the SMS flow and
--                   the rating write (inbound, outbox, dialogs, usage,
--                   holds, SMS charges and the payer's balance); no DELETE
--                   except on its own holds, no UPDATE of the ledger.
--   dialog_support  support staff (dialogctl subscriber show, charges list,
--                   explain, dialog list/show ...): SELECT on everything and
--                   no direct INSERT, UPDATE or DELETE at all. Its actions
--                   that move money run as SECURITY DEFINER functions which
--                   check the rules themselves: dlg_refund() below (charge
--                   refund) and the sup_* functions of 0007 (dialog create /
--                   end through the operator channel, R15).
--   dialog_billing  batch jobs (bill daily, bill export, account credit,
--                   provisioning): reads everything, inserts and updates
--                   (ledger: insert only), never deletes.
--
-- Roles belong to the whole cluster while this file runs once per database:
-- they are created only when missing, and a concurrent `db init` of another
-- database creating the same role at the same moment is harmless.
-- The ledger's append-only triggers (0001) still hold for every role.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['dialog_engine', 'dialog_support', 'dialog_billing'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;   -- created meanwhile by a db init of another database
            END;
        END IF;
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------
-- charge refund (R16): reverse one charge with a new ledger entry.
--
-- p_entry: the entry to reverse; p_reason: why (required, the entry's
-- detail); p_agent: who (required, audited); p_now: the caller's clock.
-- Returns `status`:
--   'ok'         refunded: entry_id = the new refund entry, balance = the
--                payer's balance after it
--   'not_found'  no such entry
--   'is_refund'  the entry is itself a refund (entry_id = the entry it reverses)
--   'already'    the entry was refunded before (entry_id = that refund)
--   'zero'       the entry charged nothing
--   'usage'      reason or agent missing
-- The refund: kind 'refund', amount = -original, refund_of = the original,
-- the same subscriber row (contract) and dialog, bill_date = p_now's day in
-- the subscriber's region, idem_key 'refund:<id>', rule 'R16', detail =
-- the reason; the balance goes up by the original amount; one audit row.
-- ledger.refund_of is UNIQUE: two refunds of one entry can never both
-- commit (the loser reports 'already').
CREATE FUNCTION dlg_refund(p_entry bigint, p_reason text, p_agent text, p_now timestamptz,
                           OUT status text, OUT entry_id bigint, OUT balance bigint)
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    o ledger%ROWTYPE;
    v_tz text;
BEGIN
    IF coalesce(btrim(p_reason), '') = '' OR coalesce(btrim(p_agent), '') = '' THEN
        status := 'usage';
        RETURN;
    END IF;
    SELECT * INTO o FROM ledger WHERE id = p_entry;
    IF NOT FOUND THEN
        status := 'not_found';
        RETURN;
    END IF;
    IF o.kind = 'refund' THEN
        status := 'is_refund';
        entry_id := o.refund_of;
        RETURN;
    END IF;
    -- The payer's row lock serialises refunds and every balance change.
    SELECT r.tz INTO v_tz
      FROM subscriber s JOIN region r ON r.code = s.region
     WHERE s.id = o.subscriber_id
       FOR UPDATE OF s;
    SELECT l.id INTO entry_id FROM ledger l WHERE l.refund_of = p_entry;
    IF FOUND THEN
        status := 'already';
        RETURN;
    END IF;
    IF o.amount = 0 THEN
        status := 'zero';
        RETURN;
    END IF;
    BEGIN
        INSERT INTO ledger (subscriber_id, msisdn, dialog_id, kind, amount, bill_date, created_at,
                            idem_key, refund_of, rule, detail)
        VALUES (o.subscriber_id, o.msisdn, o.dialog_id, 'refund', -o.amount,
                dlg_local_day(p_now, v_tz), p_now, 'refund:' || p_entry, p_entry, 'R16', p_reason)
        RETURNING id INTO entry_id;
    EXCEPTION WHEN unique_violation THEN
        SELECT l.id INTO entry_id FROM ledger l
         WHERE l.refund_of = p_entry OR l.idem_key = 'refund:' || p_entry
         ORDER BY l.id LIMIT 1;
        status := 'already';
        RETURN;
    END;
    UPDATE subscriber s SET balance = s.balance + o.amount
     WHERE s.id = o.subscriber_id
    RETURNING s.balance INTO balance;
    INSERT INTO audit (at, agent, action, detail)
    VALUES (p_now, p_agent, 'charge refund',
            jsonb_build_object('entry', p_entry, 'refund', entry_id, 'msisdn', o.msisdn,
                               'kind', o.kind, 'amount', o.amount,
                               'bill_date', o.bill_date, 'reason', p_reason,
                               'db_user', session_user));
    status := 'ok';
END;
$$;

-- ---------------------------------------------------------------------------
-- Privileges. Done in one block so that the schema's name is not assumed.

DO $$
DECLARE
    sch text := current_schema();
    f regprocedure;
    t text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO dialog_engine, dialog_support, dialog_billing', sch);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO dialog_engine, dialog_support, dialog_billing', sch);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO dialog_engine, dialog_billing', sch);
    EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO dialog_support', sch);
    -- tables of later migrations (created by the same owner) are readable too
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES '
                   'TO dialog_engine, dialog_support, dialog_billing', sch);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES '
                   'TO dialog_engine, dialog_billing', sch);

    -- dialogd: the SMS flow (dlg_command, dlg_expire_due), receipts, the
    -- outbox, rating (dlg_hold, dlg_record_relays) and the operator fee of an
    -- accepted operator invitation (0007's sup_create_charge via dlg_activate).
    FOREACH t IN ARRAY ARRAY['mo_inbound', 'outbox', 'sms_receipt', 'dialog', 'dialog_event',
                             'sms_usage', 'pair_usage'] LOOP
        EXECUTE format('GRANT INSERT, UPDATE ON %I.%I TO dialog_engine', sch, t);
    END LOOP;
    EXECUTE format('GRANT INSERT, DELETE ON %I.sms_hold TO dialog_engine', sch);
    EXECUTE format('GRANT INSERT ON %I.ledger TO dialog_engine', sch);
    EXECUTE format('GRANT UPDATE (balance, first_activated_at) ON %I.subscriber TO dialog_engine', sch);
    IF to_regclass(format('%I.operator_request', sch)) IS NOT NULL THEN
        EXECUTE format('GRANT UPDATE ON %I.operator_request TO dialog_engine', sch);
    END IF;

    -- batch jobs: insert and update anything (the ledger: insert only), no delete
    EXECUTE format('GRANT INSERT, UPDATE ON ALL TABLES IN SCHEMA %I TO dialog_billing', sch);
    EXECUTE format('REVOKE UPDATE ON %I.ledger FROM dialog_billing', sch);
    EXECUTE format('GRANT DELETE ON %I.sms_hold TO dialog_billing', sch);

    -- Functions: dlg_* for the engine and the batch jobs (EXECUTE is also
    -- PUBLIC's by default; these grants say who needs them). The functions
    -- through which support moves money run as their owner.
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = sch::regnamespace AND p.proname LIKE 'dlg\_%'
                AND p.proname <> 'dlg_refund' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dialog_engine, dialog_billing', f);
    END LOOP;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = sch::regnamespace
                AND (p.proname = 'dlg_refund' OR p.proname IN ('sup_create', 'sup_end')) LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %I, pg_temp', f, sch);
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO dialog_support, dialog_billing', f);
    END LOOP;
END;
$$;

-- ---------------------------------------------------------------------------
-- Support look-ups by number over every contract of that number (charges
-- list and its --all-contracts, explain; bench/support_lookup.sh): without
-- it they scan the whole subscriber table (~65 ms at 1,000,000 rows, ~0.1 ms
-- with it). subscriber_current_msisdn (0001) covers current rows only.
CREATE INDEX subscriber_msisdn ON subscriber (msisdn);
