-- 0009_ledger_speed.sql — cheaper writes for the two hottest money paths
-- (daily billing: 2M fee entries and balance updates per run at 1M dialogs;
-- relayed SMS charges).
--
-- * refund_of: the UNIQUE constraint indexed every entry (NULLs included);
--   a partial unique index holds only refunds and keeps "never twice".
-- * ledger_msisdn_day: no query uses it (look-ups go by subscriber_id).
-- * subscriber fillfactor 80: room on each page for HOT updates, so that a
--   balance update does not touch the subscriber indexes (new pages only;
--   a VACUUM FULL applies it to an existing table).
ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_refund_of_key;
CREATE UNIQUE INDEX IF NOT EXISTS ledger_refund_once ON ledger (refund_of)
    WHERE refund_of IS NOT NULL;
DROP INDEX IF EXISTS ledger_msisdn_day;
ALTER TABLE subscriber SET (fillfactor = 80);
