/* dialogctl/ctl.h — private to dialogctl: the command context, argument
 * access, exit codes, output helpers and the small JSON writer. */
#ifndef DIALOGCTL_CTL_H
#define DIALOGCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "engine/config.h"

/* Exit codes (interfaces.md). */
enum ctl_exit {
	CTL_OK = 0,
	CTL_USAGE = 2,    /* usage error, bad input */
	CTL_REFUSED = 3,  /* refused by a service rule */
	CTL_NOTFOUND = 4, /* not found */
	CTL_DB = 5,       /* database unavailable or failed */
	CTL_INCONSISTENT = 6, /* reconcile: an invariant is violated */
};

#define CTL_STR_(x) #x
#define CTL_STR(x) CTL_STR_(x)

#define CTL_MAX_POS 16
#define CTL_MAX_OPT 32

struct ctl_opt {
	const char *name; /* without the leading "--" */
	const char *val;  /* NULL for a flag */
};

struct ctl;

/* One command: words ("subscriber", "add"), its positional arguments by name
 * (for messages), the options it accepts. */
struct ctl_cmd {
	const char *w1, *w2;
	const char *const *args; /* NULL-terminated names of positionals */
	int min_args;            /* required positionals (the rest optional) */
	const char *const *opts; /* NULL-terminated option names accepted */
	int (*run)(struct ctl *x);
	const char *usage;       /* one line, after "dialogctl " */
};

struct ctl {
	/* global flags */
	const char *config_path;
	const char *db_flag;
	const char *agent;
	bool json;
	struct eng_config cfg;

	/* the command line after global flags */
	const struct ctl_cmd *cmd;
	int npos;
	const char *pos[CTL_MAX_POS]; /* the command's positionals */
	int nopt;
	struct ctl_opt opt[CTL_MAX_OPT];
	char opt_names[CTL_MAX_OPT][64];

	PGconn *db; /* connected lazily by ctl_db() */
	FILE *out;
};

/* Messages: "dialogctl: ..." on stderr; return `code` for `return ctl_fail()`. */
int ctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A database error code from billing/db.h: -ECONNREFUSED/-EIO -> exit 5 with
 * the message; others to the caller's mapping. */
int ctl_db_fail(int rc, const char *msg);

/* The database connection (connects on first use). NULL after reporting
 * the error on stderr (exit 5). */
PGconn *ctl_db(struct ctl *x);

/* Option value or NULL; flag presence. */
const char *ctl_optval(const struct ctl *x, const char *name);
bool ctl_flag(const struct ctl *x, const char *name);
/* Positional argument i of the command, or NULL. */
const char *ctl_arg(const struct ctl *x, int i);

/* Parse kopecks: digits only, no sign, no overflow. 0 or -EINVAL;
 * reports "--NAME: ..." on failure (the caller returns CTL_USAGE). */
int ctl_parse_kop(const char *name, const char *s, int64_t *out);
/* Parse a canonical number (R2); reports on failure. */
int ctl_parse_msisdn(const char *s, char out[12]);
/* A positive decimal integer up to `max` (ctl_parse_id: up to INT64_MAX);
 * 0 or -EINVAL. */
int ctl_parse_pos(const char *s, int64_t max, int64_t *out);
int ctl_parse_id(const char *s, int64_t *out);
/* "-1234.05": kopecks as roubles for tables. */
char *ctl_rub(int64_t kop, char *buf, size_t bufsz);
/* NULL, empty or only white space. */
bool ctl_blank(const char *s);

/* "150.00 RUB (15000 kop)" */
char *ctl_fmt_money(int64_t kop, char *buf, size_t bufsz);

/* Who acts: --agent, else $USER, else "dialogctl". */
const char *ctl_agent(const struct ctl *x);
/* "now" of the engine clock (DIALOG_NOW) as an ISO-8601 UTC string; buf 32. */
const char *ctl_now(char *buf);

/* Record an action in the audit table (inside the caller's transaction).
 * `detail_json` is a JSON object text. 0 or a negative code. */
int ctl_audit(struct ctl *x, const char *action, const char *detail_json, char *err,
	      size_t errsz);

/* --- JSON writer -------------------------------------------------------- */
#define CTL_JSON_DEPTH 16

struct ctl_json {
	FILE *f;
	int depth;
	bool need_comma[CTL_JSON_DEPTH];
	bool after_key;
};

void ctl_json_init(struct ctl_json *j, FILE *f);
void ctl_json_obj_begin(struct ctl_json *j);
void ctl_json_obj_end(struct ctl_json *j);
void ctl_json_arr_begin(struct ctl_json *j);
void ctl_json_arr_end(struct ctl_json *j);
void ctl_json_key(struct ctl_json *j, const char *key);
void ctl_json_str(struct ctl_json *j, const char *s);   /* NULL -> null */
void ctl_json_int(struct ctl_json *j, int64_t v);
void ctl_json_bool(struct ctl_json *j, bool v);
void ctl_json_null(struct ctl_json *j);
/* Emit an already valid JSON value (e.g. from the database). */
void ctl_json_raw(struct ctl_json *j, const char *text);
/* Finish the document with a newline. */
void ctl_json_end(struct ctl_json *j);
/* key + value shorthands */
void ctl_json_kstr(struct ctl_json *j, const char *key, const char *s);
void ctl_json_kint(struct ctl_json *j, const char *key, int64_t v);
/* Write `s` as a JSON string literal (escaped) to a buffer; returns the
 * length it needs (excluding NUL), like snprintf. */
size_t ctl_json_quote(const char *s, char *buf, size_t bufsz);

/* --- commands ----------------------------------------------------------- */
int ctl_cmd_db_init(struct ctl *x);
int ctl_cmd_region_add(struct ctl *x);
int ctl_cmd_tariff_add(struct ctl *x);
int ctl_cmd_subscriber_add(struct ctl *x);
int ctl_cmd_subscriber_import(struct ctl *x);
int ctl_cmd_subscriber_show(struct ctl *x);
int ctl_cmd_subscriber_block(struct ctl *x);
int ctl_cmd_subscriber_unblock(struct ctl *x);
int ctl_cmd_dialog_list(struct ctl *x);
int ctl_cmd_dialog_show(struct ctl *x);
int ctl_cmd_bill_daily(struct ctl *x);
int ctl_cmd_charges_list(struct ctl *x);
int ctl_cmd_dialog_create(struct ctl *x); /* support.c */
int ctl_cmd_dialog_end(struct ctl *x);    /* support.c */
int ctl_cmd_charge_refund(struct ctl *x); /* explain.c */
int ctl_cmd_explain(struct ctl *x);       /* explain.c */
int ctl_cmd_bill_export(struct ctl *x);   /* export.c */
int ctl_cmd_account_credit(struct ctl *x); /* export.c */
int ctl_cmd_reconcile(struct ctl *x);      /* reconcile.c */

/* --- ledger entries (charges.c) ----------------------------------------- */
/* The columns of one ledger entry (table alias l), in enum ctl_charge_col
 * order; instants in UTC whatever the session's TimeZone. */
#define CTL_CHARGE_COLS                                                                  \
	"l.id, l.msisdn, l.dialog_id, l.kind, l.amount, l.bill_date::text, "            \
	"to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
	"l.rule, l.detail, l.refund_of"

enum ctl_charge_col {
	CTL_CH_ID = 0,
	CTL_CH_MSISDN,
	CTL_CH_DIALOG,
	CTL_CH_KIND,
	CTL_CH_AMOUNT,
	CTL_CH_BILL_DATE,
	CTL_CH_CREATED,
	CTL_CH_RULE,
	CTL_CH_DETAIL,
	CTL_CH_REFUND_OF,
	CTL_CH__N,
};

/* One entry as the JSON object of `charges list` (interfaces.md fields plus
 * rule, detail, refund_of), from row `row` of a result whose first columns
 * are CTL_CHARGE_COLS. */
void ctl_json_charge(struct ctl_json *j, const PGresult *r, int row);

#endif
