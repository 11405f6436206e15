/* smsc_sim/script.c — `--script FILE`: run the steps one after another.
 *
 * A step either completes at once or waits for a condition; every event of
 * the server (bind, close, response, MT) re-evaluates the waiting step, and
 * a one-shot timer ends the wait. The first failed expectation prints
 * "FAILED line N: ..." and stops with exit code 1; the end of the script
 * prints "PASSED" and exits 0.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum res { R_DONE, R_WAIT, R_FAIL };

struct runner {
	struct sim_script sc;
	size_t pc;
	bool started;        /* the current step's action has run */
	bool timed_out;
	bool timer_armed;
	bool in_run;
	bool kicked;
	bool finished;
	uv_timer_t timer;
	int32_t last_mo;     /* most recent mo / mo-hex / raw deliver_sm */
	struct sim_mt *last_matched;
	int64_t enquire_seq;
	unsigned long nack_consumed;
	unsigned long closes_consumed;
	char why[2048];      /* failure text */
};

static int64_t step_ms(const struct sim *s, const struct sim_step *st, int64_t dflt)
{
	return st->ms >= 0 ? st->ms : dflt;
}

static void fail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct runner *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static bool number_match(const char *want, const char *got)
{
	char a[32], b[32];
	sim_canon_number(want, a, sizeof(a));
	sim_canon_number(got, b, sizeof(b));
	return strcmp(a, b) == 0;
}

/* Describe what is unconsumed in the MT queue (optionally only to `to`). */
static void describe_queue(struct sim *s, const char *to, char *buf, size_t bufsz)
{
	size_t k = 0;
	unsigned n = 0;
	buf[0] = 0;
	for (struct sim_mt *m = s->mt_head; m && k + 1 < bufsz; m = m->next) {
		if (to && !number_match(to, m->to))
			continue;
		char line[1024];
		sim_mt_format(m, line, sizeof(line));
		int w = snprintf(buf + k, bufsz - k, "%s%s", n ? "; " : "", line);
		if (w < 0)
			break;
		k += (size_t)w;
		n++;
	}
	if (k >= bufsz)
		k = bufsz - 1;
	if (!n)
		snprintf(buf, bufsz, "nothing");
	(void)k;
}

static enum res check_mo_resp(struct sim *s, struct runner *r, const struct sim_step *st,
			      bool timed_out)
{
	if (r->last_mo < 0 || (size_t)r->last_mo >= s->mos_n) {
		fail(r, "no MO was sent before this expectation");
		return R_FAIL;
	}
	struct sim_mo *m = &s->mos[r->last_mo];
	if (m->nparts > 0 && m->answered >= m->nparts) {
		m->checked = true;
		if (m->status != (uint32_t)st->status) {
			fail(r, "expected deliver_sm_resp %s (0x%02lx) for MO #%d, received %s%s (0x%02x)",
			     smpp_status_name((uint32_t)st->status), st->status, r->last_mo + 1,
			     m->nack ? "generic_nack " : "", smpp_status_name(m->status), m->status);
			return R_FAIL;
		}
		sim_out("ok: MO #%d answered %s", r->last_mo + 1, smpp_status_name(m->status));
		return R_DONE;
	}
	if (timed_out) {
		fail(r, "expected deliver_sm_resp %s for MO #%d within %lld ms, received %u of %u",
		     smpp_status_name((uint32_t)st->status), r->last_mo + 1,
		     (long long)step_ms(s, st, s->opt.timeout_ms), m->answered, m->nparts);
		return R_FAIL;
	}
	return R_WAIT;
}

static enum res check_all_resps(struct sim *s, struct runner *r, const struct sim_step *st,
				bool timed_out)
{
	unsigned waiting = 0, n = 0;
	for (size_t i = 0; i < s->mos_n; i++) {
		struct sim_mo *m = &s->mos[i];
		if (m->checked || m->nparts == 0)
			continue;
		if (m->answered < m->nparts) {
			waiting++;
			continue;
		}
		if (m->status != (uint32_t)st->status) {
			fail(r, "expected every deliver_sm_resp %s, MO #%zu received %s (0x%02x)",
			     smpp_status_name((uint32_t)st->status), i + 1,
			     smpp_status_name(m->status), m->status);
			return R_FAIL;
		}
		n++;
	}
	if (waiting) {
		if (timed_out) {
			fail(r, "%u MO still without deliver_sm_resp after %lld ms", waiting,
			     (long long)step_ms(s, st, s->opt.timeout_ms));
			return R_FAIL;
		}
		return R_WAIT;
	}
	for (size_t i = 0; i < s->mos_n; i++)
		s->mos[i].checked = true;
	sim_out("ok: %u MO answered %s", n, smpp_status_name((uint32_t)st->status));
	return R_DONE;
}

static enum res check_mt(struct sim *s, struct runner *r, const struct sim_step *st,
			 bool timed_out)
{
	struct sim_mt **pp;
	for (pp = &s->mt_head; *pp; pp = &(*pp)->next) {
		struct sim_mt *m = *pp;
		if (!number_match(st->to, m->to))
			continue;
		if (regexec(&st->re, m->text, 0, NULL, 0) != 0)
			continue;
		*pp = m->next;
		if (s->mt_tail == m) {
			/* find the new tail */
			struct sim_mt *t = s->mt_head;
			while (t && t->next)
				t = t->next;
			s->mt_tail = t;
		}
		m->next = NULL;
		sim_mt_free(r->last_matched);
		r->last_matched = m;
		char line[8192];
		sim_mt_format(m, line, sizeof(line));
		sim_out("ok: matched %s", line);
		return R_DONE;
	}
	if (timed_out) {
		char q[4096];
		describe_queue(s, st->to, q, sizeof(q));
		fail(r, "expected an MT to %s matching /%s/ within %lld ms; received instead: %s",
		     st->to, st->text, (long long)step_ms(s, st, s->opt.timeout_ms), q);
		return R_FAIL;
	}
	return R_WAIT;
}

/* Evaluate the current step. */
static enum res eval(struct sim *s, struct runner *r, const struct sim_step *st)
{
	bool first = !r->started;
	bool to = r->timed_out;
	int64_t rc;
	struct sim_conn *c;

	r->started = true;
	switch (st->op) {
	case SIM_OP_WAIT_BIND:
		if (sim_count_rx(s) > 0)
			return R_DONE;
		if (to) {
			fail(r, "no ESME bound as receiver or transceiver within %lld ms (%u bound)",
			     (long long)step_ms(s, st, s->opt.timeout_ms), sim_count_bound(s));
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_WAIT_BINDS:
		if (sim_count_bound(s) >= (unsigned)st->n)
			return R_DONE;
		if (to) {
			fail(r, "expected %ld bound connections within %lld ms, have %u", st->n,
			     (long long)step_ms(s, st, s->opt.timeout_ms), sim_count_bound(s));
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_MO:
	case SIM_OP_MO_HEX:
		r->last_mo = sim_mo_new(s);
		if (r->last_mo < 0) {
			fail(r, "out of memory");
			return R_FAIL;
		}
		if (st->op == SIM_OP_MO)
			rc = sim_send_mo_text(s, st->from, st->to, st->text, r->last_mo, 0);
		else
			rc = sim_send_mo_raw(s, st->from, st->to, (uint8_t)st->dcs, (uint8_t)st->esm,
					     st->bytes, st->nbytes, r->last_mo);
		if (rc < 0) {
			fail(r, "cannot send the MO: %s",
			     rc == -ENOTCONN ? "no ESME bound as receiver" : strerror((int)-rc));
			return R_FAIL;
		}
		return R_DONE;
	case SIM_OP_RAW:
		c = sim_first_rx(s);
		if (!c)
			c = sim_first_conn(s);
		if (!c) {
			fail(r, "raw: no ESME connection");
			return R_FAIL;
		}
		r->last_mo = sim_mo_new(s);
		if (r->last_mo < 0 || sim_send_raw(s, c, st->bytes, st->nbytes, r->last_mo) < 0) {
			fail(r, "raw: cannot write");
			return R_FAIL;
		}
		sim_out("RAW %zu octets to conn %u", st->nbytes, c->id);
		return R_DONE;
	case SIM_OP_EXPECT_RESP:
		return check_mo_resp(s, r, st, to);
	case SIM_OP_EXPECT_RESPS:
		return check_all_resps(s, r, st, to);
	case SIM_OP_EXPECT_MT:
		return check_mt(s, r, st, to);
	case SIM_OP_EXPECT_MT_PARTS: {
		struct sim_mt *m = r->last_matched;
		if (!m) {
			fail(r, "no MT was matched before this expectation");
			return R_FAIL;
		}
		if (!number_match(st->to, m->to) || m->parts != (unsigned)st->n ||
		    (st->dcs >= 0 && m->dcs != (uint8_t)st->dcs)) {
			char line[8192];
			sim_mt_format(m, line, sizeof(line));
			fail(r, "expected the last MT to %s in %ld parts%s, it was: %s", st->to,
			     st->n, st->dcs >= 0 ? " with that data_coding" : "", line);
			return R_FAIL;
		}
		sim_out("ok: %u parts, data_coding %u", m->parts, m->dcs);
		return R_DONE;
	}
	case SIM_OP_EXPECT_NO_MT:
		if (s->mt_head) {
			char q[4096];
			describe_queue(s, NULL, q, sizeof(q));
			fail(r, "expected no MT, received: %s", q);
			return R_FAIL;
		}
		if (to) {
			sim_out("ok: no MT");
			return R_DONE;
		}
		return R_WAIT;
	case SIM_OP_EXPECT_GENERIC_NACK:
		if (s->nack_events > r->nack_consumed) {
			r->nack_consumed++;
			sim_out("ok: generic_nack / error response received");
			return R_DONE;
		}
		if (to) {
			fail(r, "expected a generic_nack or error response within %lld ms, received none",
			     (long long)step_ms(s, st, s->opt.timeout_ms));
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_EXPECT_DISCONNECT:
		if (s->peer_closes > r->closes_consumed) {
			r->closes_consumed++;
			sim_out("ok: the ESME closed a connection");
			return R_DONE;
		}
		if (to) {
			fail(r, "expected the ESME to close a connection within %lld ms",
			     (long long)step_ms(s, st, s->opt.timeout_ms));
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_EXPECT_BIND_COUNT:
		if (s->binds_ok == (unsigned long)st->n) {
			sim_out("ok: %lu successful binds", s->binds_ok);
			return R_DONE;
		}
		if (s->binds_ok > (unsigned long)st->n || to) {
			fail(r, "expected %ld successful binds, counted %lu", st->n, s->binds_ok);
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_THROTTLE:
		s->throttle = (unsigned)st->n;
		return R_DONE;
	case SIM_OP_FAIL_SUBMIT:
		s->fail_submit = (unsigned)st->n;
		s->fail_status = (uint32_t)st->status;
		return R_DONE;
	case SIM_OP_RECEIPTS:
		s->receipts = (enum sim_receipts)st->n;
		return R_DONE;
	case SIM_OP_DROP:
		sim_close_all(s);
		return R_DONE;
	case SIM_OP_REFUSE_BINDS:
		s->refuse_binds = (unsigned)st->n;
		return R_DONE;
	case SIM_OP_PASSWORD:
		snprintf(s->password, sizeof(s->password), "%s", st->text);
		return R_DONE;
	case SIM_OP_ENQUIRE_LINK:
		if (first) {
			c = sim_first_bound(s);
			if (!c) {
				fail(r, "enquire-link: no bound ESME");
				return R_FAIL;
			}
			r->enquire_seq = sim_send_enquire(s, c);
			if (r->enquire_seq < 0) {
				fail(r, "enquire-link: cannot send");
				return R_FAIL;
			}
			return R_WAIT;
		}
		if (!sim_req_pending(s, (uint32_t)r->enquire_seq))
			return R_DONE;
		if (to) {
			fail(r, "no enquire_link_resp within %lld ms",
			     (long long)step_ms(s, st, s->opt.timeout_ms));
			return R_FAIL;
		}
		return R_WAIT;
	case SIM_OP_WAIT:
		return to ? R_DONE : R_WAIT;
	case SIM_OP_ECHO:
		sim_out("%s", st->text);
		return R_DONE;
	case SIM_OP__COUNT:
		break;
	}
	fail(r, "internal error: unknown op");
	return R_FAIL;
}

static void timer_cb(uv_timer_t *t);

static int64_t timeout_of(const struct sim *s, const struct sim_step *st)
{
	switch (st->op) {
	case SIM_OP_EXPECT_NO_MT:
		return step_ms(s, st, 1000);
	case SIM_OP_WAIT:
		return st->ms;
	default:
		return step_ms(s, st, s->opt.timeout_ms);
	}
}

static void finish(struct sim *s, struct runner *r, int code)
{
	r->finished = true;
	if (r->timer_armed) {
		uv_timer_stop(&r->timer);
		r->timer_armed = false;
	}
	sim_stop(s, code);
}

static void run_steps(struct sim *s, struct runner *r)
{
	while (!r->finished && r->pc < r->sc.n) {
		const struct sim_step *st = &r->sc.steps[r->pc];
		if (!r->started)
			sim_out("-- %u: %s", st->line, st->src);
		enum res res = eval(s, r, st);
		if (res == R_WAIT) {
			if (!r->timer_armed) {
				r->timer_armed = true;
				uv_timer_start(&r->timer, timer_cb, (uint64_t)timeout_of(s, st), 0);
			}
			return;
		}
		if (r->timer_armed) {
			uv_timer_stop(&r->timer);
			r->timer_armed = false;
		}
		if (res == R_FAIL) {
			sim_out("FAILED line %u: %s", st->line, r->why);
			finish(s, r, 1);
			return;
		}
		r->pc++;
		r->started = false;
		r->timed_out = false;
	}
	if (!r->finished && r->pc >= r->sc.n) {
		sim_out("PASSED %zu steps", r->sc.n);
		finish(s, r, 0);
	}
}

static void kick(struct sim *s)
{
	struct runner *r = s->mode_data;
	if (r->finished)
		return;
	if (r->in_run) {
		r->kicked = true;
		return;
	}
	r->in_run = true;
	do {
		r->kicked = false;
		run_steps(s, r);
	} while (r->kicked && !r->finished);
	r->in_run = false;
}

static void timer_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	struct runner *r = s->mode_data;
	r->timer_armed = false;
	r->timed_out = true;
	kick(s);
}

static void start_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	struct runner *r = s->mode_data;
	r->timer_armed = false;
	kick(s);
}

static void sc_on_mt(struct sim *s, struct sim_mt *mt)
{
	char line[8192];
	sim_mt_format(mt, line, sizeof(line));
	sim_out("%s", line);
	mt->next = NULL;
	if (s->mt_tail)
		s->mt_tail->next = mt;
	else
		s->mt_head = mt;
	s->mt_tail = mt;
	kick(s);
}

static void sc_on_stop(struct sim *s)
{
	struct runner *r = s->mode_data;
	if (!r->finished) {
		r->finished = true;
		if (r->pc < r->sc.n)
			sim_out("FAILED line %u: interrupted", r->sc.steps[r->pc].line);
		s->exit_code = 1;
	}
	if (!uv_is_closing((uv_handle_t *)&r->timer))
		uv_close((uv_handle_t *)&r->timer, NULL);
}

static void sc_on_free(struct sim *s)
{
	struct runner *r = s->mode_data;
	sim_mt_free(r->last_matched);
	sim_script_free(&r->sc);
	free(r);
	s->mode_data = NULL;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (n < cap)
			break;
		if (cap > (16u << 20)) {
			free(buf);
			buf = NULL;
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int err = ferror(f);
	fclose(f);
	if (!buf || err) {
		free(buf);
		return err ? -EIO : -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}

int sim_script_start(struct sim *s)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(s->opt.script, &text, &len);
	if (rc < 0) {
		fprintf(stderr, "smsc-sim: cannot read %s: %s\n", s->opt.script, strerror(-rc));
		return -EINVAL;
	}
	struct runner *r = calloc(1, sizeof(*r));
	if (!r) {
		free(text);
		return -ENOMEM;
	}
	char err[512];
	rc = sim_script_parse(text, len, &r->sc, err, sizeof(err));
	free(text);
	if (rc < 0) {
		fprintf(stderr, "smsc-sim: %s: %s\n", s->opt.script, err);
		free(r);
		return -EINVAL;
	}
	r->last_mo = -1;
	r->enquire_seq = -1;
	s->mode_data = r;
	s->on_mt = sc_on_mt;
	s->on_event = kick;
	s->on_stop = sc_on_stop;
	s->on_free = sc_on_free;
	uv_timer_init(s->loop, &r->timer);
	r->timer.data = s;
	/* start on the first loop turn, once the listener is up */
	r->timer_armed = true;
	uv_timer_start(&r->timer, start_cb, 0, 0);
	return 0;
}
