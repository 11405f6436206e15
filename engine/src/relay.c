/* Relaying and rating of subscriber-to-subscriber SMS (R9-R12, R17, D5-D8).
 *
 * Per message:  rate (in memory) -> [hold money: prepaid and chargeable]
 *               -> relay (submit_sm) -> record (group commit) -> ESME_ROK
 *
 * What the rating needs lives in memory: subscribers (id, tariff price,
 * prepaid or not, region), pairs (the active dialog, its inviter's region,
 * and the allowance counter of the current day: units used by recorded
 * relays plus units reserved by relays in flight), regions (time zone and
 * the current billing day). PostgreSQL is the source of truth: whatever is
 * missing or stale is looked up (asynchronously, batched with the rest of the
 * loop turn) the first time it is needed; every change by any writer is
 * announced by a trigger on channel 'dialog_cache' and makes the entry stale.
 * The counters are written only by this process (one dialogd per database),
 * so they are never stale: a pair's counter is loaded from pair_usage once
 * and then kept, also across reconnects.
 *
 * The single-threaded loop makes the reservation race-free: two messages
 * competing for the last free unit of a pair are rated one after the other,
 * and only the first gets it.
 *
 * Relayed messages confirmed by the SMSC during one loop turn are recorded
 * by one call of dlg_record_relays() with arrays (usage rows, pair counters,
 * ledger entries, balances, holds released), and only then acknowledged.
 */
#include "relay.h"

#include "ack.h"
#include "pgarray.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/clock.h"
#include "engine/log.h"
#include "engine/msisdn.h"
#include "engine/rating.h"
#include "smpp_gw/codec.h"
#include "smpp_gw/pdu.h"

#define MAX_LOOKUPS 3

/* ---- in-memory tables ------------------------------------------------------ */

struct region {
	char code[65];
	char tz[64];
	int32_t day;           /* current billing day, valid until next_midnight */
	int64_t next_midnight; /* UTC seconds; 0 = not computed */
};

enum sub_state { SUB_UNKNOWN = 0, SUB_ACTIVE, SUB_BLOCKED, SUB_NONE };

/* 24 bytes: with 1M active dialogs there are 2M of these. */
struct sub {
	uint64_t msisdn; /* 0 = empty slot */
	int64_t id;
	int32_t price;   /* kopecks per SMS segment */
	uint16_t region;
	uint8_t state;
	uint8_t prepaid;
};

enum pair_dstate { PAIR_UNKNOWN = 0, PAIR_NONE, PAIR_ACTIVE, PAIR_SUSPENDED };

/* 40 bytes. */
struct pair {
	uint64_t lo, hi; /* lo = 0: empty slot */
	int64_t dialog_id;
	int32_t day;      /* the day the counter is for */
	int32_t used;     /* recorded (or confirmed and being recorded) */
	int32_t reserved; /* held by relays in flight */
	uint16_t inviter_region;
	uint8_t dstate;
	uint8_t counted;  /* the counter of `day` was loaded */
};

struct sub_table {
	struct sub *slots;
	size_t cap, n;
};

struct pair_table {
	struct pair *slots;
	size_t cap, n;
};

/* ---- messages ---------------------------------------------------------------- */

struct rmsg {
	struct eng_relay *r;
	uint64_t token;
	int session;
	uint32_t seq;
	uint64_t src, dst;   /* dst 0: not a canonical number (off-net) */
	char src_s[ENG_MSISDN_LEN + 1];
	char dst_s[ENG_MSISDN_LEN + 1];
	struct smpp_sm sm;   /* payload points to `payload` */
	uint8_t *payload;
	int segments;
	int lookups;
	/* the rating */
	int64_t sub_id;
	int64_t dialog_id;   /* 0: none */
	int32_t pair_day;    /* valid when in_dialog */
	int32_t bill_day;
	int in_dialog;
	int free_segments;
	int64_t price;
	const char *rule;
	int held;
	int64_t at_us;
	char key[40];
	char message_id[66];
	uint64_t fp;         /* what a redelivery repeats (ack.c) */
	int64_t record_failing_since; /* us; 0 = no failed recording */
	uint64_t mark;       /* ack_mark of its row; 0 until recorded */
	struct rmsg *next;
};

struct eng_relay {
	int64_t preload_after;  /* dialog id the next preload chunk starts after */
	int preload_state;      /* 0 not started, 1 running, 2 done */
	int64_t preload_rows;
	int64_t preload_start_us;
	uv_loop_t *loop;
	struct bill_pgq *db;
	struct smpp_esme *esme;
	const struct eng_config *cfg;
	struct region *regions;
	int nregions, capregions;
	struct sub_table subs;
	struct pair_table pairs;
	char boot[24];
	uint64_t next_key;
	int inflight;
	struct rmsg *confirmed, *confirmed_tail; /* waiting to be recorded */
	int nconfirmed;
	struct eng_ack *ack;
	int64_t record_pause_until; /* us: a recording failed, wait before again */
	int64_t record_pause_us;
};

/* Decimal of v into buf (at least 21 bytes); per recorded message, so not
 * through snprintf. */
static char *i64s(int64_t v, char *buf)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	char *p = buf;
	if (v < 0)
		*p++ = '-';
	while (n)
		*p++ = tmp[--n];
	*p = '\0';
	return buf;
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int sub_grow(struct sub_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct sub *s = calloc(cap, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].msisdn)
			continue;
		size_t j = hash64(t->slots[i].msisdn) & (cap - 1);
		while (s[j].msisdn)
			j = (j + 1) & (cap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = cap;
	return 0;
}

/* Find, or with `create` insert, the entry of a number. */
static struct sub *sub_get(struct sub_table *t, uint64_t msisdn, int create)
{
	if (t->cap) {
		size_t j = hash64(msisdn) & (t->cap - 1);
		while (t->slots[j].msisdn) {
			if (t->slots[j].msisdn == msisdn)
				return &t->slots[j];
			j = (j + 1) & (t->cap - 1);
		}
	}
	if (!create)
		return NULL;
	if ((t->n + 1) * 10 > t->cap * 7 && sub_grow(t) != 0)
		return NULL;
	size_t j = hash64(msisdn) & (t->cap - 1);
	while (t->slots[j].msisdn)
		j = (j + 1) & (t->cap - 1);
	memset(&t->slots[j], 0, sizeof t->slots[j]);
	t->slots[j].msisdn = msisdn;
	t->n++;
	return &t->slots[j];
}

static int pair_grow(struct pair_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct pair *s = calloc(cap, sizeof *s);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].lo)
			continue;
		size_t j = hash64(t->slots[i].lo * 31 + t->slots[i].hi) & (cap - 1);
		while (s[j].lo)
			j = (j + 1) & (cap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = cap;
	return 0;
}

static struct pair *pair_get(struct pair_table *t, uint64_t a, uint64_t b, int create)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	if (t->cap) {
		size_t j = hash64(lo * 31 + hi) & (t->cap - 1);
		while (t->slots[j].lo) {
			if (t->slots[j].lo == lo && t->slots[j].hi == hi)
				return &t->slots[j];
			j = (j + 1) & (t->cap - 1);
		}
	}
	if (!create)
		return NULL;
	if ((t->n + 1) * 10 > t->cap * 7 && pair_grow(t) != 0)
		return NULL;
	size_t j = hash64(lo * 31 + hi) & (t->cap - 1);
	while (t->slots[j].lo)
		j = (j + 1) & (t->cap - 1);
	memset(&t->slots[j], 0, sizeof t->slots[j]);
	t->slots[j].lo = lo;
	t->slots[j].hi = hi;
	t->n++;
	return &t->slots[j];
}

/* A region by code, added when new; its time zone is (re)set. Returns the
 * index or -1. */
static int region_put(struct eng_relay *r, const char *code, const char *tz)
{
	for (int i = 0; i < r->nregions; i++)
		if (strcmp(r->regions[i].code, code) == 0) {
			if (strcmp(r->regions[i].tz, tz) != 0) {
				snprintf(r->regions[i].tz, sizeof r->regions[i].tz, "%s", tz);
				r->regions[i].next_midnight = 0;
			}
			return i;
		}
	if (r->nregions == r->capregions) {
		int cap = r->capregions ? r->capregions * 2 : 16;
		struct region *g = realloc(r->regions, (size_t)cap * sizeof *g);
		if (!g)
			return -1;
		r->regions = g;
		r->capregions = cap;
	}
	struct region *g = &r->regions[r->nregions];
	memset(g, 0, sizeof *g);
	snprintf(g->code, sizeof g->code, "%s", code);
	snprintf(g->tz, sizeof g->tz, "%s", tz);
	return r->nregions++;
}

/* The billing day of a region now (D5, D7, D12). */
static int32_t region_day(struct eng_relay *r, int idx, int64_t now_s)
{
	struct region *g = &r->regions[idx];
	if (now_s >= g->next_midnight || g->next_midnight == 0 ||
	    now_s < g->next_midnight - 2 * 86400) {
		if (eng_tz_day(g->tz, now_s, &g->day, &g->next_midnight) != 0) {
			ENG_ERROR("relay", "bad_time_zone", "region=%s tz=%s", g->code, g->tz);
			g->day = (int32_t)(now_s / 86400);
			g->next_midnight = now_s + 60;
		}
	}
	return g->day;
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 10);
}

/* ---- message life -------------------------------------------------------------- */

static void msg_done(struct rmsg *m, uint32_t status)
{
	struct eng_relay *r = m->r;
	eng__ack_respond(r->ack, r->esme, m->token, status, m->mark, m->fp, eng_now_us());
	r->inflight--;
	free(m->payload);
	free(m);
}

/* Give back the allowance units the message reserved. */
static void release_units(struct rmsg *m)
{
	if (!m->in_dialog || m->free_segments == 0)
		return;
	struct pair *p = pair_get(&m->r->pairs, m->src, m->dst, 0);
	if (p && p->day == m->pair_day) {
		p->reserved -= m->free_segments;
		if (p->reserved < 0)
			p->reserved = 0;
	}
}

static void noop_done(void *data, int status, PGresult *const *res, int n)
{
	if (status != 0)
		ENG_ERROR("relay", "hold_release_failed", "status=%d", status);
}

static void release_hold(struct rmsg *m)
{
	if (!m->held)
		return;
	struct bill_pgq_job *j = bill_pgq_job_new(noop_done, NULL);
	if (!j)
		return;
	const char *p[] = {m->key};
	bill_pgq_job_add(j, "DELETE FROM sms_hold WHERE relay_key = $1", 1, p);
	bill_pgq_submit(m->r->db, j);
	m->held = 0;
}

static void fail_temporary(struct rmsg *m, const char *why)
{
	release_units(m);
	release_hold(m);
	ENG_NOTICE("relay", "not_relayed",
		   "session=%d seq=%" PRIu32 " src=%s reason=%s answer=ESME_RX_T_APPN", m->session,
		   m->seq, m->src_s, why);
	msg_done(m, SMPP_ESME_RX_T_APPN);
}

static void submitted(struct smpp_esme *e, void *data, int status, const char *message_id)
{
	struct rmsg *m = data;
	struct eng_relay *r = m->r;
	if (status != 0) {
		char why[64];
		snprintf(why, sizeof why, "%s",
			 status > 0 ? smpp_status_name((uint32_t)status) : strerror(-status));
		for (char *c = why; *c; c++)
			if (*c == ' ')
				*c = '_';
		fail_temporary(m, why);
		return;
	}
	size_t ml = message_id ? strnlen(message_id, sizeof m->message_id - 1) : 0;
	memcpy(m->message_id, message_id ? message_id : "", ml);
	m->message_id[ml] = '\0';
	/* The unit is spent: reserved -> used. */
	if (m->in_dialog && m->free_segments) {
		struct pair *p = pair_get(&r->pairs, m->src, m->dst, 0);
		if (p && p->day == m->pair_day) {
			p->reserved -= m->free_segments;
			if (p->reserved < 0)
				p->reserved = 0;
			p->used += m->free_segments;
		}
	}
	m->next = NULL;
	if (r->confirmed_tail)
		r->confirmed_tail->next = m;
	else
		r->confirmed = m;
	r->confirmed_tail = m;
	r->nconfirmed++;
}

static void relay_submit(struct rmsg *m)
{
	if (!m->r->esme) {
		fail_temporary(m, "smsc_not_bound");
		return;
	}
	int rc = smpp_esme_submit(m->r->esme, &m->sm, submitted, m);
	if (rc != 0)
		fail_temporary(m, "submit_refused");
}

static void hold_done(void *data, int status, PGresult *const *res, int n)
{
	struct rmsg *m = data;
	if (status != 0) {
		fail_temporary(m, "database");
		return;
	}
	if (n < 1 || PQntuples(res[0]) != 1 || strcmp(PQgetvalue(res[0], 0, 0), "t") != 0) {
		/* R17: a chargeable message that cannot be paid is rejected back
		 * to the SMSC and not relayed. */
		release_units(m);
		ENG_NOTICE("relay", "unpaid",
			   "session=%d seq=%" PRIu32 " src=%s amount=%" PRId64
			   " rule=R17 answer=ESME_RX_R_APPN",
			   m->session, m->seq, m->src_s,
			   (int64_t)(m->segments - m->free_segments) * m->price);
		msg_done(m, SMPP_ESME_RX_R_APPN);
		return;
	}
	m->held = 1;
	relay_submit(m);
}

static void lookup(struct rmsg *m);

/* Rate a message whose subscribers and pair are known, then hold / relay. */
static void rate(struct rmsg *m)
{
	struct eng_relay *r = m->r;
	struct sub *s = sub_get(&r->subs, m->src, 0);
	if (s->state != SUB_ACTIVE) {
		/* D8: the engine cannot rate a message from a number that is not
		 * a provisioned active subscriber. */
		ENG_NOTICE("relay", "unknown_sender",
			   "session=%d seq=%" PRIu32 " src=%s state=%s rule=D8 answer=ESME_RX_R_APPN",
			   m->session, m->seq, m->src_s,
			   s->state == SUB_BLOCKED ? "blocked" : "not_a_subscriber");
		msg_done(m, SMPP_ESME_RX_R_APPN);
		return;
	}
	int64_t now_s = m->at_us / 1000000;
	m->sub_id = s->id;
	m->price = s->price;
	m->bill_day = region_day(r, s->region, now_s); /* D7: the payer's day */
	struct pair *p = m->dst ? pair_get(&r->pairs, m->src, m->dst, 0) : NULL;
	int used = 0;
	m->in_dialog = p && p->dstate == PAIR_ACTIVE; /* suspended: rated R11 (D13) */
	if (m->in_dialog) {
		int32_t day = region_day(r, p->inviter_region, now_s); /* D5 */
		if (p->day != day || !p->counted) {
			if (!p->counted && m->lookups < MAX_LOOKUPS) {
				lookup(m); /* load the day's counter first */
				return;
			}
			if (p->day != day) {
				p->day = day;
				p->used = 0;
				p->reserved = 0;
			}
			p->counted = 1;
		}
		m->dialog_id = p->dialog_id;
		m->pair_day = day;
		used = p->used + p->reserved;
	}
	struct eng_rate_in in = {m->segments, m->in_dialog, r->cfg->service.daily_allowance, used,
				 m->price};
	struct eng_rate_out out;
	eng_rate(&in, &out);
	m->free_segments = out.free_segments;
	m->rule = out.rule;
	if (m->in_dialog)
		p->reserved += out.free_segments;
	size_t bl = strlen(r->boot);
	memcpy(m->key, r->boot, bl);
	m->key[bl] = ':';
	i64s((int64_t)++r->next_key, m->key + bl + 1);
	if (out.amount > 0 && s->prepaid) {
		struct bill_pgq_job *j = bill_pgq_job_new(hold_done, m);
		if (!j) {
			fail_temporary(m, "out_of_memory");
			return;
		}
		char sid[24], amount[24], now[40];
		snprintf(sid, sizeof sid, "%" PRId64, m->sub_id);
		snprintf(amount, sizeof amount, "%" PRId64, out.amount);
		const char *prm[] = {m->key, sid, amount, eng_now_param(now)};
		bill_pgq_job_add(j, "SELECT dlg_hold($1, $2, $3, $4::timestamptz)", 4, prm);
		bill_pgq_submit(r->db, j);
		return;
	}
	relay_submit(m);
}

static int need_lookup(struct eng_relay *r, const struct rmsg *m)
{
	const struct sub *s = sub_get(&r->subs, m->src, 0);
	if (!s || s->state == SUB_UNKNOWN)
		return 1;
	if (!m->dst)
		return 0;
	const struct sub *d = sub_get(&r->subs, m->dst, 0);
	const struct pair *p = pair_get(&r->pairs, m->src, m->dst, 0);
	return !d || d->state == SUB_UNKNOWN || !p || p->dstate == PAIR_UNKNOWN;
}

static void rate_or_lookup(struct rmsg *m)
{
	if (need_lookup(m->r, m)) {
		if (m->lookups >= MAX_LOOKUPS) {
			fail_temporary(m, "lookup_unstable");
			return;
		}
		lookup(m);
		return;
	}
	rate(m);
}

static void lookup_done(void *data, int status, PGresult *const *res, int n)
{
	struct rmsg *m = data;
	struct eng_relay *r = m->r;
	m->lookups++;
	if (status != 0) {
		fail_temporary(m, "database");
		return;
	}
	/* 0: subscribers; 1: the pair's open dialog; 2: the pair's counters */
	int found_src = 0, found_dst = 0;
	for (int i = 0; i < PQntuples(res[0]); i++) {
		uint64_t msisdn = num(PQgetvalue(res[0], i, 0));
		struct sub *s = sub_get(&r->subs, msisdn, 1);
		if (!s) {
			fail_temporary(m, "out_of_memory");
			return;
		}
		int reg = region_put(r, PQgetvalue(res[0], i, 5), PQgetvalue(res[0], i, 6));
		s->id = strtoll(PQgetvalue(res[0], i, 1), NULL, 10);
		s->state = strcmp(PQgetvalue(res[0], i, 2), "active") == 0 ? SUB_ACTIVE : SUB_BLOCKED;
		s->prepaid = strcmp(PQgetvalue(res[0], i, 3), "prepaid") == 0;
		s->price = (int32_t)strtol(PQgetvalue(res[0], i, 4), NULL, 10);
		s->region = (uint16_t)(reg < 0 ? 0 : reg);
		if (reg < 0)
			s->state = SUB_UNKNOWN;
		found_src |= msisdn == m->src;
		found_dst |= msisdn == m->dst;
	}
	if (!found_src) {
		struct sub *s = sub_get(&r->subs, m->src, 1);
		if (s)
			s->state = SUB_NONE;
	}
	if (m->dst && !found_dst) {
		struct sub *s = sub_get(&r->subs, m->dst, 1);
		if (s)
			s->state = SUB_NONE;
	}
	if (m->dst && n >= 3) {
		struct pair *p = pair_get(&r->pairs, m->src, m->dst, 1);
		if (!p) {
			fail_temporary(m, "out_of_memory");
			return;
		}
		if (PQntuples(res[1]) == 1) {
			p->dialog_id = strtoll(PQgetvalue(res[1], 0, 0), NULL, 10);
			p->dstate = strcmp(PQgetvalue(res[1], 0, 1), "active") == 0 ? PAIR_ACTIVE
										    : PAIR_SUSPENDED;
			int reg = region_put(r, PQgetvalue(res[1], 0, 2), PQgetvalue(res[1], 0, 3));
			p->inviter_region = (uint16_t)(reg < 0 ? 0 : reg);
			if (p->dstate == PAIR_ACTIVE && !p->counted && reg >= 0) {
				int32_t day = region_day(r, reg, m->at_us / 1000000);
				int db_used = 0;
				for (int i = 0; i < PQntuples(res[2]); i++)
					if (atoi(PQgetvalue(res[2], i, 0)) == day)
						db_used = atoi(PQgetvalue(res[2], i, 1));
				if (p->day != day) {
					p->day = day;
					p->reserved = 0;
					p->used = 0;
				}
				if (db_used > p->used)
					p->used = db_used;
				p->counted = 1;
			}
		} else {
			p->dialog_id = 0;
			p->dstate = PAIR_NONE;
		}
	}
	rate_or_lookup(m);
}

/* Load the sender, the destination and their pair (dialog, counters). */
static void lookup(struct rmsg *m)
{
	struct eng_relay *r = m->r;
	struct bill_pgq_job *j = bill_pgq_job_new(lookup_done, m);
	if (!j) {
		fail_temporary(m, "out_of_memory");
		return;
	}
	char nums[32], lo[16], hi[16];
	snprintf(nums, sizeof nums, "{%s%s%s}", m->src_s, m->dst ? "," : "", m->dst ? m->dst_s : "");
	const char *p1[] = {nums};
	bill_pgq_job_add(j,
			 "SELECT s.msisdn, s.id, s.status, s.account_type, t.sms_price, r.code, r.tz "
			 "FROM subscriber s JOIN tariff t ON t.code = s.tariff "
			 "JOIN region r ON r.code = s.region "
			 "WHERE s.msisdn = ANY ($1::text[]) AND s.retired_at IS NULL",
			 1, p1);
	if (m->dst) {
		snprintf(lo, sizeof lo, "%s", m->src < m->dst ? m->src_s : m->dst_s);
		snprintf(hi, sizeof hi, "%s", m->src < m->dst ? m->dst_s : m->src_s);
		const char *p2[] = {lo, hi};
		bill_pgq_job_add(j,
				 "SELECT d.id, d.state, r.code, r.tz FROM dialog d "
				 "JOIN subscriber si ON si.id = d.inviter_id "
				 "JOIN region r ON r.code = si.region "
				 "WHERE least(d.inviter, d.invitee) = $1 "
				 "AND greatest(d.inviter, d.invitee) = $2 "
				 "AND d.state IN ('active', 'suspended') ORDER BY d.id DESC LIMIT 1",
				 2, p2);
		char day[12];
		eng_format_day((int32_t)(m->at_us / 1000000 / 86400), day);
		const char *p3[] = {lo, hi, day};
		bill_pgq_job_add(j,
				 "SELECT day - DATE '1970-01-01', used FROM pair_usage "
				 "WHERE pair_lo = $1 AND pair_hi = $2 AND day >= $3::date - 1",
				 3, p3);
	}
	bill_pgq_submit(r->db, j);
}

void eng__relay_mo(struct eng_relay *r, const struct smpp_mo *mo, const char *src, uint64_t fp)
{
	struct rmsg *m = calloc(1, sizeof *m);
	uint8_t *payload = malloc(mo->sm.payload_len ? mo->sm.payload_len : 1);
	if (!m || !payload) {
		free(m);
		free(payload);
		smpp_esme_respond(r->esme, mo->token, SMPP_ESME_RX_T_APPN);
		return;
	}
	r->inflight++;
	m->r = r;
	m->token = mo->token;
	m->fp = fp;
	m->session = mo->session;
	m->seq = mo->seq;
	m->at_us = eng_now_us();
	snprintf(m->src_s, sizeof m->src_s, "%s", src);
	m->src = num(src);
	if (eng_msisdn_from_smpp(mo->sm.dst.ton, mo->sm.dst.addr, m->dst_s) == 0)
		m->dst = num(m->dst_s);
	/* The relayed submit_sm keeps source, destination, data_coding,
	 * esm_class, UDH and payload byte for byte, and registered_delivery. */
	m->sm = mo->sm;
	memcpy(payload, mo->sm.payload, mo->sm.payload_len);
	m->payload = payload;
	m->sm.payload = payload;
	m->sm.has_receipted_message_id = false;
	m->sm.message_state = -1;
	m->segments = smpp_segments_needed(mo->sm.data_coding, mo->sm.esm_class, payload,
					   mo->sm.payload_len);
	if (m->segments < 1)
		m->segments = 1;
	rate_or_lookup(m);
}

/* ---- recording ------------------------------------------------------------------ */

struct record_batch {
	struct eng_relay *r;
	struct bill_pgq *q;
	struct rmsg *msgs;
	int n;
};

/* Give relays back to the list waiting to be recorded. */
static void requeue(struct eng_relay *r, struct rmsg *m, int n)
{
	struct rmsg *last = m;
	while (last && last->next)
		last = last->next;
	if (!last)
		return;
	last->next = r->confirmed;
	r->confirmed = m;
	if (!r->confirmed_tail)
		r->confirmed_tail = last;
	r->nconfirmed += n;
}

/* How long relays the SMSC accepted are kept while their recording fails
 * (a full disk, a broken statement) before their MO is answered 0x64. */
#define RECORD_GIVE_UP_US (600LL * 1000000)
#define RECORD_PAUSE_MAX_US (5LL * 1000000)

static void record_done(void *data, int status, PGresult *const *res, int n)
{
	struct record_batch *b = data;
	struct eng_relay *r = b->r;
	struct rmsg *m = b->msgs;
	if (status == -EAGAIN) {
		/* Relayed but not recorded yet: keep them, record again when the
		 * database is back; their deliver_sm stay unanswered meanwhile. */
		requeue(r, m, b->n);
		free(b);
		return;
	}
	if (status == 0) {
		r->record_pause_us = 0;
		while (m) {
			struct rmsg *next = m->next;
			msg_done(m, SMPP_ESME_ROK);
			m = next;
		}
		free(b);
		return;
	}
	/* The statement failed (e.g. disk full). These messages reached their
	 * peers: answering 0x64 would make the SMSC deliver them again and
	 * relay them twice. Keep them and try again after a pause (1 s
	 * doubling to 5 s); their deliver_sm stay unanswered, which slows the
	 * SMSC down. Only after RECORD_GIVE_UP_US is an MO answered 0x64. */
	int64_t now = eng_now_us();
	r->record_pause_us = r->record_pause_us ? r->record_pause_us * 2 : 1000000;
	if (r->record_pause_us > RECORD_PAUSE_MAX_US)
		r->record_pause_us = RECORD_PAUSE_MAX_US;
	r->record_pause_until = now + r->record_pause_us;
	struct rmsg *keep = NULL, **tail = &keep;
	int kept = 0, given_up = 0;
	while (m) {
		struct rmsg *next = m->next;
		if (!m->record_failing_since)
			m->record_failing_since = now;
		if (now - m->record_failing_since >= RECORD_GIVE_UP_US) {
			release_hold(m);
			msg_done(m, SMPP_ESME_RX_T_APPN);
			given_up++;
		} else {
			m->next = NULL;
			*tail = m;
			tail = &m->next;
			kept++;
		}
		m = next;
	}
	ENG_ERROR("relay", "record_failed",
		  "messages=%d status=%d kept=%d given_up=%d retry_ms=%" PRId64
		  " error=\"%s\"",
		  b->n, status, kept, given_up, r->record_pause_us / 1000,
		  status == -EINVAL ? bill_pgq_error(b->q) : "");
	requeue(r, keep, kept);
	free(b);
}

void eng__relay_before_batch(struct eng_relay *r, struct bill_pgq *q)
{
	if (!r->confirmed)
		return;
	if (r->record_pause_until && eng_now_us() < r->record_pause_until)
		return; /* a recording failed a moment ago (the engine's 1 s timer wakes us) */
	struct record_batch *b = calloc(1, sizeof *b);
	struct bill_pgq_job *j = b ? bill_pgq_job_new(record_done, b) : NULL;
	if (!j) {
		free(b);
		return; /* try again next turn */
	}
	b->r = r;
	b->q = q;
	b->msgs = r->confirmed;
	b->n = r->nconfirmed;
	r->confirmed = r->confirmed_tail = NULL;
	r->nconfirmed = 0;
	/* One mark for the messages recorded for the first time; a retry after
	 * a lost connection keeps the mark its row may already have. */
	int fresh = 0;
	for (struct rmsg *m = b->msgs; m; m = m->next)
		fresh += m->mark == 0;
	if (fresh && r->ack) {
		uint64_t mark = eng__ack_mark(r->ack, fresh);
		for (struct rmsg *m = b->msgs; m; m = m->next)
			if (m->mark == 0)
				m->mark = mark;
	}
	struct eng_arr a[15];
	memset(a, 0, sizeof a);
	int rc = 0;
	for (struct rmsg *m = b->msgs; m && rc == 0; m = m->next) {
		char at[40], sub[24], dialog[24], pday[12], segs[12], fr[12], price[24], bday[12];
		eng_format_instant_us(m->at_us, at);
		i64s(m->sub_id, sub);
		i64s(m->dialog_id, dialog);
		eng_format_day(m->pair_day, pday);
		i64s(m->segments, segs);
		i64s(m->free_segments, fr);
		i64s(m->price, price);
		eng_format_day(m->bill_day, bday);
		const char *dst = m->dst ? m->dst_s : m->sm.dst.addr;
		rc |= eng__arr_put(&a[0], m->key, 1);
		rc |= eng__arr_put(&a[1], at, 1);
		rc |= eng__arr_put(&a[2], m->src_s, 1);
		rc |= eng__arr_put(&a[3], dst, 1);
		rc |= eng__arr_put(&a[4], sub, 0);
		rc |= eng__arr_put(&a[5], m->in_dialog ? dialog : NULL, 0);
		rc |= eng__arr_put(&a[6], m->in_dialog ? pday : NULL, 1);
		rc |= eng__arr_put(&a[7], segs, 0);
		rc |= eng__arr_put(&a[8], fr, 0);
		rc |= eng__arr_put(&a[9], price, 0);
		rc |= eng__arr_put(&a[10], m->rule, 1);
		rc |= eng__arr_put(&a[11], bday, 1);
		rc |= eng__arr_put(&a[12], m->message_id, 1);
		char mk[24], fp[24];
		i64s((int64_t)m->mark, mk);
		i64s((int64_t)m->fp, fp);
		rc |= eng__arr_put(&a[13], m->mark ? mk : NULL, 0);
		rc |= eng__arr_put(&a[14], fp, 0);
	}
	const char *p[15];
	for (int i = 0; i < 15; i++)
		p[i] = eng__arr_end(&a[i]);
	if (rc == 0)
		rc = bill_pgq_job_add(j,
				      "SELECT dlg_record_relays($1::text[], $2::timestamptz[], "
				      "$3::text[], $4::text[], $5::bigint[], $6::bigint[], "
				      "$7::date[], $8::integer[], $9::integer[], $10::bigint[], "
				      "$11::text[], $12::date[], $13::text[], $14::bigint[], "
				      "$15::bigint[])",
				      15, p);
	for (int i = 0; i < 15; i++)
		free(a[i].s);
	bill_pgq_submit(q, j); /* on a failed add the job fails alone */
}

/* ---- preload ---------------------------------------------------------------------- */

#define PRELOAD_CHUNK 20000

static void preload_next(struct eng_relay *r);

static void preload_sub(struct eng_relay *r, const PGresult *res, int row, int col)
{
	struct sub *s = sub_get(&r->subs, num(PQgetvalue(res, row, col)), 1);
	if (!s)
		return;
	int reg = region_put(r, PQgetvalue(res, row, col + 5), PQgetvalue(res, row, col + 6));
	s->id = strtoll(PQgetvalue(res, row, col + 1), NULL, 10);
	s->state = reg < 0 ? SUB_UNKNOWN
			   : strcmp(PQgetvalue(res, row, col + 2), "active") == 0 ? SUB_ACTIVE
										  : SUB_BLOCKED;
	s->prepaid = strcmp(PQgetvalue(res, row, col + 3), "prepaid") == 0;
	s->price = (int32_t)strtol(PQgetvalue(res, row, col + 4), NULL, 10);
	s->region = (uint16_t)(reg < 0 ? 0 : reg);
}

static void preload_done(void *data, int status, PGresult *const *res, int n)
{
	struct eng_relay *r = data;
	if (status != 0) {
		r->preload_state = 0; /* again at the next db_up */
		return;
	}
	const PGresult *q = res[0];
	int rows = PQntuples(q);
	int64_t now_s = eng_now_us() / 1000000;
	for (int i = 0; i < rows; i++) {
		/* 0 id, 1 state, 2 day used, 3.. inviter (7 cols), 10.. invitee (7 cols) */
		preload_sub(r, q, i, 3);
		preload_sub(r, q, i, 10);
		uint64_t a = num(PQgetvalue(q, i, 3)), b = num(PQgetvalue(q, i, 10));
		struct pair *p = pair_get(&r->pairs, a, b, 1);
		if (!p)
			break;
		p->dialog_id = strtoll(PQgetvalue(q, i, 0), NULL, 10);
		p->dstate = strcmp(PQgetvalue(q, i, 1), "active") == 0 ? PAIR_ACTIVE : PAIR_SUSPENDED;
		const struct sub *inv = sub_get(&r->subs, a, 0);
		p->inviter_region = inv ? inv->region : 0;
		if (!p->counted && inv && inv->state != SUB_UNKNOWN) {
			p->day = region_day(r, inv->region, now_s);
			p->used = atoi(PQgetvalue(q, i, 2));
			p->reserved = 0;
			p->counted = 1;
		}
		r->preload_after = p->dialog_id;
	}
	r->preload_rows += rows;
	if (rows == PRELOAD_CHUNK) {
		preload_next(r);
		return;
	}
	r->preload_state = 2;
	ENG_INFO("relay", "preloaded", "dialogs=%" PRId64 " subscribers=%zu ms=%" PRId64,
		 r->preload_rows, r->subs.n, (eng_now_us() - r->preload_start_us) / 1000);
}

/* Load the open dialogs, their subscribers and today's counters in chunks,
 * so that the first message of a pair needs no look-up. */
static void preload_next(struct eng_relay *r)
{
	struct bill_pgq_job *j = bill_pgq_job_new(preload_done, r);
	if (!j)
		return;
	char after[24], now[40], limit[12];
	snprintf(after, sizeof after, "%" PRId64, r->preload_after);
	snprintf(limit, sizeof limit, "%d", PRELOAD_CHUNK);
	const char *p[] = {after, eng_now_param(now), limit};
	bill_pgq_job_add(j,
			 "SELECT d.id, d.state, coalesce(u.used, 0), "
			 "si.msisdn, si.id, si.status, si.account_type, ti.sms_price, ri.code, ri.tz, "
			 "se.msisdn, se.id, se.status, se.account_type, te.sms_price, re.code, re.tz "
			 "FROM dialog d "
			 "JOIN subscriber si ON si.id = d.inviter_id JOIN tariff ti ON ti.code = si.tariff "
			 "JOIN region ri ON ri.code = si.region "
			 "JOIN subscriber se ON se.id = d.invitee_id JOIN tariff te ON te.code = se.tariff "
			 "JOIN region re ON re.code = se.region "
			 "LEFT JOIN pair_usage u ON u.pair_lo = least(d.inviter, d.invitee) "
			 "AND u.pair_hi = greatest(d.inviter, d.invitee) "
			 "AND u.day = dlg_local_day($2::timestamptz, ri.tz) "
			 "WHERE d.state IN ('active', 'suspended') AND d.id > $1 "
			 "ORDER BY d.id LIMIT $3",
			 3, p);
	bill_pgq_submit(r->db, j);
}

/* ---- cache maintenance ---------------------------------------------------------- */

static void forget_all(struct eng_relay *r)
{
	for (size_t i = 0; i < r->subs.cap; i++)
		if (r->subs.slots[i].msisdn)
			r->subs.slots[i].state = SUB_UNKNOWN;
	for (size_t i = 0; i < r->pairs.cap; i++)
		if (r->pairs.slots[i].lo)
			r->pairs.slots[i].dstate = PAIR_UNKNOWN;
	for (int i = 0; i < r->nregions; i++)
		r->regions[i].next_midnight = 0;
}

static void orphans_done(void *data, int status, PGresult *const *res, int n)
{
	if (status != 0) {
		ENG_ERROR("relay", "orphan_holds_failed", "status=%d", status);
		return;
	}
	if (n >= 1 && strcmp(PQcmdTuples(res[0]), "0") != 0)
		ENG_NOTICE("relay", "orphan_holds_released", "holds=%s", PQcmdTuples(res[0]));
}

void eng__relay_db_up(struct eng_relay *r)
{
	/* Notifications may have been missed while the connection was down. */
	forget_all(r);
	/* Money held by an earlier engine that died between the hold and the
	 * record (R17) is released: there is one dialogd per database (engine
	 * lock), and this one's relay keys start with its boot id, so any other
	 * relay hold ("<hex boot>:<n>") is an orphan. Holds with other keys
	 * (operator fees awaiting an answer) are not the engine's. */
	struct bill_pgq_job *oj = bill_pgq_job_new(orphans_done, r);
	if (oj) {
		char like[40];
		snprintf(like, sizeof like, "%s:%%", r->boot);
		const char *p[] = {like};
		bill_pgq_job_add(oj,
				 "DELETE FROM sms_hold WHERE relay_key ~ '^[0-9a-f]+:[0-9]+$' "
				 "AND relay_key NOT LIKE $1",
				 1, p);
		bill_pgq_submit(r->db, oj);
	}
	if (r->preload_state == 0) {
		r->preload_state = 1;
		r->preload_after = 0;
		r->preload_rows = 0;
		r->preload_start_us = eng_now_us();
		preload_next(r);
	}
}

void eng__relay_notify(struct eng_relay *r, const char *payload)
{
	char kind = payload[0];
	if (kind == 's') {
		struct sub *s = sub_get(&r->subs, num(payload + 2), 0);
		if (s)
			s->state = SUB_UNKNOWN;
	} else if (kind == 'd') {
		const char *sp = strchr(payload + 2, ' ');
		if (!sp)
			return;
		struct pair *p = pair_get(&r->pairs, num(payload + 2), num(sp + 1), 0);
		if (p)
			p->dstate = PAIR_UNKNOWN;
	} else {
		/* a region's zone or a tariff's price changed: rare, forget all */
		forget_all(r);
	}
}

struct eng_relay *eng__relay_new(uv_loop_t *loop, struct bill_pgq *db,
				 const struct eng_config *cfg)
{
	struct eng_relay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->loop = loop;
	r->db = db;
	r->cfg = cfg;
	snprintf(r->boot, sizeof r->boot, "%" PRIx64 "%x", (uint64_t)eng_now_us(),
		 (unsigned)uv_os_getpid() & 0xffff);
	return r;
}

void eng__relay_set_esme(struct eng_relay *r, struct smpp_esme *e)
{
	r->esme = e;
}

void eng__relay_set_ack(struct eng_relay *r, struct eng_ack *a)
{
	r->ack = a;
}

int eng__relay_inflight(const struct eng_relay *r)
{
	return r->inflight;
}

void eng__relay_free(struct eng_relay *r)
{
	if (!r)
		return;
	struct rmsg *m = r->confirmed;
	while (m) {
		struct rmsg *next = m->next;
		free(m->payload);
		free(m);
		m = next;
	}
	free(r->subs.slots);
	free(r->pairs.slots);
	free(r->regions);
	free(r);
}
