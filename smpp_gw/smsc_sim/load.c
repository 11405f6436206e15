/* smsc_sim/load.c — `--load`: MO traffic at a given rate, then figures.
 *
 * Once the first ESME is bound as receiver, a 1 ms libuv timer sends the
 * number of MO due by then (rate x elapsed), never more than --window
 * without a response. The first --warmup seconds are sent but not measured;
 * then --duration seconds are measured; then up to --drain seconds wait for
 * the last responses. The report is key=value lines on stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

enum phase { L_WAIT_BIND, L_RUN, L_DRAIN, L_DONE };

struct load {
	uv_timer_t tick;
	enum phase phase;
	uint64_t wait_start_ns;
	uint64_t t0_ns, warm_end_ns, end_ns, drain_end_ns, stop_sending_ns;
	uint64_t sent_total;        /* all MOs sent or skipped, warmup included */
	unsigned long outstanding;  /* MO without a response */
	unsigned long outstanding_measured;
	unsigned long sent, acked, temp, rejected, relayed, mt, skipped, lost;
	uint32_t *lat_us;
	size_t nlat, caplat;
	uint64_t rng;
	unsigned long serial;
	bool reported;
	char short_canon[32];
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

static int send_one(struct sim *s, struct load *l, uint8_t tag)
{
	char from[21], to[21], text[64];
	long pairs = s->opt.pairs;
	long pair = (long)(rnd(l) % (uint64_t)pairs);
	bool a_to_b = rnd(l) & 1;
	l->serial++;
	if (rnd01(l) < s->opt.p2p_ratio) {
		subscriber(2 * pair + (a_to_b ? 0 : 1), from, sizeof(from));
		subscriber(2 * pair + (a_to_b ? 1 : 0), to, sizeof(to));
		if (l->serial % 4 == 0)
			snprintf(text, sizeof(text), "Привет %lu", l->serial);
		else
			snprintf(text, sizeof(text), "Hi there %lu", l->serial);
	} else {
		subscriber(2 * pair + (a_to_b ? 0 : 1), from, sizeof(from));
		snprintf(to, sizeof(to), "%s", s->opt.short_code);
		snprintf(text, sizeof(text), "HELP");
	}
	return sim_send_mo_text(s, from, to, text, -1, tag);
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
	if (rq->kind != SIM_REQ_MO)
		return;
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
	free(l->lat_us);
	free(l);
	s->mode_data = NULL;
}

int sim_load_start(struct sim *s)
{
	struct load *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->rng = s->opt.seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
	if (!l->rng)
		l->rng = 1;
	sim_canon_number(s->opt.short_code, l->short_canon, sizeof(l->short_canon));
	l->wait_start_ns = uv_hrtime();
	s->mode_data = l;
	s->on_resp = ld_on_resp;
	s->on_lost = ld_on_lost;
	s->on_mt = ld_on_mt;
	s->on_stop = ld_on_stop;
	s->on_free = ld_on_free;
	uv_timer_init(s->loop, &l->tick);
	l->tick.data = s;
	uv_timer_start(&l->tick, tick_cb, 1, 1);
	return 0;
}
