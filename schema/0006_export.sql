-- 0006_export.sql — the ledger export to the operator's billing system (R18,
-- `dialogctl bill export`, docs/billing-export.md).
--
-- The ledger is append-only (R16), so whether an entry was handed over is
-- kept beside it: one export_batch row per export run that found new
-- entries, and one ledger_export row per entry naming the batch that carried
-- it. ledger_export.entry_id is the primary key: an entry belongs to at most
-- one batch, so no entry is ever handed over twice, even by two exports
-- running at once (they also serialise on an advisory lock). Both tables are
-- written once and never updated; a re-export reads them back.

CREATE TABLE export_batch (
    id           bigserial PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    agent        text NOT NULL CHECK (agent <> ''),
    file_name    text NOT NULL,            -- --out as given to the export
    entries      integer NOT NULL CHECK (entries > 0),
    amount_total bigint NOT NULL,          -- kopecks, refunds included (negative)
    first_entry  bigint NOT NULL REFERENCES ledger (id),
    last_entry   bigint NOT NULL REFERENCES ledger (id),
    CHECK (first_entry <= last_entry)
);

CREATE TABLE ledger_export (
    entry_id bigint PRIMARY KEY REFERENCES ledger (id),
    batch_id bigint NOT NULL REFERENCES export_batch (id)
);
CREATE INDEX ledger_export_batch ON ledger_export (batch_id, entry_id);

-- Privileges: the batch jobs (dialog_billing) insert and read, support
-- (dialog_support) reads. On a fresh database 0008 creates the roles later
-- and grants on every table then; on a database that already has them
-- (0006 merged after 0008 ran) the grants are made here.
DO $$
DECLARE
    sch text := current_schema();
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dialog_billing') THEN
        EXECUTE format('GRANT SELECT, INSERT ON %I.export_batch, %I.ledger_export TO dialog_billing',
                       sch, sch);
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I.export_batch_id_seq TO dialog_billing', sch);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dialog_support') THEN
        EXECUTE format('GRANT SELECT ON %I.export_batch, %I.ledger_export TO dialog_support', sch, sch);
    END IF;
END;
$$;
