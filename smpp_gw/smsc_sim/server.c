/* smsc_sim/server.c — the SMSC side of SMPP 3.4: listener, ESME connections,
 * binds, submit_sm handling and MT reassembly, delivery receipts, MO
 * injection and the table of requests waiting for their response.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "smpp_gw/codec.h"

#define SIM_SYSTEM_ID "smsc-sim"
#define SIM_MAX_SEGS 255

const char *sim_bind_name(enum sim_bind b)
{
	switch (b) {
	case SIM_BIND_NONE:
		return "none";
	case SIM_BIND_TX:
		return "transmitter";
	case SIM_BIND_RX:
		return "receiver";
	case SIM_BIND_TRX:
		return "transceiver";
	}
	return "unknown";
}

const char *sim_dcs_name(uint8_t dcs)
{
	switch (dcs) {
	case SMPP_DCS_GSM:
		return "gsm";
	case SMPP_DCS_LATIN1:
		return "latin1";
	case SMPP_DCS_UCS2:
		return "ucs2";
	}
	return "dcs";
}

static bool can_rx(const struct sim_conn *c)
{
	return !c->closing && (c->bound == SIM_BIND_RX || c->bound == SIM_BIND_TRX);
}

/* ---- outstanding requests: linear probing keyed by seq ---- */

static size_t req_slot(uint32_t seq, size_t cap)
{
	return (size_t)(seq * 2654435761u) & (cap - 1);
}

static int reqs_grow(struct sim *s)
{
	size_t ncap = s->reqs_cap ? s->reqs_cap * 2 : 1024;
	struct sim_req *nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < s->reqs_cap; i++) {
		struct sim_req *r = &s->reqs[i];
		if (!r->kind)
			continue;
		size_t j = req_slot(r->seq, ncap);
		while (nt[j].kind)
			j = (j + 1) & (ncap - 1);
		nt[j] = *r;
	}
	free(s->reqs);
	s->reqs = nt;
	s->reqs_cap = ncap;
	return 0;
}

static struct sim_req *req_find(const struct sim *s, uint32_t seq)
{
	if (!s->reqs_cap)
		return NULL;
	size_t j = req_slot(seq, s->reqs_cap);
	while (s->reqs[j].kind) {
		if (s->reqs[j].seq == seq)
			return &s->reqs[j];
		j = (j + 1) & (s->reqs_cap - 1);
	}
	return NULL;
}

bool sim_req_pending(const struct sim *s, uint32_t seq)
{
	return req_find(s, seq) != NULL;
}

size_t sim_reqs_pending(const struct sim *s)
{
	return s->reqs_n;
}

static int req_add(struct sim *s, const struct sim_req *r)
{
	struct sim_req *old = req_find(s, r->seq);
	if (old) { /* a raw PDU reusing a live seq: the newest wins */
		*old = *r;
		return 0;
	}
	if ((s->reqs_n + 1) * 2 > s->reqs_cap) {
		int rc = reqs_grow(s);
		if (rc < 0)
			return rc;
	}
	size_t j = req_slot(r->seq, s->reqs_cap);
	while (s->reqs[j].kind)
		j = (j + 1) & (s->reqs_cap - 1);
	s->reqs[j] = *r;
	s->reqs_n++;
	return 0;
}

/* Remove with backward shift so that probe chains stay intact. */
static void req_del(struct sim *s, struct sim_req *r)
{
	size_t mask = s->reqs_cap - 1;
	size_t i = (size_t)(r - s->reqs);
	size_t j = i;
	s->reqs[i].kind = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (!s->reqs[j].kind)
			break;
		size_t k = req_slot(s->reqs[j].seq, s->reqs_cap);
		/* move j back to i when k is not cyclically in (i, j] */
		bool in = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
		if (!in) {
			s->reqs[i] = s->reqs[j];
			s->reqs[j].kind = 0;
			i = j;
		}
	}
	s->reqs_n--;
}

static uint32_t next_seq(struct sim *s)
{
	for (;;) {
		uint32_t q = s->next_seq++;
		if (s->next_seq > 0x7FFFFFFFu)
			s->next_seq = 1;
		if (q && !req_find(s, q))
			return q;
	}
}

int32_t sim_mo_new(struct sim *s)
{
	if (s->mos_n == s->mos_cap) {
		size_t ncap = s->mos_cap ? s->mos_cap * 2 : 64;
		struct sim_mo *nm = realloc(s->mos, ncap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		s->mos = nm;
		s->mos_cap = ncap;
	}
	struct sim_mo *m = &s->mos[s->mos_n];
	memset(m, 0, sizeof(*m));
	m->sent_ns = uv_hrtime();
	return (int32_t)s->mos_n++;
}

static void event(struct sim *s)
{
	if (s->on_event && !s->stopping)
		s->on_event(s);
}

/* ---- connections ---- */

struct wreq {
	uv_write_t req;
	size_t len;
	uint8_t data[];
};

static void conn_close(struct sim_conn *c);

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct sim_conn *c = req->handle->data;
	free(w);
	if (status < 0 && status != UV_ECANCELED && c && !c->closing) {
		sim_log(c->sim, "write_error", "conn=%u err=%s", c->id, uv_err_name(status));
		conn_close(c);
	}
}

static int conn_write(struct sim_conn *c, const uint8_t *p, size_t n)
{
	if (c->closing)
		return -ENOTCONN;
	struct wreq *w = malloc(sizeof(*w) + n);
	if (!w)
		return -ENOMEM;
	memcpy(w->data, p, n);
	w->len = n;
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc < 0) {
		free(w);
		conn_close(c);
		return rc;
	}
	return 0;
}

static void unlink_conn(struct sim_conn *c)
{
	struct sim *s = c->sim;
	if (c->prev)
		c->prev->next = c->next;
	else if (s->conns == c)
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else if (s->conns_tail == c)
		s->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

static void conn_closed_cb(uv_handle_t *h)
{
	struct sim_conn *c = h->data;
	smpp_framer_free(&c->fr);
	free(c);
}

/* Requests sent on a closed connection will never be answered: drop them
 * from the table and tell the mode. */
static void forget_reqs(struct sim *s, uint32_t conn_id)
{
	size_t n = 0;
	for (size_t i = 0; i < s->reqs_cap; i++)
		if (s->reqs[i].kind && s->reqs[i].conn_id == conn_id)
			n++;
	if (!n)
		return;
	struct sim_req *lost = malloc(n * sizeof(*lost));
	if (!lost)
		return;
	size_t k = 0;
	for (size_t i = 0; i < s->reqs_cap && k < n; i++)
		if (s->reqs[i].kind && s->reqs[i].conn_id == conn_id)
			lost[k++] = s->reqs[i];
	for (size_t i = 0; i < k; i++) {
		struct sim_req *r = req_find(s, lost[i].seq);
		if (r)
			req_del(s, r);
		if (s->on_lost)
			s->on_lost(s, &lost[i]);
	}
	free(lost);
}

static void conn_close(struct sim_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	unlink_conn(c);
	forget_reqs(c->sim, c->id);
	sim_log(c->sim, "close", "conn=%u bound=%s", c->id, sim_bind_name(c->bound));
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
	event(c->sim);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct sim_conn *c = req->data;
	free(req);
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

/* Close once what was written is flushed (after a bind_resp / unbind_resp). */
static void conn_close_after_write(struct sim_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	unlink_conn(c);
	forget_reqs(c->sim, c->id);
	uv_read_stop((uv_stream_t *)&c->tcp);
	sim_log(c->sim, "close", "conn=%u bound=%s after=resp", c->id, sim_bind_name(c->bound));
	uv_shutdown_t *req = malloc(sizeof(*req));
	if (req) {
		req->data = c;
		if (uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) == 0) {
			event(c->sim);
			return;
		}
		free(req);
	}
	uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
	event(c->sim);
}

void sim_close_all(struct sim *s)
{
	while (s->conns)
		conn_close(s->conns);
}

unsigned sim_count_bound(const struct sim *s)
{
	unsigned n = 0;
	for (const struct sim_conn *c = s->conns; c; c = c->next)
		if (c->bound != SIM_BIND_NONE)
			n++;
	return n;
}

unsigned sim_count_rx(const struct sim *s)
{
	unsigned n = 0;
	for (const struct sim_conn *c = s->conns; c; c = c->next)
		if (can_rx(c))
			n++;
	return n;
}

struct sim_conn *sim_first_conn(struct sim *s)
{
	return s->conns;
}

struct sim_conn *sim_first_bound(struct sim *s)
{
	for (struct sim_conn *c = s->conns; c; c = c->next)
		if (c->bound != SIM_BIND_NONE)
			return c;
	return NULL;
}

struct sim_conn *sim_first_rx(struct sim *s)
{
	for (struct sim_conn *c = s->conns; c; c = c->next)
		if (can_rx(c))
			return c;
	return NULL;
}

/* Round robin over the connections that can take deliver_sm. */
static struct sim_conn *pick_rx(struct sim *s)
{
	unsigned n = sim_count_rx(s);
	if (!n)
		return NULL;
	unsigned want = s->rr++ % n;
	for (struct sim_conn *c = s->conns; c; c = c->next)
		if (can_rx(c) && want-- == 0)
			return c;
	return NULL;
}

static int send_hdr(struct sim_conn *c, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t buf[SMPP_HEADER_LEN];
	int n = smpp_encode_header_only(buf, sizeof(buf), cmd, status, seq);
	if (n < 0)
		return n;
	return conn_write(c, buf, (size_t)n);
}

/* ---- binds ---- */

/* Constant-time comparison of two C strings within a field of `field`
 * bytes (both sides padded with NULs). */
static bool ct_equal(const char *a, const char *b, size_t field)
{
	unsigned char pa[72] = { 0 }, pb[72] = { 0 };
	size_t la = strnlen(a, field), lb = strnlen(b, field);
	if (field > sizeof(pa))
		field = sizeof(pa);
	memcpy(pa, a, la < field ? la : field);
	memcpy(pb, b, lb < field ? lb : field);
	unsigned char d = 0;
	for (size_t i = 0; i < field; i++)
		d |= pa[i] ^ pb[i];
	return d == 0;
}

static void handle_bind(struct sim_conn *c, const struct smpp_hdr *h, const uint8_t *pdu)
{
	struct sim *s = c->sim;
	struct smpp_bind b;
	enum sim_bind type = h->id == SMPP_BIND_TRANSMITTER ? SIM_BIND_TX :
			     h->id == SMPP_BIND_RECEIVER ? SIM_BIND_RX : SIM_BIND_TRX;
	uint32_t status = SMPP_ESME_ROK;
	bool close_after = true;
	int rc = smpp_decode_bind(pdu, h->len, &b);

	if (rc < 0) {
		status = (uint32_t)-rc;
		b.system_id[0] = 0;
	} else if (c->bound != SIM_BIND_NONE) {
		status = SMPP_ESME_RALYBND;
		close_after = false;
	} else if (s->refuse_binds > 0) {
		s->refuse_binds--;
		status = SMPP_ESME_RBINDFAIL;
	} else if (s->refuse_until_ns && uv_hrtime() < s->refuse_until_ns) {
		status = SMPP_ESME_RBINDFAIL; /* control `refuse S` */
	} else {
		bool id_ok = ct_equal(b.system_id, s->opt.system_id, sizeof(b.system_id));
		bool pw_ok = ct_equal(b.password, s->password, sizeof(b.password));
		if (!id_ok)
			status = SMPP_ESME_RINVSYSID;
		else if (!pw_ok)
			status = SMPP_ESME_RINVPASWD;
	}
	char qid[40];
	snprintf(qid, sizeof(qid), "%.15s", b.system_id);
	for (char *p = qid; *p; p++)
		if (*p <= ' ' || *p == '=' || (unsigned char)*p >= 0x7f)
			*p = '?';
	sim_log(s, "bind", "conn=%u type=%s system_id=%s result=%s", c->id, sim_bind_name(type),
		qid, smpp_status_name(status));

	uint8_t buf[64];
	int n = smpp_encode_bind_resp(buf, sizeof(buf), h->id | SMPP_RESP_BIT, status, h->seq,
				      SIM_SYSTEM_ID);
	if (n > 0)
		conn_write(c, buf, (size_t)n);
	if (status == SMPP_ESME_ROK) {
		c->bound = type;
		s->binds_ok++;
		event(s);
	} else if (close_after) {
		conn_close_after_write(c);
	}
}

/* ---- MT: submit_sm ---- */

void sim_mt_free(struct sim_mt *mt)
{
	if (!mt)
		return;
	free(mt->text);
	free(mt);
}

void sim_mt_format(const struct sim_mt *mt, char *buf, size_t bufsz)
{
	char dcs[16];
	if (mt->dcs == SMPP_DCS_GSM || mt->dcs == SMPP_DCS_LATIN1 || mt->dcs == SMPP_DCS_UCS2)
		snprintf(dcs, sizeof(dcs), "%s", sim_dcs_name(mt->dcs));
	else
		snprintf(dcs, sizeof(dcs), "dcs=0x%02x", mt->dcs);
	snprintf(buf, bufsz, "MT %s -> %s [%s, %u part%s]: %s", mt->from, mt->to, dcs, mt->parts,
		 mt->parts == 1 ? "" : "s", mt->text);
}

static void deliver_mt(struct sim *s, struct sim_mt *mt)
{
	if (s->on_mt)
		s->on_mt(s, mt);
	else
		sim_mt_free(mt);
}

static void partial_free(struct sim_partial *p)
{
	for (unsigned i = 0; i < 255; i++)
		free(p->parts[i]);
	free(p);
}

static void add_part(struct sim *s, struct sim_conn *c, const struct smpp_sm *sm,
		     uint16_t ref, uint8_t total, uint8_t seg, char *text, const char *msg_id)
{
	struct sim_partial **pp, *p = NULL;
	for (pp = &s->partials; *pp; pp = &(*pp)->next) {
		struct sim_partial *q = *pp;
		if (q->ref == ref && q->total == total && strcmp(q->from, sm->src.addr) == 0 &&
		    strcmp(q->to, sm->dst.addr) == 0) {
			p = q;
			break;
		}
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			free(text);
			return;
		}
		snprintf(p->from, sizeof(p->from), "%s", sm->src.addr);
		snprintf(p->to, sizeof(p->to), "%s", sm->dst.addr);
		p->ref = ref;
		p->total = total;
		p->dcs = sm->data_coding;
		p->esm = sm->esm_class;
		p->conn_id = c->id;
		p->first_ns = uv_hrtime();
		p->next = s->partials;
		s->partials = p;
		pp = &s->partials;
	}
	if (seg == 1 || !p->first_msg_id[0])
		snprintf(p->first_msg_id, sizeof(p->first_msg_id), "%s", msg_id);
	if (p->parts[seg - 1]) { /* a duplicate part: keep the newest */
		free(p->parts[seg - 1]);
		p->got--;
	}
	p->parts[seg - 1] = text;
	p->got++;
	if (p->got < p->total)
		return;

	*pp = p->next;
	size_t len = 0;
	for (unsigned i = 0; i < p->total; i++)
		len += strlen(p->parts[i]);
	struct sim_mt *mt = calloc(1, sizeof(*mt));
	char *all = malloc(len + 1);
	if (!mt || !all) {
		free(mt);
		free(all);
		partial_free(p);
		return;
	}
	len = 0;
	for (unsigned i = 0; i < p->total; i++) {
		size_t k = strlen(p->parts[i]);
		memcpy(all + len, p->parts[i], k);
		len += k;
	}
	all[len] = 0;
	memcpy(mt->from, p->from, sizeof(mt->from));
	memcpy(mt->to, p->to, sizeof(mt->to));
	mt->dcs = p->dcs;
	mt->esm = p->esm;
	mt->parts = p->total;
	mt->conn_id = p->conn_id;
	memcpy(mt->first_msg_id, p->first_msg_id, sizeof(mt->first_msg_id));
	mt->text = all;
	partial_free(p);
	deliver_mt(s, mt);
}

static void send_receipt(struct sim *s, const struct smpp_sm *sub, const char *msg_id)
{
	struct sim_conn *rc = pick_rx(s);
	if (!rc) {
		sim_log(s, "receipt_dropped", "id=%s reason=no_receiver", msg_id);
		return;
	}
	bool ok = s->receipts == SIM_RECEIPTS_ON;
	char date[16], text[200];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%y%m%d%H%M", &tm);
	snprintf(text, sizeof(text),
		 "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:", msg_id,
		 ok ? "001" : "000", date, date, ok ? "DELIVRD" : "UNDELIV", ok ? "000" : "001");

	struct smpp_sm sm;
	smpp_sm_init(&sm);
	sm.src = sub->dst;
	sm.dst = sub->src;
	sm.esm_class = SMPP_ESM_RECEIPT;
	sm.data_coding = SMPP_DCS_GSM;
	sm.payload = (const uint8_t *)text;
	sm.payload_len = strlen(text);
	sm.has_receipted_message_id = true;
	snprintf(sm.receipted_message_id, sizeof(sm.receipted_message_id), "%s", msg_id);
	sm.message_state = ok ? SMPP_STATE_DELIVERED : SMPP_STATE_UNDELIVERABLE;

	uint8_t buf[SMPP_MAX_PDU_LEN];
	uint32_t seq = next_seq(s);
	int n = smpp_encode_sm(buf, sizeof(buf), SMPP_DELIVER_SM, seq, &sm);
	if (n < 0) {
		sim_log(s, "receipt_encode_error", "rc=%d", n);
		return;
	}
	struct sim_req r = { .seq = seq, .kind = SIM_REQ_RECEIPT, .mo = -1, .conn_id = rc->id,
			     .sent_ns = uv_hrtime() };
	if (req_add(s, &r) < 0)
		return;
	if (conn_write(rc, buf, (size_t)n) < 0)
		return;
	if (s->opt.mode != SIM_MODE_LOAD)
		sim_out("RECEIPT id=%s %s -> %s stat=%s", msg_id, sm.src.addr, sm.dst.addr,
			ok ? "DELIVRD" : "UNDELIV");
}

static void sanitize(char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

static void handle_submit(struct sim_conn *c, const struct smpp_hdr *h, const uint8_t *pdu)
{
	struct sim *s = c->sim;
	struct smpp_sm sm;
	uint8_t buf[128];
	int n;
	int rc = smpp_decode_sm(pdu, h->len, &sm);

	s->submits++;
	if (rc < 0) {
		uint32_t st = (uint32_t)-rc;
		sim_log(s, "submit_bad", "conn=%u seq=%u status=%s", c->id, h->seq,
			smpp_status_name(st));
		if (s->opt.mode != SIM_MODE_LOAD)
			sim_out("SUBMIT rejected malformed %s", smpp_status_name(st));
		n = smpp_encode_sm_resp(buf, sizeof(buf), SMPP_SUBMIT_SM_RESP, st, h->seq, "");
		if (n > 0)
			conn_write(c, buf, (size_t)n);
		return;
	}
	/* addresses are peer bytes: keep the transcript printable */
	sanitize(sm.src.addr);
	sanitize(sm.dst.addr);
	uint32_t status = SMPP_ESME_ROK;
	if (s->throttle > 0) {
		s->throttle--;
		status = SMPP_ESME_RTHROTTLED;
	} else if (s->throttle_until_ns && uv_hrtime() < s->throttle_until_ns) {
		status = SMPP_ESME_RTHROTTLED; /* control `throttle S` */
	} else if (s->fail_submit > 0) {
		s->fail_submit--;
		status = s->fail_status;
	}
	if (status != SMPP_ESME_ROK) {
		if (s->opt.mode != SIM_MODE_LOAD)
			sim_out("SUBMIT %s -> %s rejected %s", sm.src.addr, sm.dst.addr,
				smpp_status_name(status));
		n = smpp_encode_sm_resp(buf, sizeof(buf), SMPP_SUBMIT_SM_RESP, status, h->seq, "");
		if (n > 0)
			conn_write(c, buf, (size_t)n);
		return;
	}
	char msg_id[16];
	snprintf(msg_id, sizeof(msg_id), "%lu", ++s->msg_id);
	n = smpp_encode_sm_resp(buf, sizeof(buf), SMPP_SUBMIT_SM_RESP, SMPP_ESME_ROK, h->seq,
				msg_id);
	if (n > 0)
		conn_write(c, buf, (size_t)n);
	if (s->opt.verbose)
		sim_log(s, "submit", "conn=%u seq=%u id=%s src=%s dst=%s dcs=%u esm=0x%02x len=%zu",
			c->id, h->seq, msg_id, sm.src.addr, sm.dst.addr, sm.data_coding,
			sm.esm_class, sm.payload_len);
	if (s->receipts != SIM_RECEIPTS_OFF)
		send_receipt(s, &sm, msg_id);

	/* decode the text, UDH removed */
	const uint8_t *body = sm.payload;
	size_t blen = sm.payload_len;
	uint16_t ref = 0;
	uint8_t total = 1, seg = 1;
	if (sm.esm_class & SMPP_ESM_UDHI) {
		int ul = smpp_udh_len(body, blen);
		if (ul > 0) {
			if (smpp_udh_concat(body, (size_t)ul, &ref, &total, &seg) <= 0)
				total = seg = 1;
			body += ul;
			blen -= (size_t)ul;
		}
	} else if (sm.has_sar) {
		ref = sm.sar_msg_ref_num;
		total = sm.sar_total_segments;
		seg = sm.sar_segment_seqnum;
	}
	size_t tsz = blen * 3 + 1;
	char *text = malloc(tsz);
	if (!text)
		return;
	if (smpp_text_to_utf8(sm.data_coding, body, blen, text, tsz) < 0)
		text[0] = 0;
	if (total > 1 && seg >= 1 && seg <= total) {
		add_part(s, c, &sm, ref, total, seg, text, msg_id);
		return;
	}
	struct sim_mt *mt = calloc(1, sizeof(*mt));
	if (!mt) {
		free(text);
		return;
	}
	snprintf(mt->from, sizeof(mt->from), "%s", sm.src.addr);
	snprintf(mt->to, sizeof(mt->to), "%s", sm.dst.addr);
	mt->dcs = sm.data_coding;
	mt->esm = sm.esm_class;
	mt->parts = 1;
	mt->conn_id = c->id;
	memcpy(mt->first_msg_id, msg_id, sizeof(mt->first_msg_id));
	mt->text = text;
	deliver_mt(s, mt);
}

/* ---- stall: submit_sm held without an answer ---- */

static void hold_submit(struct sim_conn *c, const struct smpp_hdr *h, const uint8_t *pdu)
{
	struct sim *s = c->sim;
	struct sim_held *hd = malloc(sizeof(*hd) + h->len);
	if (!hd)
		return; /* never answered: the ESME's timer handles it */
	hd->next = NULL;
	hd->conn_id = c->id;
	hd->h = *h;
	memcpy(hd->pdu, pdu, h->len);
	if (s->held_tail)
		s->held_tail->next = hd;
	else
		s->held = hd;
	s->held_tail = hd;
	s->held_n++;
	if (s->opt.verbose)
		sim_log(s, "submit_held", "conn=%u seq=%u", c->id, h->seq);
}

void sim_release_held(struct sim *s)
{
	struct sim_held *list = s->held;
	unsigned long answered = 0, dropped = 0;
	s->held = s->held_tail = NULL;
	s->held_n = 0;
	while (list) {
		struct sim_held *hd = list;
		list = hd->next;
		struct sim_conn *c = s->conns;
		while (c && c->id != hd->conn_id)
			c = c->next;
		if (c && !c->closing && !s->stopping) {
			handle_submit(c, &hd->h, hd->pdu);
			answered++;
		} else {
			dropped++;
		}
		free(hd);
	}
	if (answered || dropped)
		sim_log(s, "stall_released", "answered=%lu dropped=%lu", answered, dropped);
}

/* ---- responses from the ESME ---- */

static void handle_resp(struct sim_conn *c, const struct smpp_hdr *h)
{
	struct sim *s = c->sim;
	uint64_t now = uv_hrtime();
	struct sim_req *r = req_find(s, h->seq);
	bool nack = h->id == SMPP_GENERIC_NACK;

	if (nack || (h->status != SMPP_ESME_ROK && (!r || r->kind != SIM_REQ_MO))) {
		s->nack_events++;
		if (s->opt.mode != SIM_MODE_LOAD)
			sim_out("%s seq=%u status=%s (0x%02x)", nack ? "GENERIC_NACK" : "ERROR_RESP",
				h->seq, smpp_status_name(h->status), h->status);
	}
	if (!r) {
		if (s->opt.verbose || s->opt.mode != SIM_MODE_LOAD)
			sim_log(s, "resp_unknown", "conn=%u cmd=%s seq=%u status=%s", c->id,
				smpp_cmd_name(h->id), h->seq, smpp_status_name(h->status));
		event(s);
		return;
	}
	struct sim_req copy = *r;
	req_del(s, r);
	if ((copy.kind == SIM_REQ_MO || copy.kind == SIM_REQ_RAW) && copy.mo >= 0 &&
	    (size_t)copy.mo < s->mos_n) {
		struct sim_mo *m = &s->mos[copy.mo];
		if (h->status != SMPP_ESME_ROK && m->status == SMPP_ESME_ROK)
			m->status = h->status;
		if (nack)
			m->nack = true;
		m->answered++;
		if (m->answered >= m->nparts)
			m->done_ns = now;
	}
	if (s->opt.mode != SIM_MODE_LOAD && copy.kind == SIM_REQ_RAW && copy.mo < 0)
		sim_out("RESP raw seq=%u %s %s (0x%02x)", h->seq, smpp_cmd_name(h->id),
			smpp_status_name(h->status), h->status);
	else if (s->opt.mode != SIM_MODE_LOAD &&
		 (copy.kind == SIM_REQ_MO || copy.kind == SIM_REQ_RAW))
		sim_out("RESP #%d seq=%u %s%s (0x%02x) %.1f ms", copy.mo + 1, h->seq,
			nack ? "generic_nack " : "", smpp_status_name(h->status), h->status,
			(double)(now - copy.sent_ns) / 1e6);
	if (s->opt.mode != SIM_MODE_LOAD && copy.kind == SIM_REQ_ENQUIRE)
		sim_out("%s seq=%u %s", smpp_cmd_name(h->id), h->seq, smpp_status_name(h->status));
	if (copy.kind == SIM_REQ_RECEIPT && h->status != SMPP_ESME_ROK)
		sim_log(s, "receipt_resp", "conn=%u seq=%u status=%s", c->id, h->seq,
			smpp_status_name(h->status));
	if (s->on_resp)
		s->on_resp(s, &copy, h->id, h->status, now);
	event(s);
}

static void handle_pdu(struct sim_conn *c, const struct smpp_hdr *h, const uint8_t *pdu)
{
	struct sim *s = c->sim;

	if (s->opt.verbose)
		sim_log(s, "pdu_in", "conn=%u cmd=%s seq=%u status=0x%x len=%u", c->id,
			smpp_cmd_name(h->id), h->seq, h->status, h->len);
	switch (h->id) {
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER:
	case SMPP_BIND_TRANSCEIVER:
		handle_bind(c, h, pdu);
		return;
	case SMPP_ENQUIRE_LINK:
		send_hdr(c, SMPP_ENQUIRE_LINK_RESP, SMPP_ESME_ROK, h->seq);
		return;
	case SMPP_UNBIND:
		if (c->bound == SIM_BIND_NONE) {
			send_hdr(c, SMPP_UNBIND_RESP, SMPP_ESME_RINVBNDSTS, h->seq);
			return;
		}
		sim_log(s, "unbind", "conn=%u", c->id);
		send_hdr(c, SMPP_UNBIND_RESP, SMPP_ESME_ROK, h->seq);
		conn_close_after_write(c);
		return;
	case SMPP_SUBMIT_SM:
		if (c->bound != SIM_BIND_TX && c->bound != SIM_BIND_TRX) {
			uint8_t buf[64];
			int n = smpp_encode_sm_resp(buf, sizeof(buf), SMPP_SUBMIT_SM_RESP,
						    SMPP_ESME_RINVBNDSTS, h->seq, "");
			if (n > 0)
				conn_write(c, buf, (size_t)n);
			return;
		}
		if (s->stall_until_ns && uv_hrtime() < s->stall_until_ns) {
			hold_submit(c, h, pdu);
			return;
		}
		handle_submit(c, h, pdu);
		return;
	case SMPP_UNBIND_RESP:
		conn_close(c);
		return;
	default:
		break;
	}
	if (h->id & SMPP_RESP_BIT) {
		if (c->bound == SIM_BIND_NONE && h->id != SMPP_GENERIC_NACK)
			return; /* nothing of ours can be answered before a bind */
		handle_resp(c, h);
		return;
	}
	/* a request we do not serve */
	const char *resp_name = smpp_cmd_name(h->id | SMPP_RESP_BIT);
	if (strcmp(smpp_cmd_name(h->id), "unknown") == 0 || strcmp(resp_name, "unknown") == 0) {
		send_hdr(c, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, h->seq);
		return;
	}
	send_hdr(c, h->id | SMPP_RESP_BIT,
		 c->bound == SIM_BIND_NONE ? SMPP_ESME_RINVBNDSTS : SMPP_ESME_RINVCMDID, h->seq);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sim_conn *c = h->data;
	buf->base = (char *)c->sim->rbuf;
	buf->len = sizeof(c->sim->rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sim_conn *c = st->data;
	struct sim *s = c->sim;

	if (nread == 0 || c->closing)
		return;
	if (nread < 0) {
		sim_log(s, "peer_closed", "conn=%u reason=%s", c->id, uv_err_name((int)nread));
		s->peer_closes++;
		conn_close(c);
		return;
	}
	if (smpp_framer_feed(&c->fr, (const uint8_t *)buf->base, (size_t)nread) < 0) {
		conn_close(c);
		return;
	}
	for (;;) {
		const uint8_t *pdu;
		struct smpp_hdr h;
		int rc = smpp_framer_next(&c->fr, &pdu, &h);
		if (rc == 0)
			break;
		if (rc < 0) {
			sim_log(s, "framing_error", "conn=%u status=%s", c->id,
				smpp_status_name((uint32_t)-rc));
			conn_close(c);
			return;
		}
		/* handling may close c; the memory stays valid until the close
		 * callback runs on a later loop iteration */
		handle_pdu(c, &h, pdu);
		if (c->closing)
			return;
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sim *s = server->data;
	if (status < 0) {
		sim_log(s, "accept_error", "err=%s", uv_err_name(status));
		return;
	}
	struct sim_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->sim = s;
	c->id = ++s->next_conn_id;
	smpp_framer_init(&c->fr);
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || s->stopping) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->prev = s->conns_tail;
	if (s->conns_tail)
		s->conns_tail->next = c;
	else
		s->conns = c;
	s->conns_tail = c;
	struct sockaddr_storage peer;
	int plen = sizeof(peer);
	char ip[64] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) == 0) {
		if (peer.ss_family == AF_INET) {
			uv_ip4_name((struct sockaddr_in *)&peer, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
		} else {
			uv_ip6_name((struct sockaddr_in6 *)&peer, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
		}
	}
	sim_log(s, "accept", "conn=%u peer=%s:%d", c->id, ip, port);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0)
		conn_close(c);
}

/* ---- MO injection ---- */

static void set_addr(struct smpp_addr *a, const char *num)
{
	const char *p = num;
	bool plus = false;
	if (*p == '+') {
		plus = true;
		p++;
	}
	snprintf(a->addr, sizeof(a->addr), "%s", p);
	size_t n = strlen(a->addr);
	a->npi = 1;
	a->ton = (plus || (n == 11 && a->addr[0] == '7')) ? 1 : 0;
}

static int send_sm(struct sim *s, struct sim_conn *c, const struct smpp_sm *sm, int32_t mo,
		   uint8_t tag)
{
	uint8_t buf[SMPP_MAX_PDU_LEN];
	uint32_t seq = next_seq(s);
	int n = smpp_encode_sm(buf, sizeof(buf), SMPP_DELIVER_SM, seq, sm);
	if (n < 0)
		return n;
	struct sim_req r = { .seq = seq, .kind = SIM_REQ_MO, .tag = tag, .mo = mo,
			     .conn_id = c->id, .sent_ns = uv_hrtime(), .ud = s->mo_ud };
	int rc = req_add(s, &r);
	if (rc < 0)
		return rc;
	s->last_mo_seq = seq;
	if (mo >= 0 && (size_t)mo < s->mos_n)
		s->mos[mo].nparts++;
	rc = conn_write(c, buf, (size_t)n);
	if (rc < 0) {
		struct sim_req *q = req_find(s, seq);
		if (q)
			req_del(s, q);
		if (mo >= 0 && (size_t)mo < s->mos_n)
			s->mos[mo].nparts--;
		return rc;
	}
	if (s->opt.verbose)
		sim_log(s, "deliver_sm", "conn=%u seq=%u src=%s dst=%s dcs=%u esm=0x%02x len=%zu",
			c->id, seq, sm->src.addr, sm->dst.addr, sm->data_coding, sm->esm_class,
			sm->payload_len);
	return 0;
}

int sim_send_mo_text(struct sim *s, const char *from, const char *to, const char *utf8,
		     int32_t mo, uint8_t tag)
{
	struct sim_conn *c = pick_rx(s);
	if (!c)
		return -ENOTCONN;
	struct smpp_segment *segs = malloc(SIM_MAX_SEGS * sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	uint8_t ref = ++s->next_ref;
	int n = smpp_text_segments(utf8, strlen(utf8), ref, segs, SIM_MAX_SEGS);
	if (n < 0) {
		free(segs);
		return n;
	}
	struct smpp_sm sm;
	smpp_sm_init(&sm);
	set_addr(&sm.src, from);
	set_addr(&sm.dst, to);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		sm.esm_class = segs[i].esm_class;
		sm.data_coding = segs[i].data_coding;
		sm.payload = segs[i].data;
		sm.payload_len = segs[i].len;
		rc = send_sm(s, c, &sm, mo, tag);
	}
	if (rc == 0 && s->opt.mode != SIM_MODE_LOAD)
		sim_out("MO #%d %s -> %s [%s, %d part%s]: %s", mo + 1, sm.src.addr, sm.dst.addr,
			sim_dcs_name(segs[0].data_coding), n, n == 1 ? "" : "s", utf8);
	free(segs);
	return rc < 0 ? rc : n;
}

int sim_send_mo_raw(struct sim *s, const char *from, const char *to, uint8_t dcs,
		    uint8_t esm, const uint8_t *payload, size_t n, int32_t mo)
{
	struct sim_conn *c = pick_rx(s);
	if (!c)
		return -ENOTCONN;
	struct smpp_sm sm;
	smpp_sm_init(&sm);
	set_addr(&sm.src, from);
	set_addr(&sm.dst, to);
	sm.data_coding = dcs;
	sm.esm_class = esm;
	sm.payload = payload;
	sm.payload_len = n;
	int rc = send_sm(s, c, &sm, mo, 0);
	if (rc == 0 && s->opt.mode != SIM_MODE_LOAD)
		sim_out("MO #%d %s -> %s [dcs=0x%02x esm=0x%02x, %zu octets]", mo + 1, sm.src.addr,
			sm.dst.addr, dcs, esm, n);
	return rc < 0 ? rc : 1;
}

int sim_send_raw(struct sim *s, struct sim_conn *c, const uint8_t *bytes, size_t n,
		 int32_t mo)
{
	/* register the requests we can see so that their responses are
	 * matched; a broken header ends the walk */
	size_t off = 0;
	while (n - off >= SMPP_HEADER_LEN) {
		struct smpp_hdr h;
		h.len = (uint32_t)bytes[off] << 24 | (uint32_t)bytes[off + 1] << 16 |
			(uint32_t)bytes[off + 2] << 8 | bytes[off + 3];
		h.id = (uint32_t)bytes[off + 4] << 24 | (uint32_t)bytes[off + 5] << 16 |
		       (uint32_t)bytes[off + 6] << 8 | bytes[off + 7];
		h.seq = (uint32_t)bytes[off + 12] << 24 | (uint32_t)bytes[off + 13] << 16 |
			(uint32_t)bytes[off + 14] << 8 | bytes[off + 15];
		if (!(h.id & SMPP_RESP_BIT)) {
			bool is_mo = h.id == SMPP_DELIVER_SM;
			struct sim_req r = { .seq = h.seq, .kind = SIM_REQ_RAW,
					     .mo = is_mo ? mo : -1, .conn_id = c->id,
					     .sent_ns = uv_hrtime() };
			if (req_add(s, &r) == 0 && is_mo && mo >= 0 && (size_t)mo < s->mos_n)
				s->mos[mo].nparts++;
		}
		if (h.len < SMPP_HEADER_LEN || h.len > n - off)
			break;
		off += h.len;
	}
	return conn_write(c, bytes, n);
}

int64_t sim_send_enquire(struct sim *s, struct sim_conn *c)
{
	uint32_t seq = next_seq(s);
	struct sim_req r = { .seq = seq, .kind = SIM_REQ_ENQUIRE, .mo = -1, .conn_id = c->id,
			     .sent_ns = uv_hrtime() };
	int rc = req_add(s, &r);
	if (rc < 0)
		return rc;
	rc = send_hdr(c, SMPP_ENQUIRE_LINK, SMPP_ESME_ROK, seq);
	if (rc < 0)
		return rc;
	return seq;
}

/* ---- start / stop ---- */

static int parse_listen(const char *spec, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec)
		return -EINVAL;
	size_t hl = (size_t)(colon - spec);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hl);
	host[hl] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return -EINVAL;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) ? -EINVAL : 0;
	}
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ? -EINVAL : 0;
}

static int write_port_file(const char *path, int port)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -errno;
	if (rename(tmp, path) != 0)
		return -errno;
	return 0;
}

int sim_server_start(struct sim *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (parse_listen(s->opt.listen, &ss) < 0) {
		fprintf(stderr, "smsc-sim: bad --listen '%s' (HOST:PORT)\n", s->opt.listen);
		return -EINVAL;
	}
	snprintf(s->password, sizeof(s->password), "%s", s->opt.password);
	s->receipts = s->opt.receipts;
	s->next_seq = 1;
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	s->listening = true;
	int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
	if (rc < 0) {
		fprintf(stderr, "smsc-sim: cannot listen on %s: %s\n", s->opt.listen,
			uv_strerror(rc));
		return rc;
	}
	struct sockaddr_storage bound;
	int blen = sizeof(bound);
	int port = 0;
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen) == 0)
		port = ntohs(bound.ss_family == AF_INET ?
				     ((struct sockaddr_in *)&bound)->sin_port :
				     ((struct sockaddr_in6 *)&bound)->sin6_port);
	sim_log(s, "listening", "addr=%s port=%d system_id=%s", s->opt.listen, port,
		s->opt.system_id);
	if (s->opt.port_file && (rc = write_port_file(s->opt.port_file, port)) < 0) {
		fprintf(stderr, "smsc-sim: cannot write %s: %s\n", s->opt.port_file,
			strerror(-rc));
		return rc;
	}
	return 0;
}

void sim_server_stop(struct sim *s)
{
	sim_close_all(s);
	if (s->listening && !uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
}

void sim_server_free(struct sim *s)
{
	while (s->mt_head) {
		struct sim_mt *m = s->mt_head;
		s->mt_head = m->next;
		sim_mt_free(m);
	}
	s->mt_tail = NULL;
	while (s->partials) {
		struct sim_partial *p = s->partials;
		s->partials = p->next;
		partial_free(p);
	}
	while (s->held) {
		struct sim_held *hd = s->held;
		s->held = hd->next;
		free(hd);
	}
	s->held_tail = NULL;
	s->held_n = 0;
	free(s->reqs);
	s->reqs = NULL;
	s->reqs_cap = s->reqs_n = 0;
	free(s->mos);
	s->mos = NULL;
	s->mos_n = s->mos_cap = 0;
}
