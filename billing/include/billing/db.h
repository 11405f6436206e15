/* billing/db.h — synchronous libpq helpers for dialogctl and the batch jobs.
 *
 * The daemon talks to PostgreSQL asynchronously through its event loop; these
 * helpers are for the programs that may block: they connect, upgrade the
 * schema, and run one statement at a time, translating SQLSTATEs into the
 * project's negative errno-style codes where they enter:
 *
 *   23505 unique_violation        -> -EEXIST   (an idempotency key: "already done")
 *   23503 foreign_key_violation   -> -ENOENT
 *   23514 check_violation, 22xxx  -> -EINVAL
 *   40001, 40P01 (serialization)  -> -EAGAIN   (retry the transaction)
 *   55P03 lock_not_available      -> -EBUSY
 *   P0001 raise_exception         -> -EPERM    (e.g. the append-only ledger)
 *   08xxx, 57P0x, a lost connection -> -ECONNREFUSED
 *   anything else                 -> -EIO
 */
#ifndef BILLING_DB_H
#define BILLING_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct eng_config;

/* Port of the project's local cluster (scripts/pg.sh). */
#define BILL_LOCAL_PG_PORT 54329

/* The conninfo to use (interfaces.md, dialogctl --db): `flag` if not NULL,
 * else $DIALOG_DB, else cfg->db.conninfo if non-empty (cfg may be NULL),
 * else "" (libpq's PG* environment) if any of PGHOST, PGHOSTADDR, PGDATABASE,
 * PGSERVICE is set, else the local cluster
 * "host=<var>/pg/run port=54329 user=dialog dbname=dialog" where <var> is
 * $DIALOG_VAR or the build's DIALOG_VAR_DIR. The result is copied to `buf`
 * (truncated to bufsz) and `buf` is returned. */
const char *bill_conninfo_resolve(const char *flag, const struct eng_config *cfg,
				  char *buf, size_t bufsz);

/* Connect (blocking) with application_name "dialog", client_encoding UTF8,
 * TimeZone UTC and client_min_messages warning. Returns the connection, or
 * NULL with libpq's message, on one line, in `err`. */
PGconn *bill_connect(const char *conninfo, char *err, size_t errsz);

/* Same with another application_name (e.g. "dialogctl"). */
PGconn *bill_connect_as(const char *conninfo, const char *appname, char *err, size_t errsz);

/* Bring the schema up to the newest embedded migration (billing/schema.h).
 * Each migration runs in its own transaction that first takes a
 * transaction-level advisory lock, so two concurrent runs serialise and the
 * second finds nothing to do. `from` / `to` (may be NULL) receive the version
 * before and after. Returns 0 or a negative code with a message in `err`. */
int bill_schema_upgrade(PGconn *c, int *from, int *to, char *err, size_t errsz);

/* Translate a SQLSTATE (may be NULL) to a negative code as listed above. */
int bill_sqlstate_errno(const char *sqlstate);

/* The error of a failed result (or of the connection when `r` is NULL),
 * translated; the message, on one line, goes to `err`. */
int bill_result_error(PGconn *c, const PGresult *r, char *err, size_t errsz);

/* Run one statement with text parameters (NULL entries are SQL NULL).
 * On success returns 0 and, if `out` is not NULL, hands the result over
 * (the caller PQclear()s it). On failure returns a negative code, sets
 * `*out` to NULL and writes the message to `err`. */
int bill_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
	      PGresult **out, char *err, size_t errsz);

/* Run a parameterless statement (or several; simple query protocol). */
int bill_exec0(PGconn *c, const char *sql, char *err, size_t errsz);

int bill_begin(PGconn *c, char *err, size_t errsz);
int bill_commit(PGconn *c, char *err, size_t errsz);
/* Always safe; errors are ignored. */
void bill_rollback(PGconn *c);

/* Copy `in` to `out` as one line: newlines and tabs become spaces, runs of
 * spaces collapse, surrounding space is trimmed. Returns out. */
char *bill_one_line(const char *in, char *out, size_t outsz);

#endif
