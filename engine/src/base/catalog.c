/* The message catalog (engine/catalog.h): every text a subscriber can get. */
#include "engine/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct msg_row {
	const char *name;
	const char *text[ENG_LANG__COUNT];
};

static const struct msg_row catalog[ENG_MSG__COUNT] = {
	[ENG_MSG_HELP] = {"help", {
		[ENG_LANG_RU] =
			"SMS-диалог: переписка с одним абонентом, {allowance} SMS в день бесплатно. "
			"Пригласить: отправьте номер друга на {short_code}. "
			"Ответ на приглашение: 1 - принять, 2 - отказаться. "
			"СТАТУС - ваши диалоги. СТОП - отключить бесплатно. "
			"Первая неделя бесплатно, далее ежедневная плата по тарифу вашего региона. "
			"Справка: {support_line}",
		[ENG_LANG_EN] =
			"SMS dialog: text one person, {allowance} SMS a day free. "
			"To invite, send your friend's number to {short_code}. "
			"To answer an invitation: 1 - accept, 2 - decline. "
			"STATUS - your dialogs. STOP - end it, free of charge. "
			"First week free, then a daily fee at your region's rate. "
			"Help: {support_line}",
	}},
};

const char *eng_msg_name(enum eng_msg m)
{
	if ((unsigned)m >= ENG_MSG__COUNT)
		return "unknown";
	return catalog[m].name;
}

int eng_lang_parse(const char *s)
{
	if (strcmp(s, "ru") == 0)
		return ENG_LANG_RU;
	if (strcmp(s, "en") == 0)
		return ENG_LANG_EN;
	return -1;
}

int eng_msg_render(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		   char *out, size_t outsz)
{
	if ((unsigned)m >= ENG_MSG__COUNT || (unsigned)lang >= ENG_LANG__COUNT || outsz == 0)
		return -EINVAL;
	const char *t = catalog[m].text[lang];
	size_t o = 0;
	while (*t) {
		const char *val = NULL;
		size_t vlen = 0, skip = 1;
		if (*t == '{') {
			const char *end = strchr(t, '}');
			if (!end)
				return -EINVAL;
			size_t klen = (size_t)(end - t - 1);
			for (size_t i = 0; i < n && !val; i++)
				if (strlen(kv[i].key) == klen && memcmp(kv[i].key, t + 1, klen) == 0)
					val = kv[i].value;
			if (!val)
				return -EINVAL;
			vlen = strlen(val);
			skip = klen + 2;
		} else {
			val = t;
			vlen = 1;
		}
		if (o + vlen + 1 > outsz)
			return -ENOSPC;
		memcpy(out + o, val, vlen);
		o += vlen;
		t += skip;
	}
	out[o] = '\0';
	return (int)o;
}

char *eng_format_rub(long long kopecks, enum eng_lang lang, char *out)
{
	const char *sign = kopecks < 0 ? "-" : "";
	unsigned long long a = kopecks < 0 ? 0ULL - (unsigned long long)kopecks
					   : (unsigned long long)kopecks;
	if (a % 100 == 0)
		snprintf(out, 32, "%s%llu", sign, a / 100);
	else
		snprintf(out, 32, "%s%llu%c%02llu", sign, a / 100, lang == ENG_LANG_RU ? ',' : '.',
			 a % 100);
	return out;
}
