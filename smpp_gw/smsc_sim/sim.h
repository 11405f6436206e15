/* smsc_sim/sim.h — smsc-sim internals (private to the program).
 *
 * One libuv loop, one thread. server.c owns the listener, the ESME
 * connections, the SMPP server state machine, MT reassembly, receipts and
 * the table of outstanding requests; the modes (interactive.c, script.c,
 * load.c) drive it and are told about events through the hooks below.
 */
#ifndef SMSC_SIM_SIM_H
#define SMSC_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "script.h"
#include "smpp_gw/pdu.h"

enum sim_mode {
	SIM_MODE_INTERACTIVE,
	SIM_MODE_SCRIPT,
	SIM_MODE_LOAD,
};

enum sim_bind {
	SIM_BIND_NONE = 0,
	SIM_BIND_TX,
	SIM_BIND_RX,
	SIM_BIND_TRX,
};
const char *sim_bind_name(enum sim_bind b);

struct sim_conn {
	uv_tcp_t tcp;           /* first: the handle's memory is the conn's */
	struct sim *sim;
	struct sim_conn *prev, *next;
	uint32_t id;
	enum sim_bind bound;
	bool closing;
	struct smpp_framer fr;
};

/* What an outstanding request we sent is. */
enum sim_req_kind {
	SIM_REQ_MO = 1,    /* one deliver_sm (part) of an MO */
	SIM_REQ_RAW,       /* a deliver_sm written by `raw` */
	SIM_REQ_RECEIPT,   /* a delivery receipt */
	SIM_REQ_ENQUIRE,   /* enquire_link */
};

struct sim_req {
	uint32_t seq;
	uint8_t kind;      /* enum sim_req_kind; 0 = free slot */
	uint8_t tag;       /* mode-specific (load: 1 = measured) */
	int32_t mo;        /* index in sim.mos, or -1 */
	uint32_t conn_id;
	uint64_t sent_ns;
	uint32_t ud;       /* mode-specific (load: the MO's id), from sim.mo_ud */
};

/* An MO as the script/interactive modes track it (all its parts). */
struct sim_mo {
	unsigned nparts;
	unsigned answered;
	uint32_t status;   /* ROK when every part got ROK, else the first error */
	bool nack;         /* answered by generic_nack */
	bool checked;      /* consumed by expect-resp / expect-resps */
	uint64_t sent_ns;
	uint64_t done_ns;
};

/* A reassembled MT (one submit_sm, or all parts of a concatenated one). */
struct sim_mt {
	struct sim_mt *next;
	char from[21];
	char to[21];
	uint8_t dcs;       /* data_coding of the (first) part */
	uint8_t esm;
	unsigned parts;
	uint32_t conn_id;
	char first_msg_id[16];
	char *text;        /* UTF-8 */
};

/* A concatenated MT being reassembled. */
struct sim_partial {
	struct sim_partial *next;
	char from[21];
	char to[21];
	uint16_t ref;
	uint8_t total;
	uint8_t got;
	uint8_t dcs;
	uint8_t esm;
	uint32_t conn_id;
	char first_msg_id[16];
	uint64_t first_ns;
	char *parts[255];
};

struct sim_opts {
	enum sim_mode mode;
	const char *listen;
	const char *system_id;
	const char *password;
	const char *script;
	const char *port_file;
	int64_t timeout_ms;          /* default expectation timeout */
	enum sim_receipts receipts;
	bool verbose;
	/* load */
	double rate;
	double duration_s;
	double warmup_s;
	double drain_s;
	double bind_wait_s;
	long pairs;
	double p2p_ratio;
	long window;
	const char *short_code;
	uint64_t seed;
	const char *log_file;        /* load: event log (docs/smsc-sim.md) */
	const char *pairs_file;      /* load: the population, "A B" a line */
	int64_t mo_timeout_ms;       /* load: an MO unanswered this long is given up (0 = never) */
	const char *invite_pairs_file; /* load: pairs "A B" to invite (A invites B, B accepts) */
	double invite_rate;          /* load: invitations per second (0 = none) */
	bool redeliver;              /* load: resend lost MOs, retry temporary errors */
	const char *control;         /* FIFO path for fault commands (control.c), or NULL */
};

/* A submit_sm held by `stall`, answered when the stall ends. */
struct sim_held {
	struct sim_held *next;
	uint32_t conn_id;
	struct smpp_hdr h;
	uint8_t pdu[];
};

struct sim {
	uv_loop_t *loop;
	struct sim_opts opt;
	uv_tcp_t listener;
	bool listening;
	uv_signal_t sigint, sigterm;
	uint64_t t0_ns;
	bool stopping;
	int exit_code;

	/* server state */
	struct sim_conn *conns;      /* live connections, oldest first */
	struct sim_conn *conns_tail;
	uint32_t next_conn_id;
	char password[9];
	unsigned refuse_binds;
	unsigned throttle;
	unsigned fail_submit;
	uint32_t fail_status;
	enum sim_receipts receipts;
	unsigned long msg_id;
	uint32_t next_seq;
	uint32_t mo_ud;              /* stamped as `ud` on the deliver_sm sent next */
	uint32_t last_mo_seq;        /* sequence number of the last deliver_sm sent */
	uint8_t next_ref;
	unsigned rr;
	unsigned long binds_ok;
	unsigned long submits;
	unsigned long nack_events;   /* generic_nack / error resps received */
	unsigned long peer_closes;   /* connections the ESME closed */
	uint8_t rbuf[65536];

	/* timed faults (--control): active while uv_hrtime() < the deadline */
	uint64_t refuse_until_ns;
	uint64_t throttle_until_ns;
	uint64_t stall_until_ns;
	struct sim_held *held, *held_tail; /* submit_sm held by a stall */
	size_t held_n;
	void *control;               /* control.c state, or NULL */

	/* outstanding requests: open addressing on seq */
	struct sim_req *reqs;
	size_t reqs_cap;             /* power of two */
	size_t reqs_n;

	/* MOs (script / interactive) */
	struct sim_mo *mos;
	size_t mos_n, mos_cap;

	/* received MTs not yet consumed (script mode) */
	struct sim_mt *mt_head, *mt_tail;
	struct sim_partial *partials;

	/* mode hooks (any may be NULL) */
	void *mode_data;
	/* a reassembled MT; the hook owns it (free with sim_mt_free) */
	void (*on_mt)(struct sim *s, struct sim_mt *mt);
	/* a response to one of our requests (req already removed) */
	void (*on_resp)(struct sim *s, const struct sim_req *rq, uint32_t cmd,
			uint32_t status, uint64_t now_ns);
	/* a request whose connection closed before it was answered */
	void (*on_lost)(struct sim *s, const struct sim_req *rq);
	/* something changed: a bind, a close, a nack ... */
	void (*on_event)(struct sim *s);
	/* a --control command was applied (normalised text, e.g. "throttle 5") */
	void (*on_control)(struct sim *s, const char *cmd);
	/* the loop is stopping: close the mode's handles */
	void (*on_stop)(struct sim *s);
	/* after the loop ended: free mode_data */
	void (*on_free)(struct sim *s);
};

/* main.c */
void sim_stop(struct sim *s, int code);
double sim_elapsed(const struct sim *s);
/* Transcript output on stdout (line-buffered). */
void sim_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Diagnostics on stderr: "sim EVENT t=S.sss ...". */
void sim_log(const struct sim *s, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* server.c */
int sim_server_start(struct sim *s);
void sim_server_stop(struct sim *s);
void sim_server_free(struct sim *s);
/* Number of live connections bound as anything / able to receive deliver_sm. */
unsigned sim_count_bound(const struct sim *s);
unsigned sim_count_rx(const struct sim *s);
struct sim_conn *sim_first_conn(struct sim *s);
struct sim_conn *sim_first_bound(struct sim *s);
struct sim_conn *sim_first_rx(struct sim *s);
void sim_close_all(struct sim *s);
/* Send an MO as one or more deliver_sm (GSM 03.38 if it fits, else UCS-2,
 * concatenated when long) over the next receiver connection. `mo` is an
 * index from sim_mo_new or -1. Returns the number of parts, -ENOTCONN when
 * no receiver is bound, or another negative error. */
int sim_send_mo_text(struct sim *s, const char *from, const char *to, const char *utf8,
		     int32_t mo, uint8_t tag);
/* One deliver_sm with this data_coding / esm_class / payload. */
int sim_send_mo_raw(struct sim *s, const char *from, const char *to, uint8_t dcs,
		    uint8_t esm, const uint8_t *payload, size_t n, int32_t mo);
/* Write bytes as they are to a connection. Requests found in them (walked by
 * command_length) are registered as SIM_REQ_RAW for `mo`. */
int sim_send_raw(struct sim *s, struct sim_conn *c, const uint8_t *bytes, size_t n,
		 int32_t mo);
/* End a stall: answer the held submit_sm whose connection is still up (in
 * arrival order); those of closed connections are dropped. */
void sim_release_held(struct sim *s);
/* enquire_link to c; returns the sequence number used or negative. */
int64_t sim_send_enquire(struct sim *s, struct sim_conn *c);
bool sim_req_pending(const struct sim *s, uint32_t seq);
int32_t sim_mo_new(struct sim *s);
size_t sim_reqs_pending(const struct sim *s);
void sim_mt_free(struct sim_mt *mt);
/* "MT 6249 -> 79161234567 [ucs2, 2 parts]: text" into buf. */
void sim_mt_format(const struct sim_mt *mt, char *buf, size_t bufsz);
const char *sim_dcs_name(uint8_t dcs);

/* control.c: the --control FIFO (started before the listener, stopped by
 * sim_stop). */
int sim_control_start(struct sim *s);
void sim_control_stop(struct sim *s);

/* interactive.c / script.c / load.c */
int sim_interactive_start(struct sim *s);
int sim_script_start(struct sim *s);
int sim_load_start(struct sim *s);

#endif
