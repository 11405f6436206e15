-- 0012_parallel_record.sql — recording relays fast on several connections:
-- byte-order comparison for the key columns (the lock order of concurrent
-- recordings is in 0011's dlg_record_relays).
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

