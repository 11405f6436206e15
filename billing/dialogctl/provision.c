/* dialogctl/provision.c — db init, region add, tariff add, subscriber add /
 * block / unblock. */
#include "ctl.h"

#include "billing/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define OPEN_STATES "('pending', 'active', 'suspended')"

/* Codes of regions and tariffs: 1..64 bytes, no spaces or control bytes
 * (the schema's CHECK says the same). */
static int check_code(const char *what, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return ctl_fail(CTL_USAGE, "%s code must be 1 to 64 characters", what);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7F)
			return ctl_fail(CTL_USAGE, "%s code \"%s\" must not contain spaces or control "
					"characters", what, s);
	return 0;
}

static int fail_tx(struct ctl *x, int rc, const char *err)
{
	bill_rollback(x->db);
	return ctl_db_fail(rc, err);
}

/* One transaction: an INSERT ... ON CONFLICT DO NOTHING RETURNING of a
 * `what` named `code` (refused when it exists), its audit row, commit. */
static int insert_audited(struct ctl *x, const char *what, const char *code, const char *sql,
			  int nparams, const char *const *params, const char *action,
			  const char *detail)
{
	char err[1024];
	PGresult *r = NULL;
	int rc;

	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	if ((rc = bill_exec(x->db, sql, nparams, params, &r, err, sizeof(err))) < 0)
		return fail_tx(x, rc, err);
	rc = PQntuples(r);
	PQclear(r);
	if (rc == 0) {
		bill_rollback(x->db);
		return ctl_fail(CTL_REFUSED, "%s %s already exists", what, code);
	}
	if ((rc = ctl_audit(x, action, detail, err, sizeof(err))) < 0)
		return fail_tx(x, rc, err);
	if ((rc = bill_commit(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	return CTL_OK;
}

int ctl_cmd_db_init(struct ctl *x)
{
	int from = 0, to = 0, rc;
	char err[1024];

	if (!ctl_db(x))
		return CTL_DB;
	rc = bill_schema_upgrade(x->db, &from, &to, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(rc, err);
	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kint(&j, "from", from);
		ctl_json_kint(&j, "to", to);
		ctl_json_key(&j, "upgraded");
		ctl_json_bool(&j, from != to);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else if (from == to) {
		fprintf(x->out, "schema is up to date (version %d)\n", to);
	} else {
		fprintf(x->out, "schema upgraded: version %d -> %d\n", from, to);
	}
	return CTL_OK;
}

int ctl_cmd_region_add(struct ctl *x)
{
	const char *code = ctl_arg(x, 0);
	const char *tz = ctl_optval(x, "tz");
	int64_t daily_fee = 300, operator_fee = 4500;
	char sdaily[24], soper[24], now[32], err[1024], detail[512];
	PGresult *r = NULL;
	int rc;

	if (check_code("region", code))
		return CTL_USAGE;
	if (!tz)
		tz = "Europe/Moscow";
	if (ctl_optval(x, "daily-fee") && ctl_parse_kop("daily-fee", ctl_optval(x, "daily-fee"), &daily_fee))
		return CTL_USAGE;
	if (ctl_optval(x, "operator-fee") &&
	    ctl_parse_kop("operator-fee", ctl_optval(x, "operator-fee"), &operator_fee))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;

	{
		const char *p[1] = {tz};
		rc = bill_exec(x->db, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1, p, &r, err,
			       sizeof(err));
		if (rc < 0)
			return ctl_db_fail(rc, err);
		rc = PQntuples(r);
		PQclear(r);
		if (rc == 0)
			return ctl_fail(CTL_USAGE, "--tz: unknown time zone \"%s\" (an IANA zone name such "
					"as Europe/Moscow is expected)", tz);
	}

	snprintf(sdaily, sizeof(sdaily), "%" PRId64, daily_fee);
	snprintf(soper, sizeof(soper), "%" PRId64, operator_fee);
	{
		char qc[200], qt[200];
		ctl_json_quote(code, qc, sizeof(qc));
		ctl_json_quote(tz, qt, sizeof(qt));
		snprintf(detail, sizeof(detail),
			 "{\"code\":%s,\"tz\":%s,\"daily_fee\":%" PRId64 ",\"operator_fee\":%" PRId64 "}",
			 qc, qt, daily_fee, operator_fee);
	}
	const char *p[5] = {code, tz, sdaily, soper, ctl_now(now)};
	rc = insert_audited(x, "region", code,
			    "INSERT INTO region (code, tz, daily_fee, operator_fee, created_at) "
			    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING RETURNING code",
			    5, p, "region add", detail);
	if (rc != CTL_OK)
		return rc;

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "code", code);
		ctl_json_kstr(&j, "tz", tz);
		ctl_json_kint(&j, "daily_fee", daily_fee);
		ctl_json_kint(&j, "operator_fee", operator_fee);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		char m1[64], m2[64];
		fprintf(x->out, "region %s added: time zone %s, daily fee %s, operator fee %s\n", code, tz,
			ctl_fmt_money(daily_fee, m1, sizeof(m1)), ctl_fmt_money(operator_fee, m2, sizeof(m2)));
	}
	return CTL_OK;
}

int ctl_cmd_tariff_add(struct ctl *x)
{
	const char *code = ctl_arg(x, 0);
	const char *sprice = ctl_optval(x, "sms-price");
	int64_t price;
	char sp[24], now[32], detail[256], qc[200];
	int rc;

	if (check_code("tariff", code))
		return CTL_USAGE;
	if (!sprice)
		return ctl_fail(CTL_USAGE, "missing --sms-price KOP\nusage: dialogctl %s", x->cmd->usage);
	if (ctl_parse_kop("sms-price", sprice, &price))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;
	snprintf(sp, sizeof(sp), "%" PRId64, price);
	ctl_json_quote(code, qc, sizeof(qc));
	snprintf(detail, sizeof(detail), "{\"code\":%s,\"sms_price\":%" PRId64 "}", qc, price);
	const char *p[3] = {code, sp, ctl_now(now)};
	rc = insert_audited(x, "tariff", code,
			    "INSERT INTO tariff (code, sms_price, created_at) VALUES ($1, $2, $3) "
			    "ON CONFLICT (code) DO NOTHING RETURNING code",
			    3, p, "tariff add", detail);
	if (rc != CTL_OK)
		return rc;
	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "code", code);
		ctl_json_kint(&j, "sms_price", price);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		char m[64];
		fprintf(x->out, "tariff %s added: SMS price %s\n", code, ctl_fmt_money(price, m, sizeof(m)));
	}
	return CTL_OK;
}

/* End every open dialog (and pending invitation) of subscriber row `id`,
 * with an 'ended' event. Returns the number ended, or a negative code. */
static int end_open_dialogs(struct ctl *x, const char *id, const char *reason, char *err,
			    size_t errsz)
{
	char now[32];
	const char *p[5] = {id, ctl_now(now), reason, ctl_agent(x), x->cfg.service.short_code};
	PGresult *r = NULL;
	int rc;

	/* Open dialogs end, pending invitations are withdrawn (D2), and the
	 * other side of each is told through the outbox dialogd sends from. */
	rc = bill_exec(x->db,
		       "WITH e AS ("
		       " UPDATE dialog SET state = 'ended', ended_at = $2, ended_reason = $3,"
		       " expires_at = NULL"
		       " WHERE (inviter_id = $1 OR invitee_id = $1) AND state IN " OPEN_STATES
		       " RETURNING id, state, inviter_id, inviter, invitee),"
		       " ev AS (INSERT INTO dialog_event (dialog_id, at, type, actor, channel, detail)"
		       " SELECT id, $2, 'ended', $4, 'operator', $3 FROM e RETURNING 1),"
		       " o AS (INSERT INTO outbox (created_at, src, dst, msg, params)"
		       " SELECT $2, $5,"
		       " CASE WHEN inviter_id = $1 THEN invitee ELSE inviter END, 'ended_blocked',"
		       " jsonb_build_object('peer', '+' || CASE WHEN inviter_id = $1 THEN inviter"
		       " ELSE invitee END) FROM e RETURNING 1)"
		       " SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM o)",
		       5, p, &r, err, errsz);
	if (rc < 0)
		return rc;
	rc = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

/* Does `table` have a row with code = `code`? 1, 0, or a negative code. */
static int code_exists(struct ctl *x, const char *sql, const char *code, char *err, size_t errsz)
{
	const char *p[1] = {code};
	PGresult *r = NULL;
	int rc = bill_exec(x->db, sql, 1, p, &r, err, errsz);

	if (rc < 0)
		return rc;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

int ctl_cmd_subscriber_add(struct ctl *x)
{
	char msisdn[12], defcontract[16], sbal[24], scl[24], now[32], err[1024];
	const char *region = ctl_optval(x, "region");
	const char *tariff = ctl_optval(x, "tariff");
	const char *contract = ctl_optval(x, "contract");
	bool prepaid = ctl_flag(x, "prepaid"), postpaid = ctl_flag(x, "postpaid");
	int64_t balance = 0, credit_limit = 0;
	char old_id[24] = "", old_contract[256] = "", new_id[24] = "";
	int ended = 0, rc;
	PGresult *r = NULL;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (!region)
		return ctl_fail(CTL_USAGE, "missing --region CODE\nusage: dialogctl %s", x->cmd->usage);
	if (!tariff)
		return ctl_fail(CTL_USAGE, "missing --tariff CODE\nusage: dialogctl %s", x->cmd->usage);
	if (prepaid == postpaid)
		return ctl_fail(CTL_USAGE, "%s\nusage: dialogctl %s",
				prepaid ? "--prepaid and --postpaid exclude each other"
					: "missing --prepaid or --postpaid",
				x->cmd->usage);
	if (postpaid && ctl_optval(x, "balance"))
		return ctl_fail(CTL_USAGE, "--balance applies to prepaid accounts only");
	if (postpaid && ctl_optval(x, "credit-limit"))
		return ctl_fail(CTL_USAGE, "--credit-limit applies to prepaid accounts only");
	if (ctl_optval(x, "balance") && ctl_parse_kop("balance", ctl_optval(x, "balance"), &balance))
		return CTL_USAGE;
	if (ctl_optval(x, "credit-limit") &&
	    ctl_parse_kop("credit-limit", ctl_optval(x, "credit-limit"), &credit_limit))
		return CTL_USAGE;
	if (contract) {
		size_t n = strlen(contract);
		if (n == 0 || n >= sizeof(old_contract))
			return ctl_fail(CTL_USAGE, "--contract must be 1 to %zu bytes",
					sizeof(old_contract) - 1);
	}
	snprintf(defcontract, sizeof(defcontract), "C%s", msisdn);
	snprintf(sbal, sizeof(sbal), "%" PRId64, balance);
	snprintf(scl, sizeof(scl), "%" PRId64, credit_limit);
	if (!ctl_db(x))
		return CTL_DB;

	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	rc = code_exists(x, "SELECT 1 FROM region WHERE code = $1", region, err, sizeof(err));
	if (rc < 0)
		return fail_tx(x, rc, err);
	if (rc == 0) {
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "region %s not found", region);
	}
	rc = code_exists(x, "SELECT 1 FROM tariff WHERE code = $1", tariff, err, sizeof(err));
	if (rc < 0)
		return fail_tx(x, rc, err);
	if (rc == 0) {
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "tariff %s not found", tariff);
	}

	{
		const char *p[1] = {msisdn};
		rc = bill_exec(x->db,
			       "SELECT id, contract FROM subscriber WHERE msisdn = $1 AND retired_at IS NULL "
			       "FOR UPDATE",
			       1, p, &r, err, sizeof(err));
		if (rc < 0)
			return fail_tx(x, rc, err);
		if (PQntuples(r) > 0) {
			snprintf(old_id, sizeof(old_id), "%s", PQgetvalue(r, 0, 0));
			snprintf(old_contract, sizeof(old_contract), "%s", PQgetvalue(r, 0, 1));
		}
		PQclear(r);
	}
	if (old_id[0]) {
		/* Same number, new contract: the old row retires with its
		 * history and the number starts afresh (R13a). */
		if (!contract || !strcmp(contract, old_contract)) {
			bill_rollback(x->db);
			return ctl_fail(CTL_REFUSED, "subscriber %s already exists (contract %s)", msisdn,
					old_contract);
		}
		{
			const char *p[2] = {old_id, ctl_now(now)};
			rc = bill_exec(x->db, "UPDATE subscriber SET retired_at = $2 WHERE id = $1", 2, p,
				       NULL, err, sizeof(err));
		}
		if (rc < 0)
			return fail_tx(x, rc, err);
		ended = end_open_dialogs(x, old_id, "subscriber re-provisioned", err, sizeof(err));
		if (ended < 0)
			return fail_tx(x, ended, err);
	}
	{
		const char *p[8] = {msisdn,	   contract ? contract : defcontract,
				    region,	   tariff,
				    prepaid ? "prepaid" : "postpaid",
				    sbal,	   scl,
				    ctl_now(now)};
		rc = bill_exec(x->db,
			       "INSERT INTO subscriber (msisdn, contract, region, tariff, account_type,"
			       " balance, credit_limit, created_at)"
			       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
			       8, p, &r, err, sizeof(err));
	}
	if (rc == -EEXIST) { /* a concurrent add of the same number won */
		bill_rollback(x->db);
		return ctl_fail(CTL_REFUSED, "subscriber %s already exists", msisdn);
	}
	if (rc < 0)
		return fail_tx(x, rc, err);
	snprintf(new_id, sizeof(new_id), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	{
		char detail[3400], qc[1600], qo[1600];
		ctl_json_quote(contract ? contract : defcontract, qc, sizeof(qc));
		if (old_id[0])
			ctl_json_quote(old_contract, qo, sizeof(qo));
		else
			snprintf(qo, sizeof(qo), "null");
		snprintf(detail, sizeof(detail),
			 "{\"msisdn\":\"%s\",\"id\":%s,\"contract\":%s,\"retired_contract\":%s}", msisdn,
			 new_id, qc, qo);
		if ((rc = ctl_audit(x, "subscriber add", detail, err, sizeof(err))) < 0)
			return fail_tx(x, rc, err);
	}
	if ((rc = bill_commit(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "msisdn", msisdn);
		ctl_json_kint(&j, "id", strtoll(new_id, NULL, 10));
		ctl_json_kstr(&j, "contract", contract ? contract : defcontract);
		ctl_json_kstr(&j, "region", region);
		ctl_json_kstr(&j, "tariff", tariff);
		ctl_json_kstr(&j, "account_type", prepaid ? "prepaid" : "postpaid");
		ctl_json_kint(&j, "balance", balance);
		ctl_json_kint(&j, "credit_limit", credit_limit);
		ctl_json_kstr(&j, "retired_contract", old_id[0] ? old_contract : NULL);
		ctl_json_kint(&j, "dialogs_ended", ended);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		char m1[64], m2[64];
		if (old_id[0])
			fprintf(x->out, "previous contract %s of %s retired (%d open dialogs ended)\n",
				old_contract, msisdn, ended);
		fprintf(x->out, "subscriber %s added: contract %s, region %s, tariff %s, %s",
			msisdn, contract ? contract : defcontract, region, tariff,
			prepaid ? "prepaid" : "postpaid");
		if (prepaid)
			fprintf(x->out, ", balance %s, credit limit %s", ctl_fmt_money(balance, m1, sizeof(m1)),
				ctl_fmt_money(credit_limit, m2, sizeof(m2)));
		fputc('\n', x->out);
	}
	return CTL_OK;
}

static int set_status(struct ctl *x, bool block)
{
	char msisdn[12], id[24], status[16], err[1024], detail[256];
	PGresult *r = NULL;
	int rc, ended = 0;
	bool changed;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;
	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	{
		const char *p[1] = {msisdn};
		rc = bill_exec(x->db,
			       "SELECT id, status FROM subscriber WHERE msisdn = $1 AND retired_at IS NULL "
			       "FOR UPDATE",
			       1, p, &r, err, sizeof(err));
	}
	if (rc < 0)
		return fail_tx(x, rc, err);
	if (PQntuples(r) == 0) {
		PQclear(r);
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	snprintf(status, sizeof(status), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	changed = strcmp(status, block ? "blocked" : "active") != 0;
	if (changed) {
		const char *p[2] = {id, block ? "blocked" : "active"};
		rc = bill_exec(x->db, "UPDATE subscriber SET status = $2 WHERE id = $1", 2, p, NULL, err,
			       sizeof(err));
		if (rc < 0)
			return fail_tx(x, rc, err);
	}
	if (block) {
		/* A blocked subscriber cannot take part (R1): end everything open. */
		ended = end_open_dialogs(x, id, "subscriber blocked", err, sizeof(err));
		if (ended < 0)
			return fail_tx(x, ended, err);
	}
	snprintf(detail, sizeof(detail), "{\"msisdn\":\"%s\",\"id\":%s,\"dialogs_ended\":%d}", msisdn,
		 id, ended);
	if ((rc = ctl_audit(x, block ? "subscriber block" : "subscriber unblock", detail, err,
			    sizeof(err))) < 0)
		return fail_tx(x, rc, err);
	if ((rc = bill_commit(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "msisdn", msisdn);
		ctl_json_kstr(&j, "status", block ? "blocked" : "active");
		ctl_json_key(&j, "changed");
		ctl_json_bool(&j, changed);
		ctl_json_kint(&j, "dialogs_ended", ended);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		fprintf(x->out, "subscriber %s %s%s", msisdn, changed ? "" : "was already ",
			block ? "blocked" : "active");
		if (block)
			fprintf(x->out, "; %d dialog%s ended", ended, ended == 1 ? "" : "s");
		fputc('\n', x->out);
	}
	return CTL_OK;
}

int ctl_cmd_subscriber_block(struct ctl *x)
{
	return set_status(x, true);
}

int ctl_cmd_subscriber_unblock(struct ctl *x)
{
	return set_status(x, false);
}
