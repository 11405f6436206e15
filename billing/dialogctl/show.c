/* dialogctl/show.c — subscriber show MSISDN: account, trial, dialogs,
 * today's allowance use, recent charges. */
#include "ctl.h"

#include "billing/db.h"
#include "engine/clock.h"

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
	char msisdn[12], days[16], err[1024], id[24], now[40];
	PGresult *s = NULL, *d = NULL, *l = NULL;
	int64_t used_today = 0;
	int nactive = 0;
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
	eng_now_param(now);
	{
		/* Column 8: today's use of the pair's allowance for an open
		 * (active or suspended) dialog, NULL for the others: the pair's
		 * counter (R9) on the day of the inviter's region (D5) at the
		 * service clock's now (DIALOG_NOW). */
		const char *p[2] = {id, now};
		rc = bill_exec(x->db,
			       "SELECT d.id, CASE WHEN d.inviter_id = $1 THEN d.invitee ELSE d.inviter END,"
			       " CASE WHEN d.inviter_id = $1 THEN 'inviter' ELSE 'invitee' END, d.state, "
			       ISO("d.created_at") ", " ISO("d.activated_at") ", " ISO("d.ended_at") ", d.channel,"
			       " CASE WHEN d.state IN ('active', 'suspended') THEN coalesce("
			       "  (SELECT u.used FROM pair_usage u"
			       "   WHERE u.pair_lo = least(d.inviter, d.invitee)"
			       "   AND u.pair_hi = greatest(d.inviter, d.invitee)"
			       "   AND u.day = ($2::timestamptz AT TIME ZONE ri.tz)::date), 0) END"
			       " FROM dialog d JOIN subscriber si ON si.id = d.inviter_id"
			       " JOIN region ri ON ri.code = si.region"
			       " WHERE d.inviter_id = $1 OR d.invitee_id = $1"
			       " ORDER BY d.id DESC LIMIT " CTL_STR(MAX_DIALOGS),
			       2, p, &d, err, sizeof(err));
		if (rc == 0)
			rc = bill_exec(x->db,
				       "SELECT " CTL_CHARGE_COLS
				       " FROM ledger l WHERE l.subscriber_id = $1"
				       " ORDER BY l.id DESC LIMIT " CTL_STR(RECENT_CHARGES),
				       1, p, &l, err, sizeof(err));
	}
	if (rc < 0) {
		PQclear(s);
		PQclear(d);
		return ctl_db_fail(rc, err);
	}
	/* The top-level use: the sum over the active dialogs (a suspended
	 * dialog has no allowance, D13). */
	for (int i = 0; i < PQntuples(d); i++)
		if (!strcmp(PQgetvalue(d, i, 3), "active")) {
			used_today += ival(d, i, 8);
			nactive++;
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
		ctl_json_kint(&j, "allowance_used_today", used_today);
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
			ctl_json_key(&j, "allowance_used_today");
			if (val(d, i, 8))
				ctl_json_int(&j, ival(d, i, 8));
			else
				ctl_json_null(&j);
			ctl_json_kint(&j, "allowance", x->cfg.service.daily_allowance);
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		/* the last ledger entries, as `charges list` prints them; "charges"
		 * is the older name of the same array, kept for existing readers */
		ctl_json_key(&j, "recent_charges");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(l); i++)
			ctl_json_charge(&j, l, i);
		ctl_json_arr_end(&j);
		ctl_json_key(&j, "charges");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(l); i++)
			ctl_json_charge(&j, l, i);
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
		fprintf(o, "allowance:    %" PRId64 " used today in %d active dialog%s (%d per dialog and day)\n",
			used_today, nactive, nactive == 1 ? "" : "s", x->cfg.service.daily_allowance);
		fprintf(o, "dialogs:      %s\n", PQntuples(d) ? "" : "none");
		for (int i = 0; i < PQntuples(d); i++) {
			fprintf(o, "  #%s %s with %s (%s, %s), created %s", val(d, i, 0), val(d, i, 3),
				val(d, i, 1), val(d, i, 2), val(d, i, 7), val(d, i, 4));
			if (val(d, i, 5))
				fprintf(o, ", activated %s", val(d, i, 5));
			if (val(d, i, 6))
				fprintf(o, ", ended %s", val(d, i, 6));
			fputc('\n', o);
			if (val(d, i, 8))
				fprintf(o, "     allowance: %s of %d used today\n", val(d, i, 8),
					x->cfg.service.daily_allowance);
		}
		fprintf(o, "recent charges: %s\n",
			PQntuples(l) ? "(last " CTL_STR(RECENT_CHARGES) ", most recent first)" : "none");
		for (int i = 0; i < PQntuples(l); i++) {
			fprintf(o, "  #%s %s %s %s", val(l, i, CTL_CH_ID), val(l, i, CTL_CH_BILL_DATE),
				val(l, i, CTL_CH_KIND), ctl_fmt_money(ival(l, i, CTL_CH_AMOUNT), m, sizeof(m)));
			if (val(l, i, CTL_CH_DIALOG))
				fprintf(o, " dialog #%s", val(l, i, CTL_CH_DIALOG));
			if (val(l, i, CTL_CH_RULE))
				fprintf(o, " (%s)", val(l, i, CTL_CH_RULE));
			if (val(l, i, CTL_CH_REFUND_OF))
				fprintf(o, " refund of #%s", val(l, i, CTL_CH_REFUND_OF));
			fputc('\n', o);
		}
	}
	PQclear(s);
	PQclear(d);
	PQclear(l);
	return CTL_OK;
}
