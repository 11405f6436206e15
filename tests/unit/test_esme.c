/* The SMPP client (smpp_gw/esme.h) against an in-process fake SMSC on the
 * same libuv loop: a uv_tcp_t listening on 127.0.0.1 port 0 that frames,
 * decodes and encodes with smpp_gw/pdu.h and records everything it sees.
 * Every test ends with a graceful stop and uv_loop_close() == 0. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "engine/log.h"
#include "smpp_gw/esme.h"
#include "smpp_gw/pdu.h"

/* ---- the fake SMSC ---- */

#define FS_MAXCLI 8
#define FS_MAXHELD 64
#define FS_MAXREC 128
#define FS_MAXENQ 8

struct fs;

struct fcli {
	uv_tcp_t tcp;
	struct fs *s;
	struct smpp_framer fr;
	uint32_t bind_cmd;           /* 0 until bound */
	uint32_t held[FS_MAXHELD];   /* submit_sm seqs not answered yet */
	int nheld;
	int outstanding;             /* received submit_sm minus answered */
	int closing;
	uint32_t held_enq[FS_MAXENQ]; /* enquire_link seqs not answered (hold_enq) */
	int nheld_enq;
	uint32_t held_unbind;        /* unbind seq not answered (hold_unbind) */
	int has_held_unbind;
};

struct rec {
	uint32_t id, status, seq;
};

struct fs {
	uv_loop_t *loop;
	uv_tcp_t srv;
	int port;
	struct fcli *cli[FS_MAXCLI];
	/* behaviour */
	uint32_t bind_status;  /* answer binds with this */
	int hold;              /* do not answer submit_sm */
	int throttle_n;        /* answer this many submit_sm ESME_RTHROTTLED */
	int mute;              /* read and drop everything, answer nothing */
	int hold_enq;          /* do not answer enquire_link */
	int hold_unbind;       /* do not answer unbind */
	/* observations */
	int bind_attempts;
	int binds_ok;
	int binds_by_kind[3];  /* trx, tx, rx */
	char last_system_id[16], last_password[9];
	int submits;
	int submits_on_tx;
	int max_outstanding;
	int enq_from_client;
	int unbinds;
	int eofs;
	struct rec recs[FS_MAXREC]; /* responses (and enquire_link, unbind) received
				       from the client, in arrival order */
	int nrecs;
	int msgid;
};

static int kind_index(uint32_t cmd)
{
	return cmd == SMPP_BIND_TRANSCEIVER ? 0 : cmd == SMPP_BIND_TRANSMITTER ? 1 : 2;
}

static void fs_on_write(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void fs_send(struct fcli *c, const uint8_t *buf, size_t len)
{
	if (c->closing)
		return;
	uv_write_t *req = malloc(sizeof *req + len);
	assert_non_null(req);
	uint8_t *copy = (uint8_t *)(req + 1);
	memcpy(copy, buf, len);
	uv_buf_t b = uv_buf_init((char *)copy, (unsigned)len);
	assert_int_equal(uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, fs_on_write), 0);
}

static void fs_send_hdr(struct fcli *c, uint32_t cmd, uint32_t status, uint32_t seq)
{
	uint8_t buf[16];
	assert_int_equal(smpp_encode_header_only(buf, sizeof buf, cmd, status, seq), 16);
	fs_send(c, buf, 16);
}

static void fs_submit_resp(struct fcli *c, uint32_t status, uint32_t seq)
{
	uint8_t buf[128];
	char id[32];
	snprintf(id, sizeof id, "MSG%d", ++c->s->msgid);
	int n = smpp_encode_sm_resp(buf, sizeof buf, SMPP_SUBMIT_SM_RESP, status, seq,
				    status ? "" : id);
	assert_true(n > 0);
	fs_send(c, buf, (size_t)n);
	c->outstanding--;
}

static void fs_cli_closed(uv_handle_t *h)
{
	struct fcli *c = (struct fcli *)h;
	smpp_framer_free(&c->fr);
	free(c);
}

static void fs_close_cli(struct fcli *c)
{
	struct fs *s = c->s;
	for (int i = 0; i < FS_MAXCLI; i++)
		if (s->cli[i] == c)
			s->cli[i] = NULL;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->tcp, fs_cli_closed);
}

static void fs_record(struct fs *s, const struct smpp_hdr *h)
{
	if (s->nrecs < FS_MAXREC)
		s->recs[s->nrecs++] = (struct rec){h->id, h->status, h->seq};
}

static const struct rec *fs_find(const struct fs *s, uint32_t id, uint32_t seq)
{
	for (int i = 0; i < s->nrecs; i++)
		if (s->recs[i].id == id && s->recs[i].seq == seq)
			return &s->recs[i];
	return NULL;
}

/* Arrival position of the first recorded PDU with this command_id, or -1. */
static int fs_index_id(const struct fs *s, uint32_t id)
{
	for (int i = 0; i < s->nrecs; i++)
		if (s->recs[i].id == id)
			return i;
	return -1;
}

/* Arrival position of a recorded PDU, or -1. */
static int fs_index(const struct fs *s, uint32_t id, uint32_t seq)
{
	const struct rec *r = fs_find(s, id, seq);
	return r ? (int)(r - s->recs) : -1;
}

static void fs_pdu(struct fcli *c, const uint8_t *pdu, const struct smpp_hdr *h)
{
	struct fs *s = c->s;
	if (s->mute)
		return;
	switch (h->id) {
	case SMPP_BIND_TRANSCEIVER:
	case SMPP_BIND_TRANSMITTER:
	case SMPP_BIND_RECEIVER: {
		struct smpp_bind b;
		assert_int_equal(smpp_decode_bind(pdu, h->len, &b), 0);
		s->bind_attempts++;
		memcpy(s->last_system_id, b.system_id, sizeof s->last_system_id);
		memcpy(s->last_password, b.password, sizeof s->last_password);
		uint8_t buf[64];
		int n = smpp_encode_bind_resp(buf, sizeof buf, h->id | SMPP_RESP_BIT, s->bind_status,
					      h->seq, "FAKESMSC");
		assert_true(n > 0);
		fs_send(c, buf, (size_t)n);
		if (s->bind_status == 0) {
			c->bind_cmd = h->id;
			s->binds_ok++;
			s->binds_by_kind[kind_index(h->id)]++;
		}
		break;
	}
	case SMPP_SUBMIT_SM: {
		struct smpp_sm sm;
		assert_int_equal(smpp_decode_sm(pdu, h->len, &sm), 0);
		s->submits++;
		if (c->bind_cmd == SMPP_BIND_TRANSMITTER)
			s->submits_on_tx++;
		c->outstanding++;
		if (c->outstanding > s->max_outstanding)
			s->max_outstanding = c->outstanding;
		if (s->throttle_n > 0) {
			s->throttle_n--;
			fs_submit_resp(c, SMPP_ESME_RTHROTTLED, h->seq);
		} else if (s->hold) {
			assert_true(c->nheld < FS_MAXHELD);
			c->held[c->nheld++] = h->seq;
		} else {
			fs_submit_resp(c, 0, h->seq);
		}
		break;
	}
	case SMPP_ENQUIRE_LINK:
		s->enq_from_client++;
		fs_record(s, h);
		if (s->hold_enq) {
			assert_true(c->nheld_enq < FS_MAXENQ);
			c->held_enq[c->nheld_enq++] = h->seq;
		} else {
			fs_send_hdr(c, SMPP_ENQUIRE_LINK_RESP, 0, h->seq);
		}
		break;
	case SMPP_UNBIND:
		s->unbinds++;
		fs_record(s, h);
		if (s->hold_unbind) {
			c->held_unbind = h->seq;
			c->has_held_unbind = 1;
		} else {
			fs_send_hdr(c, SMPP_UNBIND_RESP, 0, h->seq);
		}
		break;
	default:
		fs_record(s, h);
		break;
	}
}

static void fs_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(sz);
	buf->len = buf->base ? sz : 0;
}

static void fs_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct fcli *c = (struct fcli *)st;
	if (nread < 0) {
		c->s->eofs++;
		fs_close_cli(c);
	} else if (nread > 0) {
		assert_int_equal(smpp_framer_feed(&c->fr, (const uint8_t *)buf->base, (size_t)nread), 0);
		const uint8_t *pdu;
		struct smpp_hdr h;
		int rc;
		while (!c->closing && (rc = smpp_framer_next(&c->fr, &pdu, &h)) == 1)
			fs_pdu(c, pdu, &h);
	}
	free(buf->base);
}

static void fs_on_conn(uv_stream_t *srv, int status)
{
	struct fs *s = srv->data;
	assert_int_equal(status, 0);
	struct fcli *c = calloc(1, sizeof *c);
	assert_non_null(c);
	c->s = s;
	smpp_framer_init(&c->fr);
	assert_int_equal(uv_tcp_init(s->loop, &c->tcp), 0);
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	int i;
	for (i = 0; i < FS_MAXCLI && s->cli[i]; i++)
		;
	assert_true(i < FS_MAXCLI);
	s->cli[i] = c;
	assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, fs_alloc, fs_read), 0);
}

static void fs_start(struct fs *s, uv_loop_t *loop)
{
	memset(s, 0, sizeof *s);
	s->loop = loop;
	struct sockaddr_in a;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
	assert_int_equal(uv_tcp_init(loop, &s->srv), 0);
	s->srv.data = s;
	assert_int_equal(uv_tcp_bind(&s->srv, (const struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->srv, 16, fs_on_conn), 0);
	struct sockaddr_storage got;
	int len = sizeof got;
	assert_int_equal(uv_tcp_getsockname(&s->srv, (struct sockaddr *)&got, &len), 0);
	s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void fs_drop_all(struct fs *s)
{
	for (int i = 0; i < FS_MAXCLI; i++)
		if (s->cli[i])
			fs_close_cli(s->cli[i]);
}

static void fs_stop(struct fs *s)
{
	fs_drop_all(s);
	uv_close((uv_handle_t *)&s->srv, NULL);
}

/* Answer everything held and stop holding. */
static void fs_release(struct fs *s)
{
	s->hold = 0;
	for (int i = 0; i < FS_MAXCLI; i++) {
		struct fcli *c = s->cli[i];
		if (!c)
			continue;
		for (int k = 0; k < c->nheld; k++)
			fs_submit_resp(c, 0, c->held[k]);
		c->nheld = 0;
	}
}

static struct fcli *fs_client(struct fs *s, uint32_t bind_cmd)
{
	for (int i = 0; i < FS_MAXCLI; i++)
		if (s->cli[i] && s->cli[i]->bind_cmd == bind_cmd)
			return s->cli[i];
	return NULL;
}

static int fs_nclients(const struct fs *s)
{
	int n = 0;
	for (int i = 0; i < FS_MAXCLI; i++)
		n += s->cli[i] != NULL;
	return n;
}

static void fs_deliver(struct fcli *c, uint32_t seq, const char *src, const char *text)
{
	struct smpp_sm sm;
	smpp_sm_init(&sm);
	sm.src.ton = 1;
	sm.src.npi = 1;
	snprintf(sm.src.addr, sizeof sm.src.addr, "%s", src);
	snprintf(sm.dst.addr, sizeof sm.dst.addr, "6249");
	sm.payload = (const uint8_t *)text;
	sm.payload_len = strlen(text);
	uint8_t buf[512];
	int n = smpp_encode_sm(buf, sizeof buf, SMPP_DELIVER_SM, seq, &sm);
	assert_true(n > 0);
	fs_send(c, buf, (size_t)n);
}

/* ---- the test context ---- */

struct tctx {
	uv_loop_t loop;
	uv_timer_t tick;
	struct fs fs;
	struct smpp_esme *e;
	struct smpp_esme_config cfg;
	int bound;
	int bound_calls;
	int saw_unbound; /* on_bound(0) after having been bound */
	int ncb;
	int status[32];
	char msgid[32][66];
	int ndeliver;
	uint64_t token[8];
	uint32_t dseq[8];
	char dtext[8][32];
	int dsession[8];
	int done;
	int done_pending_cbs; /* callbacks seen when done ran */
	/* on_confirmed (set only when with_confirmed) */
	int with_confirmed;
	int nconf;
	struct {
		int link;
		uint64_t upto;
		int lost;
	} conf[16];
};

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

#define RUN_UNTIL(c, cond, ms)                                                          \
	do {                                                                            \
		uv_update_time(&(c)->loop);                                             \
		uint64_t end_ = uv_now(&(c)->loop) + (ms);                              \
		uv_timer_start(&(c)->tick, on_tick, 5, 5);                              \
		while (!(cond) && uv_now(&(c)->loop) < end_)                            \
			uv_run(&(c)->loop, UV_RUN_ONCE);                                \
		uv_timer_stop(&(c)->tick);                                              \
	} while (0)
#define RUN_FOR(c, ms) RUN_UNTIL(c, 0, ms)

static void cb_bound(struct smpp_esme *e, int bound, void *data)
{
	(void)e;
	struct tctx *c = data;
	if (c->bound > 0 && bound == 0)
		c->saw_unbound++;
	c->bound = bound;
	c->bound_calls++;
}

static void cb_deliver(struct smpp_esme *e, const struct smpp_mo *mo, void *data)
{
	(void)e;
	struct tctx *c = data;
	assert_true(c->ndeliver < 8);
	int i = c->ndeliver++;
	c->token[i] = mo->token;
	c->dseq[i] = mo->seq;
	c->dsession[i] = mo->session;
	snprintf(c->dtext[i], sizeof c->dtext[i], "%.*s", (int)mo->sm.payload_len,
		 (const char *)mo->sm.payload);
	assert_string_equal(mo->sm.src.addr, "79001234567");
	assert_true(mo->pdu_len >= SMPP_HEADER_LEN);
}

static void cb_submit(struct smpp_esme *e, void *data, int status, const char *message_id)
{
	(void)e;
	struct tctx *c = data;
	assert_false(c->done);
	assert_true(c->ncb < 32);
	c->status[c->ncb] = status;
	snprintf(c->msgid[c->ncb], sizeof c->msgid[0], "%s", message_id ? message_id : "(null)");
	c->ncb++;
}

static void cb_confirmed(struct smpp_esme *e, int link, uint64_t upto, int lost, void *data)
{
	(void)e;
	struct tctx *c = data;
	assert_true(c->nconf < 16);
	c->conf[c->nconf].link = link;
	c->conf[c->nconf].upto = upto;
	c->conf[c->nconf].lost = lost;
	c->nconf++;
}

static void cb_done(struct smpp_esme *e, void *data)
{
	(void)e;
	struct tctx *c = data;
	c->done++;
	c->done_pending_cbs = c->ncb;
}

static struct tctx *ctx_new(void)
{
	struct tctx *c = calloc(1, sizeof *c);
	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	assert_int_equal(uv_timer_init(&c->loop, &c->tick), 0);
	fs_start(&c->fs, &c->loop);
	c->cfg = (struct smpp_esme_config){
		.host = "127.0.0.1",
		.port = c->fs.port,
		.system_id = "dialog",
		.password = "secret",
		.system_type = "",
		.tx_rx = 0,
		.sessions = 1,
		.window = 8,
		.tps = 0,
		.enquire_link_s = 1,
		.reconnect_max_s = 2,
		.response_timeout_s = 1,
	};
	return c;
}

static void ctx_start(struct tctx *c)
{
	struct smpp_esme_callbacks cbs = {.data = c, .on_deliver = cb_deliver, .on_bound = cb_bound};
	if (c->with_confirmed)
		cbs.on_confirmed = cb_confirmed;
	c->e = smpp_esme_start(&c->loop, &c->cfg, &cbs);
	assert_non_null(c->e);
}

static void ctx_start_bound(struct tctx *c, int want)
{
	ctx_start(c);
	RUN_UNTIL(c, c->bound == want, 3000);
	assert_int_equal(c->bound, want);
}

/* Stop, wait for done, free, close everything: uv_loop_close must be 0. */
static void ctx_finish(struct tctx *c)
{
	if (c->e) {
		smpp_esme_stop(c->e, cb_done, c);
		RUN_UNTIL(c, c->done, 5000);
		assert_int_equal(c->done, 1);
		smpp_esme_free(c->e);
	}
	fs_stop(&c->fs);
	uv_close((uv_handle_t *)&c->tick, NULL);
	assert_int_equal(uv_run(&c->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	free(c);
}

static int submit_text(struct tctx *c, const char *text)
{
	struct smpp_sm sm;
	smpp_sm_init(&sm);
	sm.src.ton = 5;
	snprintf(sm.src.addr, sizeof sm.src.addr, "6249");
	sm.dst.ton = 1;
	sm.dst.npi = 1;
	snprintf(sm.dst.addr, sizeof sm.dst.addr, "79001234567");
	sm.payload = (const uint8_t *)text;
	sm.payload_len = strlen(text);
	return smpp_esme_submit(c->e, &sm, cb_submit, c);
}

/* ---- tests ---- */

static void test_bad_arguments(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	struct smpp_esme_callbacks cbs = {.data = c};
	struct smpp_esme_config bad = c->cfg;
	bad.host = "smsc.example.net"; /* numeric addresses only */
	assert_null(smpp_esme_start(&c->loop, &bad, &cbs));
	bad = c->cfg;
	bad.window = 0;
	assert_null(smpp_esme_start(&c->loop, &bad, &cbs));
	bad = c->cfg;
	bad.password = "much-too-long";
	assert_null(smpp_esme_start(&c->loop, &bad, &cbs));
	ctx_finish(c);
}

static void test_bind_and_submit_ok(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	assert_int_equal(c->fs.binds_by_kind[0], 1);
	assert_string_equal(c->fs.last_system_id, "dialog");
	assert_string_equal(c->fs.last_password, "secret");
	assert_int_equal(submit_text(c, "hello"), 0);
	assert_int_equal(c->ncb, 0); /* never called from inside submit */
	RUN_UNTIL(c, c->ncb == 1, 2000);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], 0);
	assert_string_equal(c->msgid[0], "MSG1");
	assert_int_equal(smpp_esme_pending(c->e), 0);
	ctx_finish(c);
}

static void test_wrong_password_no_storm(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->fs.bind_status = SMPP_ESME_RINVPASWD;
	ctx_start(c);
	assert_int_equal(submit_text(c, "queued while unbound"), 0);
	RUN_FOR(c, 3200);
	/* attempts at ~0 s, 1 s, 3 s (backoff 1 s, 2 s = reconnect_max_s) */
	assert_true(c->fs.bind_attempts >= 2);
	assert_true(c->fs.bind_attempts <= 3);
	assert_int_equal(c->bound, 0);
	/* the queued submit was not failed while no link is bound */
	assert_int_equal(c->ncb, 0);
	assert_int_equal(smpp_esme_pending(c->e), 1);
	ctx_finish(c);
}

static void test_enquire_link_both_ways(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	assert_non_null(fc);
	fs_send_hdr(fc, SMPP_ENQUIRE_LINK, 0, 77);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_ENQUIRE_LINK_RESP, 77), 1000);
	const struct rec *r = fs_find(&c->fs, SMPP_ENQUIRE_LINK_RESP, 77);
	assert_non_null(r);
	assert_int_equal(r->status, 0);
	RUN_UNTIL(c, c->fs.enq_from_client >= 2, 2600);
	assert_true(c->fs.enq_from_client >= 2);
	assert_int_equal(c->fs.binds_ok, 1);
	ctx_finish(c);
}

static void test_link_drop_rebind(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	/* one submit in flight when the link dies: -ECONNRESET */
	c->fs.hold = 1;
	assert_int_equal(submit_text(c, "in flight"), 0);
	RUN_UNTIL(c, c->fs.submits == 1, 1000);
	assert_int_equal(c->fs.submits, 1);
	fs_drop_all(&c->fs);
	RUN_UNTIL(c, c->ncb == 1 && c->bound == 0, 1000);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], -ECONNRESET);
	assert_int_equal(c->bound, 0);
	assert_int_equal(c->saw_unbound, 1);
	/* submits made while down wait for the rebind, then go out */
	c->fs.hold = 0;
	assert_int_equal(submit_text(c, "after drop 1"), 0);
	assert_int_equal(submit_text(c, "after drop 2"), 0);
	RUN_UNTIL(c, c->ncb == 3, 3000);
	assert_int_equal(c->ncb, 3);
	assert_int_equal(c->status[1], 0);
	assert_int_equal(c->status[2], 0);
	assert_int_equal(c->fs.binds_ok, 2);
	assert_int_equal(c->bound, 1);
	assert_int_equal(c->fs.submits, 3);
	ctx_finish(c);
}

static void test_throttled_twice_then_accepted(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	c->fs.throttle_n = 2;
	assert_int_equal(submit_text(c, "x"), 0);
	RUN_UNTIL(c, c->ncb == 1, 2000);
	RUN_FOR(c, 300);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], 0);
	assert_int_equal(c->fs.submits, 3);
	ctx_finish(c);
}

static void test_throttle_keeps_order(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.window = 1;
	ctx_start_bound(c, 1);
	c->fs.throttle_n = 1;
	assert_int_equal(submit_text(c, "first"), 0);
	assert_int_equal(submit_text(c, "second"), 0);
	RUN_UNTIL(c, c->ncb == 2, 2000);
	assert_int_equal(c->ncb, 2);
	/* the throttled one went back at the head: it is accepted first */
	assert_string_equal(c->msgid[0], "MSG2");
	assert_string_equal(c->msgid[1], "MSG3");
	ctx_finish(c);
}

static void test_response_timeout(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	c->fs.hold = 1;
	uv_update_time(&c->loop);
	uint64_t t0 = uv_now(&c->loop);
	assert_int_equal(submit_text(c, "no answer"), 0);
	/* past response_timeout_s (1 s) it is only slow: no outcome yet */
	RUN_FOR(c, 2500);
	assert_int_equal(c->ncb, 0);
	/* given up after 6 x response_timeout_s */
	RUN_UNTIL(c, c->ncb == 1, 5000);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], -ETIMEDOUT);
	assert_true(uv_now(&c->loop) - t0 >= 5900);
	/* the late answer is ignored: still one callback */
	fs_release(&c->fs);
	RUN_FOR(c, 200);
	assert_int_equal(c->ncb, 1);
	ctx_finish(c);
}

/* A stalled SMSC that answers after response_timeout_s (but before the
 * give-up) has its answer taken: the submit was accepted, not lost. */
static void test_slow_response_accepted(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	c->fs.hold = 1;
	assert_int_equal(submit_text(c, "slow"), 0);
	RUN_FOR(c, 2000);
	assert_int_equal(c->ncb, 0);
	fs_release(&c->fs);
	RUN_UNTIL(c, c->ncb == 1, 2000);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], 0);
	ctx_finish(c);
}

static void test_window_respected(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.window = 2;
	ctx_start_bound(c, 1);
	c->fs.hold = 1;
	for (int i = 0; i < 5; i++)
		assert_int_equal(submit_text(c, "w"), 0);
	RUN_FOR(c, 300);
	assert_int_equal(c->fs.submits, 2);
	assert_int_equal(c->fs.max_outstanding, 2);
	assert_int_equal(smpp_esme_pending(c->e), 5);
	fs_release(&c->fs);
	RUN_UNTIL(c, c->ncb == 5, 2000);
	assert_int_equal(c->ncb, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(c->status[i], 0);
	assert_int_equal(c->fs.max_outstanding, 2);
	ctx_finish(c);
}

static void test_tps_limit(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.tps = 2;
	c->cfg.sessions = 2;
	ctx_start_bound(c, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(submit_text(c, "t"), 0);
	RUN_FOR(c, 400);
	assert_int_equal(c->fs.submits, 2); /* over both sessions */
	RUN_UNTIL(c, c->ncb == 4, 2000);
	assert_int_equal(c->ncb, 4);
	assert_int_equal(c->fs.binds_by_kind[0], 2);
	ctx_finish(c);
}

static void test_tx_rx_binds(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.tx_rx = 1;
	ctx_start_bound(c, 1);
	RUN_UNTIL(c, c->fs.binds_ok == 2, 1000);
	assert_int_equal(c->fs.binds_by_kind[0], 0);
	assert_int_equal(c->fs.binds_by_kind[1], 1);
	assert_int_equal(c->fs.binds_by_kind[2], 1);
	assert_int_equal(c->bound, 1); /* one session able to submit */
	assert_int_equal(fs_nclients(&c->fs), 2);
	assert_int_equal(submit_text(c, "via tx"), 0);
	RUN_UNTIL(c, c->ncb == 1, 1000);
	assert_int_equal(c->status[0], 0);
	assert_int_equal(c->fs.submits_on_tx, 1);
	struct fcli *rx = fs_client(&c->fs, SMPP_BIND_RECEIVER);
	assert_non_null(rx);
	fs_deliver(rx, 9, "79001234567", "on rx");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	assert_int_equal(c->ndeliver, 1);
	assert_string_equal(c->dtext[0], "on rx");
	assert_int_equal(c->dsession[0], 0);
	assert_int_equal(smpp_esme_respond(c->e, c->token[0], 0), 0);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 9), 1000);
	assert_non_null(fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 9));
	ctx_finish(c);
}

static void test_deliver_and_respond(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 500, "79001234567", "STOP");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	assert_int_equal(c->ndeliver, 1);
	assert_string_equal(c->dtext[0], "STOP");
	assert_int_equal(c->dseq[0], 500);
	/* no answer until the application responds */
	RUN_FOR(c, 100);
	assert_null(fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 500));
	assert_int_equal(smpp_esme_respond(c->e, c->token[0], SMPP_ESME_RX_T_APPN), 0);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 500), 1000);
	const struct rec *r = fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 500);
	assert_non_null(r);
	assert_int_equal(r->status, SMPP_ESME_RX_T_APPN);
	/* a second answer for the same token is refused */
	assert_int_equal(smpp_esme_respond(c->e, c->token[0], 0), -EINVAL);

	/* a token from before a reconnect is dead */
	fs_deliver(fc, 501, "79001234567", "LATE");
	RUN_UNTIL(c, c->ndeliver == 2, 1000);
	assert_int_equal(c->ndeliver, 2);
	fs_drop_all(&c->fs);
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	assert_int_equal(smpp_esme_respond(c->e, c->token[1], 0), -ENOTCONN);
	ctx_finish(c);
}

static void test_malformed_deliver_gets_error_resp(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	/* deliver_sm whose sm_length (200) runs past the end of the PDU */
	uint8_t b[128];
	size_t n = 16;
	const char *src = "79001234567", *dst = "6249";
	b[n++] = 0;                       /* service_type "" */
	b[n++] = 1; b[n++] = 1;           /* src ton, npi */
	memcpy(b + n, src, strlen(src) + 1); n += strlen(src) + 1;
	b[n++] = 0; b[n++] = 0;           /* dst ton, npi */
	memcpy(b + n, dst, strlen(dst) + 1); n += strlen(dst) + 1;
	b[n++] = 0; b[n++] = 0; b[n++] = 0; /* esm_class, protocol_id, priority */
	b[n++] = 0; b[n++] = 0;           /* schedule, validity */
	b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = 0; /* regdel, rip, dcs, defmsg */
	b[n++] = 200;                     /* sm_length */
	b[n++] = 'a'; b[n++] = 'b'; b[n++] = 'c';
	uint8_t hdr[16];
	smpp_encode_header_only(hdr, sizeof hdr, SMPP_DELIVER_SM, 0, 600);
	memcpy(b, hdr, 16);
	b[0] = (uint8_t)(n >> 24); b[1] = (uint8_t)(n >> 16); b[2] = (uint8_t)(n >> 8); b[3] = (uint8_t)n;
	struct smpp_sm sm;
	int want = smpp_decode_sm(b, n, &sm);
	assert_true(want < 0);
	fs_send(fc, b, n);
	/* and a PDU with an unknown command_id */
	fs_send_hdr(fc, 0x00000099u, 0, 601);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 600) &&
			     fs_find(&c->fs, SMPP_GENERIC_NACK, 601), 1000);
	const struct rec *r = fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 600);
	assert_non_null(r);
	assert_int_equal(r->status, (uint32_t)-want);
	r = fs_find(&c->fs, SMPP_GENERIC_NACK, 601);
	assert_non_null(r);
	assert_int_equal(r->status, SMPP_ESME_RINVCMDID);
	assert_int_equal(c->ndeliver, 0);
	/* the link stays up */
	fs_send_hdr(fc, SMPP_ENQUIRE_LINK, 0, 602);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_ENQUIRE_LINK_RESP, 602), 1000);
	assert_non_null(fs_find(&c->fs, SMPP_ENQUIRE_LINK_RESP, 602));
	assert_int_equal(c->fs.binds_ok, 1);
	assert_int_equal(c->fs.eofs, 0);
	assert_int_equal(c->bound, 1);
	ctx_finish(c);
}

static void test_impossible_command_length_closes(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	uint8_t h[16];
	smpp_encode_header_only(h, sizeof h, SMPP_DELIVER_SM, 0, 700);
	h[0] = 0x80; h[1] = 0; h[2] = 0; h[3] = 0; /* command_length 2^31 */
	fs_send(fc, h, sizeof h);
	RUN_UNTIL(c, c->fs.eofs == 1, 1000);
	assert_int_equal(c->fs.eofs, 1); /* the client closed the link */
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	assert_int_equal(c->saw_unbound, 1);
	ctx_finish(c);
}

static void test_dead_link_closes_and_rebinds(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	c->fs.mute = 1; /* enquire_link goes unanswered: no PDU at all */
	uv_update_time(&c->loop);
	uint64_t t0 = uv_now(&c->loop);
	RUN_UNTIL(c, c->fs.eofs == 1, 5000);
	assert_int_equal(c->fs.eofs, 1);
	/* 3 x enquire_link_s of silence, checked on the enquire_link tick */
	assert_true(uv_now(&c->loop) - t0 >= 2900);
	assert_true(uv_now(&c->loop) - t0 <= 4200);
	assert_int_equal(c->saw_unbound, 1);
	c->fs.mute = 0;
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	ctx_finish(c);
}

static void test_smsc_unbind_answered(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_send_hdr(fc, SMPP_UNBIND, 0, 800);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_UNBIND_RESP, 800), 1000);
	assert_non_null(fs_find(&c->fs, SMPP_UNBIND_RESP, 800));
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	ctx_finish(c);
}

static void test_stop_graceful(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.window = 1;
	ctx_start_bound(c, 1);
	c->fs.hold = 1;
	assert_int_equal(submit_text(c, "in flight"), 0);
	assert_int_equal(submit_text(c, "never sent"), 0);
	RUN_UNTIL(c, c->fs.submits == 1, 1000);
	smpp_esme_stop(c->e, cb_done, c);
	assert_int_equal(submit_text(c, "too late"), -ECANCELED);
	RUN_UNTIL(c, c->ncb == 1, 500);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], -ECANCELED); /* the queued one */
	/* a deliver_sm arriving while stopping is answered RX_T_APPN */
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 900, "79001234567", "late mo");
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 900), 500);
	const struct rec *r = fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 900);
	assert_non_null(r);
	assert_int_equal(r->status, SMPP_ESME_RX_T_APPN);
	assert_int_equal(c->ndeliver, 0);
	/* the in-flight one is waited for: no unbind yet */
	assert_int_equal(c->fs.unbinds, 0);
	assert_int_equal(c->done, 0);
	fs_release(&c->fs);
	RUN_UNTIL(c, c->done, 3000);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->ncb, 2);
	assert_int_equal(c->status[1], 0);
	assert_int_equal(c->done_pending_cbs, 2);
	assert_int_equal(c->fs.unbinds, 1);
	assert_int_equal(c->bound, 0);
	smpp_esme_free(c->e);
	c->e = NULL;
	ctx_finish(c); /* uv_loop_close() == 0 */
}

static void test_stop_while_unbound(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->fs.bind_status = SMPP_ESME_RBINDFAIL;
	ctx_start(c);
	RUN_UNTIL(c, c->fs.bind_attempts == 1, 1000);
	assert_int_equal(submit_text(c, "q"), 0);
	smpp_esme_stop(c->e, cb_done, c);
	RUN_UNTIL(c, c->done, 2000);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->ncb, 1);
	assert_int_equal(c->status[0], -ECANCELED);
	assert_int_equal(c->fs.unbinds, 0);
	smpp_esme_free(c->e);
	c->e = NULL;
	ctx_finish(c);
}

/* ---- confirmation of deliver_sm_resp (on_confirmed; engine/src/ack.c, R16) ---- */

/* A client for the confirmation tests: no periodic enquire_link in the way. */
static struct tctx *conf_ctx(void)
{
	struct tctx *c = ctx_new();
	c->cfg.enquire_link_s = 30;
	c->with_confirmed = 1;
	return c;
}

static void answer_held_enq(struct fcli *fc)
{
	for (int i = 0; i < fc->nheld_enq; i++)
		fs_send_hdr(fc, SMPP_ENQUIRE_LINK_RESP, 0, fc->held_enq[i]);
	fc->nheld_enq = 0;
}

static void test_no_confirm_enquire_without_callback(void **state)
{
	(void)state;
	struct tctx *c = ctx_new();
	c->cfg.enquire_link_s = 30;
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 5, "79001234567", "plain");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	assert_int_equal(smpp_esme_respond(c->e, c->token[0], 0), 0);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 5), 1000);
	RUN_FOR(c, 200);
	assert_non_null(fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 5));
	assert_int_equal(c->fs.enq_from_client, 0);
	ctx_finish(c);
}

/* R16: the enquire_link_resp after the deliver_sm_resp proves the SMSC read
 * them: on_confirmed(link, upto = last ordinal, lost = 0), once it is back. */
static void test_R16_confirm_after_enquire_link_resp(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	ctx_start_bound(c, 1);
	c->fs.hold_enq = 1;
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 10, "79001234567", "one");
	fs_deliver(fc, 11, "79001234567", "two");
	RUN_UNTIL(c, c->ndeliver == 2, 1000);
	assert_int_equal(c->ndeliver, 2);
	RUN_FOR(c, 50);
	assert_int_equal(c->fs.enq_from_client, 0); /* nothing to confirm yet */
	assert_int_equal(smpp_esme_token_link(c->token[0]), 0);

	uint64_t o1 = 0, o2 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o1), 0);
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[1], SMPP_ESME_ROK, &o2), 0);
	assert_true(o1 >= 1);
	assert_int_equal(o2, o1 + 1);
	/* already answered: no ordinal, no second response */
	uint64_t o_bad = 777;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[1], SMPP_ESME_ROK, &o_bad), -EINVAL);
	assert_int_equal(o_bad, 777);

	/* one enquire_link for the batch, written after both responses */
	RUN_UNTIL(c, fc->nheld_enq == 1, 1000);
	RUN_FOR(c, 100);
	assert_int_equal(fc->nheld_enq, 1);
	assert_int_equal(c->fs.enq_from_client, 1);
	int i10 = fs_index(&c->fs, SMPP_DELIVER_SM_RESP, 10);
	int i11 = fs_index(&c->fs, SMPP_DELIVER_SM_RESP, 11);
	int ie = fs_index(&c->fs, SMPP_ENQUIRE_LINK, fc->held_enq[0]);
	assert_true(i10 >= 0 && i11 > i10 && ie > i11);
	/* not confirmed while the SMSC has not answered */
	assert_int_equal(c->nconf, 0);

	/* a response written while that enquire_link is out is not covered
	 * by it, and no second enquire_link goes out meanwhile */
	fs_deliver(fc, 12, "79001234567", "three");
	RUN_UNTIL(c, c->ndeliver == 3, 1000);
	uint64_t o3 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[2], SMPP_ESME_ROK, &o3), 0);
	assert_int_equal(o3, o2 + 1);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 12), 1000);
	RUN_FOR(c, 100);
	assert_int_equal(c->fs.enq_from_client, 1);

	answer_held_enq(fc);
	RUN_UNTIL(c, c->nconf == 1, 1000);
	assert_int_equal(c->nconf, 1);
	assert_int_equal(c->conf[0].link, 0);
	assert_int_equal(c->conf[0].upto, o2);
	assert_int_equal(c->conf[0].lost, 0);

	/* then one for the rest; an enquire_link_resp with another sequence
	 * number confirms nothing */
	RUN_UNTIL(c, fc->nheld_enq == 1, 1000);
	assert_int_equal(fc->nheld_enq, 1);
	assert_int_equal(c->fs.enq_from_client, 2);
	fs_send_hdr(fc, SMPP_ENQUIRE_LINK_RESP, 0, fc->held_enq[0] + 1000);
	RUN_FOR(c, 100);
	assert_int_equal(c->nconf, 1);
	c->fs.hold_enq = 0;
	answer_held_enq(fc);
	RUN_UNTIL(c, c->nconf == 2, 1000);
	assert_int_equal(c->nconf, 2);
	assert_int_equal(c->conf[1].upto, o3);
	assert_int_equal(c->conf[1].lost, 0);
	/* everything confirmed: no more enquire_link */
	int enq = c->fs.enq_from_client;
	RUN_FOR(c, 200);
	assert_int_equal(c->fs.enq_from_client, enq);
	assert_int_equal(c->nconf, 2);
	ctx_finish(c);
}

/* R16: the SMSC closes the link before answering the enquire_link: the
 * responses after the last confirmed one may be unread (lost = 1). */
static void test_R16_lost_when_closed_unanswered(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 20, "79001234567", "read");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	uint64_t o1 = 0, o2 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o1), 0);
	RUN_UNTIL(c, c->nconf == 1, 1000);
	assert_int_equal(c->nconf, 1);
	assert_int_equal(c->conf[0].upto, o1);
	assert_int_equal(c->conf[0].lost, 0);

	c->fs.hold_enq = 1;
	fs_deliver(fc, 21, "79001234567", "maybe unread");
	RUN_UNTIL(c, c->ndeliver == 2, 1000);
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[1], SMPP_ESME_ROK, &o2), 0);
	assert_true(o2 > o1);
	RUN_UNTIL(c, fc->nheld_enq == 1, 1000);
	assert_int_equal(fc->nheld_enq, 1);
	assert_int_equal(c->nconf, 1);

	fs_drop_all(&c->fs);
	RUN_UNTIL(c, c->nconf == 2, 1000);
	assert_int_equal(c->nconf, 2);
	assert_int_equal(c->conf[1].link, 0);
	assert_int_equal(c->conf[1].lost, 1);
	assert_int_equal(c->conf[1].upto, o1);
	assert_true(c->conf[1].upto < o2);
	/* reported once; the rebind brings nothing more */
	c->fs.hold_enq = 0;
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	RUN_FOR(c, 100);
	assert_int_equal(c->nconf, 2);
	ctx_finish(c);
}

/* Nothing read yet when the link goes: upto is 0. */
static void test_R16_lost_before_any_confirm(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	ctx_start_bound(c, 1);
	c->fs.hold_enq = 1;
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 25, "79001234567", "first");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	uint64_t o1 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o1), 0);
	RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 25), 1000);
	assert_non_null(fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 25));
	fs_drop_all(&c->fs);
	RUN_UNTIL(c, c->nconf == 1, 1000);
	assert_int_equal(c->nconf, 1);
	assert_int_equal(c->conf[0].lost, 1);
	assert_int_equal(c->conf[0].upto, 0);
	assert_true(c->conf[0].upto < o1);
	c->fs.hold_enq = 0;
	ctx_finish(c);
}

/* The unbind_resp of a graceful stop proves every response before the
 * unbind was read. */
static void test_R16_unbind_resp_confirms_all(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	ctx_start_bound(c, 1);
	c->fs.hold_enq = 1;
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 30, "79001234567", "a");
	fs_deliver(fc, 31, "79001234567", "b");
	RUN_UNTIL(c, c->ndeliver == 2, 1000);
	uint64_t o1 = 0, o2 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o1), 0);
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[1], SMPP_ESME_ROK, &o2), 0);
	RUN_UNTIL(c, fc->nheld_enq == 1, 1000);
	assert_int_equal(fc->nheld_enq, 1); /* never answered */
	assert_int_equal(c->nconf, 0);
	smpp_esme_stop(c->e, cb_done, c);
	RUN_UNTIL(c, c->done, 3000);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->fs.unbinds, 1);
	int iu = fs_index_id(&c->fs, SMPP_UNBIND);
	assert_true(iu >= 0);
	assert_true(fs_index(&c->fs, SMPP_DELIVER_SM_RESP, 31) < iu);
	assert_int_equal(c->nconf, 1);
	assert_int_equal(c->conf[0].link, 0);
	assert_int_equal(c->conf[0].upto, o2);
	assert_int_equal(c->conf[0].lost, 0);
	smpp_esme_free(c->e);
	c->e = NULL;
	ctx_finish(c);
}

/* Ordinals are per link and keep growing over reconnects; a drop with
 * everything confirmed reports nothing. */
static void test_R16_ordinals_grow_across_reconnect(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 40, "79001234567", "before");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	uint64_t o1 = 0, o2 = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o1), 0);
	RUN_UNTIL(c, c->nconf == 1, 1000);
	assert_int_equal(c->conf[0].upto, o1);
	fs_drop_all(&c->fs);
	RUN_UNTIL(c, c->fs.binds_ok == 2 && c->bound == 1, 3000);
	assert_int_equal(c->fs.binds_ok, 2);
	assert_int_equal(c->nconf, 1); /* nothing was unconfirmed */

	fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	assert_non_null(fc);
	fs_deliver(fc, 40, "79001234567", "after"); /* the same sequence number */
	RUN_UNTIL(c, c->ndeliver == 2, 1000);
	assert_int_equal(c->ndeliver, 2);
	assert_true(c->token[1] != c->token[0]);
	assert_int_equal(smpp_esme_token_link(c->token[1]), 0);
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[1], SMPP_ESME_ROK, &o2), 0);
	assert_int_equal(o2, o1 + 1);
	RUN_UNTIL(c, c->nconf == 2, 1000);
	assert_int_equal(c->nconf, 2);
	assert_int_equal(c->conf[1].link, 0);
	assert_int_equal(c->conf[1].upto, o2);
	assert_int_equal(c->conf[1].lost, 0);
	ctx_finish(c);
}

/* tx_rx: MOs come on the receiver link; the token and on_confirmed name the
 * same link index. */
static void test_R16_confirm_names_rx_link(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	c->cfg.tx_rx = 1;
	ctx_start_bound(c, 1);
	RUN_UNTIL(c, c->fs.binds_ok == 2, 1000);
	struct fcli *rx = fs_client(&c->fs, SMPP_BIND_RECEIVER);
	assert_non_null(rx);
	fs_deliver(rx, 50, "79001234567", "on rx");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	assert_int_equal(c->ndeliver, 1);
	assert_int_equal(smpp_esme_token_link(c->token[0]), 1);
	uint64_t o = 0;
	assert_int_equal(smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o), 0);
	assert_int_equal(o, 1);
	RUN_UNTIL(c, c->nconf == 1, 1000);
	assert_int_equal(c->nconf, 1);
	assert_int_equal(c->conf[0].link, 1);
	assert_int_equal(c->conf[0].upto, o);
	assert_int_equal(c->conf[0].lost, 0);
	ctx_finish(c);
}

/* A response written after the unbind (the stop's drain expired while an
 * MO was still unanswered) is not covered by the unbind_resp: the SMSC
 * answered the unbind before it read that response. */
static void test_R16_response_after_unbind_not_confirmed(void **state)
{
	(void)state;
	struct tctx *c = conf_ctx();
	c->cfg.response_timeout_s = 1; /* the stop's drain limit */
	ctx_start_bound(c, 1);
	struct fcli *fc = fs_client(&c->fs, SMPP_BIND_TRANSCEIVER);
	fs_deliver(fc, 60, "79001234567", "slow commit");
	RUN_UNTIL(c, c->ndeliver == 1, 1000);
	c->fs.hold_unbind = 1;
	smpp_esme_stop(c->e, cb_done, c);
	RUN_UNTIL(c, fc->has_held_unbind, 3000);
	assert_int_equal(fc->has_held_unbind, 1);
	uint32_t unbind_seq = fc->held_unbind;
	/* the commit finishes now: the answer goes out after the unbind */
	uint64_t o = 0;
	int rc = smpp_esme_respond_ord(c->e, c->token[0], SMPP_ESME_ROK, &o);
	assert_true(rc == 0 || rc == -ENOTCONN);
	if (rc == 0) {
		RUN_UNTIL(c, fs_find(&c->fs, SMPP_DELIVER_SM_RESP, 60), 1000);
		assert_true(fs_index(&c->fs, SMPP_DELIVER_SM_RESP, 60) >
			    fs_index(&c->fs, SMPP_UNBIND, unbind_seq));
	}
	fs_send_hdr(fc, SMPP_UNBIND_RESP, 0, unbind_seq); /* fc goes away after this */
	RUN_UNTIL(c, c->done, 3000);
	assert_int_equal(c->done, 1);
	if (rc == 0) {
		int reported_lost = 0;
		for (int i = 0; i < c->nconf; i++) {
			/* never claimed read */
			assert_false(c->conf[i].lost == 0 && c->conf[i].upto >= o);
			if (c->conf[i].lost && c->conf[i].upto < o)
				reported_lost = 1;
		}
		assert_true(reported_lost);
	}
	smpp_esme_free(c->e);
	c->e = NULL;
	ctx_finish(c);
}

int main(void)
{
	eng_log_set_level(getenv("ESME_TEST_DEBUG") ? ENG_LOG_DEBUG : ENG_LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_bind_and_submit_ok),
		cmocka_unit_test(test_wrong_password_no_storm),
		cmocka_unit_test(test_enquire_link_both_ways),
		cmocka_unit_test(test_link_drop_rebind),
		cmocka_unit_test(test_throttled_twice_then_accepted),
		cmocka_unit_test(test_throttle_keeps_order),
		cmocka_unit_test(test_response_timeout),
		cmocka_unit_test(test_slow_response_accepted),
		cmocka_unit_test(test_window_respected),
		cmocka_unit_test(test_tps_limit),
		cmocka_unit_test(test_tx_rx_binds),
		cmocka_unit_test(test_deliver_and_respond),
		cmocka_unit_test(test_malformed_deliver_gets_error_resp),
		cmocka_unit_test(test_impossible_command_length_closes),
		cmocka_unit_test(test_dead_link_closes_and_rebinds),
		cmocka_unit_test(test_smsc_unbind_answered),
		cmocka_unit_test(test_stop_graceful),
		cmocka_unit_test(test_stop_while_unbound),
		cmocka_unit_test(test_no_confirm_enquire_without_callback),
		cmocka_unit_test(test_R16_confirm_after_enquire_link_resp),
		cmocka_unit_test(test_R16_lost_when_closed_unanswered),
		cmocka_unit_test(test_R16_lost_before_any_confirm),
		cmocka_unit_test(test_R16_unbind_resp_confirms_all),
		cmocka_unit_test(test_R16_ordinals_grow_across_reconnect),
		cmocka_unit_test(test_R16_confirm_names_rx_link),
		cmocka_unit_test(test_R16_response_after_unbind_not_confirmed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
