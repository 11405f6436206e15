/* dialogctl/json.c — a small streaming JSON writer (RFC 8259).
 *
 * Strings are escaped fully: '"', '\\' and every control byte (U+0000..U+001F,
 * and DEL) are escaped; bytes that are not valid UTF-8 become U+FFFD, so the
 * output is always valid JSON whatever the database or the command line held.
 */
#include "ctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void ctl_json_init(struct ctl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Before any value: a comma if this container already has one. */
static void pre_value(struct ctl_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
}

static void open_(struct ctl_json *j, int ch)
{
	pre_value(j);
	fputc(ch, j->f);
	if (j->depth + 1 < CTL_JSON_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct ctl_json *j, int ch)
{
	fputc(ch, j->f);
	if (j->depth > 0)
		j->depth--;
}

void ctl_json_obj_begin(struct ctl_json *j) { open_(j, '{'); }
void ctl_json_obj_end(struct ctl_json *j) { close_(j, '}'); }
void ctl_json_arr_begin(struct ctl_json *j) { open_(j, '['); }
void ctl_json_arr_end(struct ctl_json *j) { close_(j, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

size_t ctl_json_quote(const char *str, char *buf, size_t bufsz)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = 0;
	char tmp[8];

#define PUT(ch)                                    \
	do {                                       \
		if (n + 1 < bufsz)                 \
			buf[n] = (char)(ch);       \
		n++;                               \
	} while (0)
#define PUTS(p)                                    \
	do {                                       \
		const char *p_ = (p);              \
		while (*p_)                        \
			PUT(*p_++);                \
	} while (0)

	PUT('"');
	while (*s) {
		unsigned c = *s;
		int len;

		switch (c) {
		case '"': PUTS("\\\""); s++; continue;
		case '\\': PUTS("\\\\"); s++; continue;
		case '\n': PUTS("\\n"); s++; continue;
		case '\r': PUTS("\\r"); s++; continue;
		case '\t': PUTS("\\t"); s++; continue;
		case '\b': PUTS("\\b"); s++; continue;
		case '\f': PUTS("\\f"); s++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7F) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			PUTS(tmp);
			s++;
			continue;
		}
		len = utf8_len(s);
		if (!len) {
			PUTS("\\ufffd");
			s++;
			continue;
		}
		while (len--)
			PUT(*s++);
	}
	PUT('"');
	if (bufsz)
		buf[n < bufsz ? n : bufsz - 1] = '\0';
	return n;
#undef PUT
#undef PUTS
}

static void put_quoted(FILE *f, const char *s)
{
	char small[256];
	size_t need = ctl_json_quote(s, small, sizeof(small));

	if (need < sizeof(small)) {
		fputs(small, f);
	} else {
		char *big = malloc(need + 1);
		if (!big) {
			fputs("\"\"", f);
			return;
		}
		ctl_json_quote(s, big, need + 1);
		fputs(big, f);
		free(big);
	}
}

void ctl_json_key(struct ctl_json *j, const char *key)
{
	pre_value(j);
	put_quoted(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

void ctl_json_str(struct ctl_json *j, const char *s)
{
	if (!s) {
		ctl_json_null(j);
		return;
	}
	pre_value(j);
	put_quoted(j->f, s);
}

void ctl_json_int(struct ctl_json *j, int64_t v)
{
	pre_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void ctl_json_bool(struct ctl_json *j, bool v)
{
	pre_value(j);
	fputs(v ? "true" : "false", j->f);
}

void ctl_json_null(struct ctl_json *j)
{
	pre_value(j);
	fputs("null", j->f);
}

void ctl_json_raw(struct ctl_json *j, const char *text)
{
	pre_value(j);
	fputs(text && *text ? text : "null", j->f);
}

void ctl_json_end(struct ctl_json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

void ctl_json_kstr(struct ctl_json *j, const char *key, const char *s)
{
	ctl_json_key(j, key);
	ctl_json_str(j, s);
}

void ctl_json_kint(struct ctl_json *j, const char *key, int64_t v)
{
	ctl_json_key(j, key);
	ctl_json_int(j, v);
}
