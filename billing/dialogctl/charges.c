/* dialogctl/charges.c — charges list MSISDN [--from DATE] [--to DATE]
 * [--kind K] [--limit N] [--all-contracts]: a subscriber's ledger entries
 * (R16), newest first, as an 80-column table with a total or as a JSON
 * array (interfaces.md). Also the JSON form of one entry, which
 * `subscriber show` uses for its recent charges.
 *
 * Which entries: those of the number's current contract (subscriber row),
 * or with --all-contracts those of every contract the number ever had
 * (R13a: a recycled number starts a fresh history, so the default does not
 * show the previous holder's charges). Order: bill_date descending, then
 * the newest entry first. The total counts and sums every entry that
 * matches the filters, also those cut by --limit.
 */
#include "ctl.h"

#include "billing/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CHARGES_DEFAULT_LIMIT 1000
#define CHARGES_MAX_LIMIT 1000000
#define DETAIL_WIDTH 16 /* what is left of 80 columns for the detail */

/* ledger.kind values (schema CHECK), for --kind */
static const char *const ledger_kinds[] = {
	"daily_fee", "sms_over_allowance", "sms_standard", "operator_fee", "refund", NULL,
};

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void json_int_or_null(struct ctl_json *j, const char *key, const PGresult *r, int row,
			     int col)
{
	ctl_json_key(j, key);
	if (PQgetisnull(r, row, col))
		ctl_json_null(j);
	else
		ctl_json_int(j, ival(r, row, col));
}

void ctl_json_charge(struct ctl_json *j, const PGresult *r, int row)
{
	ctl_json_obj_begin(j);
	ctl_json_kint(j, "id", ival(r, row, CTL_CH_ID));
	ctl_json_kstr(j, "msisdn", val(r, row, CTL_CH_MSISDN));
	json_int_or_null(j, "dialog_id", r, row, CTL_CH_DIALOG);
	ctl_json_kstr(j, "kind", val(r, row, CTL_CH_KIND));
	ctl_json_kint(j, "amount", ival(r, row, CTL_CH_AMOUNT));
	ctl_json_kstr(j, "bill_date", val(r, row, CTL_CH_BILL_DATE));
	ctl_json_kstr(j, "created_at", val(r, row, CTL_CH_CREATED));
	ctl_json_kstr(j, "rule", val(r, row, CTL_CH_RULE));
	ctl_json_kstr(j, "detail", val(r, row, CTL_CH_DETAIL));
	json_int_or_null(j, "refund_of", r, row, CTL_CH_REFUND_OF);
	ctl_json_obj_end(j);
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD", a real calendar date (years 1000-9999). 0 or -EINVAL,
 * reported as "--NAME: ...". */
static int parse_date(const char *name, const char *s)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		goto bad;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			goto bad;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1000 || m < 1 || m > 12 || d < 1)
		goto bad;
	if (d > mdays[m - 1] + (m == 2 && leap(y)))
		goto bad;
	return 0;
bad:
	ctl_fail(CTL_USAGE, "--%s: \"%s\" is not a date (YYYY-MM-DD)", name, s);
	return -EINVAL;
}

static int parse_limit(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (!*s)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
		if (v > CHARGES_MAX_LIMIT)
			goto bad;
	}
	if (v <= 0)
		goto bad;
	*out = v;
	return 0;
bad:
	ctl_fail(CTL_USAGE, "--limit: \"%s\" is not a number from 1 to %d", s, CHARGES_MAX_LIMIT);
	return -EINVAL;
}

static bool valid_kind(const char *k)
{
	for (int i = 0; ledger_kinds[i]; i++)
		if (!strcmp(ledger_kinds[i], k))
			return true;
	return false;
}

/* At most `width` characters (UTF-8 code points) of `s` on one line, cut
 * with "..." when longer; never splits a character. */
static char *fit(const char *s, int width, char *buf, size_t bufsz)
{
	char line[512];
	size_t n = 0, cut = 0;
	int chars = 0, total = 0;

	bill_one_line(s ? s : "", line, sizeof(line));
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if ((*p & 0xC0) != 0x80)
			total++;
	for (const unsigned char *p = (const unsigned char *)line; *p; p++, n++) {
		if ((*p & 0xC0) != 0x80) {
			if (chars == width - 3)
				cut = n;
			if (chars == width)
				break;
			chars++;
		}
	}
	if (total > width)
		n = cut;
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	if (total > width && n + 4 <= bufsz)
		memcpy(buf + n, "...", 4);
	return buf;
}

int ctl_cmd_charges_list(struct ctl *x)
{
	char msisdn[12], err[1024], limit_s[24];
	const char *from = ctl_optval(x, "from"), *to = ctl_optval(x, "to");
	const char *kind = ctl_optval(x, "kind"), *lim = ctl_optval(x, "limit");
	bool all = ctl_flag(x, "all-contracts");
	int64_t limit = CHARGES_DEFAULT_LIMIT, count = 0, total = 0;
	PGresult *s = NULL, *l = NULL;
	char *ids = NULL;
	int rc;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (from && parse_date("from", from))
		return CTL_USAGE;
	if (to && parse_date("to", to))
		return CTL_USAGE;
	if (from && to && strcmp(from, to) > 0) /* same fixed format: text order is date order */
		return ctl_fail(CTL_USAGE, "--from %s is after --to %s", from, to);
	if (kind && !valid_kind(kind))
		return ctl_fail(CTL_USAGE,
				"--kind: \"%s\" is not one of daily_fee, sms_over_allowance, "
				"sms_standard, operator_fee, refund",
				kind);
	if (lim && parse_limit(lim, &limit))
		return CTL_USAGE;
	snprintf(limit_s, sizeof(limit_s), "%" PRId64, limit);
	if (!ctl_db(x))
		return CTL_DB;

	/* The subscriber rows (contracts) whose entries are listed. */
	{
		const char *p[2] = {msisdn, all ? "t" : "f"};
		rc = bill_exec(x->db,
			       "SELECT '{' || string_agg(id::text, ',')"
			       "  FILTER (WHERE $2::bool OR retired_at IS NULL) || '}', count(*)"
			       " FROM subscriber WHERE msisdn = $1",
			       2, p, &s, err, sizeof(err));
	}
	if (rc < 0)
		return ctl_db_fail(rc, err);
	if (PQgetisnull(s, 0, 0)) {
		bool retired = ival(s, 0, 1) > 0;
		PQclear(s);
		if (retired)
			return ctl_fail(CTL_NOTFOUND,
					"subscriber %s has no current contract (earlier contracts: "
					"--all-contracts)",
					msisdn);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
	}
	ids = strdup(PQgetvalue(s, 0, 0));
	PQclear(s);
	if (!ids)
		return ctl_fail(CTL_DB, "out of memory");

	{
		const char *p[5] = {ids, from, to, kind, limit_s};
		rc = bill_exec(x->db,
			       "SELECT " CTL_CHARGE_COLS ", count(*) OVER (), sum(l.amount) OVER ()"
			       " FROM ledger l WHERE l.subscriber_id = ANY ($1::bigint[])"
			       " AND ($2::date IS NULL OR l.bill_date >= $2::date)"
			       " AND ($3::date IS NULL OR l.bill_date <= $3::date)"
			       " AND ($4::text IS NULL OR l.kind = $4::text)"
			       " ORDER BY l.bill_date DESC, l.id DESC LIMIT $5::bigint",
			       5, p, &l, err, sizeof(err));
	}
	free(ids);
	if (rc < 0)
		return ctl_db_fail(rc, err);
	if (PQntuples(l) > 0) {
		count = ival(l, 0, CTL_CH__N);
		total = ival(l, 0, CTL_CH__N + 1);
	}

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(l); i++)
			ctl_json_charge(&j, l, i);
		ctl_json_arr_end(&j);
		ctl_json_end(&j);
	} else {
		FILE *o = x->out;
		char a[32], d[64], lbl[64];

		fprintf(o, "%8s %-10s %-18s %11s %7s %-4s %s\n", "ID", "BILL DATE", "KIND", "RUB",
			"DIALOG", "RULE", "DETAIL");
		for (int i = 0; i < PQntuples(l); i++) {
			const char *det = val(l, i, CTL_CH_DETAIL);
			char ref[40];
			if (val(l, i, CTL_CH_REFUND_OF)) {
				snprintf(ref, sizeof(ref), "refund of #%s", val(l, i, CTL_CH_REFUND_OF));
				det = ref;
			}
			fprintf(o, "%8s %-10s %-18s %11s %7s %-4s %s\n", val(l, i, CTL_CH_ID),
				val(l, i, CTL_CH_BILL_DATE), val(l, i, CTL_CH_KIND),
				ctl_rub(ival(l, i, CTL_CH_AMOUNT), a, sizeof(a)),
				val(l, i, CTL_CH_DIALOG) ? val(l, i, CTL_CH_DIALOG) : "-",
				val(l, i, CTL_CH_RULE) ? val(l, i, CTL_CH_RULE) : "-",
				fit(det, DETAIL_WIDTH, d, sizeof(d)));
		}
		snprintf(lbl, sizeof(lbl), "total: %" PRId64 " %s", count, count == 1 ? "entry" : "entries");
		fprintf(o, "%-38s %11s\n", lbl, ctl_rub(total, a, sizeof(a)));
		if (count > PQntuples(l))
			fprintf(o, "(the newest %d of %" PRId64 " entries shown; --limit N shows more)\n",
				PQntuples(l), count);
	}
	PQclear(l);
	return CTL_OK;
}
