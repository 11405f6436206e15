/* billing/src/db.c — synchronous libpq helpers (see billing/db.h). */
#include "billing/db.h"
#include "billing/schema.h"
#include "engine/config.h"
#include "engine/fsm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DIALOG_VAR_DIR
#define DIALOG_VAR_DIR "var"
#endif

/* Key of the advisory lock that serialises schema upgrades ("dialogdb"). */
#define SCHEMA_LOCK_KEY "7308612063315977826"

static void set_err(char *err, size_t errsz, const char *msg)
{
	if (err && errsz)
		bill_one_line(msg ? msg : "", err, errsz);
}

char *bill_one_line(const char *in, char *out, size_t outsz)
{
	size_t n = 0;
	int space = 0;

	if (!outsz)
		return out;
	for (; in && *in; in++) {
		char ch = *in;
		if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
			space = n > 0;
			continue;
		}
		if (space) {
			if (n + 1 >= outsz)
				break;
			out[n++] = ' ';
			space = 0;
		}
		if (n + 1 >= outsz)
			break;
		out[n++] = ch;
	}
	out[n] = '\0';
	return out;
}

static int env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

const char *bill_conninfo_resolve(const char *flag, const struct eng_config *cfg,
				  char *buf, size_t bufsz)
{
	const char *v;

	if (!bufsz)
		return buf;
	if (flag) {
		snprintf(buf, bufsz, "%s", flag);
		return buf;
	}
	v = getenv("DIALOG_DB");
	if (v && *v) {
		snprintf(buf, bufsz, "%s", v);
		return buf;
	}
	if (cfg && cfg->db.conninfo[0]) {
		snprintf(buf, bufsz, "%s", cfg->db.conninfo);
		return buf;
	}
	if (env_set("PGHOST") || env_set("PGHOSTADDR") || env_set("PGDATABASE") ||
	    env_set("PGSERVICE")) {
		buf[0] = '\0';
		return buf;
	}
	v = getenv("DIALOG_VAR");
	if (!v || !*v)
		v = DIALOG_VAR_DIR;
	/* A directory with spaces or quotes needs conninfo quoting. */
	if (strpbrk(v, " '\\")) {
		char q[1024];
		size_t n = 0;
		for (; *v && n + 2 < sizeof(q); v++) {
			if (*v == '\'' || *v == '\\')
				q[n++] = '\\';
			q[n++] = *v;
		}
		q[n] = '\0';
		snprintf(buf, bufsz, "host='%s/pg/run' port=%d user=dialog dbname=dialog", q,
			 BILL_LOCAL_PG_PORT);
	} else {
		snprintf(buf, bufsz, "host=%s/pg/run port=%d user=dialog dbname=dialog", v,
			 BILL_LOCAL_PG_PORT);
	}
	return buf;
}

int bill_sqlstate_errno(const char *st)
{
	if (!st || strlen(st) != 5)
		return -EIO;
	if (!strcmp(st, "23505"))
		return -EEXIST;
	if (!strcmp(st, "23503"))
		return -ENOENT;
	if (!strcmp(st, "23514") || !strcmp(st, "23502") || !strncmp(st, "22", 2))
		return -EINVAL;
	if (!strcmp(st, "40001") || !strcmp(st, "40P01"))
		return -EAGAIN;
	if (!strcmp(st, "55P03"))
		return -EBUSY;
	if (!strcmp(st, "P0001"))
		return -EPERM;
	if (!strncmp(st, "08", 2) || !strncmp(st, "57P0", 4))
		return -ECONNREFUSED;
	return -EIO;
}

int bill_result_error(PGconn *c, const PGresult *r, char *err, size_t errsz)
{
	const char *msg = NULL;
	const char *st = NULL;

	if (r) {
		msg = PQresultErrorMessage(r);
		st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	}
	if (!msg || !*msg)
		msg = c ? PQerrorMessage(c) : "no connection";
	set_err(err, errsz, msg && *msg ? msg : "database error");
	if (!c || PQstatus(c) != CONNECTION_OK)
		return -ECONNREFUSED;
	if (!st)
		return r ? -EIO : -ECONNREFUSED;
	return bill_sqlstate_errno(st);
}

static PGconn *connect_params(const char *conninfo, const char *appname, char *err,
			      size_t errsz)
{
	const char *keys[] = {"dbname", "application_name", "client_encoding", NULL};
	const char *vals[] = {conninfo ? conninfo : "", appname, "UTF8", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (!c) {
		set_err(err, errsz, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		set_err(err, errsz, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *bill_connect_as(const char *conninfo, const char *appname, char *err, size_t errsz)
{
	PGconn *c = connect_params(conninfo, appname && *appname ? appname : "dialog", err, errsz);

	if (!c)
		return NULL;
	if (bill_exec0(c, "SET TimeZone = 'UTC'; SET client_min_messages = warning", err,
		       errsz) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *bill_connect(const char *conninfo, char *err, size_t errsz)
{
	return bill_connect_as(conninfo, "dialog", err, errsz);
}

int bill_exec(PGconn *c, const char *sql, int nparams, const char *const *params,
	      PGresult **out, char *err, size_t errsz)
{
	PGresult *r;
	ExecStatusType st;

	if (out)
		*out = NULL;
	if (!c)
		return bill_result_error(NULL, NULL, err, errsz);
	r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int rc = bill_result_error(c, r, err, errsz);
		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

int bill_exec0(PGconn *c, const char *sql, char *err, size_t errsz)
{
	PGresult *r;
	ExecStatusType st;
	int rc = 0;

	if (!c)
		return bill_result_error(NULL, NULL, err, errsz);
	r = PQexec(c, sql);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = bill_result_error(c, r, err, errsz);
	PQclear(r);
	return rc;
}

int bill_begin(PGconn *c, char *err, size_t errsz)
{
	return bill_exec0(c, "BEGIN", err, errsz);
}

int bill_commit(PGconn *c, char *err, size_t errsz)
{
	int rc = bill_exec0(c, "COMMIT", err, errsz);
	if (rc < 0)
		bill_rollback(c);
	return rc;
}

void bill_rollback(PGconn *c)
{
	if (c && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
}

/* In an open transaction: lock, make sure schema_version exists, read the
 * current version into *cur. */
static int lock_and_read(PGconn *c, int *cur, char *err, size_t errsz)
{
	PGresult *r = NULL;
	int rc;

	rc = bill_exec0(c,
			"SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ");"
			"CREATE TABLE IF NOT EXISTS schema_version ("
			" version integer PRIMARY KEY,"
			" name text NOT NULL,"
			" applied_at timestamptz NOT NULL DEFAULT now())",
			err, errsz);
	if (rc < 0)
		return rc;
	rc = bill_exec(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &r,
		       err, errsz);
	if (rc < 0)
		return rc;
	*cur = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* Re-fill dialog_transition from the C table (engine/fsm.h), so that the
 * table in engine/src/base/fsm.c stays the single source of the transitions
 * the database trigger allows. One transaction under the schema lock (two
 * concurrent runs would otherwise both delete, then both insert). Skipped
 * when the table does not exist yet. */
static int sync_transitions(PGconn *c, char *err, size_t errsz)
{
	PGresult *r = NULL;
	char *sql = NULL;
	size_t sqlsz = 0;
	FILE *f;
	int rc, exists;

	rc = bill_begin(c, err, errsz);
	if (rc < 0)
		return rc;
	rc = bill_exec(c,
		       "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY "),"
		       " to_regclass('dialog_transition') IS NOT NULL",
		       0, NULL, &r, err, errsz);
	if (rc < 0)
		goto fail;
	exists = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (exists) {
		f = open_memstream(&sql, &sqlsz);
		if (!f) {
			set_err(err, errsz, "dialog_transition: out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		eng_fsm_write_sql(f);
		if (fclose(f) != 0 || !sql) {
			free(sql);
			set_err(err, errsz, "dialog_transition: out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		rc = bill_exec0(c, sql, err, errsz);
		free(sql);
		if (rc < 0)
			goto fail;
	}
	return bill_commit(c, err, errsz);
fail:
	bill_rollback(c);
	return rc;
}

static int upgrade_locked(PGconn *c, int *from, int *to, char *err, size_t errsz)
{
	int first = -1, cur = 0, rc, i;
	char emsg[512];

	/* Always at least one pass, so that an empty migration list still
	 * creates schema_version and reports the version. */
	for (i = 0; i == 0 || i < bill_migrations_n; i++) {
		const struct bill_migration *m = i < bill_migrations_n ? &bill_migrations[i] : NULL;

		rc = bill_begin(c, err, errsz);
		if (rc < 0)
			return rc;
		rc = lock_and_read(c, &cur, err, errsz);
		if (rc < 0)
			goto fail;
		if (first < 0)
			first = cur;
		/* Applied unless recorded: a migration merged with a lower number
		 * than one already applied still runs (forward-only, any order). */
		int applied = 1;
		char ver[16];
		const char *p[2] = {ver, m ? m->name : ""};
		if (m) {
			PGresult *q = NULL;
			snprintf(ver, sizeof(ver), "%d", m->version);
			rc = bill_exec(c, "SELECT 1 FROM schema_version WHERE version = $1", 1, p, &q,
				       err, errsz);
			if (rc < 0)
				goto fail;
			applied = PQntuples(q) > 0;
			PQclear(q);
		}
		if (m && !applied) {

			rc = bill_exec0(c, m->sql, emsg, sizeof(emsg));
			if (rc < 0) {
				if (err && errsz)
					snprintf(err, errsz, "%s: %s", m->name, emsg);
				goto fail;
			}
			rc = bill_exec(c, "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
				       2, p, NULL, err, errsz);
			if (rc < 0)
				goto fail;
			if (m->version > cur)
				cur = m->version;
		}
		rc = bill_commit(c, err, errsz);
		if (rc < 0)
			return rc;
	}
	rc = sync_transitions(c, err, errsz);
	if (rc < 0)
		return rc;
	if (from)
		*from = first;
	if (to)
		*to = cur;
	return 0;
fail:
	bill_rollback(c);
	return rc;
}

int bill_schema_upgrade(PGconn *c, int *from, int *to, char *err, size_t errsz)
{
	PGresult *r;
	int rc;

	/* A session-level hold of the same lock across all the migrations and
	 * the dialog_transition sync: with several migrations, a concurrent run
	 * would otherwise slip in between two of them and report a partial
	 * "from". (Each transaction still takes the transaction-level lock.) */
	rc = bill_exec0(c, "SELECT pg_advisory_lock(" SCHEMA_LOCK_KEY ")", err, errsz);
	if (rc < 0)
		return rc;
	rc = upgrade_locked(c, from, to, err, errsz);
	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, "SELECT pg_advisory_unlock(" SCHEMA_LOCK_KEY ")");
		PQclear(r);
	}
	return rc;
}
