/* The dialog lifecycle FSM (engine/fsm.h): the table's own consistency, the
 * transitions the rules require (R5, R6, R7, R14, R17, D2, D13), refusals
 * of everything else, and the generated artefacts (docs/fsm.md, the SQL of
 * dialog_transition and the hand-written rows of schema/0003_fsm_guard.sql). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "engine/config.h"
#include "engine/fsm.h"

#define SRC_ROOT TESTS_DIR "/.."

/* ---- helpers ---------------------------------------------------------------- */

static char *capture(void (*fn)(FILE *))
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	fn(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	assert_non_null(m);
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, got, m);
	fclose(f);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static const struct eng_fsm_transition *find(enum eng_dlg_state from, enum eng_dlg_event ev)
{
	for (int i = 0; i < eng_fsm_ntransitions; i++)
		if (eng_fsm_transitions[i].from == from && eng_fsm_transitions[i].event == ev)
			return &eng_fsm_transitions[i];
	return NULL;
}

static void expect_next(enum eng_dlg_state from, enum eng_dlg_event ev, enum eng_dlg_state want)
{
	enum eng_dlg_state to = ENG_DLG__NSTATES;
	assert_int_equal(eng_fsm_next(from, ev, &to), 0);
	assert_int_equal(to, want);
}

static void expect_refused(enum eng_dlg_state from, enum eng_dlg_event ev)
{
	enum eng_dlg_state to = ENG_DLG__NSTATES;
	assert_int_equal(eng_fsm_next(from, ev, &to), -EPERM);
	assert_int_equal(to, ENG_DLG__NSTATES); /* untouched on refusal */
}

/* ---- names ------------------------------------------------------------------- */

static void names_round_trip(void **state)
{
	static const char *const states[] = {"pending", "active", "suspended",
					     "ended", "declined", "expired"};
	static const char *const events[] = {"accept", "decline", "expire", "withdraw",
					     "end", "suspend", "resume"};
	assert_int_equal(sizeof states / sizeof states[0], ENG_DLG__NSTATES);
	assert_int_equal(sizeof events / sizeof events[0], ENG_EV__COUNT);
	for (int i = 0; i < ENG_DLG__NSTATES; i++) {
		assert_string_equal(eng_dlg_state_name((enum eng_dlg_state)i), states[i]);
		assert_string_equal(eng_fsm_states[i].name, states[i]);
		assert_int_equal(eng_dlg_state_parse(states[i]), i);
	}
	for (int i = 0; i < ENG_EV__COUNT; i++) {
		assert_string_equal(eng_dlg_event_name((enum eng_dlg_event)i), events[i]);
		assert_int_equal(eng_dlg_event_parse(events[i]), i);
	}
	assert_string_equal(eng_dlg_state_name(ENG_DLG__NSTATES), "unknown");
	assert_string_equal(eng_dlg_state_name((enum eng_dlg_state)-1), "unknown");
	assert_string_equal(eng_dlg_event_name(ENG_EV__COUNT), "unknown");
	assert_string_equal(eng_dlg_event_name((enum eng_dlg_event)99), "unknown");
	assert_int_equal(eng_dlg_state_parse(NULL), -1);
	assert_int_equal(eng_dlg_state_parse(""), -1);
	assert_int_equal(eng_dlg_state_parse("Active"), -1);
	assert_int_equal(eng_dlg_state_parse("activ"), -1);
	assert_int_equal(eng_dlg_state_parse("active "), -1);
	assert_int_equal(eng_dlg_state_parse("unknown"), -1);
	assert_int_equal(eng_dlg_event_parse(NULL), -1);
	assert_int_equal(eng_dlg_event_parse("ACCEPT"), -1);
	assert_int_equal(eng_dlg_event_parse("withdrawn"), -1);
}

/* ---- the table's consistency ------------------------------------------------ */

static void transitions_match_masks(void **state)
{
	assert_int_equal(eng_fsm_ntransitions, 8);
	uint32_t ev_seen[ENG_DLG__NSTATES] = {0}, to_seen[ENG_DLG__NSTATES] = {0};
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		assert_in_range(t->from, 0, ENG_DLG__NSTATES - 1);
		assert_in_range(t->to, 0, ENG_DLG__NSTATES - 1);
		assert_in_range(t->event, 0, ENG_EV__COUNT - 1);
		/* every transition is justified by its from-state's masks */
		assert_true(eng_fsm_states[t->from].in_event_mask & (1u << t->event));
		assert_true(eng_fsm_states[t->from].out_state_mask & (1u << t->to));
		/* deterministic: one next state per (state, event) */
		assert_ptr_equal(find(t->from, t->event), t);
		ev_seen[t->from] |= 1u << t->event;
		to_seen[t->from] |= 1u << t->to;
	}
	/* the masks hold nothing the transition list does not justify */
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		assert_int_equal(eng_fsm_states[s].in_event_mask, ev_seen[s]);
		assert_int_equal(eng_fsm_states[s].out_state_mask, to_seen[s]);
		assert_non_null(eng_fsm_states[s].doc);
	}
}

static void terminal_states_accept_nothing(void **state)
{
	int nterminal = 0;
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		const struct eng_fsm_state *st = &eng_fsm_states[s];
		if (st->terminal) {
			nterminal++;
			assert_int_equal(st->in_event_mask, 0);
			assert_int_equal(st->out_state_mask, 0);
			assert_null(st->timeout);
			for (int e = 0; e < ENG_EV__COUNT; e++)
				expect_refused((enum eng_dlg_state)s, (enum eng_dlg_event)e);
		} else {
			/* a non-terminal state must have a way out */
			assert_int_not_equal(st->in_event_mask, 0);
		}
	}
	assert_int_equal(nterminal, 3);
	assert_true(eng_fsm_states[ENG_DLG_ENDED].terminal);
	assert_true(eng_fsm_states[ENG_DLG_DECLINED].terminal);
	assert_true(eng_fsm_states[ENG_DLG_EXPIRED].terminal);
}

static void every_state_reachable_from_pending(void **state)
{
	uint32_t reached = 1u << ENG_DLG_PENDING;
	for (int changed = 1; changed;) {
		changed = 0;
		for (int i = 0; i < eng_fsm_ntransitions; i++) {
			const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
			if ((reached & (1u << t->from)) && !(reached & (1u << t->to))) {
				reached |= 1u << t->to;
				changed = 1;
			}
		}
	}
	assert_int_equal(reached, (1u << ENG_DLG__NSTATES) - 1);
	/* and every non-terminal state can reach a terminal one */
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		uint32_t r = 1u << s;
		for (int changed = 1; changed;) {
			changed = 0;
			for (int i = 0; i < eng_fsm_ntransitions; i++) {
				const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
				if ((r & (1u << t->from)) && !(r & (1u << t->to))) {
					r |= 1u << t->to;
					changed = 1;
				}
			}
		}
		assert_true(r & (1u << ENG_DLG_ENDED | 1u << ENG_DLG_DECLINED |
				 1u << ENG_DLG_EXPIRED));
	}
}

/* R5: only pending has a timeout, and it is a real [service] key. */
static void R5_pending_times_out_by_invite_ttl(void **state)
{
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		if (s == ENG_DLG_PENDING)
			assert_string_equal(eng_fsm_states[s].timeout, "invite_ttl_s");
		else
			assert_null(eng_fsm_states[s].timeout);
	}
	struct eng_config c;
	char err[256];
	assert_int_equal(eng_config_load_string(&c, "[service]\ninvite_ttl_s = 120\n", "t", err,
						sizeof err),
			 0);
	assert_int_equal(c.service.invite_ttl_s, 120);
	expect_next(ENG_DLG_PENDING, ENG_EV_EXPIRE, ENG_DLG_EXPIRED);
}

/* ---- the transitions the rules require -------------------------------------- */

static void R6_R7_D2_answers_to_an_invitation(void **state)
{
	expect_next(ENG_DLG_PENDING, ENG_EV_ACCEPT, ENG_DLG_ACTIVE);     /* R6, D1 */
	expect_next(ENG_DLG_PENDING, ENG_EV_DECLINE, ENG_DLG_DECLINED); /* R7 */
	expect_next(ENG_DLG_PENDING, ENG_EV_WITHDRAW, ENG_DLG_ENDED);   /* D2 */
	/* a pending invitation is not a dialog: it cannot be suspended,
	 * resumed or "ended" (the inviter withdraws it instead, D2) */
	expect_refused(ENG_DLG_PENDING, ENG_EV_SUSPEND);
	expect_refused(ENG_DLG_PENDING, ENG_EV_RESUME);
	expect_refused(ENG_DLG_PENDING, ENG_EV_END);
}

static void R14_R17_D13_active_and_suspended(void **state)
{
	expect_next(ENG_DLG_ACTIVE, ENG_EV_SUSPEND, ENG_DLG_SUSPENDED); /* R17, D13 */
	expect_next(ENG_DLG_SUSPENDED, ENG_EV_RESUME, ENG_DLG_ACTIVE);  /* D13 */
	expect_next(ENG_DLG_ACTIVE, ENG_EV_END, ENG_DLG_ENDED);         /* R14 */
	expect_next(ENG_DLG_SUSPENDED, ENG_EV_END, ENG_DLG_ENDED);      /* R14, D2 */
	/* an accepted dialog cannot be accepted, declined, expired or
	 * withdrawn again; an active one cannot be resumed, a suspended one
	 * not suspended again */
	for (int e = ENG_EV_ACCEPT; e <= ENG_EV_WITHDRAW; e++) {
		expect_refused(ENG_DLG_ACTIVE, (enum eng_dlg_event)e);
		expect_refused(ENG_DLG_SUSPENDED, (enum eng_dlg_event)e);
	}
	expect_refused(ENG_DLG_ACTIVE, ENG_EV_RESUME);
	expect_refused(ENG_DLG_SUSPENDED, ENG_EV_SUSPEND);
}

static void next_refuses_everything_outside_the_table(void **state)
{
	int allowed = 0;
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		for (int e = 0; e < ENG_EV__COUNT; e++) {
			const struct eng_fsm_transition *t =
				find((enum eng_dlg_state)s, (enum eng_dlg_event)e);
			if (t) {
				expect_next((enum eng_dlg_state)s, (enum eng_dlg_event)e, t->to);
				allowed++;
			} else {
				expect_refused((enum eng_dlg_state)s, (enum eng_dlg_event)e);
			}
		}
	}
	assert_int_equal(allowed, eng_fsm_ntransitions);
	/* out-of-range input is refused, not indexed */
	expect_refused(ENG_DLG__NSTATES, ENG_EV_ACCEPT);
	expect_refused((enum eng_dlg_state)-1, ENG_EV_ACCEPT);
	expect_refused(ENG_DLG_PENDING, ENG_EV__COUNT);
	expect_refused(ENG_DLG_PENDING, (enum eng_dlg_event)31);
	/* a NULL `to` is allowed: a pure check */
	assert_int_equal(eng_fsm_next(ENG_DLG_PENDING, ENG_EV_ACCEPT, NULL), 0);
	assert_int_equal(eng_fsm_next(ENG_DLG_ENDED, ENG_EV_ACCEPT, NULL), -EPERM);
}

/* ---- generated artefacts ------------------------------------------------------ */

static void doc_has_diagram_and_tables(void **state)
{
	char *doc = capture(eng_fsm_write_doc);
	char line[256];

	assert_non_null(strstr(doc, "dialogd --fsm-doc"));
	assert_non_null(strstr(doc, "engine/src/base/fsm.c"));
	const char *m = strstr(doc, "```mermaid\nstateDiagram-v2\n");
	assert_non_null(m);
	const char *mend = strstr(m + 10, "```\n");
	assert_non_null(mend);
	assert_non_null(strstr(m, "    [*] --> pending\n"));
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		snprintf(line, sizeof line, "    %s --> %s: %s\n", eng_dlg_state_name(t->from),
			 eng_dlg_state_name(t->to), eng_dlg_event_name(t->event));
		const char *p = strstr(m, line);
		assert_non_null(p);
		assert_true(p < mend);
		snprintf(line, sizeof line, "| `%s` | `%s` | `%s` | ", eng_dlg_state_name(t->from),
			 eng_dlg_event_name(t->event), eng_dlg_state_name(t->to));
		assert_non_null(strstr(mend, line));
	}
	/* terminal states and only those lead to [*] */
	for (int s = 0; s < ENG_DLG__NSTATES; s++) {
		snprintf(line, sizeof line, "    %s --> [*]\n", eng_fsm_states[s].name);
		assert_int_equal(strstr(m, line) != NULL, eng_fsm_states[s].terminal);
	}
	assert_int_equal(count_occurrences(m, " --> ") - 1 - 3, eng_fsm_ntransitions);
	/* the states table */
	assert_non_null(strstr(doc, "| state | accepts events | may go to | timeout | meaning |"));
	assert_non_null(strstr(doc, "| `pending` | `accept`, `decline`, `expire`, `withdraw` | "
				    "`active`, `ended`, `declined`, `expired` | "
				    "`[service] invite_ttl_s` | "));
	assert_non_null(strstr(doc, "| `suspended` | `end`, `resume` | `active`, `ended` | — | "));
	assert_non_null(strstr(doc, "| `expired` (terminal) | — | — | — | "));
	assert_non_null(strstr(doc, "| from | event | to | caused by |"));
	free(doc);
}

/* docs/fsm.md is exactly what the table generates (regenerate it with
 * `dialogd --fsm-doc > docs/fsm.md` after changing the table). */
static void doc_in_repo_is_current(void **state)
{
	char *doc = capture(eng_fsm_write_doc);
	char *file = slurp(SRC_ROOT "/docs/fsm.md");
	assert_string_equal(file, doc);
	free(file);
	free(doc);
}

static void sql_lists_every_transition(void **state)
{
	char *sql = capture(eng_fsm_write_sql);
	char row[128];

	assert_true(strncmp(sql, "DELETE FROM dialog_transition;\n", 31) == 0);
	assert_non_null(strstr(sql, "INSERT INTO dialog_transition (from_state, event, to_state) "
				    "VALUES\n"));
	assert_int_equal(count_occurrences(sql, "('"), eng_fsm_ntransitions);
	for (int i = 0; i < eng_fsm_ntransitions; i++) {
		const struct eng_fsm_transition *t = &eng_fsm_transitions[i];
		snprintf(row, sizeof row, "('%s', '%s', '%s')", eng_dlg_state_name(t->from),
			 eng_dlg_event_name(t->event), eng_dlg_state_name(t->to));
		assert_non_null(strstr(sql, row));
	}
	/* one statement terminator after the DELETE, one at the very end */
	assert_int_equal(count_occurrences(sql, ";"), 2);
	size_t n = strlen(sql);
	assert_true(n > 2 && sql[n - 2] == ';' && sql[n - 1] == '\n');
	free(sql);
}

/* The rows schema/0003_fsm_guard.sql inserts by hand are the C table's. */
static void migration_rows_match_table(void **state)
{
	char *mig = slurp(SRC_ROOT "/schema/0003_fsm_guard.sql");
	char *sql = capture(eng_fsm_write_sql);
	const char *ins = strstr(sql, "INSERT INTO");
	assert_non_null(ins);
	/* the INSERT statement is identical, byte for byte */
	assert_non_null(strstr(mig, ins));
	assert_int_equal(count_occurrences(mig, "    ('"), eng_fsm_ntransitions);
	assert_non_null(strstr(mig, "BEFORE UPDATE OF state ON dialog"));
	free(sql);
	free(mig);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(transitions_match_masks),
		cmocka_unit_test(terminal_states_accept_nothing),
		cmocka_unit_test(every_state_reachable_from_pending),
		cmocka_unit_test(R5_pending_times_out_by_invite_ttl),
		cmocka_unit_test(R6_R7_D2_answers_to_an_invitation),
		cmocka_unit_test(R14_R17_D13_active_and_suspended),
		cmocka_unit_test(next_refuses_everything_outside_the_table),
		cmocka_unit_test(doc_has_diagram_and_tables),
		cmocka_unit_test(doc_in_repo_is_current),
		cmocka_unit_test(sql_lists_every_transition),
		cmocka_unit_test(migration_rows_match_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
