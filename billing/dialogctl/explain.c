/* dialogctl/explain.c — support look-ups that explain and correct money:
 *
 *   charge refund ENTRY_ID --reason TEXT      (--agent required; R16)
 *   explain MSISDN [--date YYYY-MM-DD]        (every kopeck of a subscriber-day)
 *
 * charge refund calls dlg_refund() (schema/0008_roles.sql), a SECURITY
 * DEFINER function: it checks the entry, writes the refund entry, moves the
 * balance and writes the audit row in one statement, so that support staff
 * logged in as a dialog_support member (no INSERT on the ledger, no UPDATE
 * of balances) can refund and can do nothing else to money.
 *
 * explain lists, for the current contract of a number and one billing day
 * of its region (default: today by the service clock), one item per charge
 * and per thing that was free: the daily fee of each dialog (R13) or why it
 * was not charged (activation day, free week R13a, postponed R13b, unpaid or
 * suspended D13, not billed yet), the SMS sent that day (D7: the payer's
 * day) within the allowance (R9) and charged (R10, R11) by price, operator
 * fees (R15), refunds (R16). The total is the sum of the subscriber's ledger
 * entries of that bill_date: every entry is in exactly one item. All is read
 * in one REPEATABLE READ snapshot.
 */
#include "ctl.h"

#include "billing/db.h"
#include "engine/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static const char *sval(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool bval(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

/* ---------------------------------------------------------------------- */
/* charge refund */

int ctl_cmd_charge_refund(struct ctl *x)
{
	const char *reason = ctl_optval(x, "reason");
	char idbuf[24], now[40], err[1024], m[64];
	int64_t entry = 0, refund_id, balance;
	PGresult *r = NULL, *l = NULL;
	const char *status;
	int rc;

	if (ctl_parse_id(ctl_arg(x, 0), &entry) < 0)
		return ctl_fail(CTL_USAGE, "charge refund: \"%s\" is not a ledger entry id",
				ctl_arg(x, 0));
	if (ctl_blank(x->agent))
		return ctl_fail(CTL_USAGE, "charge refund: --agent NAME is required (support actions "
				"are audited)");
	if (ctl_blank(reason))
		return ctl_fail(CTL_USAGE, "charge refund: --reason TEXT is required (R16: the "
				"refund records why)");
	if (!ctl_db(x))
		return CTL_DB;
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, entry);
	eng_now_param(now);
	{
		const char *p[4] = {idbuf, reason, x->agent, now};
		rc = bill_exec(x->db,
			       "SELECT status, entry_id, balance"
			       " FROM dlg_refund($1::bigint, $2, $3, $4::timestamptz)",
			       4, p, &r, err, sizeof(err));
	}
	if (rc < 0)
		return ctl_db_fail(rc, err);
	status = PQgetvalue(r, 0, 0);
	refund_id = ival(r, 0, 1);
	balance = ival(r, 0, 2);
	if (!strcmp(status, "not_found")) {
		PQclear(r);
		return ctl_fail(CTL_NOTFOUND, "ledger entry %" PRId64 " not found", entry);
	}
	if (!strcmp(status, "is_refund")) {
		PQclear(r);
		return ctl_fail(CTL_REFUSED,
				"R16: entry %" PRId64 " is a refund (of entry %" PRId64
				"), not a charge: it cannot be refunded",
				entry, refund_id);
	}
	if (!strcmp(status, "already")) {
		PQclear(r);
		return ctl_fail(CTL_REFUSED, "R16: entry %" PRId64 " already refunded by entry %" PRId64,
				entry, refund_id);
	}
	if (!strcmp(status, "zero")) {
		PQclear(r);
		return ctl_fail(CTL_REFUSED, "R16: entry %" PRId64 " charged nothing: nothing to refund",
				entry);
	}
	if (strcmp(status, "ok") != 0) {
		PQclear(r);
		return ctl_fail(CTL_USAGE, "charge refund: refused (%s)", status);
	}
	PQclear(r);

	snprintf(idbuf, sizeof(idbuf), "%" PRId64, refund_id);
	{
		const char *p[1] = {idbuf};
		rc = bill_exec(x->db, "SELECT " CTL_CHARGE_COLS " FROM ledger l WHERE l.id = $1::bigint",
			       1, p, &l, err, sizeof(err));
	}
	if (rc < 0 || PQntuples(l) != 1) {
		/* the refund is committed; only the read-back failed */
		PQclear(l);
		fprintf(x->out, "refund entry %" PRId64 " written (read-back failed: %s)\n", refund_id,
			rc < 0 ? err : "no row");
		return CTL_OK;
	}
	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kint(&j, "id", ival(l, 0, CTL_CH_ID));
		ctl_json_kstr(&j, "msisdn", val(l, 0, CTL_CH_MSISDN));
		ctl_json_key(&j, "dialog_id");
		if (val(l, 0, CTL_CH_DIALOG))
			ctl_json_int(&j, ival(l, 0, CTL_CH_DIALOG));
		else
			ctl_json_null(&j);
		ctl_json_kstr(&j, "kind", val(l, 0, CTL_CH_KIND));
		ctl_json_kint(&j, "amount", ival(l, 0, CTL_CH_AMOUNT));
		ctl_json_kstr(&j, "bill_date", val(l, 0, CTL_CH_BILL_DATE));
		ctl_json_kstr(&j, "created_at", val(l, 0, CTL_CH_CREATED));
		ctl_json_kstr(&j, "rule", val(l, 0, CTL_CH_RULE));
		ctl_json_kstr(&j, "detail", val(l, 0, CTL_CH_DETAIL));
		ctl_json_kint(&j, "refund_of", entry);
		ctl_json_kint(&j, "balance", balance);
		ctl_json_kstr(&j, "agent", x->agent);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		fprintf(x->out, "refund #%s of entry #%" PRId64 ": %s to %s, bill date %s (R16)\n",
			val(l, 0, CTL_CH_ID), entry,
			ctl_fmt_money(ival(l, 0, CTL_CH_AMOUNT), m, sizeof(m)),
			val(l, 0, CTL_CH_MSISDN), val(l, 0, CTL_CH_BILL_DATE));
		fprintf(x->out, "reason: %s\n", val(l, 0, CTL_CH_DETAIL));
		fprintf(x->out, "balance now %s\n", ctl_fmt_money(balance, m, sizeof(m)));
	}
	PQclear(l);
	return CTL_OK;
}

/* ---------------------------------------------------------------------- */
/* explain */

struct xitem {
	char rule[16];
	char kind[24];
	char *desc;
	int64_t qty, price, amount, ledger_id; /* ledger_id 0: none */
};

struct xlist {
	struct xitem *v;
	size_t n, cap;
	bool oom;
};

static void xadd(struct xlist *xl, const char *rule, const char *kind, int64_t qty, int64_t price,
		 int64_t amount, int64_t ledger_id, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static void xadd(struct xlist *xl, const char *rule, const char *kind, int64_t qty, int64_t price,
		 int64_t amount, int64_t ledger_id, const char *fmt, ...)
{
	struct xitem *it;
	va_list ap;
	int n;

	if (xl->n == xl->cap) {
		size_t cap = xl->cap ? xl->cap * 2 : 16;
		struct xitem *v = realloc(xl->v, cap * sizeof(*v));
		if (!v) {
			xl->oom = true;
			return;
		}
		xl->v = v;
		xl->cap = cap;
	}
	it = &xl->v[xl->n];
	memset(it, 0, sizeof(*it));
	snprintf(it->rule, sizeof(it->rule), "%s", rule && *rule ? rule : "-");
	snprintf(it->kind, sizeof(it->kind), "%s", kind);
	it->qty = qty;
	it->price = price;
	it->amount = amount;
	it->ledger_id = ledger_id;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(it->desc = malloc((size_t)n + 1))) {
		xl->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(it->desc, (size_t)n + 1, fmt, ap);
	va_end(ap);
	xl->n++;
}

static void xfree(struct xlist *xl)
{
	for (size_t i = 0; i < xl->n; i++)
		free(xl->v[i].desc);
	free(xl->v);
}

/* "YYYY-MM-DD", a real calendar date (years 1000-9999). */
static bool valid_date(const char *s)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return y >= 1000 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1] + (m == 2 && leap);
}

/* Subscriber query columns */
enum {
	S_ID, S_MSISDN, S_REGION, S_TZ, S_FEE, S_TARIFF, S_PRICE, S_DAY, S_FDAY, S_HAS_UNPAID,
	S_HAS_REMINDER, S_HAS_RUNDONE, S_RETIRED,
};

/* Dialog query columns */
enum {
	D_ID, D_PEER, D_CLASS, D_GRACE_DAY, D_TRIAL_DAY, D_RUN_DONE, D_STATE,
};

#define DESC_W 37

/* Print `s` wrapped at DESC_W code points, first line after the rule
 * column, continuation lines indented. Returns the first line's end. */
static const char *wrap_line(const char *s, char *buf, size_t bufsz)
{
	const unsigned char *p = (const unsigned char *)s, *brk = NULL;
	int chars = 0;
	size_t n;

	while (*p == ' ')
		p++;
	s = (const char *)p;
	for (; *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;
		if (chars == DESC_W)
			break;
		if (*p == ' ')
			brk = p;
		chars++;
	}
	if (*p && brk && brk > (const unsigned char *)s)
		p = brk;
	n = (size_t)((const char *)p - s);
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return s + n;
}

static void print_text(FILE *o, const struct xlist *xl, const PGresult *s, int64_t total,
		       int64_t nentries)
{
	char line[256], q[24], pr[32], am[32], id[24];

	fprintf(o, "subscriber %s, billing day %s\n", sval(s, 0, S_MSISDN), sval(s, 0, S_DAY));
	fprintf(o, "region %.20s (%.40s), tariff %.20s\n", sval(s, 0, S_REGION), sval(s, 0, S_TZ),
		sval(s, 0, S_TARIFF));
	fprintf(o, "%-5s %-*s %5s %9s %10s %7s\n", "RULE", DESC_W, "ITEM", "QTY", "PRICE", "RUB",
		"ENTRY");
	for (size_t i = 0; i < xl->n; i++) {
		const struct xitem *it = &xl->v[i];
		const char *rest = wrap_line(it->desc, line, sizeof(line));
		snprintf(q, sizeof(q), "%" PRId64, it->qty);
		if (it->ledger_id)
			snprintf(id, sizeof(id), "#%" PRId64, it->ledger_id);
		else
			snprintf(id, sizeof(id), "-");
		fprintf(o, "%-5s %-*s %5s %9s %10s %7s\n", it->rule, DESC_W, line, q,
			ctl_rub(it->price, pr, sizeof(pr)), ctl_rub(it->amount, am, sizeof(am)), id);
		while (*rest) {
			rest = wrap_line(rest, line, sizeof(line));
			if (!line[0])
				break;
			fprintf(o, "%-5s %s\n", "", line);
		}
	}
	snprintf(line, sizeof(line), "total: %" PRId64 " ledger %s", nentries,
		 nentries == 1 ? "entry" : "entries");
	fprintf(o, "%-5s %-*s %5s %9s %10s\n", "", DESC_W, line, "", "", ctl_rub(total, am, sizeof(am)));
}

static void print_json(FILE *o, const struct xlist *xl, const PGresult *s, int64_t total,
		       int64_t nentries)
{
	struct ctl_json j;

	ctl_json_init(&j, o);
	ctl_json_obj_begin(&j);
	ctl_json_kstr(&j, "msisdn", val(s, 0, S_MSISDN));
	ctl_json_kint(&j, "subscriber_id", ival(s, 0, S_ID));
	ctl_json_kstr(&j, "date", val(s, 0, S_DAY));
	ctl_json_kstr(&j, "region", val(s, 0, S_REGION));
	ctl_json_kstr(&j, "tz", val(s, 0, S_TZ));
	ctl_json_kstr(&j, "tariff", val(s, 0, S_TARIFF));
	ctl_json_key(&j, "items");
	ctl_json_arr_begin(&j);
	for (size_t i = 0; i < xl->n; i++) {
		const struct xitem *it = &xl->v[i];
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "rule", it->rule);
		ctl_json_kstr(&j, "kind", it->kind);
		ctl_json_kstr(&j, "description", it->desc);
		ctl_json_kint(&j, "quantity", it->qty);
		ctl_json_kint(&j, "price", it->price);
		ctl_json_kint(&j, "amount", it->amount);
		ctl_json_key(&j, "ledger_id");
		if (it->ledger_id)
			ctl_json_int(&j, it->ledger_id);
		else
			ctl_json_null(&j);
		ctl_json_obj_end(&j);
	}
	ctl_json_arr_end(&j);
	ctl_json_kint(&j, "total", total);
	ctl_json_kint(&j, "ledger_entries", nentries);
	ctl_json_obj_end(&j);
	ctl_json_end(&j);
}

/* The daily fee of each dialog that could concern the day: charged ones are
 * ledger entries (listed with the others); this adds why the rest were not
 * charged. The class follows bill_daily_chunk()'s order (0005). */
static int explain_dialogs(struct ctl *x, const PGresult *s, struct xlist *xl, char *err,
			   size_t errsz)
{
	char trial[16], grace[16];
	bool unpaid = bval(s, 0, S_HAS_UNPAID), rundone = bval(s, 0, S_HAS_RUNDONE);
	char *sql = NULL, rem[256] = "";
	PGresult *d = NULL;
	int rc;

	/* the trial reminders sent so far (R13b), when 0005's table is there */
	if (bval(s, 0, S_HAS_REMINDER)) {
		const char *p[2] = {val(s, 0, S_ID), val(s, 0, S_DAY)};
		rc = bill_exec(x->db,
			       "SELECT string_agg(to_char(t.bill_date, 'MM-DD') || ' ' || o.state, ', '"
			       " ORDER BY t.bill_date) FROM trial_reminder t JOIN outbox o ON o.id = t.outbox_id"
			       " WHERE t.subscriber_id = $1::bigint AND t.bill_date <= $2::date",
			       2, p, &d, err, errsz);
		if (rc < 0)
			return rc;
		snprintf(rem, sizeof(rem), "; trial reminders: %.200s",
			 val(d, 0, 0) ? val(d, 0, 0) : "none");
		PQclear(d);
		d = NULL;
	}

	snprintf(trial, sizeof(trial), "%d", x->cfg.service.trial_days);
	snprintf(grace, sizeof(grace), "%d", x->cfg.service.notice_grace_days);
	{
		const char *fmt =
			"WITH p AS (SELECT $1::bigint AS sub, $2::date AS d, $3::text AS tz,"
			"  ($2::date::timestamp AT TIME ZONE $3) AS s_at,"
			"  (($2::date + 1)::timestamp AT TIME ZONE $3) AS e_at,"
			"  $4::date AS f_day, $5::int AS trial, $6::int AS grace, $7::text AS region)"
			" SELECT dl.id, CASE WHEN dl.inviter_id = p.sub THEN dl.invitee ELSE dl.inviter END,"
			"  CASE"
			"   WHEN dl.activated_at >= p.s_at THEN 'activation'"
			"   WHEN p.trial > 0 AND p.d BETWEEN p.f_day + 1 AND p.f_day + p.trial THEN 'trial'"
			"   %s"
			"   WHEN coalesce((SELECT e.type FROM dialog_event e WHERE e.dialog_id = dl.id"
			"     AND e.type IN ('suspended', 'resumed') AND e.at < p.s_at"
			"     ORDER BY e.at DESC, e.id DESC LIMIT 1), '') = 'suspended' THEN 'suspended'"
			"   WHEN (SELECT r.daily_fee FROM region r WHERE r.code = p.region) = 0 THEN 'fee_zero'"
			"   WHEN p.trial > 0 AND (dl.activated_at AT TIME ZONE p.tz)::date <= p.f_day + p.trial"
			"    AND p.d BETWEEN p.f_day + p.trial + 1 AND p.f_day + p.trial + p.grace"
			"    THEN 'grace_pending'"
			"   ELSE 'not_billed' END,"
			"  p.d - (p.f_day + p.trial), p.d - p.f_day,"
			"  %s, dl.state"
			" FROM dialog dl, p"
			" WHERE (dl.inviter_id = p.sub OR dl.invitee_id = p.sub)"
			"  AND dl.activated_at IS NOT NULL AND dl.activated_at < p.e_at"
			"  AND (dl.ended_at IS NULL OR dl.ended_at > p.s_at)"
			"  AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.subscriber_id = p.sub"
			"   AND l.bill_date = p.d AND l.dialog_id = dl.id AND l.kind = 'daily_fee')"
			" ORDER BY dl.id";
		const char *unpaid_sql =
			unpaid ? "WHEN EXISTS (SELECT 1 FROM bill_unpaid u WHERE u.dialog_id = dl.id"
				 " AND u.subscriber_id = p.sub AND u.bill_date = p.d AND u.rule = 'R13b')"
				 " THEN 'postponed'"
				 " WHEN EXISTS (SELECT 1 FROM bill_unpaid u WHERE u.dialog_id = dl.id"
				 " AND u.subscriber_id = p.sub AND u.bill_date = p.d AND u.rule = 'D13')"
				 " THEN 'unpaid'"
			       : "";
		const char *done_sql =
			rundone ? "EXISTS (SELECT 1 FROM bill_run_done b WHERE b.region = p.region"
				  " AND b.bill_date = p.d AND b.upto >= dl.id)"
				: "false";
		int n = snprintf(NULL, 0, fmt, unpaid_sql, done_sql);
		if (n < 0 || !(sql = malloc((size_t)n + 1))) {
			snprintf(err, errsz, "out of memory");
			return -ENOMEM;
		}
		snprintf(sql, (size_t)n + 1, fmt, unpaid_sql, done_sql);
	}
	{
		const char *p[7] = {val(s, 0, S_ID), val(s, 0, S_DAY), val(s, 0, S_TZ),
				    val(s, 0, S_FDAY), trial, grace, val(s, 0, S_REGION)};
		rc = bill_exec(x->db, sql, 7, p, &d, err, errsz);
	}
	free(sql);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(d); i++) {
		const char *cls = PQgetvalue(d, i, D_CLASS), *peer = PQgetvalue(d, i, D_PEER);
		int64_t id = ival(d, i, D_ID);
		const char *fday = sval(s, 0, S_FDAY);

		if (!strcmp(cls, "activation"))
			xadd(xl, "R13", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s was activated this day "
			     "(the activation day is free)",
			     id, peer);
		else if (!strcmp(cls, "trial"))
			xadd(xl, "R13a", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s, free week day %" PRId64
			     " of %d (first activation %s; free through the %d days after it)%s",
			     id, peer, ival(d, i, D_TRIAL_DAY), x->cfg.service.trial_days, fday,
			     x->cfg.service.trial_days,
			     ival(d, i, D_TRIAL_DAY) == x->cfg.service.trial_days ? rem : "");
		else if (!strcmp(cls, "postponed"))
			xadd(xl, "R13b", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s, first paid day postponed: "
			     "no accepted trial reminder before the daily run (grace day %" PRId64
			     " of %d)%s",
			     id, peer, ival(d, i, D_GRACE_DAY), x->cfg.service.notice_grace_days, rem);
		else if (!strcmp(cls, "unpaid"))
			xadd(xl, "D13", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s could not be paid in full "
			     "this day (prepaid balance, R17): suspended, nobody charged",
			     id, peer);
		else if (!strcmp(cls, "suspended"))
			xadd(xl, "D13", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s was suspended at 00:00 "
			     "(not active)",
			     id, peer);
		else if (!strcmp(cls, "fee_zero"))
			xadd(xl, "R13", "daily_fee", 1, 0, 0, 0,
			     "no daily fee: dialog #%" PRId64 " with +%s, the region's daily fee is 0",
			     id, peer);
		else if (!strcmp(cls, "grace_pending"))
			xadd(xl, "R13b", "daily_fee", 1, 0, 0, 0,
			     "no daily fee yet: dialog #%" PRId64 " with +%s, first day after the free "
			     "week: charged by the daily run only if a trial reminder was accepted%s",
			     id, peer, rem);
		else
			xadd(xl, "R13", "daily_fee", 1, 0, 0, 0,
			     "no daily fee yet: dialog #%" PRId64 " with +%s (now %s) was active at 00:00; "
			     "%s",
			     id, peer, PQgetvalue(d, i, D_STATE),
			     bval(d, i, D_RUN_DONE) ? "the daily run found nothing to charge"
						    : "the daily run has not billed this day yet");
	}
	PQclear(d);
	return 0;
}

/* The ledger entries of the day other than SMS charges: one item each. */
static int explain_entries(struct ctl *x, const PGresult *s, struct xlist *xl, char *err,
			   size_t errsz)
{
	PGresult *l = NULL;
	const char *p[2] = {val(s, 0, S_ID), val(s, 0, S_DAY)};
	int rc;

	rc = bill_exec(x->db,
		       "SELECT l.id, l.kind, l.amount, l.rule, l.detail, l.dialog_id,"
		       " CASE WHEN d.id IS NULL THEN NULL"
		       "  WHEN d.inviter_id = l.subscriber_id THEN d.invitee ELSE d.inviter END,"
		       " l.refund_of, o.kind, o.bill_date::text, o.amount"
		       " FROM ledger l LEFT JOIN dialog d ON d.id = l.dialog_id"
		       " LEFT JOIN ledger o ON o.id = l.refund_of"
		       " WHERE l.subscriber_id = $1::bigint AND l.bill_date = $2::date"
		       " AND l.kind NOT IN ('sms_over_allowance', 'sms_standard')"
		       " ORDER BY l.kind = 'refund', l.id",
		       2, p, &l, err, errsz);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(l); i++) {
		const char *kind = PQgetvalue(l, i, 1), *rule = val(l, i, 3);
		const char *detail = sval(l, i, 4), *peer = val(l, i, 6);
		int64_t id = ival(l, i, 0), amount = ival(l, i, 2);

		if (!strcmp(kind, "daily_fee"))
			xadd(xl, rule ? rule : "R13", kind, 1, amount, amount, id,
			     "daily fee: dialog #%s with +%s was active at 00:00", sval(l, i, 5),
			     peer ? peer : "?");
		else if (!strcmp(kind, "operator_fee"))
			xadd(xl, rule ? rule : "R15", kind, 1, amount, amount, id,
			     "operator fee (support line 0611): %s", detail);
		else if (!strcmp(kind, "refund"))
			xadd(xl, rule ? rule : "R16", kind, 1, amount, amount, id,
			     "refund of entry #%s (%s of %s, %s kop): %s", sval(l, i, 7), sval(l, i, 8),
			     sval(l, i, 9), sval(l, i, 10), detail);
		else
			xadd(xl, rule ? rule : "-", kind, 1, amount, amount, id, "%s: %s", kind, detail);
	}
	PQclear(l);
	return 0;
}

/* SMS sent that day (D7): free segments (R9) from the usage records, the
 * charged ones (R10, R11) from their ledger entries, by rule and price. */
static int explain_sms(struct ctl *x, const PGresult *s, struct xlist *xl, char *err,
		       size_t errsz)
{
	PGresult *f = NULL, *c = NULL;
	const char *p[4] = {val(s, 0, S_ID), val(s, 0, S_DAY), val(s, 0, S_TZ), val(s, 0, S_MSISDN)};
	int rc;

	/* by the sender's number and time (the index), then the payer's day */
	rc = bill_exec(x->db,
		       "SELECT coalesce(sum(u.free_segments), 0), count(*)"
		       " FROM sms_usage u WHERE u.src = $4"
		       " AND u.at >= ($2::date::timestamp AT TIME ZONE $3) - interval '2 days'"
		       " AND u.at < (($2::date + 1)::timestamp AT TIME ZONE $3) + interval '2 days'"
		       " AND u.src_sub_id = $1::bigint AND u.bill_date = $2::date"
		       " AND u.free_segments > 0",
		       4, p, &f, err, errsz);
	if (rc < 0)
		return rc;
	if (ival(f, 0, 0) > 0)
		xadd(xl, "R9", "sms_free", ival(f, 0, 0), 0, 0, 0,
		     "SMS segments within the daily allowance of a dialog (%d a day per pair), "
		     "in %" PRId64 " message%s: free",
		     x->cfg.service.daily_allowance, ival(f, 0, 1), ival(f, 0, 1) == 1 ? "" : "s");
	PQclear(f);

	rc = bill_exec(x->db,
		       "SELECT coalesce(l.rule, CASE l.kind WHEN 'sms_over_allowance' THEN 'R10'"
		       "  ELSE 'R11' END) AS rule, l.kind,"
		       " coalesce(u.price, l.amount) AS price,"
		       " sum(coalesce(u.charged_segments, 1)), sum(l.amount), count(*), min(l.id),"
		       " count(u.relay_key)"
		       " FROM ledger l LEFT JOIN sms_usage u"
		       "  ON l.idem_key LIKE 'sms:%' AND u.relay_key = substr(l.idem_key, 5)"
		       " WHERE l.subscriber_id = $1::bigint AND l.bill_date = $2::date"
		       " AND l.kind IN ('sms_over_allowance', 'sms_standard')"
		       " GROUP BY 1, 2, 3 ORDER BY 1, 3",
		       2, p, &c, err, errsz);
	if (rc < 0)
		return rc;
	for (int i = 0; i < PQntuples(c); i++) {
		const char *rule = PQgetvalue(c, i, 0);
		int64_t qty = ival(c, i, 3), amount = ival(c, i, 4), n = ival(c, i, 5);
		char pr[32];

		xadd(xl, rule, PQgetvalue(c, i, 1), qty, ival(c, i, 2), amount, n == 1 ? ival(c, i, 6) : 0,
		     "%s in %" PRId64 " message%s, %s RUB a segment (tariff %s)%s",
		     !strcmp(rule, "R10") ? "SMS segments beyond the dialog's daily allowance"
					   : "SMS segments outside an active dialog",
		     n, n == 1 ? "" : "s", ctl_rub(ival(c, i, 2), pr, sizeof(pr)), sval(s, 0, S_TARIFF),
		     ival(c, i, 7) < n ? " (some without usage records: 1 a message)" : "");
	}
	PQclear(c);
	return 0;
}

int ctl_cmd_explain(struct ctl *x)
{
	const char *date = ctl_optval(x, "date");
	char msisdn[12], now[40], days[16], err[1024];
	struct xlist xl = {0};
	PGresult *s = NULL, *t = NULL;
	int64_t total = 0, sum = 0, nentries = 0;
	int rc;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (date && !valid_date(date))
		return ctl_fail(CTL_USAGE, "--date: \"%s\" is not a date (YYYY-MM-DD)", date);
	if (!ctl_db(x))
		return CTL_DB;
	eng_now_param(now);
	snprintf(days, sizeof(days), "%d", x->cfg.service.trial_days);

	rc = bill_exec0(x->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(rc, err);
	{
		/* the day: --date, else today in the subscriber's region by the
		 * service clock; the first activation day (R13a) in that region */
		const char *p[3] = {msisdn, date, now};
		rc = bill_exec(x->db,
			       "SELECT s.id, s.msisdn, s.region, r.tz, r.daily_fee, s.tariff, t.sms_price,"
			       " coalesce($2::date,"
			       "  ($3::timestamptz AT TIME ZONE r.tz)::date)::text,"
			       " (coalesce(s.first_activated_at, (SELECT min(d.activated_at) FROM dialog d"
			       "   WHERE d.inviter_id = s.id OR d.invitee_id = s.id))"
			       "   AT TIME ZONE r.tz)::date::text,"
			       " to_regclass('bill_unpaid') IS NOT NULL,"
			       " to_regclass('trial_reminder') IS NOT NULL,"
			       " to_regclass('bill_run_done') IS NOT NULL,"
			       " s.retired_at IS NOT NULL"
			       " FROM subscriber s JOIN region r ON r.code = s.region"
			       " JOIN tariff t ON t.code = s.tariff"
			       " WHERE s.msisdn = $1"
			       " ORDER BY s.retired_at IS NULL DESC, s.id DESC LIMIT 1",
			       3, p, &s, err, sizeof(err));
	}
	if (rc < 0)
		goto db_fail;
	if (PQntuples(s) == 0 || bval(s, 0, S_RETIRED)) {
		bool retired = PQntuples(s) > 0;
		PQclear(s);
		bill_rollback(x->db);
		if (retired)
			return ctl_fail(CTL_NOTFOUND, "subscriber %s has no current contract", msisdn);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
	}

	if ((rc = explain_dialogs(x, s, &xl, err, sizeof(err))) < 0 ||
	    (rc = explain_entries(x, s, &xl, err, sizeof(err))) < 0 ||
	    (rc = explain_sms(x, s, &xl, err, sizeof(err))) < 0)
		goto db_fail;
	{
		const char *p[2] = {val(s, 0, S_ID), val(s, 0, S_DAY)};
		rc = bill_exec(x->db,
			       "SELECT count(*), coalesce(sum(amount), 0) FROM ledger"
			       " WHERE subscriber_id = $1::bigint AND bill_date = $2::date",
			       2, p, &t, err, sizeof(err));
	}
	if (rc < 0)
		goto db_fail;
	nentries = ival(t, 0, 0);
	sum = ival(t, 0, 1);
	PQclear(t);
	bill_rollback(x->db); /* read only: nothing to keep */
	if (xl.oom) {
		PQclear(s);
		xfree(&xl);
		return ctl_fail(CTL_DB, "out of memory");
	}
	for (size_t i = 0; i < xl.n; i++)
		total += xl.v[i].amount;
	if (total != sum) /* cannot happen in one snapshot; say so if it does */
		fprintf(stderr, "dialogctl: warning: items add up to %" PRId64
				" kop, the ledger to %" PRId64 " kop\n", total, sum);

	if (x->json)
		print_json(x->out, &xl, s, sum, nentries);
	else
		print_text(x->out, &xl, s, sum, nentries);
	PQclear(s);
	xfree(&xl);
	return CTL_OK;

db_fail:
	PQclear(s);
	xfree(&xl);
	bill_rollback(x->db);
	return ctl_db_fail(rc, err);
}
