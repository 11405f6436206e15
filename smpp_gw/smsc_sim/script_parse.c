/* smsc_sim/script_parse.c — parse the scenario language into steps.
 *
 * One command a line; '#' starts a comment line; blank lines are ignored.
 * Arguments are separated by blanks; a "rest of the line" argument (mo text,
 * echo text, a regex, hex bytes) takes everything after the previous
 * argument, trailing blanks removed. Timeouts are milliseconds, written "N"
 * or "Nms" (in expect-mt only "Nms", so that a regex is never mistaken for
 * one). See docs/smsc-sim.md.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "script.h"
#include "smpp_gw/pdu.h"

static const char *const op_names[SIM_OP__COUNT] = {
	[SIM_OP_WAIT_BIND] = "wait-bind",
	[SIM_OP_WAIT_BINDS] = "wait-binds",
	[SIM_OP_MO] = "mo",
	[SIM_OP_MO_HEX] = "mo-hex",
	[SIM_OP_RAW] = "raw",
	[SIM_OP_EXPECT_RESP] = "expect-resp",
	[SIM_OP_EXPECT_RESPS] = "expect-resps",
	[SIM_OP_EXPECT_MT] = "expect-mt",
	[SIM_OP_EXPECT_MT_PARTS] = "expect-mt-parts",
	[SIM_OP_EXPECT_NO_MT] = "expect-no-mt",
	[SIM_OP_EXPECT_GENERIC_NACK] = "expect-generic-nack",
	[SIM_OP_EXPECT_DISCONNECT] = "expect-disconnect",
	[SIM_OP_EXPECT_BIND_COUNT] = "expect-bind-count",
	[SIM_OP_THROTTLE] = "throttle",
	[SIM_OP_FAIL_SUBMIT] = "fail-submit",
	[SIM_OP_RECEIPTS] = "receipts",
	[SIM_OP_DROP] = "drop",
	[SIM_OP_REFUSE_BINDS] = "refuse-binds",
	[SIM_OP_PASSWORD] = "password",
	[SIM_OP_ENQUIRE_LINK] = "enquire-link",
	[SIM_OP_WAIT] = "wait",
	[SIM_OP_ECHO] = "echo",
};

const char *sim_op_name(enum sim_op op)
{
	if ((unsigned)op >= SIM_OP__COUNT)
		return "unknown";
	return op_names[op];
}

const char *sim_receipts_name(enum sim_receipts r)
{
	switch (r) {
	case SIM_RECEIPTS_OFF:
		return "off";
	case SIM_RECEIPTS_ON:
		return "on";
	case SIM_RECEIPTS_FAIL:
		return "fail";
	}
	return "unknown";
}

int sim_parse_status(const char *s, uint32_t *out)
{
	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 0);
		if (errno || *end || v > 0xFFFFFFFFul)
			return -EINVAL;
		*out = (uint32_t)v;
		return 0;
	}
	const char *want = s;
	if (strncasecmp(want, "ESME_", 5) == 0)
		want += 5;
	for (uint32_t v = 0; v <= 0x1FF; v++) {
		const char *name = smpp_status_name(v);
		if (!name || strcmp(name, "unknown") == 0)
			continue;
		if (strncasecmp(name, "ESME_", 5) == 0)
			name += 5;
		if (strcasecmp(name, want) == 0) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sim_parse_hex(const char *s, uint8_t **out, size_t *n)
{
	size_t len = strlen(s);
	uint8_t *buf = malloc(len / 2 + 1);
	if (!buf)
		return -ENOMEM;
	size_t k = 0;
	int hi = -1;
	for (const char *p = s; *p; p++) {
		if (isspace((unsigned char)*p)) {
			if (hi >= 0)
				goto bad; /* a blank may only separate whole bytes */
			continue;
		}
		int v = hexval((unsigned char)*p);
		if (v < 0)
			goto bad;
		if (hi < 0) {
			hi = v;
		} else {
			buf[k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0)
		goto bad;
	*out = buf;
	*n = k;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

void sim_canon_number(const char *in, char *out, size_t outsz)
{
	char d[64];
	size_t k = 0;
	for (const char *p = in; *p && k < sizeof(d) - 1; p++)
		if (isdigit((unsigned char)*p))
			d[k++] = *p;
	d[k] = 0;
	if (k == 11 && d[0] == '8')
		d[0] = '7';
	if (k == 10 && d[0] == '9') {
		memmove(d + 1, d, k + 1);
		d[0] = '7';
	}
	snprintf(out, outsz, "%s", d);
}

/* ---- the line parser ---- */

struct cursor {
	char *p;      /* the rest of the line (modified in place) */
	unsigned line;
	char *err;
	size_t errsz;
};

static int perr(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct cursor *c, const char *fmt, ...)
{
	va_list ap;
	int k = snprintf(c->err, c->errsz, "line %u: ", c->line);
	if (k < 0 || (size_t)k >= c->errsz)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(c->err + k, c->errsz - (size_t)k, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_blanks(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* Next blank-separated token (NUL-terminated in place), or NULL at the end. */
static char *tok(struct cursor *c)
{
	skip_blanks(c);
	if (!*c->p)
		return NULL;
	char *t = c->p;
	while (*c->p && *c->p != ' ' && *c->p != '\t')
		c->p++;
	if (*c->p)
		*c->p++ = 0;
	return t;
}

/* The next token, without consuming it. */
static bool peek_tok(struct cursor *c, char *buf, size_t bufsz)
{
	char *q = c->p;
	while (*q == ' ' || *q == '\t')
		q++;
	size_t k = 0;
	while (*q && *q != ' ' && *q != '\t' && k + 1 < bufsz)
		buf[k++] = *q++;
	buf[k] = 0;
	return k > 0;
}

static char *rest(struct cursor *c)
{
	skip_blanks(c);
	char *r = c->p;
	c->p += strlen(c->p);
	return r;
}

static int end_of_args(struct cursor *c, const char *cmd)
{
	char *t = tok(c);
	if (t)
		return perr(c, "%s: unexpected argument '%s'", cmd, t);
	return 0;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	if (!s || !*s || !(isdigit((unsigned char)s[0])))
		return -EINVAL;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || *end || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "N" or "Nms" (require_suffix: only "Nms"). */
static int parse_ms(const char *s, bool require_suffix, int64_t *out)
{
	char buf[32];
	size_t n = strlen(s);
	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	if (n > 2 && strcmp(buf + n - 2, "ms") == 0)
		buf[n - 2] = 0;
	else if (require_suffix)
		return -EINVAL;
	long v;
	if (parse_long(buf, &v) < 0 || v > 24L * 3600 * 1000)
		return -EINVAL;
	*out = v;
	return 0;
}

static int opt_ms(struct cursor *c, struct sim_step *st, const char *cmd)
{
	char *t = tok(c);
	if (!t)
		return 0;
	if (parse_ms(t, false, &st->ms) < 0)
		return perr(c, "%s: bad timeout '%s' (milliseconds)", cmd, t);
	return end_of_args(c, cmd);
}

static int req_long(struct cursor *c, const char *cmd, const char *what, long *out)
{
	char *t = tok(c);
	if (!t)
		return perr(c, "%s: missing %s", cmd, what);
	if (parse_long(t, out) < 0)
		return perr(c, "%s: bad %s '%s'", cmd, what, t);
	return 0;
}

static int req_number(struct cursor *c, const char *cmd, const char *what, char *out)
{
	char *t = tok(c);
	if (!t)
		return perr(c, "%s: missing %s", cmd, what);
	size_t n = strlen(t);
	if (n == 0 || n > 20)
		return perr(c, "%s: bad %s '%s'", cmd, what, t);
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)t[i]) && !(i == 0 && t[i] == '+'))
			return perr(c, "%s: bad %s '%s' (digits expected)", cmd, what, t);
	memcpy(out, t, n + 1);
	return 0;
}

static int req_status(struct cursor *c, const char *cmd, long *out)
{
	char *t = tok(c);
	uint32_t v;
	if (!t)
		return perr(c, "%s: missing STATUS", cmd);
	if (sim_parse_status(t, &v) < 0)
		return perr(c, "%s: bad STATUS '%s'", cmd, t);
	*out = (long)v;
	return 0;
}

/* Text escapes: \n newline, \t tab, \s space, \\ backslash. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	if (!out)
		return NULL;
	size_t k = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 'n':
				out[k++] = '\n';
				break;
			case 't':
				out[k++] = '\t';
				break;
			case 's':
				out[k++] = ' ';
				break;
			default:
				out[k++] = *p;
				break;
			}
		} else {
			out[k++] = *p;
		}
	}
	out[k] = 0;
	return out;
}

static int parse_line(struct cursor *c, struct sim_step *st)
{
	char *cmd = tok(c);
	int op = -1;
	for (int i = 0; i < SIM_OP__COUNT; i++)
		if (strcmp(cmd, op_names[i]) == 0)
			op = i;
	if (op < 0)
		return perr(c, "unknown command '%s'", cmd);
	st->op = (enum sim_op)op;
	int rc;
	char *t;
	char pk[32];

	switch (st->op) {
	case SIM_OP_WAIT_BIND:
	case SIM_OP_EXPECT_NO_MT:
	case SIM_OP_EXPECT_GENERIC_NACK:
	case SIM_OP_EXPECT_DISCONNECT:
	case SIM_OP_ENQUIRE_LINK:
		return opt_ms(c, st, cmd);
	case SIM_OP_WAIT_BINDS:
	case SIM_OP_EXPECT_BIND_COUNT:
		if ((rc = req_long(c, cmd, "N", &st->n)) < 0)
			return rc;
		return opt_ms(c, st, cmd);
	case SIM_OP_MO:
		if ((rc = req_number(c, cmd, "FROM", st->from)) < 0 ||
		    (rc = req_number(c, cmd, "TO", st->to)) < 0)
			return rc;
		st->text = unescape(rest(c));
		return st->text ? 0 : -ENOMEM;
	case SIM_OP_MO_HEX:
		if ((rc = req_number(c, cmd, "FROM", st->from)) < 0 ||
		    (rc = req_number(c, cmd, "TO", st->to)) < 0 ||
		    (rc = req_long(c, cmd, "DCS", &st->dcs)) < 0 ||
		    (rc = req_long(c, cmd, "ESM", &st->esm)) < 0)
			return rc;
		if (st->dcs > 255 || st->esm > 255)
			return perr(c, "%s: DCS and ESM are octets", cmd);
		/* fall through */
	case SIM_OP_RAW:
		t = rest(c);
		rc = sim_parse_hex(t, &st->bytes, &st->nbytes);
		if (rc == -EINVAL)
			return perr(c, "%s: bad hex '%s'", cmd, t);
		if (rc < 0)
			return rc;
		if (st->op == SIM_OP_MO_HEX && st->nbytes > 255)
			return perr(c, "%s: payload longer than 255 octets", cmd);
		if (st->op == SIM_OP_RAW && st->nbytes == 0)
			return perr(c, "%s: no bytes", cmd);
		return 0;
	case SIM_OP_EXPECT_RESP:
	case SIM_OP_EXPECT_RESPS:
		if ((rc = req_status(c, cmd, &st->status)) < 0)
			return rc;
		return opt_ms(c, st, cmd);
	case SIM_OP_EXPECT_MT:
		if ((rc = req_number(c, cmd, "TO", st->to)) < 0)
			return rc;
		if (peek_tok(c, pk, sizeof(pk)) && parse_ms(pk, true, &st->ms) == 0)
			(void)tok(c);
		t = rest(c);
		st->text = strdup(t);
		if (!st->text)
			return -ENOMEM;
		rc = regcomp(&st->re, t, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char msg[128];
			regerror(rc, &st->re, msg, sizeof(msg));
			return perr(c, "%s: bad regex '%s': %s", cmd, t, msg);
		}
		st->has_re = true;
		return 0;
	case SIM_OP_EXPECT_MT_PARTS:
		if ((rc = req_number(c, cmd, "TO", st->to)) < 0 ||
		    (rc = req_long(c, cmd, "N", &st->n)) < 0)
			return rc;
		if ((t = tok(c))) {
			if (parse_long(t, &st->dcs) < 0 || st->dcs > 255)
				return perr(c, "%s: bad DCS '%s'", cmd, t);
		}
		return end_of_args(c, cmd);
	case SIM_OP_THROTTLE:
	case SIM_OP_REFUSE_BINDS:
		if ((rc = req_long(c, cmd, "N", &st->n)) < 0)
			return rc;
		return end_of_args(c, cmd);
	case SIM_OP_FAIL_SUBMIT:
		if ((rc = req_long(c, cmd, "N", &st->n)) < 0 ||
		    (rc = req_status(c, cmd, &st->status)) < 0)
			return rc;
		return end_of_args(c, cmd);
	case SIM_OP_RECEIPTS:
		t = tok(c);
		if (t && strcmp(t, "on") == 0)
			st->n = SIM_RECEIPTS_ON;
		else if (t && strcmp(t, "off") == 0)
			st->n = SIM_RECEIPTS_OFF;
		else if (t && strcmp(t, "fail") == 0)
			st->n = SIM_RECEIPTS_FAIL;
		else
			return perr(c, "%s: expected on, off or fail", cmd);
		return end_of_args(c, cmd);
	case SIM_OP_DROP:
		return end_of_args(c, cmd);
	case SIM_OP_PASSWORD:
		t = tok(c);
		if (!t)
			return perr(c, "%s: missing PW", cmd);
		if (strlen(t) > 8)
			return perr(c, "%s: SMPP passwords have at most 8 characters", cmd);
		st->text = strdup(t);
		if (!st->text)
			return -ENOMEM;
		return end_of_args(c, cmd);
	case SIM_OP_WAIT:
		t = tok(c);
		if (!t)
			return perr(c, "%s: missing MS", cmd);
		if (parse_ms(t, false, &st->ms) < 0)
			return perr(c, "%s: bad MS '%s'", cmd, t);
		return end_of_args(c, cmd);
	case SIM_OP_ECHO:
		st->text = unescape(rest(c));
		return st->text ? 0 : -ENOMEM;
	case SIM_OP__COUNT:
		break;
	}
	return perr(c, "unknown command '%s'", cmd);
}

static void step_free(struct sim_step *st)
{
	free(st->text);
	free(st->bytes);
	free(st->src);
	if (st->has_re)
		regfree(&st->re);
}

void sim_script_free(struct sim_script *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		step_free(&sc->steps[i]);
	free(sc->steps);
	sc->steps = NULL;
	sc->n = 0;
}

int sim_script_parse(const char *text, size_t len, struct sim_script *sc, char *err,
		     size_t errsz)
{
	struct sim_script out = { 0 };
	size_t cap = 0;
	unsigned line = 0;
	int rc = 0;
	size_t pos = 0;

	if (errsz)
		err[0] = 0;
	while (pos < len) {
		size_t e = pos;
		while (e < len && text[e] != '\n')
			e++;
		line++;
		size_t n = e - pos;
		char *buf = malloc(n + 1);
		if (!buf) {
			rc = -ENOMEM;
			goto fail;
		}
		memcpy(buf, text + pos, n);
		buf[n] = 0;
		pos = e + 1;
		if (memchr(buf, 0, n)) {
			free(buf);
			struct cursor c0 = { .line = line, .err = err, .errsz = errsz };
			rc = perr(&c0, "NUL byte in the script");
			goto fail;
		}
		while (n > 0 && isspace((unsigned char)buf[n - 1]))
			buf[--n] = 0;
		char *p = buf;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#') {
			free(buf);
			continue;
		}
		if (out.n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct sim_step *ns = realloc(out.steps, ncap * sizeof(*ns));
			if (!ns) {
				free(buf);
				rc = -ENOMEM;
				goto fail;
			}
			out.steps = ns;
			cap = ncap;
		}
		struct sim_step *st = &out.steps[out.n];
		memset(st, 0, sizeof(*st));
		st->line = line;
		st->ms = -1;
		st->status = -1;
		st->dcs = -1;
		st->esm = -1;
		st->src = strdup(p);
		out.n++; /* counted now so that a failure frees its parts */
		struct cursor c = { .p = p, .line = line, .err = err, .errsz = errsz };
		rc = st->src ? parse_line(&c, st) : -ENOMEM;
		free(buf);
		if (rc < 0)
			goto fail;
	}
	*sc = out;
	return 0;
fail:
	if (rc == -ENOMEM && errsz)
		snprintf(err, errsz, "line %u: out of memory", line);
	sim_script_free(&out);
	return rc;
}
