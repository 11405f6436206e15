/* engine/fsm.h — the dialog lifecycle as an explicit state machine.
 *
 * One const table, Osmocom style: for each state its name, the events it
 * accepts, the states it may go to, and its named timeout (a key of
 * [service]); for each (state, event) the next state. Everything else is
 * derived from it: the transition check the engine applies, the rows of the
 * database's dialog_transition table (a trigger refuses any UPDATE of
 * dialog.state that the table does not allow, whoever writes), and the
 * diagram in docs/fsm.md.
 *
 *   pending --accept--> active --suspend--> suspended --resume--> active
 *   pending --decline--> declined      pending --expire--> expired
 *   pending --withdraw--> ended        active|suspended --end--> ended
 */
#ifndef ENGINE_FSM_H
#define ENGINE_FSM_H

#include <stdint.h>
#include <stdio.h>

enum eng_dlg_state {
	ENG_DLG_PENDING = 0,
	ENG_DLG_ACTIVE,
	ENG_DLG_SUSPENDED,
	ENG_DLG_ENDED,
	ENG_DLG_DECLINED,
	ENG_DLG_EXPIRED,
	ENG_DLG__NSTATES
};

enum eng_dlg_event {
	ENG_EV_ACCEPT = 0, /* R6 (also D1 crossing invitation) */
	ENG_EV_DECLINE,    /* R7 */
	ENG_EV_EXPIRE,     /* R5: invite_ttl_s ran out */
	ENG_EV_WITHDRAW,   /* D2: the inviter's STOP */
	ENG_EV_END,        /* R14, R15, block (R1) */
	ENG_EV_SUSPEND,    /* R17, D13: a daily fee could not be paid */
	ENG_EV_RESUME,     /* D13: paid again */
	ENG_EV__COUNT
};

struct eng_fsm_state {
	const char *name;        /* as stored in dialog.state */
	uint32_t in_event_mask;  /* events accepted in this state (1u << ev) */
	uint32_t out_state_mask; /* states it may go to (1u << state) */
	const char *timeout;     /* config key of its timeout, or NULL */
	int terminal;
	const char *doc;
};

struct eng_fsm_transition {
	enum eng_dlg_state from;
	enum eng_dlg_event event;
	enum eng_dlg_state to;
};

extern const struct eng_fsm_state eng_fsm_states[ENG_DLG__NSTATES];
extern const struct eng_fsm_transition eng_fsm_transitions[];
extern const int eng_fsm_ntransitions;

/* Name tables ("pending", "accept", ...); "unknown" out of range. */
const char *eng_dlg_state_name(enum eng_dlg_state s);
const char *eng_dlg_event_name(enum eng_dlg_event e);
/* Parse names; -1 when unknown. */
int eng_dlg_state_parse(const char *s);
int eng_dlg_event_parse(const char *s);

/* The state `event` leads to from `from`: 0 and *to set, or -EPERM when the
 * table does not allow it (the caller logs and refuses). */
int eng_fsm_next(enum eng_dlg_state from, enum eng_dlg_event event, enum eng_dlg_state *to);

/* docs/fsm.md: a Mermaid stateDiagram and the tables, generated. */
void eng_fsm_write_doc(FILE *out);

/* SQL that (re)fills dialog_transition(from_state, event, to_state) from the
 * table, for `dialogctl db init`. */
void eng_fsm_write_sql(FILE *out);

#endif
