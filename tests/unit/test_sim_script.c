/* Unit tests of the smsc-sim scenario parser (smpp_gw/smsc_sim/script_parse.c).
 *
 * smsc-sim is a program, not a library, so the parser's translation unit is
 * compiled into this test directly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../smpp_gw/smsc_sim/script_parse.c"

static int parse(const char *text, struct sim_script *sc, char *err, size_t errsz)
{
	return sim_script_parse(text, strlen(text), sc, err, errsz);
}

static void test_every_command_parses(void **state)
{
	(void)state;
	const char *text =
		"# a scenario\n"
		"\n"
		"wait-bind\n"
		"wait-binds 2 3000\n"
		"mo +79161234567 6249 Привет,  мир\n"
		"mo-hex 79161234567 79169876543 8 0x40 05 00 03 01 02 01 04 1F\n"
		"raw 0000001000000015000000007FFFFFFF\n"
		"expect-resp ESME_ROK\n"
		"expect-resps 0x64 2000ms\n"
		"expect-mt 79161234567 3000ms ^Приглашение.*(1|2)$\n"
		"expect-mt 79161234567 123 abc\n"
		"expect-mt-parts 79161234567 2 8\n"
		"expect-no-mt\n"
		"expect-generic-nack 100\n"
		"expect-disconnect\n"
		"expect-bind-count 3\n"
		"throttle 5\n"
		"fail-submit 2 RX_R_APPN\n"
		"receipts fail\n"
		"drop\n"
		"refuse-binds 1\n"
		"password s3cret\n"
		"enquire-link 500\n"
		"wait 250\n"
		"echo hello\\sworld\\n   \r\n"
		"mo 79161234567 6249\n";
	struct sim_script sc;
	char err[256];
	assert_int_equal(parse(text, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.n, 24);

	struct sim_step *st = sc.steps;
	assert_int_equal(st[0].op, SIM_OP_WAIT_BIND);
	assert_int_equal(st[0].line, 3);
	assert_int_equal(st[0].ms, -1);
	assert_int_equal(st[1].op, SIM_OP_WAIT_BINDS);
	assert_int_equal(st[1].n, 2);
	assert_int_equal(st[1].ms, 3000);

	assert_int_equal(st[2].op, SIM_OP_MO);
	assert_string_equal(st[2].from, "+79161234567");
	assert_string_equal(st[2].to, "6249");
	assert_string_equal(st[2].text, "Привет,  мир"); /* inner blanks kept */
	assert_string_equal(st[2].src, "mo +79161234567 6249 Привет,  мир");

	assert_int_equal(st[3].op, SIM_OP_MO_HEX);
	assert_int_equal(st[3].dcs, 8);
	assert_int_equal(st[3].esm, 0x40);
	assert_int_equal(st[3].nbytes, 8);
	static const uint8_t want_hex[] = { 5, 0, 3, 1, 2, 1, 0x04, 0x1F };
	assert_memory_equal(st[3].bytes, want_hex, sizeof(want_hex));

	assert_int_equal(st[4].op, SIM_OP_RAW);
	assert_int_equal(st[4].nbytes, 16);
	assert_int_equal(st[4].bytes[7], 0x15);

	assert_int_equal(st[5].op, SIM_OP_EXPECT_RESP);
	assert_int_equal(st[5].status, 0);
	assert_int_equal(st[6].op, SIM_OP_EXPECT_RESPS);
	assert_int_equal(st[6].status, 0x64);
	assert_int_equal(st[6].ms, 2000);

	/* expect-mt: "Nms" after TO is a timeout; the rest is the regex */
	assert_int_equal(st[7].op, SIM_OP_EXPECT_MT);
	assert_int_equal(st[7].ms, 3000);
	assert_string_equal(st[7].text, "^Приглашение.*(1|2)$");
	assert_true(st[7].has_re);
	assert_int_equal(regexec(&st[7].re, "Приглашение от 79161234567: 1", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(&st[7].re, "Приглашение: 3", 0, NULL, 0), 0);
	/* a bare number after TO belongs to the regex */
	assert_int_equal(st[8].ms, -1);
	assert_string_equal(st[8].text, "123 abc");
	assert_int_equal(regexec(&st[8].re, "code 123 ABC", 0, NULL, 0), 0); /* REG_ICASE */

	assert_int_equal(st[9].op, SIM_OP_EXPECT_MT_PARTS);
	assert_int_equal(st[9].n, 2);
	assert_int_equal(st[9].dcs, 8);
	assert_int_equal(st[10].op, SIM_OP_EXPECT_NO_MT);
	assert_int_equal(st[11].op, SIM_OP_EXPECT_GENERIC_NACK);
	assert_int_equal(st[11].ms, 100);
	assert_int_equal(st[12].op, SIM_OP_EXPECT_DISCONNECT);
	assert_int_equal(st[13].op, SIM_OP_EXPECT_BIND_COUNT);
	assert_int_equal(st[13].n, 3);
	assert_int_equal(st[14].op, SIM_OP_THROTTLE);
	assert_int_equal(st[14].n, 5);
	assert_int_equal(st[15].op, SIM_OP_FAIL_SUBMIT);
	assert_int_equal(st[15].n, 2);
	assert_int_equal(st[15].status, 0x66);
	assert_int_equal(st[16].op, SIM_OP_RECEIPTS);
	assert_int_equal(st[16].n, SIM_RECEIPTS_FAIL);
	assert_int_equal(st[17].op, SIM_OP_DROP);
	assert_int_equal(st[18].op, SIM_OP_REFUSE_BINDS);
	assert_int_equal(st[19].op, SIM_OP_PASSWORD);
	assert_string_equal(st[19].text, "s3cret");
	assert_int_equal(st[20].op, SIM_OP_ENQUIRE_LINK);
	assert_int_equal(st[20].ms, 500);
	assert_int_equal(st[21].op, SIM_OP_WAIT);
	assert_int_equal(st[21].ms, 250);
	assert_int_equal(st[22].op, SIM_OP_ECHO);
	assert_string_equal(st[22].text, "hello world\n"); /* escapes; trailing blanks and CR cut */
	assert_int_equal(st[23].op, SIM_OP_MO);
	assert_string_equal(st[23].text, ""); /* an empty MO is allowed */
	assert_int_equal(st[23].line, 26);
	sim_script_free(&sc);
	assert_null(sc.steps);
}

struct bad_case {
	const char *text;
	const char *want; /* substring of the error */
};

static void test_errors_name_the_line(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "wait-bind\n# c\nfrobnicate 1\n", "line 3: unknown command 'frobnicate'" },
		{ "mo 79161234567\n", "line 1: mo: missing TO" },
		{ "mo abc 6249 hi\n", "line 1: mo: bad FROM 'abc'" },
		{ "\n\nexpect-mt 79161234567 (unclosed\n", "line 3: expect-mt: bad regex" },
		{ "raw 0A0\n", "line 1: raw: bad hex" },
		{ "raw 0 A\n", "line 1: raw: bad hex" },
		{ "raw\n", "line 1: raw: no bytes" },
		{ "expect-resp ESME_RNOSUCH\n", "line 1: expect-resp: bad STATUS 'ESME_RNOSUCH'" },
		{ "wait-bind 10 20\n", "line 1: wait-bind: unexpected argument '20'" },
		{ "wait-bind soon\n", "line 1: wait-bind: bad timeout 'soon'" },
		{ "wait\n", "line 1: wait: missing MS" },
		{ "receipts maybe\n", "line 1: receipts: expected on, off or fail" },
		{ "password waytoolongpw\n", "line 1: password: SMPP passwords have at most 8" },
		{ "mo-hex 1 2 300 0 41\n", "line 1: mo-hex: DCS and ESM are octets" },
		{ "throttle -1\n", "line 1: throttle: bad N '-1'" },
		{ "fail-submit 1\n", "line 1: fail-submit: missing STATUS" },
		{ "expect-mt-parts 79161234567\n", "line 1: expect-mt-parts: missing N" },
		{ "drop now\n", "line 1: drop: unexpected argument 'now'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sim_script sc = { 0 };
		char err[256];
		int rc = parse(cases[i].text, &sc, err, sizeof(err));
		if (rc != -EINVAL || !strstr(err, cases[i].want))
			fail_msg("case %zu: rc=%d err='%s' want '%s'", i, rc, err, cases[i].want);
		assert_null(sc.steps);
		assert_int_equal(sc.n, 0);
	}
}

static void test_status_names(void **state)
{
	(void)state;
	uint32_t v = 0xdead;
	assert_int_equal(sim_parse_status("ESME_RTHROTTLED", &v), 0);
	assert_int_equal(v, 0x58);
	assert_int_equal(sim_parse_status("rx_t_appn", &v), 0);
	assert_int_equal(v, 0x64);
	assert_int_equal(sim_parse_status("0x66", &v), 0);
	assert_int_equal(v, 0x66);
	assert_int_equal(sim_parse_status("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sim_parse_status("100", &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(sim_parse_status("ESME_BOGUS", &v), -EINVAL);
	assert_int_equal(sim_parse_status("12x", &v), -EINVAL);
	assert_int_equal(sim_parse_status("", &v), -EINVAL);
}

/* R2: the number forms a test may write all compare equal to the canonical one */
static void test_canon_number_R2(void **state)
{
	(void)state;
	char out[32];
	sim_canon_number("+7 (916) 123-45-67", out, sizeof(out));
	assert_string_equal(out, "79161234567");
	sim_canon_number("89161234567", out, sizeof(out));
	assert_string_equal(out, "79161234567");
	sim_canon_number("9161234567", out, sizeof(out));
	assert_string_equal(out, "79161234567");
	sim_canon_number("6249", out, sizeof(out));
	assert_string_equal(out, "6249");
}

static void test_hex(void **state)
{
	(void)state;
	uint8_t *b = NULL;
	size_t n = 99;
	assert_int_equal(sim_parse_hex("", &b, &n), 0);
	assert_int_equal(n, 0);
	free(b);
	assert_int_equal(sim_parse_hex("de AD  00ff", &b, &n), 0);
	assert_int_equal(n, 4);
	static const uint8_t want[] = { 0xde, 0xad, 0x00, 0xff };
	assert_memory_equal(b, want, 4);
	free(b);
	assert_int_equal(sim_parse_hex("0g", &b, &n), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_command_parses),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_canon_number_R2),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
