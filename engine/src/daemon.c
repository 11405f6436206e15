/* dialogd's engine (engine/daemon.h). */
#include "engine/daemon.h"

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/pgq.h"
#include "engine/catalog.h"
#include "engine/clock.h"
#include "engine/command.h"
#include "engine/log.h"
#include "engine/msisdn.h"
#include "smpp_gw/codec.h"
#include "smpp_gw/esme.h"
#include "relay.h"
#include "ack.h"
#include "pgarray.h"

#define MAX_PARTS 16             /* longest reply we send */
#define OUTBOX_SCAN_LIMIT 500
#define OUTBOX_RETRY_MS 5000

struct eng_daemon {
	uv_loop_t *loop;
	struct eng_config cfg;
	enum eng_lang lang;
	struct smpp_esme *esme;
	struct bill_pgq *db;
	uv_timer_t outbox_timer;
	int stopping;
	int esme_done, db_done;
	void (*stop_done)(void *data);
	void *stop_data;
	/* outbox ids being sent, so that a scan does not send them twice */
	int64_t *inflight;
	int ninflight, capinflight;
	uint8_t concat_ref;
	int scan_running;
	uv_timer_t expiry_timer;
	int expiry_running;
	struct eng_relay *relay;
	struct send_ctx *update_retry; /* outbox results whose update failed */
	struct bill_pgq *rec[8]; /* [db] record_connections */
	struct rec_ctx *rec_ctx[8];
	int nrec, rec_closing;
	int failed; /* a reason to exit non-zero */
	int lock_tries;
	uv_timer_t lock_timer;
	/* redelivery after a lost answer (ack.c) */
	struct eng_ack *ack;
	int ack_loading;
	int ack_saving;
	uint64_t ack_saved;
	uv_timer_t ack_timer;
};

/* ---- helpers -------------------------------------------------------------- */

static int inflight_has(struct eng_daemon *d, int64_t id)
{
	for (int i = 0; i < d->ninflight; i++)
		if (d->inflight[i] == id)
			return 1;
	return 0;
}

static int inflight_add(struct eng_daemon *d, int64_t id)
{
	if (d->ninflight == d->capinflight) {
		int cap = d->capinflight ? d->capinflight * 2 : 64;
		int64_t *p = realloc(d->inflight, (size_t)cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		d->inflight = p;
		d->capinflight = cap;
	}
	d->inflight[d->ninflight++] = id;
	return 0;
}

static void inflight_del(struct eng_daemon *d, int64_t id)
{
	for (int i = 0; i < d->ninflight; i++)
		if (d->inflight[i] == id) {
			d->inflight[i] = d->inflight[--d->ninflight];
			return;
		}
}

static void bytes_to_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	out[0] = '\\';
	out[1] = 'x';
	for (size_t i = 0; i < n; i++) {
		out[2 + 2 * i] = hx[p[i] >> 4];
		out[3 + 2 * i] = hx[p[i] & 15];
	}
	out[2 + 2 * n] = '\0';
}

/* ---- sending from the outbox --------------------------------------------- */

struct send_ctx {
	struct eng_daemon *d;
	int64_t id;
	int parts, answered, accepted;
	int fail_status;
	char message_ids[MAX_PARTS][66];
	char *text; /* as sent, stored with the row */
	struct send_ctx *next; /* in d->update_retry */
	int update_tries;      /* writing the result failed this often */
};

static void outbox_update_done(void *data, int status, PGresult *const *r, int n)
{
	struct send_ctx *s = data;
	struct eng_daemon *d = s->d;
	if (status != 0) {
		ENG_ERROR("outbox", "update_failed", "outbox_id=%" PRId64 " status=%d%s", s->id,
			  status, d->stopping ? "" : " retry_ms=1000");
		if (!d->stopping) {
			/* The SMS went out: the row must not read 'queued' to a
			 * scan, or it would be sent again. Keep it in flight and
			 * write the result again a second later. */
			s->update_tries++;
			s->next = d->update_retry;
			d->update_retry = s;
			return;
		}
	}
	/* Only now may a scan see the row again: until the update committed it
	 * still reads 'queued'. */
	inflight_del(s->d, s->id);
	free(s->text);
	free(s);
}

static void outbox_record_result(struct send_ctx *s)
{
	struct eng_daemon *d = s->d;
	char id[24], parts[12], ids[MAX_PARTS * 70 + 4], err[64];
	snprintf(id, sizeof id, "%" PRId64, s->id);
	snprintf(parts, sizeof parts, "%d", s->parts);
	struct bill_pgq_job *j = bill_pgq_job_new(outbox_update_done, s);
	if (!j) {
		inflight_del(d, s->id);
		free(s->text);
		free(s);
		return;
	}
	if (s->accepted == s->parts) {
		size_t o = 0;
		ids[o++] = '{';
		for (int i = 0; i < s->parts; i++)
			o += (size_t)snprintf(ids + o, sizeof ids - o, "%s\"%s\"", i ? "," : "",
					      s->message_ids[i]);
		snprintf(ids + o, sizeof ids - o, "}");
		char now[40];
		const char *p[] = {id, parts, ids, s->text, eng_now_param(now)};
		bill_pgq_job_add(j,
				 "UPDATE outbox SET state = 'submitted', attempts = attempts + 1, "
				 "parts = $2, message_ids = $3::text[], text = $4, "
				 "submitted_at = $5::timestamptz, last_error = NULL WHERE id = $1",
				 5, p);
		if (s->update_tries)
			ENG_INFO("outbox", "result_retry", "outbox_id=%s try=%d", id,
				 s->update_tries + 1);
		else
			ENG_INFO("outbox", "submitted", "outbox_id=%s parts=%d", id, s->parts);
	} else {
		/* A permanent refusal fails the row; anything else is retried by
		 * the outbox scan. */
		int permanent = s->fail_status > 0 && s->fail_status != SMPP_ESME_RTHROTTLED &&
				s->fail_status != SMPP_ESME_RMSGQFUL &&
				s->fail_status != SMPP_ESME_RSYSERR;
		if (s->fail_status > 0)
			snprintf(err, sizeof err, "%s", smpp_status_name((uint32_t)s->fail_status));
		else
			snprintf(err, sizeof err, "%s", strerror(-s->fail_status));
		const char *p[] = {id, err, permanent ? "failed" : "queued", s->text};
		bill_pgq_job_add(j,
				 "UPDATE outbox SET state = $3, attempts = attempts + 1, "
				 "last_error = $2, text = $4 WHERE id = $1",
				 4, p);
		if (!s->update_tries)
			ENG_ERROR("outbox", "submit_failed", "outbox_id=%s error=%s retry=%s", id,
				  err, permanent ? "no" : "yes");
	}
	bill_pgq_submit(d->db, j);
}

static void part_submitted(struct smpp_esme *e, void *data, int status, const char *message_id)
{
	struct send_ctx *s = data;
	int part = s->answered++;
	if (status == 0) {
		snprintf(s->message_ids[part], sizeof s->message_ids[part], "%s",
			 message_id ? message_id : "");
		s->accepted++;
	} else if (s->fail_status == 0) {
		s->fail_status = status;
	}
	if (s->answered == s->parts)
		outbox_record_result(s);
}

/* Submit one outbox row: split the text and hand every part to the SMPP
 * client. */
static void outbox_send(struct eng_daemon *d, int64_t id, const char *dst, const char *text)
{
	if (inflight_has(d, id) || d->stopping)
		return;
	struct smpp_segment segs[MAX_PARTS];
	int n = smpp_text_segments(text, strlen(text), d->concat_ref++, segs, MAX_PARTS);
	if (n <= 0) {
		ENG_ERROR("outbox", "unencodable", "outbox_id=%" PRId64 " error=%d", id, n);
		return;
	}
	struct send_ctx *s = calloc(1, sizeof *s);
	if (!s || !(s->text = strdup(text)) || inflight_add(d, id) != 0) {
		if (s)
			free(s->text);
		free(s);
		return;
	}
	s->d = d;
	s->id = id;
	s->parts = n;
	for (int i = 0; i < n; i++) {
		struct smpp_sm sm;
		smpp_sm_init(&sm);
		sm.src.ton = 0;
		sm.src.npi = 1;
		snprintf(sm.src.addr, sizeof sm.src.addr, "%s", d->cfg.service.short_code);
		sm.dst.ton = 1;
		sm.dst.npi = 1;
		snprintf(sm.dst.addr, sizeof sm.dst.addr, "%s", dst);
		sm.esm_class = segs[i].esm_class;
		sm.data_coding = segs[i].data_coding;
		sm.registered_delivery = 1;
		sm.payload = segs[i].data;
		sm.payload_len = segs[i].len;
		int rc = smpp_esme_submit(d->esme, &sm, part_submitted, s);
		if (rc != 0) /* the callback will not run for this part */
			part_submitted(d->esme, s, rc, NULL);
	}
}

/* ---- rendering outbox rows ------------------------------------------------ */

#define MAX_PARAMS 96

struct param_buf {
	struct eng_kv kv[MAX_PARAMS];
	char keys[MAX_PARAMS][40];
	char vals[MAX_PARAMS][160];
	size_t n;
};

static int is_iso_date(const char *v)
{
	if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
			return 0;
	return 1;
}

/* Outbox parameters as the catalog wants them: "x_kop" kopecks become "x"
 * in roubles, ISO dates are written the language's way. */
static void param_add(struct param_buf *pb, enum eng_lang lang, const char *k, const char *v)
{
	if (pb->n == MAX_PARAMS || !k)
		return;
	char *key = pb->keys[pb->n], *val = pb->vals[pb->n];
	size_t kl = strlen(k);
	if (kl > 4 && strcmp(k + kl - 4, "_kop") == 0) {
		snprintf(key, sizeof pb->keys[0], "%.*s", (int)(kl - 4), k);
		char rub[32];
		snprintf(val, sizeof pb->vals[0], "%s",
			 eng_format_rub(strtoll(v, NULL, 10), lang, rub));
	} else {
		snprintf(key, sizeof pb->keys[0], "%s", k);
		if (lang == ENG_LANG_RU && is_iso_date(v))
			snprintf(val, sizeof pb->vals[0], "%.2s.%.2s.%.4s", v + 8, v + 5, v);
		else
			snprintf(val, sizeof pb->vals[0], "%s", v);
	}
	pb->kv[pb->n].key = key;
	pb->kv[pb->n].value = val;
	pb->n++;
}

/* Render one outbox message. Returns the length or negative. */
static int render_msg(struct eng_daemon *d, const char *msg, const struct param_buf *pb, char *out,
		      size_t outsz)
{
	char allowance[16];
	snprintf(allowance, sizeof allowance, "%d", d->cfg.service.daily_allowance);
	struct eng_kv common[] = {{"allowance", allowance},
				  {"short_code", d->cfg.service.short_code},
				  {"support_line", d->cfg.service.support_line}};
	int m = eng_msg_parse(msg);
	if (m == ENG_MSG_STATUS)
		return eng_render_status(d->lang, pb->kv, pb->n, common, 3, out, outsz);
	if (m < 0)
		return -EINVAL;
	return eng_msg_render_kv(d->lang, (enum eng_msg)m, pb->kv, pb->n, common, 3, out, outsz);
}

/* Send the outbox rows of a result: columns id, dst, msg, k, v [, text],
 * one row per parameter, rows of one message together. */
static int send_rows(struct eng_daemon *d, const PGresult *r)
{
	int rows = PQntuples(r), sent = 0, has_text = PQnfields(r) >= 6;
	for (int i = 0; i < rows;) {
		const char *id = PQgetvalue(r, i, 0);
		struct param_buf pb;
		pb.n = 0;
		int j = i;
		for (; j < rows && strcmp(PQgetvalue(r, j, 0), id) == 0; j++)
			if (!PQgetisnull(r, j, 3))
				param_add(&pb, d->lang, PQgetvalue(r, j, 3), PQgetvalue(r, j, 4));
		int64_t oid = strtoll(id, NULL, 10);
		const char *msg = PQgetvalue(r, i, 2);
		char text[2048];
		int len = -EINVAL;
		if (!PQgetisnull(r, i, 2))
			len = render_msg(d, msg, &pb, text, sizeof text);
		else if (has_text && !PQgetisnull(r, i, 5))
			len = snprintf(text, sizeof text, "%s", PQgetvalue(r, i, 5));
		if (len < 0)
			ENG_ERROR("outbox", "render_failed", "outbox_id=%" PRId64 " msg=%s error=%d",
				  oid, msg, len);
		else {
			outbox_send(d, oid, PQgetvalue(r, i, 1), text);
			sent++;
		}
		i = j;
	}
	return sent;
}

static void scan_done(void *data, int status, PGresult *const *r, int n)
{
	struct eng_daemon *d = data;
	d->scan_running = 0;
	if (status != 0 || n < 1)
		return;
	int sent = send_rows(d, r[0]);
	if (sent)
		ENG_INFO("outbox", "resend_scan", "messages=%d", sent);
}

/* Send what the outbox still holds (left by a crash, or refused for a while). */
static void outbox_scan(struct eng_daemon *d)
{
	if (d->scan_running || d->stopping || !bill_pgq_up(d->db))
		return;
	struct bill_pgq_job *j = bill_pgq_job_new(scan_done, d);
	if (!j)
		return;
	bill_pgq_job_add(j,
			 "SELECT o.id, o.dst, o.msg, kv.key, kv.value, o.text "
			 "FROM (SELECT id, dst, msg, params, text FROM outbox WHERE state = 'queued' "
			 "ORDER BY id LIMIT 500) o "
			 "LEFT JOIN LATERAL jsonb_each_text(o.params) kv ON true ORDER BY o.id",
			 0, NULL);
	d->scan_running = 1;
	bill_pgq_submit(d->db, j);
}

static void outbox_timer_cb(uv_timer_t *t)
{
	outbox_scan(t->data);
}

/* ---- inbound --------------------------------------------------------------- */

struct mo_ctx {
	struct eng_daemon *d;
	uint64_t token;
	uint64_t mark, fp;
	int has_replies; /* the last statement's result holds outbox rows */
};

static void mo_committed(void *data, int status, PGresult *const *r, int n)
{
	struct mo_ctx *m = data;
	struct eng_daemon *d = m->d;
	uint32_t answer = SMPP_ESME_ROK;
	if (status != 0) {
		answer = SMPP_ESME_RX_T_APPN;
		ENG_ERROR("mo", "not_recorded", "status=%d answer=ESME_RX_T_APPN%s%s", status,
			  status == -EINVAL ? " sqlstate=" : "",
			  status == -EINVAL ? bill_pgq_sqlstate(d->db) : "");
	}
	eng__ack_respond(d->ack, d->esme, m->token, answer, m->mark, m->fp, eng_now_us());
	if (status == 0 && m->has_replies && n >= 1)
		send_rows(d, r[n - 1]);
	free(m);
}

/* The number argument of dlg_command: the canonical number, or for a bad
 * number the text as sent, cut to 20 characters (whole UTF-8 sequences). */
static const char *cmd_number(const struct eng_cmd *cmd, const char *text, char *buf, size_t bufsz)
{
	if (cmd->kind == ENG_CMD_BAD_NUMBER) {
		size_t chars = 0, i = 0;
		while (text[i] == ' ')
			i++;
		if (cmd->wanted != ENG_CMD_INVITE) {
			/* "STOP 12345": quote the number, not the keyword */
			while (text[i] && text[i] != ' ')
				i++;
			while (text[i] == ' ')
				i++;
		}
		size_t o = 0;
		for (; text[i] && chars < 20 && o + 4 < bufsz; chars++) {
			size_t l = 1;
			unsigned char c = (unsigned char)text[i];
			if (c >= 0xF0) l = 4; else if (c >= 0xE0) l = 3; else if (c >= 0xC0) l = 2;
			for (size_t k = 0; k < l && text[i]; k++)
				buf[o++] = text[i++];
		}
		buf[o] = '\0';
		return buf;
	}
	return cmd->has_number ? cmd->number : NULL;
}

static void on_deliver(struct smpp_esme *e, const struct smpp_mo *mo, void *data)
{
	struct eng_daemon *d = data;
	const struct smpp_sm *sm = &mo->sm;
	if (d->stopping) {
		smpp_esme_respond(e, mo->token, SMPP_ESME_RX_T_APPN);
		return;
	}
	int is_receipt = (sm->esm_class & SMPP_ESM_TYPE_MASK) == SMPP_ESM_RECEIPT;
	int to_short_code = strcmp(sm->dst.addr, d->cfg.service.short_code) == 0;
	char src[ENG_MSISDN_LEN + 1] = "";
	int valid_src = eng_msisdn_from_smpp(sm->src.ton, sm->src.addr, src) == 0;
	if (!is_receipt && !valid_src) {
		char q[64];
		ENG_NOTICE("mo", "bad_source",
			   "session=%d seq=%" PRIu32 " src=%s answer=ESME_RINVSRCADR", mo->session,
			   mo->seq, eng_log_quote(sm->src.addr, q, sizeof q));
		smpp_esme_respond(e, mo->token, SMPP_ESME_RINVSRCADR);
		return;
	}
	uint64_t fp = 0;
	if (!is_receipt) {
		fp = eng__ack_fp(src, sm->dst.addr, sm->data_coding, sm->esm_class, sm->payload,
				 sm->payload_len);
		uint64_t mark;
		if (d->ack && eng__ack_match(d->ack, fp, &mark)) {
			/* The SMSC delivers again an MO whose effect is committed but
			 * whose answer it may never have read: answer, nothing more. */
			ENG_NOTICE("mo", "redelivery", "session=%d seq=%" PRIu32
				   " src=%s dst=%s answer=ESME_ROK effect=already_committed",
				   mo->session, mo->seq, src, sm->dst.addr);
			eng__ack_respond(d->ack, e, mo->token, SMPP_ESME_ROK, mark, fp, eng_now_us());
			return;
		}
	}
	if (!is_receipt && !to_short_code) {
		/* P2P traffic routed to the engine: rated, relayed, recorded. */
		eng__relay_mo(d->relay, mo, src, fp);
		return;
	}
	/* The text, without a UDH. */
	const uint8_t *body = sm->payload;
	size_t blen = sm->payload_len;
	if (sm->esm_class & SMPP_ESM_UDHI) {
		int h = smpp_udh_len(body, blen);
		if (h < 0) {
			ENG_NOTICE("mo", "bad_udh", "session=%d seq=%" PRIu32, mo->session, mo->seq);
			smpp_esme_respond(e, mo->token, SMPP_ESME_RINVESMCLASS);
			return;
		}
		body += h;
		blen -= (size_t)h;
	}
	char *text = malloc(blen * 3 + 1);
	char *hex = malloc(sm->payload_len * 2 + 3);
	struct mo_ctx *m = calloc(1, sizeof *m);
	struct bill_pgq_job *j = m ? bill_pgq_job_new(mo_committed, m) : NULL;
	if (!text || !hex || !j) {
		free(text);
		free(hex);
		free(m);
		free(j);
		smpp_esme_respond(e, mo->token, SMPP_ESME_RX_T_APPN);
		return;
	}
	m->d = d;
	m->token = mo->token;
	if (smpp_text_to_utf8(sm->data_coding, body, blen, text, blen * 3 + 1) < 0)
		text[0] = '\0';
	bytes_to_hex(sm->payload, sm->payload_len, hex);

	char now[40], session[12], seq[12], dcs[8], esm[8];
	eng_now_param(now);
	snprintf(session, sizeof session, "%d", mo->session);
	snprintf(seq, sizeof seq, "%" PRIu32, mo->seq);
	snprintf(dcs, sizeof dcs, "%u", sm->data_coding);
	snprintf(esm, sizeof esm, "%u", sm->esm_class);

	if (is_receipt) {
		char state[8];
		snprintf(state, sizeof state, "%d", sm->message_state);
		const char *p[] = {session, seq, valid_src ? src : sm->src.addr, sm->dst.addr, dcs, esm, hex, text,
				   sm->has_receipted_message_id ? sm->receipted_message_id : NULL,
				   sm->message_state >= 0 ? state : NULL, now};
		bill_pgq_job_add(j,
				 "WITH i AS (INSERT INTO mo_inbound (received_at, session, seq, src, dst, "
				 "data_coding, esm_class, payload, text, kind) VALUES ($11::timestamptz, $1, "
				 "$2, $3, $4, $5, $6, $7::bytea, $8, 'receipt') RETURNING id) "
				 "INSERT INTO sms_receipt (message_id, state, received_at, raw) "
				 "SELECT $9, $10, $11::timestamptz, $8 FROM i",
				 11, p);
		ENG_INFO("mo", "receipt", "session=%d seq=%" PRIu32 " state=%d", mo->session,
			 mo->seq, sm->message_state);
		free(text);
		free(hex);
		bill_pgq_submit(d->db, j);
		return;
	}

	struct eng_cmd cmd;
	eng_cmd_parse(text, strlen(text), &cmd);
	char numbuf[96];
	const char *number = cmd_number(&cmd, text, numbuf, sizeof numbuf);
	const struct eng_config *c = &d->cfg;
	char lim[6][16];
	snprintf(lim[0], sizeof lim[0], "%d", c->service.max_dialogs_per_subscriber);
	snprintf(lim[1], sizeof lim[1], "%d", c->service.max_pending_invites);
	snprintf(lim[2], sizeof lim[2], "%d", c->service.max_invites_per_day);
	snprintf(lim[3], sizeof lim[3], "%d", c->service.invite_ttl_s);
	snprintf(lim[4], sizeof lim[4], "%d", c->service.decline_cooldown_days);
	snprintf(lim[5], sizeof lim[5], "%d", c->service.trial_days);
	m->fp = fp;
	m->mark = d->ack ? eng__ack_mark(d->ack, 1) : 0;
	char mk[24], fps[24];
	snprintf(mk, sizeof mk, "%" PRId64, (int64_t)m->mark);
	snprintf(fps, sizeof fps, "%" PRId64, (int64_t)fp);
	const char *p1[] = {now, session, seq, src, sm->dst.addr, dcs, esm, hex, text,
			    eng_cmd_kind_name(cmd.kind), m->mark ? mk : NULL, fps};
	bill_pgq_job_add(j,
			 "INSERT INTO mo_inbound (received_at, session, seq, src, dst, data_coding, "
			 "esm_class, payload, text, kind, command, ack_mark, mo_fp) VALUES "
			 "($1::timestamptz, $2, $3, $4, $5, $6, $7, $8::bytea, $9, 'command', $10, "
			 "$11, $12)",
			 12, p1);
	const char *p2[] = {now, src, eng_cmd_kind_name(cmd.kind), number, c->service.short_code,
			    lim[0], lim[1], lim[2], lim[3], lim[4], lim[5]};
	bill_pgq_job_add(j,
			 "SELECT * FROM dlg_command($1::timestamptz, $2, $3, $4, "
			 "currval('mo_inbound_id_seq'), $5, $6, $7, $8, $9, $10, $11)",
			 11, p2);
	m->has_replies = 1;
	ENG_INFO("mo", "command", "session=%d seq=%" PRIu32 " src=%s command=%s", mo->session,
		 mo->seq, src, eng_cmd_kind_name(cmd.kind));
	free(text);
	free(hex);
	bill_pgq_submit(d->db, j);
}

/* ---- invitation expiry (R5) ------------------------------------------------ */

static void expiry_check(struct eng_daemon *d);

static void expiry_timer_cb(uv_timer_t *t)
{
	expiry_check(t->data);
}

static void expiry_done(void *data, int status, PGresult *const *r, int n)
{
	struct eng_daemon *d = data;
	d->expiry_running = 0;
	uint64_t next_ms = 60000; /* look again at least once a minute */
	if (status == 0 && n == 2) {
		int sent = send_rows(d, r[0]);
		if (sent)
			ENG_INFO("dialog", "invitations_expired", "notices=%d", sent);
		if (PQntuples(r[1]) == 1 && !PQgetisnull(r[1], 0, 0)) {
			double secs = strtod(PQgetvalue(r[1], 0, 0), NULL);
			double ms = secs * 1000.0 + 5;
			if (ms < (double)next_ms)
				next_ms = ms < 10 ? 10 : (uint64_t)ms;
		}
	} else {
		next_ms = 1000;
	}
	if (!d->stopping)
		uv_timer_start(&d->expiry_timer, expiry_timer_cb, next_ms, 0);
}

/* Expire what is due now and arm the timer for the next pending expiry: the
 * invitations' timers live in PostgreSQL and survive any restart. */
static void expiry_check(struct eng_daemon *d)
{
	if (d->expiry_running || d->stopping || !bill_pgq_up(d->db))
		return;
	struct bill_pgq_job *j = bill_pgq_job_new(expiry_done, d);
	if (!j)
		return;
	char now[40];
	eng_now_param(now);
	const char *p1[] = {now, d->cfg.service.short_code};
	bill_pgq_job_add(j, "SELECT * FROM dlg_expire_due($1::timestamptz, $2)", 2, p1);
	const char *p2[] = {now};
	bill_pgq_job_add(j,
			 "SELECT extract(epoch FROM min(expires_at) - $1::timestamptz)::float8 "
			 "FROM dialog WHERE state = 'pending'",
			 1, p2);
	d->expiry_running = 1;
	uv_timer_stop(&d->expiry_timer);
	bill_pgq_submit(d->db, j);
}

static void on_bound(struct smpp_esme *e, int bound, void *data)
{
	struct eng_daemon *d = data;
	ENG_INFO("engine", "smsc_sessions", "bound=%d", bound);
	if (bound > 0)
		outbox_scan(d);
}

static void engine_ready(struct eng_daemon *d);

#define ENGINE_LOCK_TRIES 15 /* one a second: the backend of an engine that
				 was just killed may take a moment to go */

static void take_engine_lock(struct eng_daemon *d);

static void lock_retry_cb(uv_timer_t *t)
{
	struct eng_daemon *d = t->data;
	if (!d->stopping && bill_pgq_up(d->db))
		take_engine_lock(d);
}

static void lock_done(void *data, int status, PGresult *const *r, int n)
{
	struct eng_daemon *d = data;
	if (status != 0 || n < 1 || PQntuples(r[0]) != 1)
		return; /* the connection went away: tried again when it is back */
	if (strcmp(PQgetvalue(r[0], 0, 0), "t") == 0) {
		d->lock_tries = 0;
		engine_ready(d);
		return;
	}
	/* The allowance counters live in this process: two engines on one
	 * database would hand out the same units twice. */
	if (++d->lock_tries < ENGINE_LOCK_TRIES) {
		ENG_NOTICE("engine", "engine_lock_busy", "try=%d of=%d", d->lock_tries,
			   ENGINE_LOCK_TRIES);
		uv_timer_start(&d->lock_timer, lock_retry_cb, 1000, 0);
		return;
	}
	ENG_ERROR("engine", "another_engine",
		  "reason=\"another dialogd holds the engine lock of this database\" "
		  "action=stopping");
	d->failed = 1;
	raise(SIGTERM);
}

/* One dialogd per database: a session advisory lock, taken again on every
 * new connection (it goes with the session). */
static void take_engine_lock(struct eng_daemon *d)
{
	struct bill_pgq_job *j = bill_pgq_job_new(lock_done, d);
	if (!j)
		return;
	bill_pgq_job_add(j, "SELECT pg_try_advisory_lock(6249, 1)", 0, NULL);
	bill_pgq_submit(d->db, j);
}

/* Bind to the SMSC once the database first answers: an engine that cannot
 * record a message has no business taking it. */
static void on_confirmed(struct smpp_esme *e, int link, uint64_t upto, int lost, void *data);

static int start_smpp(struct eng_daemon *d)
{
	const struct eng_config *cfg = &d->cfg;
	struct smpp_esme_config ec = {
		.host = cfg->smpp.host,
		.port = cfg->smpp.port,
		.system_id = cfg->smpp.system_id,
		.password = cfg->smpp.password,
		.system_type = cfg->smpp.system_type,
		.tx_rx = cfg->smpp.bind == ENG_BIND_TX_RX,
		.sessions = cfg->smpp.sessions,
		.window = cfg->smpp.window,
		.tps = cfg->smpp.tps,
		.enquire_link_s = cfg->smpp.enquire_link_s,
		.reconnect_max_s = cfg->smpp.reconnect_max_s,
		.response_timeout_s = cfg->smpp.response_timeout_s,
	};
	struct smpp_esme_callbacks cbs = {.data = d, .on_deliver = on_deliver, .on_bound = on_bound,
					  .on_confirmed = on_confirmed};
	d->esme = smpp_esme_start(d->loop, &ec, &cbs);
	eng__relay_set_esme(d->relay, d->esme);
	if (!d->esme) {
		ENG_ERROR("engine", "smpp_start_failed", "host=%s port=%d", cfg->smpp.host,
			  cfg->smpp.port);
		return -EINVAL;
	}
	return 0;
}

static void on_db_state(void *data, int up)
{
	struct eng_daemon *d = data;
	if (!up || d->stopping)
		return;
	/* Nothing else until this process holds the engine lock. */
	take_engine_lock(d);
}

/* ---- redelivery after a lost answer (ack.c) ---------------------------------- */

static void ack_save(struct eng_daemon *d);
static void db_closed(void *data);
static void close_dbs(struct eng_daemon *d);

struct ack_save_ctx {
	struct eng_daemon *d;
	struct eng_ack_suspect *add;
	uint64_t *forget;
	size_t nadd, nforget;
	uint64_t w;
};

static void ack_saved_cb(void *data, int status, PGresult *const *r, int n)
{
	struct ack_save_ctx *c = data;
	struct eng_daemon *d = c->d;
	(void)r;
	(void)n;
	d->ack_saving = 0;
	if (d->ack)
		eng__ack_stored(d->ack, c->add, c->nadd, c->forget, c->nforget, status == 0);
	else {
		free(c->add);
		free(c->forget);
	}
	if (status == 0 && c->w > d->ack_saved)
		d->ack_saved = c->w;
	free(c);
	if (status == 0)
		ack_save(d);
	/* stopping: the last watermark is stored, now the queue may close */
	if (d->stopping && d->esme_done && !d->ack_saving)
		close_dbs(d);
}


/* Store what moved: new suspects, forgotten ones, the watermark (joins the
 * next batch: no round trip of its own under load). */
static void ack_save(struct eng_daemon *d)
{
	if (!d->ack || d->ack_saving || !bill_pgq_up(d->db))
		return;
	struct ack_save_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->d = d;
	eng__ack_take_changes(d->ack, &c->add, &c->nadd, &c->forget, &c->nforget);
	c->w = eng__ack_watermark(d->ack);
	if (c->w <= d->ack_saved && !c->nadd && !c->nforget) {
		free(c);
		return;
	}
	struct bill_pgq_job *j = bill_pgq_job_new(ack_saved_cb, c);
	char now[40];
	eng_now_param(now);
	struct eng_arr fps = {0}, exps = {0}, forget = {0};
	int rc = j ? 0 : -ENOMEM;
	/* forget first: a lost-again answer's new row replaces the old one */
	if (rc == 0 && c->nforget) {
		for (size_t i = 0; i < c->nforget && rc == 0; i++) {
			char v[24];
			snprintf(v, sizeof v, "%" PRId64, (int64_t)c->forget[i]);
			rc = eng__arr_put(&forget, v, 0);
		}
		const char *p[] = {eng__arr_end(&forget), now};
		if (rc == 0)
			rc = p[0] ? bill_pgq_job_add(j,
						     "SELECT dlg_ack_forget($1::bigint[], "
						     "$2::timestamptz)",
						     2, p)
				  : -ENOMEM;
	}
	if (rc == 0 && c->nadd) {
		for (size_t i = 0; i < c->nadd && rc == 0; i++) {
			char v[24], at[40];
			snprintf(v, sizeof v, "%" PRId64, (int64_t)c->add[i].fp);
			eng_format_instant_us(c->add[i].expires_us, at);
			rc = eng__arr_put(&fps, v, 0);
			if (rc == 0)
				rc = eng__arr_put(&exps, at, 1);
		}
		const char *p[] = {eng__arr_end(&fps), eng__arr_end(&exps), now};
		if (rc == 0)
			rc = p[0] && p[1] ? bill_pgq_job_add(j,
							     "INSERT INTO ack_suspect (fp, expires_at, "
							     "created_at) SELECT f, e, $3::timestamptz "
							     "FROM unnest($1::bigint[], $2::timestamptz[]) "
							     "AS x(f, e)",
							     3, p)
					  : -ENOMEM;
	}
	char ws[24];
	snprintf(ws, sizeof ws, "%" PRId64, (int64_t)c->w);
	const char *p[] = {ws, now};
	if (rc == 0)
		rc = bill_pgq_job_add(j,
				      "UPDATE engine_ack SET confirmed_mark = "
				      "greatest(confirmed_mark, $1::bigint), updated_at = $2::timestamptz "
				      "WHERE id = 1",
				      2, p);
	free(fps.s);
	free(exps.s);
	free(forget.s);
	if (!j) {
		eng__ack_stored(d->ack, c->add, c->nadd, c->forget, c->nforget, 0);
		free(c);
		return;
	}
	d->ack_saving = 1;
	bill_pgq_submit(d->db, j); /* a failed add fails the job alone: kept for the next */
}

static void on_confirmed(struct smpp_esme *e, int link, uint64_t upto, int lost, void *data)
{
	struct eng_daemon *d = data;
	if (!d->ack)
		return;
	size_t before = eng__ack_suspects(d->ack);
	eng__ack_confirmed(d->ack, link, upto, lost, eng_now_us());
	if (lost && eng__ack_suspects(d->ack) > before)
		ENG_NOTICE("engine", "answers_unconfirmed",
			   "link=%d suspects=%zu window_s=%d reason=\"link lost before the SMSC "
			   "confirmed reading them; a redelivery is answered without a second effect\"",
			   link, eng__ack_suspects(d->ack) - before, d->cfg.smpp.redelivery_window_s);
	ack_save(d);
}

static void ack_timer_cb(uv_timer_t *t)
{
	struct eng_daemon *d = t->data;
	struct send_ctx *s = d->update_retry;
	d->update_retry = NULL;
	while (s) {
		struct send_ctx *next = s->next;
		outbox_record_result(s);
		s = next;
	}
	if (!d->ack)
		return;
	eng__ack_expire(d->ack, eng_now_us());
	ack_save(d);
}

static void ack_loaded(void *data, int status, PGresult *const *r, int n)
{
	struct eng_daemon *d = data;
	d->ack_loading = 0;
	if (status == -EAGAIN || d->stopping)
		return; /* tried again when the database is back */
	if (status != 0 || n != 2 || PQntuples(r[0]) != 1) {
		ENG_ERROR("engine", "ack_state_unreadable",
			  "status=%d error=\"%s\" action=stopping hint=\"dialogctl db init\"", status,
			  status == -EINVAL ? bill_pgq_error(d->db) : "");
		d->failed = 1;
		raise(SIGTERM);
		return;
	}
	uint32_t run = (uint32_t)strtoul(PQgetvalue(r[0], 0, 0), NULL, 10);
	d->ack = eng__ack_new(run);
	if (!d->ack) {
		d->failed = 1;
		raise(SIGTERM);
		return;
	}
	int64_t window_us = (int64_t)d->cfg.smpp.redelivery_window_s * 1000000;
	eng__ack_set_window(d->ack, window_us);
	d->ack_saved = (uint64_t)run << 32;
	int rows = PQntuples(r[1]);
	for (int i = 0; i < rows; i++) {
		int64_t exp_us = 0;
		if (eng_parse_instant(PQgetvalue(r[1], i, 1), &exp_us) != 0)
			exp_us = eng_now_us() + window_us;
		eng__ack_add_stored(d->ack, (uint64_t)strtoll(PQgetvalue(r[1], i, 0), NULL, 10),
				    exp_us);
	}
	ENG_INFO("engine", "ack_state", "run=%" PRIu32 " suspects=%d window_s=%d", run, rows,
		 d->cfg.smpp.redelivery_window_s);
	eng__relay_set_ack(d->relay, d->ack);
	uv_timer_start(&d->ack_timer, ack_timer_cb, 1000, 1000);
	start_smpp(d);
	expiry_check(d);
}

/* Before the first bind: this run's number, and the MOs an earlier run
 * committed but may not have had acknowledged. */
static void ack_load(struct eng_daemon *d)
{
	if (d->ack_loading)
		return;
	struct bill_pgq_job *j = bill_pgq_job_new(ack_loaded, d);
	if (!j)
		return;
	char now[40], win[16];
	eng_now_param(now);
	snprintf(win, sizeof win, "%d", d->cfg.smpp.redelivery_window_s);
	const char *p[] = {now, win};
	bill_pgq_job_add(j, "SELECT dlg_ack_begin($1::timestamptz, $2::integer)", 2, p);
	bill_pgq_job_add(j, "SELECT fp, expires_at FROM ack_suspect", 0, NULL);
	d->ack_loading = 1;
	bill_pgq_submit(d->db, j);
}

/* The database is up and the engine lock held: serve. */
static void engine_ready(struct eng_daemon *d)
{
	eng__relay_db_up(d->relay);
	if (!d->ack) {
		ack_load(d); /* then start_smpp */
		return;
	}
	if (!d->esme)
		start_smpp(d);
	else
		outbox_scan(d);
	expiry_check(d);
}

static void on_db_notify(void *data, const char *channel, const char *payload)
{
	struct eng_daemon *d = data;
	if (payload[0] == 'o') /* another program queued SMS in the outbox */
		outbox_scan(d);
	else
		eng__relay_notify(d->relay, payload);
}

static void on_before_batch(void *data)
{
	struct eng_daemon *d = data;
	if (!d->nrec)
		eng__relay_before_batch(d->relay, d->db);
	ack_save(d);
}

struct rec_ctx {
	struct eng_daemon *d;
	int i;
};

/* A recording connection is idle: give it the relays confirmed so far. */
static void on_rec_before_batch(void *data)
{
	struct rec_ctx *c = data;
	eng__relay_before_batch(c->d->relay, c->d->rec[c->i]);
}

/* ---- life cycle ------------------------------------------------------------ */

struct eng_daemon *eng_daemon_start(uv_loop_t *loop, const struct eng_config *cfg,
				    const char *conninfo)
{
	struct eng_daemon *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->loop = loop;
	d->cfg = *cfg;
	int lang = eng_lang_parse(cfg->service.language);
	d->lang = lang < 0 ? ENG_LANG_RU : (enum eng_lang)lang;
	d->db = bill_pgq_new(loop, conninfo, on_db_state, d);
	if (!d->db) {
		free(d);
		return NULL;
	}
	d->relay = eng__relay_new(loop, d->db, &d->cfg);
	if (!d->relay) {
		bill_pgq_close(d->db, NULL, NULL);
		free(d);
		return NULL;
	}
	bill_pgq_listen(d->db, "dialog_cache", on_db_notify, d);
	bill_pgq_before_batch(d->db, on_before_batch, d);
	for (int i = 0; i < cfg->db.record_connections && i < 8; i++) {
		struct rec_ctx *c = calloc(1, sizeof *c);
		struct bill_pgq *q = c ? bill_pgq_new(loop, conninfo, NULL, NULL) : NULL;
		if (!q) {
			free(c);
			break;
		}
		c->d = d;
		c->i = i;
		d->rec[i] = q;
		d->rec_ctx[i] = c;
		bill_pgq_before_batch(q, on_rec_before_batch, c);
		d->nrec++;
	}
	uv_timer_init(loop, &d->lock_timer);
	d->lock_timer.data = d;
	uv_timer_init(loop, &d->expiry_timer);
	d->expiry_timer.data = d;
	uv_timer_init(loop, &d->outbox_timer);
	d->outbox_timer.data = d;
	uv_timer_init(loop, &d->ack_timer);
	d->ack_timer.data = d;
	uv_timer_start(&d->outbox_timer, outbox_timer_cb, OUTBOX_RETRY_MS, OUTBOX_RETRY_MS);
	return d;
}

static void maybe_stopped(struct eng_daemon *d)
{
	if (d->esme_done && d->db_done && d->stop_done)
		d->stop_done(d->stop_data);
}

static void db_closed(void *data)
{
	struct eng_daemon *d = data;
	if (--d->rec_closing > 0)
		return;
	d->db_done = 1;
	maybe_stopped(d);
}

/* Every answer is out: close the main and the recording connections. */
static void close_dbs(struct eng_daemon *d)
{
	d->rec_closing = 1 + d->nrec;
	for (int i = 0; i < d->nrec; i++)
		bill_pgq_close(d->rec[i], db_closed, d);
	bill_pgq_close(d->db, db_closed, d);
}

static void esme_stopped(struct smpp_esme *e, void *data)
{
	struct eng_daemon *d = data;
	d->esme_done = 1;
	/* Every answer is written and (unbind_resp) read: store the last
	 * watermark, then close the queue after it and the last records. */
	ack_save(d);
	if (!d->ack_saving)
		close_dbs(d);
}

static void timer_closed(uv_handle_t *h)
{
}

void eng_daemon_stop(struct eng_daemon *d, void (*done)(void *data), void *data)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	d->stop_done = done;
	d->stop_data = data;
	ENG_INFO("engine", "stopping", "outbox_in_flight=%d", d->ninflight);
	uv_timer_stop(&d->outbox_timer);
	uv_close((uv_handle_t *)&d->outbox_timer, timer_closed);
	uv_timer_stop(&d->expiry_timer);
	uv_close((uv_handle_t *)&d->expiry_timer, timer_closed);
	uv_timer_stop(&d->lock_timer);
	uv_close((uv_handle_t *)&d->lock_timer, timer_closed);
	uv_timer_stop(&d->ack_timer);
	uv_close((uv_handle_t *)&d->ack_timer, timer_closed);
	if (d->esme)
		smpp_esme_stop(d->esme, esme_stopped, d);
	else
		esme_stopped(NULL, d);
}

int eng_daemon_failed(const struct eng_daemon *d)
{
	return d->failed;
}

void eng_daemon_free(struct eng_daemon *d)
{
	if (!d)
		return;
	if (d->esme)
		smpp_esme_free(d->esme);
	eng__relay_free(d->relay);
	eng__ack_free(d->ack);
	while (d->update_retry) {
		struct send_ctx *next = d->update_retry->next;
		free(d->update_retry->text);
		free(d->update_retry);
		d->update_retry = next;
	}
	bill_pgq_free(d->db);
	for (int i = 0; i < d->nrec; i++) {
		bill_pgq_free(d->rec[i]);
		free(d->rec_ctx[i]);
	}
	free(d->inflight);
	free(d);
}
