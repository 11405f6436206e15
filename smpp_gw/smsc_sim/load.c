/* smsc_sim/load.c — `--load`: MO traffic at a given rate, then figures.
 *
 * Once the first ESME is bound as receiver, a 1 ms libuv timer sends the
 * number of MO due by then (rate x elapsed), never more than --window
 * without a response. The first --warmup seconds are sent but not measured;
 * then --duration seconds are measured; then up to --drain seconds wait for
 * the last responses. The report is key=value lines on stdout.
 *
 * Every MO has an id (1, 2, ...); a P2P text starts with "m<id> " so that
 * its relayed MT can be matched to it. With --log, every MO sent, response,
 * loss, give-up and MT received is one line of a file (docs/smsc-sim.md), for
 * checkers that join them with the database. The traffic goes on across ESME
 * disconnects: MOs are sent only while a receiver is bound, and the requests
 * a closed connection leaves unanswered are logged as lost.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum phase { L_WAIT_BIND, L_RUN, L_DRAIN, L_DONE };

/* sim_req.tag bits in load mode */
#define TAG_MEASURED 1u
#define TAG_GIVEN_UP 2u  /* --mo-timeout-ms passed: no longer outstanding */

struct pop_pair {
	char a[21], b[21];
};

struct load {
	uv_timer_t tick;
	enum phase phase;
	uint64_t wait_start_ns;
	uint64_t t0_ns, warm_end_ns, end_ns, drain_end_ns, stop_sending_ns;
	uint64_t sent_total;        /* all MOs sent or skipped, warmup included */
	unsigned long outstanding;  /* MO without a response */
	unsigned long outstanding_measured;
	unsigned long sent, acked, temp, rejected, relayed, mt, skipped, lost;
	unsigned long timeouts, late;
	uint32_t *lat_us;
	size_t nlat, caplat;
	uint64_t rng;
	unsigned long serial;
	bool reported;
	char short_canon[32];
	FILE *log;
	struct pop_pair *pop;        /* --pairs-file, else NULL */
	size_t npop;
	uint64_t next_scan_ns;       /* next --mo-timeout-ms scan */
	unsigned last_rx;            /* receivers bound at the last event */
};

static uint64_t rnd(struct load *l)
{
	/* xorshift64* */
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 2685821657736338717ull;
}

static double rnd01(struct load *l)
{
	return (double)(rnd(l) >> 11) / 9007199254740992.0;
}

static void subscriber(long idx, char *out, size_t outsz)
{
	snprintf(out, outsz, "7916%07ld", idx);
}

/* Member `member` (0 = A, 1 = B) of pair `pair`. */
static void member_of(const struct sim *s, const struct load *l, long pair, int member,
		      char *out, size_t outsz)
{
	if (l->pop)
		snprintf(out, outsz, "%s", member ? l->pop[pair].b : l->pop[pair].a);
	else
		subscriber(2 * pair + member, out, outsz);
	(void)s;
}

static int send_one(struct sim *s, struct load *l, uint8_t tag)
{
	char from[21], to[21], text[64];
	long pairs = l->pop ? (long)l->npop : s->opt.pairs;
	long pair = (long)(rnd(l) % (uint64_t)pairs);
	bool a_to_b = rnd(l) & 1;
	unsigned long id = ++l->serial;
	member_of(s, l, pair, a_to_b ? 0 : 1, from, sizeof(from));
	if (rnd01(l) < s->opt.p2p_ratio) {
		member_of(s, l, pair, a_to_b ? 1 : 0, to, sizeof(to));
		if (id % 4 == 0)
			snprintf(text, sizeof(text), "m%lu Привет", id);
		else
			snprintf(text, sizeof(text), "m%lu Hi there", id);
	} else {
		snprintf(to, sizeof(to), "%s", s->opt.short_code);
		snprintf(text, sizeof(text), "HELP");
	}
	s->mo_ud = (uint32_t)id;
	int rc = sim_send_mo_text(s, from, to, text, -1, tag);
	s->mo_ud = 0;
	if (rc > 0 && l->log)
		fprintf(l->log, "mo %lu %s %s %u\n", id, from, to, s->last_mo_seq);
	return rc;
}

/* --mo-timeout-ms: MOs unanswered too long stop counting as outstanding (the
 * window frees); a response that still comes is logged as `late`. */
static void scan_timeouts(struct sim *s, struct load *l, uint64_t now)
{
	if (s->opt.mo_timeout_ms <= 0 || now < l->next_scan_ns)
		return;
	l->next_scan_ns = now + 20 * 1000000ull;
	uint64_t limit = (uint64_t)s->opt.mo_timeout_ms * 1000000ull;
	for (size_t i = 0; i < s->reqs_cap; i++) {
		struct sim_req *r = &s->reqs[i];
		if (r->kind != SIM_REQ_MO || (r->tag & TAG_GIVEN_UP) || now - r->sent_ns < limit)
			continue;
		r->tag |= TAG_GIVEN_UP;
		if (l->outstanding)
			l->outstanding--;
		if ((r->tag & TAG_MEASURED) && l->outstanding_measured)
			l->outstanding_measured--;
		l->timeouts++;
		if (l->log)
			fprintf(l->log, "timeout %u\n", r->ud);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report_print(struct sim *s, struct load *l)
{
	if (l->reported)
		return;
	l->reported = true;
	uint64_t now = uv_hrtime();
	double measured_s = 0;
	if (l->phase != L_WAIT_BIND) {
		uint64_t end = l->stop_sending_ns ? l->stop_sending_ns : now;
		if (end > l->warm_end_ns)
			measured_s = (double)(end - l->warm_end_ns) / 1e9;
	}
	static const double ps[4] = { 50, 90, 99, 99.9 };
	static const char *const pn[4] = { "p50", "p90", "p99", "p99_9" };
	if (l->nlat)
		qsort(l->lat_us, l->nlat, sizeof(l->lat_us[0]), cmp_u32);

	sim_out("sent=%lu", l->sent);
	sim_out("acked=%lu", l->acked);
	sim_out("temp_errors=%lu", l->temp);
	sim_out("rejected=%lu", l->rejected);
	sim_out("unanswered=%lu", l->outstanding_measured + l->lost);
	sim_out("relayed=%lu", l->relayed);
	sim_out("mt=%lu", l->mt);
	sim_out("skipped_no_bind=%lu", l->skipped);
	sim_out("lost=%lu", l->lost);
	sim_out("mo_timeouts=%lu", l->timeouts);
	sim_out("submits=%lu", s->submits);
	sim_out("duration_s=%.3f", measured_s);
	sim_out("rate_target=%.2f", s->opt.rate);
	sim_out("rate=%.2f", measured_s > 0 ? (double)l->sent / measured_s : 0.0);
	for (int i = 0; i < 4; i++) {
		double v = 0;
		if (l->nlat) {
			size_t rank = (size_t)ceil(ps[i] / 100.0 * (double)l->nlat);
			if (rank < 1)
				rank = 1;
			v = l->lat_us[rank - 1] / 1000.0;
		}
		sim_out("latency_%s_ms=%.3f", pn[i], v);
	}
	sim_out("latency_max_ms=%.3f", l->nlat ? l->lat_us[l->nlat - 1] / 1000.0 : 0.0);
}

static void tick_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	struct load *l = s->mode_data;
	uint64_t now = uv_hrtime();

	scan_timeouts(s, l, now);
	switch (l->phase) {
	case L_WAIT_BIND:
		if (sim_count_rx(s) > 0) {
			l->phase = L_RUN;
			l->t0_ns = now;
			l->warm_end_ns = now + (uint64_t)(s->opt.warmup_s * 1e9);
			l->end_ns = l->warm_end_ns + (uint64_t)(s->opt.duration_s * 1e9);
			sim_log(s, "load_start", "rate=%.2f duration_s=%.3f warmup_s=%.3f window=%ld",
				s->opt.rate, s->opt.duration_s, s->opt.warmup_s, s->opt.window);
			break;
		}
		if ((double)(now - l->wait_start_ns) / 1e9 > s->opt.bind_wait_s) {
			sim_log(s, "load_no_bind", "waited_s=%.1f", s->opt.bind_wait_s);
			report_print(s, l);
			sim_stop(s, 1);
		}
		return;
	case L_RUN: {
		if (now >= l->end_ns) {
			l->phase = L_DRAIN;
			l->stop_sending_ns = l->end_ns;
			l->drain_end_ns = now + (uint64_t)(s->opt.drain_s * 1e9);
			sim_log(s, "load_drain", "outstanding=%lu", l->outstanding);
			break;
		}
		uint64_t target = (uint64_t)(s->opt.rate * (double)(now - l->t0_ns) / 1e9);
		uint8_t tag = now >= l->warm_end_ns ? 1 : 0;
		while (l->sent_total < target && l->outstanding < (unsigned long)s->opt.window) {
			int rc = send_one(s, l, tag);
			if (rc == -ENOTCONN) {
				/* nobody to send to: these are not caught up later */
				if (tag)
					l->skipped += target - l->sent_total;
				l->sent_total = target;
				break;
			}
			l->sent_total++;
			if (rc < 0) {
				sim_log(s, "load_send_error", "rc=%d", rc);
				continue;
			}
			l->outstanding += (unsigned long)rc;
			if (tag) {
				l->sent++;
				l->outstanding_measured += (unsigned long)rc;
			}
		}
		return;
	}
	case L_DRAIN:
		if (l->outstanding_measured == 0 || now >= l->drain_end_ns) {
			l->phase = L_DONE;
			report_print(s, l);
			sim_stop(s, 0);
		}
		return;
	case L_DONE:
		return;
	}
}

static void ld_on_resp(struct sim *s, const struct sim_req *rq, uint32_t cmd, uint32_t status,
		       uint64_t now_ns)
{
	struct load *l = s->mode_data;
	if (rq->kind != SIM_REQ_MO)
		return;
	if (rq->tag & TAG_GIVEN_UP) {
		l->late++;
		if (l->log)
			fprintf(l->log, "late %u %u\n", rq->ud, status);
		return;
	}
	if (l->log)
		fprintf(l->log, "resp %u %u\n", rq->ud,
			cmd == SMPP_DELIVER_SM_RESP ? status : (status ? status : 0xFFFFFFFFu));
	if (l->outstanding)
		l->outstanding--;
	if (!rq->tag)
		return;
	if (l->outstanding_measured)
		l->outstanding_measured--;
	if (cmd == SMPP_DELIVER_SM_RESP && status == SMPP_ESME_ROK)
		l->acked++;
	else if (status == SMPP_ESME_RX_T_APPN)
		l->temp++;
	else
		l->rejected++;
	if (l->nlat == l->caplat) {
		size_t ncap = l->caplat ? l->caplat * 2 : 65536;
		uint32_t *n = realloc(l->lat_us, ncap * sizeof(*n));
		if (!n)
			return;
		l->lat_us = n;
		l->caplat = ncap;
	}
	uint64_t us = (now_ns - rq->sent_ns) / 1000;
	l->lat_us[l->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void ld_on_lost(struct sim *s, const struct sim_req *rq)
{
	struct load *l = s->mode_data;
	if (rq->kind != SIM_REQ_MO || (rq->tag & TAG_GIVEN_UP))
		return;
	if (l->log)
		fprintf(l->log, "lost %u\n", rq->ud);
	if (l->outstanding)
		l->outstanding--;
	if (rq->tag && l->outstanding_measured) {
		l->outstanding_measured--;
		l->lost++;
	}
}

static void ld_on_mt(struct sim *s, struct sim_mt *mt)
{
	struct load *l = s->mode_data;
	if (l->log) {
		for (char *p = mt->text; *p; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		fprintf(l->log, "mt %s %s %s %s\n", mt->first_msg_id[0] ? mt->first_msg_id : "-",
			mt->from[0] ? mt->from : "-", mt->to[0] ? mt->to : "-", mt->text);
	}
	if ((l->phase == L_RUN || l->phase == L_DRAIN) && uv_hrtime() >= l->warm_end_ns) {
		char from[32];
		sim_canon_number(mt->from, from, sizeof(from));
		if (strcmp(from, l->short_canon) == 0)
			l->mt++;
		else
			l->relayed++;
	}
	sim_mt_free(mt);
}

/* A bind or a close: log the number of receivers when it changed. */
static void ld_on_event(struct sim *s)
{
	struct load *l = s->mode_data;
	unsigned n = sim_count_rx(s);
	if (n == l->last_rx)
		return;
	l->last_rx = n;
	if (l->log)
		fprintf(l->log, "link %u %.3f\n", n, sim_elapsed(s));
}

static void ld_on_stop(struct sim *s)
{
	struct load *l = s->mode_data;
	if (!l->reported) {
		if (l->phase == L_RUN)
			l->stop_sending_ns = uv_hrtime();
		report_print(s, l);
	}
	if (!uv_is_closing((uv_handle_t *)&l->tick))
		uv_close((uv_handle_t *)&l->tick, NULL);
}

static void ld_on_free(struct sim *s)
{
	struct load *l = s->mode_data;
	if (l->log && fclose(l->log) != 0)
		fprintf(stderr, "smsc-sim: writing %s: %s\n", s->opt.log_file, strerror(errno));
	free(l->pop);
	free(l->lat_us);
	free(l);
	s->mode_data = NULL;
}

static bool number_ok(const char *p)
{
	size_t len = strlen(p);
	if (*p == '+')
		p++;
	if (!*p || len > 20)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* --pairs-file: "A B" a line; blank lines and '#' lines ignored. */
static int load_pairs(struct load *l, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "smsc-sim: cannot read %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	char line[256];
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char a[64], b[64], extra[2];
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (sscanf(p, "%63s %63s %1s", a, b, extra) != 2 || !number_ok(a) ||
		    !number_ok(b)) {
			fprintf(stderr, "smsc-sim: %s:%u: expected 'NUMBER NUMBER'\n", path, lineno);
			rc = -EINVAL;
			break;
		}
		if (l->npop == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct pop_pair *np = realloc(l->pop, ncap * sizeof(*np));
			if (!np) {
				rc = -ENOMEM;
				break;
			}
			l->pop = np;
			cap = ncap;
		}
		memcpy(l->pop[l->npop].a, a, strlen(a) + 1); /* number_ok: <= 20 chars */
		memcpy(l->pop[l->npop].b, b, strlen(b) + 1);
		l->npop++;
	}
	fclose(f);
	if (rc == 0 && l->npop == 0) {
		fprintf(stderr, "smsc-sim: %s: no pairs\n", path);
		rc = -EINVAL;
	}
	return rc;
}

int sim_load_start(struct sim *s)
{
	struct load *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	s->mode_data = l;
	s->on_free = ld_on_free;
	if (s->opt.pairs_file) {
		int rc = load_pairs(l, s->opt.pairs_file);
		if (rc < 0)
			return rc;
	}
	if (s->opt.log_file) {
		l->log = fopen(s->opt.log_file, "w");
		if (!l->log) {
			fprintf(stderr, "smsc-sim: cannot write %s: %s\n", s->opt.log_file,
				strerror(errno));
			return -EINVAL;
		}
		setvbuf(l->log, NULL, _IOFBF, 1 << 16);
	}
	l->rng = s->opt.seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
	if (!l->rng)
		l->rng = 1;
	sim_canon_number(s->opt.short_code, l->short_canon, sizeof(l->short_canon));
	l->wait_start_ns = uv_hrtime();
	s->on_resp = ld_on_resp;
	s->on_event = ld_on_event;
	s->on_lost = ld_on_lost;
	s->on_mt = ld_on_mt;
	s->on_stop = ld_on_stop;
	uv_timer_init(s->loop, &l->tick);
	l->tick.data = s;
	uv_timer_start(&l->tick, tick_cb, 1, 1);
	return 0;
}
