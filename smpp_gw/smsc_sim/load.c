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
 * a closed connection leaves unanswered are logged as lost — or, with
 * --redeliver, sent again on the next receiver (and temporary errors retried
 * a second later), as a real SMSC does.
 *
 * Command traffic (--invite-pairs-file, --invite-rate): A sends B's number to
 * the short code (R4); when B gets the invitation MT the simulator answers
 * "1 A" from B (R6); the dialog counts as completed when the activation MT
 * reaches A or B.
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
#define TAG_CMD 4u       /* an invitation or an acceptance */

#define RETRY_DELAY_NS 1000000000ull /* --redeliver: temporary error -> resend after 1 s */

struct pop_pair {
	char a[21], b[21];
};

/* What an MO id was, so that it can be sent again (--redeliver) and its
 * response matched to an invitation pair. Zeroed = not tracked. */
enum mo_kind { K_NONE = 0, K_P2P, K_HELP, K_INVITE, K_ACCEPT };
enum mo_state { MS_OUT = 0, MS_QUEUED, MS_DONE };

struct mo_rec {
	int32_t pair;      /* population pair (P2P/HELP) or invitation pair */
	uint8_t kind;      /* enum mo_kind */
	uint8_t from_b;    /* P2P/HELP: sent by member B of the pair */
	uint8_t tag;       /* the first sending's tag (TAG_MEASURED / TAG_CMD) */
	uint8_t state;     /* enum mo_state */
};

/* An invitation pair's progress. */
enum ip_state {
	IP_NEW = 0,
	IP_INVITING,  /* invitation MO sent */
	IP_INVITED,   /* answered ESME_ROK */
	IP_ACCEPT_Q,  /* the invitation MT reached B; the accept is queued */
	IP_ACCEPTING, /* accept MO sent */
	IP_ACCEPTED,  /* answered ESME_ROK */
	IP_DONE,      /* the activation MT arrived */
	IP_FAILED,
};

struct inv_pair {
	char a[21], b[21];
	char ac[24], bc[24]; /* canonical */
	uint8_t st;
};

/* Number -> invitation pair (open addressing, duplicates allowed). */
struct nidx_ent {
	int32_t pair; /* -1: free */
	uint8_t role; /* 0 = A, 1 = B */
};

/* A FIFO of MO ids (or pair indices) with a due time. */
struct fifo {
	uint32_t *id;
	uint64_t *due;
	size_t head, n, cap;
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

	/* MO records (when --redeliver or invitations are on), by id - 1 */
	struct mo_rec *recs;
	size_t nrecs;
	bool track;
	struct fifo redeliver_q;     /* lost at a disconnect: resend at once */
	struct fifo retry_q;         /* temporary error: resend when due */
	unsigned long queued_wait;   /* queued MOs the drain waits for */
	unsigned long retries, redelivered;

	/* command traffic */
	struct inv_pair *inv;
	size_t ninv;
	struct nidx_ent *nidx;
	size_t nidx_cap;
	size_t inv_next;             /* next pair to invite */
	struct fifo accept_q;        /* pairs whose accept is due */
	unsigned long inflight_pairs;
	unsigned long invites_sent, accepts_sent, dialogs, cmd_errors;
	uint64_t last_invite_ns, last_dialog_ns;
	uint32_t *cmd_lat_us;
	size_t ncmdlat, capcmdlat;
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

/* ---- FIFOs ---- */

static int fifo_push(struct fifo *q, uint32_t id, uint64_t due)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 256;
		uint32_t *ni = malloc(ncap * sizeof(*ni));
		uint64_t *nd = malloc(ncap * sizeof(*nd));
		if (!ni || !nd) {
			free(ni);
			free(nd);
			return -ENOMEM;
		}
		for (size_t i = 0; i < q->n; i++) {
			ni[i] = q->id[(q->head + i) % q->cap];
			nd[i] = q->due[(q->head + i) % q->cap];
		}
		free(q->id);
		free(q->due);
		q->id = ni;
		q->due = nd;
		q->head = 0;
		q->cap = ncap;
	}
	size_t t = (q->head + q->n) % q->cap;
	q->id[t] = id;
	q->due[t] = due;
	q->n++;
	return 0;
}

static bool fifo_peek(const struct fifo *q, uint32_t *id, uint64_t *due)
{
	if (!q->n)
		return false;
	*id = q->id[q->head];
	*due = q->due[q->head];
	return true;
}

static void fifo_pop(struct fifo *q)
{
	if (!q->n)
		return;
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

static void fifo_free(struct fifo *q)
{
	free(q->id);
	free(q->due);
	memset(q, 0, sizeof(*q));
}

/* ---- MO records ---- */

/* The record of `id`, created (zeroed) when missing; NULL when not tracking. */
static struct mo_rec *rec_at(struct load *l, unsigned long id, bool create)
{
	if (!l->track || id == 0)
		return NULL;
	if (id > l->nrecs) {
		if (!create)
			return NULL;
		size_t ncap = l->nrecs ? l->nrecs : 4096;
		while (ncap < id)
			ncap *= 2;
		struct mo_rec *nr = realloc(l->recs, ncap * sizeof(*nr));
		if (!nr)
			return NULL;
		memset(nr + l->nrecs, 0, (ncap - l->nrecs) * sizeof(*nr));
		l->recs = nr;
		l->nrecs = ncap;
	}
	struct mo_rec *r = &l->recs[id - 1];
	return r->kind || create ? r : NULL;
}

static bool is_temp_status(uint32_t st)
{
	return st == SMPP_ESME_RX_T_APPN || st == SMPP_ESME_RTHROTTLED ||
	       st == SMPP_ESME_RMSGQFUL || st == SMPP_ESME_RSYSERR;
}

static void push_lat(uint32_t **arr, size_t *n, size_t *cap, uint64_t ns)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 65536;
		uint32_t *na = realloc(*arr, ncap * sizeof(*na));
		if (!na)
			return;
		*arr = na;
		*cap = ncap;
	}
	uint64_t us = ns / 1000;
	(*arr)[(*n)++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Send MO `id` as `r` describes it (first time or again). Returns the number
 * of parts, -ENOTCONN when no receiver is bound, or another negative error;
 * writes the numbers used to from/to. */
static int send_rec(struct sim *s, struct load *l, unsigned long id, const struct mo_rec *r,
		    uint8_t tag, char *from, char *to)
{
	char text[64];
	switch (r->kind) {
	case K_P2P:
		member_of(s, l, r->pair, r->from_b, from, 21);
		member_of(s, l, r->pair, !r->from_b, to, 21);
		if (id % 4 == 0)
			snprintf(text, sizeof(text), "m%lu Привет", id);
		else
			snprintf(text, sizeof(text), "m%lu Hi there", id);
		break;
	case K_HELP:
		member_of(s, l, r->pair, r->from_b, from, 21);
		snprintf(to, 21, "%s", s->opt.short_code);
		snprintf(text, sizeof(text), "HELP");
		break;
	case K_INVITE:
		snprintf(from, 21, "%s", l->inv[r->pair].a);
		snprintf(to, 21, "%s", s->opt.short_code);
		snprintf(text, sizeof(text), "%s", l->inv[r->pair].b);
		break;
	case K_ACCEPT:
		snprintf(from, 21, "%s", l->inv[r->pair].b);
		snprintf(to, 21, "%s", s->opt.short_code);
		snprintf(text, sizeof(text), "1 %s", l->inv[r->pair].a);
		break;
	default:
		return -EINVAL;
	}
	s->mo_ud = (uint32_t)id;
	int rc = sim_send_mo_text(s, from, to, text, -1, tag);
	s->mo_ud = 0;
	return rc;
}

static int send_one(struct sim *s, struct load *l, uint8_t tag)
{
	char from[21], to[21];
	long pairs = l->pop ? (long)l->npop : s->opt.pairs;
	long pair = (long)(rnd(l) % (uint64_t)pairs);
	bool a_to_b = rnd(l) & 1;
	unsigned long id = ++l->serial;
	struct mo_rec tmp = { .pair = (int32_t)pair, .from_b = a_to_b ? 0 : 1, .tag = tag };
	tmp.kind = rnd01(l) < s->opt.p2p_ratio ? K_P2P : K_HELP;
	int rc = send_rec(s, l, id, &tmp, tag, from, to);
	if (rc > 0) {
		struct mo_rec *r = rec_at(l, id, true);
		if (r) {
			*r = tmp;
			r->state = MS_OUT;
		}
		if (l->log)
			fprintf(l->log, "mo %lu %s %s %u\n", id, from, to, s->last_mo_seq);
	}
	return rc;
}

/* ---- invitation pairs ---- */

static uint64_t hash_str(const char *p)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	return h;
}

static const char *inv_num(const struct load *l, int32_t pair, int role)
{
	return role ? l->inv[pair].bc : l->inv[pair].ac;
}

static int nidx_build(struct load *l)
{
	size_t cap = 16;
	while (cap < l->ninv * 4)
		cap *= 2;
	l->nidx = malloc(cap * sizeof(*l->nidx));
	if (!l->nidx)
		return -ENOMEM;
	l->nidx_cap = cap;
	for (size_t i = 0; i < cap; i++)
		l->nidx[i].pair = -1;
	for (size_t p = 0; p < l->ninv; p++) {
		for (int role = 0; role < 2; role++) {
			size_t j = hash_str(inv_num(l, (int32_t)p, role)) & (cap - 1);
			while (l->nidx[j].pair >= 0)
				j = (j + 1) & (cap - 1);
			l->nidx[j].pair = (int32_t)p;
			l->nidx[j].role = (uint8_t)role;
		}
	}
	return 0;
}

/* The first pair in which `canon` has `role` (0 A, 1 B, 2 either) and whose
 * state is in `mask` (bit per enum ip_state); -1 if none. */
static int32_t nidx_find(const struct load *l, const char *canon, int role, unsigned mask)
{
	if (!l->nidx)
		return -1;
	size_t j = hash_str(canon) & (l->nidx_cap - 1);
	for (; l->nidx[j].pair >= 0; j = (j + 1) & (l->nidx_cap - 1)) {
		const struct nidx_ent *e = &l->nidx[j];
		if ((role == 2 || e->role == role) && (mask & (1u << l->inv[e->pair].st)) &&
		    strcmp(inv_num(l, e->pair, e->role), canon) == 0)
			return e->pair;
	}
	return -1;
}

static void pair_set(struct load *l, struct inv_pair *ip, enum ip_state st)
{
	bool was = ip->st >= IP_INVITING && ip->st <= IP_ACCEPTED;
	bool is = st >= IP_INVITING && st <= IP_ACCEPTED;
	ip->st = (uint8_t)st;
	if (was && !is && l->inflight_pairs)
		l->inflight_pairs--;
	else if (!was && is)
		l->inflight_pairs++;
}

/* A command MO finally failed (error answer, or lost without --redeliver). */
static void cmd_failed(struct load *l, const struct mo_rec *r)
{
	l->cmd_errors++;
	if (!r || r->pair < 0 || (size_t)r->pair >= l->ninv)
		return;
	struct inv_pair *ip = &l->inv[r->pair];
	if (ip->st != IP_DONE)
		pair_set(l, ip, IP_FAILED);
}

/* Send one command MO (an invitation or an acceptance) of pair `pi`.
 * Returns 1 sent, 0 failed (counted; the pair is done), -ENOTCONN no
 * receiver bound (nothing happened: try again later). */
static int send_cmd(struct sim *s, struct load *l, uint32_t pi, int kind)
{
	char from[21], to[21];
	unsigned long id = l->serial + 1;
	struct mo_rec tmp = { .pair = (int32_t)pi, .kind = (uint8_t)kind, .tag = TAG_CMD };
	int rc = send_rec(s, l, id, &tmp, TAG_CMD, from, to);
	if (rc == -ENOTCONN)
		return rc;
	l->serial = id;
	if (rc < 0) {
		sim_log(s, "load_send_error", "rc=%d", rc);
		cmd_failed(l, &tmp);
		return 0;
	}
	struct mo_rec *r = rec_at(l, id, true);
	if (r)
		*r = tmp;
	l->outstanding += (unsigned long)rc;
	int accept = kind == K_ACCEPT;
	pair_set(l, &l->inv[pi], accept ? IP_ACCEPTING : IP_INVITING);
	if (l->log)
		fprintf(l->log, "%s %lu %s %s %u\n", accept ? "accept" : "invite", id, from,
			accept ? l->inv[pi].a : l->inv[pi].b, s->last_mo_seq);
	return 1;
}

/* Send due invitations and queued acceptances. */
static void send_commands(struct sim *s, struct load *l, uint64_t now, bool invite)
{
	uint32_t pi;
	uint64_t due;
	while (fifo_peek(&l->accept_q, &pi, &due)) {
		if (l->inv[pi].st != IP_ACCEPT_Q) {
			fifo_pop(&l->accept_q);
			continue;
		}
		int rc = send_cmd(s, l, pi, K_ACCEPT);
		if (rc == -ENOTCONN)
			break;
		fifo_pop(&l->accept_q);
		if (rc > 0)
			l->accepts_sent++;
	}
	if (!invite || !l->ninv || s->opt.invite_rate <= 0)
		return;
	uint64_t target = (uint64_t)(s->opt.invite_rate * (double)(now - l->t0_ns) / 1e9) + 1;
	if (target > l->ninv)
		target = l->ninv;
	while (l->inv_next < target && l->outstanding < (unsigned long)s->opt.window) {
		int rc = send_cmd(s, l, (uint32_t)l->inv_next, K_INVITE);
		if (rc == -ENOTCONN)
			break; /* caught up once a receiver is bound again */
		l->inv_next++;
		if (rc > 0) {
			l->invites_sent++;
			l->last_invite_ns = now;
		}
	}
}

/* --redeliver: resend what the queues hold (lost MOs at once, retries when
 * due), while a receiver is bound. */
static void send_queued(struct sim *s, struct load *l, uint64_t now)
{
	char from[21], to[21];
	for (int which = 0; which < 2; which++) {
		struct fifo *q = which ? &l->retry_q : &l->redeliver_q;
		uint32_t id;
		uint64_t due;
		while (fifo_peek(q, &id, &due) && due <= now) {
			struct mo_rec *r = rec_at(l, id, false);
			if (!r || r->state != MS_QUEUED) {
				fifo_pop(q);
				continue;
			}
			int rc = send_rec(s, l, id, r, r->tag, from, to);
			if (rc == -ENOTCONN)
				return;
			fifo_pop(q);
			if (r->tag && l->queued_wait)
				l->queued_wait--;
			if (rc < 0) {
				sim_log(s, "load_send_error", "rc=%d", rc);
				r->state = MS_DONE;
				if (l->log)
					fprintf(l->log, "lost %u\n", id);
				if (r->tag & TAG_MEASURED)
					l->lost++;
				if (r->tag & TAG_CMD)
					cmd_failed(l, r);
				continue;
			}
			r->state = MS_OUT;
			l->outstanding += (unsigned long)rc;
			if (r->tag & TAG_MEASURED)
				l->outstanding_measured += (unsigned long)rc;
			if (!which) {
				l->redelivered++;
				if (l->log)
					fprintf(l->log, "redeliver %u\n", id);
			}
		}
	}
}

/* The run is over: what is still queued for a resend is lost. */
static void queues_final(struct load *l)
{
	for (int which = 0; which < 2; which++) {
		struct fifo *q = which ? &l->retry_q : &l->redeliver_q;
		uint32_t id;
		uint64_t due;
		while (fifo_peek(q, &id, &due)) {
			fifo_pop(q);
			struct mo_rec *r = rec_at(l, id, false);
			if (!r || r->state != MS_QUEUED)
				continue;
			r->state = MS_DONE;
			if (l->log)
				fprintf(l->log, "lost %u\n", id);
			if (r->tag & TAG_MEASURED)
				l->lost++;
			if (r->tag & TAG_CMD)
				cmd_failed(l, r);
		}
	}
	l->queued_wait = 0;
}

/* --redeliver: queue MO `id` (whose deliver_sm `rq` was lost or got a
 * temporary error) for sending again. */
static void requeue(struct load *l, const struct sim_req *rq, struct mo_rec *r, uint64_t due)
{
	if (l->outstanding)
		l->outstanding--;
	if ((rq->tag & TAG_MEASURED) && l->outstanding_measured)
		l->outstanding_measured--;
	if (r->state == MS_QUEUED)
		return; /* another part of it already did */
	r->state = MS_QUEUED;
	if (fifo_push(due ? &l->retry_q : &l->redeliver_q, rq->ud, due) < 0) {
		r->state = MS_DONE;
		return;
	}
	if (r->tag)
		l->queued_wait++;
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

/* The p-th percentile (nearest rank) of n sorted latencies in µs, in ms. */
static double percentile_ms(const uint32_t *sorted_us, size_t n, double p)
{
	if (!n)
		return 0.0;
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);
	if (rank < 1)
		rank = 1;
	return sorted_us[rank - 1] / 1000.0;
}

static void report_print(struct sim *s, struct load *l)
{
	if (l->reported)
		return;
	queues_final(l);
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
	for (int i = 0; i < 4; i++)
		sim_out("latency_%s_ms=%.3f", pn[i], percentile_ms(l->lat_us, l->nlat, ps[i]));
	sim_out("latency_max_ms=%.3f", l->nlat ? l->lat_us[l->nlat - 1] / 1000.0 : 0.0);
	sim_out("retries=%lu", l->retries);
	sim_out("redelivered=%lu", l->redelivered);

	/* command traffic, over the whole run (warm-up included) */
	double inv_s = 0, dlg_s = 0;
	if (l->invites_sent && l->t0_ns) {
		inv_s = (double)(l->last_invite_ns - l->t0_ns) / 1e9;
		if (s->opt.invite_rate > 0 && inv_s < 1.0 / s->opt.invite_rate)
			inv_s = 1.0 / s->opt.invite_rate;
	}
	if (l->dialogs && l->t0_ns)
		dlg_s = (double)(l->last_dialog_ns - l->t0_ns) / 1e9;
	if (l->ncmdlat)
		qsort(l->cmd_lat_us, l->ncmdlat, sizeof(l->cmd_lat_us[0]), cmp_u32);
	sim_out("invites_sent=%lu", l->invites_sent);
	sim_out("accepts_sent=%lu", l->accepts_sent);
	sim_out("dialogs_completed=%lu", l->dialogs);
	sim_out("cmd_errors=%lu", l->cmd_errors);
	sim_out("invites_per_s=%.2f", inv_s > 0 ? (double)l->invites_sent / inv_s : 0.0);
	sim_out("dialogs_per_s=%.2f", dlg_s > 0 ? (double)l->dialogs / dlg_s : 0.0);
	for (int i = 0; i < 3; i += 2)
		sim_out("cmd_latency_%s_ms=%.3f", pn[i],
			percentile_ms(l->cmd_lat_us, l->ncmdlat, ps[i]));
}

/* Whether the drain still has something to wait for. */
static bool drain_waiting(const struct load *l)
{
	return l->outstanding_measured || l->queued_wait || l->inflight_pairs ||
	       l->accept_q.n;
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
		send_queued(s, l, now);
		send_commands(s, l, now, true);
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
		send_queued(s, l, now);
		send_commands(s, l, now, false);
		if (!drain_waiting(l) || now >= l->drain_end_ns) {
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
	uint32_t st = cmd == SMPP_DELIVER_SM_RESP ? status : (status ? status : 0xFFFFFFFFu);
	struct mo_rec *r = rec_at(l, rq->ud, false);
	if (s->opt.redeliver && r && !l->reported && is_temp_status(st)) {
		l->retries++;
		if (l->log)
			fprintf(l->log, "retry %u %u\n", rq->ud, st);
		requeue(l, rq, r, now_ns + RETRY_DELAY_NS);
		return;
	}
	if (l->log)
		fprintf(l->log, "resp %u %u\n", rq->ud, st);
	if (l->outstanding)
		l->outstanding--;
	if (r && r->state == MS_OUT)
		r->state = MS_DONE;
	if (rq->tag & TAG_CMD) {
		push_lat(&l->cmd_lat_us, &l->ncmdlat, &l->capcmdlat, now_ns - rq->sent_ns);
		if (st != SMPP_ESME_ROK) {
			cmd_failed(l, r);
		} else if (r && r->pair >= 0 && (size_t)r->pair < l->ninv) {
			struct inv_pair *ip = &l->inv[r->pair];
			if (r->kind == K_INVITE && ip->st == IP_INVITING)
				pair_set(l, ip, IP_INVITED);
			else if (r->kind == K_ACCEPT && ip->st == IP_ACCEPTING)
				pair_set(l, ip, IP_ACCEPTED);
		}
		return;
	}
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
	push_lat(&l->lat_us, &l->nlat, &l->caplat, now_ns - rq->sent_ns);
}

static void ld_on_lost(struct sim *s, const struct sim_req *rq)
{
	struct load *l = s->mode_data;
	if (rq->kind != SIM_REQ_MO || (rq->tag & TAG_GIVEN_UP))
		return;
	struct mo_rec *r = rec_at(l, rq->ud, false);
	if (s->opt.redeliver && r && !l->reported && !s->stopping) {
		requeue(l, rq, r, 0);
		return;
	}
	if (l->log)
		fprintf(l->log, "lost %u\n", rq->ud);
	if (r)
		r->state = MS_DONE;
	if (rq->tag & TAG_CMD)
		cmd_failed(l, r);
	if (l->outstanding)
		l->outstanding--;
	if (rq->tag && l->outstanding_measured) {
		l->outstanding_measured--;
		l->lost++;
	}
}

/* An MT from the short code while invitations run: the invitation to B
 * (R5) -> queue B's "1 A"; the activation notice to A or B (R6) -> the
 * dialog is completed. Recognised by the catalogue's words, Russian or
 * English. */
static void cmd_mt(struct sim *s, struct load *l, const struct sim_mt *mt)
{
	char to[32];
	sim_canon_number(mt->to, to, sizeof(to));
	bool invitation = strstr(mt->text, "приглашает вас") || strstr(mt->text, "invites you");
	bool activated = strstr(mt->text, "подключён:") || strstr(mt->text, " is on:");
	if (invitation) {
		int32_t p = nidx_find(l, to, 1, 1u << IP_INVITING | 1u << IP_INVITED);
		if (p >= 0) {
			pair_set(l, &l->inv[p], IP_ACCEPT_Q);
			if (fifo_push(&l->accept_q, (uint32_t)p, 0) < 0)
				pair_set(l, &l->inv[p], IP_FAILED);
		}
	} else if (activated) {
		int32_t p = nidx_find(l, to, 2, 1u << IP_ACCEPTING | 1u << IP_ACCEPTED);
		if (p >= 0) {
			pair_set(l, &l->inv[p], IP_DONE);
			l->dialogs++;
			l->last_dialog_ns = uv_hrtime();
			if (l->log)
				fprintf(l->log, "dialog %s %s %.3f\n", l->inv[p].a, l->inv[p].b,
					sim_elapsed(s));
		}
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
	char from[32];
	sim_canon_number(mt->from, from, sizeof(from));
	if (l->ninv && strcmp(from, l->short_canon) == 0)
		cmd_mt(s, l, mt);
	if ((l->phase == L_RUN || l->phase == L_DRAIN) && uv_hrtime() >= l->warm_end_ns) {
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

static void ld_on_control(struct sim *s, const char *cmd)
{
	struct load *l = s->mode_data;
	if (l->log) {
		fprintf(l->log, "control %s %.3f\n", cmd, sim_elapsed(s));
		fflush(l->log); /* so that a checker reading the log now sees it */
	}
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
	free(l->cmd_lat_us);
	free(l->recs);
	free(l->inv);
	free(l->nidx);
	fifo_free(&l->redeliver_q);
	fifo_free(&l->retry_q);
	fifo_free(&l->accept_q);
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

/* --pairs-file / --invite-pairs-file: "A B" a line; blank lines and '#'
 * lines ignored. */
static int load_pairs(struct pop_pair **out, size_t *nout, const char *path)
{
	struct pop_pair *pop = NULL;
	size_t npop = 0;
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
		if (npop == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct pop_pair *np = realloc(pop, ncap * sizeof(*np));
			if (!np) {
				rc = -ENOMEM;
				break;
			}
			pop = np;
			cap = ncap;
		}
		memcpy(pop[npop].a, a, strlen(a) + 1); /* number_ok: <= 20 chars */
		memcpy(pop[npop].b, b, strlen(b) + 1);
		npop++;
	}
	fclose(f);
	if (rc == 0 && npop == 0) {
		fprintf(stderr, "smsc-sim: %s: no pairs\n", path);
		rc = -EINVAL;
	}
	if (rc < 0) {
		free(pop);
		return rc;
	}
	*out = pop;
	*nout = npop;
	return 0;
}

static int load_invite_pairs(struct load *l, const char *path)
{
	struct pop_pair *pp = NULL;
	size_t n = 0;
	int rc = load_pairs(&pp, &n, path);
	if (rc < 0)
		return rc;
	l->inv = calloc(n, sizeof(*l->inv));
	if (!l->inv) {
		free(pp);
		return -ENOMEM;
	}
	l->ninv = n;
	for (size_t i = 0; i < n; i++) {
		struct inv_pair *ip = &l->inv[i];
		memcpy(ip->a, pp[i].a, sizeof(ip->a));
		memcpy(ip->b, pp[i].b, sizeof(ip->b));
		sim_canon_number(ip->a, ip->ac, sizeof(ip->ac));
		sim_canon_number(ip->b, ip->bc, sizeof(ip->bc));
	}
	free(pp);
	return nidx_build(l);
}

int sim_load_start(struct sim *s)
{
	struct load *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	s->mode_data = l;
	s->on_free = ld_on_free;
	if (s->opt.pairs_file) {
		int rc = load_pairs(&l->pop, &l->npop, s->opt.pairs_file);
		if (rc < 0)
			return rc;
	}
	if (s->opt.invite_pairs_file) {
		int rc = load_invite_pairs(l, s->opt.invite_pairs_file);
		if (rc < 0)
			return rc;
	}
	l->track = s->opt.redeliver || l->ninv > 0;
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
	s->on_control = ld_on_control;
	uv_timer_init(s->loop, &l->tick);
	l->tick.data = s;
	uv_timer_start(&l->tick, tick_cb, 1, 1);
	return 0;
}
