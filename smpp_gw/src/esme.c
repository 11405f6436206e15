/* The SMPP 3.4 client (ESME) on libuv: see smpp_gw/esme.h for the contract.
 *
 * Shape
 *   One smpp_esme owns `nlinks` links: a session is one transceiver link, or
 *   (tx_rx) a transmitter link followed by a receiver link. A link is a small
 *   state machine (IDLE -> CONNECTING -> BINDING -> BOUND -> UNBINDING ->
 *   IDLE/DOWN) with three timers embedded in it:
 *     timer   connect / bind / unbind timeout, or (BOUND) the enquire_link
 *             tick that also checks the dead-link timeout;
 *     rtimer  the earliest response deadline of the submit_sm in flight
 *             (slow ones wait longer: see on_resp_timer);
 *     retry   the reconnect backoff.
 *   Each TCP connection is a separately allocated esme_conn (uv_tcp_t, the
 *   connect request, the framer), closed with uv_close and freed in its close
 *   callback, so a reconnect never waits for the old socket to go away. Every
 *   write owns a copy of its bytes, freed in its write callback.
 *
 * Host names
 *   `host` must be a numeric IPv4 or IPv6 address (uv_ip4_addr/uv_ip6_addr);
 *   smpp_esme_start() returns NULL otherwise. The daemon is configured with
 *   an address, and this keeps the client free of resolver requests that
 *   would have to be cancelled on stop.
 *
 * Callbacks
 *   Submit callbacks never run from inside an API call: a finished submit is
 *   put on a completion list that a zero-delay timer (`defer`) flushes, and
 *   smpp_esme_stop() only sets a flag and kicks the same timer. on_deliver and
 *   on_bound run from the read and timer callbacks.
 */
#include "smpp_gw/esme.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"

#define LOG_SUB "smpp"
#define THROTTLE_FIRST_MS 100u
#define THROTTLE_MAX_MS 5000u
#define UNBIND_WAIT_MS 2000u
#define CONNECT_TIMEOUT_MS 10000u
#define MAX_SESSIONS 64
#define RBUF_SIZE 4096

enum link_kind { LK_TRX, LK_TX, LK_RX };
static const char *const link_kind_names[] = {[LK_TRX] = "trx", [LK_TX] = "tx", [LK_RX] = "rx"};

enum link_state {
	LS_IDLE,       /* no connection; maybe waiting for the retry timer */
	LS_CONNECTING, /* TCP connect in progress */
	LS_BINDING,    /* bind sent, waiting for its response */
	LS_BOUND,
	LS_UNBINDING,  /* stopping: unbind sent, waiting for unbind_resp */
	LS_DOWN,       /* stopping: closed for good */
};
static const char *const link_state_names[] = {
	[LS_IDLE] = "idle",       [LS_CONNECTING] = "connecting", [LS_BINDING] = "binding",
	[LS_BOUND] = "bound",     [LS_UNBINDING] = "unbinding",   [LS_DOWN] = "down",
};

struct esme_link;

struct esme_sub {
	struct esme_sub *prev, *next;
	smpp_submit_cb cb;
	void *data;
	struct esme_link *link; /* while in flight */
	uint32_t seq;
	uint64_t deadline;      /* loop time (ms) of the response timeout */
	bool slow;              /* past response_timeout_s, still waited for */
	int status;             /* final outcome, once completed */
	char message_id[65];
	size_t len;
	uint8_t pdu[];          /* the encoded submit_sm; seq patched when sent */
};

struct sub_list {
	struct esme_sub *head, *tail;
	int n;
};

struct esme_conn {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct smpp_esme *e;
	struct esme_link *link; /* NULL once detached (closing) */
	struct smpp_framer framer;
	struct esme_wreq *out;  /* PDUs of this loop turn, written together */
	struct esme_conn *next_dirty;
	bool dirty;
	uint8_t rbuf[RBUF_SIZE];
};

struct esme_wreq {
	uv_write_t req;
	struct esme_conn *conn;
	bool close_after; /* close the link once these PDUs are written */
	size_t len, cap;
	uint8_t data[];
};

struct esme_link {
	struct smpp_esme *e;
	int idx;
	int session;
	enum link_kind kind;
	enum link_state state;
	uint32_t gen;          /* bumped on every link loss; part of mo tokens */
	uint32_t next_seq;
	uint32_t bind_seq;
	uint32_t unbind_seq;
	struct esme_conn *conn;
	uv_timer_t timer;
	uv_timer_t rtimer;
	uv_timer_t retry;
	uint64_t last_rx;      /* loop time of the last bytes received */
	uint64_t backoff_ms;
	struct sub_list inflight;
	uint64_t *dseq;        /* deliver_sm waiting for smpp_esme_respond() */
	/* Proof that the SMSC read our deliver_sm_resp: ordinals of responses
	 * written (monotone over the link's whole life) and the ordinal an
	 * enquire_link sent after them covers once its response is back. */
	uint64_t resp_ord;
	uint64_t confirmed_ord;
	uint64_t confirm_covers;
	uint32_t confirm_seq;  /* that enquire_link's sequence; 0 = none out */
	uint64_t unbind_covers; /* responses written before our unbind */
	size_t ndseq, capdseq, useddseq;
};

struct smpp_esme {
	uv_loop_t *loop;
	struct smpp_esme_config cfg; /* strings point to the copies below */
	char *host, *system_id, *password, *system_type;
	struct sockaddr_storage addr;
	struct smpp_esme_callbacks cb;
	int nlinks;
	struct esme_link *links;
	struct sub_list queue; /* not yet sent, or put back after throttling */
	struct sub_list done;  /* finished, callbacks to run */
	uv_timer_t defer;      /* flushes `done`, advances stop */
	uv_timer_t pump;       /* resumes sending after throttling / tps */
	uv_timer_t drain;      /* stop: in-flight wait limit */
	uv_check_t flush_check; /* writes the turn's PDUs after the I/O phase */
	uv_idle_t flush_idle;
	struct esme_conn *dirty; /* connections with PDUs to write */
	uint64_t pause_until;
	uint64_t throttle_ms;
	uint64_t tps_start;
	int tps_count;
	int rr;
	int bound_reported;
	int nconns;
	bool stopping;
	bool drain_expired;
	bool finalizing;
	int nclosing;
	void (*stop_done)(struct smpp_esme *e, void *data);
	void *stop_data;
};

/* ---- lists ---- */

static void list_push_back(struct sub_list *l, struct esme_sub *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->n++;
}

static void list_push_front(struct sub_list *l, struct esme_sub *s)
{
	s->prev = NULL;
	s->next = l->head;
	if (l->head)
		l->head->prev = s;
	else
		l->tail = s;
	l->head = s;
	l->n++;
}

static void list_remove(struct sub_list *l, struct esme_sub *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->prev = s->next = NULL;
	l->n--;
}

/* ---- forward declarations ---- */

static void link_connect(struct esme_link *l);
static void link_down(struct esme_link *l, const char *reason, bool reconnect);
static void esme_pump(struct smpp_esme *e);
static void kick(struct smpp_esme *e);

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *lkname(const struct esme_link *l)
{
	return link_kind_names[l->kind];
}

static uint32_t link_next_seq(struct esme_link *l)
{
	uint32_t s = l->next_seq;
	l->next_seq = s >= 0x7FFFFFFFu ? 1 : s + 1;
	return s;
}

/* ---- submit completion (always deferred) ---- */

static void complete(struct smpp_esme *e, struct esme_sub *s, int status, const char *msgid)
{
	s->status = status;
	s->link = NULL;
	snprintf(s->message_id, sizeof s->message_id, "%s", msgid ? msgid : "");
	list_push_back(&e->done, s);
	kick(e);
}

static int bound_count(const struct smpp_esme *e)
{
	int n = 0;
	for (int i = 0; i < e->nlinks; i++)
		if (e->links[i].state == LS_BOUND && e->links[i].kind != LK_RX)
			n++;
	return n;
}

static void notify_bound(struct smpp_esme *e)
{
	int n = bound_count(e);
	if (n == e->bound_reported)
		return;
	e->bound_reported = n;
	eng_log(ENG_LOG_INFO, LOG_SUB, "bound_sessions", "bound=%d sessions=%d", n, e->cfg.sessions);
	if (e->cb.on_bound)
		e->cb.on_bound(e, n, e->cb.data);
}

/* ---- writing ---- */

static void on_write(uv_write_t *req, int status)
{
	struct esme_wreq *w = (struct esme_wreq *)req;
	struct esme_conn *c = w->conn;
	struct esme_link *l = c->link;
	bool close_after = w->close_after;
	free(w);
	if (!l || l->conn != c)
		return; /* the connection is already going away */
	if (status < 0) {
		eng_log(ENG_LOG_ERROR, LOG_SUB, "write_failed", "session=%d link=%s error=%s",
			l->session, lkname(l), uv_err_name(status));
		link_down(l, "write_failed", true);
	} else if (close_after) {
		link_down(l, "unbound_by_smsc", true);
	}
}

/* Write what a connection gathered (one write call for every PDU of the
 * turn: one syscall instead of one per PDU). */
static void conn_flush(struct esme_conn *c)
{
	struct esme_wreq *w = c->out;
	c->out = NULL;
	if (!w)
		return;
	struct esme_link *l = c->link;
	if (!l || l->conn != c) {
		free(w);
		return;
	}
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
	if (rc < 0) {
		/* Only possible on a handle in a wrong state; the dead-link
		 * timeout recovers. */
		free(w);
		eng_log(ENG_LOG_ERROR, LOG_SUB, "write_failed", "session=%d link=%s error=%s",
			l->session, lkname(l), uv_err_name(rc));
	}
}

/* End of the loop turn's I/O: flush every connection written to. */
static void on_flush_check(uv_check_t *h)
{
	struct smpp_esme *e = h->data;
	struct esme_conn *c = e->dirty;
	e->dirty = NULL;
	while (c) {
		struct esme_conn *next = c->next_dirty;
		c->dirty = false;
		c->next_dirty = NULL;
		conn_flush(c);
		c = next;
	}
	uv_check_stop(&e->flush_check);
	uv_idle_stop(&e->flush_idle);
}

static void on_flush_idle(uv_idle_t *h)
{
	(void)h; /* only keeps the loop from sleeping before the check */
}

static int link_send(struct esme_link *l, const uint8_t *buf, size_t len, bool close_after)
{
	struct esme_conn *c = l->conn;
	if (!c)
		return -ENOTCONN;
	struct smpp_esme *e = l->e;
	struct esme_wreq *w = c->out;
	if (!w || w->len + len > w->cap) {
		size_t cap = w ? w->cap * 2 : 16384;
		while (cap < (w ? w->len : 0) + len)
			cap *= 2;
		struct esme_wreq *nw = realloc(w, sizeof *nw + cap);
		if (!nw)
			return -ENOMEM;
		if (!w) {
			nw->conn = c;
			nw->close_after = false;
			nw->len = 0;
		}
		nw->cap = cap;
		c->out = w = nw;
	}
	memcpy(w->data + w->len, buf, len);
	w->len += len;
	if (close_after) {
		w->close_after = true;
		conn_flush(c);
		return 0;
	}
	if (!c->dirty && !e->finalizing) {
		c->dirty = true;
		c->next_dirty = e->dirty;
		e->dirty = c;
		uv_check_start(&e->flush_check, on_flush_check);
		uv_idle_start(&e->flush_idle, on_flush_idle);
	}
	return 0;
}

static void send_header_only(struct esme_link *l, uint32_t cmd, uint32_t status, uint32_t seq,
			     bool close_after)
{
	uint8_t buf[SMPP_HEADER_LEN];
	int n = smpp_encode_header_only(buf, sizeof buf, cmd, status, seq);
	if (n > 0)
		link_send(l, buf, (size_t)n, close_after);
}

static void send_sm_resp(struct esme_link *l, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t buf[64];
	int n = smpp_encode_sm_resp(buf, sizeof buf, cmd, status, seq, "");
	if (n > 0)
		link_send(l, buf, (size_t)n, false);
}

/* ---- pending deliver_sm ---- */

/* The deliver_sm waiting for an answer: a small open-addressing set of
 * sequence numbers (a window holds thousands; answers come in any order).
 * A slot holds seq + 1; 0 is empty, DSEQ_GONE a removed entry. */
#define DSEQ_GONE UINT64_MAX

static size_t dseq_slot(uint32_t seq, size_t cap)
{
	return (size_t)((seq * 0x9E3779B1u) & (uint32_t)(cap - 1));
}

static int dseq_rehash(struct esme_link *l, size_t cap)
{
	uint64_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < l->capdseq; i++) {
		uint64_t v = l->dseq[i];
		if (v == 0 || v == DSEQ_GONE)
			continue;
		size_t j = dseq_slot((uint32_t)(v - 1), cap);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = v;
	}
	free(l->dseq);
	l->dseq = slots;
	l->capdseq = cap;
	l->useddseq = l->ndseq;
	return 0;
}

static int dseq_add(struct esme_link *l, uint32_t seq)
{
	/* at most half the slots used (entries and removed ones) */
	if ((l->useddseq + 1) * 2 > l->capdseq) {
		size_t cap = l->capdseq ? l->capdseq : 64;
		while ((l->ndseq + 1) * 4 > cap)
			cap *= 2;
		if (dseq_rehash(l, cap) < 0)
			return -ENOMEM;
	}
	size_t j = dseq_slot(seq, l->capdseq);
	while (l->dseq[j] != 0 && l->dseq[j] != DSEQ_GONE)
		j = (j + 1) & (l->capdseq - 1);
	if (l->dseq[j] == 0)
		l->useddseq++;
	l->dseq[j] = (uint64_t)seq + 1;
	l->ndseq++;
	return 0;
}

static bool dseq_take(struct esme_link *l, uint32_t seq)
{
	if (!l->ndseq)
		return false;
	size_t j = dseq_slot(seq, l->capdseq);
	for (; l->dseq[j] != 0; j = (j + 1) & (l->capdseq - 1)) {
		if (l->dseq[j] == (uint64_t)seq + 1) {
			l->dseq[j] = DSEQ_GONE;
			l->ndseq--;
			return true;
		}
	}
	return false;
}

static void dseq_clear(struct esme_link *l)
{
	if (l->dseq)
		memset(l->dseq, 0, l->capdseq * sizeof *l->dseq);
	l->ndseq = 0;
	l->useddseq = 0;
}

/* ---- link lifecycle ---- */

static void on_conn_close(uv_handle_t *h)
{
	struct esme_conn *c = (struct esme_conn *)h;
	struct smpp_esme *e = c->e;
	if (c->dirty) {
		for (struct esme_conn **pp = &e->dirty; *pp; pp = &(*pp)->next_dirty) {
			if (*pp == c) {
				*pp = c->next_dirty;
				break;
			}
		}
	}
	free(c->out);
	smpp_framer_free(&c->framer);
	free(c);
	e->nconns--;
	if (e->stopping)
		kick(e);
}

static void on_retry(uv_timer_t *t)
{
	struct esme_link *l = t->data;
	if (l->state == LS_IDLE && !l->e->stopping)
		link_connect(l);
}

/* Lose the link: close the socket, fail what was in flight, forget pending
 * deliver_sm, and reconnect after the backoff (unless stopping). */
static void link_down(struct esme_link *l, const char *reason, bool reconnect)
{
	struct smpp_esme *e = l->e;
	enum link_state was = l->state;
	if (l->conn) {
		struct esme_conn *c = l->conn;
		l->conn = NULL;
		c->link = NULL;
		uv_close((uv_handle_t *)&c->tcp, on_conn_close);
	}
	uv_timer_stop(&l->timer);
	uv_timer_stop(&l->rtimer);
	uv_timer_stop(&l->retry);
	l->gen = (l->gen + 1) & 0xFFFFFFu;
	dseq_clear(l);
	l->confirm_seq = 0;
	if (l->resp_ord > l->confirmed_ord) {
		/* Responses the SMSC may never have read: it may redeliver. */
		uint64_t upto = l->confirmed_ord;
		l->confirmed_ord = l->resp_ord;
		if (e->cb.on_confirmed)
			e->cb.on_confirmed(e, l->idx, upto, 1, e->cb.data);
	}
	struct esme_sub *s;
	while ((s = l->inflight.head) != NULL) {
		list_remove(&l->inflight, s);
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "submit_lost", "session=%d link=%s seq=%u",
			l->session, lkname(l), s->seq);
		complete(e, s, -ECONNRESET, NULL);
	}
	if (e->stopping || !reconnect) {
		l->state = LS_DOWN;
		eng_log(ENG_LOG_INFO, LOG_SUB, "link_closed", "session=%d link=%s reason=%s state=%s",
			l->session, lkname(l), reason, link_state_names[was]);
	} else {
		l->state = LS_IDLE;
		uint64_t delay = l->backoff_ms;
		uint64_t max = (uint64_t)e->cfg.reconnect_max_s * 1000u;
		l->backoff_ms = delay * 2 > max ? max : delay * 2;
		if (l->backoff_ms < 1000)
			l->backoff_ms = 1000;
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "link_lost",
			"session=%d link=%s reason=%s state=%s reconnect_ms=%llu", l->session,
			lkname(l), reason, link_state_names[was], (unsigned long long)delay);
		uv_timer_start(&l->retry, on_retry, delay, 0);
	}
	if (was == LS_BOUND)
		notify_bound(e);
	if (e->stopping)
		kick(e);
}

static void on_link_timer(uv_timer_t *t)
{
	struct esme_link *l = t->data;
	struct smpp_esme *e = l->e;
	switch (l->state) {
	case LS_CONNECTING:
		eng_log(ENG_LOG_ERROR, LOG_SUB, "connect_timeout", "session=%d link=%s", l->session,
			lkname(l));
		link_down(l, "connect_timeout", true);
		break;
	case LS_BINDING:
		eng_log(ENG_LOG_ERROR, LOG_SUB, "bind_timeout", "session=%d link=%s seq=%u",
			l->session, lkname(l), l->bind_seq);
		link_down(l, "bind_timeout", true);
		break;
	case LS_UNBINDING:
		link_down(l, "unbind_timeout", false);
		break;
	case LS_BOUND: {
		uint64_t period = (uint64_t)e->cfg.enquire_link_s * 1000u;
		if (uv_now(e->loop) - l->last_rx >= 3 * period) {
			eng_log(ENG_LOG_ERROR, LOG_SUB, "dead_link", "session=%d link=%s silent_ms=%llu",
				l->session, lkname(l),
				(unsigned long long)(uv_now(e->loop) - l->last_rx));
			link_down(l, "dead_link", true);
			break;
		}
		uint32_t seq = link_next_seq(l);
		eng_log(ENG_LOG_DEBUG, LOG_SUB, "enquire_link", "session=%d link=%s seq=%u",
			l->session, lkname(l), seq);
		send_header_only(l, SMPP_ENQUIRE_LINK, 0, seq, false);
		break;
	}
	default:
		break;
	}
}

/* A submit_sm without a response after response_timeout_s is only slow:
 * giving up then would answer the MO "try again" while the SMSC may still
 * accept the submit (a stalled SMSC answers late) — and its redelivery would
 * reach the peer twice. It is given up (-ETIMEDOUT) only after
 * GIVE_UP_FACTOR x response_timeout_s, or when the link is lost. */
#define GIVE_UP_FACTOR 6u

static void on_resp_timer(uv_timer_t *t)
{
	struct esme_link *l = t->data;
	struct smpp_esme *e = l->e;
	uint64_t now = uv_now(e->loop);
	uint64_t next = UINT64_MAX;
	struct esme_sub *s = l->inflight.head;
	while (s) {
		struct esme_sub *following = s->next;
		if (s->deadline <= now && !s->slow) {
			s->slow = true;
			s->deadline += (uint64_t)e->cfg.response_timeout_s * 1000u * (GIVE_UP_FACTOR - 1);
			eng_log(ENG_LOG_NOTICE, LOG_SUB, "submit_slow",
				"session=%d link=%s seq=%u waited_ms=%u give_up_ms=%u", l->session,
				lkname(l), s->seq, e->cfg.response_timeout_s * 1000u,
				e->cfg.response_timeout_s * 1000u * GIVE_UP_FACTOR);
		}
		if (s->deadline <= now) {
			list_remove(&l->inflight, s);
			eng_log(ENG_LOG_ERROR, LOG_SUB, "submit_timeout", "session=%d link=%s seq=%u",
				l->session, lkname(l), s->seq);
			complete(e, s, -ETIMEDOUT, NULL);
		} else if (s->deadline < next) {
			next = s->deadline;
		}
		s = following;
	}
	if (next != UINT64_MAX)
		uv_timer_start(&l->rtimer, on_resp_timer, next - now, 0);
	esme_pump(e);
}

static void send_bind(struct esme_link *l)
{
	struct smpp_esme *e = l->e;
	struct smpp_bind b;
	memset(&b, 0, sizeof b);
	snprintf(b.system_id, sizeof b.system_id, "%s", e->system_id);
	snprintf(b.password, sizeof b.password, "%s", e->password);
	snprintf(b.system_type, sizeof b.system_type, "%s", e->system_type);
	b.interface_version = 0x34;
	uint32_t cmd = l->kind == LK_TRX  ? SMPP_BIND_TRANSCEIVER
		       : l->kind == LK_TX ? SMPP_BIND_TRANSMITTER
					  : SMPP_BIND_RECEIVER;
	uint8_t buf[128];
	l->bind_seq = link_next_seq(l);
	int n = smpp_encode_bind(buf, sizeof buf, cmd, l->bind_seq, &b);
	memset(&b, 0, sizeof b); /* no password copies left on the stack */
	if (n < 0) {
		link_down(l, "bind_encode", true);
		return;
	}
	l->state = LS_BINDING;
	eng_log(ENG_LOG_INFO, LOG_SUB, "bind", "session=%d link=%s seq=%u command=%s system_id=%s",
		l->session, lkname(l), l->bind_seq, smpp_cmd_name(cmd), e->system_id);
	link_send(l, buf, (size_t)n, false);
	uv_timer_start(&l->timer, on_link_timer, (uint64_t)e->cfg.response_timeout_s * 1000u, 0);
}

/* ---- incoming PDUs ---- */

static void handle_bind_resp(struct esme_link *l, const uint8_t *pdu, const struct smpp_hdr *h)
{
	struct smpp_esme *e = l->e;
	uint32_t want = (l->kind == LK_TRX  ? SMPP_BIND_TRANSCEIVER
			 : l->kind == LK_TX ? SMPP_BIND_TRANSMITTER
					    : SMPP_BIND_RECEIVER) |
			SMPP_RESP_BIT;
	if (l->state != LS_BINDING || h->id != want || h->seq != l->bind_seq) {
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "unexpected_pdu", "session=%d link=%s seq=%u command=%s",
			l->session, lkname(l), h->seq, smpp_cmd_name(h->id));
		return;
	}
	if (h->status != SMPP_ESME_ROK) {
		eng_log(ENG_LOG_ERROR, LOG_SUB, "bind_refused", "session=%d link=%s seq=%u status=%s",
			l->session, lkname(l), h->seq, smpp_status_name(h->status));
		link_down(l, "bind_refused", true);
		return;
	}
	char sysid[32];
	if (smpp_decode_resp_id(pdu, h->len, sysid, sizeof sysid) < 0)
		sysid[0] = '\0';
	char q[80];
	l->state = LS_BOUND;
	l->backoff_ms = 1000;
	l->last_rx = uv_now(e->loop);
	uint64_t period = (uint64_t)e->cfg.enquire_link_s * 1000u;
	uv_timer_start(&l->timer, on_link_timer, period, period);
	eng_log(ENG_LOG_INFO, LOG_SUB, "bound", "session=%d link=%s seq=%u smsc_id=%s", l->session,
		lkname(l), h->seq, eng_log_quote(sysid, q, sizeof q));
	notify_bound(e);
	esme_pump(e);
}

static void handle_submit_resp(struct esme_link *l, const uint8_t *pdu, const struct smpp_hdr *h)
{
	struct smpp_esme *e = l->e;
	struct esme_sub *s;
	for (s = l->inflight.head; s; s = s->next)
		if (s->seq == h->seq)
			break;
	if (!s) {
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "late_response",
			"session=%d link=%s seq=%u command=%s status=%s", l->session, lkname(l),
			h->seq, smpp_cmd_name(h->id), smpp_status_name(h->status));
		return;
	}
	list_remove(&l->inflight, s);
	if (h->id == SMPP_SUBMIT_SM_RESP &&
	    (h->status == SMPP_ESME_RTHROTTLED || h->status == SMPP_ESME_RMSGQFUL) &&
	    !e->stopping) {
		/* One episode doubles the pause once: the other submits that were
		 * in flight when the first throttle came back belong to it. */
		if (uv_now(e->loop) >= e->pause_until) {
			e->throttle_ms = e->throttle_ms ? e->throttle_ms * 2 : THROTTLE_FIRST_MS;
			if (e->throttle_ms > THROTTLE_MAX_MS)
				e->throttle_ms = THROTTLE_MAX_MS;
			e->pause_until = uv_now(e->loop) + e->throttle_ms;
		}
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "throttled",
			"session=%d link=%s seq=%u status=%s pause_ms=%llu", l->session, lkname(l),
			h->seq, smpp_status_name(h->status), (unsigned long long)e->throttle_ms);
		s->link = NULL;
		list_push_front(&e->queue, s);
		esme_pump(e);
		return;
	}
	if (h->id == SMPP_GENERIC_NACK || h->status != SMPP_ESME_ROK) {
		uint32_t st = h->status ? h->status : SMPP_ESME_RSYSERR;
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "submit_rejected",
			"session=%d link=%s seq=%u command=%s status=%s", l->session, lkname(l),
			h->seq, smpp_cmd_name(h->id), smpp_status_name(st));
		complete(e, s, (int)st, NULL);
	} else {
		char id[65];
		if (smpp_decode_resp_id(pdu, h->len, id, sizeof id) < 0)
			id[0] = '\0';
		char q[140];
		e->throttle_ms = 0;
		eng_log(ENG_LOG_DEBUG, LOG_SUB, "submit_accepted", "session=%d link=%s seq=%u message_id=%s",
			l->session, lkname(l), h->seq, eng_log_quote(id, q, sizeof q));
		complete(e, s, 0, id);
	}
	esme_pump(e);
}

static void handle_deliver(struct esme_link *l, const uint8_t *pdu, const struct smpp_hdr *h)
{
	struct smpp_esme *e = l->e;
	if (l->state != LS_BOUND && l->state != LS_UNBINDING) {
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, SMPP_ESME_RINVBNDSTS, h->seq);
		return;
	}
	if (l->kind == LK_TX) {
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, SMPP_ESME_RINVBNDSTS, h->seq);
		return;
	}
	if (e->stopping) {
		eng_log(ENG_LOG_INFO, LOG_SUB, "deliver_refused", "session=%d link=%s seq=%u status=%s",
			l->session, lkname(l), h->seq, smpp_status_name(SMPP_ESME_RX_T_APPN));
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	struct smpp_mo mo;
	memset(&mo, 0, sizeof mo);
	int rc = smpp_decode_sm(pdu, h->len, &mo.sm);
	if (rc < 0) {
		uint32_t st = (rc > -256) ? (uint32_t)-rc : SMPP_ESME_RSYSERR;
		eng_log(ENG_LOG_ERROR, LOG_SUB, "deliver_malformed", "session=%d link=%s seq=%u status=%s",
			l->session, lkname(l), h->seq, smpp_status_name(st));
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, st, h->seq);
		return;
	}
	if (dseq_add(l, h->seq) < 0) {
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, SMPP_ESME_RX_T_APPN, h->seq);
		return;
	}
	mo.token = (uint64_t)(l->idx + 1) << 56 | (uint64_t)(l->gen & 0xFFFFFFu) << 32 | h->seq;
	mo.session = l->session;
	mo.seq = h->seq;
	mo.pdu = pdu;
	mo.pdu_len = h->len;
	eng_log(ENG_LOG_DEBUG, LOG_SUB, "deliver", "session=%d link=%s seq=%u esm_class=%u dcs=%u len=%zu",
		l->session, lkname(l), h->seq, mo.sm.esm_class, mo.sm.data_coding, mo.sm.payload_len);
	if (e->cb.on_deliver) {
		e->cb.on_deliver(e, &mo, e->cb.data);
	} else {
		dseq_take(l, h->seq);
		send_sm_resp(l, SMPP_DELIVER_SM_RESP, SMPP_ESME_RX_T_APPN, h->seq);
	}
}

/* ---- confirmation of deliver_sm_resp ---- */

/* Every response up to ordinal `upto` was read by the SMSC. */
static void confirm_upto(struct esme_link *l, uint64_t upto)
{
	struct smpp_esme *e = l->e;
	l->confirm_seq = 0;
	if (upto <= l->confirmed_ord)
		return;
	l->confirmed_ord = upto;
	if (e->cb.on_confirmed)
		e->cb.on_confirmed(e, l->idx, upto, 0, e->cb.data);
	if (l->resp_ord > l->confirmed_ord)
		kick(e);
}

/* One enquire_link per link with unconfirmed responses and none out: its
 * response proves the SMSC read everything written before it (one stream,
 * read in order). Sent from the deferred turn so that it covers every
 * response of the batch that was just answered. */
static void confirm_send(struct smpp_esme *e)
{
	if (!e->cb.on_confirmed)
		return;
	for (int i = 0; i < e->nlinks; i++) {
		struct esme_link *l = &e->links[i];
		if (l->confirm_seq || l->resp_ord <= l->confirmed_ord || !l->conn ||
		    (l->state != LS_BOUND && l->state != LS_UNBINDING))
			continue;
		if (l->state == LS_UNBINDING)
			continue; /* the unbind_resp is the barrier */
		l->confirm_seq = link_next_seq(l);
		l->confirm_covers = l->resp_ord;
		send_header_only(l, SMPP_ENQUIRE_LINK, 0, l->confirm_seq, false);
	}
}

static void handle_pdu(struct esme_link *l, const uint8_t *pdu, const struct smpp_hdr *h)
{
	switch (h->id) {
	case SMPP_BIND_TRANSCEIVER_RESP:
	case SMPP_BIND_TRANSMITTER_RESP:
	case SMPP_BIND_RECEIVER_RESP:
		handle_bind_resp(l, pdu, h);
		return;
	case SMPP_SUBMIT_SM_RESP:
		handle_submit_resp(l, pdu, h);
		return;
	case SMPP_GENERIC_NACK:
		if (l->state == LS_BINDING && h->seq == l->bind_seq) {
			eng_log(ENG_LOG_ERROR, LOG_SUB, "bind_refused",
				"session=%d link=%s seq=%u status=%s", l->session, lkname(l), h->seq,
				smpp_status_name(h->status));
			link_down(l, "bind_refused", true);
			return;
		}
		handle_submit_resp(l, pdu, h);
		return;
	case SMPP_DELIVER_SM:
		handle_deliver(l, pdu, h);
		return;
	case SMPP_ENQUIRE_LINK:
		send_header_only(l, SMPP_ENQUIRE_LINK_RESP, SMPP_ESME_ROK, h->seq, false);
		return;
	case SMPP_ENQUIRE_LINK_RESP:
		/* last_rx already moved; maybe the barrier for our responses */
		if (l->confirm_seq && h->seq == l->confirm_seq)
			confirm_upto(l, l->confirm_covers);
		return;
	case SMPP_UNBIND:
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "unbind_by_smsc", "session=%d link=%s seq=%u",
			l->session, lkname(l), h->seq);
		send_header_only(l, SMPP_UNBIND_RESP, SMPP_ESME_ROK, h->seq, true);
		return;
	case SMPP_UNBIND_RESP:
		if (l->state == LS_UNBINDING) {
			eng_log(ENG_LOG_INFO, LOG_SUB, "unbound", "session=%d link=%s seq=%u", l->session,
				lkname(l), h->seq);
			/* The SMSC answered our unbind: it read every response written
			 * before the unbind (not those after: link_down reports them). */
			confirm_upto(l, l->unbind_covers);
			link_down(l, "unbound", false);
		}
		return;
	case SMPP_ALERT_NOTIFICATION:
		return; /* takes no response */
	default:
		break;
	}
	if (h->id & SMPP_RESP_BIT) {
		eng_log(ENG_LOG_NOTICE, LOG_SUB, "unexpected_pdu", "session=%d link=%s seq=%u command=%s",
			l->session, lkname(l), h->seq, smpp_cmd_name(h->id));
		return;
	}
	eng_log(ENG_LOG_NOTICE, LOG_SUB, "generic_nack",
		"session=%d link=%s seq=%u command_id=0x%08x status=%s", l->session, lkname(l), h->seq,
		h->id, smpp_status_name(SMPP_ESME_RINVCMDID));
	send_header_only(l, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, h->seq, false);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct esme_conn *c = (struct esme_conn *)h;
	*buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct esme_conn *c = (struct esme_conn *)st;
	struct esme_link *l = c->link;
	if (!l || nread == 0)
		return;
	if (nread < 0) {
		eng_log(nread == UV_EOF ? ENG_LOG_NOTICE : ENG_LOG_ERROR, LOG_SUB, "read_failed",
			"session=%d link=%s error=%s", l->session, lkname(l), uv_err_name((int)nread));
		link_down(l, nread == UV_EOF ? "eof" : "read_error", true);
		return;
	}
	l->last_rx = uv_now(l->e->loop);
	if (smpp_framer_feed(&c->framer, (const uint8_t *)buf->base, (size_t)nread) < 0) {
		link_down(l, "out_of_memory", true);
		return;
	}
	for (;;) {
		const uint8_t *pdu;
		struct smpp_hdr h;
		int rc = smpp_framer_next(&c->framer, &pdu, &h);
		if (rc == 0)
			return;
		if (rc < 0) {
			eng_log(ENG_LOG_ERROR, LOG_SUB, "bad_framing", "session=%d link=%s status=%s",
				l->session, lkname(l), smpp_status_name((uint32_t)-rc));
			link_down(l, "bad_command_length", true);
			return;
		}
		handle_pdu(l, pdu, &h);
		if (l->conn != c)
			return; /* the link went down while handling it */
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct esme_conn *c = (struct esme_conn *)req->handle;
	struct esme_link *l = c->link;
	if (status == UV_ECANCELED || !l || l->conn != c)
		return;
	if (status < 0) {
		eng_log(ENG_LOG_ERROR, LOG_SUB, "connect_failed", "session=%d link=%s error=%s",
			l->session, lkname(l), uv_err_name(status));
		link_down(l, "connect_failed", true);
		return;
	}
	uv_timer_stop(&l->timer);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc < 0) {
		link_down(l, "read_start", true);
		return;
	}
	l->last_rx = uv_now(l->e->loop);
	send_bind(l);
}

static void link_connect(struct esme_link *l)
{
	struct smpp_esme *e = l->e;
	struct esme_conn *c = calloc(1, sizeof *c);
	if (!c) {
		link_down(l, "out_of_memory", true);
		return;
	}
	c->e = e;
	c->link = l;
	smpp_framer_init(&c->framer);
	int rc = uv_tcp_init(e->loop, &c->tcp);
	if (rc < 0) {
		free(c);
		link_down(l, "tcp_init", true);
		return;
	}
	e->nconns++;
	l->conn = c;
	l->state = LS_CONNECTING;
	l->next_seq = 1;
	uv_tcp_nodelay(&c->tcp, 1);
	eng_log(ENG_LOG_DEBUG, LOG_SUB, "connect", "session=%d link=%s host=%s port=%d", l->session,
		lkname(l), e->host, e->cfg.port);
	rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&e->addr, on_connect);
	if (rc < 0) {
		eng_log(ENG_LOG_ERROR, LOG_SUB, "connect_failed", "session=%d link=%s error=%s",
			l->session, lkname(l), uv_err_name(rc));
		link_down(l, "connect_failed", true);
		return;
	}
	uv_timer_start(&l->timer, on_link_timer, CONNECT_TIMEOUT_MS, 0);
}

/* ---- sending submits ---- */

static struct esme_link *pick_link(struct smpp_esme *e)
{
	struct esme_link *best = NULL;
	for (int k = 0; k < e->nlinks; k++) {
		struct esme_link *l = &e->links[(e->rr + k) % e->nlinks];
		if (l->state != LS_BOUND || l->kind == LK_RX || l->inflight.n >= e->cfg.window)
			continue;
		if (!best || l->inflight.n < best->inflight.n)
			best = l;
	}
	if (best)
		e->rr = (best->idx + 1) % e->nlinks;
	return best;
}

static void on_pump_timer(uv_timer_t *t)
{
	esme_pump(t->data);
}

static void esme_pump(struct smpp_esme *e)
{
	if (e->finalizing)
		return;
	uint64_t now = uv_now(e->loop);
	while (e->queue.head) {
		if (now < e->pause_until) {
			uv_timer_start(&e->pump, on_pump_timer, e->pause_until - now, 0);
			return;
		}
		if (e->cfg.tps > 0) {
			if (now - e->tps_start >= 1000) {
				e->tps_start = now;
				e->tps_count = 0;
			}
			if (e->tps_count >= e->cfg.tps) {
				uv_timer_start(&e->pump, on_pump_timer, e->tps_start + 1000 - now, 0);
				return;
			}
		}
		struct esme_link *l = pick_link(e);
		if (!l)
			return; /* a bind or a response will pump again */
		struct esme_sub *s = e->queue.head;
		list_remove(&e->queue, s);
		s->seq = link_next_seq(l);
		wr32(s->pdu + 12, s->seq);
		s->link = l;
		s->deadline = now + (uint64_t)e->cfg.response_timeout_s * 1000u;
		list_push_back(&l->inflight, s);
		if (!uv_is_active((uv_handle_t *)&l->rtimer) ||
		    uv_timer_get_due_in(&l->rtimer) > s->deadline - now)
			uv_timer_start(&l->rtimer, on_resp_timer, s->deadline - now, 0);
		e->tps_count++;
		eng_log(ENG_LOG_DEBUG, LOG_SUB, "submit", "session=%d link=%s seq=%u", l->session,
			lkname(l), s->seq);
		link_send(l, s->pdu, s->len, false);
	}
}

/* ---- stop ---- */

static void on_final_close(uv_handle_t *h)
{
	struct smpp_esme *e = h->data;
	if (--e->nclosing == 0 && e->stop_done)
		e->stop_done(e, e->stop_data); /* may free e: touch nothing after */
}

static void stop_progress(struct smpp_esme *e)
{
	if (!e->stopping || e->finalizing)
		return;
	for (int i = 0; i < e->nlinks; i++) {
		struct esme_link *l = &e->links[i];
		switch (l->state) {
		case LS_IDLE:
			uv_timer_stop(&l->retry);
			l->state = LS_DOWN;
			break;
		case LS_CONNECTING:
		case LS_BINDING:
			link_down(l, "stopping", false);
			break;
		case LS_BOUND:
			if (e->drain_expired || (l->inflight.n == 0 && l->ndseq == 0)) {
				l->unbind_seq = link_next_seq(l);
				l->unbind_covers = l->resp_ord;
				l->state = LS_UNBINDING;
				eng_log(ENG_LOG_INFO, LOG_SUB, "unbind", "session=%d link=%s seq=%u",
					l->session, lkname(l), l->unbind_seq);
				send_header_only(l, SMPP_UNBIND, 0, l->unbind_seq, false);
				uv_timer_start(&l->timer, on_link_timer, UNBIND_WAIT_MS, 0);
				notify_bound(e);
			}
			break;
		default:
			break;
		}
	}
	for (int i = 0; i < e->nlinks; i++)
		if (e->links[i].state != LS_DOWN)
			return;
	if (e->nconns > 0 || e->done.head)
		return;
	e->finalizing = true;
	eng_log(ENG_LOG_INFO, LOG_SUB, "stopped", NULL);
	for (int i = 0; i < e->nlinks; i++) {
		struct esme_link *l = &e->links[i];
		l->timer.data = l->rtimer.data = l->retry.data = e;
		uv_close((uv_handle_t *)&l->timer, on_final_close);
		uv_close((uv_handle_t *)&l->rtimer, on_final_close);
		uv_close((uv_handle_t *)&l->retry, on_final_close);
		e->nclosing += 3;
	}
	uv_close((uv_handle_t *)&e->defer, on_final_close);
	uv_close((uv_handle_t *)&e->pump, on_final_close);
	uv_close((uv_handle_t *)&e->drain, on_final_close);
	uv_close((uv_handle_t *)&e->flush_check, on_final_close);
	uv_close((uv_handle_t *)&e->flush_idle, on_final_close);
	e->nclosing += 5;
}

static void on_defer(uv_timer_t *t)
{
	struct smpp_esme *e = t->data;
	/* Run the callbacks of a detached list: they may submit again. */
	struct sub_list todo = e->done;
	memset(&e->done, 0, sizeof e->done);
	struct esme_sub *s;
	while ((s = todo.head) != NULL) {
		list_remove(&todo, s);
		s->cb(e, s->data, s->status, s->status == 0 ? s->message_id : NULL);
		free(s);
	}
	esme_pump(e);
	confirm_send(e);
	stop_progress(e);
}

static void kick(struct smpp_esme *e)
{
	if (!e->finalizing)
		uv_timer_start(&e->defer, on_defer, 0, 0);
}

static void on_drain_timer(uv_timer_t *t)
{
	struct smpp_esme *e = t->data;
	e->drain_expired = true;
	eng_log(ENG_LOG_NOTICE, LOG_SUB, "drain_timeout", "pending=%d", smpp_esme_pending(e));
	stop_progress(e);
}

/* ---- public API ---- */

static char *dupstr(const char *s)
{
	return strdup(s ? s : "");
}

struct smpp_esme *smpp_esme_start(uv_loop_t *loop, const struct smpp_esme_config *cfg,
				  const struct smpp_esme_callbacks *cb)
{
	if (!loop || !cfg || !cb || !cfg->host || !cfg->system_id)
		return NULL;
	if (cfg->port <= 0 || cfg->port > 65535 || cfg->sessions < 1 ||
	    cfg->sessions > MAX_SESSIONS || cfg->window < 1 || cfg->tps < 0 ||
	    cfg->enquire_link_s < 1 || cfg->reconnect_max_s < 1 || cfg->response_timeout_s < 1)
		return NULL;
	if (strlen(cfg->system_id) > 15 || (cfg->password && strlen(cfg->password) > 8) ||
	    (cfg->system_type && strlen(cfg->system_type) > 12))
		return NULL;
	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof addr);
	if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&addr) != 0 &&
	    uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&addr) != 0) {
		eng_log(ENG_LOG_ERROR, LOG_SUB, "bad_host", "host=%s reason=not_numeric", cfg->host);
		return NULL;
	}
	struct smpp_esme *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->loop = loop;
	e->cfg = *cfg;
	e->addr = addr;
	e->host = dupstr(cfg->host);
	e->system_id = dupstr(cfg->system_id);
	e->password = dupstr(cfg->password);
	e->system_type = dupstr(cfg->system_type);
	e->nlinks = cfg->sessions * (cfg->tx_rx ? 2 : 1);
	e->links = calloc((size_t)e->nlinks, sizeof *e->links);
	if (!e->host || !e->system_id || !e->password || !e->system_type || !e->links) {
		smpp_esme_free(e);
		return NULL;
	}
	e->cfg.host = e->host;
	e->cfg.system_id = e->system_id;
	e->cfg.password = e->password;
	e->cfg.system_type = e->system_type;
	e->cb = *cb;
	uv_timer_init(loop, &e->defer);
	uv_timer_init(loop, &e->pump);
	uv_timer_init(loop, &e->drain);
	e->defer.data = e->pump.data = e->drain.data = e;
	uv_check_init(loop, &e->flush_check);
	uv_idle_init(loop, &e->flush_idle);
	e->flush_check.data = e->flush_idle.data = e;
	for (int i = 0; i < e->nlinks; i++) {
		struct esme_link *l = &e->links[i];
		l->e = e;
		l->idx = i;
		l->session = cfg->tx_rx ? i / 2 : i;
		l->kind = cfg->tx_rx ? (i % 2 == 0 ? LK_TX : LK_RX) : LK_TRX;
		l->state = LS_IDLE;
		l->backoff_ms = 1000;
		l->next_seq = 1;
		uv_timer_init(loop, &l->timer);
		uv_timer_init(loop, &l->rtimer);
		uv_timer_init(loop, &l->retry);
		l->timer.data = l->rtimer.data = l->retry.data = l;
	}
	eng_log(ENG_LOG_INFO, LOG_SUB, "start",
		"host=%s port=%d system_id=%s bind=%s sessions=%d window=%d tps=%d", e->host,
		cfg->port, e->system_id, cfg->tx_rx ? "tx_rx" : "transceiver", cfg->sessions,
		cfg->window, cfg->tps);
	/* Connect from the loop, not from inside this call. */
	for (int i = 0; i < e->nlinks; i++)
		uv_timer_start(&e->links[i].retry, on_retry, 0, 0);
	return e;
}

int smpp_esme_respond(struct smpp_esme *e, uint64_t token, uint32_t status)
{
	return smpp_esme_respond_ord(e, token, status, NULL);
}

int smpp_esme_token_link(uint64_t token)
{
	uint64_t idx1 = token >> 56;
	return idx1 == 0 ? -EINVAL : (int)idx1 - 1;
}

int smpp_esme_respond_ord(struct smpp_esme *e, uint64_t token, uint32_t status, uint64_t *ord)
{
	if (!e)
		return -EINVAL;
	uint64_t idx1 = token >> 56;
	if (idx1 == 0 || idx1 > (uint64_t)e->nlinks)
		return -EINVAL;
	struct esme_link *l = &e->links[idx1 - 1];
	uint32_t gen = (uint32_t)(token >> 32) & 0xFFFFFFu;
	uint32_t seq = (uint32_t)token;
	if (e->finalizing || !l->conn || gen != l->gen)
		return -ENOTCONN;
	if (!dseq_take(l, seq))
		return -EINVAL; /* already answered */
	eng_log(ENG_LOG_DEBUG, LOG_SUB, "deliver_resp", "session=%d link=%s seq=%u status=%s",
		l->session, lkname(l), seq, smpp_status_name(status));
	send_sm_resp(l, SMPP_DELIVER_SM_RESP, status, seq);
	l->resp_ord++;
	if (ord)
		*ord = l->resp_ord;
	if (e->stopping || (e->cb.on_confirmed && !l->confirm_seq))
		kick(e);
	return 0;
}

int smpp_esme_submit(struct smpp_esme *e, const struct smpp_sm *sm, smpp_submit_cb cb, void *data)
{
	if (!e || !sm || !cb)
		return -EINVAL;
	if (e->stopping)
		return -ECANCELED;
	uint8_t buf[SMPP_MAX_PDU_LEN];
	int n = smpp_encode_sm(buf, sizeof buf, SMPP_SUBMIT_SM, 0, sm);
	if (n < (int)SMPP_HEADER_LEN)
		return -EINVAL;
	struct esme_sub *s = malloc(sizeof *s + (size_t)n);
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof *s);
	memcpy(s->pdu, buf, (size_t)n);
	s->len = (size_t)n;
	s->cb = cb;
	s->data = data;
	list_push_back(&e->queue, s);
	esme_pump(e);
	return 0;
}

int smpp_esme_pending(const struct smpp_esme *e)
{
	if (!e)
		return 0;
	int n = e->queue.n;
	for (int i = 0; i < e->nlinks; i++)
		n += e->links[i].inflight.n;
	return n;
}

void smpp_esme_stop(struct smpp_esme *e, void (*done)(struct smpp_esme *e, void *data),
		    void *data)
{
	if (!e || e->stopping)
		return;
	e->stopping = true;
	e->stop_done = done;
	e->stop_data = data;
	eng_log(ENG_LOG_INFO, LOG_SUB, "stopping", "queued=%d pending=%d", e->queue.n,
		smpp_esme_pending(e));
	struct esme_sub *s;
	while ((s = e->queue.head) != NULL) {
		list_remove(&e->queue, s);
		complete(e, s, -ECANCELED, NULL);
	}
	uv_timer_stop(&e->pump);
	uv_timer_start(&e->drain, on_drain_timer, (uint64_t)e->cfg.response_timeout_s * 1000u, 0);
	kick(e);
}

void smpp_esme_free(struct smpp_esme *e)
{
	if (!e)
		return;
	struct esme_sub *s;
	if (e->links) {
		/* After `done` every list is empty; this only matters for a
		 * handle freed without a stop (a programming error). */
		for (int i = 0; i < e->nlinks; i++) {
			while ((s = e->links[i].inflight.head) != NULL) {
				list_remove(&e->links[i].inflight, s);
				free(s);
			}
			free(e->links[i].dseq);
		}
		free(e->links);
	}
	while ((s = e->queue.head) != NULL) {
		list_remove(&e->queue, s);
		free(s);
	}
	while ((s = e->done.head) != NULL) {
		list_remove(&e->done, s);
		free(s);
	}
	free(e->host);
	free(e->system_id);
	free(e->password);
	free(e->system_type);
	free(e);
}
