/* dialogctl/export.c — `bill export` (R18: the ledger handed to the
 * operator's billing system exactly once, as a documented CSV,
 * docs/billing-export.md) and `account credit` (an idempotent top-up).
 *
 * Export: one transaction, under a transaction advisory lock, creates a
 * batch of every ledger entry not yet in ledger_export, writes the batch's
 * CSV to a temporary file beside --out, commits, then renames the file into
 * place. The CSV of a batch is a pure function of the (append-only) ledger
 * and the batch's membership, so `--reexport N` writes the same bytes. */
#include "ctl.h"

#include "billing/db.h"
#include "engine/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Serialises exports (pg_advisory_xact_lock). */
#define BILL_EXPORT_LOCK_KEY "7091318301067930818"
/* Rows fetched per round trip from the batch cursor. */
#define EXPORT_FETCH 2000

#define CSV_HEADER                                                                         \
	"entry_id,msisdn,contract,kind,amount_kop,currency,bill_date,dialog_id,created_at," \
	"idem_key,rule,refund_of,batch_id"

/* The CSV columns (docs/billing-export.md), in order, from a batch's rows:
 * every value as text whatever the session's DateStyle or TimeZone. */
#define EXPORT_SELECT                                                                      \
	"SELECT l.id, l.msisdn, s.contract, l.kind, l.amount, 'RUB',"                      \
	" to_char(l.bill_date, 'YYYY-MM-DD'), l.dialog_id,"                                \
	" to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"      \
	" l.idem_key, l.rule, l.refund_of, e.batch_id"                                     \
	" FROM ledger_export e JOIN ledger l ON l.id = e.entry_id"                         \
	" JOIN subscriber s ON s.id = l.subscriber_id"                                     \
	" WHERE e.batch_id = "
#define EXPORT_NCOLS 13

static const char *val(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col)
{
	const char *s = val(r, row, col);
	return s ? strtoll(s, NULL, 10) : 0;
}

/* --- the output file --------------------------------------------------- */

struct outfile {
	const char *path; /* --out */
	char *tmp;        /* the temporary file beside it */
	FILE *f;
};

/* Create the temporary file in --out's directory. 0 or -errno. */
static int out_open(struct outfile *o, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
	const char *base = slash ? slash + 1 : path;
	size_t n = dlen + strlen(base) + 16;
	mode_t um;
	int fd;

	o->path = path;
	o->f = NULL;
	o->tmp = malloc(n);
	if (!o->tmp)
		return -ENOMEM;
	snprintf(o->tmp, n, "%.*s.%s.XXXXXX", (int)dlen, path, base);
	fd = mkstemp(o->tmp);
	if (fd < 0) {
		int e = errno;
		free(o->tmp);
		o->tmp = NULL;
		return -e;
	}
	um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int e = errno;
		close(fd);
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -e;
	}
	return 0;
}

/* Flush, sync and close the temporary file. 0 or -errno. */
static int out_close(struct outfile *o)
{
	int rc = 0;

	if (!o->f)
		return 0;
	if (fflush(o->f) != 0 || ferror(o->f))
		rc = -(errno ? errno : EIO);
	else if (fsync(fileno(o->f)) != 0)
		rc = -errno;
	if (fclose(o->f) != 0 && rc == 0)
		rc = -errno;
	o->f = NULL;
	return rc;
}

/* Drop the temporary file (after a failure). */
static void out_discard(struct outfile *o)
{
	if (o->f) {
		fclose(o->f);
		o->f = NULL;
	}
	if (o->tmp) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
	}
}

/* Rename the temporary file into place. 0 or -errno (the temporary file is
 * removed either way). */
static int out_commit(struct outfile *o)
{
	int rc = 0;

	if (rename(o->tmp, o->path) != 0) {
		rc = -errno;
		unlink(o->tmp);
	} else {
		/* make the rename durable; best effort */
		const char *slash = strrchr(o->path, '/');
		char *dir = slash ? strndup(o->path, (size_t)(slash - o->path) + 1) : strdup(".");
		int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
		free(dir);
	}
	free(o->tmp);
	o->tmp = NULL;
	return rc;
}

/* One CSV field (RFC 4180): quoted only when it holds a comma, a quote or a
 * line break; quotes doubled. NULL is the empty field. */
static void csv_field(FILE *f, const char *s, bool last)
{
	if (s && strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else if (s) {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

/* Write the header and the rows of batch `batch` (0: header only) from a
 * cursor, in the caller's transaction. Returns the number of rows written,
 * or a negative code: for a file error -errno, with *file_err set; else a
 * database code with the message in err. */
static int64_t write_batch(struct ctl *x, FILE *f, int64_t batch, bool *file_err, char *err,
			   size_t errsz)
{
	char sql[1024];
	int64_t n = 0;
	int rc;

	*file_err = false;
	if (fputs(CSV_HEADER "\r\n", f) == EOF) {
		*file_err = true;
		return errno ? -errno : -EIO;
	}
	if (batch <= 0)
		return 0;
	snprintf(sql, sizeof(sql), "DECLARE export_rows NO SCROLL CURSOR FOR " EXPORT_SELECT
		 "%" PRId64 " ORDER BY l.id",
		 batch);
	if ((rc = bill_exec0(x->db, sql, err, errsz)) < 0)
		return rc;
	for (;;) {
		PGresult *r = NULL;
		int rows;

		rc = bill_exec(x->db, "FETCH " CTL_STR(EXPORT_FETCH) " FROM export_rows", 0, NULL,
			       &r, err, errsz);
		if (rc < 0)
			return rc;
		rows = PQntuples(r);
		if (PQnfields(r) != EXPORT_NCOLS) {
			PQclear(r);
			snprintf(err, errsz, "unexpected export columns");
			return -EIO;
		}
		for (int i = 0; i < rows; i++)
			for (int c = 0; c < EXPORT_NCOLS; c++)
				csv_field(f, val(r, i, c), c == EXPORT_NCOLS - 1);
		PQclear(r);
		n += rows;
		if (ferror(f)) {
			*file_err = true;
			return errno ? -errno : -EIO;
		}
		if (rows < EXPORT_FETCH)
			break;
	}
	bill_exec0(x->db, "CLOSE export_rows", err, errsz);
	return n;
}

static void print_result(struct ctl *x, int64_t batch, int64_t entries, int64_t total,
			 const char *file, bool reexport)
{
	char m[64];

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_key(&j, "batch");
		if (batch > 0)
			ctl_json_int(&j, batch);
		else
			ctl_json_null(&j);
		ctl_json_kint(&j, "entries", entries);
		ctl_json_kint(&j, "amount_total", total);
		ctl_json_kstr(&j, "file", file);
		ctl_json_key(&j, "reexport");
		ctl_json_bool(&j, reexport);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else if (batch <= 0) {
		fprintf(x->out, "no new entries: %s has the header only (R18)\n", file);
	} else {
		fprintf(x->out, "%s batch %" PRId64 ": %" PRId64 " entries, total %s -> %s (R18)\n",
			reexport ? "re-exported" : "exported", batch, entries,
			ctl_fmt_money(total, m, sizeof(m)), file);
	}
}

static int file_fail(struct outfile *o, int rc, const char *what)
{
	const char *path = o->path;

	out_discard(o);
	return ctl_fail(CTL_USAGE, "bill export: cannot %s %s: %s", what, path, strerror(-rc));
}

static int reexport(struct ctl *x, const char *out, int64_t batch)
{
	struct outfile o;
	char idbuf[24], err[1024];
	PGresult *r = NULL;
	int64_t entries, total, n;
	bool ferr;
	int rc;

	if (!ctl_db(x))
		return CTL_DB;
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, batch);
	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
		return ctl_db_fail(rc, err);
	{
		const char *p[1] = {idbuf};
		rc = bill_exec(x->db, "SELECT entries, amount_total FROM export_batch WHERE id = $1::bigint",
			       1, p, &r, err, sizeof(err));
	}
	if (rc < 0) {
		bill_rollback(x->db);
		return ctl_db_fail(rc, err);
	}
	if (PQntuples(r) != 1) {
		PQclear(r);
		bill_rollback(x->db);
		return ctl_fail(CTL_NOTFOUND, "bill export: batch %" PRId64 " not found", batch);
	}
	entries = ival(r, 0, 0);
	total = ival(r, 0, 1);
	PQclear(r);
	if ((rc = out_open(&o, out)) < 0) {
		bill_rollback(x->db);
		return ctl_fail(CTL_USAGE, "bill export: cannot write %s: %s", out, strerror(-rc));
	}
	n = write_batch(x, o.f, batch, &ferr, err, sizeof(err));
	bill_rollback(x->db); /* read only */
	if (n < 0 && ferr)
		return file_fail(&o, (int)n, "write");
	if (n < 0) {
		out_discard(&o);
		return ctl_db_fail((int)n, err);
	}
	if (n != entries) {
		out_discard(&o);
		return ctl_fail(CTL_DB, "bill export: batch %" PRId64 " has %" PRId64
				" entries, read %" PRId64, batch, entries, n);
	}
	if ((rc = out_close(&o)) < 0)
		return file_fail(&o, rc, "write");
	if ((rc = out_commit(&o)) < 0)
		return ctl_fail(CTL_USAGE, "bill export: cannot rename the file into %s: %s", out,
				strerror(-rc));
	print_result(x, batch, entries, total, out, true);
	return CTL_OK;
}

int ctl_cmd_bill_export(struct ctl *x)
{
	const char *out = ctl_optval(x, "out");
	const char *re = ctl_optval(x, "reexport");
	struct outfile o;
	char now[40], err[1024];
	PGresult *r = NULL;
	int64_t batch = 0, entries = 0, total = 0, n;
	bool ferr;
	int rc;

	if (ctl_blank(out))
		return ctl_fail(CTL_USAGE, "bill export: --out FILE.csv is required");
	if (out[strlen(out) - 1] == '/')
		return ctl_fail(CTL_USAGE, "bill export: --out %s names a directory, not a file", out);
	if (re) {
		if (ctl_parse_id(re, &batch) < 0)
			return ctl_fail(CTL_USAGE, "bill export: --reexport: \"%s\" is not a batch id",
					re);
		return reexport(x, out, batch);
	}

	/* The file first: an unwritable path marks nothing exported. */
	if ((rc = out_open(&o, out)) < 0)
		return ctl_fail(CTL_USAGE, "bill export: cannot write %s: %s", out, strerror(-rc));
	if (!ctl_db(x)) {
		out_discard(&o);
		return CTL_DB;
	}
	eng_now_param(now);
	if ((rc = bill_begin(x->db, err, sizeof(err))) < 0 ||
	    (rc = bill_exec0(x->db, "SELECT pg_advisory_xact_lock(" BILL_EXPORT_LOCK_KEY ")", err,
			     sizeof(err))) < 0) {
		bill_rollback(x->db);
		out_discard(&o);
		return ctl_db_fail(rc, err);
	}
	/* Taken after the lock: a statement that sees every batch committed
	 * before it. One snapshot picks the entries, makes the batch and marks
	 * them (ledger_export's primary key forbids a second hand-over). */
	{
		const char *p[3] = {now, ctl_agent(x), out};
		rc = bill_exec(x->db,
			       "WITH sel AS MATERIALIZED ("
			       "  SELECT l.id, l.amount FROM ledger l"
			       "   WHERE NOT EXISTS (SELECT 1 FROM ledger_export e WHERE e.entry_id = l.id)),"
			       " b AS ("
			       "  INSERT INTO export_batch (created_at, agent, file_name, entries,"
			       "                            amount_total, first_entry, last_entry)"
			       "  SELECT $1::timestamptz, $2, $3, count(*), sum(amount), min(id), max(id)"
			       "    FROM sel HAVING count(*) > 0"
			       "  RETURNING id, entries, amount_total),"
			       " m AS ("
			       "  INSERT INTO ledger_export (entry_id, batch_id)"
			       "  SELECT sel.id, b.id FROM sel CROSS JOIN b RETURNING 1)"
			       " SELECT b.id, b.entries, b.amount_total, (SELECT count(*) FROM m) FROM b",
			       3, p, &r, err, sizeof(err));
	}
	if (rc < 0) {
		bill_rollback(x->db);
		out_discard(&o);
		return ctl_db_fail(rc, err);
	}
	if (PQntuples(r) == 1) {
		batch = ival(r, 0, 0);
		entries = ival(r, 0, 1);
		total = ival(r, 0, 2);
		if (ival(r, 0, 3) != entries) {
			PQclear(r);
			bill_rollback(x->db);
			out_discard(&o);
			return ctl_fail(CTL_DB, "bill export: batch marking inconsistent; rolled back");
		}
	}
	PQclear(r);

	n = write_batch(x, o.f, batch, &ferr, err, sizeof(err));
	if (n < 0) {
		bill_rollback(x->db);
		if (ferr)
			return file_fail(&o, (int)n, "write");
		out_discard(&o);
		return ctl_db_fail((int)n, err);
	}
	if (n != entries) {
		bill_rollback(x->db);
		out_discard(&o);
		return ctl_fail(CTL_DB, "bill export: batch has %" PRId64 " entries, wrote %" PRId64
				"; rolled back", entries, n);
	}
	if ((rc = out_close(&o)) < 0) {
		bill_rollback(x->db);
		return file_fail(&o, rc, "write");
	}
	if (batch > 0 && (rc = bill_commit(x->db, err, sizeof(err))) < 0) {
		out_discard(&o);
		return ctl_fail(CTL_DB, "bill export: commit failed, nothing exported: %s", err);
	}
	if (batch <= 0)
		bill_rollback(x->db); /* nothing was written */
	if ((rc = out_commit(&o)) < 0) {
		if (batch <= 0)
			return ctl_fail(CTL_USAGE, "bill export: cannot rename the file into %s: %s",
					out, strerror(-rc));
		return ctl_fail(CTL_DB,
				"bill export: batch %" PRId64 " (%" PRId64 " entries) is committed as "
				"exported, but the file could not be put in place at %s: %s; write it "
				"with 'dialogctl bill export --reexport %" PRId64 " --out FILE'",
				batch, entries, out, strerror(-rc), batch);
	}
	print_result(x, batch, entries, total, out, false);
	return CTL_OK;
}

/* --- account credit ---------------------------------------------------- */

static int credit_out(struct ctl *x, const char *msisdn, int64_t amount, const char *ref,
		      const char *acct, int64_t balance, bool already)
{
	char m[64], b[64];

	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "msisdn", msisdn);
		ctl_json_kint(&j, "amount", amount);
		ctl_json_kstr(&j, "ref", ref);
		ctl_json_kstr(&j, "account_type", acct);
		ctl_json_kint(&j, "balance", balance);
		ctl_json_key(&j, "already");
		ctl_json_bool(&j, already);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else if (already) {
		fprintf(x->out, "already credited (ref %s): %s to %s; balance %s\n", ref,
			ctl_fmt_money(amount, m, sizeof(m)), msisdn, ctl_fmt_money(balance, b, sizeof(b)));
	} else {
		fprintf(x->out, "credited %s to %s (%s, ref %s); balance now %s\n",
			ctl_fmt_money(amount, m, sizeof(m)), msisdn, acct, ref,
			ctl_fmt_money(balance, b, sizeof(b)));
	}
	return CTL_OK;
}

int ctl_cmd_account_credit(struct ctl *x)
{
	const char *ref = ctl_optval(x, "ref");
	char msisdn[12], now[40], err[1024], amt[24], sid[24];
	char acct[16] = "";
	int64_t amount = 0, balance;
	PGresult *r = NULL;
	int rc, attempt;

	if (ctl_parse_msisdn(ctl_arg(x, 0), msisdn) < 0)
		return CTL_USAGE;
	if (ctl_parse_kop("KOP", ctl_arg(x, 1), &amount) < 0)
		return CTL_USAGE;
	if (amount <= 0)
		return ctl_fail(CTL_USAGE, "account credit: the amount must be a positive number of "
				"kopecks");
	if (ctl_blank(ref))
		return ctl_fail(CTL_USAGE, "account credit: --ref REF is required (the top-up's "
				"reference makes it idempotent)");
	if (!ctl_db(x))
		return CTL_DB;
	snprintf(amt, sizeof(amt), "%" PRId64, amount);
	eng_now_param(now);

	/* Two attempts: a concurrent first use of the same ref (for another
	 * number) loses on the primary key and is then judged as a repeat. */
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = bill_begin(x->db, err, sizeof(err))) < 0)
			return ctl_db_fail(rc, err);
		/* The subscriber's row lock serialises every balance change. */
		{
			const char *p[1] = {msisdn};
			rc = bill_exec(x->db,
				       "SELECT id, account_type, balance FROM subscriber"
				       " WHERE msisdn = $1 AND retired_at IS NULL FOR UPDATE",
				       1, p, &r, err, sizeof(err));
		}
		if (rc < 0)
			goto db_fail;
		if (PQntuples(r) != 1) {
			PQclear(r);
			bill_rollback(x->db);
			return ctl_fail(CTL_NOTFOUND, "subscriber %s not found", msisdn);
		}
		snprintf(sid, sizeof(sid), "%s", PQgetvalue(r, 0, 0));
		snprintf(acct, sizeof(acct), "%s", PQgetvalue(r, 0, 1));
		balance = ival(r, 0, 2);
		PQclear(r);

		{
			const char *p[1] = {ref};
			rc = bill_exec(x->db,
				       "SELECT c.subscriber_id, c.amount, s.msisdn FROM account_credit c"
				       " JOIN subscriber s ON s.id = c.subscriber_id WHERE c.ref = $1",
				       1, p, &r, err, sizeof(err));
		}
		if (rc < 0)
			goto db_fail;
		if (PQntuples(r) == 1) {
			bool same = !strcmp(PQgetvalue(r, 0, 0), sid) && ival(r, 0, 1) == amount;
			char om[64];
			int64_t oamt = ival(r, 0, 1);
			char onum[16];

			snprintf(onum, sizeof(onum), "%s", PQgetvalue(r, 0, 2));
			PQclear(r);
			bill_rollback(x->db);
			if (same)
				return credit_out(x, msisdn, amount, ref, acct, balance, true);
			return ctl_fail(CTL_REFUSED,
					"account credit: ref %s was already used for %s to %s%s; a "
					"reference credits once",
					ref, ctl_fmt_money(oamt, om, sizeof(om)), onum,
					strcmp(onum, msisdn) ? "" : " (another amount or contract)");
		}
		PQclear(r);

		{
			const char *p[4] = {ref, sid, amt, now};
			rc = bill_exec(x->db,
				       "INSERT INTO account_credit (ref, subscriber_id, amount, created_at)"
				       " VALUES ($1, $2::bigint, $3::bigint, $4::timestamptz)",
				       4, p, NULL, err, sizeof(err));
		}
		if (rc == -EEXIST) {
			bill_rollback(x->db);
			continue; /* judged as a repeat on the next pass */
		}
		if (rc < 0)
			goto db_fail;
		{
			const char *p[2] = {sid, amt};
			rc = bill_exec(x->db,
				       "UPDATE subscriber SET balance = balance + $2::bigint"
				       " WHERE id = $1::bigint RETURNING balance",
				       2, p, &r, err, sizeof(err));
		}
		if (rc < 0)
			goto db_fail;
		balance = ival(r, 0, 0);
		PQclear(r);
		{
			char bal[24];
			const char *p[8] = {now, ctl_agent(x), msisdn, amt, ref, acct, bal, NULL};
			snprintf(bal, sizeof(bal), "%" PRId64, balance);
			rc = bill_exec(x->db,
				       "INSERT INTO audit (at, agent, action, detail)"
				       " VALUES ($1::timestamptz, $2, 'account credit',"
				       " jsonb_build_object('msisdn', $3::text, 'amount', $4::bigint,"
				       "  'ref', $5::text, 'account_type', $6::text, 'balance', $7::bigint,"
				       "  'db_user', session_user))",
				       7, p, NULL, err, sizeof(err));
		}
		if (rc < 0)
			goto db_fail;
		if ((rc = bill_commit(x->db, err, sizeof(err))) < 0)
			return ctl_db_fail(rc, err);
		return credit_out(x, msisdn, amount, ref, acct, balance, false);
	}
	return ctl_fail(CTL_DB, "account credit: ref %s: concurrent updates, try again", ref);

db_fail:
	bill_rollback(x->db);
	return ctl_db_fail(rc, err);
}
