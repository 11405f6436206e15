/* Redelivery after a lost acknowledgement (engine/src/ack.c, R16: no MO
 * relayed or charged twice): marks, the watermark, per-link confirmation,
 * suspects and their matching, storing suspects before their marks settle
 * (take_changes / stored), suspects loaded at start-up (add_stored), expiry,
 * the fingerprint, and a model-checked run over many marks.
 *
 * ack.h is private to the engine; it is included by its path (as
 * test_sim_script.c does for a private source), no build change needed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "../../engine/src/ack.h"
#include "engine/log.h"
#include "smpp_gw/esme.h"
#include "smpp_gw/pdu.h"

#define SEC 1000000LL
#define MARK(run, k) (((uint64_t)(run) << 32) | (uint64_t)(k))
#define DEFAULT_WINDOW (300 * SEC)
/* ack.c's FORGET_BIT: on a mark from eng__ack_match, "forget the stored
 * suspect this answers once the answer settles". Private to ack.c. */
#define FORGET (1ULL << 63)

static const uint8_t P_HELLO[] = "hello";

static uint64_t fp_of(const char *src, const char *text)
{
	return eng__ack_fp(src, "79009990000", 8, 0, (const uint8_t *)text, strlen(text));
}

/* What one eng__ack_take_changes handed over. */
struct changes {
	struct eng_ack_suspect *add;
	size_t nadd;
	uint64_t *forget;
	size_t nforget;
};

static struct changes take(struct eng_ack *a)
{
	struct changes c;
	memset(&c, 0xA5, sizeof c); /* every field must be written */
	eng__ack_take_changes(a, &c.add, &c.nadd, &c.forget, &c.nforget);
	return c;
}

static void give_back(struct eng_ack *a, struct changes *c, int ok)
{
	eng__ack_stored(a, c->add, c->nadd, c->forget, c->nforget, ok);
	memset(c, 0, sizeof *c);
}

/* Nothing to store and nothing to forget. */
static void assert_no_changes(struct eng_ack *a)
{
	struct changes c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 0);
	give_back(a, &c, 1);
}

/* The index of the suspect of `mark` in c->add, or fails. */
static size_t find_add(const struct changes *c, uint64_t mark)
{
	for (size_t i = 0; i < c->nadd; i++)
		if (c->add[i].mark == mark)
			return i;
	fail_msg("mark %llx not among the %zu suspects to store", (unsigned long long)mark,
		 c->nadd);
	return 0;
}

/* A mark handed out by eng__ack_match: `expected` with the forget bit. */
static void assert_match_mark(uint64_t mark, uint64_t expected)
{
	assert_true(mark & FORGET);
	assert_int_equal(mark & ~FORGET, expected);
}

/* ---- marks and the watermark ---- */

static void test_marks_count_per_run(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(7);
	assert_non_null(a);
	/* nothing marked: every row of this run (none) is settled */
	assert_int_equal(eng__ack_watermark(a), MARK(7, 0));
	assert_int_equal(eng__ack_mark(a, 1), MARK(7, 1));
	assert_int_equal(eng__ack_mark(a, 3), MARK(7, 2));
	assert_int_equal(eng__ack_mark(a, 1), MARK(7, 3));
	/* nothing settled yet */
	assert_int_equal(eng__ack_watermark(a), MARK(7, 0));
	assert_no_changes(a);
	eng__ack_free(a);

	/* the next run counts from 1 again, above every mark of run 7; its
	 * start-up watermark is run << 32 (what dlg_ack_begin stores) */
	a = eng__ack_new(8);
	assert_int_equal(eng__ack_watermark(a), MARK(8, 0));
	assert_int_equal(eng__ack_mark(a, 1), MARK(8, 1));
	assert_true(MARK(8, 1) > MARK(7, 3));
	eng__ack_free(a);
	eng__ack_free(NULL);
}

static void test_watermark_out_of_order(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(5);
	uint64_t m1 = eng__ack_mark(a, 1);
	uint64_t m2 = eng__ack_mark(a, 1);
	uint64_t m3 = eng__ack_mark(a, 3); /* a batch of three */
	uint64_t m4 = eng__ack_mark(a, 1);
	uint64_t m5 = eng__ack_mark(a, 1);

	/* later marks settle first: the watermark stays below the oldest open */
	eng__ack_done(a, m5);
	eng__ack_sent(a, m4, 44, 0, 1);
	eng__ack_confirmed(a, 0, 1, 0, 0); /* m4 settled */
	eng__ack_done(a, m2);
	assert_int_equal(eng__ack_watermark(a), MARK(5, 0));

	/* the oldest settles: up to the next open one (m3, 3 MOs) */
	eng__ack_done(a, m1);
	assert_int_equal(eng__ack_watermark(a), m2);

	/* m3 needs all three of its MOs */
	eng__ack_done(a, m3);
	assert_int_equal(eng__ack_watermark(a), m2);
	eng__ack_sent(a, m3, 33, 0, 2);
	assert_int_equal(eng__ack_watermark(a), m2);
	eng__ack_done(a, m3);
	assert_int_equal(eng__ack_watermark(a), m2); /* the sent one is not confirmed */
	eng__ack_confirmed(a, 0, 2, 0, 0);
	/* m3 done, and m4, m5 were settled before: straight to the top */
	assert_int_equal(eng__ack_watermark(a), m5);

	/* settling something already settled, unwatched (0) or of another
	 * run changes nothing */
	eng__ack_done(a, m1);
	eng__ack_done(a, 0);
	eng__ack_done(a, MARK(4, 9));
	eng__ack_done(a, MARK(5, 99));
	assert_int_equal(eng__ack_watermark(a), m5);
	uint64_t m6 = eng__ack_mark(a, 1);
	assert_int_equal(eng__ack_watermark(a), m5);
	eng__ack_done(a, MARK(4, 6)); /* same k, other run: not m6 */
	assert_int_equal(eng__ack_watermark(a), m5);
	eng__ack_done(a, m6);
	assert_int_equal(eng__ack_watermark(a), m6);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_no_changes(a);
	eng__ack_free(a);
}

/* ---- confirmation per link ---- */

static void test_confirmed_upto_per_link(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(1);
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	uint64_t m3 = eng__ack_mark(a, 1), m4 = eng__ack_mark(a, 1);
	eng__ack_sent(a, m1, 11, 0, 1);
	eng__ack_sent(a, m2, 12, 0, 2);
	eng__ack_sent(a, m3, 13, 1, 1); /* another link, its own ordinals */
	eng__ack_sent(a, m4, 14, 0, 3);

	/* link 0 up to 2: m1, m2 only; link 1's ordinal 1 is not covered */
	eng__ack_confirmed(a, 0, 2, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	/* a confirmation of an ordinal already passed changes nothing */
	eng__ack_confirmed(a, 0, 2, 0, 0);
	eng__ack_confirmed(a, 0, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	/* a link never used */
	eng__ack_confirmed(a, 5, 100, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2);

	eng__ack_confirmed(a, 1, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m3); /* m4 (link 0, ord 3) open */
	eng__ack_confirmed(a, 0, 3, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m4);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_matched(a), 0);
	/* confirmed answers are never stored as suspects */
	assert_no_changes(a);
	eng__ack_free(a);
}

/* ---- suspects: stored before their mark settles ---- */

/* R16: answers on a lost link the SMSC never confirmed become suspects,
 * watched at once; their marks hold the watermark until they are stored.
 * Each redelivery is recognised once, answered under a fresh mark, and its
 * stored suspect is forgotten once that answer is confirmed. */
static void test_R16_lost_link_suspects_match_once(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(2);
	uint64_t f1 = fp_of("79001110001", "one"), f2 = fp_of("79001110002", "two");
	uint64_t f3 = fp_of("79001110003", "three"), f9 = fp_of("79001110009", "other");
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1), m3 = eng__ack_mark(a, 1);
	uint64_t m4 = eng__ack_mark(a, 1);
	eng__ack_sent(a, m1, f1, 0, 1);
	eng__ack_sent(a, m2, f2, 0, 2);
	eng__ack_sent(a, m3, f3, 0, 3);
	eng__ack_sent(a, m4, f9, 1, 1); /* on link 1: not lost */

	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f2, &mark), 0); /* nothing lost yet */
	assert_no_changes(a);

	eng__ack_confirmed(a, 0, 1, 1, 100 * SEC);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), m1); /* m2, m3 held: not stored */

	struct changes c = take(a);
	assert_int_equal(c.nadd, 2);
	assert_int_equal(c.nforget, 0);
	assert_int_equal(c.add[0].mark, m2);
	assert_int_equal(c.add[0].fp, f2);
	assert_int_equal(c.add[0].expires_us, 100 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.add[1].mark, m3);
	assert_int_equal(c.add[1].fp, f3);
	assert_int_equal(c.add[1].expires_us, 100 * SEC + DEFAULT_WINDOW);
	/* handed over, the store not yet committed: still held, still watched */
	assert_int_equal(eng__ack_watermark(a), m1);
	assert_int_equal(eng__ack_match(a, f9, &mark), 0); /* another MO */
	assert_int_equal(eng__ack_match(a, f1, &mark), 0); /* m1 was confirmed */
	assert_int_equal(eng__ack_suspects(a), 2);
	give_back(a, &c, 1);
	/* stored: m2, m3 settle; m4 (link 1, unconfirmed) is the oldest open */
	assert_int_equal(eng__ack_watermark(a), m3);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_no_changes(a); /* stored once, not again */

	mark = 0;
	assert_int_equal(eng__ack_match(a, f2, &mark), 1);
	uint64_t m5 = MARK(2, 5);
	assert_match_mark(mark, m5); /* a fresh mark for the new answer */
	uint64_t m5f = mark;
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_matched(a), 1);
	assert_int_equal(eng__ack_watermark(a), m3); /* m5 is open */
	/* the same MO once more is a new message, not a redelivery */
	mark = 0;
	assert_int_equal(eng__ack_match(a, f2, &mark), 0);
	assert_int_equal(mark, 0);
	assert_int_equal(eng__ack_matched(a), 1);

	/* matched, not settled: the stored suspect f2 stays */
	assert_no_changes(a);

	/* the redelivery is answered on the new connection; the link's
	 * ordinals keep growing */
	eng__ack_sent(a, m5f, f2, 0, 4);
	assert_int_equal(eng__ack_watermark(a), m3);
	assert_no_changes(a); /* written, not yet read */
	eng__ack_confirmed(a, 0, 4, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m3); /* m4 on link 1 still open */
	/* read by the SMSC: the stored suspect f2 is to be forgotten, once */
	c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f2);
	give_back(a, &c, 1);
	assert_no_changes(a);
	/* link 1 was untouched by link 0's loss */
	eng__ack_confirmed(a, 1, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m5);

	assert_int_equal(eng__ack_match(a, f3, &mark), 1);
	assert_match_mark(mark, MARK(2, 6));
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m5);
	/* answered with an error: settled, but the stored f3 stays */
	eng__ack_done(a, mark);
	assert_int_equal(eng__ack_watermark(a), MARK(2, 6));
	assert_no_changes(a);
	assert_int_equal(eng__ack_matched(a), 2);
	eng__ack_free(a);
}

/* A failed store (ok = 0) settles nothing: the same suspects (and
 * forgets) come back with the next changes, joined by what came since. */
static void test_R16_store_failed_kept(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(4);
	uint64_t f = fp_of("79001110001", "unsent"), g = fp_of("79001110002", "later");
	uint64_t h = fp_of("79001110003", "stored");
	eng__ack_add_stored(a, h, 500 * SEC);
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, f, 10 * SEC);
	eng__ack_done(a, m2);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 0)); /* m1 not stored */
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, h, &mark), 1);
	uint64_t m3 = MARK(4, 3);
	assert_match_mark(mark, m3);
	/* its answer read on link 1: forget h */
	eng__ack_sent(a, mark, h, 1, 1);
	eng__ack_confirmed(a, 1, 1, 0, 0);

	struct changes c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m1);
	assert_int_equal(c.add[0].fp, f);
	assert_int_equal(c.add[0].expires_us, 10 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], h);
	give_back(a, &c, 0); /* the store failed */
	assert_int_equal(eng__ack_watermark(a), MARK(4, 0));
	assert_int_equal(eng__ack_suspects(a), 1); /* still watched */

	/* meanwhile another one */
	uint64_t m4 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m4, g, 20 * SEC);
	c = take(a);
	assert_int_equal(c.nadd, 2);
	size_t i1 = find_add(&c, m1), i4 = find_add(&c, m4);
	assert_int_equal(c.add[i1].fp, f);
	assert_int_equal(c.add[i1].expires_us, 10 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.add[i4].fp, g);
	assert_int_equal(c.add[i4].expires_us, 20 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], h);
	give_back(a, &c, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 0));

	c = take(a);
	assert_int_equal(c.nadd, 2);
	assert_int_equal(c.nforget, 1);
	give_back(a, &c, 1);
	/* stored: m1 .. m4 all settled */
	assert_int_equal(eng__ack_watermark(a), m4);
	assert_no_changes(a);

	/* both still watched, each matches once */
	assert_int_equal(eng__ack_match(a, f + 1, &mark), 0);
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_match_mark(mark, MARK(4, 5));
	uint64_t m5f = mark;
	assert_int_equal(eng__ack_match(a, f, &mark), 0);
	eng__ack_sent(a, m5f, f, 2, 1);
	assert_int_equal(eng__ack_watermark(a), m4);
	eng__ack_confirmed(a, 2, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 5));
	assert_int_equal(eng__ack_match(a, g, &mark), 1);
	assert_match_mark(mark, MARK(4, 6));
	eng__ack_done(a, mark); /* an error answer: g's row is not forgotten */
	assert_int_equal(eng__ack_suspects(a), 0);
	c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);

	/* unwatched MOs (mark 0) never become suspects */
	eng__ack_unsent(a, 0, f, 0);
	eng__ack_sent(a, 0, f, 0, 7);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_no_changes(a);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 6));
	assert_int_equal(eng__ack_matched(a), 3);
	eng__ack_free(a);
}

/* A matched suspect whose new answer is lost again becomes a suspect
 * again, under its fresh mark. */
static void test_R16_matched_suspect_lost_again(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(3);
	uint64_t f = fp_of("79001110001", "again");
	uint64_t m1 = eng__ack_mark(a, 1);
	eng__ack_sent(a, m1, f, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(3, 0));
	struct changes c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m1);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m1);

	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	uint64_t m2 = MARK(3, 2);
	assert_match_mark(mark, m2);
	eng__ack_sent(a, mark, f, 0, 2);
	assert_no_changes(a); /* the stored row stays until the answer settles */
	eng__ack_confirmed(a, 0, 1, 1, 10 * SEC); /* lost before ordinal 2 was read */
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), m1); /* m2 held until stored */

	/* one change set: store the new suspect, forget the old one */
	c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m2);
	assert_int_equal(c.add[0].fp, f);
	assert_int_equal(c.add[0].expires_us, 10 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 0);
	assert_int_equal(eng__ack_watermark(a), m1);
	c = take(a); /* the same again */
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m2);
	assert_int_equal(c.add[0].fp, f);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m2);

	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_match_mark(mark, MARK(3, 3));
	uint64_t m3f = mark;
	assert_int_equal(eng__ack_match(a, f, &mark), 0);
	eng__ack_sent(a, m3f, f, 0, 3);
	eng__ack_confirmed(a, 0, 3, 0, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(3, 3));
	c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_matched(a), 2);
	eng__ack_free(a);
}

/* R16: a matched suspect's stored row is forgotten only when the answer to
 * its redelivery settles, so a crash in between still finds the row:
 * (a) the answer is read (confirmed up to its ordinal): forgotten, its mark
 *     settles; (b) the answer is lost or cannot be written: a suspect again,
 *     the new row stored and the old one forgotten in one change set;
 * (c) answered with an error, or ESME_ROK that could not be sent for
 *     another reason (done): the row stays. */
static void test_R16_forget_after_settle(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(40);
	uint64_t fa = fp_of("79001110001", "a"), fb = fp_of("79001110002", "b");
	uint64_t fc = fp_of("79001110003", "c"), fd = fp_of("79001110004", "d");
	uint64_t fe = fp_of("79001110005", "e");
	const uint64_t fps[] = {fa, fb, fc, fd, fe};
	for (size_t i = 0; i < 5; i++)
		eng__ack_add_stored(a, fps[i], 1000 * SEC);
	assert_int_equal(eng__ack_suspects(a), 5);
	uint64_t mark = 0;

	/* (a) matched: nothing forgotten yet (a crash now keeps fa's row) */
	assert_int_equal(eng__ack_match(a, fa, &mark), 1);
	assert_match_mark(mark, MARK(40, 1));
	assert_no_changes(a);
	eng__ack_sent(a, mark, fa, 0, 1);
	assert_no_changes(a);
	eng__ack_confirmed(a, 0, 0, 0, 0);  /* below its ordinal */
	eng__ack_confirmed(a, 1, 9, 0, 0);  /* another link */
	assert_no_changes(a);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 0));
	eng__ack_confirmed(a, 0, 1, 0, 0);  /* read: settles */
	assert_int_equal(eng__ack_watermark(a), MARK(40, 1));
	struct changes c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], fa);
	give_back(a, &c, 1);
	assert_no_changes(a); /* once */
	assert_int_equal(eng__ack_match(a, fa, &mark), 0);

	/* (b) lost before it was read: a suspect again; the row is replaced */
	assert_int_equal(eng__ack_match(a, fb, &mark), 1);
	assert_match_mark(mark, MARK(40, 2));
	eng__ack_sent(a, mark, fb, 0, 2);
	assert_no_changes(a);
	eng__ack_confirmed(a, 0, 1, 1, 50 * SEC);
	assert_int_equal(eng__ack_suspects(a), 4); /* fb watched again */
	assert_int_equal(eng__ack_watermark(a), MARK(40, 1)); /* held until stored */
	c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, MARK(40, 2)); /* stored without the bit */
	assert_int_equal(c.add[0].fp, fb);
	assert_int_equal(c.add[0].expires_us, 50 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], fb);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 2));

	/* (c) its redelivery answered with an error: settled, the row stays */
	assert_int_equal(eng__ack_match(a, fb, &mark), 1);
	assert_match_mark(mark, MARK(40, 3));
	eng__ack_done(a, mark); /* done masks the bit: the mark settles */
	assert_int_equal(eng__ack_watermark(a), MARK(40, 3));
	assert_no_changes(a);

	/* (b) its ESME_ROK could not be written (link gone) */
	assert_int_equal(eng__ack_match(a, fc, &mark), 1);
	assert_match_mark(mark, MARK(40, 4));
	eng__ack_unsent(a, mark, fc, 60 * SEC);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 3));
	c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, MARK(40, 4));
	assert_int_equal(c.add[0].fp, fc);
	assert_int_equal(c.add[0].expires_us, 60 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], fc);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 4));

	/* (a) on a link lost after it was read: forgotten, no suspect */
	assert_int_equal(eng__ack_match(a, fc, &mark), 1);
	assert_match_mark(mark, MARK(40, 5));
	eng__ack_sent(a, mark, fc, 2, 1);
	eng__ack_confirmed(a, 2, 1, 1, 70 * SEC);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 5));
	c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], fc);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_suspects(a), 2); /* fd, fe */

	/* (c) through eng__ack_respond: an error status, and an ESME_ROK that
	 * cannot be written for another reason than a lost link */
	assert_int_equal(eng__ack_match(a, fd, &mark), 1);
	assert_match_mark(mark, MARK(40, 6));
	eng__ack_respond(a, NULL, 0, SMPP_ESME_RX_T_APPN, mark, fd, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 6));
	assert_no_changes(a);
	assert_int_equal(eng__ack_match(a, fe, &mark), 1);
	assert_match_mark(mark, MARK(40, 7));
	eng__ack_respond(a, NULL, 0, SMPP_ESME_ROK, mark, fe, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(40, 7));
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_no_changes(a);
	assert_int_equal(eng__ack_matched(a), 7);
	eng__ack_free(a);
}

/* ---- the redelivery window ---- */

/* Expiry frees the watched suspects; it settles no mark and stores or
 * forgets nothing: only a committed store settles. */
static void test_expire_frees_without_settling(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(6);
	eng__ack_set_window(a, 10 * SEC);
	uint64_t fa = fp_of("79001110001", "a"), fb = fp_of("79001110002", "b");
	uint64_t fc = fp_of("79001110003", "c");
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, fa, 100 * SEC);     /* expires at 110 s */
	eng__ack_sent(a, m2, fb, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 105 * SEC); /* expires at 115 s */
	assert_int_equal(eng__ack_suspects(a), 2);

	eng__ack_expire(a, 110 * SEC - 1);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), MARK(6, 0));

	eng__ack_expire(a, 110 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), MARK(6, 0)); /* not settled */
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, fa, &mark), 0); /* gone: a new MO */
	assert_int_equal(eng__ack_match(a, fb, &mark), 1); /* still watched */
	uint64_t m3 = MARK(6, 3);
	assert_match_mark(mark, m3);
	eng__ack_done(a, mark); /* an error answer: fb is not forgotten */

	/* both are still to be stored; expiry forgot nothing */
	struct changes c = take(a);
	assert_int_equal(c.nadd, 2);
	assert_int_equal(c.add[find_add(&c, m1)].expires_us, 110 * SEC);
	assert_int_equal(c.add[find_add(&c, m2)].expires_us, 115 * SEC);
	assert_int_equal(c.nforget, 0);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m3);

	/* a suspect loaded at start-up expires alike */
	eng__ack_add_stored(a, fc, 120 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	eng__ack_expire(a, 119 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	eng__ack_expire(a, 120 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_match(a, fc, &mark), 0);
	assert_no_changes(a);
	eng__ack_expire(a, 1000 * SEC); /* nothing left: harmless */
	assert_int_equal(eng__ack_watermark(a), m3);
	assert_int_equal(eng__ack_matched(a), 1);
	eng__ack_free(a);
}

/* A suspect that expired before any store holds the watermark until it
 * is stored: expiry alone never moves it. */
static void test_expired_unstored_holds_watermark(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(13);
	eng__ack_set_window(a, 5 * SEC);
	uint64_t f = fp_of("79001110001", "held");
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, f, 0);
	eng__ack_done(a, m2);
	eng__ack_expire(a, 100 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), MARK(13, 0));
	struct changes c = take(a);
	assert_int_equal(c.nadd, 1);
	give_back(a, &c, 0);
	eng__ack_expire(a, 200 * SEC);
	assert_int_equal(eng__ack_watermark(a), MARK(13, 0));
	c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m1);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m2);
	eng__ack_free(a);
}

/* A window of 0: no suspects; a would-be suspect settles at once and
 * nothing is queued to store. */
static void test_window_zero_disables(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(9);
	eng__ack_set_window(a, 0);
	uint64_t f = fp_of("79001110001", "w0");
	eng__ack_add_stored(a, f, 1000 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), MARK(9, 0));

	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, f, 0);
	assert_int_equal(eng__ack_watermark(a), m1);
	eng__ack_sent(a, m2, f, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m2); /* settled, not watched */
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 0);
	assert_int_equal(eng__ack_matched(a), 0);
	assert_no_changes(a);
	assert_int_equal(eng__ack_watermark(a), m2);
	eng__ack_free(a);
}

/* ---- suspects stored by an earlier run ---- */

/* R16: suspects loaded at start-up (dlg_ack_begin moved them into
 * ack_suspect and set the watermark to run << 32) are watched, match once,
 * are forgotten once the answer to their redelivery is read, and never hold
 * this run's watermark. */
static void test_R16_stored_suspects(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(11);
	eng__ack_set_window(a, 300 * SEC);
	uint64_t f1 = fp_of("79001110001", "before crash 1");
	uint64_t f2 = fp_of("79001110002", "before crash 2");
	eng__ack_add_stored(a, f1, 100 * SEC);
	eng__ack_add_stored(a, f2, 200 * SEC);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), MARK(11, 0));
	/* already stored: nothing to store again */
	assert_no_changes(a);

	/* this run's own MOs settle past them */
	uint64_t m1 = eng__ack_mark(a, 1);
	eng__ack_done(a, m1);
	assert_int_equal(eng__ack_watermark(a), m1);

	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f1, &mark), 1);
	uint64_t m2 = MARK(11, 2);
	assert_match_mark(mark, m2);
	uint64_t m2f = mark;
	assert_int_equal(eng__ack_match(a, f1, &mark), 0);
	assert_int_equal(eng__ack_suspects(a), 1);
	/* the new answer is watched like any other; f1's row stays meanwhile */
	assert_int_equal(eng__ack_watermark(a), m1);
	eng__ack_sent(a, m2f, f1, 0, 1);
	assert_int_equal(eng__ack_watermark(a), m1);
	assert_no_changes(a);
	eng__ack_confirmed(a, 0, 1, 0, 50 * SEC);
	assert_int_equal(eng__ack_watermark(a), m2); /* f2 does not hold it */

	struct changes c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f1);
	give_back(a, &c, 0); /* failed: comes back */
	c = take(a);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f1);
	give_back(a, &c, 1);
	assert_no_changes(a);

	eng__ack_expire(a, 199 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	eng__ack_expire(a, 200 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_match(a, f2, &mark), 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	assert_int_equal(eng__ack_matched(a), 1);
	assert_no_changes(a);
	eng__ack_free(a);
}

/* A stored suspect matched and then lost again becomes a new suspect of
 * this run, under the fresh mark, stored before it settles. */
static void test_R16_stored_lost_again(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(21);
	uint64_t f = fp_of("79001110001", "prev");
	eng__ack_add_stored(a, f, 100 * SEC);
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	uint64_t m1 = MARK(21, 1);
	assert_match_mark(mark, m1);
	eng__ack_sent(a, mark, f, 3, 1);
	assert_no_changes(a);
	eng__ack_confirmed(a, 3, 0, 1, 10 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), MARK(21, 0));
	struct changes c = take(a);
	assert_int_equal(c.nadd, 1);
	assert_int_equal(c.add[0].mark, m1);
	assert_int_equal(c.add[0].fp, f);
	assert_int_equal(c.add[0].expires_us, 10 * SEC + DEFAULT_WINDOW);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m1);

	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_match_mark(mark, MARK(21, 2));
	eng__ack_sent(a, mark, f, 3, 2);
	eng__ack_confirmed(a, 3, 2, 0, 11 * SEC);
	assert_int_equal(eng__ack_watermark(a), MARK(21, 2));
	c = take(a);
	assert_int_equal(c.nadd, 0);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);
	eng__ack_free(a);
}

/* ---- the fingerprint ---- */

static void test_fp_fields(void **state)
{
	(void)state;
	const uint8_t p[] = {'h', 'e', 'l', 'l', 'o'};
	uint64_t base = eng__ack_fp("79001234567", "6249", 0, 0, p, sizeof p);
	/* stable for equal input (other buffers, same bytes) */
	char src[16], dst[8];
	uint8_t q[5];
	snprintf(src, sizeof src, "%s", "79001234567");
	snprintf(dst, sizeof dst, "%s", "6249");
	memcpy(q, P_HELLO, sizeof q);
	assert_int_equal(eng__ack_fp(src, dst, 0, 0, q, sizeof q), base);

	assert_int_not_equal(eng__ack_fp("79001234568", "6249", 0, 0, p, sizeof p), base);
	assert_int_not_equal(eng__ack_fp("79001234567", "6248", 0, 0, p, sizeof p), base);
	assert_int_not_equal(eng__ack_fp("79001234567", "6249", 8, 0, p, sizeof p), base);
	assert_int_not_equal(eng__ack_fp("79001234567", "6249", 0, 0x40, p, sizeof p), base);
	assert_int_not_equal(eng__ack_fp("79001234567", "6249", 0, 0, p, sizeof p - 1), base);
	/* src and dst swap their border */
	assert_int_not_equal(eng__ack_fp("7900123456", "76249", 0, 0, p, sizeof p), base);
	/* dcs and esm_class swapped */
	assert_int_not_equal(eng__ack_fp("79001234567", "6249", 8, 0, p, sizeof p),
			     eng__ack_fp("79001234567", "6249", 0, 8, p, sizeof p));
	/* every single payload byte, every bit of it */
	for (size_t i = 0; i < sizeof p; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(q, p, sizeof q);
			q[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(eng__ack_fp("79001234567", "6249", 0, 0, q, sizeof q),
					     base);
		}
	}
	/* an empty payload is a valid input */
	assert_int_equal(eng__ack_fp("1", "2", 0, 0, NULL, 0), eng__ack_fp("1", "2", 0, 0, p, 0));
	assert_int_not_equal(eng__ack_fp("1", "2", 0, 0, NULL, 0),
			     eng__ack_fp("1", "2", 0, 0, p, 1));
}

/* ---- eng__ack_respond without a live link ---- */

static void esme_stopped(struct smpp_esme *e, void *data)
{
	(void)e;
	*(int *)data = 1;
}

static void test_respond_paths(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(12);
	eng__ack_set_window(a, 60 * SEC);
	uint64_t f = fp_of("79001110001", "resp");

	/* an error answer: nothing committed, settled */
	uint64_t m1 = eng__ack_mark(a, 1);
	eng__ack_respond(a, NULL, 0, SMPP_ESME_RX_T_APPN, m1, f, 0);
	assert_int_equal(eng__ack_watermark(a), m1);
	/* ESME_ROK that cannot be written for another reason (bad token):
	 * settled, no suspect */
	uint64_t m2 = eng__ack_mark(a, 1);
	eng__ack_respond(a, NULL, 0, SMPP_ESME_ROK, m2, f, 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_no_changes(a);

	/* ESME_ROK on a link that is not connected (-ENOTCONN): a suspect */
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct smpp_esme_config cfg = {
		.host = "127.0.0.1", .port = 9, .system_id = "dialog", .password = "x",
		.system_type = "", .sessions = 1, .window = 1, .enquire_link_s = 30,
		.reconnect_max_s = 1, .response_timeout_s = 1,
	};
	struct smpp_esme_callbacks cbs = {0};
	struct smpp_esme *e = smpp_esme_start(&loop, &cfg, &cbs);
	assert_non_null(e);
	uint64_t token = (uint64_t)1 << 56 | 5; /* link 0, generation 0, seq 5 */
	assert_int_equal(smpp_esme_token_link(token), 0);
	assert_int_equal(smpp_esme_respond(e, token, SMPP_ESME_ROK), -ENOTCONN);
	uint64_t m3 = eng__ack_mark(a, 1);
	eng__ack_respond(a, e, token, SMPP_ESME_ROK, m3, f, 5 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), m2);
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	uint64_t m4 = MARK(12, 4);
	assert_match_mark(mark, m4);
	/* its redelivery answered on a dead link again: a suspect again */
	eng__ack_respond(a, e, token, SMPP_ESME_ROK, mark, f, 6 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	eng__ack_expire(a, 66 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m2); /* expiry settles nothing */
	struct changes c = take(a);
	assert_int_equal(c.nadd, 2);
	assert_int_equal(c.add[find_add(&c, m3)].expires_us, 65 * SEC);
	assert_int_equal(c.add[find_add(&c, m4)].expires_us, 66 * SEC);
	assert_int_equal(c.nforget, 1);
	assert_int_equal(c.forget[0], f);
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), m4);
	/* without an ack state (not loaded yet) it still answers */
	eng__ack_respond(NULL, e, token, SMPP_ESME_ROK, 0, f, 0);

	int stopped = 0;
	smpp_esme_stop(e, esme_stopped, &stopped);
	while (!stopped)
		uv_run(&loop, UV_RUN_ONCE);
	smpp_esme_free(e);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	eng__ack_free(a);
}

/* ---- many marks against a model ---- */

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

#define NMARKS 100000
#define NLINKS 3
#define MWINDOW (40 * SEC)

/* fwd: the answer to a matched redelivery; once it settles (read, or
 * itself lost and stored again) the stored suspect fp is forgotten. */
struct mo {
	uint64_t fp;
	uint32_t k;
	int fwd;
};

struct pend {
	uint64_t ord, fp;
	uint32_t k;
	int fwd;
};

struct msus {
	uint64_t fp;
	int64_t exp;
};

/* The reference: what ack.c should hold. */
struct model {
	uint32_t run, last, low;
	int *left;               /* MOs of mark k not yet settled */
	struct mo *open;         /* MOs not yet answered */
	size_t nopen;
	struct pend *pl[NLINKS]; /* answered on a link, not yet confirmed */
	size_t npl[NLINKS], hpl[NLINKS];
	uint64_t ord[NLINKS];
	struct msus *sus;        /* watched suspects */
	size_t nsus;
	struct eng_ack_suspect *pending; /* suspects not yet stored */
	size_t npending;
	uint64_t *forgetq;       /* settled answers to matches, not yet forgotten */
	size_t nforgetq;
	int64_t now;
	uint64_t nextfp;
	unsigned long suspects_made, matches, store_failures, stores, expired;
	unsigned long fwd_confirmed, fwd_lost, fwd_done;
};

/* The mark ack.c handed out for MOs of k (with the forget bit for the
 * answer to a matched redelivery). */
static uint64_t m_mark(const struct model *md, uint32_t k, int fwd)
{
	return MARK(md->run, k) | (fwd ? FORGET : 0);
}

static void m_suspect(struct model *md, uint32_t k, uint64_t fp, int fwd)
{
	if (fwd) {
		/* the row it answered is replaced by the new one */
		md->forgetq[md->nforgetq++] = fp;
		md->fwd_lost++;
	}
	md->sus[md->nsus++] = (struct msus){fp, md->now + MWINDOW};
	md->pending[md->npending++] =
		(struct eng_ack_suspect){MARK(md->run, k), fp, md->now + MWINDOW};
	md->suspects_made++;
}

static int cmp_suspect(const void *x, const void *y)
{
	const struct eng_ack_suspect *p = x, *q = y;
	if (p->mark != q->mark)
		return p->mark < q->mark ? -1 : 1;
	if (p->fp != q->fp)
		return p->fp < q->fp ? -1 : 1;
	return (p->expires_us > q->expires_us) - (p->expires_us < q->expires_us);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t p = *(const uint64_t *)x, q = *(const uint64_t *)y;
	return (p > q) - (p < q);
}

/* take_changes must hand over exactly the model's pending suspects and
 * forgets; they leave the model (in flight). */
static void m_take(struct model *md, struct eng_ack *a, struct changes *c)
{
	*c = take(a);
	assert_int_equal(c->nadd, md->npending);
	assert_int_equal(c->nforget, md->nforgetq);
	if (c->nadd) {
		qsort(c->add, c->nadd, sizeof *c->add, cmp_suspect);
		qsort(md->pending, md->npending, sizeof *md->pending, cmp_suspect);
		for (size_t i = 0; i < c->nadd; i++) {
			assert_int_equal(c->add[i].mark, md->pending[i].mark);
			assert_int_equal(c->add[i].fp, md->pending[i].fp);
			assert_int_equal(c->add[i].expires_us, md->pending[i].expires_us);
		}
	}
	if (c->nforget) {
		qsort(c->forget, c->nforget, sizeof *c->forget, cmp_u64);
		qsort(md->forgetq, md->nforgetq, sizeof *md->forgetq, cmp_u64);
		for (size_t i = 0; i < c->nforget; i++)
			assert_int_equal(c->forget[i], md->forgetq[i]);
	}
	md->npending = 0;
	md->nforgetq = 0;
}

static void m_stored(struct model *md, struct eng_ack *a, struct changes *c, int ok)
{
	if (ok) {
		for (size_t i = 0; i < c->nadd; i++)
			md->left[c->add[i].mark & 0xFFFFFFFFu]--;
		md->stores++;
	} else {
		for (size_t i = 0; i < c->nadd; i++)
			md->pending[md->npending++] = c->add[i];
		for (size_t i = 0; i < c->nforget; i++)
			md->forgetq[md->nforgetq++] = c->forget[i];
		md->store_failures++;
	}
	give_back(a, c, ok);
}

static void m_confirm(struct model *md, struct eng_ack *a, int l, uint64_t upto, int lost)
{
	eng__ack_confirmed(a, l, upto, lost, md->now);
	while (md->hpl[l] < md->npl[l]) {
		struct pend *p = &md->pl[l][md->hpl[l]];
		if (p->ord <= upto) {
			md->left[p->k]--;
			if (p->fwd) {
				md->forgetq[md->nforgetq++] = p->fp;
				md->fwd_confirmed++;
			}
		} else if (lost) {
			m_suspect(md, p->k, p->fp, p->fwd);
		} else {
			break;
		}
		md->hpl[l]++;
	}
}

static void m_check(struct model *md, struct eng_ack *a)
{
	while (md->low <= md->last && md->left[md->low] == 0)
		md->low++;
	assert_int_equal(eng__ack_watermark(a), MARK(md->run, md->low - 1));
	assert_int_equal(eng__ack_suspects(a), md->nsus);
}

static void test_R16_many_marks_model(void **state)
{
	(void)state;
	const size_t cap = 3 * NMARKS + 16;
	struct model md;
	memset(&md, 0, sizeof md);
	md.run = 0x1234;
	md.low = 1;
	md.now = 1000 * SEC;
	md.nextfp = 1;
	md.left = calloc(NMARKS + 2, sizeof *md.left);
	md.open = malloc(cap * sizeof *md.open);
	md.sus = malloc(cap * sizeof *md.sus);
	md.pending = malloc(cap * sizeof *md.pending);
	md.forgetq = malloc(cap * sizeof *md.forgetq);
	assert_non_null(md.left);
	assert_non_null(md.open);
	assert_non_null(md.sus);
	assert_non_null(md.pending);
	assert_non_null(md.forgetq);
	for (int i = 0; i < NLINKS; i++) {
		md.pl[i] = malloc(cap * sizeof *md.pl[i]);
		assert_non_null(md.pl[i]);
	}
	struct eng_ack *a = eng__ack_new(md.run);
	eng__ack_set_window(a, MWINDOW);
	struct changes fl = {0}; /* in flight */
	int inflight = 0;
	unsigned long checks = 0;

	while (md.last < NMARKS) {
		uint32_t r = rnd(100);
		if (r < 33 || md.nopen == 0) {
			/* a batch; sometimes a burst keeps many marks open */
			int n = 1 + (int)rnd(3);
			uint64_t m = eng__ack_mark(a, n);
			md.last++;
			assert_int_equal(m, MARK(md.run, md.last));
			md.left[md.last] = n;
			for (int i = 0; i < n; i++)
				md.open[md.nopen++] = (struct mo){md.nextfp++, md.last, 0};
		} else if (r < 48) {
			/* one open MO settles with an error answer */
			size_t i = rnd((uint32_t)md.nopen);
			struct mo o = md.open[i];
			md.open[i] = md.open[--md.nopen];
			eng__ack_done(a, m_mark(&md, o.k, o.fwd));
			md.left[o.k]--;
			md.fwd_done += (unsigned long)o.fwd; /* its stored row stays */
		} else if (r < 66) {
			/* answered ESME_ROK on a link: open until confirmed */
			size_t i = rnd((uint32_t)md.nopen);
			struct mo o = md.open[i];
			md.open[i] = md.open[--md.nopen];
			int l = (int)rnd(NLINKS);
			md.ord[l]++;
			eng__ack_sent(a, m_mark(&md, o.k, o.fwd), o.fp, l, md.ord[l]);
			md.pl[l][md.npl[l]++] = (struct pend){md.ord[l], o.fp, o.k, o.fwd};
		} else if (r < 70) {
			/* ESME_ROK could not be written */
			size_t i = rnd((uint32_t)md.nopen);
			struct mo o = md.open[i];
			md.open[i] = md.open[--md.nopen];
			eng__ack_unsent(a, m_mark(&md, o.k, o.fwd), o.fp, md.now);
			m_suspect(&md, o.k, o.fp, o.fwd);
		} else if (r < 80) {
			/* a link confirms part of what it wrote, or is lost */
			int l = (int)rnd(NLINKS);
			size_t pending = md.npl[l] - md.hpl[l];
			uint64_t upto = pending ? md.pl[l][md.hpl[l] + rnd((uint32_t)pending)].ord
						: md.ord[l];
			m_confirm(&md, a, l, upto, rnd(8) == 0);
		} else if (r < 87) {
			/* an MO arrives: a redelivery of a watched suspect, or not */
			uint64_t mark = 0;
			if (md.nsus && rnd(2)) {
				size_t i = rnd((uint32_t)md.nsus);
				uint64_t fp = md.sus[i].fp;
				assert_int_equal(eng__ack_match(a, fp, &mark), 1);
				md.sus[i] = md.sus[--md.nsus];
				md.matches++;
				/* answered under a fresh mark, same fingerprint; the
				 * stored row is forgotten only when that settles */
				md.last++;
				assert_int_equal(mark, m_mark(&md, md.last, 1));
				md.left[md.last] = 1;
				md.open[md.nopen++] = (struct mo){fp, md.last, 1};
			} else {
				uint64_t fp = (1ULL << 63) | rnd(1u << 30);
				assert_int_equal(eng__ack_match(a, fp, &mark), 0);
			}
		} else if (r < 96) {
			/* dialogd stores the changes; one store in flight at a time */
			if (!inflight) {
				m_take(&md, a, &fl);
				inflight = 1;
			} else {
				m_stored(&md, a, &fl, rnd(4) != 0);
				inflight = 0;
			}
		} else {
			/* time passes, the window ends for some */
			md.now += (int64_t)rnd(8) * SEC;
			eng__ack_expire(a, md.now);
			for (size_t i = 0; i < md.nsus;) {
				if (md.sus[i].exp <= md.now) {
					md.sus[i] = md.sus[--md.nsus];
					md.expired++;
				} else {
					i++;
				}
			}
		}
		m_check(&md, a);
		checks++;
	}
	/* the end: every MO answered, every link confirms the rest, the last
	 * changes are stored */
	while (md.nopen) {
		struct mo o = md.open[--md.nopen];
		eng__ack_done(a, m_mark(&md, o.k, o.fwd));
		md.left[o.k]--;
	}
	for (int l = 0; l < NLINKS; l++)
		m_confirm(&md, a, l, md.ord[l], 0);
	m_check(&md, a);
	if (inflight)
		m_stored(&md, a, &fl, 1);
	m_take(&md, a, &fl);
	m_stored(&md, a, &fl, 1);
	m_check(&md, a);
	assert_int_equal(eng__ack_watermark(a), MARK(md.run, md.last));
	assert_no_changes(a);
	eng__ack_expire(a, md.now + MWINDOW);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_matched(a), md.matches);
	/* every path was taken, many times */
	assert_true(checks > NMARKS);
	assert_true(md.suspects_made > 1000);
	assert_true(md.matches > 1000);
	assert_true(md.store_failures > 100);
	assert_true(md.stores > 100);
	assert_true(md.expired > 100);
	assert_true(md.fwd_confirmed > 100);
	assert_true(md.fwd_lost > 10);
	assert_true(md.fwd_done > 100);

	/* a long backlog behind one open mark: the ring grows, the
	 * watermark holds, then jumps */
	uint64_t top = md.last;
	uint64_t first = eng__ack_mark(a, 1);
	for (int i = 0; i < NMARKS; i++) {
		uint64_t m = eng__ack_mark(a, 1);
		eng__ack_sent(a, m, (uint64_t)i, 0, ++md.ord[0]);
	}
	eng__ack_confirmed(a, 0, md.ord[0], 0, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(md.run, top));
	eng__ack_done(a, first);
	assert_int_equal(eng__ack_watermark(a), MARK(md.run, top + NMARKS + 1));

	for (int i = 0; i < NLINKS; i++)
		free(md.pl[i]);
	free(md.forgetq);
	free(md.pending);
	free(md.sus);
	free(md.open);
	free(md.left);
	eng__ack_free(a);
}

/* Lost with many entries: every unconfirmed one is a suspect, found by its
 * fingerprint; the watermark moves only once they are stored. */
static void test_R16_many_suspects(void **state)
{
	(void)state;
	const int n = 5000;
	struct eng_ack *a = eng__ack_new(30);
	uint64_t *m = malloc((size_t)n * sizeof *m);
	assert_non_null(m);
	for (int i = 0; i < n; i++) {
		m[i] = eng__ack_mark(a, 1);
		eng__ack_sent(a, m[i], 1000000u + (uint64_t)i * 4096u, 0, (uint64_t)i + 1);
	}
	/* the first half was read, the rest maybe not; all fingerprints share
	 * a hash bucket (same value mod 4096) */
	eng__ack_confirmed(a, 0, (uint64_t)n / 2, 1, 0);
	assert_int_equal(eng__ack_suspects(a), (size_t)(n - n / 2));
	assert_int_equal(eng__ack_watermark(a), m[n / 2 - 1]);
	uint64_t mark;
	for (int i = n - 1; i >= n / 2; i--) {
		assert_int_equal(eng__ack_match(a, 1000000u + (uint64_t)i * 4096u, &mark), 1);
		assert_match_mark(mark, MARK(30, (uint64_t)n + (uint64_t)(n - i)));
		/* answered on link 1, in this order */
		eng__ack_sent(a, mark, 1000000u + (uint64_t)i * 4096u, 1, (uint64_t)(n - i));
	}
	assert_int_equal(eng__ack_match(a, 1000000u, &mark), 0);
	assert_int_equal(eng__ack_match(a, 1000000u + (uint64_t)(n - 1) * 4096u, &mark), 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_matched(a), (uint64_t)(n - n / 2));
	/* all matched, none stored yet: still held; their answers are not
	 * read yet, so nothing is to be forgotten (this store fails) */
	assert_int_equal(eng__ack_watermark(a), m[n / 2 - 1]);
	struct changes c = take(a);
	assert_int_equal(c.nadd, (size_t)(n - n / 2));
	assert_int_equal(c.nforget, 0);
	give_back(a, &c, 0);
	/* the answers are read: every matched row is to be forgotten */
	eng__ack_confirmed(a, 1, (uint64_t)(n - n / 2), 0, 0);
	assert_int_equal(eng__ack_watermark(a), m[n / 2 - 1]);
	c = take(a);
	assert_int_equal(c.nadd, (size_t)(n - n / 2));
	assert_int_equal(c.nforget, (size_t)(n - n / 2));
	for (size_t j = 0; j < c.nadd; j++) {
		assert_int_equal(c.add[j].mark, m[n / 2 + (int)j]);
		assert_int_equal(c.add[j].fp, 1000000u + (uint64_t)(n / 2 + (int)j) * 4096u);
		assert_int_equal(c.forget[j], 1000000u + (uint64_t)(n - 1 - (int)j) * 4096u);
	}
	give_back(a, &c, 1);
	assert_int_equal(eng__ack_watermark(a), MARK(30, (uint64_t)n + (uint64_t)(n - n / 2)));
	free(m);
	eng__ack_free(a);
}

int main(void)
{
	eng_log_set_level(ENG_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_count_per_run),
		cmocka_unit_test(test_watermark_out_of_order),
		cmocka_unit_test(test_confirmed_upto_per_link),
		cmocka_unit_test(test_R16_lost_link_suspects_match_once),
		cmocka_unit_test(test_R16_store_failed_kept),
		cmocka_unit_test(test_R16_matched_suspect_lost_again),
		cmocka_unit_test(test_R16_forget_after_settle),
		cmocka_unit_test(test_expire_frees_without_settling),
		cmocka_unit_test(test_expired_unstored_holds_watermark),
		cmocka_unit_test(test_window_zero_disables),
		cmocka_unit_test(test_R16_stored_suspects),
		cmocka_unit_test(test_R16_stored_lost_again),
		cmocka_unit_test(test_fp_fields),
		cmocka_unit_test(test_respond_paths),
		cmocka_unit_test(test_R16_many_marks_model),
		cmocka_unit_test(test_R16_many_suspects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
