/* The configuration table and its loader (engine/config.h).
 *
 * One row per key: where it lives in struct eng_config, its type, bounds and
 * default. Loading applies defaults, reads the INI file with inih, and refuses
 * unknown sections and keys, malformed numbers and values out of range,
 * naming the file, line and key.
 */
#include "engine/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "engine/log.h"

enum cfg_type { CFG_INT, CFG_STR, CFG_ENUM };

struct cfg_row {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;
	size_t size;              /* CFG_STR: buffer size */
	long long min, max;       /* CFG_INT bounds; CFG_STR: min length */
	const char *def;          /* default, as it would be written in the file */
	const char *const *names; /* CFG_ENUM: NULL-terminated value names */
	const char *doc;
	unsigned flags;
};

#define CFG_SECRET 1u /* never printed */
#define CFG_DIGITS 2u /* string of digits only */

static const char *const bind_names[] = {"transceiver", "tx_rx", NULL};
static const char *const lang_names[] = {"ru", "en", NULL};
static const char *const level_names[] = {"debug", "info", "notice", "error", NULL};

#define OFF(f) offsetof(struct eng_config, f)
#define SZ(f) sizeof(((struct eng_config *)0)->f)

static const struct cfg_row rows[] = {
	{"smpp", "host", CFG_STR, OFF(smpp.host), SZ(smpp.host), 1, 0, "127.0.0.1", NULL,
	 "SMSC address: IPv4, IPv6 or a host name (resolved once at start)", 0},
	{"smpp", "port", CFG_INT, OFF(smpp.port), 0, 1, 65535, "2775", NULL, "SMSC TCP port", 0},
	{"smpp", "system_id", CFG_STR, OFF(smpp.system_id), SZ(smpp.system_id), 1, 0, "dialog",
	 NULL, "bind system_id (at most 15 characters)", 0},
	{"smpp", "password", CFG_STR, OFF(smpp.password), SZ(smpp.password), 0, 0, "", NULL,
	 "bind password (at most 8 characters); never logged", CFG_SECRET},
	{"smpp", "system_type", CFG_STR, OFF(smpp.system_type), SZ(smpp.system_type), 0, 0, "",
	 NULL, "bind system_type (at most 12 characters)", 0},
	{"smpp", "bind", CFG_ENUM, OFF(smpp.bind), 0, 0, 0, "transceiver", bind_names,
	 "transceiver: one bind_transceiver per session; tx_rx: a transmitter and a receiver bind",
	 0},
	{"smpp", "sessions", CFG_INT, OFF(smpp.sessions), 0, 1, 64, "1", NULL,
	 "parallel binds sharing the work", 0},
	{"smpp", "window", CFG_INT, OFF(smpp.window), 0, 1, 10000, "64", NULL,
	 "max outstanding submit_sm per session", 0},
	{"smpp", "tps", CFG_INT, OFF(smpp.tps), 0, 0, 1000000, "0", NULL,
	 "submit_sm per second over all sessions, 0 = no limit", 0},
	{"smpp", "enquire_link_s", CFG_INT, OFF(smpp.enquire_link_s), 0, 1, 3600, "30", NULL,
	 "enquire_link interval; 3 intervals without any PDU close the link", 0},
	{"smpp", "reconnect_max_s", CFG_INT, OFF(smpp.reconnect_max_s), 0, 1, 3600, "30", NULL,
	 "cap of the exponential reconnect back-off (starts at 1 s)", 0},
	{"smpp", "response_timeout_s", CFG_INT, OFF(smpp.response_timeout_s), 0, 1, 600, "10",
	 NULL, "how long a submit_sm or bind waits for its response", 0},
	{"smpp", "redelivery_window_s", CFG_INT, OFF(smpp.redelivery_window_s), 0, 0, 86400, "300",
	 NULL, "how long an MO whose ESME_ROK the SMSC may not have read is watched for its "
	 "redelivery (answered without a second effect); 0 = off", 0},

	{"service", "short_code", CFG_STR, OFF(service.short_code), SZ(service.short_code), 1, 0,
	 "6249", NULL, "the service short code (R3)", CFG_DIGITS},
	{"service", "support_line", CFG_STR, OFF(service.support_line), SZ(service.support_line),
	 1, 0, "0611", NULL, "the support line named in texts (R3, R15)", CFG_DIGITS},
	{"service", "daily_allowance", CFG_INT, OFF(service.daily_allowance), 0, 0, 1000000, "50",
	 NULL, "free messages per pair per billing day (R9)", 0},
	{"service", "max_dialogs_per_subscriber", CFG_INT, OFF(service.max_dialogs_per_subscriber),
	 0, 1, 1000, "1", NULL, "active dialogs one subscriber may have (R4, D3)", 0},
	{"service", "max_pending_invites", CFG_INT, OFF(service.max_pending_invites), 0, 1, 1000,
	 "5", NULL, "pending invitations one subscriber may have sent (R4)", 0},
	{"service", "max_invites_per_day", CFG_INT, OFF(service.max_invites_per_day), 0, 1,
	 100000, "10", NULL, "invitations sent per billing day (R4, D9)", 0},
	{"service", "invite_ttl_s", CFG_INT, OFF(service.invite_ttl_s), 0, 60, 30 * 86400,
	 "86400", NULL, "how long an invitation stays pending (R5)", 0},
	{"service", "decline_cooldown_days", CFG_INT, OFF(service.decline_cooldown_days), 0, 0,
	 3650, "30", NULL, "after B declines A, A may not invite B for this long (R4, D9)", 0},
	{"service", "trial_days", CFG_INT, OFF(service.trial_days), 0, 0, 366, "7", NULL,
	 "free billing days after a first activation day (R13a)", 0},
	{"service", "notice_grace_days", CFG_INT, OFF(service.notice_grace_days), 0, 0, 366, "3",
	 NULL, "days a missing trial reminder may postpone the first fee (R13b)", 0},
	{"service", "language", CFG_STR, OFF(service.language), SZ(service.language), 2, 0, "ru",
	 lang_names, "subscriber texts: ru or en", 0},

	{"db", "conninfo", CFG_STR, OFF(db.conninfo), SZ(db.conninfo), 0, 0, "", NULL,
	 "libpq conninfo; empty = PG* environment, else the local cluster", CFG_SECRET},
	{"db", "record_connections", CFG_INT, OFF(db.record_connections), 0, 0, 8, "2", NULL,
	 "extra connections that record relays (each batch goes to an idle one: one "
	 "backend's commit wait overlaps another's work); 0 = record on the main one", 0},

	{"log", "level", CFG_ENUM, OFF(log.level), 0, 0, 0, "info", level_names,
	 "debug, info, notice or error", 0},
};

#define NROWS (sizeof rows / sizeof rows[0])

static int enum_index(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

/* Set one key from its text. Returns 0 or -EINVAL with a reason in why. */
static int set_value(struct eng_config *c, const struct cfg_row *r, const char *v, char *why,
		     size_t whysz)
{
	char *dst = (char *)c + r->offset;
	switch (r->type) {
	case CFG_INT: {
		char *end;
		errno = 0;
		long long n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno == ERANGE) {
			snprintf(why, whysz, "\"%s\" is not a whole number", v);
			return -EINVAL;
		}
		if (n < r->min || n > r->max) {
			snprintf(why, whysz, "%lld is out of range %lld..%lld", n, r->min, r->max);
			return -EINVAL;
		}
		*(int *)(void *)dst = (int)n;
		return 0;
	}
	case CFG_ENUM: {
		int i = enum_index(r->names, v);
		if (i < 0) {
			int n = snprintf(why, whysz, "\"%s\" is not one of", v);
			for (int k = 0; r->names[k] && n > 0 && (size_t)n < whysz; k++)
				n += snprintf(why + n, whysz - (size_t)n, " %s", r->names[k]);
			return -EINVAL;
		}
		*(int *)(void *)dst = i;
		return 0;
	}
	case CFG_STR: {
		size_t len = strlen(v);
		if (len + 1 > r->size) {
			snprintf(why, whysz, "longer than %zu characters", r->size - 1);
			return -EINVAL;
		}
		if ((long long)len < r->min) {
			snprintf(why, whysz, "must not be empty");
			return -EINVAL;
		}
		if (r->names && enum_index(r->names, v) < 0) {
			int n = snprintf(why, whysz, "\"%s\" is not one of", v);
			for (int k = 0; r->names[k] && n > 0 && (size_t)n < whysz; k++)
				n += snprintf(why + n, whysz - (size_t)n, " %s", r->names[k]);
			return -EINVAL;
		}
		if (r->flags & CFG_DIGITS)
			for (const char *p = v; *p; p++)
				if (*p < '0' || *p > '9') {
					snprintf(why, whysz, "\"%s\" must be digits only", v);
					return -EINVAL;
				}
		memcpy(dst, v, len + 1);
		return 0;
	}
	}
	return -EINVAL;
}

void eng_config_defaults(struct eng_config *c)
{
	char why[128];
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NROWS; i++)
		set_value(c, &rows[i], rows[i].def, why, sizeof why);
}

struct load_ctx {
	struct eng_config *c;
	const char *name;
	char *err;
	size_t errsz;
	int failed;
	char why[400]; /* the first error, without its line number */
};

/* inih as Debian builds it does not pass line numbers to the handler; it
 * returns the line of the first handler error instead, and finish() puts the
 * two together. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *ctx = user;
	if (ctx->failed)
		return 0;
	for (size_t i = 0; i < NROWS; i++) {
		if (strcmp(rows[i].section, section) != 0 || strcmp(rows[i].key, key) != 0)
			continue;
		char why[256];
		if (set_value(ctx->c, &rows[i], value ? value : "", why, sizeof why) != 0) {
			snprintf(ctx->why, sizeof ctx->why, "[%s] %s: %s", section, key, why);
			ctx->failed = 1;
			return 0;
		}
		return 1;
	}
	int known_section = 0;
	for (size_t i = 0; i < NROWS; i++)
		known_section |= strcmp(rows[i].section, section) == 0;
	if (known_section)
		snprintf(ctx->why, sizeof ctx->why, "[%s] %s: unknown key", section, key);
	else
		snprintf(ctx->why, sizeof ctx->why, "[%s]: unknown section", section);
	ctx->failed = 1;
	return 0;
}

static int finish(struct load_ctx *ctx, int rc)
{
	if (ctx->failed) {
		snprintf(ctx->err, ctx->errsz, "%s:%d: %s", ctx->name, rc, ctx->why);
		return -EINVAL;
	}
	if (rc > 0) {
		snprintf(ctx->err, ctx->errsz, "%s:%d: syntax error", ctx->name, rc);
		return -EINVAL;
	}
	if (strcmp(ctx->c->service.short_code, ctx->c->service.support_line) == 0) {
		snprintf(ctx->err, ctx->errsz,
			 "%s: [service] support_line: must differ from short_code", ctx->name);
		return -EINVAL;
	}
	return 0;
}

int eng_config_load(struct eng_config *c, const char *path, char *err, size_t errsz)
{
	eng_config_defaults(c);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		return e == ENOENT ? -ENOENT : -EINVAL;
	}
	struct load_ctx ctx = {.c = c, .name = path, .err = err, .errsz = errsz};
	int rc = ini_parse_file(f, on_key, &ctx);
	fclose(f);
	return finish(&ctx, rc);
}

int eng_config_load_string(struct eng_config *c, const char *text, const char *name, char *err,
			   size_t errsz)
{
	eng_config_defaults(c);
	struct load_ctx ctx = {.c = c, .name = name, .err = err, .errsz = errsz};
	int rc = ini_parse_string(text, on_key, &ctx);
	return finish(&ctx, rc);
}

const char *eng_config_path(const char *flag)
{
	if (flag && *flag)
		return flag;
	const char *e = getenv("DIALOG_CONFIG");
	return e && *e ? e : NULL;
}

void eng_config_write_doc(FILE *out)
{
	const char *sec = "";
	for (size_t i = 0; i < NROWS; i++) {
		const struct cfg_row *r = &rows[i];
		if (strcmp(sec, r->section) != 0) {
			sec = r->section;
			fprintf(out, "\n### [%s]\n\n| key | type | range | default | meaning |\n"
				     "|---|---|---|---|---|\n", sec);
		}
		char range[96] = "";
		const char *type = "string";
		if (r->type == CFG_INT) {
			type = "integer";
			snprintf(range, sizeof range, "%lld … %lld", r->min, r->max);
		} else if (r->type == CFG_ENUM || r->names) {
			type = "choice";
			int n = 0;
			for (int k = 0; r->names[k] && (size_t)n < sizeof range; k++)
				n += snprintf(range + n, sizeof range - (size_t)n, "%s%s",
					      k ? ", " : "", r->names[k]);
		} else {
			snprintf(range, sizeof range, "≤ %zu chars%s", r->size - 1,
				 r->flags & CFG_DIGITS ? ", digits" : "");
		}
		if (*r->def)
			fprintf(out, "| `%s` | %s | %s | `%s` | %s |\n", r->key, type, range, r->def,
				r->doc);
		else
			fprintf(out, "| `%s` | %s | %s | *(empty)* | %s |\n", r->key, type, range,
				r->doc);
	}
}
