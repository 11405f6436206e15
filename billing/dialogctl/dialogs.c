/* dialogctl/dialogs.c — dialog list [--msisdn M] [--state S] [--limit N] and
 * dialog show ID: the dialogs table and one dialog's event history.
 *
 * Instants are formatted by PostgreSQL in UTC (AT TIME ZONE 'UTC'), so the
 * output does not depend on the server's or the session's TimeZone.
 */
#include "ctl.h"

#include "billing/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define UTC(col) "(" col " AT TIME ZONE 'UTC')"
/* "2026-11-22T11:00:00Z" for JSON */
#define ISO(col) "to_char(" UTC(col) ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* "2026-11-22 11:00" for the list table, with seconds for show */
#define HM(col) "to_char(" UTC(col) ", 'YYYY-MM-DD HH24:MI')"
#define SEC(col) "to_char(" UTC(col) ", 'YYYY-MM-DD HH24:MI:SS')"

#define LIST_DEFAULT 100
#define LIST_MAX 1000000

/* The values dialog.state may hold (schema CHECK), for --state. */
static const char *const dlg_states[] = {
	"pending", "active", "suspended", "ended", "declined", "expired", NULL,
};

/* Columns common to list and show, in this order (enum dcol). */
#define DIALOG_COLS                                                                     \
	"d.id, d.inviter, d.invitee, d.state, d.channel, " ISO("d.created_at") ", "      \
	ISO("d.activated_at") ", " ISO("d.ended_at") ", " ISO("d.expires_at") ", "       \
	"d.ended_reason, " HM("d.created_at") ", " HM("d.activated_at") ", "           \
	HM("d.ended_at")

enum dcol {
	DC_ID = 0,
	DC_INVITER,
	DC_INVITEE,
	DC_STATE,
	DC_CHANNEL,
	DC_CREATED,
	DC_ACTIVATED,
	DC_ENDED,
	DC_EXPIRES,
	DC_REASON,
	DC_CREATED_HM,
	DC_ACTIVATED_HM,
	DC_ENDED_HM,
	DC__N,
};

/* show only: after the common columns */
enum scol {
	SC_INVITER_REGION = DC__N,
	SC_INVITER_TZ,
	SC_INVITEE_REGION,
	SC_INVITEE_TZ,
	SC_CREATED_SEC,
	SC_ACTIVATED_SEC,
	SC_ENDED_SEC,
	SC_EXPIRES_SEC,
};

enum ecol { EC_AT = 0, EC_TYPE, EC_DETAIL, EC_ACTOR, EC_CHANNEL, EC_AT_SEC };

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static int64_t ival(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool valid_state(const char *s)
{
	for (int i = 0; dlg_states[i]; i++)
		if (!strcmp(dlg_states[i], s))
			return true;
	return false;
}

/* The fields of interfaces.md (and a few more) for row `i` of `r`, inside an
 * object the caller opened. */
static void json_dialog_fields(struct ctl_json *j, const PGresult *r, int i)
{
	ctl_json_kint(j, "id", ival(r, i, DC_ID));
	ctl_json_kstr(j, "inviter", val(r, i, DC_INVITER));
	ctl_json_kstr(j, "invitee", val(r, i, DC_INVITEE));
	ctl_json_kstr(j, "state", val(r, i, DC_STATE));
	ctl_json_kstr(j, "channel", val(r, i, DC_CHANNEL));
	ctl_json_kstr(j, "created_at", val(r, i, DC_CREATED));
	ctl_json_kstr(j, "activated_at", val(r, i, DC_ACTIVATED));
	ctl_json_kstr(j, "ended_at", val(r, i, DC_ENDED));
	ctl_json_kstr(j, "expires_at", val(r, i, DC_EXPIRES));
	ctl_json_kstr(j, "ended_reason", val(r, i, DC_REASON));
}

static void print_list(FILE *o, const PGresult *r)
{
	int n = PQntuples(r), w = 2;

	for (int i = 0; i < n; i++) {
		int len = (int)strlen(PQgetvalue(r, i, DC_ID));
		if (len > w)
			w = len;
	}
	/* Two lines a dialog keep it within 80 columns (an id up to 20 digits):
	 * who and what on the first, when it went live and ended on the second. */
	fprintf(o, "%*s  %-11s  %-11s  %-9s  %s\n", w, "ID", "INVITER", "INVITEE", "STATE",
		"CREATED (UTC)");
	fprintf(o, "%*s  %-26s  %s\n", w, "", "ACTIVATED (UTC)", "ENDED (UTC)");
	for (int i = 0; i < n; i++) {
		fprintf(o, "%*s  %-11s  %-11s  %-9s  %s\n", w, val(r, i, DC_ID),
			val(r, i, DC_INVITER), val(r, i, DC_INVITEE), val(r, i, DC_STATE),
			val(r, i, DC_CREATED_HM));
		fprintf(o, "%*s  %-26s  %s\n", w, "", dash(val(r, i, DC_ACTIVATED_HM)),
			dash(val(r, i, DC_ENDED_HM)));
	}
}

int ctl_cmd_dialog_list(struct ctl *x)
{
	const char *m = ctl_optval(x, "msisdn"), *st = ctl_optval(x, "state");
	const char *lim = ctl_optval(x, "limit");
	char msisdn[12], limit[24], err[1024];
	int64_t n = LIST_DEFAULT;
	PGresult *r = NULL;
	int rc;

	if (m && ctl_parse_msisdn(m, msisdn))
		return CTL_USAGE;
	if (st && !valid_state(st))
		return ctl_fail(CTL_USAGE,
				"--state: unknown state \"%s\" (one of: pending, active, suspended, "
				"ended, declined, expired)",
				st);
	if (lim && ctl_parse_pos(lim, LIST_MAX, &n) < 0)
		return ctl_fail(CTL_USAGE, "--limit: \"%s\" is not a number from 1 to %d", lim,
				LIST_MAX);
	snprintf(limit, sizeof(limit), "%" PRId64, n);
	if (!ctl_db(x))
		return CTL_DB;
	{
		/* The inviter/invitee numbers are copied into dialog, so retired
		 * contracts' dialogs are found too; an unknown number finds none. */
		const char *p[3] = {m ? msisdn : NULL, st, limit};
		rc = bill_exec(x->db,
			       "SELECT " DIALOG_COLS " FROM dialog d"
			       " WHERE ($1::text IS NULL OR d.inviter = $1 OR d.invitee = $1)"
			       " AND ($2::text IS NULL OR d.state = $2)"
			       " ORDER BY d.created_at DESC, d.id DESC LIMIT $3::bigint",
			       3, p, &r, err, sizeof(err));
	}
	if (rc < 0)
		return ctl_db_fail(rc, err);

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(r); i++) {
			ctl_json_obj_begin(&j);
			json_dialog_fields(&j, r, i);
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_end(&j);
	} else if (PQntuples(r) == 0) {
		fputs("no dialogs\n", x->out);
	} else {
		print_list(x->out, r);
	}
	PQclear(r);
	return CTL_OK;
}

static void print_show(FILE *o, const PGresult *d, const PGresult *e)
{
	char line[1024];

	fprintf(o, "dialog:       #%s\n", val(d, 0, DC_ID));
	fprintf(o, "inviter:      %s (region %s, %s)\n", val(d, 0, DC_INVITER),
		dash(val(d, 0, SC_INVITER_REGION)), dash(val(d, 0, SC_INVITER_TZ)));
	fprintf(o, "invitee:      %s (region %s, %s)\n", val(d, 0, DC_INVITEE),
		dash(val(d, 0, SC_INVITEE_REGION)), dash(val(d, 0, SC_INVITEE_TZ)));
	fprintf(o, "state:        %s\n", val(d, 0, DC_STATE));
	fprintf(o, "channel:      %s\n", bill_one_line(val(d, 0, DC_CHANNEL), line, sizeof(line)));
	fprintf(o, "created:      %s UTC\n", val(d, 0, SC_CREATED_SEC));
	fprintf(o, "activated:    %s%s\n", dash(val(d, 0, SC_ACTIVATED_SEC)),
		val(d, 0, SC_ACTIVATED_SEC) ? " UTC" : "");
	fprintf(o, "ended:        %s%s\n", dash(val(d, 0, SC_ENDED_SEC)),
		val(d, 0, SC_ENDED_SEC) ? " UTC" : "");
	fprintf(o, "expires:      %s%s\n", dash(val(d, 0, SC_EXPIRES_SEC)),
		val(d, 0, SC_EXPIRES_SEC) ? " UTC" : "");
	fprintf(o, "ended reason: %s\n",
		val(d, 0, DC_REASON) ? dash(bill_one_line(val(d, 0, DC_REASON), line, sizeof(line)))
				     : "-");

	fprintf(o, "events:       %s\n", PQntuples(e) ? "(oldest first, UTC)" : "none");
	for (int i = 0; i < PQntuples(e); i++) {
		char type[128], actor[128], chan[64];
		const char *det = val(e, i, EC_DETAIL);

		bill_one_line(dash(val(e, i, EC_TYPE)), type, sizeof(type));
		bill_one_line(dash(val(e, i, EC_ACTOR)), actor, sizeof(actor));
		bill_one_line(dash(val(e, i, EC_CHANNEL)), chan, sizeof(chan));
		fprintf(o, "  %s  %-10s  %-12s  ", val(e, i, EC_AT_SEC), type, actor);
		if (det && *det) /* no trailing blanks when there is no detail */
			fprintf(o, "%-8s  %s\n", chan, bill_one_line(det, line, sizeof(line)));
		else
			fprintf(o, "%s\n", chan);
	}
}

int ctl_cmd_dialog_show(struct ctl *x)
{
	const char *arg = ctl_arg(x, 0);
	char id[24], err[1024];
	int64_t n;
	PGresult *d = NULL, *e = NULL;
	int rc;

	if (ctl_parse_pos(arg, INT64_MAX, &n) < 0)
		return ctl_fail(CTL_USAGE, "\"%s\" is not a dialog id (a positive integer)",
				arg ? arg : "");
	snprintf(id, sizeof(id), "%" PRId64, n);
	if (!ctl_db(x))
		return CTL_DB;
	{
		const char *p[1] = {id};
		rc = bill_exec(x->db,
			       "SELECT " DIALOG_COLS ", a.region, ra.tz, b.region, rb.tz, "
			       SEC("d.created_at") ", " SEC("d.activated_at") ", " SEC("d.ended_at") ", "
			       SEC("d.expires_at")
			       " FROM dialog d"
			       " LEFT JOIN subscriber a ON a.id = d.inviter_id"
			       " LEFT JOIN region ra ON ra.code = a.region"
			       " LEFT JOIN subscriber b ON b.id = d.invitee_id"
			       " LEFT JOIN region rb ON rb.code = b.region"
			       " WHERE d.id = $1::bigint",
			       1, p, &d, err, sizeof(err));
		if (rc == 0 && PQntuples(d) == 1)
			rc = bill_exec(x->db,
				       "SELECT " ISO("at") ", type, detail, actor, channel, " SEC("at")
				       " FROM dialog_event WHERE dialog_id = $1::bigint"
				       " ORDER BY at, id",
				       1, p, &e, err, sizeof(err));
	}
	if (rc < 0) {
		PQclear(d);
		return ctl_db_fail(rc, err);
	}
	if (PQntuples(d) == 0) {
		PQclear(d);
		return ctl_fail(CTL_NOTFOUND, "dialog %s not found", id);
	}

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		json_dialog_fields(&j, d, 0);
		ctl_json_kstr(&j, "inviter_region", val(d, 0, SC_INVITER_REGION));
		ctl_json_kstr(&j, "invitee_region", val(d, 0, SC_INVITEE_REGION));
		ctl_json_key(&j, "events");
		ctl_json_arr_begin(&j);
		for (int i = 0; i < PQntuples(e); i++) {
			ctl_json_obj_begin(&j);
			ctl_json_kstr(&j, "at", val(e, i, EC_AT));
			ctl_json_kstr(&j, "type", val(e, i, EC_TYPE));
			ctl_json_kstr(&j, "detail", val(e, i, EC_DETAIL));
			ctl_json_kstr(&j, "actor", val(e, i, EC_ACTOR));
			ctl_json_kstr(&j, "channel", val(e, i, EC_CHANNEL));
			ctl_json_obj_end(&j);
		}
		ctl_json_arr_end(&j);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		print_show(x->out, d, e);
	}
	PQclear(d);
	PQclear(e);
	return CTL_OK;
}
