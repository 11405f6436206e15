/* Configuration: defaults, every key, refusals naming the key (D14). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "engine/config.h"
#include "engine/catalog.h"
#include "engine/clock.h"

static void defaults_match_interfaces(void **state)
{
	struct eng_config c;
	char err[256];
	assert_int_equal(eng_config_load_string(&c, "", "empty", err, sizeof err), 0);
	assert_string_equal(c.smpp.host, "127.0.0.1");
	assert_int_equal(c.smpp.port, 2775);
	assert_string_equal(c.smpp.system_id, "dialog");
	assert_int_equal(c.smpp.bind, ENG_BIND_TRANSCEIVER);
	assert_int_equal(c.smpp.sessions, 1);
	assert_int_equal(c.smpp.window, 64);
	assert_int_equal(c.smpp.tps, 0);
	assert_int_equal(c.smpp.enquire_link_s, 30);
	assert_int_equal(c.smpp.reconnect_max_s, 30);
	assert_string_equal(c.service.short_code, "6249");
	assert_string_equal(c.service.support_line, "0611");
	assert_int_equal(c.service.daily_allowance, 50);
	assert_int_equal(c.service.max_dialogs_per_subscriber, 1);
	assert_int_equal(c.service.max_pending_invites, 5);
	assert_int_equal(c.service.max_invites_per_day, 10);
	assert_int_equal(c.service.invite_ttl_s, 86400);
	assert_int_equal(c.service.decline_cooldown_days, 30);
	assert_int_equal(c.service.trial_days, 7);
	assert_int_equal(c.service.notice_grace_days, 3);
	assert_string_equal(c.service.language, "ru");
	assert_string_equal(c.db.conninfo, "");
}

static void full_file_from_interfaces(void **state)
{
	const char *text = "[smpp]\nhost = 127.0.0.1\nport = 2775\nsystem_id = dialog\n"
			   "password = secret          ; never logged\nsystem_type =\n"
			   "bind = tx_rx\nsessions = 4\nwindow = 128\ntps = 500\n"
			   "enquire_link_s = 30\nreconnect_max_s = 30\n"
			   "[service]\nshort_code = 6249\nsupport_line = 0611\n"
			   "daily_allowance = 60\nlanguage = en\n"
			   "[db]\nconninfo = host=/tmp dbname=x\n[log]\nlevel = debug\n";
	struct eng_config c;
	char err[256];
	assert_int_equal(eng_config_load_string(&c, text, "t.ini", err, sizeof err), 0);
	assert_string_equal(c.smpp.password, "secret");
	assert_int_equal(c.smpp.bind, ENG_BIND_TX_RX);
	assert_int_equal(c.smpp.sessions, 4);
	assert_int_equal(c.smpp.tps, 500);
	assert_int_equal(c.service.daily_allowance, 60);
	assert_string_equal(c.service.language, "en");
	assert_string_equal(c.db.conninfo, "host=/tmp dbname=x");
	assert_int_equal(c.log.level, 0);
}

static void refusal(const char *text, const char *want)
{
	struct eng_config c;
	char err[256] = "";
	assert_int_equal(eng_config_load_string(&c, text, "t.ini", err, sizeof err), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void refusals_name_the_key(void **state)
{
	refusal("[smpp]\nport = 70000\n", "t.ini:2: [smpp] port: 70000 is out of range 1..65535");
	refusal("[smpp]\nport = 27x\n", "[smpp] port: \"27x\" is not a whole number");
	refusal("[smpp]\nport =\n", "[smpp] port");
	refusal("[smpp]\nbind = both\n", "[smpp] bind: \"both\" is not one of transceiver tx_rx");
	refusal("[smpp]\npasword = x\n", "t.ini:2: [smpp] pasword: unknown key");
	refusal("[smpp]\nhost = h\n[smtp]\nport = 1\n", "t.ini:4: [smtp]: unknown section");
	refusal("[smpp]\npassword = 123456789\n", "[smpp] password: longer than 8 characters");
	refusal("[smpp]\nsystem_id = abcdefghijklmnop\n", "[smpp] system_id: longer than 15");
	refusal("[service]\nshort_code = 62a9\n", "[service] short_code: \"62a9\" must be digits");
	refusal("[service]\nlanguage = de\n", "[service] language: \"de\" is not one of ru en");
	refusal("[service]\ndaily_allowance = -1\n", "[service] daily_allowance: -1 is out of range");
	refusal("[service]\nsupport_line = 6249\n", "support_line: must differ from short_code");
	refusal("[log]\nlevel = loud\n", "[log] level");
	refusal("[smpp]\nsessions = 99999999999999999999\n", "[smpp] sessions");
	refusal("port = 1\n", "[]: unknown section");
}

static void missing_file(void **state)
{
	struct eng_config c;
	char err[256];
	assert_int_equal(eng_config_load(&c, "/nonexistent/dialog.ini", err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/dialog.ini"));
}

static void catalog_renders_help(void **state)
{
	struct eng_kv kv[] = {{"allowance", "50"}, {"short_code", "6249"}, {"support_line", "0611"}};
	char out[1024];
	int n = eng_msg_render(ENG_LANG_RU, ENG_MSG_HELP, kv, 3, out, sizeof out);
	assert_true(n > 0);
	assert_non_null(strstr(out, "50 SMS"));
	assert_non_null(strstr(out, "6249"));
	assert_non_null(strstr(out, "0611"));
	assert_null(strstr(out, "{"));
	assert_int_equal(eng_msg_render(ENG_LANG_EN, ENG_MSG_HELP, kv, 2, out, sizeof out), -EINVAL);
	assert_int_equal(eng_msg_render(ENG_LANG_EN, ENG_MSG_HELP, kv, 3, out, 10), -ENOSPC);
	char rub[32];
	assert_string_equal(eng_format_rub(300, ENG_LANG_RU, rub), "3");
	assert_string_equal(eng_format_rub(4550, ENG_LANG_RU, rub), "45,50");
	assert_string_equal(eng_format_rub(4505, ENG_LANG_EN, rub), "45.05");
	assert_string_equal(eng_format_rub(-5, ENG_LANG_EN, rub), "-0.05");
}

static void instants_parse(void **state)
{
	int64_t a, b;
	assert_int_equal(eng_parse_instant("2026-11-22T14:00:00+03:00", &a), 0);
	assert_int_equal(eng_parse_instant("2026-11-22T11:00:00Z", &b), 0);
	assert_true(a == b);
	char s[32];
	assert_string_equal(eng_format_instant(a, s), "2026-11-22T11:00:00Z");
	assert_int_equal(eng_parse_instant("2026-02-29T00:00:00Z", &a), -EINVAL);
	assert_int_equal(eng_parse_instant("2028-02-29T23:59:59.5-0100", &a), 0);
	assert_string_equal(eng_format_instant(a, s), "2028-03-01T00:59:59Z");
	assert_int_equal(eng_parse_instant("2026-11-22T14:00", &a), 0);
	assert_int_equal(eng_parse_instant("tomorrow", &a), -EINVAL);
	assert_int_equal(eng_parse_instant("2026-13-01", &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_interfaces),
		cmocka_unit_test(full_file_from_interfaces),
		cmocka_unit_test(refusals_name_the_key),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(catalog_renders_help),
		cmocka_unit_test(instants_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
