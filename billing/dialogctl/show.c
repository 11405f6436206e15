/* dialogctl/show.c — subscriber show MSISDN: account, trial, dialogs,
 * today's allowance use, recent charges. */
#include "ctl.h"

#include "billing/db.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')" /* session TZ is UTC */
#define RECENT_CHARGES 10
#define MAX_DIALOGS 100

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int ctl_cmd_subscriber_show(struct ctl *x)
{
	char msisdn[12], days[16], err[1024], id[24];
	PGresult *s = NULL, *d = NULL, *l = NULL;
	int rc;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;
	snprintf(days, sizeof(days), "%d", x->cfg.service.trial_days);

	/* The trial (R13a) runs for trial_days billing days after the day of
	 * this subscriber row's (contract's) first activation, in its region. */
	{
		const char *p[2] = {msisdn, days};
		rc = bill_exec(x->db,
			       "SELECT s.id, s.msisdn, s.contract, s.status, s.region, r.tz, r.daily_fee,"
			       " s.tariff, t.sms_price, s.account_type, s.balance, s.credit_limit, "
			       ISO("s.created_at") ","
			       " (SELECT ((min(d.activated_at) AT TIME ZONE r.tz)::date + $2::int)::text"
			       "  FROM dialog d WHERE (d.inviter_id = s.id OR d.invitee_id = s.id)"
			       "  AND d.activated_at IS NOT NULL)"
			       " FROM subscriber s JOIN region r ON r.code = s.region"
			       " JOIN tariff t ON t.code = s.tariff"
			       " WHERE s.msisdn = $1 AND s.retired_at IS NULL",
			       2, p, &s, err, sizeof(err));
	}
	if (rc < 0)
		return ctl_db_fail(rc, err);
	if (PQntuples(s) == 0) {
		PQclear(s);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(s, 0, 0));
	{
		const char *p[1] = {id};
		rc = bill_exec(x->db,
			       "SELECT id, CASE WHEN inviter_id = $1 THEN invitee ELSE inviter END,"
			       " CASE WHEN inviter_id = $1 THEN 'inviter' ELSE 'invitee' END, state, "
			       ISO("created_at") ", " ISO("activated_at") ", " ISO("ended_at") ", channel"
			       " FROM dialog WHERE inviter_id = $1 OR invitee_id = $1"
			       " ORDER BY id DESC LIMIT " CTL_STR(MAX_DIALOGS),
			       1, p, &d, err, sizeof(err));
		if (rc == 0)
			rc = bill_exec(x->db,
				       "SELECT id, kind, amount, bill_date::text, dialog_id, rule, " ISO("created_at")
				       " FROM ledger WHERE subscriber_id = $1"
				       " ORDER BY id DESC LIMIT " CTL_STR(RECENT_CHARGES),
				       1, p, &l, err, sizeof(err));
	}
	if (rc < 0) {
		PQclear(s);
		PQclear(d);
		return ctl_db_fail(rc, err);
	}

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kint(&j, "id", ival(s, 0, 0));
		ctl_json_kstr(&j, "msisdn", val(s, 0, 1));
		ctl_json_kstr(&j, "contract", val(s, 0, 2));
		ctl_json_kstr(&j, "status", val(s, 0, 3));
		ctl_json_kstr(&j, "region", val(s, 0, 4));
		ctl_json_kstr(&j, "region_tz", val(s, 0, 5));
		ctl_json_kint(&j, "daily_fee", ival(s, 0, 6));
		ctl_json_kstr(&j, "tariff", val(s, 0, 7));
		ctl_json_kint(&j, "sms_price", ival(s, 0, 8));
		ctl_json_kstr(&j, "account_type", val(s, 0, 9));
		ctl_json_kint(&j, "balance", ival(s, 0, 10));
		ctl_json_kint(&j, "credit_limit", ival(s, 0, 11));
		ctl_json_kstr(&j, "created_at", val(s, 0, 12));
		ctl_json_kstr(&j, "trial_ends", val(s, 0, 13));
		/* usage per pair and day comes with the rating tables */
		ctl_json_kint(&j, "allowance_used_today", 0);
		ctl_json_kint(&j, "daily_allowance", x->cfg.service.daily_allowance);
		ctl_json_key(&j, "dialogs");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(d); i++) {
			ctl_json_obj_begin(&j);
			ctl_json_kint(&j, "id", ival(d, i, 0));
			ctl_json_kstr(&j, "peer", val(d, i, 1));
			ctl_json_kstr(&j, "role", val(d, i, 2));
			ctl_json_kstr(&j, "state", val(d, i, 3));
			ctl_json_kstr(&j, "created_at", val(d, i, 4));
			ctl_json_kstr(&j, "activated_at", val(d, i, 5));
			ctl_json_kstr(&j, "ended_at", val(d, i, 6));
			ctl_json_kstr(&j, "channel", val(d, i, 7));
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_key(&j, "charges");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(l); i++) {
			ctl_json_obj_begin(&j);
			ctl_json_kint(&j, "id", ival(l, i, 0));
			ctl_json_kstr(&j, "kind", val(l, i, 1));
			ctl_json_kint(&j, "amount", ival(l, i, 2));
			ctl_json_kstr(&j, "bill_date", val(l, i, 3));
			ctl_json_key(&j, "dialog_id");
			if (val(l, i, 4))
				ctl_json_int(&j, ival(l, i, 4));
			else
				ctl_json_null(&j);
			ctl_json_kstr(&j, "rule", val(l, i, 5));
			ctl_json_kstr(&j, "created_at", val(l, i, 6));
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		char m[64];
		FILE *o = x->out;
		fprintf(o, "msisdn:       %s\n", val(s, 0, 1));
		fprintf(o, "contract:     %s\n", val(s, 0, 2));
		fprintf(o, "status:       %s\n", val(s, 0, 3));
		fprintf(o, "region:       %s (%s), daily fee %s\n", val(s, 0, 4), val(s, 0, 5),
			ctl_fmt_money(ival(s, 0, 6), m, sizeof(m)));
		fprintf(o, "tariff:       %s, SMS %s\n", val(s, 0, 7),
			ctl_fmt_money(ival(s, 0, 8), m, sizeof(m)));
		fprintf(o, "account:      %s\n", val(s, 0, 9));
		fprintf(o, "balance:      %s\n", ctl_fmt_money(ival(s, 0, 10), m, sizeof(m)));
		if (!strcmp(val(s, 0, 9), "prepaid"))
			fprintf(o, "credit limit: %s\n", ctl_fmt_money(ival(s, 0, 11), m, sizeof(m)));
		if (val(s, 0, 13))
			fprintf(o, "trial ends:   %s\n", val(s, 0, 13));
		else
			fprintf(o, "trial ends:   not started (%d free days after the first activation day)\n",
				x->cfg.service.trial_days);
		fprintf(o, "allowance:    0 of %d used today\n", x->cfg.service.daily_allowance);
		fprintf(o, "dialogs:      %s\n", PQntuples(d) ? "" : "none");
		for (int i = 0; i < PQntuples(d); i++) {
			fprintf(o, "  #%s %s with %s (%s, %s), created %s", val(d, i, 0), val(d, i, 3),
				val(d, i, 1), val(d, i, 2), val(d, i, 7), val(d, i, 4));
			if (val(d, i, 5))
				fprintf(o, ", activated %s", val(d, i, 5));
			if (val(d, i, 6))
				fprintf(o, ", ended %s", val(d, i, 6));
			fputc('\n', o);
		}
		fprintf(o, "charges:      %s\n", PQntuples(l) ? "(most recent first)" : "none");
		for (int i = 0; i < PQntuples(l); i++) {
			fprintf(o, "  #%s %s %s %s", val(l, i, 0), val(l, i, 3), val(l, i, 1),
				ctl_fmt_money(ival(l, i, 2), m, sizeof(m)));
			if (val(l, i, 4))
				fprintf(o, " dialog #%s", val(l, i, 4));
			if (val(l, i, 5))
				fprintf(o, " (%s)", val(l, i, 5));
			fputc('\n', o);
		}
	}
	PQclear(s);
	PQclear(d);
	PQclear(l);
	return CTL_OK;
}
