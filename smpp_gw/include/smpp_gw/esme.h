/* smpp_gw/esme.h — the SMPP 3.4 client (ESME) that dialogd uses, on libuv.
 *
 * `sessions` parallel sessions to one SMSC; each is one bind_transceiver, or
 * (bind = tx_rx) a bind_transmitter + bind_receiver pair. Per session:
 * enquire_link every enquire_link_s and a dead-link timeout (no PDU at all
 * for 3 x enquire_link_s closes the link); reconnect with exponential backoff
 * from 1 s to reconnect_max_s (a refused bind — wrong password — is logged
 * once per attempt as an error and backs off the same way: no storm); at most
 * `window` outstanding submit_sm per session, each with a response timer;
 * at most `tps` submit_sm per second over all sessions (0 = no limit);
 * ESME_RTHROTTLED / ESME_RMSGQFUL -> the submit is put back at the head of the
 * queue and sending pauses (100 ms doubling up to 5 s); malformed or unknown
 * PDUs get generic_nack (or the matching error _resp) and the link stays up;
 * an impossible command_length closes the link.
 *
 * Async contract (libuv's): if a call returns an error, its callback never
 * runs; otherwise it runs exactly once.
 */
#ifndef SMPP_GW_ESME_H
#define SMPP_GW_ESME_H

#include <stdint.h>
#include <uv.h>

#include "smpp_gw/pdu.h"

struct smpp_esme;

struct smpp_esme_config {
	const char *host;
	int port;
	const char *system_id;
	const char *password;
	const char *system_type;
	int tx_rx;              /* 0: transceiver; 1: transmitter + receiver */
	int sessions;           /* >= 1 */
	int window;             /* >= 1 */
	int tps;                /* 0 = unlimited */
	int enquire_link_s;
	int reconnect_max_s;
	int response_timeout_s;
};

/* An MO handed to the application. Valid only during the callback except
 * `token`, which the application keeps to answer. */
struct smpp_mo {
	uint64_t token;          /* identifies (link, generation, sequence) */
	int session;
	uint32_t seq;
	const uint8_t *pdu;      /* the raw PDU, header included */
	size_t pdu_len;
	struct smpp_sm sm;       /* decoded; sm.payload points into pdu */
};

/* Final outcome of a submit. status is an SMPP command_status (0 = accepted,
 * message_id set), or a negative errno: -ETIMEDOUT (no response within
 * 6 x response_timeout_s: after response_timeout_s a submit is only logged
 * as slow, because a stalled SMSC may still accept it), -ECONNRESET (link lost while in flight: the SMSC may or
 * may not have it), -ECANCELED (the client is stopping). */
typedef void (*smpp_submit_cb)(struct smpp_esme *e, void *data, int status,
			       const char *message_id);

struct smpp_esme_callbacks {
	void *data;
	/* A deliver_sm (MO or receipt) arrived and decoded cleanly. The
	 * application must call smpp_esme_respond() exactly once for it, now or
	 * later. */
	void (*on_deliver)(struct smpp_esme *e, const struct smpp_mo *mo, void *data);
	/* The number of bound sessions able to submit changed. */
	void (*on_bound)(struct smpp_esme *e, int bound, void *data);
	/* (optional) What the SMSC provably read. With this set, a link that
	 * wrote deliver_sm_resp sends an enquire_link after them; its response
	 * proves every response before it arrived (one TCP stream, read in
	 * order; an unbind_resp proves the same). Called with lost = 0 when the
	 * responses of link `link` up to ordinal `upto` (see
	 * smpp_esme_respond_ord) are confirmed, and with lost = 1 when the link
	 * was lost: responses after `upto` may never have been read, and the
	 * SMSC may redeliver those deliver_sm. */
	void (*on_confirmed)(struct smpp_esme *e, int link, uint64_t upto, int lost, void *data);
};

/* Create a client on `loop` and start connecting. Returns NULL on bad
 * arguments or out of memory. `cfg` strings are copied. */
struct smpp_esme *smpp_esme_start(uv_loop_t *loop, const struct smpp_esme_config *cfg,
				  const struct smpp_esme_callbacks *cb);

/* Answer a deliver_sm. Returns 0, or -ENOTCONN when its link is gone (the
 * SMSC will redeliver it; nothing to do). */
int smpp_esme_respond(struct smpp_esme *e, uint64_t token, uint32_t status);
/* The same; on success *ord (if not NULL) is the response's ordinal on its
 * link, for on_confirmed. */
int smpp_esme_respond_ord(struct smpp_esme *e, uint64_t token, uint32_t status, uint64_t *ord);
/* The link (0-based, as on_confirmed names it) a deliver_sm token came on. */
int smpp_esme_token_link(uint64_t token);

/* Queue a submit_sm (copied). Returns 0 (cb will run exactly once), or
 * -ECANCELED when stopping, -EINVAL for a message that cannot be encoded. */
int smpp_esme_submit(struct smpp_esme *e, const struct smpp_sm *sm, smpp_submit_cb cb,
		     void *data);

/* Submits queued or in flight. */
int smpp_esme_pending(const struct smpp_esme *e);

/* Graceful stop: new deliver_sm are answered ESME_RX_T_APPN, queued submits
 * that were never sent fail with -ECANCELED, in-flight submits and
 * unanswered deliver_sm are waited for (at most response_timeout_s), then
 * every link unbinds (waiting for unbind_resp at most 2 s) and closes; then
 * `done` runs and the handle may be freed with smpp_esme_free(). */
void smpp_esme_stop(struct smpp_esme *e, void (*done)(struct smpp_esme *e, void *data),
		    void *data);
void smpp_esme_free(struct smpp_esme *e);

#endif
