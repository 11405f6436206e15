/* Redelivery after a lost acknowledgement (engine/src/ack.c, R16: no MO
 * relayed or charged twice): marks, the watermark, per-link confirmation,
 * suspects and their matching, expiry, the previous run's suspects, the
 * fingerprint, and a model-checked run over many marks.
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

static const uint8_t P_HELLO[] = "hello";

static uint64_t fp_of(const char *src, const char *text)
{
	return eng__ack_fp(src, "79009990000", 8, 0, (const uint8_t *)text, strlen(text));
}

/* ---- marks and the watermark ---- */

static void test_marks_count_per_run(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(7, 0);
	assert_non_null(a);
	/* nothing marked: every row of this run (none) is settled */
	assert_int_equal(eng__ack_watermark(a), MARK(7, 0));
	assert_int_equal(eng__ack_mark(a, 1), MARK(7, 1));
	assert_int_equal(eng__ack_mark(a, 3), MARK(7, 2));
	assert_int_equal(eng__ack_mark(a, 1), MARK(7, 3));
	/* nothing settled yet */
	assert_int_equal(eng__ack_watermark(a), MARK(7, 0));
	eng__ack_free(a);

	/* the next run counts from 1 again, above every mark of run 7 */
	a = eng__ack_new(8, MARK(7, 3));
	assert_int_equal(eng__ack_mark(a, 1), MARK(8, 1));
	assert_true(MARK(8, 1) > MARK(7, 3));
	eng__ack_free(a);
	eng__ack_free(NULL);
}

static void test_watermark_out_of_order(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(5, 0);
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
	eng__ack_free(a);
}

/* ---- confirmation per link ---- */

static void test_confirmed_upto_per_link(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(1, 0);
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
	eng__ack_free(a);
}

/* R16: answers on a lost link the SMSC never confirmed become suspects;
 * each redelivery is recognised once, by its fingerprint. */
static void test_R16_lost_link_suspects_match_once(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(2, 0);
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

	eng__ack_confirmed(a, 0, 1, 1, 100 * SEC);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), m1); /* m2, m3 held */

	/* another MO: no match, nothing consumed */
	assert_int_equal(eng__ack_match(a, f9, &mark), 0);
	assert_int_equal(eng__ack_match(a, f1, &mark), 0); /* m1 was confirmed */
	assert_int_equal(eng__ack_suspects(a), 2);

	mark = 0;
	assert_int_equal(eng__ack_match(a, f2, &mark), 1);
	assert_int_equal(mark, m2);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_matched(a), 1);
	/* the same MO once more is a new message, not a redelivery */
	assert_int_equal(eng__ack_match(a, f2, &mark), 0);
	assert_int_equal(eng__ack_matched(a), 1);

	/* the redelivery is answered on the new connection; the link's
	 * ordinals keep growing */
	eng__ack_sent(a, m2, f2, 0, 4);
	assert_int_equal(eng__ack_watermark(a), m1);
	eng__ack_confirmed(a, 0, 4, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2); /* m3 still a suspect */

	/* link 1 was untouched by link 0's loss */
	eng__ack_confirmed(a, 1, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2);

	assert_int_equal(eng__ack_match(a, f3, &mark), 1);
	assert_int_equal(mark, m3);
	assert_int_equal(eng__ack_suspects(a), 0);
	eng__ack_sent(a, m3, f3, 1, 2);
	eng__ack_confirmed(a, 1, 2, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m4);
	assert_int_equal(eng__ack_matched(a), 2);
	eng__ack_free(a);
}

/* A matched suspect whose answer is lost again becomes a suspect again. */
static void test_R16_matched_suspect_lost_again(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(3, 0);
	uint64_t f = fp_of("79001110001", "again");
	uint64_t m1 = eng__ack_mark(a, 1);
	eng__ack_sent(a, m1, f, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_int_equal(mark, m1);
	eng__ack_sent(a, m1, f, 0, 2);
	eng__ack_confirmed(a, 0, 1, 1, 0); /* lost before ordinal 2 was read */
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), MARK(3, 0));
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_int_equal(mark, m1);
	eng__ack_sent(a, m1, f, 0, 3);
	eng__ack_confirmed(a, 0, 3, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m1);
	eng__ack_free(a);
}

static void test_R16_unsent_is_suspect(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(4, 0);
	uint64_t f = fp_of("79001110001", "unsent");
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, f, 10 * SEC);
	eng__ack_done(a, m2);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 0));
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f + 1, &mark), 0);
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_int_equal(mark, m1);
	eng__ack_sent(a, m1, f, 2, 1);
	assert_int_equal(eng__ack_watermark(a), MARK(4, 0));
	eng__ack_confirmed(a, 2, 1, 0, 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	/* unwatched MOs (mark 0) never become suspects */
	eng__ack_unsent(a, 0, f, 0);
	eng__ack_sent(a, 0, f, 0, 7);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	eng__ack_free(a);
}

/* ---- the redelivery window ---- */

static void test_expire_after_window(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(6, 0);
	eng__ack_set_window(a, 10 * SEC);
	uint64_t fa = fp_of("79001110001", "a"), fb = fp_of("79001110002", "b");
	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, fa, 100 * SEC);       /* expires at 110 s */
	eng__ack_sent(a, m2, fb, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 105 * SEC);   /* expires at 115 s */
	assert_int_equal(eng__ack_suspects(a), 2);

	eng__ack_expire(a, 110 * SEC - 1);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), MARK(6, 0));

	eng__ack_expire(a, 110 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), m1);
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, fa, &mark), 0); /* gone: a new MO */

	eng__ack_expire(a, 115 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m2);
	assert_int_equal(eng__ack_match(a, fb, &mark), 0);
	eng__ack_expire(a, 1000 * SEC); /* nothing left: harmless */
	assert_int_equal(eng__ack_matched(a), 0);
	eng__ack_free(a);
}

static void test_window_zero_disables(void **state)
{
	(void)state;
	struct eng_ack *a = eng__ack_new(9, MARK(8, 4));
	eng__ack_set_window(a, 0);
	uint64_t f = fp_of("79001110001", "w0");
	eng__ack_add_previous(a, f, 1000 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	/* no previous suspect holds the watermark at prev_mark */
	assert_int_equal(eng__ack_watermark(a), MARK(9, 0));

	uint64_t m1 = eng__ack_mark(a, 1), m2 = eng__ack_mark(a, 1);
	eng__ack_unsent(a, m1, f, 0);
	eng__ack_sent(a, m2, f, 0, 1);
	eng__ack_confirmed(a, 0, 0, 1, 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m2); /* settled, not watched */
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 0);
	assert_int_equal(eng__ack_matched(a), 0);
	eng__ack_free(a);
}

/* ---- the previous run ---- */

static void test_R16_previous_run_suspects(void **state)
{
	(void)state;
	uint64_t prev = MARK(10, 42);
	struct eng_ack *a = eng__ack_new(11, prev);
	eng__ack_set_window(a, 300 * SEC);
	uint64_t f1 = fp_of("79001110001", "before crash 1");
	uint64_t f2 = fp_of("79001110002", "before crash 2");
	eng__ack_add_previous(a, f1, 100 * SEC);
	eng__ack_add_previous(a, f2, 200 * SEC);
	assert_int_equal(eng__ack_suspects(a), 2);
	assert_int_equal(eng__ack_watermark(a), prev);

	/* this run's own MOs settle; the watermark still may not pass prev */
	uint64_t m1 = eng__ack_mark(a, 1);
	eng__ack_done(a, m1);
	assert_int_equal(eng__ack_watermark(a), prev);

	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f1, &mark), 1);
	assert_int_equal(mark, ENG_ACK_PREVIOUS);
	assert_int_equal(eng__ack_match(a, f1, &mark), 0);
	/* matched, answered, not yet confirmed: still held */
	eng__ack_sent(a, ENG_ACK_PREVIOUS, f1, 0, 1);
	assert_int_equal(eng__ack_watermark(a), prev);
	eng__ack_confirmed(a, 0, 1, 0, 50 * SEC);
	assert_int_equal(eng__ack_watermark(a), prev); /* f2 still open */

	eng__ack_expire(a, 199 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), prev);
	eng__ack_expire(a, 200 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m1);
	assert_true(eng__ack_watermark(a) > prev);
	eng__ack_free(a);
}

/* A previous-run suspect matched and then lost again stays a suspect. */
static void test_R16_previous_lost_again(void **state)
{
	(void)state;
	uint64_t prev = MARK(20, 7);
	struct eng_ack *a = eng__ack_new(21, prev);
	uint64_t f = fp_of("79001110001", "prev");
	eng__ack_add_previous(a, f, 100 * SEC);
	uint64_t mark = 0;
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	eng__ack_sent(a, mark, f, 3, 1);
	eng__ack_confirmed(a, 3, 0, 1, 10 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	assert_int_equal(eng__ack_watermark(a), prev);
	assert_int_equal(eng__ack_match(a, f, &mark), 1);
	assert_int_equal(mark, ENG_ACK_PREVIOUS);
	eng__ack_sent(a, mark, f, 3, 2);
	eng__ack_confirmed(a, 3, 2, 0, 11 * SEC);
	assert_int_equal(eng__ack_watermark(a), MARK(21, 0));
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
	struct eng_ack *a = eng__ack_new(12, 0);
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
	assert_int_equal(mark, m3);
	/* its redelivery answered on a dead link again: a suspect again */
	eng__ack_respond(a, e, token, SMPP_ESME_ROK, mark, f, 6 * SEC);
	assert_int_equal(eng__ack_suspects(a), 1);
	eng__ack_expire(a, 66 * SEC);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_watermark(a), m3);
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

struct pend {
	uint64_t ord;
	uint32_t k;
};

static void test_many_marks_model(void **state)
{
	(void)state;
	const uint32_t run = 0x1234;
	struct eng_ack *a = eng__ack_new(run, 0);
	eng__ack_set_window(a, 1000 * SEC);
	/* model: MOs still open per mark, the open MOs not yet handed over */
	int *left = calloc(NMARKS + 2, sizeof *left);
	uint32_t *open = malloc(4 * NMARKS * sizeof *open); /* k of each open MO */
	struct pend *pl[NLINKS];
	size_t npl[NLINKS] = {0}, hpl[NLINKS] = {0};
	uint64_t ord[NLINKS] = {0};
	assert_non_null(left);
	assert_non_null(open);
	for (int i = 0; i < NLINKS; i++) {
		pl[i] = malloc(4 * NMARKS * sizeof *pl[i]);
		assert_non_null(pl[i]);
	}
	size_t nopen = 0;
	uint32_t last = 0, low = 1; /* low: the oldest mark possibly open */
	unsigned long checks = 0;

	while (last < NMARKS || nopen) {
		uint32_t r = rnd(100);
		if (last < NMARKS && (r < 45 || nopen == 0)) {
			/* a batch; sometimes a burst keeps many marks open */
			int n = 1 + (int)rnd(3);
			uint64_t m = eng__ack_mark(a, n);
			last++;
			assert_int_equal(m, MARK(run, last));
			left[last] = n;
			for (int i = 0; i < n; i++)
				open[nopen++] = last;
		} else if (r < 70 && nopen) {
			/* one open MO settles with an error answer */
			size_t i = rnd((uint32_t)nopen);
			uint32_t k = open[i];
			open[i] = open[--nopen];
			eng__ack_done(a, MARK(run, k));
			left[k]--;
		} else if (r < 95 && nopen) {
			/* answered ESME_ROK on a link: open until confirmed */
			size_t i = rnd((uint32_t)nopen);
			uint32_t k = open[i];
			open[i] = open[--nopen];
			int l = (int)rnd(NLINKS);
			ord[l]++;
			eng__ack_sent(a, MARK(run, k), k, l, ord[l]);
			pl[l][npl[l]++] = (struct pend){ord[l], k};
		} else {
			/* a link confirms part of what it wrote */
			int l = (int)rnd(NLINKS);
			size_t pending = npl[l] - hpl[l];
			uint64_t upto = pending ? pl[l][hpl[l] + rnd((uint32_t)pending)].ord
						: ord[l];
			eng__ack_confirmed(a, l, upto, 0, 0);
			while (hpl[l] < npl[l] && pl[l][hpl[l]].ord <= upto)
				left[pl[l][hpl[l]++].k]--;
		}
		if (nopen == 0 && last == NMARKS) {
			/* the end: every link confirms the rest */
			for (int l = 0; l < NLINKS; l++) {
				eng__ack_confirmed(a, l, ord[l], 0, 0);
				while (hpl[l] < npl[l])
					left[pl[l][hpl[l]++].k]--;
			}
		}
		while (low <= last && left[low] == 0)
			low++;
		assert_int_equal(eng__ack_watermark(a), MARK(run, low - 1));
		checks++;
	}
	assert_int_equal(eng__ack_watermark(a), MARK(run, NMARKS));
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_true(checks > NMARKS);

	/* a long backlog behind one open mark: the ring grows, the
	 * watermark holds, then jumps */
	uint64_t first = eng__ack_mark(a, 1);
	for (int i = 0; i < NMARKS; i++) {
		uint64_t m = eng__ack_mark(a, 1);
		eng__ack_sent(a, m, (uint64_t)i, 0, ++ord[0]);
	}
	eng__ack_confirmed(a, 0, ord[0], 0, 0);
	assert_int_equal(eng__ack_watermark(a), MARK(run, NMARKS));
	eng__ack_done(a, first);
	assert_int_equal(eng__ack_watermark(a), MARK(run, 2 * NMARKS + 1));

	for (int i = 0; i < NLINKS; i++)
		free(pl[i]);
	free(open);
	free(left);
	eng__ack_free(a);
}

/* Lost with many entries: every unconfirmed one is a suspect, found by its
 * fingerprint; the watermark moves only as they settle. */
static void test_R16_many_suspects(void **state)
{
	(void)state;
	const int n = 5000;
	struct eng_ack *a = eng__ack_new(30, 0);
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
		assert_int_equal(mark, m[i]);
		eng__ack_done(a, mark);
	}
	assert_int_equal(eng__ack_match(a, 1000000u, &mark), 0);
	assert_int_equal(eng__ack_suspects(a), 0);
	assert_int_equal(eng__ack_matched(a), (uint64_t)(n - n / 2));
	assert_int_equal(eng__ack_watermark(a), m[n - 1]);
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
		cmocka_unit_test(test_R16_matched_suspect_lost_again),
		cmocka_unit_test(test_R16_unsent_is_suspect),
		cmocka_unit_test(test_expire_after_window),
		cmocka_unit_test(test_window_zero_disables),
		cmocka_unit_test(test_R16_previous_run_suspects),
		cmocka_unit_test(test_R16_previous_lost_again),
		cmocka_unit_test(test_fp_fields),
		cmocka_unit_test(test_respond_paths),
		cmocka_unit_test(test_many_marks_model),
		cmocka_unit_test(test_R16_many_suspects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
