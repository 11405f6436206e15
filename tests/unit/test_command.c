/* Unit tests: commands to the short code (engine/command.h, service-rules.md
 * "Commands": R4 invite, R6 accept, R7 decline, R14 stop, status, help). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/command.h"

#define NUM "79161234567"

struct cmd_case {
	const char *text;
	enum eng_cmd_kind kind;
	const char *number;        /* NULL: no number */
	enum eng_cmd_kind wanted;  /* checked for BAD_NUMBER only */
};

static void run_cases(const struct cmd_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct eng_cmd cmd;
		memset(&cmd, 0x5A, sizeof cmd);
		eng_cmd_parse(c[i].text, strlen(c[i].text), &cmd);
		if (cmd.kind != c[i].kind)
			fail_msg("'%s': kind %s, want %s", c[i].text, eng_cmd_kind_name(cmd.kind),
				 eng_cmd_kind_name(c[i].kind));
		if (c[i].number) {
			if (!cmd.has_number)
				fail_msg("'%s': no number", c[i].text);
			assert_string_equal(cmd.number, c[i].number);
		} else if (cmd.has_number) {
			fail_msg("'%s': unexpected number %s", c[i].text, cmd.number);
		}
		if (c[i].kind == ENG_CMD_BAD_NUMBER && cmd.wanted != c[i].wanted)
			fail_msg("'%s': wanted %s, want %s", c[i].text, eng_cmd_kind_name(cmd.wanted),
				 eng_cmd_kind_name(c[i].wanted));
	}
}

#define RUN(tab) run_cases(tab, sizeof tab / sizeof tab[0])

/* R4: a phone number (any R2 form) invites; a number-like text that is
 * not valid is BAD_NUMBER wanting INVITE. */
static void test_R4_invite_by_number(void **state)
{
	(void)state;
	static const struct cmd_case t[] = {
		{ "+79161234567", ENG_CMD_INVITE, NUM, 0 },
		{ "79161234567", ENG_CMD_INVITE, NUM, 0 },
		{ "89161234567", ENG_CMD_INVITE, NUM, 0 },
		{ "9161234567", ENG_CMD_INVITE, NUM, 0 },
		{ "8 (916) 123-45-67", ENG_CMD_INVITE, NUM, 0 },
		{ "+7 916 123 45 67", ENG_CMD_INVITE, NUM, 0 },
		{ "  \t+7(916)1234567\r\n", ENG_CMD_INVITE, NUM, 0 },
		{ "\xC2\xA0" "89161234567" "\xC2\xA0", ENG_CMD_INVITE, NUM, 0 },
		{ "8 916\t123  45 67", ENG_CMD_INVITE, NUM, 0 },
		{ "916-123-45-67", ENG_CMD_INVITE, NUM, 0 },
		{ "7 916 123 45 67", ENG_CMD_INVITE, NUM, 0 },
		{ "8916123456", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "+89161234567", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "791612345678", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "12345", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "7+9161234567", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "00", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "11", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "(1)", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "1-916-123-45-67", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
		{ "+", ENG_CMD_HELP, NULL, 0 },
		{ "()", ENG_CMD_HELP, NULL, 0 },
		{ "- -", ENG_CMD_HELP, NULL, 0 },
		{ "8916123456x", ENG_CMD_HELP, NULL, 0 },
		{ "call 89161234567", ENG_CMD_HELP, NULL, 0 },
	};
	RUN(t);
}

/* R6: "1" accepts, "1 <number>" accepts that inviter's invitation. */
static void test_R6_accept(void **state)
{
	(void)state;
	static const struct cmd_case t[] = {
		{ "1", ENG_CMD_ACCEPT, NULL, 0 },
		{ " 1 ", ENG_CMD_ACCEPT, NULL, 0 },
		{ "\t1\n", ENG_CMD_ACCEPT, NULL, 0 },
		{ "\xC2\xA0" "1", ENG_CMD_ACCEPT, NULL, 0 },
		{ "1 89161234567", ENG_CMD_ACCEPT, NUM, 0 },
		{ "1   +7 (916) 123-45-67", ENG_CMD_ACCEPT, NUM, 0 },
		{ "1\t9161234567", ENG_CMD_ACCEPT, NUM, 0 },
		{ "1 12345", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_ACCEPT },
		{ "1 2", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_ACCEPT },
		{ "1 +89161234567", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_ACCEPT },
		{ "1 yes", ENG_CMD_HELP, NULL, 0 },
	};
	RUN(t);
}

/* R7: "2" declines, "2 <number>" declines that one. */
static void test_R7_decline(void **state)
{
	(void)state;
	static const struct cmd_case t[] = {
		{ "2", ENG_CMD_DECLINE, NULL, 0 },
		{ "  2\r\n", ENG_CMD_DECLINE, NULL, 0 },
		{ "2 +79161234567", ENG_CMD_DECLINE, NUM, 0 },
		{ "2 8-916-123-45-67", ENG_CMD_DECLINE, NUM, 0 },
		{ "2 89161234", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_DECLINE },
		{ "2 no", ENG_CMD_HELP, NULL, 0 },
	};
	RUN(t);
}

/* R14: STOP / СТОП / 0, any case, optionally with a number. */
static void test_R14_stop(void **state)
{
	(void)state;
	static const struct cmd_case t[] = {
		{ "STOP", ENG_CMD_STOP, NULL, 0 },
		{ "stop", ENG_CMD_STOP, NULL, 0 },
		{ "Stop", ENG_CMD_STOP, NULL, 0 },
		{ "sToP", ENG_CMD_STOP, NULL, 0 },
		{ "СТОП", ENG_CMD_STOP, NULL, 0 },
		{ "стоп", ENG_CMD_STOP, NULL, 0 },
		{ "сТоП", ENG_CMD_STOP, NULL, 0 },
		{ "Стоп", ENG_CMD_STOP, NULL, 0 },
		{ "0", ENG_CMD_STOP, NULL, 0 },
		{ "\xEF\xBB\xBF  стоп \xC2\xA0\n", ENG_CMD_STOP, NULL, 0 },
		{ "STOP 89161234567", ENG_CMD_STOP, NUM, 0 },
		{ "stop   +7 916 123 45 67", ENG_CMD_STOP, NUM, 0 },
		{ "STOP79161234567", ENG_CMD_STOP, NUM, 0 },
		{ "STOP+79161234567", ENG_CMD_STOP, NUM, 0 },
		{ "стоп8(916)1234567", ENG_CMD_STOP, NUM, 0 },
		{ "СТОП\t9161234567", ENG_CMD_STOP, NUM, 0 },
		{ "0 89161234567", ENG_CMD_STOP, NUM, 0 },
		{ "0 7916", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_STOP },
		{ "STOP 12345", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_STOP },
		{ "stop1", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_STOP },
		{ "СТОП +89161234567", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_STOP },
		{ "STOPP", ENG_CMD_HELP, NULL, 0 },
		{ "STO P", ENG_CMD_HELP, NULL, 0 },
		{ "stop it", ENG_CMD_HELP, NULL, 0 },
		{ "стопы", ENG_CMD_HELP, NULL, 0 },
	};
	RUN(t);
}

static void test_status_and_help(void **state)
{
	(void)state;
	static const struct cmd_case t[] = {
		{ "STATUS", ENG_CMD_STATUS, NULL, 0 },
		{ "status", ENG_CMD_STATUS, NULL, 0 },
		{ "СТАТУС", ENG_CMD_STATUS, NULL, 0 },
		{ "Статус", ENG_CMD_STATUS, NULL, 0 },
		{ "статус", ENG_CMD_STATUS, NULL, 0 },
		{ "?", ENG_CMD_STATUS, NULL, 0 },
		{ " ? ", ENG_CMD_STATUS, NULL, 0 },
		{ "??", ENG_CMD_HELP, NULL, 0 },
		{ "status please", ENG_CMD_HELP, NULL, 0 },
		{ "HELP", ENG_CMD_HELP, NULL, 0 },
		{ "help", ENG_CMD_HELP, NULL, 0 },
		{ "ПОМОЩЬ", ENG_CMD_HELP, NULL, 0 },
		{ "помощь", ENG_CMD_HELP, NULL, 0 },
		{ "Помощь", ENG_CMD_HELP, NULL, 0 },
		{ "", ENG_CMD_HELP, NULL, 0 },
		{ "   \t\n", ENG_CMD_HELP, NULL, 0 },
		{ "hello", ENG_CMD_HELP, NULL, 0 },
		{ "Привет, как дела?", ENG_CMD_HELP, NULL, 0 },
		{ "ёжик", ENG_CMD_HELP, NULL, 0 },
		{ "3", ENG_CMD_BAD_NUMBER, NULL, ENG_CMD_INVITE },
	};
	RUN(t);
}

/* Every upper/lower mix of the Cyrillic keywords is understood; a
 * keyword with one more letter is not. */
static void test_cyrillic_case_mixes(void **state)
{
	(void)state;
	const char *lower[] = { "с", "т", "а", "т", "у", "с" };
	const char *upper[] = { "С", "Т", "А", "Т", "У", "С" };
	for (unsigned mask = 0; mask < 64; mask++) {
		char buf[64] = "";
		for (int k = 0; k < 6; k++)
			strcat(buf, (mask >> k) & 1 ? upper[k] : lower[k]);
		struct eng_cmd cmd;
		eng_cmd_parse(buf, strlen(buf), &cmd);
		if (cmd.kind != ENG_CMD_STATUS)
			fail_msg("'%s' not status", buf);
	}
	const char *p_lower[] = { "п", "о", "м", "о", "щ", "ь" };
	const char *p_upper[] = { "П", "О", "М", "О", "Щ", "Ь" };
	for (unsigned mask = 0; mask < 64; mask++) {
		char buf[64] = "";
		for (int k = 0; k < 6; k++)
			strcat(buf, (mask >> k) & 1 ? p_upper[k] : p_lower[k]);
		strcat(buf, " 89161234567"); /* HELP stays HELP whatever follows */
		struct eng_cmd cmd;
		eng_cmd_parse(buf, strlen(buf), &cmd);
		assert_int_equal(cmd.kind, ENG_CMD_HELP);
		assert_false(cmd.has_number);
	}
	struct eng_cmd cmd;
	eng_cmd_parse("СТОПЁ", strlen("СТОПЁ"), &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_HELP);
	eng_cmd_parse("стопё", strlen("стопё"), &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_HELP);
}

/* Junk never crashes: invalid UTF-8, NUL, 10 KB of digits. */
static void test_junk_input(void **state)
{
	(void)state;
	struct eng_cmd cmd;
	static const char *const bad_utf8[] = {
		"\xD0", "STOP\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF8\x88\x80\x80\x80",
		"\xD1\x81\xD1", "1 \x80", "\xF4\x90\x80\x80",
	};
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
		eng_cmd_parse(bad_utf8[i], strlen(bad_utf8[i]), &cmd);
		assert_int_equal(cmd.kind, ENG_CMD_HELP);
		assert_false(cmd.has_number);
	}
	/* Counted input: bytes after len are not read, NUL inside is junk. */
	eng_cmd_parse("STOPXYZ", 4, &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_STOP);
	eng_cmd_parse("STOP\0", 5, &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_HELP);
	eng_cmd_parse(NULL, 0, &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_HELP);

	char *big = malloc(10240 + 8);
	assert_non_null(big);
	memset(big, '7', 10240);
	eng_cmd_parse(big, 10240, &cmd);
	assert_true(cmd.kind == ENG_CMD_BAD_NUMBER || cmd.kind == ENG_CMD_HELP);
	assert_false(cmd.has_number);
	memcpy(big, "STOP ", 5);
	eng_cmd_parse(big, 10240, &cmd);
	assert_true(cmd.kind == ENG_CMD_BAD_NUMBER || cmd.kind == ENG_CMD_HELP);
	memset(big, 'a', 10240);
	eng_cmd_parse(big, 10240, &cmd);
	assert_int_equal(cmd.kind, ENG_CMD_HELP);
	free(big);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_HELP), "help");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_INVITE), "invite");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_ACCEPT), "accept");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_DECLINE), "decline");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_STOP), "stop");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_STATUS), "status");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD_BAD_NUMBER), "bad_number");
	assert_string_equal(eng_cmd_kind_name(ENG_CMD__COUNT), "unknown");
	assert_string_equal(eng_cmd_kind_name((enum eng_cmd_kind)-1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_R4_invite_by_number),
		cmocka_unit_test(test_R6_accept),
		cmocka_unit_test(test_R7_decline),
		cmocka_unit_test(test_R14_stop),
		cmocka_unit_test(test_status_and_help),
		cmocka_unit_test(test_cyrillic_case_mixes),
		cmocka_unit_test(test_junk_input),
		cmocka_unit_test(test_kind_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
