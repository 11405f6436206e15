/* Commands sent to the short code (engine/command.h, service-rules.md
 * "Commands"): R4 invite by number, R6 accept, R7 decline, R14 stop,
 * status and help. */
#include "engine/command.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static const char *const kind_names[ENG_CMD__COUNT] = {
	[ENG_CMD_HELP] = "help",
	[ENG_CMD_INVITE] = "invite",
	[ENG_CMD_ACCEPT] = "accept",
	[ENG_CMD_DECLINE] = "decline",
	[ENG_CMD_STOP] = "stop",
	[ENG_CMD_STATUS] = "status",
	[ENG_CMD_BAD_NUMBER] = "bad_number",
};

const char *eng_cmd_kind_name(enum eng_cmd_kind k)
{
	if ((unsigned)k >= ENG_CMD__COUNT || !kind_names[k])
		return "unknown";
	return kind_names[k];
}

/* Keywords, upper case (Cyrillic in UTF-8). */
struct keyword {
	const char *word;
	enum eng_cmd_kind kind;
};

static const struct keyword keywords[] = {
	{ "1", ENG_CMD_ACCEPT },
	{ "2", ENG_CMD_DECLINE },
	{ "0", ENG_CMD_STOP },
	{ "STOP", ENG_CMD_STOP },
	{ "СТОП", ENG_CMD_STOP },
	{ "?", ENG_CMD_STATUS },
	{ "STATUS", ENG_CMD_STATUS },
	{ "СТАТУС", ENG_CMD_STATUS },
	{ "HELP", ENG_CMD_HELP },
	{ "ПОМОЩЬ", ENG_CMD_HELP },
};

#define KEYWORD_MAX 32 /* bytes; longer words are no keyword */
#define NUMBER_MAX 24  /* digits and '+' kept for a number argument */

/* Whether the text is valid UTF-8 without NUL (strict: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static bool valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* Length in bytes of the white-space character at s[i], or 0: ASCII white
 * space, U+00A0, U+2000..U+200B, U+202F, U+3000 and U+FEFF. */
static size_t ws_len(const uint8_t *s, size_t n, size_t i)
{
	uint8_t c = s[i];
	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c == 0xC2 && n - i >= 2 && s[i + 1] == 0xA0)
		return 2;
	if (n - i < 3)
		return 0;
	if (c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] <= 0x8B || s[i + 2] == 0xAF))
		return 3;
	if (c == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80)
		return 3;
	if (c == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF)
		return 3;
	return 0;
}

static size_t skip_ws(const uint8_t *s, size_t n, size_t i)
{
	size_t w;
	while (i < n && (w = ws_len(s, n, i)) > 0)
		i += w;
	return i;
}

/* End of the text without trailing white space. */
static size_t trim_end(const uint8_t *s, size_t start, size_t n)
{
	size_t end = start;
	size_t i = start;
	while (i < n) {
		size_t w = ws_len(s, n, i);
		if (w) {
			i += w;
		} else {
			i++;
			while (i < n && (s[i] & 0xC0) == 0x80)
				i++; /* rest of a multi-byte character */
			end = i;
		}
	}
	return end;
}

static bool is_letter_byte(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
}

/* Upper-case one word (Latin and Cyrillic) into buf. Returns false when it
 * does not fit. */
static bool fold_upper(const uint8_t *s, size_t n, char *buf, size_t bufsz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (o + 2 >= bufsz)
			return false;
		if (c >= 'a' && c <= 'z') {
			buf[o++] = (char)(c - 'a' + 'A');
		} else if (c == 0xD0 && i + 1 < n && s[i + 1] >= 0xB0 && s[i + 1] <= 0xBF) {
			/* а..п -> А..П */
			buf[o++] = (char)0xD0;
			buf[o++] = (char)(s[++i] - 0x20);
		} else if (c == 0xD1 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x8F) {
			/* р..я -> Р..Я */
			buf[o++] = (char)0xD0;
			buf[o++] = (char)(s[++i] + 0x20);
		} else if (c == 0xD1 && i + 1 < n && s[i + 1] == 0x91) {
			/* ё -> Ё */
			buf[o++] = (char)0xD0;
			buf[o++] = (char)0x81;
			i++;
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o] = '\0';
	return true;
}

/* A number argument or a bare number: 0 with the canonical number in out,
 * -EINVAL when the text is made of number characters only (digits, '+',
 * dashes, parentheses, white space; at least one digit) but is not valid by
 * R2, -ENOENT when it is not a number at all. */
static int parse_number(const uint8_t *s, size_t n, char out[ENG_MSISDN_LEN + 1])
{
	char buf[NUMBER_MAX];
	size_t nb = 0;
	bool overflow = false;
	bool digit = false;
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t w;
		if ((c >= '0' && c <= '9') || c == '+') {
			if (nb < sizeof buf)
				buf[nb++] = (char)c;
			else
				overflow = true;
			digit = digit || c != '+';
			i++;
		} else if (c == '-' || c == '(' || c == ')') {
			i++;
		} else if ((w = ws_len(s, n, i)) > 0) {
			i += w;
		} else {
			return -ENOENT;
		}
	}
	if (!digit)
		return -ENOENT;
	if (overflow)
		return -EINVAL;
	return eng_msisdn_normalize_n(buf, nb, out) == 0 ? 0 : -EINVAL;
}

static enum eng_cmd_kind find_keyword(const char *word, bool *found)
{
	for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
		if (strcmp(word, keywords[k].word) == 0) {
			*found = true;
			return keywords[k].kind;
		}
	}
	*found = false;
	return ENG_CMD_HELP;
}

static void set_kind(struct eng_cmd *out, enum eng_cmd_kind k)
{
	out->kind = k;
	out->wanted = k;
}

void eng_cmd_parse(const char *text, size_t len, struct eng_cmd *out)
{
	const uint8_t *s = (const uint8_t *)text;
	char word[KEYWORD_MAX];
	bool kw;

	if (!out)
		return;
	memset(out, 0, sizeof *out);
	set_kind(out, ENG_CMD_HELP);
	if (!text || !valid_utf8(s, len))
		return;

	size_t start = skip_ws(s, len, 0);
	size_t end = trim_end(s, start, len);
	if (start == end)
		return;

	/* The first word ends at white space, or where a word of letters
	 * runs into a number ("STOP79161234567", "СТОП+7..."). */
	size_t w_end = start;
	while (w_end < end && ws_len(s, end, w_end) == 0) {
		uint8_t c = s[w_end];
		if (w_end > start && is_letter_byte(s[w_end - 1]) &&
		    ((c >= '0' && c <= '9') || c == '+' || c == '('))
			break;
		w_end++;
	}

	enum eng_cmd_kind k = ENG_CMD_HELP;
	kw = fold_upper(s + start, w_end - start, word, sizeof word);
	if (kw)
		k = find_keyword(word, &kw);

	if (kw) {
		size_t rest = skip_ws(s, end, w_end);
		int rc;

		switch (k) {
		case ENG_CMD_ACCEPT:
		case ENG_CMD_DECLINE:
		case ENG_CMD_STOP:
			if (rest == end) {
				set_kind(out, k);
				return;
			}
			rc = parse_number(s + rest, end - rest, out->number);
			if (rc == 0) {
				set_kind(out, k);
				out->has_number = true;
			} else if (rc == -EINVAL) {
				out->kind = ENG_CMD_BAD_NUMBER;
				out->wanted = k;
				out->number[0] = '\0';
			} else {
				out->number[0] = '\0'; /* "STOP please": not understood */
			}
			return;
		case ENG_CMD_STATUS:
			if (rest == end)
				set_kind(out, ENG_CMD_STATUS);
			return;
		default:
			return; /* HELP, with or without more words */
		}
	}

	/* Not a keyword: a bare number invites (R4). */
	int rc = parse_number(s + start, end - start, out->number);
	if (rc == 0) {
		set_kind(out, ENG_CMD_INVITE);
		out->has_number = true;
	} else {
		out->number[0] = '\0';
		if (rc == -EINVAL) {
			out->kind = ENG_CMD_BAD_NUMBER;
			out->wanted = ENG_CMD_INVITE;
		}
	}
}
