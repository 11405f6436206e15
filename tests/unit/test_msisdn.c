/* Unit tests: subscriber number normalisation (engine/msisdn.h, R2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "engine/msisdn.h"

static const struct {
	const char *in;
	const char *want; /* NULL: -EINVAL */
} r2_cases[] = {
	/* the four accepted forms */
	{ "+79161234567", "79161234567" },
	{ "79161234567", "79161234567" },
	{ "89161234567", "79161234567" },
	{ "9161234567", "79161234567" },
	/* separators anywhere */
	{ "+7 (916) 123-45-67", "79161234567" },
	{ "8 (916) 123 45 67", "79161234567" },
	{ "8-916-123-45-67", "79161234567" },
	{ "(916)1234567", "79161234567" },
	{ "916 123 45 67", "79161234567" },
	{ " +79161234567 ", "79161234567" },
	{ "+7-9-1-6-1-2-3-4-5-6-7", "79161234567" },
	{ "7(495)1234567", "74951234567" },
	{ "8 800 555 35 35", "78005553535" },
	{ "()()7 9161234567--", "79161234567" },
	/* invalid */
	{ "", NULL },
	{ " ", NULL },
	{ "+", NULL },
	{ "()-", NULL },
	{ "+89161234567", NULL },        /* '+8' */
	{ "+9161234567", NULL },         /* '+' with 10 digits */
	{ "+19161234567", NULL },
	{ "7+9161234567", NULL },        /* '+' not at the start */
	{ "79161234567+", NULL },
	{ "++79161234567", NULL },
	{ "7916123456", NULL },          /* 10 digits not starting with 9 */
	{ "8916123456", NULL },          /* too short */
	{ "916123456", NULL },
	{ "791612345678", NULL },        /* too long */
	{ "+791612345678", NULL },
	{ "89161234567 1", NULL },
	{ "69161234567", NULL },
	{ "19161234567", NULL },
	{ "1", NULL },
	{ "0", NULL },
	{ "7916123456a", NULL },         /* letters */
	{ "STOP", NULL },
	{ "+7 916 123 45 67.", NULL },
	{ "+7\t9161234567", NULL },      /* only spaces, dashes, parentheses */
	{ "8/916/1234567", NULL },
	{ "７9161234567", NULL },        /* full-width digit */
};

static void test_R2_normalize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof r2_cases / sizeof r2_cases[0]; i++) {
		char out[ENG_MSISDN_LEN + 1];
		memset(out, 'Z', sizeof out);
		int rc = eng_msisdn_normalize(r2_cases[i].in, out);
		if (r2_cases[i].want) {
			if (rc != 0)
				fail_msg("'%s' rejected (%d)", r2_cases[i].in, rc);
			assert_string_equal(out, r2_cases[i].want);
		} else {
			if (rc != -EINVAL)
				fail_msg("'%s' accepted as '%s'", r2_cases[i].in, out);
		}
		/* The counted variant agrees. */
		int rc2 = eng_msisdn_normalize_n(r2_cases[i].in, strlen(r2_cases[i].in), out);
		assert_int_equal(rc2, rc);
		if (rc == 0)
			assert_string_equal(out, r2_cases[i].want);
	}
}

static void test_R2_counted_variant(void **state)
{
	(void)state;
	char out[ENG_MSISDN_LEN + 1];
	/* Not NUL-terminated: only n bytes are read. */
	const char buf[] = { '8', '9', '1', '6', '1', '2', '3', '4', '5', '6', '7', 'X' };
	assert_int_equal(eng_msisdn_normalize_n(buf, 11, out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_normalize_n(buf, 12, out), -EINVAL);
	assert_int_equal(eng_msisdn_normalize_n(buf, 10, out), -EINVAL);
	assert_int_equal(eng_msisdn_normalize_n(buf, 0, out), -EINVAL);
	/* An embedded NUL is not a number character. */
	const char nul[] = "+7916\0" "1234567";
	assert_int_equal(eng_msisdn_normalize_n(nul, sizeof nul - 1, out), -EINVAL);
	assert_int_equal(eng_msisdn_normalize_n(NULL, 0, out), -EINVAL);
	/* 10 KB of digits. */
	char *big = malloc(10240);
	assert_non_null(big);
	memset(big, '7', 10240);
	assert_int_equal(eng_msisdn_normalize_n(big, 10240, out), -EINVAL);
	free(big);
}

/* Every success is 11 digits starting with 7. */
static void test_R2_canonical_shape(void **state)
{
	(void)state;
	char in[32], out[ENG_MSISDN_LEN + 1];
	for (int first = 0; first <= 9; first++) {
		for (int len = 8; len <= 13; len++) {
			for (int plus = 0; plus <= 1; plus++) {
				int o = 0;
				if (plus)
					in[o++] = '+';
				in[o++] = (char)('0' + first);
				for (int k = 1; k < len; k++)
					in[o++] = (char)('0' + k % 10);
				in[o] = '\0';
				int rc = eng_msisdn_normalize(in, out);
				bool ok = (len == 11 && first == 7) ||
					  (!plus && len == 11 && first == 8) ||
					  (!plus && len == 10 && first == 9);
				if (ok != (rc == 0))
					fail_msg("'%s' -> %d", in, rc);
				if (rc == 0) {
					assert_int_equal(strlen(out), 11);
					assert_int_equal(out[0], '7');
					assert_string_equal(out + 11 - (len == 10 ? 9 : 10),
							    in + (plus ? 1 : 0) + 1);
				}
			}
		}
	}
}

static void test_R2_from_smpp_ton(void **state)
{
	(void)state;
	char out[ENG_MSISDN_LEN + 1];
	/* TON 1 international: digits as they are. */
	assert_int_equal(eng_msisdn_from_smpp(1, "79161234567", out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_from_smpp(1, "+79161234567", out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_from_smpp(1, "89161234567", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, "9161234567", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, "7 916 123 45 67", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, "491701234567", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, "7916123456a", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, "", out), -EINVAL);
	/* TON 0 / 2: R2. */
	assert_int_equal(eng_msisdn_from_smpp(0, "89161234567", out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_from_smpp(2, "9161234567", out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_from_smpp(0, "+7 916 123-45-67", out), 0);
	assert_string_equal(out, "79161234567");
	assert_int_equal(eng_msisdn_from_smpp(2, "6249", out), -EINVAL);
	/* Other TONs (alphanumeric 5, abbreviated 6) are not subscribers. */
	assert_int_equal(eng_msisdn_from_smpp(5, "79161234567", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(6, "79161234567", out), -EINVAL);
	assert_int_equal(eng_msisdn_from_smpp(1, NULL, out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_R2_normalize_table),
		cmocka_unit_test(test_R2_counted_variant),
		cmocka_unit_test(test_R2_canonical_shape),
		cmocka_unit_test(test_R2_from_smpp_ton),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
