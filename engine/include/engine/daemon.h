/* engine/daemon.h — dialogd's engine: the SMPP client and the PostgreSQL
 * queue on one libuv loop, and what happens to each deliver_sm.
 *
 * Every inbound deliver_sm is recorded in PostgreSQL (mo_inbound) together
 * with its effect — for a command to the short code, the reply queued in the
 * outbox — in one transaction, and only then acknowledged ESME_ROK. While the
 * database cannot take it the answer is ESME_RX_T_APPN so that the SMSC
 * retries. Replies are sent from the outbox after the commit; rows left
 * queued by a crash are sent when the database is next reachable.
 */
#ifndef ENGINE_DAEMON_H
#define ENGINE_DAEMON_H

#include <uv.h>

#include "engine/config.h"

struct eng_daemon;

/* Start on `loop` with the given configuration (copied) and database. */
struct eng_daemon *eng_daemon_start(uv_loop_t *loop, const struct eng_config *cfg,
				    const char *conninfo);

/* Graceful stop: take no new messages (ESME_RX_T_APPN), finish what is in
 * flight, unbind, close the database; then `done` runs. */
void eng_daemon_stop(struct eng_daemon *d, void (*done)(void *data), void *data);
/* Non-zero when the daemon stopped because it must not run (another dialogd
 * serves the same database). */
int eng_daemon_failed(const struct eng_daemon *d);
void eng_daemon_free(struct eng_daemon *d);

#endif
