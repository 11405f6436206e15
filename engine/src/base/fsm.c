/* engine/src/base/fsm.c — the dialog lifecycle table (see engine/fsm.h).
 *
 * The table below is the single source: eng_fsm_next() applies it, the
 * database's dialog_transition rows are written from it (eng_fsm_write_sql,
 * synced by bill_schema_upgrade), and docs/fsm.md is generated from it
 * (eng_fsm_write_doc, `dialogd --fsm-doc`). tests/unit/test_fsm.c checks that
 * the state masks and the transition list agree.
 */
#include "engine/fsm.h"

#include <errno.h>
#include <string.h>

#define EV(e) (1u << (e))
#define ST(s) (1u << (s))

const struct eng_fsm_state eng_fsm_states[ENG_DLG__NSTATES] = {
	[ENG_DLG_PENDING] = {
		.name = "pending",
		.in_event_mask = EV(ENG_EV_ACCEPT) | EV(ENG_EV_DECLINE) | EV(ENG_EV_EXPIRE) |
				 EV(ENG_EV_WITHDRAW),
		.out_state_mask = ST(ENG_DLG_ACTIVE) | ST(ENG_DLG_DECLINED) | ST(ENG_DLG_EXPIRED) |
				  ST(ENG_DLG_ENDED),
		.timeout = "invite_ttl_s",
		.doc = "invitation sent, waiting for the invitee's answer (R5)",
	},
	[ENG_DLG_ACTIVE] = {
		.name = "active",
		.in_event_mask = EV(ENG_EV_SUSPEND) | EV(ENG_EV_END),
		.out_state_mask = ST(ENG_DLG_SUSPENDED) | ST(ENG_DLG_ENDED),
		.doc = "accepted: shared daily allowance and daily fees apply (R6, R9, R13)",
	},
	[ENG_DLG_SUSPENDED] = {
		.name = "suspended",
		.in_event_mask = EV(ENG_EV_RESUME) | EV(ENG_EV_END),
		.out_state_mask = ST(ENG_DLG_ACTIVE) | ST(ENG_DLG_ENDED),
		.doc = "a daily fee could not be paid: no fees, no allowance, retried daily (R17, D13)",
	},
	[ENG_DLG_ENDED] = {
		.name = "ended",
		.terminal = 1,
		.doc = "ended by a participant, the operator or a block, or withdrawn (R14, R15, R1, D2)",
	},
	[ENG_DLG_DECLINED] = {
		.name = "declined",
		.terminal = 1,
		.doc = "the invitee answered 2; nothing charged (R7)",
	},
	[ENG_DLG_EXPIRED] = {
		.name = "expired",
		.terminal = 1,
		.doc = "not answered within invite_ttl_s (R5)",
	},
};

const struct eng_fsm_transition eng_fsm_transitions[] = {
	{ENG_DLG_PENDING, ENG_EV_ACCEPT, ENG_DLG_ACTIVE},
	{ENG_DLG_PENDING, ENG_EV_DECLINE, ENG_DLG_DECLINED},
	{ENG_DLG_PENDING, ENG_EV_EXPIRE, ENG_DLG_EXPIRED},
	{ENG_DLG_PENDING, ENG_EV_WITHDRAW, ENG_DLG_ENDED},
	{ENG_DLG_ACTIVE, ENG_EV_SUSPEND, ENG_DLG_SUSPENDED},
	{ENG_DLG_ACTIVE, ENG_EV_END, ENG_DLG_ENDED},
	{ENG_DLG_SUSPENDED, ENG_EV_RESUME, ENG_DLG_ACTIVE},
	{ENG_DLG_SUSPENDED, ENG_EV_END, ENG_DLG_ENDED},
};

const int eng_fsm_ntransitions = (int)(sizeof(eng_fsm_transitions) / sizeof(eng_fsm_transitions[0]));

static const char *const event_names[ENG_EV__COUNT] = {
	[ENG_EV_ACCEPT] = "accept",
	[ENG_EV_DECLINE] = "decline",
	[ENG_EV_EXPIRE] = "expire",
	[ENG_EV_WITHDRAW] = "withdraw",
	[ENG_EV_END] = "end",
	[ENG_EV_SUSPEND] = "suspend",
	[ENG_EV_RESUME] = "resume",
};

/* What causes each event, for the transition table of docs/fsm.md. */
static const char *const event_docs[ENG_EV__COUNT] = {
	[ENG_EV_ACCEPT] = "the invitee answers 1, or invites the inviter back (R6, D1)",
	[ENG_EV_DECLINE] = "the invitee answers 2 (R7)",
	[ENG_EV_EXPIRE] = "invite_ttl_s ran out (R5)",
	[ENG_EV_WITHDRAW] = "the inviter's STOP or `dialogctl dialog end` (D2)",
	[ENG_EV_END] = "STOP, self-service, operator, or a block (R14, R15, R1)",
	[ENG_EV_SUSPEND] = "a daily fee could not be paid (R17, D13)",
	[ENG_EV_RESUME] = "every participant paid the day's fee again (D13)",
};

const char *eng_dlg_state_name(enum eng_dlg_state s)
{
	if ((unsigned)s >= ENG_DLG__NSTATES)
		return "unknown";
	return eng_fsm_states[s].name;
}

const char *eng_dlg_event_name(enum eng_dlg_event e)
{
	if ((unsigned)e >= ENG_EV__COUNT)
		return "unknown";
	return event_names[e];
}

int eng_dlg_state_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < ENG_DLG__NSTATES; i++)
		if (strcmp(s, eng_fsm_states[i].name) == 0)
			return i;
	return -1;
}

int eng_dlg_event_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < ENG_EV__COUNT; i++)
		if (strcmp(s, event_names[i]) == 0)
			return i;
	return -1;
}

int eng_fsm_next(enum eng_dlg_state from, enum eng_dlg_event event, enum eng_dlg_state *to)
{
	if ((unsigned)from >= ENG_DLG__NSTATES || (unsigned)event >= ENG_EV__COUNT)
		return -EPERM;
	if (!(eng_fsm_states[from].in_event_mask & EV(event)))
		return -EPERM;
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		if (t->from == from && t->event == event) {
			if (to)
				*to = t->to;
			return 0;
		}
	}
	return -EPERM;
}

/* "a, b, c" of the names whose bit is set in `mask`, or "—". */
static void write_names(FILE *out, uint32_t mask, int events)
{
	int n = events ? ENG_EV__COUNT : ENG_DLG__NSTATES;
	int first = 1;

	for (int i = 0; i < n; i++) {
		if (!(mask & (1u << i)))
			continue;
		fprintf(out, "%s`%s`", first ? "" : ", ",
			events ? eng_dlg_event_name((enum eng_dlg_event)i)
			       : eng_dlg_state_name((enum eng_dlg_state)i));
		first = 0;
	}
	if (first)
		fputs("—", out);
}

void eng_fsm_write_doc(FILE *out)
{
	fputs("# Dialog lifecycle\n"
	      "\n"
	      "This file is generated by `dialogd --fsm-doc` from the state table in\n"
	      "`engine/src/base/fsm.c`. The same table drives the engine's transition\n"
	      "check (`eng_fsm_next`, which refuses and logs any event a state does not\n"
	      "accept) and the rows of the database table `dialog_transition`, which\n"
	      "`dialogctl db init` re-syncs from it: a trigger on `dialog` refuses any\n"
	      "`UPDATE` of `dialog.state` that is not listed there, whoever writes it.\n"
	      "Do not edit this file by hand: change the table and regenerate it with\n"
	      "`dialogd --fsm-doc > docs/fsm.md`.\n"
	      "\n"
	      "```mermaid\n"
	      "stateDiagram-v2\n",
	      out);
	fprintf(out, "    [*] --> %s\n", eng_dlg_state_name(ENG_DLG_PENDING));
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		fprintf(out, "    %s --> %s: %s\n", eng_dlg_state_name(t->from),
			eng_dlg_state_name(t->to), eng_dlg_event_name(t->event));
	}
	for (int s = 0; s < ENG_DLG__NSTATES; s++)
		if (eng_fsm_states[s].terminal)
			fprintf(out, "    %s --> [*]\n", eng_fsm_states[s].name);
	fputs("```\n"
	      "\n"
	      "## States\n"
	      "\n"
	      "| state | accepts events | may go to | timeout | meaning |\n"
	      "|---|---|---|---|---|\n",
	      out);
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		const struct eng_fsm_state *st = &eng_fsm_states[s];
		fprintf(out, "| `%s`%s | ", st->name, st->terminal ? " (terminal)" : "");
		write_names(out, st->in_event_mask, 1);
		fputs(" | ", out);
		write_names(out, st->out_state_mask, 0);
		if (st->timeout)
			fprintf(out, " | `[service] %s` | %s |\n", st->timeout, st->doc);
		else
			fprintf(out, " | — | %s |\n", st->doc);
	}
	fputs("\n"
	      "## Transitions\n"
	      "\n"
	      "Any (state, event) pair not listed here is refused.\n"
	      "\n"
	      "| from | event | to | caused by |\n"
	      "|---|---|---|---|\n",
	      out);
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		fprintf(out, "| `%s` | `%s` | `%s` | %s |\n", eng_dlg_state_name(t->from),
			eng_dlg_event_name(t->event), eng_dlg_state_name(t->to),
			event_docs[t->event]);
	}
}

void eng_fsm_write_sql(FILE *out)
{
	fputs("DELETE FROM dialog_transition;\n"
	      "INSERT INTO dialog_transition (from_state, event, to_state) VALUES\n",
	      out);
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		fprintf(out, "    ('%s', '%s', '%s')%s\n", eng_dlg_state_name(t->from),
			eng_dlg_event_name(t->event), eng_dlg_state_name(t->to),
			i + 1 < eng_fsm_ntransitions ? "," : ";");
	}
}
