/* dialogctl/support.c — support actions (R14, R15, D2, D10, D13):
 *
 *   dialog create A B --channel operator --passport-verified [--waive-fee --reason TEXT]
 *   dialog end MSISDN [PEER] --channel selfcare|operator [--passport-verified]
 *                            [--waive-fee --reason TEXT]
 *
 * The work is done in one transaction by sup_create() / sup_end() of
 * schema/0007_support.sql, which reuse the SMS flow (dlg_command 'invite',
 * dlg_finish as STOP does), charge the operator fee and write the audit row.
 * This file checks the command line (agent, channel, passport, waiver) and
 * maps the outcome to the exit codes of interfaces.md.
 */
#include "ctl.h"

#include "billing/db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The outcome columns read from the JSON object sup_create/sup_end return. */
#define OUT_COLS                                                                             \
	"j::text, j->>'status', coalesce(j->>'fee', '0'), j->>'audit_id', j->>'ledger_id', "  \
	"j->>'spendable', j->>'refusal', j->>'dialog_id', coalesce(j->>'operator_fee', '0')"

enum ocol { OC_JSON = 0, OC_STATUS, OC_FEE, OC_AUDIT, OC_LEDGER, OC_SPEND, OC_REFUSAL, OC_DIALOG, OC_OPFEE };

/* The R4 refusals of an invitation (the catalog id of the SMS sent to A). */
static const struct {
	const char *msg;
	const char *text;
} refusals[] = {
	{"err_not_subscriber", "R1: A is not a subscriber"},
	{"err_sender_blocked", "R1: A is not active (blocked)"},
	{"err_self", "R4: A and B are the same number"},
	{"err_peer_unknown", "R1/R4: B is not a subscriber"},
	{"err_peer_blocked", "R1/R4: B is not active (blocked)"},
	{"err_invite_exists", "R4: an invitation from A to B is already pending"},
	{"err_dialog_exists", "R4: A and B already have a dialog"},
	{"err_limit_self", "R4: A already has max_dialogs_per_subscriber open dialogs"},
	{"err_limit_peer", "R4: B already has max_dialogs_per_subscriber open dialogs"},
	{"err_pending_limit", "R4: A already has max_pending_invites pending invitations"},
	{"err_daily_limit", "R4/D9: A reached max_invites_per_day"},
	{"err_cooldown", "R4/D9: B declined A within decline_cooldown_days"},
	{"accept_limit_self", "D3: A is at max_dialogs_per_subscriber (B's invitation stays pending)"},
	{"accept_limit_peer", "D3: B is at max_dialogs_per_subscriber (B's invitation stays pending)"},
};

static const char *refusal_text(const char *msg)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (msg && !strcmp(refusals[i].msg, msg))
			return refusals[i].text;
	return "R4";
}

struct sup_req {
	const char *channel;
	bool passport;
	bool waive;
	const char *reason;
};

/* The checks common to both commands; returns 0 or the exit code. */
static int check_request(struct ctl *x, bool create, struct sup_req *q)
{
	q->channel = ctl_optval(x, "channel");
	q->passport = ctl_flag(x, "passport-verified");
	q->waive = ctl_flag(x, "waive-fee");
	q->reason = ctl_optval(x, "reason");

	if (!x->agent || !*x->agent)
		return ctl_fail(CTL_USAGE, "--agent NAME is required for support actions (audited, "
				"R15)\nusage: dialogctl --agent NAME %s", x->cmd->usage);
	if (!q->channel)
		return ctl_fail(CTL_USAGE, "--channel is required (%s)\nusage: dialogctl %s",
				create ? "operator" : "selfcare or operator", x->cmd->usage);
	if (create ? strcmp(q->channel, "operator") != 0
		   : strcmp(q->channel, "operator") != 0 && strcmp(q->channel, "selfcare") != 0)
		return ctl_fail(CTL_USAGE, "--channel %s: expected %s", q->channel,
				create ? "operator (self-service creates are not a support action)"
				       : "selfcare or operator");
	if (q->reason && !*q->reason)
		return ctl_fail(CTL_USAGE, "--reason must not be empty");
	if (q->waive && !q->reason)
		return ctl_fail(CTL_USAGE, "--waive-fee requires --reason TEXT (R15: a waiver is "
				"audited with its written reason)");
	if (q->waive && strcmp(q->channel, "operator") != 0)
		return ctl_fail(CTL_USAGE, "--waive-fee: the %s channel is free (R14); only an "
				"operator fee can be waived", q->channel);
	if (!strcmp(q->channel, "operator") && !q->passport)
		return ctl_fail(CTL_REFUSED, "refused (R15): an operator-channel action requires the "
				"subscriber's passport data verified (--passport-verified); nothing done");
	return 0;
}

static int fail_tx(struct ctl *x, int rc, const char *err)
{
	bill_rollback(x->db);
	return ctl_db_fail(rc, err);
}

static const char *val(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? NULL : PQgetvalue(r, 0, col);
}

/* Prepaid account that cannot pay the fee (D13): nothing was done. */
static int refuse_unpaid(struct ctl *x, const char *msisdn, const PGresult *r)
{
	char m1[64], m2[64];
	int64_t fee = strtoll(PQgetvalue(r, 0, OC_FEE), NULL, 10);
	int64_t sp = val(r, OC_SPEND) ? strtoll(val(r, OC_SPEND), NULL, 10) : 0;

	bill_rollback(x->db);
	return ctl_fail(CTL_REFUSED, "refused (R15, D13): prepaid %s cannot pay the operator fee %s "
			"(can spend %s); nothing done (waive it with --waive-fee --reason TEXT)",
			msisdn, ctl_fmt_money(fee, m1, sizeof(m1)), ctl_fmt_money(sp, m2, sizeof(m2)));
}

static void print_fee(struct ctl *x, const struct sup_req *q, const PGresult *r, bool create)
{
	char m[64];
	int64_t fee = strtoll(PQgetvalue(r, 0, OC_FEE), NULL, 10);
	int64_t opfee = strtoll(PQgetvalue(r, 0, OC_OPFEE), NULL, 10);

	if (strcmp(q->channel, "operator") != 0)
		fprintf(x->out, "no fee: the %s channel is free (R14)\n", q->channel);
	else if (q->waive)
		fprintf(x->out, "operator fee %s waived (R15): %s\n",
			ctl_fmt_money(opfee, m, sizeof(m)), q->reason);
	else if (val(r, OC_LEDGER))
		fprintf(x->out, "operator fee %s charged (R15, ledger entry %s)\n",
			ctl_fmt_money(fee, m, sizeof(m)), val(r, OC_LEDGER));
	else if (create)
		fprintf(x->out, "operator fee %s will be charged when the invitation is accepted "
			"(R15, D10)\n", ctl_fmt_money(fee, m, sizeof(m)));
}

static void print_json(struct ctl *x, const PGresult *r)
{
	struct ctl_json j;

	ctl_json_init(&j, x->out);
	ctl_json_raw(&j, PQgetvalue(r, 0, OC_JSON));
	ctl_json_end(&j);
}

int ctl_cmd_dialog_end(struct ctl *x)
{
	struct sup_req q;
	char msisdn[12], peer[12], now[32], err[1024];
	const char *speer = ctl_arg(x, 1);
	PGresult *r = NULL, *d = NULL;
	const char *status;
	int rc;

	if ((rc = check_request(x, false, &q)) != 0)
		return rc;
	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn))
		return CTL_USAGE;
	if (speer && ctl_parse_msisdn(speer, peer))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;
	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	{
		const char *p[9] = {ctl_now(now),
				    msisdn,
				    speer ? peer : NULL,
				    q.channel,
				    x->agent,
				    q.passport ? "true" : "false",
				    q.waive ? "true" : "false",
				    q.reason,
				    x->cfg.service.short_code};
		rc = bill_exec(x->db,
			       "WITH r AS (SELECT sup_end($1::timestamptz, $2, $3, $4, $5, $6::boolean, "
			       "$7::boolean, $8, $9) AS j) SELECT " OUT_COLS " FROM r",
			       9, p, &r, err, sizeof(err));
	}
	if (rc < 0)
		return fail_tx(x, rc, err);
	status = PQgetvalue(r, 0, OC_STATUS);
	if (!strcmp(status, "no_subscriber")) {
		PQclear(r);
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
	}
	if (!strcmp(status, "nothing")) {
		PQclear(r);
		bill_rollback(x->db);
		if (speer)
			return ctl_fail(CTL_NOTFOUND, "%s has no dialog or sent invitation with %s to "
					"end (D10: nothing done, no fee)", msisdn, peer);
		return ctl_fail(CTL_NOTFOUND, "%s has no dialog or sent invitation to end (D10: "
				"nothing done, no fee)", msisdn);
	}
	if (!strcmp(status, "unpaid")) {
		rc = refuse_unpaid(x, msisdn, r);
		PQclear(r);
		return rc;
	}
	if ((rc = bill_commit(x->db, err, sizeof(err))) < 0) {
		PQclear(r);
		return ctl_db_fail(rc, err);
	}

	if (x->json) {
		print_json(x, r);
		PQclear(r);
		return CTL_OK;
	}
	{
		const char *p[1] = {PQgetvalue(r, 0, OC_JSON)};
		rc = bill_exec(x->db,
			       "SELECT e->>'id', e->>'peer', e->>'event', e->>'was' "
			       "FROM jsonb_array_elements($1::jsonb->'dialogs') e",
			       1, p, &d, err, sizeof(err));
	}
	if (rc < 0) {
		PQclear(r);
		return ctl_db_fail(rc, err);
	}
	fprintf(x->out, "%s channel, agent %s (audit %s): %d dialog%s of %s\n", q.channel, x->agent,
		PQgetvalue(r, 0, OC_AUDIT), PQntuples(d), PQntuples(d) == 1 ? "" : "s", msisdn);
	for (int i = 0; i < PQntuples(d); i++)
		fprintf(x->out, "  dialog %s with +%s: %s (was %s)\n", PQgetvalue(d, i, 0),
			PQgetvalue(d, i, 1), PQgetvalue(d, i, 2), PQgetvalue(d, i, 3));
	print_fee(x, &q, r, false);
	PQclear(d);
	PQclear(r);
	return CTL_OK;
}

int ctl_cmd_dialog_create(struct ctl *x)
{
	struct sup_req q;
	char a[12], b[12], now[32], err[1024], lim[6][16];
	const struct eng_config *c = &x->cfg;
	PGresult *r = NULL;
	const char *status;
	int rc;

	if ((rc = check_request(x, true, &q)) != 0)
		return rc;
	if (ctl_parse_msisdn(ctl_arg(x, 0), a) || ctl_parse_msisdn(ctl_arg(x, 1), b))
		return CTL_USAGE;
	if (!ctl_db(x))
		return CTL_DB;
	snprintf(lim[0], sizeof(lim[0]), "%d", c->service.max_dialogs_per_subscriber);
	snprintf(lim[1], sizeof(lim[1]), "%d", c->service.max_pending_invites);
	snprintf(lim[2], sizeof(lim[2]), "%d", c->service.max_invites_per_day);
	snprintf(lim[3], sizeof(lim[3]), "%d", c->service.invite_ttl_s);
	snprintf(lim[4], sizeof(lim[4]), "%d", c->service.decline_cooldown_days);
	snprintf(lim[5], sizeof(lim[5]), "%d", c->service.trial_days);
	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	{
		const char *p[14] = {ctl_now(now), a, b, x->agent,
				     q.passport ? "true" : "false", q.waive ? "true" : "false",
				     q.reason, c->service.short_code,
				     lim[0], lim[1], lim[2], lim[3], lim[4], lim[5]};
		rc = bill_exec(x->db,
			       "WITH r AS (SELECT sup_create($1::timestamptz, $2, $3, $4, $5::boolean, "
			       "$6::boolean, $7, $8, $9, $10, $11, $12, $13, $14) AS j) SELECT " OUT_COLS
			       " FROM r",
			       14, p, &r, err, sizeof(err));
	}
	if (rc < 0)
		return fail_tx(x, rc, err);
	status = PQgetvalue(r, 0, OC_STATUS);
	if (!strcmp(status, "no_subscriber")) {
		PQclear(r);
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", a);
	}
	if (!strcmp(status, "unpaid")) {
		rc = refuse_unpaid(x, a, r);
		PQclear(r);
		return rc;
	}
	/* A refusal is committed too: A got the refusal SMS, as by SMS (R4),
	 * and the attempt is audited; no fee (D10). */
	if ((rc = bill_commit(x->db, err, sizeof(err))) < 0) {
		PQclear(r);
		return ctl_db_fail(rc, err);
	}
	if (!strcmp(status, "refused")) {
		rc = ctl_fail(CTL_REFUSED, "refused (%s); %s was told by SMS (%s); no fee (D10)",
			      refusal_text(val(r, OC_REFUSAL)), a,
			      val(r, OC_REFUSAL) ? val(r, OC_REFUSAL) : "-");
		if (x->json)
			print_json(x, r);
		PQclear(r);
		return rc;
	}
	if (x->json) {
		print_json(x, r);
	} else {
		if (!strcmp(status, "active"))
			fprintf(x->out, "dialog %s between %s and %s is active: %s had already invited "
				"%s (D1) (agent %s, audit %s)\n", PQgetvalue(r, 0, OC_DIALOG), a, b, b, a,
				x->agent, PQgetvalue(r, 0, OC_AUDIT));
		else
			fprintf(x->out, "invitation %s from %s to %s sent (pending; %s answers 1 or 2 by "
				"SMS) (agent %s, audit %s)\n", PQgetvalue(r, 0, OC_DIALOG), a, b, b,
				x->agent, PQgetvalue(r, 0, OC_AUDIT));
		print_fee(x, &q, r, true);
	}
	PQclear(r);
	return CTL_OK;
}
