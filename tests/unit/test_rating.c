/* Rating of one relayed message (engine/rating.h, eng_rate): the allowance
 * (R9), charges beyond it (R10), a multi-part message across the end of the
 * allowance (D6), messages outside a dialog (R11), amount = charged x price,
 * a zero price and a zero allowance. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine/rating.h"

/* rate(): one call with a poisoned output, so that a field left unset shows. */
static struct eng_rate_out rate(int segments, int in_dialog, int allowance, int used,
				int64_t price)
{
	struct eng_rate_in in = {segments, in_dialog, allowance, used, price};
	struct eng_rate_out out;
	memset(&out, 0x5a, sizeof out);
	out.rule = "poison";
	eng_rate(&in, &out);
	assert_non_null(out.rule);
	/* invariants of every answer */
	assert_true(out.free_segments >= 0);
	assert_true(out.charged_segments >= 0);
	assert_int_equal(out.amount, (int64_t)out.charged_segments * price);
	return out;
}

static void expect(struct eng_rate_out o, int free_segs, int charged, int64_t amount,
		   const char *rule)
{
	assert_int_equal(o.free_segments, free_segs);
	assert_int_equal(o.charged_segments, charged);
	assert_int_equal(o.amount, amount);
	assert_string_equal(o.rule, rule);
}

/* R9: within the allowance a message costs nothing, whatever the price. */
static void test_R9_free_within_allowance(void **state)
{
	(void)state;
	expect(rate(1, 1, 50, 0, 150), 1, 0, 0, "R9");
	expect(rate(1, 1, 50, 48, 150), 1, 0, 0, "R9");
	/* the very last unit of the day */
	expect(rate(1, 1, 50, 49, 150), 1, 0, 0, "R9");
	/* a 3-part message that exactly fills the allowance */
	expect(rate(3, 1, 50, 47, 200), 3, 0, 0, "R9");
	expect(rate(3, 1, 3, 0, 200), 3, 0, 0, "R9");
}

/* R10: beyond the allowance each segment is charged at the sender's price. */
static void test_R10_charged_beyond_allowance(void **state)
{
	(void)state;
	/* message 51 of the day */
	expect(rate(1, 1, 50, 50, 150), 0, 1, 150, "R10");
	expect(rate(1, 1, 50, 51, 200), 0, 1, 200, "R10");
	/* a 3-part message after the allowance is spent: all three charged */
	expect(rate(3, 1, 50, 50, 150), 0, 3, 450, "R10");
	/* used beyond the allowance (reservations in flight) is still R10 */
	expect(rate(2, 1, 50, 70, 150), 0, 2, 300, "R10");
}

/* D6: the allowance running out inside a multi-part message: the parts within
 * it free, the rest charged, and the rule is R10 (some charged). */
static void test_D6_partly_charged(void **state)
{
	(void)state;
	/* 3 segments, 2 units left -> 2 free + 1 charged */
	expect(rate(3, 1, 50, 48, 150), 2, 1, 150, "R10");
	/* 3 segments, 1 unit left -> 1 free + 2 charged */
	expect(rate(3, 1, 50, 49, 200), 1, 2, 400, "R10");
	/* the test allowance of t_relay_segments: 4, a 3-part after 3 used */
	expect(rate(3, 1, 4, 3, 150), 1, 2, 300, "R10");
	/* 7 segments, 5 left */
	expect(rate(7, 1, 10, 5, 100), 5, 2, 200, "R10");
}

/* R11: no active dialog -> every segment charged, whatever the counter says. */
static void test_R11_no_dialog_all_charged(void **state)
{
	(void)state;
	expect(rate(1, 0, 50, 0, 150), 0, 1, 150, "R11");
	expect(rate(3, 0, 50, 0, 150), 0, 3, 450, "R11");
	expect(rate(2, 0, 50, 60, 200), 0, 2, 400, "R11");
	/* R11 even if the (meaningless) counter is beyond the allowance */
	expect(rate(1, 0, 0, 0, 150), 0, 1, 150, "R11");
}

/* amount = charged x price, in 64-bit kopecks (no int overflow). */
static void test_amount_is_charged_times_price(void **state)
{
	(void)state;
	expect(rate(5, 1, 2, 0, 175), 2, 3, 525, "R10");
	int64_t big = INT64_C(5000000000); /* 50 000 000 RUB a segment */
	struct eng_rate_out o = rate(3, 0, 50, 0, big);
	assert_int_equal(o.charged_segments, 3);
	assert_true(o.amount == INT64_C(15000000000));
}

/* A zero price: charged segments are counted (and the rule says so), the
 * amount is 0. */
static void test_zero_price(void **state)
{
	(void)state;
	expect(rate(1, 1, 50, 50, 0), 0, 1, 0, "R10");
	expect(rate(3, 1, 50, 48, 0), 2, 1, 0, "R10");
	expect(rate(2, 0, 50, 0, 0), 0, 2, 0, "R11");
	expect(rate(2, 1, 50, 0, 0), 2, 0, 0, "R9");
}

/* daily_allowance = 0: nothing is ever free, even in a dialog (R10, not R11). */
static void test_allowance_zero(void **state)
{
	(void)state;
	expect(rate(1, 1, 0, 0, 150), 0, 1, 150, "R10");
	expect(rate(3, 1, 0, 0, 150), 0, 3, 450, "R10");
}

/* A degenerate segment count is one message (D6: every deliver_sm counts). */
static void test_D6_at_least_one_segment(void **state)
{
	(void)state;
	struct eng_rate_out o = rate(0, 1, 50, 0, 150);
	assert_int_equal(o.free_segments + o.charged_segments, 1);
	o = rate(0, 0, 50, 0, 150);
	assert_int_equal(o.charged_segments, 1);
	assert_int_equal(o.amount, 150);
}

/* Sequential use of the counter, as the engine does it: 50 single messages of
 * a pair are free, the 51st and 52nd are charged at their senders' prices. */
static void test_R9_R10_sequence_of_a_day(void **state)
{
	(void)state;
	int used = 0, free_total = 0;
	int64_t charged_total = 0;
	for (int i = 0; i < 52; i++) {
		int64_t price = i % 2 ? 200 : 150;
		struct eng_rate_out o = rate(1, 1, 50, used, price);
		used += o.free_segments;
		free_total += o.free_segments;
		charged_total += o.amount;
		assert_string_equal(o.rule, i < 50 ? "R9" : "R10");
	}
	assert_int_equal(used, 50);
	assert_int_equal(free_total, 50);
	assert_int_equal(charged_total, 150 + 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_R9_free_within_allowance),
		cmocka_unit_test(test_R10_charged_beyond_allowance),
		cmocka_unit_test(test_D6_partly_charged),
		cmocka_unit_test(test_R11_no_dialog_all_charged),
		cmocka_unit_test(test_amount_is_charged_times_price),
		cmocka_unit_test(test_zero_price),
		cmocka_unit_test(test_allowance_zero),
		cmocka_unit_test(test_D6_at_least_one_segment),
		cmocka_unit_test(test_R9_R10_sequence_of_a_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
