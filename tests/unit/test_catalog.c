/* Message catalog: every subscriber text in both languages, its placeholders,
 * its length, the STATUS composition (R4-R7, R13a, R14, D2, D3, D9). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "engine/catalog.h"

/* Typical values per key; dates per language. */
struct sample {
	const char *key;
	const char *ru;
	const char *en;
};

static const struct sample samples[] = {
	{"peer", "+79161234567", "+79161234567"},
	{"ttl_hours", "24", "24"},
	{"fee", "3", "3"},
	{"trial_days", "7", "7"},
	{"trial_end", "29.11.2026", "2026-11-29"},
	{"fee_from", "30.11.2026", "2026-11-30"},
	{"date", "22.12.2026", "2026-12-22"},
	{"limit", "10", "10"},
	{"text", "8916-12-345678901234", "8916-12-345678901234"},
	{"payer", "+79167654321", "+79167654321"},
};

static const struct eng_kv common[] = {
	{"short_code", "6249"}, {"support_line", "0611"}, {"allowance", "50"}};

/* The placeholders documented in engine/catalog.h for each message. */
struct doc {
	enum eng_msg m;
	const char *keys[4];
};

static const struct doc docs[] = {
	{ENG_MSG_HELP, {NULL}},
	{ENG_MSG_INVITE_SENT, {"peer", "ttl_hours"}},
	{ENG_MSG_INVITATION, {"peer", "fee"}},
	{ENG_MSG_INVITATION_TRIAL, {"peer", "fee", "trial_days"}},
	{ENG_MSG_INVITE_EXPIRED, {"peer"}},
	{ENG_MSG_ACTIVATED, {"peer", "fee", "fee_from"}},
	{ENG_MSG_ACTIVATED_TRIAL, {"peer", "fee", "trial_end", "fee_from"}},
	{ENG_MSG_DECLINED_INVITER, {"peer"}},
	{ENG_MSG_DECLINED_INVITEE, {"peer"}},
	{ENG_MSG_ENDED_SELF, {"peer"}},
	{ENG_MSG_ENDED_PEER, {"peer"}},
	{ENG_MSG_WITHDRAWN_SELF, {"peer"}},
	{ENG_MSG_WITHDRAWN_INVITEE, {"peer"}},
	{ENG_MSG_ENDED_BLOCKED, {"peer"}},
	{ENG_MSG_ERR_NOT_SUBSCRIBER, {NULL}},
	{ENG_MSG_ERR_SENDER_BLOCKED, {NULL}},
	{ENG_MSG_ERR_BAD_NUMBER, {"text"}},
	{ENG_MSG_ERR_SELF, {NULL}},
	{ENG_MSG_ERR_PEER_UNKNOWN, {"peer"}},
	{ENG_MSG_ERR_PEER_BLOCKED, {"peer"}},
	{ENG_MSG_ERR_DIALOG_EXISTS, {"peer"}},
	{ENG_MSG_ERR_INVITE_EXISTS, {"peer"}},
	{ENG_MSG_ERR_LIMIT_SELF, {"limit"}},
	{ENG_MSG_ERR_LIMIT_PEER, {"peer"}},
	{ENG_MSG_ERR_PENDING_LIMIT, {"limit"}},
	{ENG_MSG_ERR_DAILY_LIMIT, {"limit"}},
	{ENG_MSG_ERR_COOLDOWN, {"peer", "date"}},
	{ENG_MSG_NOTHING_PENDING, {NULL}},
	{ENG_MSG_NO_INVITE_FROM, {"peer"}},
	{ENG_MSG_ACCEPT_LIMIT_SELF, {"peer", "limit"}},
	{ENG_MSG_ACCEPT_LIMIT_PEER, {"peer"}},
	{ENG_MSG_STOP_NOTHING, {NULL}},
	{ENG_MSG_STOP_NOTHING_WITH, {"peer"}},
	{ENG_MSG_TRIAL_REMINDER, {"fee", "fee_from"}},
	{ENG_MSG_SUSPENDED, {"peer", "fee", "payer"}},
	{ENG_MSG_RESUMED, {"peer", "fee"}},
	{ENG_MSG_OPERATOR_ENDED, {"peer", "fee"}},
};

static const char *sample_value(const char *key, enum eng_lang lang)
{
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
		if (strcmp(samples[i].key, key) == 0)
			return lang == ENG_LANG_RU ? samples[i].ru : samples[i].en;
	fail_msg("no sample for key %s", key);
	return NULL;
}

/* kv = the documented keys of d (except `skip`, if not NULL) + the common ones. */
static size_t build_kv(const struct doc *d, enum eng_lang lang, const char *skip,
		       struct eng_kv *kv)
{
	size_t n = 0;
	for (int k = 0; k < 4 && d->keys[k]; k++)
		if (!skip || strcmp(skip, d->keys[k]) != 0)
			kv[n++] = (struct eng_kv){d->keys[k], sample_value(d->keys[k], lang)};
	for (size_t c = 0; c < 3; c++)
		kv[n++] = common[c];
	return n;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static int render_doc(const struct doc *d, enum eng_lang lang, char *out, size_t outsz)
{
	struct eng_kv kv[8];
	size_t n = build_kv(d, lang, NULL, kv);
	return eng_msg_render(lang, d->m, kv, n, out, outsz);
}

static void docs_cover_every_message(void **state)
{
	assert_int_equal(sizeof docs / sizeof docs[0], ENG_MSG__COUNT - 1); /* all but STATUS */
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		assert_int_equal(docs[i].m, (enum eng_msg)i);
}

static void names_round_trip(void **state)
{
	assert_string_equal(eng_msg_name(ENG_MSG_HELP), "help");
	assert_string_equal(eng_msg_name(ENG_MSG_INVITE_SENT), "invite_sent");
	assert_string_equal(eng_msg_name(ENG_MSG_INVITATION_TRIAL), "invitation_trial");
	assert_string_equal(eng_msg_name(ENG_MSG_ERR_COOLDOWN), "err_cooldown");
	assert_string_equal(eng_msg_name(ENG_MSG_STOP_NOTHING_WITH), "stop_nothing_with");
	assert_string_equal(eng_msg_name(ENG_MSG_STATUS), "status");
	assert_string_equal(eng_msg_name(ENG_MSG__COUNT), "unknown");
	for (int m = 0; m < ENG_MSG__COUNT; m++) {
		const char *name = eng_msg_name((enum eng_msg)m);
		assert_non_null(name);
		for (const char *p = name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
		assert_int_equal(eng_msg_parse(name), m);
	}
	assert_int_equal(eng_msg_parse("INVITE_SENT"), -1);
	assert_int_equal(eng_msg_parse("unknown"), -1);
	assert_int_equal(eng_msg_parse(""), -1);
	assert_int_equal(eng_lang_parse("ru"), ENG_LANG_RU);
	assert_int_equal(eng_lang_parse("en"), ENG_LANG_EN);
	assert_int_equal(eng_lang_parse("de"), -1);
}

/* Each message renders with exactly its documented keys: all present -> a
 * complete text with every value in it; any one missing -> -EINVAL. */
static void every_message_renders_with_documented_keys(void **state)
{
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		const struct doc *d = &docs[i];
		for (int lang = 0; lang < ENG_LANG__COUNT; lang++) {
			char out[1024];
			int n = render_doc(d, (enum eng_lang)lang, out, sizeof out);
			if (n <= 0)
				fail_msg("%s/%d: render %d", eng_msg_name(d->m), lang, n);
			assert_int_equal((size_t)n, strlen(out));
			if (strchr(out, '{') || strchr(out, '}'))
				fail_msg("%s/%d: placeholder left: %s", eng_msg_name(d->m), lang, out);
			for (int k = 0; k < 4 && d->keys[k]; k++) {
				const char *v = sample_value(d->keys[k], (enum eng_lang)lang);
				if (!strstr(out, v))
					fail_msg("%s/%d: %s=%s not in %s", eng_msg_name(d->m), lang,
						 d->keys[k], v, out);
				struct eng_kv kv[8];
				size_t kn = build_kv(d, (enum eng_lang)lang, d->keys[k], kv);
				char o2[1024];
				int r = eng_msg_render((enum eng_lang)lang, d->m, kv, kn, o2, sizeof o2);
				if (r != -EINVAL)
					fail_msg("%s/%d: without %s gave %d", eng_msg_name(d->m), lang,
						 d->keys[k], r);
			}
			/* Too small a buffer. */
			assert_int_equal(render_doc(d, (enum eng_lang)lang, out, (size_t)n), -ENOSPC);
			assert_int_equal(render_doc(d, (enum eng_lang)lang, out, (size_t)n + 1), n);
		}
	}
}

/* Texts fit the SMS: Russian (UCS-2) within 3 segments of 67, English within
 * 2 GSM segments of 153 and in the GSM basic alphabet; no em dash anywhere. */
static void texts_fit_segments(void **state)
{
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		const struct doc *d = &docs[i];
		char ru[1024], en[1024];
		assert_true(render_doc(d, ENG_LANG_RU, ru, sizeof ru) > 0);
		assert_true(render_doc(d, ENG_LANG_EN, en, sizeof en) > 0);
		assert_null(strstr(ru, "\xE2\x80\x94"));
		assert_null(strstr(en, "\xE2\x80\x94"));
		if (d->m == ENG_MSG_HELP)
			continue;
		if (utf8_chars(ru) > 201)
			fail_msg("%s ru: %zu chars: %s", eng_msg_name(d->m), utf8_chars(ru), ru);
		if (strlen(en) > 306)
			fail_msg("%s en: %zu chars: %s", eng_msg_name(d->m), strlen(en), en);
		for (const char *p = en; *p; p++)
			if ((unsigned char)*p >= 0x80 || strchr("[]{}~\\^|`", *p))
				fail_msg("%s en: not GSM basic: %s", eng_msg_name(d->m), en);
		/* Russian texts are in Russian. */
		assert_true(utf8_chars(ru) < strlen(ru));
	}
}

static void render(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		   char *out)
{
	int r = eng_msg_render_kv(lang, m, kv, n, common, 3, out, 1024);
	if (r <= 0)
		fail_msg("%s: %d", eng_msg_name(m), r);
}

static void contains(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("\"%s\" does not contain \"%s\"", text, want);
}

/* R5: the invitation names the inviter and all the terms and how to answer. */
static void r5_invitation_states_terms(void **state)
{
	char out[1024];
	struct eng_kv kv[] = {{"peer", "+79161234567"}, {"fee", "3"}, {"trial_days", "7"}};
	render(ENG_LANG_RU, ENG_MSG_INVITATION_TRIAL, kv, 3, out);
	contains(out, "+79161234567 приглашает вас в SMS-диалог");
	contains(out, "50 SMS в день между вами бесплатно");
	contains(out, "первые 7 дн. бесплатно, далее 3 руб. в день");
	contains(out, "Ответьте 1 - принять, 2 - отказаться");
	contains(out, "6249");
	render(ENG_LANG_RU, ENG_MSG_INVITATION, kv, 2, out);
	contains(out, "плата 3 руб. в день");
	contains(out, "Ответьте 1 - принять, 2 - отказаться");
	assert_null(strstr(out, "7 дн."));
	render(ENG_LANG_EN, ENG_MSG_INVITATION_TRIAL, kv, 3, out);
	contains(out, "50 SMS a day free");
	contains(out, "first 7 days are free, then 3 RUB a day");
	contains(out, "Reply 1 to accept, 2 to decline");
	struct eng_kv sent[] = {{"peer", "+79161234567"}, {"ttl_hours", "24"}};
	render(ENG_LANG_RU, ENG_MSG_INVITE_SENT, sent, 2, out);
	contains(out, "действует 24 ч");
	contains(out, "СТОП +79161234567 на 6249");
}

/* R6, R13a, R14: each side's activation states its own terms and the free way out. */
static void r6_activation_states_own_terms(void **state)
{
	char out[1024];
	struct eng_kv tr[] = {{"peer", "+79161234567"}, {"fee", "3"}, {"trial_end", "29.11.2026"},
			      {"fee_from", "30.11.2026"}};
	render(ENG_LANG_RU, ENG_MSG_ACTIVATED_TRIAL, tr, 4, out);
	contains(out, "бесплатно до 29.11.2026, с 30.11.2026 - 3 руб. в день");
	contains(out, "СТОП на 6249");
	struct eng_kv pay[] = {{"peer", "+79161234567"}, {"fee", "4,50"}, {"fee_from", "23.11.2026"}};
	render(ENG_LANG_RU, ENG_MSG_ACTIVATED, pay, 3, out);
	contains(out, "плата 4,50 руб. в день с 23.11.2026");
	contains(out, "Отключить бесплатно: СТОП на 6249");
	render(ENG_LANG_EN, ENG_MSG_ACTIVATED, pay, 3, out);
	contains(out, "fee 4,50 RUB a day from 23.11.2026");
	contains(out, "send STOP to 6249");
}

/* R7, R14, D2, D3, D9: what happened and what to do next. */
static void refusals_and_endings_say_what_next(void **state)
{
	char out[1024];
	struct eng_kv kv[] = {{"peer", "+79161234567"}, {"limit", "1"}, {"date", "22.12.2026"}};
	render(ENG_LANG_RU, ENG_MSG_DECLINED_INVITER, kv, 1, out);
	contains(out, "отклонил");
	contains(out, "Ничего не списано");
	render(ENG_LANG_RU, ENG_MSG_ERR_COOLDOWN, kv, 3, out);
	contains(out, "можно с 22.12.2026");
	render(ENG_LANG_RU, ENG_MSG_ACCEPT_LIMIT_SELF, kv, 2, out);
	contains(out, "(1)");
	contains(out, "ответьте 1 +79161234567");
	render(ENG_LANG_RU, ENG_MSG_ENDED_PEER, kv, 1, out);
	contains(out, "+79161234567 отключил SMS-диалог");
	contains(out, "больше не");
	render(ENG_LANG_RU, ENG_MSG_STOP_NOTHING, NULL, 0, out);
	contains(out, "ответьте 2");
	render(ENG_LANG_RU, ENG_MSG_ENDED_BLOCKED, kv, 1, out);
	contains(out, "0611");
}

/* render_kv: extra pairs are ignored, the common ones fill in, the caller's
 * own values win over the common ones, and a value missing everywhere fails. */
static void render_kv_extras_and_common(void **state)
{
	struct eng_kv exact[] = {{"peer", "+79161234567"}, {"short_code", "6249"}};
	char a[1024], b[1024];
	int na = eng_msg_render(ENG_LANG_RU, ENG_MSG_ENDED_SELF, exact, 2, a, sizeof a);
	assert_true(na > 0);
	struct eng_kv extra[] = {{"fee", "3"}, {"peer", "+79161234567"}, {"dialog_id", "42"},
				 {"trial_end", ""}};
	int nb = eng_msg_render_kv(ENG_LANG_RU, ENG_MSG_ENDED_SELF, extra, 4, common, 3, b,
				   sizeof b);
	assert_int_equal(na, nb);
	assert_string_equal(a, b);
	/* Own value wins. */
	struct eng_kv own[] = {{"peer", "+79161234567"}, {"short_code", "1111"}};
	assert_true(eng_msg_render_kv(ENG_LANG_RU, ENG_MSG_ENDED_SELF, own, 2, common, 3, b,
				      sizeof b) > 0);
	contains(b, "на 1111");
	/* Missing everywhere. */
	assert_int_equal(eng_msg_render_kv(ENG_LANG_RU, ENG_MSG_ENDED_SELF, extra, 4, NULL, 0, b,
					   sizeof b),
			 -EINVAL);
	assert_int_equal(eng_msg_render_kv(ENG_LANG_RU, ENG_MSG_ENDED_SELF, common, 3, common, 3,
					   b, sizeof b),
			 -EINVAL);
	/* The strict renderer needs the common ones from the caller. */
	struct eng_kv peer_only[] = {{"peer", "+79161234567"}};
	assert_int_equal(eng_msg_render(ENG_LANG_EN, ENG_MSG_ENDED_SELF, peer_only, 1, b, sizeof b),
			 -EINVAL);
	assert_int_equal(eng_msg_render(ENG_LANG_EN, ENG_MSG__COUNT, peer_only, 1, b, sizeof b),
			 -EINVAL);
	assert_int_equal(eng_msg_render((enum eng_lang)7, ENG_MSG_HELP, common, 3, b, sizeof b),
			 -EINVAL);
	/* From the outbox: a name and its parameters. */
	int m = eng_msg_parse("err_cooldown");
	struct eng_kv cd[] = {{"peer", "+79161234567"}, {"date", "2026-12-22"}};
	assert_true(eng_msg_render_kv(ENG_LANG_EN, (enum eng_msg)m, cd, 2, common, 3, b,
				      sizeof b) > 0);
	assert_string_equal(b, "+79161234567 recently declined your invitation. You can invite "
			       "them again from 2026-12-22.");
}

static int status(enum eng_lang lang, const struct eng_kv *kv, size_t n, char *out, size_t outsz)
{
	return eng_render_status(lang, kv, n, common, 3, out, outsz);
}

static void status_no_dialogs(void **state)
{
	char out[1024];
	struct eng_kv kv[] = {{"n", "0"}, {"trial_end", ""}, {"fee", "3"}};
	assert_true(status(ENG_LANG_RU, kv, 3, out, sizeof out) > 0);
	assert_string_equal(out, "У вас нет SMS-диалогов и приглашений. Чтобы пригласить абонента, "
				 "отправьте его номер на 6249.");
	assert_true(status(ENG_LANG_EN, kv, 3, out, sizeof out) > 0);
	assert_string_equal(out, "You have no SMS dialogs or invitations. To invite someone, send "
				 "their number to 6249.");
}

/* R9, R13, R13a: one active dialog with a trial running. */
static void status_one_active_with_trial(void **state)
{
	char out[1024];
	struct eng_kv kv[] = {{"n", "1"},           {"peer0", "+79167654321"},
			      {"state0", "active"}, {"since0", "22.11.2026"},
			      {"used0", "12"},      {"trial_end", "29.11.2026"},
			      {"fee", "3"}};
	int n = status(ENG_LANG_RU, kv, 7, out, sizeof out);
	assert_int_equal((size_t)n, strlen(out));
	assert_string_equal(out, "Ваши SMS-диалоги:\n"
				 "+79167654321: активен с 22.11.2026, сегодня 12 из 50 SMS\n"
				 "Бесплатный период до 29.11.2026.\n"
				 "Плата 3 руб. в день.\n"
				 "Отключить бесплатно: СТОП на 6249.");
	kv[3].value = "2026-11-22";
	kv[5].value = "2026-11-29";
	assert_true(status(ENG_LANG_EN, kv, 7, out, sizeof out) > 0);
	assert_string_equal(out, "Your SMS dialogs:\n"
				 "+79167654321: active since 2026-11-22, 12 of 50 SMS used today\n"
				 "Free period until 2026-11-29.\n"
				 "Fee 3 RUB a day.\n"
				 "To end it free of charge, send STOP to 6249.");
	/* Through the outbox path: the "status" message renders the same way. */
	char again[1024];
	assert_int_equal(eng_msg_render_kv(ENG_LANG_EN, ENG_MSG_STATUS, kv, 7, common, 3, again,
					   sizeof again),
			 (int)strlen(out));
	assert_string_equal(again, out);
	/* Too small a buffer. */
	assert_int_equal(status(ENG_LANG_EN, kv, 7, out, 40), -ENOSPC);
	assert_int_equal(status(ENG_LANG_EN, kv, 7, out, strlen(again)), -ENOSPC);
	assert_int_equal(status(ENG_LANG_EN, kv, 7, out, strlen(again) + 1), (int)strlen(again));
}

/* D2, D3: pending invitations both ways and a suspended dialog, no trial. */
static void status_three_dialogs_no_trial(void **state)
{
	char out[1024];
	struct eng_kv kv[] = {
		{"n", "3"},
		{"peer0", "+79160000001"}, {"state0", "suspended"}, {"since0", "01.11.2026"},
		{"used0", "0"},
		{"peer1", "+79160000002"}, {"state1", "pending_in"}, {"since1", "22.11.2026"},
		{"used1", "0"},
		{"peer2", "+79160000003"}, {"state2", "pending_out"}, {"since2", "22.11.2026"},
		{"used2", "0"},
		{"trial_end", ""}, {"fee", "4,50"}};
	assert_true(status(ENG_LANG_RU, kv, 15, out, sizeof out) > 0);
	assert_string_equal(out, "Ваши SMS-диалоги:\n"
				 "+79160000001: приостановлен (не хватило средств)\n"
				 "приглашение от +79160000002, ответьте 1 или 2\n"
				 "ждёт ответа +79160000003\n"
				 "Плата 4,50 руб. в день.\n"
				 "Отключить бесплатно: СТОП на 6249.");
	assert_true(status(ENG_LANG_EN, kv, 15, out, sizeof out) > 0);
	assert_string_equal(out, "Your SMS dialogs:\n"
				 "+79160000001: suspended (insufficient funds)\n"
				 "invitation from +79160000002, reply 1 or 2\n"
				 "awaiting answer from +79160000003\n"
				 "Fee 4,50 RUB a day.\n"
				 "To end it free of charge, send STOP to 6249.");
	/* Only invitations, trial running: no fee line (nothing is charged yet). */
	kv[0].value = "2";
	kv[2].value = "pending_out";
	kv[13].value = "29.11.2026";
	assert_true(status(ENG_LANG_RU, kv, 15, out, sizeof out) > 0);
	assert_string_equal(out, "Ваши SMS-диалоги:\n"
				 "ждёт ответа +79160000001\n"
				 "приглашение от +79160000002, ответьте 1 или 2\n"
				 "Бесплатный период до 29.11.2026.");
	/* Bad input. */
	kv[2].value = "frozen";
	assert_int_equal(status(ENG_LANG_RU, kv, 15, out, sizeof out), -EINVAL);
	kv[2].value = "active";
	kv[0].value = "2x";
	assert_int_equal(status(ENG_LANG_RU, kv, 15, out, sizeof out), -EINVAL);
	kv[0].value = "4"; /* peer3 missing */
	assert_int_equal(status(ENG_LANG_RU, kv, 15, out, sizeof out), -EINVAL);
	assert_int_equal(status(ENG_LANG_RU, kv + 1, 14, out, sizeof out), -EINVAL); /* no n */
}

/* Many dialogs: the reply is cut to ~600 bytes and says how many are left out. */
static void status_many_dialogs_cut(void **state)
{
	enum { N = 30 };
	static char keys[N][4][16], vals[N][16];
	struct eng_kv kv[N * 4 + 3];
	size_t k = 0;
	kv[k++] = (struct eng_kv){"n", "30"};
	kv[k++] = (struct eng_kv){"fee", "3"};
	kv[k++] = (struct eng_kv){"trial_end", "29.11.2026"};
	for (int i = 0; i < N; i++) {
		snprintf(keys[i][0], 16, "peer%d", i);
		snprintf(keys[i][1], 16, "state%d", i);
		snprintf(keys[i][2], 16, "since%d", i);
		snprintf(keys[i][3], 16, "used%d", i);
		snprintf(vals[i], 16, "+791600000%02d", i);
		kv[k++] = (struct eng_kv){keys[i][0], vals[i]};
		kv[k++] = (struct eng_kv){keys[i][1], "active"};
		kv[k++] = (struct eng_kv){keys[i][2], "22.11.2026"};
		kv[k++] = (struct eng_kv){keys[i][3], "7"};
	}
	for (int lang = 0; lang < ENG_LANG__COUNT; lang++) {
		char out[4096];
		int n = status((enum eng_lang)lang, kv, k, out, sizeof out);
		assert_true(n > 0 && n <= 600);
		int lines = 0;
		for (int i = 0; i < N; i++)
			if (strstr(out, vals[i]))
				lines++;
		assert_true(lines >= 3 && lines < N);
		char more[64];
		snprintf(more, sizeof more, lang == ENG_LANG_RU ? "\nи ещё %d\n" : "\nand %d more\n",
			 N - lines);
		contains(out, more);
		/* The first ones are listed, and the tail is kept. */
		contains(out, vals[0]);
		contains(out, lang == ENG_LANG_RU ? "Плата 3 руб. в день." : "Fee 3 RUB a day.");
		contains(out, "6249.");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(docs_cover_every_message),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(every_message_renders_with_documented_keys),
		cmocka_unit_test(texts_fit_segments),
		cmocka_unit_test(r5_invitation_states_terms),
		cmocka_unit_test(r6_activation_states_own_terms),
		cmocka_unit_test(refusals_and_endings_say_what_next),
		cmocka_unit_test(render_kv_extras_and_common),
		cmocka_unit_test(status_no_dialogs),
		cmocka_unit_test(status_one_active_with_trial),
		cmocka_unit_test(status_three_dialogs_no_trial),
		cmocka_unit_test(status_many_dialogs_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
