-- 0003_fsm_guard.sql — the database enforces the dialog lifecycle FSM.
--
-- dialog_transition holds the (from_state, event, to_state) rows of the C
-- table in engine/src/base/fsm.c, which stays the single source: after every
-- migration run, `dialogctl db init` (bill_schema_upgrade) replaces the rows
-- with the output of eng_fsm_write_sql(). The rows below are the same table,
-- written once by hand (tests/unit/test_fsm.c checks they match).
--
-- A trigger refuses any UPDATE of dialog.state from OLD.state to NEW.state
-- that no row allows, whoever writes (dialogd, dialogctl, psql). While
-- dialog_transition is empty (a schema not yet synced) nothing is refused.

CREATE TABLE dialog_transition (
    from_state text NOT NULL,
    event      text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, to_state, event)
);

INSERT INTO dialog_transition (from_state, event, to_state) VALUES
    ('pending', 'accept', 'active'),
    ('pending', 'decline', 'declined'),
    ('pending', 'expire', 'expired'),
    ('pending', 'withdraw', 'ended'),
    ('active', 'suspend', 'suspended'),
    ('active', 'end', 'ended'),
    ('suspended', 'resume', 'active'),
    ('suspended', 'end', 'ended');

CREATE FUNCTION dialog_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state IS DISTINCT FROM NEW.state
       AND EXISTS (SELECT 1 FROM dialog_transition)
       AND NOT EXISTS (SELECT 1 FROM dialog_transition
                       WHERE from_state = OLD.state AND to_state = NEW.state) THEN
        RAISE EXCEPTION 'dialog %: illegal state change % -> %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'P0001',
                  HINT = 'the allowed changes are the rows of dialog_transition (docs/fsm.md)';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER dialog_state_guard BEFORE UPDATE OF state ON dialog
    FOR EACH ROW EXECUTE FUNCTION dialog_state_guard();
