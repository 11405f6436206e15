/* dialogctl — the command-line tool over the engine's database.
 *
 *   dialogctl [--config FILE] [--db CONNINFO] [--json] [--agent NAME] COMMAND ...
 *
 * Global flags and the command's own options may come anywhere on the line.
 * Exit codes: 0 done, 2 usage, 3 refused by a service rule, 4 not found,
 * 5 database unavailable or failed (interfaces.md).
 */
#include "ctl.h"

#include "billing/db.h"
#include "engine/clock.h"
#include "engine/msisdn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Options that take no value; every other "--name" takes one. */
static const char *const flag_opts[] = {
	"json", "help", "prepaid", "postpaid", "passport-verified", "waive-fee", "all-contracts",
	NULL,
};

static const char *const no_args[] = {NULL};
static const char *const no_opts[] = {NULL};
static const char *const a_code[] = {"CODE", NULL};
static const char *const a_msisdn[] = {"MSISDN", NULL};
static const char *const a_file[] = {"FILE", NULL};
static const char *const o_region[] = {"tz", "daily-fee", "operator-fee", NULL};
static const char *const o_tariff[] = {"sms-price", NULL};
static const char *const o_sub_add[] = {"region", "tariff", "prepaid", "postpaid", "balance",
					"credit-limit", "contract", NULL};
static const char *const a_dialog_id[] = {"ID", NULL};
static const char *const o_dialog_list[] = {"msisdn", "state", "limit", NULL};
static const char *const o_charges_list[] = {"from", "to", "kind", "limit", "all-contracts", NULL};

static const char *const o_bill_daily[] = {"date", NULL};
static const char *const o_bill_export[] = {"out", "reexport", NULL};
static const char *const a_credit[] = {"MSISDN", "KOP", NULL};
static const char *const o_credit[] = {"ref", NULL};
static const char *const o_reconcile[] = {"opening", "pending-grace", "hold-age", "outbox-age",
					  NULL};
static const char *const a_entry_id[] = {"ENTRY_ID", NULL};
static const char *const o_refund[] = {"reason", NULL};
static const char *const o_explain[] = {"date", NULL};
static const char *const a_dialog_create[] = {"A", "B", NULL};
static const char *const a_dialog_end[] = {"MSISDN", "PEER", NULL};
static const char *const o_support[] = {"channel", "passport-verified", "waive-fee", "reason", NULL};

static const struct ctl_cmd commands[] = {
	{"db", "init", no_args, 0, no_opts, ctl_cmd_db_init, "db init"},
	{"region", "add", a_code, 1, o_region, ctl_cmd_region_add,
	 "region add CODE [--tz ZONE] [--daily-fee KOP] [--operator-fee KOP]"},
	{"tariff", "add", a_code, 1, o_tariff, ctl_cmd_tariff_add,
	 "tariff add CODE --sms-price KOP"},
	{"subscriber", "add", a_msisdn, 1, o_sub_add, ctl_cmd_subscriber_add,
	 "subscriber add MSISDN --region CODE --tariff CODE (--prepaid [--balance KOP] "
	 "[--credit-limit KOP] | --postpaid) [--contract ID]"},
	{"subscriber", "import", a_file, 1, no_opts, ctl_cmd_subscriber_import,
	 "subscriber import FILE.csv   (header: msisdn,region,tariff,account_type,balance)"},
	{"subscriber", "show", a_msisdn, 1, no_opts, ctl_cmd_subscriber_show,
	 "subscriber show MSISDN"},
	{"subscriber", "block", a_msisdn, 1, no_opts, ctl_cmd_subscriber_block,
	 "subscriber block MSISDN"},
	{"subscriber", "unblock", a_msisdn, 1, no_opts, ctl_cmd_subscriber_unblock,
	 "subscriber unblock MSISDN"},
	{"dialog", "list", no_args, 0, o_dialog_list, ctl_cmd_dialog_list,
	 "dialog list [--msisdn M] [--state S] [--limit N]   (newest first, default 100)"},
	{"dialog", "show", a_dialog_id, 1, no_opts, ctl_cmd_dialog_show,
	 "dialog show ID"},
	{"dialog", "create", a_dialog_create, 2, o_support, ctl_cmd_dialog_create,
	 "dialog create A B --channel operator --passport-verified [--waive-fee --reason TEXT]"
	 "   (needs --agent; R15)"},
	{"dialog", "end", a_dialog_end, 1, o_support, ctl_cmd_dialog_end,
	 "dialog end MSISDN [PEER] --channel selfcare|operator [--passport-verified] "
	 "[--waive-fee --reason TEXT]   (needs --agent; R14, R15)"},
	{"charges", "list", a_msisdn, 1, o_charges_list, ctl_cmd_charges_list,
	 "charges list MSISDN [--from DATE] [--to DATE] [--kind K] [--limit N] [--all-contracts]"},
	{"charge", "refund", a_entry_id, 1, o_refund, ctl_cmd_charge_refund,
	 "charge refund ENTRY_ID --reason TEXT   (needs --agent; R16)"},
	{"explain", NULL, a_msisdn, 1, o_explain, ctl_cmd_explain,
	 "explain MSISDN [--date YYYY-MM-DD]   (every kopeck of a subscriber-day and its rule)"},
	{"bill", "daily", no_args, 0, o_bill_daily, ctl_cmd_bill_daily,
	 "bill daily [--date YYYY-MM-DD]   (daily fees, trial reminders, suspensions)"},
	{"bill", "export", no_args, 0, o_bill_export, ctl_cmd_bill_export,
	 "bill export --out FILE.csv [--reexport BATCH]   (new ledger entries, each once; R18)"},
	{"account", "credit", a_credit, 2, o_credit, ctl_cmd_account_credit,
	 "account credit MSISDN KOP --ref REF   (top-up, idempotent by REF)"},
	{"reconcile", NULL, no_args, 0, o_reconcile, ctl_cmd_reconcile,
	 "reconcile [--opening FILE] [--pending-grace S] [--hold-age S] [--outbox-age S]"
	 "   (check the invariants; exit 6 if one is violated)"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fputs("usage: dialogctl [--config FILE] [--db CONNINFO] [--json] [--agent NAME] COMMAND\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  dialogctl %s\n", commands[i].usage);
	fputs("exit codes: 0 done, 2 usage, 3 refused by a service rule, 4 not found, "
	      "5 database unavailable or failed, 6 inconsistency found (reconcile)\n",
	      f);
}

/* Messages quote what the user typed: an overlong message keeps its head
 * and tail (what the argument was, and what is wrong with it) and cuts the
 * middle; control characters (terminal escape sequences) are shown as '?'. */
#define CTL_MSG_KEEP 280

int ctl_fail(int code, const char *fmt, ...)
{
	va_list ap, ap2;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *msg = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (msg)
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (!msg) {
		fprintf(stderr, "dialogctl: (message lost: out of memory)\n");
		return code;
	}
	for (unsigned char *c = (unsigned char *)msg; *c; c++)
		if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7F)
			*c = '?';
	if (n > 2 * CTL_MSG_KEEP + 40)
		fprintf(stderr, "dialogctl: %.*s ...(%d characters cut)... %s\n", CTL_MSG_KEEP, msg,
			n - 2 * CTL_MSG_KEEP, msg + n - CTL_MSG_KEEP);
	else
		fprintf(stderr, "dialogctl: %s\n", msg);
	free(msg);
	return code;
}

int ctl_db_fail(int rc, const char *msg)
{
	(void)rc;
	if (msg && strstr(msg, "relation \"") && strstr(msg, "does not exist"))
		return ctl_fail(CTL_DB, "database: %s (run 'dialogctl db init')", msg);
	return ctl_fail(CTL_DB, "database: %s", msg && *msg ? msg : "failed");
}

PGconn *ctl_db(struct ctl *x)
{
	char conninfo[2048], err[1024];

	if (x->db)
		return x->db;
	bill_conninfo_resolve(x->db_flag, &x->cfg, conninfo, sizeof(conninfo));
	x->db = bill_connect_as(conninfo, "dialogctl", err, sizeof(err));
	if (!x->db)
		ctl_fail(CTL_DB, "database: %s", err);
	return x->db;
}

const char *ctl_optval(const struct ctl *x, const char *name)
{
	for (int i = 0; i < x->nopt; i++)
		if (!strcmp(x->opt[i].name, name))
			return x->opt[i].val;
	return NULL;
}

bool ctl_flag(const struct ctl *x, const char *name)
{
	for (int i = 0; i < x->nopt; i++)
		if (!strcmp(x->opt[i].name, name))
			return true;
	return false;
}

const char *ctl_arg(const struct ctl *x, int i)
{
	return i >= 0 && i < x->npos ? x->pos[i] : NULL;
}

int ctl_parse_kop(const char *name, const char *s, int64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !*s) {
		ctl_fail(CTL_USAGE, "--%s: an amount in kopecks is required", name);
		return -EINVAL;
	}
	if (*p == '-' && p[1]) {
		ctl_fail(CTL_USAGE, "--%s: %s: amounts must not be negative", name, s);
		return -EINVAL;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			ctl_fail(CTL_USAGE, "--%s: \"%s\" is not an amount in kopecks (digits only)",
				 name, s);
			return -EINVAL;
		}
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > (uint64_t)INT64_MAX / 100) { /* keep RUB formatting and sums safe */
			ctl_fail(CTL_USAGE, "--%s: %s is too large", name, s);
			return -EINVAL;
		}
	}
	*out = (int64_t)v;
	return 0;
}

int ctl_parse_pos(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (max - (*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_parse_id(const char *s, int64_t *out)
{
	return ctl_parse_pos(s, INT64_MAX, out);
}

char *ctl_rub(int64_t kop, char *buf, size_t bufsz)
{
	uint64_t a = kop < 0 ? (uint64_t)0 - (uint64_t)kop : (uint64_t)kop;

	snprintf(buf, bufsz, "%s%" PRIu64 ".%02" PRIu64, kop < 0 ? "-" : "", a / 100, a % 100);
	return buf;
}

bool ctl_blank(const char *s)
{
	if (!s)
		return true;
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

int ctl_parse_msisdn(const char *s, char out[12])
{
	if (eng_msisdn_normalize(s, out) < 0) {
		ctl_fail(CTL_USAGE,
			 "\"%s\" is not a valid number (R2: +7XXXXXXXXXX, 7XXXXXXXXXX, 8XXXXXXXXXX or "
			 "9XXXXXXXXX)",
			 s);
		return -EINVAL;
	}
	return 0;
}

char *ctl_fmt_money(int64_t kop, char *buf, size_t bufsz)
{
	uint64_t a = kop < 0 ? (uint64_t)0 - (uint64_t)kop : (uint64_t)kop;

	snprintf(buf, bufsz, "%s%" PRIu64 ".%02" PRIu64 " RUB (%" PRId64 " kop)", kop < 0 ? "-" : "",
		 a / 100, a % 100, kop);
	return buf;
}

const char *ctl_agent(const struct ctl *x)
{
	const char *u;

	if (x->agent && *x->agent)
		return x->agent;
	u = getenv("USER");
	return u && *u ? u : "dialogctl";
}

const char *ctl_now(char *buf)
{
	return eng_format_instant(eng_now_us(), buf);
}

int ctl_audit(struct ctl *x, const char *action, const char *detail_json, char *err,
	      size_t errsz)
{
	char now[32];
	const char *p[4] = {ctl_now(now), ctl_agent(x), action, detail_json};

	return bill_exec(x->db, "INSERT INTO audit (at, agent, action, detail) VALUES ($1, $2, $3, $4::jsonb)",
			 4, p, NULL, err, errsz);
}

static bool is_flag_opt(const char *name)
{
	for (int i = 0; flag_opts[i]; i++)
		if (!strcmp(flag_opts[i], name))
			return true;
	return false;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (!strcmp(*list, name))
			return true;
	return false;
}

/* Split argv into global flags, options and positionals. */
static int parse_argv(struct ctl *x, int argc, char **argv, const char **pos, int *npos,
		      bool *help)
{
	bool only_pos = false;

	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char name[64];
		const char *val = NULL;

		if (only_pos || strncmp(a, "--", 2) != 0 || !a[2]) {
			if (!only_pos && !strcmp(a, "--")) {
				only_pos = true;
				continue;
			}
			if (!only_pos && !strcmp(a, "-h")) {
				*help = true;
				continue;
			}
			if (*npos >= CTL_MAX_POS + 2)
				return ctl_fail(CTL_USAGE, "too many arguments");
			pos[(*npos)++] = a;
			continue;
		}
		{
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			if (len >= sizeof(name))
				return ctl_fail(CTL_USAGE, "unknown option %s", a);
			memcpy(name, a + 2, len);
			name[len] = '\0';
			if (eq)
				val = eq + 1;
		}
		if (is_flag_opt(name)) {
			if (val)
				return ctl_fail(CTL_USAGE, "option --%s takes no value", name);
		} else if (!val) {
			if (i + 1 >= argc)
				return ctl_fail(CTL_USAGE, "option --%s needs a value", name);
			val = argv[++i];
		}
		if (!strcmp(name, "help")) {
			*help = true;
		} else if (!strcmp(name, "json")) {
			x->json = true;
		} else if (!strcmp(name, "config")) {
			x->config_path = val;
		} else if (!strcmp(name, "db")) {
			x->db_flag = val;
		} else if (!strcmp(name, "agent")) {
			x->agent = val;
		} else {
			if (ctl_flag(x, name))
				return ctl_fail(CTL_USAGE, "option --%s given twice", name);
			if (x->nopt >= CTL_MAX_OPT)
				return ctl_fail(CTL_USAGE, "too many options");
			/* "--name=value" leaves no bare name in argv: keep a copy */
			memcpy(x->opt_names[x->nopt], name, sizeof(name));
			x->opt[x->nopt].name = x->opt_names[x->nopt];
			x->opt[x->nopt].val = val;
			x->nopt++;
		}
	}
	return 0;
}

static int resolve_command(struct ctl *x, const char **pos, int npos)
{
	const struct ctl_cmd *c = NULL;
	bool w1_known = false;
	int first, nargs, total = 0;

	if (npos == 0) {
		usage(stderr);
		return ctl_fail(CTL_USAGE, "no command given");
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].w1, pos[0]) != 0)
			continue;
		w1_known = true;
		if (!commands[i].w2 || (npos > 1 && !strcmp(commands[i].w2, pos[1]))) {
			c = &commands[i];
			break;
		}
	}
	if (!c) {
		usage(stderr);
		if (w1_known && npos < 2)
			return ctl_fail(CTL_USAGE, "missing subcommand after '%s'", pos[0]);
		if (w1_known)
			return ctl_fail(CTL_USAGE, "unknown command '%s %s'", pos[0], pos[1]);
		return ctl_fail(CTL_USAGE, "unknown command '%s'", pos[0]);
	}
	x->cmd = c;
	first = c->w2 ? 2 : 1;
	nargs = npos - first;
	while (c->args[total])
		total++;
	for (int i = 0; i < x->nopt; i++)
		if (!in_list(c->opts, x->opt[i].name))
			return ctl_fail(CTL_USAGE, "unknown option --%s for '%s'\nusage: dialogctl %s",
					x->opt[i].name, c->w2 ? c->w2 : c->w1, c->usage);
	if (nargs < c->min_args)
		return ctl_fail(CTL_USAGE, "missing argument %s\nusage: dialogctl %s",
				c->args[nargs], c->usage);
	if (nargs > total)
		return ctl_fail(CTL_USAGE, "unexpected argument '%s'\nusage: dialogctl %s",
				pos[first + total], c->usage);
	x->npos = nargs;
	for (int i = 0; i < nargs; i++)
		x->pos[i] = pos[first + i];
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl x;
	const char *pos[CTL_MAX_POS + 2];
	int npos = 0, rc;
	bool help = false;
	const char *path;
	char err[1024];

	memset(&x, 0, sizeof(x));
	x.out = stdout;
	rc = parse_argv(&x, argc, argv, pos, &npos, &help);
	if (rc)
		return rc;
	if (help) {
		usage(stdout);
		return CTL_OK;
	}
	rc = resolve_command(&x, pos, npos);
	if (rc)
		return rc;

	eng_config_defaults(&x.cfg);
	path = eng_config_path(x.config_path);
	if (path && eng_config_load(&x.cfg, path, err, sizeof(err)) < 0)
		return ctl_fail(CTL_USAGE, "%s", err);
	if (eng_clock_init() < 0)
		return ctl_fail(CTL_USAGE, "DIALOG_NOW is not an ISO-8601 instant: %s",
				getenv("DIALOG_NOW"));

	rc = x.cmd->run(&x);
	if (x.db)
		PQfinish(x.db);
	fflush(stdout);
	return rc;
}
