/* billing/pgq.h — PostgreSQL from inside dialogd's event loop.
 *
 * One non-blocking libpq connection joined to the libuv loop through a
 * uv_poll_t on PQsocket(). Work is submitted as jobs (a few statements that
 * must commit together). Once per loop turn — just before the loop sleeps —
 * every queued job goes out in ONE pipelined transaction:
 *
 *     BEGIN; <job 1 statements>; <job 2 statements>; ...; COMMIT; Sync
 *
 * so N messages cost one round trip and one WAL flush (group commit), and
 * the loop never blocks. While a batch is in flight new jobs gather for the
 * next one. If a statement of a batch fails, the batch is rolled back and its
 * jobs are retried one per transaction, so that one bad job cannot fail its
 * neighbours.
 *
 * Async contract (libuv's): bill_pgq_submit() always takes the job, and its
 * callback runs exactly once, never from inside bill_pgq_submit(), with
 *   0            committed; the results of each statement are passed;
 *   -EAGAIN      the database is unavailable (not connected, or the
 *                connection was lost before the commit was confirmed — the
 *                work may or may not be committed: make jobs idempotent);
 *   -EINVAL      a statement failed (the job alone, in its own transaction);
 *                bill_pgq_error() has the message and SQLSTATE;
 *   -ECANCELED   the queue is closing.
 */
#ifndef BILLING_PGQ_H
#define BILLING_PGQ_H

#include <libpq-fe.h>
#include <uv.h>

struct bill_pgq;
struct bill_pgq_job;

/* results[i] is the result of statement i (NULL unless status is 0). Valid
 * only during the callback. */
typedef void (*bill_pgq_cb)(void *data, int status, PGresult *const *results, int nresults);

/* Create the queue and start connecting (reconnects by itself with back-off
 * 0.5 s .. 5 s whenever the connection fails). `on_state` (may be NULL) is
 * told when the connection comes up (1) or goes down (0). */
struct bill_pgq *bill_pgq_new(uv_loop_t *loop, const char *conninfo,
			      void (*on_state)(void *data, int up), void *data);

/* 1 when connected and ready. */
int bill_pgq_up(const struct bill_pgq *q);

/* Jobs queued or in flight. */
int bill_pgq_pending(const struct bill_pgq *q);

/* A new job with its callback. NULL on out of memory. */
struct bill_pgq_job *bill_pgq_job_new(bill_pgq_cb cb, void *data);

/* Add a statement: `sql` must stay valid until the callback has run (a
 * string literal); the parameter values (text format, NULL for SQL NULL) are
 * copied. Returns 0 or -ENOMEM. */
int bill_pgq_job_add(struct bill_pgq_job *j, const char *sql, int nparams,
		     const char *const *values);

/* Queue the job (always taken; see the contract above). */
void bill_pgq_submit(struct bill_pgq *q, struct bill_pgq_job *j);

/* LISTEN on `channel` (a plain identifier) on this and every later
 * connection; notifications go to `cb` (channel, payload). After a
 * reconnect notifications may have been missed: `on_state(up=1)` tells the
 * owner to forget what it cached. */
void bill_pgq_listen(struct bill_pgq *q, const char *channel,
		     void (*cb)(void *data, const char *channel, const char *payload), void *data);

/* Called once per loop turn just before the queue sends its next batch, so
 * that the owner can add the jobs it accumulated during the turn (e.g. one
 * multi-row job for many messages). */
void bill_pgq_before_batch(struct bill_pgq *q, void (*cb)(void *data), void *data);

/* Message and SQLSTATE of the last -EINVAL, for the callback to log. */
const char *bill_pgq_error(const struct bill_pgq *q);
const char *bill_pgq_sqlstate(const struct bill_pgq *q);

/* Stop: queued jobs that never went out get -ECANCELED, the batch in flight
 * completes; then the connection is finished, every handle closed, and
 * `done` runs. Free with bill_pgq_free() after that. */
void bill_pgq_close(struct bill_pgq *q, void (*done)(void *data), void *data);
void bill_pgq_free(struct bill_pgq *q);

#endif
