/* relay.h — relaying and rating of subscriber-to-subscriber SMS (private to
 * the engine; see relay.c). */
#ifndef ENGINE_RELAY_H
#define ENGINE_RELAY_H

#include <uv.h>

#include "billing/pgq.h"
#include "engine/config.h"
#include "smpp_gw/esme.h"

struct eng_relay;

struct eng_relay *eng__relay_new(uv_loop_t *loop, struct bill_pgq *db,
				 const struct eng_config *cfg);
/* The SMPP client to relay through (set once it exists). */
void eng__relay_set_esme(struct eng_relay *r, struct smpp_esme *e);
/* Where committed relays are watched until the SMSC read their answer
 * (ack.c); `fp` of eng__relay_mo is the MO's fingerprint. */
struct eng_ack;
void eng__relay_set_ack(struct eng_relay *r, struct eng_ack *a);

/* A P2P deliver_sm from subscriber number `src` (canonical). The relay
 * answers it (smpp_esme_respond) exactly once: ESME_ROK after the relay was
 * accepted by the SMSC and recorded; ESME_RX_R_APPN when it cannot be rated
 * (D8) or paid (R17); ESME_RX_T_APPN when it could not be relayed or
 * recorded now. */
void eng__relay_mo(struct eng_relay *r, const struct smpp_mo *mo, const char *src, uint64_t fp);

/* The database connection (re)started: what was cached about subscribers
 * and dialogs may be stale. */
void eng__relay_db_up(struct eng_relay *r);
/* A 'dialog_cache' notification. */
void eng__relay_notify(struct eng_relay *r, const char *payload);
/* Once per loop turn before a batch of queue `q` goes out (q idle): the
 * relays confirmed so far become one job on q. With several recording
 * connections each calls this when idle, so a batch goes to whichever is
 * free. */
void eng__relay_before_batch(struct eng_relay *r, struct bill_pgq *q);

/* Messages being rated, relayed or recorded. */
int eng__relay_inflight(const struct eng_relay *r);
void eng__relay_free(struct eng_relay *r);

#endif
