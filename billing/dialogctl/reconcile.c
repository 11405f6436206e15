/* dialogctl/reconcile.c — reconcile [--opening FILE] [--pending-grace S]
 * [--hold-age S] [--outbox-age S]: check the database's invariants after an
 * incident (a crash, an outage, a full disk) and print, for each check, how
 * many rows it looked at, how many violate it and a few examples (ids).
 *
 * Every check reads one snapshot (a REPEATABLE READ, READ ONLY
 * transaction), so a running dialogd or billing run cannot make two checks
 * disagree. "Now" is the service clock (DIALOG_NOW).
 *
 *   balance           balance = opening + top-ups (account_credit) - the sum
 *                     of the subscriber's ledger entries (R16). The database
 *                     keeps no record of a prepaid opening balance
 *                     (provisioning writes subscriber.balance directly);
 *                     postpaid accounts always open at 0. With --opening FILE
 *                     ("id,balance" lines: a snapshot taken at provisioning)
 *                     the check is exact for the subscribers listed; for
 *                     other prepaid ones it can only check that the implied
 *                     opening balance is not negative (counted in
 *                     balance_unverified, which is not a violation).
 *   sms_charge_usage  every sms_* ledger entry has its usage row (idem_key
 *                     'sms:' || relay_key), same payer, amount and rule.
 *   sms_usage_charge  every chargeable usage row has exactly one ledger
 *                     entry; a free one has none.
 *   daily_fee_once    at most one daily fee per (dialog, participant, day).
 *   daily_fee_cause   a daily fee only for a participant of a dialog that
 *                     was activated before, and not ended by, 00:00 of the
 *                     day in the participant's region, and not also settled
 *                     unpaid (bill_unpaid).
 *   operator_fee_cause an operator fee only with its request: the
 *                     operator_request row that names it (create) or the
 *                     'dialog end' audit row of its key (end) (R15).
 *   refund_cause      a refund reverses exactly its original: same payer,
 *                     the opposite amount, and the original is no refund.
 *   dialog_timer      no pending dialog without its expiry timer, or past
 *                     it by more than --pending-grace (default 300 s) (D9).
 *   sms_hold_stale    no money held longer than --hold-age (default 600 s);
 *                     an operator fee held for a pending invitation is not
 *                     stale.
 *   outbox_stuck      no outbox row still queued after --outbox-age
 *                     (default 600 s).
 *
 * Exit codes: 0 clean, 6 an invariant is violated, 5 database unavailable,
 * 2 usage (interfaces.md, docs/operations.md).
 */
#include "ctl.h"

#include "billing/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RECON_EXAMPLES 10      /* examples fetched per check */
#define RECON_HUMAN_EXAMPLES 5 /* shown in the human output */
#define RECON_MAX_SECONDS (10LL * 365 * 86400)

/* The parameters every check may use: $1 now, $2 pending grace (s),
 * $3 hold age (s), $4 outbox age (s), $5 / $6 opening ids / balances. */
#define RECON_PARAMS                                                              \
	"WITH p AS MATERIALIZED (SELECT $1::timestamptz AS now, $2::integer AS grace_s," \
	" $3::integer AS hold_s, $4::integer AS outbox_s),"                           \
	" op AS MATERIALIZED (SELECT * FROM unnest($5::bigint[], $6::bigint[]) o(id, bal)),"

struct recon_check {
	const char *name;
	const char *what; /* one line for the human output */
	bool info;        /* counted, never a violation */
	/* Continues RECON_PARAMS with more CTEs named after it and ends with
	 * "chk AS (SELECT v text, bad boolean ...)". */
	const char *sql;
};

static const struct recon_check checks[] = {
	{"balance", "balance = opening + credits - ledger", false,
	 " led AS (SELECT subscriber_id, sum(amount) AS s FROM ledger GROUP BY 1),"
	 " cr AS (SELECT subscriber_id, sum(amount) AS s FROM account_credit GROUP BY 1),"
	 " x AS (SELECT s.id, s.balance, s.account_type,"
	 "         s.balance + coalesce(led.s, 0) - coalesce(cr.s, 0) AS implied,"
	 "         coalesce(op.bal, CASE WHEN s.account_type = 'postpaid' THEN 0 END) AS opening"
	 "    FROM subscriber s LEFT JOIN led ON led.subscriber_id = s.id"
	 "    LEFT JOIN cr ON cr.subscriber_id = s.id LEFT JOIN op ON op.id = s.id),"
	 " chk AS (SELECT format('s%s(bal=%s,exp=%s)', id, balance,"
	 "                      coalesce((balance - implied + opening)::text, '>=' || (balance - implied))) AS v,"
	 "         CASE WHEN opening IS NULL THEN implied < 0 ELSE implied <> opening END AS bad"
	 "    FROM x)"},
	{"balance_unverified", "prepaid: opening unknown, >= 0 checked", true,
	 " chk AS (SELECT 's' || s.id AS v, true AS bad FROM subscriber s"
	 "          WHERE s.account_type = 'prepaid' AND NOT EXISTS (SELECT 1 FROM op WHERE op.id = s.id))"},
	{"sms_charge_usage", "SMS charge has its usage row (R10/R11)", false,
	 " chk AS (SELECT 'l' || l.id AS v,"
	 "         (u.relay_key IS NULL OR u.amount <> l.amount OR u.src_sub_id <> l.subscriber_id"
	 "          OR l.kind <> CASE WHEN u.rule = 'R10' THEN 'sms_over_allowance'"
	 "                            ELSE 'sms_standard' END) AS bad"
	 "    FROM ledger l LEFT JOIN sms_usage u"
	 "      ON l.idem_key LIKE 'sms:%' AND u.relay_key = substr(l.idem_key, 5)"
	 "   WHERE l.kind IN ('sms_over_allowance', 'sms_standard'))"},
	{"sms_usage_charge", "usage row: one charge, none if free", false,
	 " n AS (SELECT substr(idem_key, 5) AS k, count(*) AS c FROM ledger"
	 "        WHERE idem_key LIKE 'sms:%' GROUP BY 1),"
	 " chk AS (SELECT 'u' || u.id AS v,"
	 "         CASE WHEN u.amount > 0 THEN coalesce(n.c, 0) <> 1 ELSE coalesce(n.c, 0) <> 0 END AS bad"
	 "    FROM sms_usage u LEFT JOIN n ON n.k = u.relay_key)"},
	{"daily_fee_once", "one fee per dialog/participant/day R13", false,
	 " chk AS (SELECT format('d%s/s%s/%s', dialog_id, subscriber_id, bill_date) AS v,"
	 "         count(*) > 1 AS bad"
	 "    FROM ledger WHERE kind = 'daily_fee' GROUP BY dialog_id, subscriber_id, bill_date)"},
	{"daily_fee_cause", "fee only if active at payer's 00:00", false,
	 " chk AS (SELECT 'l' || l.id AS v,"
	 "         (d.id IS NULL OR l.subscriber_id NOT IN (d.inviter_id, d.invitee_id)"
	 "          OR d.activated_at IS NULL OR d.activated_at >= m.at"
	 "          OR (d.ended_at IS NOT NULL AND d.ended_at <= m.at)"
	 "          OR EXISTS (SELECT 1 FROM bill_unpaid b WHERE b.dialog_id = l.dialog_id"
	 "                        AND b.subscriber_id = l.subscriber_id AND b.bill_date = l.bill_date))"
	 "         IS NOT FALSE AS bad"
	 "    FROM ledger l JOIN subscriber s ON s.id = l.subscriber_id"
	 "    JOIN region r ON r.code = s.region LEFT JOIN dialog d ON d.id = l.dialog_id"
	 "   CROSS JOIN LATERAL (SELECT l.bill_date::timestamp AT TIME ZONE r.tz AS at) m"
	 "   WHERE l.kind = 'daily_fee')"},
	{"operator_fee_cause", "operator fee only with its request R15", false,
	 " chk AS (SELECT 'l' || l.id AS v,"
	 "         CASE WHEN l.idem_key LIKE 'operator_fee:create:%' THEN NOT EXISTS ("
	 "                SELECT 1 FROM operator_request q WHERE q.ledger_id = l.id"
	 "                   AND q.subscriber_id = l.subscriber_id AND q.fee = l.amount)"
	 "              WHEN l.idem_key ~ '^operator_fee:end:[0-9]{1,18}$' THEN NOT EXISTS ("
	 "                SELECT 1 FROM audit a WHERE a.id = substr(l.idem_key, 18)::bigint"
	 "                   AND a.action = 'dialog end')"
	 "              ELSE true END AS bad"
	 "    FROM ledger l WHERE l.kind = 'operator_fee')"},
	{"refund_cause", "refund reverses its original (R16)", false,
	 " chk AS (SELECT 'l' || l.id AS v,"
	 "         (o.id IS NULL OR o.kind = 'refund' OR o.subscriber_id <> l.subscriber_id"
	 "          OR l.amount <> -o.amount) AS bad"
	 "    FROM ledger l LEFT JOIN ledger o ON o.id = l.refund_of WHERE l.kind = 'refund')"},
	{"dialog_timer", "pending dialog has a live timer (D9)", false,
	 " chk AS (SELECT 'd' || d.id AS v,"
	 "         (d.expires_at IS NULL OR d.expires_at < p.now - make_interval(secs => p.grace_s)) AS bad"
	 "    FROM dialog d, p WHERE d.state = 'pending')"},
	{"sms_hold_stale", "no money held for long (R17)", false,
	 " chk AS (SELECT 'h:' || h.relay_key AS v,"
	 "         (h.created_at < p.now - make_interval(secs => p.hold_s)"
	 "          AND NOT (h.relay_key ~ '^operator_fee:create:[0-9]{1,18}$' AND EXISTS ("
	 "                SELECT 1 FROM dialog d WHERE d.id = substr(h.relay_key, 21)::bigint"
	 "                   AND d.state = 'pending'))) AS bad"
	 "    FROM sms_hold h, p)"},
	{"outbox_stuck", "no SMS queued for long", false,
	 " chk AS (SELECT 'o' || o.id AS v,"
	 "         o.created_at < p.now - make_interval(secs => p.outbox_s) AS bad"
	 "    FROM outbox o, p WHERE o.state = 'queued')"},
};
#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

struct recon_result {
	int64_t checked, bad;
	char *examples[RECON_EXAMPLES];
	int nexamples;
};

static void results_free(struct recon_result *res, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < res[i].nexamples; k++)
			free(res[i].examples[k]);
}

/* A growing text buffer for the opening arrays ("{1,2,...}"). */
struct recon_buf {
	char *s;
	size_t len, cap;
};

static int buf_add(struct recon_buf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p)
			return -ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
	return 0;
}

/* Parse one signed kopecks value (a snapshot may hold negative balances). */
static int parse_signed(const char *s, int64_t *out)
{
	int64_t v = 0;
	bool neg = false;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/* --opening FILE: "id,balance" lines (blank, '#' and a header line
 * "id,balance" ignored) into two array literals. */
static int load_opening(const char *file, struct recon_buf *ids, struct recon_buf *bals)
{
	FILE *f = fopen(file, "r");
	char line[256];
	long lineno = 0, n = 0;
	int rc = 0;

	if (!f)
		return ctl_fail(CTL_USAGE, "--opening: %s: %s", file, strerror(errno));
	if (buf_add(ids, "{") < 0 || buf_add(bals, "{") < 0)
		rc = -ENOMEM;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *comma, *end;
		int64_t id, bal;
		char num[32];

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (ctl_blank(line) || line[0] == '#' || !strcmp(line, "id,balance"))
			continue;
		comma = strchr(line, ',');
		if (!comma) {
			fclose(f);
			return ctl_fail(CTL_USAGE, "--opening: %s:%ld: expected \"id,balance\"", file,
					lineno);
		}
		*comma = '\0';
		end = comma + 1;
		if (ctl_parse_id(line, &id) < 0 || parse_signed(end, &bal) < 0) {
			fclose(f);
			return ctl_fail(CTL_USAGE, "--opening: %s:%ld: expected \"id,balance\" in kopecks",
					file, lineno);
		}
		snprintf(num, sizeof(num), "%s%" PRId64, n ? "," : "", id);
		if (buf_add(ids, num) < 0)
			rc = -ENOMEM;
		snprintf(num, sizeof(num), "%s%" PRId64, n ? "," : "", bal);
		if (rc == 0 && buf_add(bals, num) < 0)
			rc = -ENOMEM;
		n++;
	}
	fclose(f);
	if (rc == 0 && (buf_add(ids, "}") < 0 || buf_add(bals, "}") < 0))
		rc = -ENOMEM;
	if (rc < 0)
		return ctl_fail(CTL_DB, "--opening: out of memory");
	return 0;
}

static int parse_seconds(const struct ctl *x, const char *name, int def, int *out)
{
	const char *s = ctl_optval(x, name);
	int64_t v;

	*out = def;
	if (!s)
		return 0;
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (ctl_parse_pos(s, RECON_MAX_SECONDS, &v) < 0)
		return ctl_fail(CTL_USAGE, "--%s: \"%s\" is not a number of seconds", name, s);
	*out = (int)v;
	return 0;
}

static int run_check(PGconn *db, const struct recon_check *c, const char *const *params,
		     struct recon_result *res, char *err, size_t errsz)
{
	char sql[4096];
	PGresult *r = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
		 RECON_PARAMS "%s"
		 " SELECT (SELECT count(*) FROM chk), (SELECT count(*) FROM chk WHERE bad),"
		 " v FROM (SELECT v FROM chk WHERE bad ORDER BY v LIMIT " CTL_STR(RECON_EXAMPLES) ") e"
		 " RIGHT JOIN (SELECT 1) one ON true",
		 c->sql);
	rc = bill_exec(db, sql, 6, params, &r, err, errsz);
	if (rc < 0)
		return rc;
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < PQntuples(r); i++) {
		if (i == 0) {
			res->checked = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			res->bad = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		}
		if (!PQgetisnull(r, i, 2) && res->nexamples < RECON_EXAMPLES) {
			char *e = strdup(PQgetvalue(r, i, 2));
			if (e)
				res->examples[res->nexamples++] = e;
		}
	}
	PQclear(r);
	return 0;
}

static void print_human(FILE *out, const char *now, int grace, int hold, int outbox,
			const struct recon_result *res, int64_t total)
{
	fprintf(out, "reconcile at %s: grace %d s, holds %d s, outbox %d s\n", now, grace,
		hold, outbox);
	fprintf(out, "%-19s %9s %9s  %s\n", "check", "checked", "violated", "invariant");
	for (size_t i = 0; i < NCHECKS; i++) {
		const struct recon_check *c = &checks[i];
		char line[81], nbad[24];

		if (c->info)
			snprintf(nbad, sizeof(nbad), "-");
		else
			snprintf(nbad, sizeof(nbad), "%" PRId64, res[i].bad);
		fprintf(out, "%-19s %9" PRId64 " %9s  %.39s\n", c->name, res[i].checked, nbad, c->what);
		if (res[i].bad && !c->info) {
			size_t used = (size_t)snprintf(line, sizeof(line), "  e.g.");
			for (int k = 0; k < res[i].nexamples && k < RECON_HUMAN_EXAMPLES; k++) {
				size_t need = strlen(res[i].examples[k]) + 1;
				if (used + need >= sizeof(line) - 4) {
					snprintf(line + used, sizeof(line) - used, " ...");
					break;
				}
				used += (size_t)snprintf(line + used, sizeof(line) - used, " %s",
							 res[i].examples[k]);
			}
			fprintf(out, "%s\n", line);
		}
	}
	if (total)
		fprintf(out, "INCONSISTENT: %" PRId64 " violation%s\n", total, total == 1 ? "" : "s");
	else
		fprintf(out, "clean: every invariant holds\n");
}

static void print_json(FILE *out, const char *now, int grace, int hold, int outbox,
		       const struct recon_result *res, int64_t total)
{
	struct ctl_json j;

	ctl_json_init(&j, out);
	ctl_json_obj_begin(&j);
	ctl_json_kstr(&j, "at", now);
	ctl_json_kint(&j, "pending_grace_s", grace);
	ctl_json_kint(&j, "hold_age_s", hold);
	ctl_json_kint(&j, "outbox_age_s", outbox);
	ctl_json_key(&j, "clean");
	ctl_json_bool(&j, total == 0);
	ctl_json_kint(&j, "violations", total);
	ctl_json_key(&j, "checks");
	ctl_json_arr_begin(&j);
	for (size_t i = 0; i < NCHECKS; i++) {
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "name", checks[i].name);
		ctl_json_kstr(&j, "invariant", checks[i].what);
		ctl_json_key(&j, "info");
		ctl_json_bool(&j, checks[i].info);
		ctl_json_kint(&j, "checked", res[i].checked);
		ctl_json_kint(&j, "violations", checks[i].info ? 0 : res[i].bad);
		ctl_json_key(&j, "examples");
		ctl_json_arr_begin(&j);
		for (int k = 0; !checks[i].info && k < res[i].nexamples; k++)
			ctl_json_str(&j, res[i].examples[k]);
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
	}
	ctl_json_arr_end(&j);
	ctl_json_obj_end(&j);
	ctl_json_end(&j);
}

int ctl_cmd_reconcile(struct ctl *x)
{
	struct recon_buf ids = {0}, bals = {0};
	struct recon_result res[NCHECKS];
	char now[32], sgrace[16], shold[16], soutbox[16], err[1024];
	const char *params[6];
	int grace, hold, outbox, rc, code = CTL_OK;
	int64_t total = 0;
	size_t done = 0;

	memset(res, 0, sizeof(res));
	if (parse_seconds(x, "pending-grace", 300, &grace) || parse_seconds(x, "hold-age", 600, &hold)
	    || parse_seconds(x, "outbox-age", 600, &outbox))
		return CTL_USAGE;
	if (ctl_optval(x, "opening")) {
		rc = load_opening(ctl_optval(x, "opening"), &ids, &bals);
		if (rc) {
			free(ids.s);
			free(bals.s);
			return rc;
		}
	}
	if (!ctl_db(x)) {
		free(ids.s);
		free(bals.s);
		return CTL_DB;
	}
	snprintf(sgrace, sizeof(sgrace), "%d", grace);
	snprintf(shold, sizeof(shold), "%d", hold);
	snprintf(soutbox, sizeof(soutbox), "%d", outbox);
	params[0] = ctl_now(now);
	params[1] = sgrace;
	params[2] = shold;
	params[3] = soutbox;
	params[4] = ids.s ? ids.s : "{}";
	params[5] = bals.s ? bals.s : "{}";

	rc = bill_begin(x->db, err, sizeof(err));
	if (rc == 0)
		rc = bill_exec0(x->db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", err,
				sizeof(err));
	for (; rc == 0 && done < NCHECKS; done++)
		rc = run_check(x->db, &checks[done], params, &res[done], err, sizeof(err));
	bill_rollback(x->db);
	free(ids.s);
	free(bals.s);
	if (rc < 0) {
		results_free(res, done);
		return ctl_db_fail(rc, err);
	}
	for (size_t i = 0; i < NCHECKS; i++)
		if (!checks[i].info)
			total += res[i].bad;
	if (x->json)
		print_json(x->out, now, grace, hold, outbox, res, total);
	else
		print_human(x->out, now, grace, hold, outbox, res, total);
	if (total)
		code = CTL_INCONSISTENT;
	results_free(res, NCHECKS);
	return code;
}
