-- 0001_init.sql — the first schema of the SMS dialog engine.
--
-- Applied by `dialogctl db init` (bill_schema_upgrade) inside one transaction
-- that holds the schema advisory lock; the version is recorded in
-- schema_version. Forward-only: later changes are new files 0002_*.sql, ...
--
-- Conventions: instants are timestamptz (stored UTC); billing days are `date`
-- values derived from the region's IANA time zone; money is bigint kopecks
-- (1 RUB = 100); numbers (MSISDNs) are canonical 11 digits 7XXXXXXXXXX (R2).

-- Regions: the time zone that defines a billing day, and the region's fees.
-- `tz` must be an IANA zone name; dialogctl checks it against
-- pg_timezone_names (a CHECK cannot, as the zone list is not immutable).
CREATE TABLE region (
    code         text PRIMARY KEY CHECK (code ~ '^[^[:space:][:cntrl:]]{1,64}$'),
    tz           text NOT NULL DEFAULT 'Europe/Moscow' CHECK (tz <> ''),
    daily_fee    bigint NOT NULL DEFAULT 300 CHECK (daily_fee >= 0),      -- R13
    operator_fee bigint NOT NULL DEFAULT 4500 CHECK (operator_fee >= 0),  -- R15
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Tariff plans: the on-net SMS price of a plan (R10, R11).
CREATE TABLE tariff (
    code       text PRIMARY KEY CHECK (code ~ '^[^[:space:][:cntrl:]]{1,64}$'),
    sms_price  bigint NOT NULL CHECK (sms_price >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Subscribers (R1). One row per (number, contract): re-provisioning a number
-- to a new contract retires the old row (retired_at) and creates a new one,
-- whose history (trial, dialogs, charges) starts afresh (R13a). At most one
-- current row per number. Prepaid balances never go below -credit_limit
-- (R17, D13); postpaid balances are unbounded.
CREATE TABLE subscriber (
    id           bigserial PRIMARY KEY,
    msisdn       text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    contract     text NOT NULL CHECK (contract <> ''),
    region       text NOT NULL REFERENCES region (code),
    tariff       text NOT NULL REFERENCES tariff (code),
    account_type text NOT NULL CHECK (account_type IN ('prepaid', 'postpaid')),
    balance      bigint NOT NULL DEFAULT 0,
    credit_limit bigint NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    CONSTRAINT subscriber_prepaid_floor
        CHECK (account_type = 'postpaid' OR balance >= -credit_limit)
);
-- (Retired rows are found through the dialogs and ledger entries that point
-- at them; no further index keeps bulk imports fast.)
CREATE UNIQUE INDEX subscriber_current_msisdn ON subscriber (msisdn) WHERE retired_at IS NULL;

-- Dialogs (R4-R7, R14): the lifecycle pending -> active <-> suspended -> ended,
-- pending -> declined | expired | ended (withdrawn, D2). Participants are
-- subscriber rows (a contract), with their numbers copied for look-ups.
-- `channel` is how the dialog was created: 'sms', 'selfcare' or 'operator'.
CREATE TABLE dialog (
    id           bigserial PRIMARY KEY,
    inviter_id   bigint NOT NULL REFERENCES subscriber (id),
    invitee_id   bigint NOT NULL REFERENCES subscriber (id),
    inviter      text NOT NULL CHECK (inviter ~ '^7[0-9]{10}$'),
    invitee      text NOT NULL CHECK (invitee ~ '^7[0-9]{10}$'),
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'active', 'suspended', 'ended', 'declined', 'expired')),
    channel      text NOT NULL DEFAULT 'sms',
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    ended_at     timestamptz,
    expires_at   timestamptz,
    ended_reason text,
    CONSTRAINT dialog_two_parties CHECK (inviter_id <> invitee_id AND inviter <> invitee),
    CONSTRAINT dialog_activated CHECK (state NOT IN ('active', 'suspended') OR activated_at IS NOT NULL),
    CONSTRAINT dialog_open_not_ended CHECK (state NOT IN ('pending', 'active', 'suspended') OR ended_at IS NULL)
);
-- At most one open dialog or invitation per unordered pair (R4, D1).
CREATE UNIQUE INDEX dialog_open_pair ON dialog
    (least(inviter_id, invitee_id), greatest(inviter_id, invitee_id))
    WHERE state IN ('pending', 'active', 'suspended');
CREATE INDEX dialog_inviter ON dialog (inviter_id, state);
CREATE INDEX dialog_invitee ON dialog (invitee_id, state);
CREATE INDEX dialog_inviter_msisdn ON dialog (inviter, created_at);
CREATE INDEX dialog_invitee_msisdn ON dialog (invitee, created_at);
CREATE INDEX dialog_pending_expiry ON dialog (expires_at) WHERE state = 'pending';
CREATE INDEX dialog_open_state ON dialog (state) WHERE state IN ('active', 'suspended');

-- Everything that happened to a dialog, in order (dialogctl dialog show).
-- `type`: 'invited', 'accepted', 'declined', 'expired', 'ended', 'withdrawn',
-- 'suspended', 'resumed', ...; `actor`: a number or an operator agent.
CREATE TABLE dialog_event (
    id        bigserial PRIMARY KEY,
    dialog_id bigint NOT NULL REFERENCES dialog (id),
    at        timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL,
    actor     text,
    channel   text,
    detail    text
);
CREATE INDEX dialog_event_dialog ON dialog_event (dialog_id, at, id);

-- The ledger (R16): every charge, append-only. `amount` is what the payer is
-- charged, in kopecks: >= 0 for charges; a refund is a negative amount that
-- references the entry it reverses (at most one refund per entry).
-- `idem_key` makes every charge happen at most once (e.g.
-- 'daily_fee:<dialog>:<subscriber>:<date>'); inserting a key again fails with
-- 23505, which callers read as "already done". `rule` names the rule (R13...).
CREATE TABLE ledger (
    id            bigserial PRIMARY KEY,
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    msisdn        text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    dialog_id     bigint REFERENCES dialog (id),
    kind          text NOT NULL
                  CHECK (kind IN ('daily_fee', 'sms_over_allowance', 'sms_standard', 'operator_fee', 'refund')),
    amount        bigint NOT NULL,
    bill_date     date NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    idem_key      text NOT NULL UNIQUE CHECK (idem_key <> ''),
    refund_of     bigint UNIQUE REFERENCES ledger (id),
    rule          text,
    detail        text,
    CONSTRAINT ledger_refund_link CHECK ((kind = 'refund') = (refund_of IS NOT NULL)),
    CONSTRAINT ledger_sign CHECK (CASE WHEN kind = 'refund' THEN amount <= 0 ELSE amount >= 0 END)
);
CREATE INDEX ledger_subscriber_day ON ledger (subscriber_id, bill_date);
CREATE INDEX ledger_msisdn_day ON ledger (msisdn, bill_date);
CREATE INDEX ledger_dialog ON ledger (dialog_id) WHERE dialog_id IS NOT NULL;

-- Nothing in the ledger is ever updated or deleted (R16): corrections are
-- new entries. These triggers hold for every role, superusers included.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only (R16): % refused', TG_OP
        USING HINT = 'corrections are new entries: a refund references the entry it reverses';
END;
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Top-ups of prepaid balances, idempotent by the caller's reference
-- (dialogctl account credit ... --ref REF).
CREATE TABLE account_credit (
    ref           text PRIMARY KEY CHECK (ref <> ''),
    subscriber_id bigint NOT NULL REFERENCES subscriber (id),
    amount        bigint NOT NULL CHECK (amount > 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_credit_subscriber ON account_credit (subscriber_id);

-- Every deliver_sm dialogd received, recorded before it is acknowledged.
-- `session`/`seq`: the SMPP bind and sequence number it came on.
CREATE TABLE mo_inbound (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    session     integer,
    seq         bigint,
    src         text NOT NULL,
    dst         text NOT NULL,
    data_coding smallint,
    esm_class   smallint,
    payload     bytea,
    text        text,
    kind        text CHECK (kind IN ('command', 'p2p', 'receipt', 'unroutable')),
    command     text
);
CREATE INDEX mo_inbound_received ON mo_inbound (received_at);
CREATE INDEX mo_inbound_src ON mo_inbound (src, received_at);

-- SMS the engine sends (replies, notices, relayed P2P), queued in the same
-- transaction as the change that causes them and sent by dialogd.
-- `msg` is the catalog id of the text ('help', 'invite', ...), NULL for relays.
CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    src              text NOT NULL,
    dst              text NOT NULL,
    msg              text,
    text             text,
    cause_inbound_id bigint REFERENCES mo_inbound (id),
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'submitted', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    parts            integer CHECK (parts IS NULL OR parts > 0),
    message_ids      text[],
    submitted_at     timestamptz,
    last_error       text
);
CREATE INDEX outbox_queued ON outbox (id) WHERE state = 'queued';
CREATE INDEX outbox_dst ON outbox (dst, created_at);
CREATE INDEX outbox_cause ON outbox (cause_inbound_id) WHERE cause_inbound_id IS NOT NULL;

-- Delivery receipts for messages the engine sent (matched by SMSC message id).
-- `state`: the SMPP message_state (2 delivered, 5 undeliverable, ...).
CREATE TABLE sms_receipt (
    id          bigserial PRIMARY KEY,
    message_id  text NOT NULL,
    state       smallint,
    received_at timestamptz NOT NULL DEFAULT now(),
    raw         text
);
CREATE INDEX sms_receipt_message ON sms_receipt (message_id);

-- Who did what through dialogctl (support and provisioning actions, R15).
CREATE TABLE audit (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    agent  text NOT NULL,
    action text NOT NULL,
    detail jsonb
);
CREATE INDEX audit_at ON audit (at);
