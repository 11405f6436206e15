/* dialogd's engine (engine/daemon.h). */
#include "engine/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing/pgq.h"
#include "engine/catalog.h"
#include "engine/command.h"
#include "engine/log.h"
#include "engine/msisdn.h"
#include "smpp_gw/codec.h"
#include "smpp_gw/esme.h"

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
};

static void outbox_update_done(void *data, int status, PGresult *const *r, int n)
{
	struct send_ctx *s = data;
	if (status != 0)
		ENG_ERROR("outbox", "update_failed", "outbox_id=%" PRId64 " status=%d", s->id,
			  status);
	free(s);
}

static void outbox_record_result(struct send_ctx *s)
{
	struct eng_daemon *d = s->d;
	inflight_del(d, s->id);
	char id[24], parts[12], ids[MAX_PARTS * 70 + 4], err[64];
	snprintf(id, sizeof id, "%" PRId64, s->id);
	snprintf(parts, sizeof parts, "%d", s->parts);
	struct bill_pgq_job *j = bill_pgq_job_new(outbox_update_done, s);
	if (!j) {
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
		const char *p[] = {id, parts, ids};
		bill_pgq_job_add(j,
				 "UPDATE outbox SET state = 'submitted', attempts = attempts + 1, "
				 "parts = $2, message_ids = $3::text[], submitted_at = now(), "
				 "last_error = NULL WHERE id = $1",
				 3, p);
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
		const char *p[] = {id, err, permanent ? "failed" : "queued"};
		bill_pgq_job_add(j,
				 "UPDATE outbox SET state = $3, attempts = attempts + 1, "
				 "last_error = $2 WHERE id = $1",
				 3, p);
		ENG_ERROR("outbox", "submit_failed", "outbox_id=%s error=%s retry=%s", id, err,
			  permanent ? "no" : "yes");
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
	if (!s || inflight_add(d, id) != 0) {
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

static void scan_done(void *data, int status, PGresult *const *r, int n)
{
	struct eng_daemon *d = data;
	d->scan_running = 0;
	if (status != 0 || n < 1)
		return;
	int rows = PQntuples(r[0]);
	for (int i = 0; i < rows; i++)
		outbox_send(d, strtoll(PQgetvalue(r[0], i, 0), NULL, 10), PQgetvalue(r[0], i, 1),
			    PQgetvalue(r[0], i, 2));
	if (rows)
		ENG_INFO("outbox", "resend_scan", "rows=%d", rows);
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
			 "SELECT id, dst, text FROM outbox WHERE state = 'queued' "
			 "ORDER BY id LIMIT " "500",
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
	char dst[ENG_MSISDN_LEN + 1];
	char reply[1024];
	int has_reply;
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
	smpp_esme_respond(d->esme, m->token, answer);
	if (status == 0 && m->has_reply && n >= 1 && PQntuples(r[n - 1]) == 1) {
		int64_t id = strtoll(PQgetvalue(r[n - 1], 0, 0), NULL, 10);
		outbox_send(d, id, m->dst, m->reply);
	}
	free(m);
}

static const char *mo_kind_receipt = "receipt";

static void on_deliver(struct smpp_esme *e, const struct smpp_mo *mo, void *data)
{
	struct eng_daemon *d = data;
	const struct smpp_sm *sm = &mo->sm;
	if (d->stopping) {
		smpp_esme_respond(e, mo->token, SMPP_ESME_RX_T_APPN);
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
	if (!text || !hex || !m || !j) {
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

	const char *kind;
	char src[ENG_MSISDN_LEN + 1] = "";
	enum eng_cmd_kind cmdkind = ENG_CMD__COUNT;
	int is_receipt = (sm->esm_class & SMPP_ESM_TYPE_MASK) == SMPP_ESM_RECEIPT;
	int valid_src = eng_msisdn_from_smpp(sm->src.ton, sm->src.addr, src) == 0;
	if (is_receipt) {
		kind = mo_kind_receipt;
	} else if (strcmp(sm->dst.addr, d->cfg.service.short_code) == 0) {
		kind = "command";
	} else {
		kind = "p2p";
	}
	if (!is_receipt && !valid_src) {
		char q[64];
		ENG_NOTICE("mo", "bad_source", "session=%d seq=%" PRIu32 " src=%s answer=ESME_RINVSRCADR",
			   mo->session, mo->seq, eng_log_quote(sm->src.addr, q, sizeof q));
		free(text);
		free(hex);
		free(m);
		free(j);
		smpp_esme_respond(e, mo->token, SMPP_ESME_RINVSRCADR);
		return;
	}
	if (strcmp(kind, "p2p") == 0) {
		/* Relay and rating of P2P traffic come with the dialog engine; until
		 * then a P2P message is refused, not silently dropped. */
		ENG_NOTICE("mo", "p2p_refused", "session=%d seq=%" PRIu32 " answer=ESME_RX_R_APPN",
			   mo->session, mo->seq);
		free(text);
		free(hex);
		free(m);
		free(j);
		smpp_esme_respond(e, mo->token, SMPP_ESME_RX_R_APPN);
		return;
	}

	char session[12], seq[12], dcs[8], esm[8];
	snprintf(session, sizeof session, "%d", mo->session);
	snprintf(seq, sizeof seq, "%" PRIu32, mo->seq);
	snprintf(dcs, sizeof dcs, "%u", sm->data_coding);
	snprintf(esm, sizeof esm, "%u", sm->esm_class);
	const char *srcp = valid_src ? src : sm->src.addr;

	if (is_receipt) {
		char state[8];
		snprintf(state, sizeof state, "%d", sm->message_state);
		const char *p[] = {session, seq, srcp, sm->dst.addr, dcs, esm, hex, text,
				   sm->has_receipted_message_id ? sm->receipted_message_id : NULL,
				   sm->message_state >= 0 ? state : NULL};
		bill_pgq_job_add(j,
				 "WITH i AS (INSERT INTO mo_inbound (received_at, session, seq, src, dst, "
				 "data_coding, esm_class, payload, text, kind) VALUES (now(), $1, $2, $3, "
				 "$4, $5, $6, $7::bytea, $8, 'receipt') RETURNING id) "
				 "INSERT INTO sms_receipt (message_id, state, received_at, raw) "
				 "SELECT $9, $10, now(), $8 FROM i",
				 10, p);
		ENG_INFO("mo", "receipt", "session=%d seq=%" PRIu32 " state=%d", mo->session,
			 mo->seq, sm->message_state);
		free(text);
		free(hex);
		bill_pgq_submit(d->db, j);
		return;
	}

	struct eng_cmd cmd;
	eng_cmd_parse(text, strlen(text), &cmd);
	cmdkind = cmd.kind;
	/* Until the dialog flow arrives every command is answered with HELP. */
	char allowance[16];
	snprintf(allowance, sizeof allowance, "%d", d->cfg.service.daily_allowance);
	struct eng_kv kv[] = {{"allowance", allowance},
			      {"short_code", d->cfg.service.short_code},
			      {"support_line", d->cfg.service.support_line}};
	int rl = eng_msg_render(d->lang, ENG_MSG_HELP, kv, 3, m->reply, sizeof m->reply);
	m->has_reply = rl > 0;
	snprintf(m->dst, sizeof m->dst, "%s", src);
	const char *p[] = {session, seq, src, sm->dst.addr, dcs, esm, hex, text,
			   eng_cmd_kind_name(cmdkind), d->cfg.service.short_code,
			   eng_msg_name(ENG_MSG_HELP), m->has_reply ? m->reply : ""};
	bill_pgq_job_add(j,
			 "WITH i AS (INSERT INTO mo_inbound (received_at, session, seq, src, dst, "
			 "data_coding, esm_class, payload, text, kind, command) VALUES (now(), $1, $2, "
			 "$3, $4, $5, $6, $7::bytea, $8, 'command', $9) RETURNING id) "
			 "INSERT INTO outbox (created_at, src, dst, msg, text, cause_inbound_id) "
			 "SELECT now(), $10, $3, $11, $12, i.id FROM i RETURNING id",
			 12, p);
	ENG_INFO("mo", "command", "session=%d seq=%" PRIu32 " src=%s command=%s reply=%s",
		 mo->session, mo->seq, src, eng_cmd_kind_name(cmdkind), eng_msg_name(ENG_MSG_HELP));
	free(text);
	free(hex);
	bill_pgq_submit(d->db, j);
}

static void on_bound(struct smpp_esme *e, int bound, void *data)
{
	struct eng_daemon *d = data;
	ENG_INFO("engine", "smsc_sessions", "bound=%d", bound);
	if (bound > 0)
		outbox_scan(d);
}

/* Bind to the SMSC once the database first answers: an engine that cannot
 * record a message has no business taking it. */
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
	struct smpp_esme_callbacks cbs = {.data = d, .on_deliver = on_deliver, .on_bound = on_bound};
	d->esme = smpp_esme_start(d->loop, &ec, &cbs);
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
	if (!d->esme)
		start_smpp(d);
	else
		outbox_scan(d);
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
	uv_timer_init(loop, &d->outbox_timer);
	d->outbox_timer.data = d;
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
	d->db_done = 1;
	maybe_stopped(d);
}

static void esme_stopped(struct smpp_esme *e, void *data)
{
	struct eng_daemon *d = data;
	d->esme_done = 1;
	/* Results of the last submits are in the queue: close it after them. */
	bill_pgq_close(d->db, db_closed, d);
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
	if (d->esme)
		smpp_esme_stop(d->esme, esme_stopped, d);
	else
		esme_stopped(NULL, d);
}

void eng_daemon_free(struct eng_daemon *d)
{
	if (!d)
		return;
	if (d->esme)
		smpp_esme_free(d->esme);
	bill_pgq_free(d->db);
	free(d->inflight);
	free(d);
}
