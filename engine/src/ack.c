/* Redelivery after a lost acknowledgement (R16: nothing twice).
 *
 * SMPP gives a deliver_sm no identity. When dialogd commits an MO's effect
 * and answers ESME_ROK, but the SMSC never reads that answer — the link
 * drops, or dialogd dies between the commit and the write — the SMSC
 * delivers the same MO again, and a naive engine relays and charges it
 * twice. This module knows which committed MOs the SMSC may not have heard
 * about, and recognises their redelivery:
 *
 *   mark      every committed MO row carries ack_mark = (run << 32 | k), k
 *             counting up per batch/job in this process;
 *   confirm   after writing answers, smpp_esme sends an enquire_link on the
 *             link; its response proves the SMSC read every answer written
 *             before it (on_confirmed, lost = 0);
 *   suspect   answers on a lost link that were not confirmed, and answers
 *             that could not be written, become suspects: their fingerprint
 *             (src, dst, data_coding, esm_class, payload) is kept for the
 *             redelivery window, and an MO arriving with that fingerprint is
 *             answered ESME_ROK without a second effect. Suspects are stored
 *             (table ack_suspect, with the next batch) and only then settle
 *             their mark, so they survive a crash without holding the
 *             watermark back;
 *   watermark every committed MO with a mark at or below it is settled
 *             (confirmed, stored as a suspect, or needed no watching).
 *             dialogd stores it in engine_ack; at start-up the rows above the
 *             previous run's watermark join ack_suspect (dlg_ack_begin).
 *
 * The price: an identical message (same sender, peer and text) sent again
 * inside the window right after a link loss or crash is taken for the
 * redelivery. A window of 0 turns the matching off.
 */
#include "ack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smpp_gw/esme.h"
#include "smpp_gw/pdu.h"

#define NBUCKETS 4096u
/* On a mark handed out by eng__ack_match: when this answer settles (read by
 * the SMSC, or itself stored as a suspect), forget the stored suspect it
 * answered — not before, or a crash in between would lose both. */
#define FORGET_BIT (1ULL << 63)

struct lent {
	uint64_t ord, mark, fp;
};

struct lfifo {
	struct lent *e;
	size_t cap, head, n;
};

struct suspect {
	struct suspect *next;
	uint64_t fp;
	int64_t expires_us;
};

struct eng_ack {
	uint32_t run;
	int64_t window_us;
	/* open marks: counts of MOs not yet settled, marks head_k .. last_k */
	int32_t *cnt;
	size_t cap, head, n;
	uint64_t head_k, last_k;
	struct eng_ack_suspect *add; /* new suspects to store */
	size_t nadd, capadd;
	uint64_t *forget;           /* matched suspects to forget */
	size_t nforget, capforget;
	struct lfifo *links;
	int nlinks;
	struct suspect *buckets[NBUCKETS];
	size_t nsuspects;
	uint64_t matched;
};

struct eng_ack *eng__ack_new(uint32_t run)
{
	struct eng_ack *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->run = run;
	a->head_k = 1;
	a->window_us = 300LL * 1000000;
	return a;
}

void eng__ack_free(struct eng_ack *a)
{
	if (!a)
		return;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct suspect *s = a->buckets[b];
		while (s) {
			struct suspect *next = s->next;
			free(s);
			s = next;
		}
	}
	for (int i = 0; i < a->nlinks; i++)
		free(a->links[i].e);
	free(a->links);
	free(a->cnt);
	free(a->add);
	free(a->forget);
	free(a);
}

void eng__ack_set_window(struct eng_ack *a, int64_t window_us)
{
	a->window_us = window_us;
}

uint64_t eng__ack_fp(const char *src, const char *dst, unsigned dcs, unsigned esm,
		     const uint8_t *payload, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
#define MIX(byte) (h = (h ^ (uint8_t)(byte)) * 0x100000001b3ULL)
	for (const char *c = src; *c; c++)
		MIX(*c);
	MIX(0);
	for (const char *c = dst; *c; c++)
		MIX(*c);
	MIX(0);
	MIX(dcs);
	MIX(esm);
	for (size_t i = 0; i < len; i++)
		MIX(payload[i]);
#undef MIX
	return h;
}

uint64_t eng__ack_mark(struct eng_ack *a, int n)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		int32_t *c = malloc(cap * sizeof *c);
		if (!c)
			return 0; /* out of memory: unwatched */
		for (size_t i = 0; i < a->n; i++)
			c[i] = a->cnt[(a->head + i) % a->cap];
		free(a->cnt);
		a->cnt = c;
		a->cap = cap;
		a->head = 0;
	}
	a->cnt[(a->head + a->n) % a->cap] = n;
	a->n++;
	a->last_k++;
	return ((uint64_t)a->run << 32) | a->last_k;
}

/* Room for one more element in a growable array; 0 or -1 (out of memory). */
static int room(void **arr, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, c * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

static int forget_push(struct eng_ack *a, uint64_t fp)
{
	if (room((void **)&a->forget, a->nforget, &a->capforget, sizeof *a->forget) != 0)
		return -1; /* the row stays: one extra suspect after a restart */
	a->forget[a->nforget++] = fp;
	return 0;
}

static int add_push(struct eng_ack *a, struct eng_ack_suspect sp)
{
	if (room((void **)&a->add, a->nadd, &a->capadd, sizeof *a->add) != 0)
		return -1;
	a->add[a->nadd++] = sp;
	return 0;
}

void eng__ack_done(struct eng_ack *a, uint64_t mark)
{
	mark &= ~FORGET_BIT;
	if (mark == 0)
		return;
	uint64_t k = mark & 0xFFFFFFFFu;
	if ((mark >> 32) != a->run || k < a->head_k || k > a->last_k)
		return;
	a->cnt[(a->head + (k - a->head_k)) % a->cap]--;
	while (a->n && a->cnt[a->head] <= 0) {
		a->head = (a->head + 1) % a->cap;
		a->n--;
		a->head_k++;
	}
}

static struct lfifo *link_fifo(struct eng_ack *a, int link)
{
	if (link < 0 || link > 4096)
		return NULL;
	if (link >= a->nlinks) {
		struct lfifo *l = realloc(a->links, (size_t)(link + 1) * sizeof *l);
		if (!l)
			return NULL;
		memset(l + a->nlinks, 0, (size_t)(link + 1 - a->nlinks) * sizeof *l);
		a->links = l;
		a->nlinks = link + 1;
	}
	return &a->links[link];
}

static int suspect_insert(struct eng_ack *a, uint64_t fp, int64_t expires_us)
{
	struct suspect *s = malloc(sizeof *s);
	if (!s)
		return -1;
	s->fp = fp;
	s->expires_us = expires_us;
	unsigned b = (unsigned)(fp % NBUCKETS);
	s->next = a->buckets[b];
	a->buckets[b] = s;
	a->nsuspects++;
	return 0;
}

/* A committed MO of `mark` the SMSC may deliver again: watch for it, and
 * store it; its mark settles when the store commits. */
static void suspect_add(struct eng_ack *a, uint64_t mark, uint64_t fp, int64_t expires_us)
{
	/* the answer to a redelivery lost again: the new suspect row replaces
	 * the old one (forgotten in the same change set, once queued) */
	int replace = (mark & FORGET_BIT) != 0;
	mark &= ~FORGET_BIT;
	if (a->window_us <= 0) {
		if (replace)
			forget_push(a, fp);
		eng__ack_done(a, mark);
		return;
	}
	suspect_insert(a, fp, expires_us); /* out of memory: stored all the same */
	if (add_push(a, (struct eng_ack_suspect){mark, fp, expires_us}) != 0)
		return; /* cannot store it: its mark holds the watermark for the rest
			 * of the run, and the old row stays */
	if (replace)
		forget_push(a, fp);
}

void eng__ack_sent(struct eng_ack *a, uint64_t mark, uint64_t fp, int link, uint64_t ord)
{
	if (!mark)
		return;
	struct lfifo *l = link_fifo(a, link);
	if (l && l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct lent *e = malloc(cap * sizeof *e);
		if (e) {
			for (size_t i = 0; i < l->n; i++)
				e[i] = l->e[(l->head + i) % l->cap];
			free(l->e);
			l->e = e;
			l->cap = cap;
			l->head = 0;
		}
	}
	if (!l || l->n == l->cap) {
		eng__ack_done(a, mark); /* out of memory: cannot watch it */
		return;
	}
	l->e[(l->head + l->n) % l->cap] = (struct lent){ord, mark, fp};
	l->n++;
}

void eng__ack_unsent(struct eng_ack *a, uint64_t mark, uint64_t fp, int64_t now_us)
{
	if (!mark)
		return;
	suspect_add(a, mark, fp, now_us + a->window_us);
}

void eng__ack_confirmed(struct eng_ack *a, int link, uint64_t upto, int lost, int64_t now_us)
{
	struct lfifo *l = link_fifo(a, link);
	if (!l)
		return;
	while (l->n) {
		struct lent *e = &l->e[l->head];
		if (e->ord > upto) {
			if (!lost)
				break;
			suspect_add(a, e->mark, e->fp, now_us + a->window_us);
		} else {
			if (e->mark & FORGET_BIT)
				forget_push(a, e->fp);
			eng__ack_done(a, e->mark);
		}
		l->head = (l->head + 1) % l->cap;
		l->n--;
	}
}

int eng__ack_match(struct eng_ack *a, uint64_t fp, uint64_t *mark)
{
	if (!a->nsuspects)
		return 0;
	struct suspect **pp = &a->buckets[fp % NBUCKETS];
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->fp != fp)
			continue;
		struct suspect *s = *pp;
		*pp = s->next;
		free(s);
		a->nsuspects--;
		a->matched++;
		/* the new answer is watched like any other; the stored row is
		 * forgotten once it settles */
		uint64_t m = eng__ack_mark(a, 1);
		*mark = m ? m | FORGET_BIT : 0;
		return 1;
	}
	return 0;
}

void eng__ack_add_stored(struct eng_ack *a, uint64_t fp, int64_t expires_us)
{
	if (a->window_us > 0)
		suspect_insert(a, fp, expires_us);
}

void eng__ack_take_changes(struct eng_ack *a, struct eng_ack_suspect **add, size_t *nadd,
			   uint64_t **forget, size_t *nforget)
{
	*add = a->add;
	*nadd = a->nadd;
	*forget = a->forget;
	*nforget = a->nforget;
	a->add = NULL;
	a->nadd = a->capadd = 0;
	a->forget = NULL;
	a->nforget = a->capforget = 0;
}

void eng__ack_stored(struct eng_ack *a, struct eng_ack_suspect *add, size_t nadd,
		     uint64_t *forget, size_t nforget, int ok)
{
	if (ok) {
		for (size_t i = 0; i < nadd; i++)
			eng__ack_done(a, add[i].mark);
		free(add);
		free(forget);
		return;
	}
	/* keep them for the next try (with what came since) */
	for (size_t i = 0; i < nadd && add_push(a, add[i]) == 0; i++)
		;
	for (size_t i = 0; i < nforget && forget_push(a, forget[i]) == 0; i++)
		;
	free(add);
	free(forget);
}

void eng__ack_expire(struct eng_ack *a, int64_t now_us)
{
	if (!a->nsuspects)
		return;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct suspect **pp = &a->buckets[b];
		while (*pp) {
			struct suspect *s = *pp;
			if (s->expires_us > now_us) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			a->nsuspects--;
			free(s);
		}
	}
}

uint64_t eng__ack_watermark(const struct eng_ack *a)
{
	uint64_t k = a->n ? a->head_k - 1 : a->last_k;
	return ((uint64_t)a->run << 32) | k;
}

size_t eng__ack_suspects(const struct eng_ack *a)
{
	return a->nsuspects;
}

uint64_t eng__ack_matched(const struct eng_ack *a)
{
	return a->matched;
}

void eng__ack_respond(struct eng_ack *a, struct smpp_esme *e, uint64_t token, uint32_t status,
		      uint64_t mark, uint64_t fp, int64_t now_us)
{
	uint64_t ord = 0;
	int rc = smpp_esme_respond_ord(e, token, status, &ord);
	if (!a || !mark)
		return;
	if (status != SMPP_ESME_ROK || (rc != 0 && rc != -ENOTCONN))
		eng__ack_done(a, mark);
	else if (rc == 0)
		eng__ack_sent(a, mark, fp, smpp_esme_token_link(token), ord);
	else
		eng__ack_unsent(a, mark, fp, now_us);
}
