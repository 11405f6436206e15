/* engine/catalog.h — every subscriber-facing text, in Russian (default) and
 * English. Texts are templates with named placeholders "{name}" filled from
 * key/value pairs. */
#ifndef ENGINE_CATALOG_H
#define ENGINE_CATALOG_H

#include <stddef.h>

enum eng_lang { ENG_LANG_RU = 0, ENG_LANG_EN, ENG_LANG__COUNT };

enum eng_msg {
	ENG_MSG_HELP = 0,
	ENG_MSG__COUNT
};

/* Name table for the message ids ("help", ...), used in logs and the outbox. */
const char *eng_msg_name(enum eng_msg m);

/* "ru" / "en" -> language; -1 when unknown. */
int eng_lang_parse(const char *s);

struct eng_kv {
	const char *key;
	const char *value;
};

/* Render message `m` in `lang` into `out`, replacing each "{key}" by its value
 * from `kv` (n pairs). Returns the length written (without the NUL), or
 * -ENOSPC when `out` is too small, -EINVAL for a placeholder with no value. */
int eng_msg_render(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		   char *out, size_t outsz);

/* Format kopecks as roubles for texts: 300 -> "3", 4550 -> "45,50" (ru) or
 * "45.50" (en). `out` needs 32 bytes. */
char *eng_format_rub(long long kopecks, enum eng_lang lang, char *out);

#endif
