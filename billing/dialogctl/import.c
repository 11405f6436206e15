/* dialogctl/import.c — subscriber import FILE.csv (bulk provisioning).
 *
 * Header exactly "msisdn,region,tariff,account_type,balance"; fields may be
 * quoted ("..."; "" inside quotes is a quote). Every line is checked before
 * anything is applied; each bad line is reported (up to 10000, then a count) as "FILE:LINE: reason" on
 * stderr, and if any line is bad nothing is imported. The exit code then is
 * the most basic problem found: 2 if any line is malformed (bad number,
 * field count, account type, balance, a number repeated in the file), else 4
 * if any names an unknown region or tariff, else 3 if any number is already
 * provisioned. Good files go in in one transaction: COPY into a temporary
 * table, set-based checks, one INSERT ... SELECT.
 */
#include "ctl.h"

#include "billing/db.h"
#include "engine/msisdn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER "msisdn,region,tariff,account_type,balance"
#define NFIELDS 5
#define MAX_REPORTED 10000 /* bad lines printed; the rest are counted */
#define COPY_CHUNK 65536

struct bad_line {
	long line;
	char *msg;
};

struct import {
	struct ctl *x;
	const char *file;
	struct bad_line *bad; /* from parsing, in line order */
	size_t nbad, capbad;
	long nbad_total;
	char *copybuf;
	size_t copylen;
	long rows;
};

static void add_bad(struct import *im, long line, const char *msg)
{
	im->nbad_total++;
	if (im->nbad >= MAX_REPORTED)
		return;
	if (im->nbad == im->capbad) {
		size_t cap = im->capbad ? im->capbad * 2 : 64;
		struct bad_line *b = realloc(im->bad, cap * sizeof(*b));
		if (!b)
			return;
		im->bad = b;
		im->capbad = cap;
	}
	im->bad[im->nbad].line = line;
	im->bad[im->nbad].msg = strdup(msg);
	if (im->bad[im->nbad].msg)
		im->nbad++;
}

/* Split a CSV line in place. Returns the number of fields (up to max; one
 * more than max means "too many"), or -1 for a broken quote. */
static int split_csv(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *out = p;
		if (n > max)
			return n;
		if (n < max)
			f[n] = out;
		n++;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0')
					return -1;
				if (*p == '"') {
					if (p[1] == '"') {
						*out++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				*out++ = *p++;
			}
			if (*p != ',' && *p != '\0')
				return -1;
		} else {
			while (*p && *p != ',') {
				if (*p == '"')
					return -1;
				*out++ = *p++;
			}
		}
		if (*p == '\0') {
			*out = '\0';
			return n;
		}
		*out = '\0';
		p++; /* past ',' (out <= p - 1, so the terminator is safe) */
	}
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

static int copy_flush(struct import *im, char *err, size_t errsz)
{
	if (im->copylen && PQputCopyData(im->x->db, im->copybuf, (int)im->copylen) != 1) {
		bill_one_line(PQerrorMessage(im->x->db), err, errsz);
		return -EIO;
	}
	im->copylen = 0;
	return 0;
}

/* Append one text-format COPY field (codes are checked to hold no tabs,
 * newlines or backslashes, so no escaping is needed). */
static void copy_put(struct import *im, const char *s, char sep)
{
	size_t n = strlen(s);
	memcpy(im->copybuf + im->copylen, s, n);
	im->copylen += n;
	im->copybuf[im->copylen++] = sep;
}

static const char *check_code(const char *what, const char *s, char *why, size_t whysz)
{
	size_t n = strlen(s);

	if (n == 0)
		return snprintf(why, whysz, "empty %s", what), why;
	if (n > 64)
		return snprintf(why, whysz, "%s code longer than 64 characters", what), why;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7F || *p == '\\')
			return snprintf(why, whysz, "%s code \"%s\" holds a space, a backslash or a "
				       "control character", what, s), why;
	return NULL;
}

/* Check one data line; on success append it to the COPY buffer. */
static int parse_line(struct import *im, long lineno, char *line, char *err, size_t errsz)
{
	char *f[NFIELDS], why[512], msisdn[12], line_s[24];
	const char *bad = NULL, *acct;
	int n = split_csv(line, f, NFIELDS);
	int64_t balance = 0;

	if (n < 0) {
		add_bad(im, lineno, "broken quoting");
		return 0;
	}
	if (n != NFIELDS) {
		snprintf(why, sizeof(why), "expected %d fields (" HEADER "), found %s%d", NFIELDS,
			 n > NFIELDS ? "more than " : "", n > NFIELDS ? NFIELDS : n);
		add_bad(im, lineno, why);
		return 0;
	}
	for (int i = 0; i < NFIELDS; i++)
		f[i] = trim(f[i]);
	if (eng_msisdn_normalize(f[0], msisdn) < 0) {
		snprintf(why, sizeof(why), "invalid number \"%.40s\" (R2)", f[0]);
		add_bad(im, lineno, why);
		return 0;
	}
	if ((bad = check_code("region", f[1], why, sizeof(why))) ||
	    (bad = check_code("tariff", f[2], why, sizeof(why)))) {
		add_bad(im, lineno, bad);
		return 0;
	}
	if (!strcasecmp(f[3], "prepaid")) {
		acct = "prepaid";
	} else if (!strcasecmp(f[3], "postpaid")) {
		acct = "postpaid";
	} else {
		snprintf(why, sizeof(why), "account_type \"%.40s\" is neither prepaid nor postpaid", f[3]);
		add_bad(im, lineno, why);
		return 0;
	}
	if (*f[4]) {
		uint64_t v = 0;
		const char *p = f[4];
		if (*p == '-') {
			snprintf(why, sizeof(why), "negative balance %.40s", f[4]);
			add_bad(im, lineno, why);
			return 0;
		}
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || v > (uint64_t)INT64_MAX / 1000) {
				snprintf(why, sizeof(why), "balance \"%.40s\" is not an amount in kopecks",
					 f[4]);
				add_bad(im, lineno, why);
				return 0;
			}
			v = v * 10 + (uint64_t)(*p - '0');
		}
		balance = (int64_t)v;
	}
	if (balance && !strcmp(acct, "postpaid")) {
		add_bad(im, lineno, "a balance applies to prepaid accounts only");
		return 0;
	}
	if (im->copylen + 256 > COPY_CHUNK && copy_flush(im, err, errsz) < 0)
		return -EIO;
	snprintf(line_s, sizeof(line_s), "%ld", lineno);
	copy_put(im, line_s, '\t');
	copy_put(im, msisdn, '\t');
	copy_put(im, f[1], '\t');
	copy_put(im, f[2], '\t');
	copy_put(im, acct, '\t');
	snprintf(why, sizeof(why), "%" PRId64, balance);
	copy_put(im, why, '\n');
	im->rows++;
	return 0;
}

/* Read the file, COPY its good lines into import_stage. */
static int read_file(struct import *im, FILE *in, char *err, size_t errsz)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int rc = 0;

	while ((len = getline(&line, &cap, in)) >= 0) {
		char *p = line;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((size_t)len != strlen(line)) {
			add_bad(im, lineno, "holds a NUL byte");
			continue;
		}
		if (lineno == 1) {
			if (!strncmp(p, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
				p += 3;
			if (strcmp(p, HEADER) != 0) {
				add_bad(im, lineno, "the header must be exactly " HEADER);
				break; /* without it the columns mean nothing */
			}
			continue;
		}
		if (!*trim(p))
			continue; /* blank lines carry nothing */
		rc = parse_line(im, lineno, p, err, errsz);
		if (rc < 0)
			break;
	}
	if (rc == 0 && lineno == 0)
		add_bad(im, 1, "empty file: the header " HEADER " is missing");
	free(line);
	return rc;
}

static int bad_cmp(const void *a, const void *b)
{
	const struct bad_line *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

int ctl_cmd_subscriber_import(struct ctl *x)
{
	struct import im;
	const char *file = ctl_arg(x, 0);
	char err[1024], now[32];
	FILE *in;
	PGresult *r = NULL;
	int rc, code = CTL_OK;
	long sql_bad = 0, inserted = 0;
	bool sql_has2 = false, sql_has4 = false;

	memset(&im, 0, sizeof(im));
	im.x = x;
	im.file = file;
	in = fopen(file, "r");
	if (!in)
		return ctl_fail(CTL_USAGE, "%s: %s", file, strerror(errno));
	im.copybuf = malloc(COPY_CHUNK);
	if (!im.copybuf) {
		fclose(in);
		return ctl_fail(CTL_DB, "out of memory");
	}
	if (!ctl_db(x)) {
		code = CTL_DB;
		goto out;
	}
	rc = bill_begin(x->db, err, sizeof(err));
	if (rc == 0)
		rc = bill_exec0(x->db,
				"CREATE TEMP TABLE import_stage (line integer NOT NULL, msisdn text NOT NULL,"
				" region text NOT NULL, tariff text NOT NULL, account_type text NOT NULL,"
				" balance bigint NOT NULL) ON COMMIT DROP",
				err, sizeof(err));
	if (rc < 0) {
		code = ctl_db_fail(rc, err);
		goto out_tx;
	}
	r = PQexec(x->db, "COPY import_stage FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = bill_result_error(x->db, r, err, sizeof(err));
		PQclear(r);
		code = ctl_db_fail(rc, err);
		goto out_tx;
	}
	PQclear(r);
	rc = read_file(&im, in, err, sizeof(err));
	if (rc == 0)
		rc = copy_flush(&im, err, sizeof(err));
	if (PQputCopyEnd(x->db, rc < 0 ? "import aborted" : NULL) != 1 && rc == 0) {
		bill_one_line(PQerrorMessage(x->db), err, sizeof(err));
		rc = -EIO;
	}
	while ((r = PQgetResult(x->db))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
			rc = bill_result_error(x->db, r, err, sizeof(err));
		PQclear(r);
	}
	if (rc < 0) {
		code = ctl_db_fail(rc, err);
		goto out_tx;
	}

	{
		/* Set-based checks against the database and across lines (on the
		 * lines that passed the checks above). */
		rc = bill_exec0(x->db, "SET LOCAL work_mem = '128MB'; ANALYZE import_stage", err,
				sizeof(err));
		if (rc == 0)
			rc = bill_exec(
				x->db,
				"WITH c (line, code, msg) AS ("
				" SELECT line, 4, 'unknown region ' || region FROM import_stage s"
				"  WHERE NOT EXISTS (SELECT 1 FROM region r WHERE r.code = s.region)"
				" UNION ALL"
				" SELECT line, 4, 'unknown tariff ' || tariff FROM import_stage s"
				"  WHERE NOT EXISTS (SELECT 1 FROM tariff t WHERE t.code = s.tariff)"
				" UNION ALL"
				" SELECT s.line, 2, 'number ' || s.msisdn || ' repeats line ' || d.first"
				"  FROM import_stage s JOIN (SELECT msisdn, min(line) AS first FROM import_stage"
				"  GROUP BY msisdn HAVING count(*) > 1) d"
				"  ON d.msisdn = s.msisdn AND s.line <> d.first"
				" UNION ALL"
				" SELECT s.line, 3, 'subscriber ' || s.msisdn || ' already exists (contract '"
				"  || u.contract || ')' FROM import_stage s JOIN subscriber u"
				"  ON u.msisdn = s.msisdn AND u.retired_at IS NULL)"
				" SELECT line, code, msg, count(*) OVER (), bool_or(code = 2) OVER (),"
				" bool_or(code = 4) OVER () FROM c ORDER BY line, msg LIMIT " CTL_STR(MAX_REPORTED),
				0, NULL, &r, err, sizeof(err));
		if (rc < 0) {
			code = ctl_db_fail(rc, err);
			goto out_tx;
		}
		for (int i = 0; i < PQntuples(r); i++) {
			add_bad(&im, atol(PQgetvalue(r, i, 0)), PQgetvalue(r, i, 2));
			im.nbad_total--; /* counted below from the query */
		}
		if (PQntuples(r) > 0) {
			sql_bad = atol(PQgetvalue(r, 0, 3));
			sql_has2 = PQgetvalue(r, 0, 4)[0] == 't';
			sql_has4 = PQgetvalue(r, 0, 5)[0] == 't';
		}
		PQclear(r);
	}

	if (im.nbad_total || sql_bad) {
		long total = im.nbad_total + sql_bad;
		qsort(im.bad, im.nbad, sizeof(*im.bad), bad_cmp);
		for (size_t i = 0; i < im.nbad && i < MAX_REPORTED; i++)
			fprintf(stderr, "%s:%ld: %s\n", file, im.bad[i].line, im.bad[i].msg);
		if (total > MAX_REPORTED)
			fprintf(stderr, "%s: ... and %ld more bad lines\n", file, total - MAX_REPORTED);
		code = (im.nbad_total || sql_has2) ? CTL_USAGE : sql_has4 ? CTL_NOTFOUND : CTL_REFUSED;
		ctl_fail(code, "%s: %ld bad line%s; nothing imported", file, total, total == 1 ? "" : "s");
		goto out_tx;
	}

	{
		const char *p[1] = {ctl_now(now)};
		rc = bill_exec(x->db,
			       "INSERT INTO subscriber (msisdn, contract, region, tariff, account_type,"
			       " balance, created_at)"
			       " SELECT msisdn, 'C' || msisdn, region, tariff, account_type, balance, $1"
			       " FROM import_stage ORDER BY line",
			       1, p, &r, err, sizeof(err));
	}
	if (rc == -EEXIST) {
		code = ctl_fail(CTL_REFUSED, "%s: a number was provisioned concurrently: %s; nothing "
				"imported", file, err);
		goto out_tx;
	}
	if (rc < 0) {
		code = ctl_db_fail(rc, err);
		goto out_tx;
	}
	inserted = atol(PQcmdTuples(r));
	PQclear(r);
	{
		char detail[1200], qf[1024];
		ctl_json_quote(file, qf, sizeof(qf));
		snprintf(detail, sizeof(detail), "{\"file\":%s,\"count\":%ld}", qf, inserted);
		rc = ctl_audit(x, "subscriber import", detail, err, sizeof(err));
	}
	if (rc == 0)
		rc = bill_commit(x->db, err, sizeof(err));
	if (rc < 0) {
		code = ctl_db_fail(rc, err);
		goto out_tx;
	}
	if (x->json) {
		struct ctl_json j;
		ctl_json_init(&j, x->out);
		ctl_json_obj_begin(&j);
		ctl_json_kstr(&j, "file", file);
		ctl_json_kint(&j, "imported", inserted);
		ctl_json_obj_end(&j);
		ctl_json_end(&j);
	} else {
		fprintf(x->out, "imported %ld subscriber%s from %s\n", inserted, inserted == 1 ? "" : "s",
			file);
	}
	goto out;

out_tx:
	bill_rollback(x->db);
out:
	for (size_t i = 0; i < im.nbad; i++)
		free(im.bad[i].msg);
	free(im.bad);
	free(im.copybuf);
	fclose(in);
	return code;
}
