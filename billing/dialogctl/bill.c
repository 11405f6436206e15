/* dialogctl/bill.c — bill daily: daily fees, the free week, trial reminders,
 * suspension and resumption (R13, R13a, R13b, R16, R17, D4, D11-D13, D15).
 *
 * A thin driver: the work is bill_daily_chunk() in schema/0005_billing.sql,
 * called for successive chunks of dialog ids, one transaction each, under a
 * session advisory lock so that a second run waits and then finds nothing
 * to do. Every effect is idempotent: a run killed midway loses at most the
 * chunk in flight, and running it again completes it.
 *
 * The chunks run in DIALOG_BILL_WORKERS (default 2) worker processes, each
 * with its own connection, each taking the next chunk not yet taken;
 * $DIALOG_BILL_CHUNK overrides the chunk size (dialogs per transaction,
 * default 100000).
 */
#include "ctl.h"

#include "billing/db.h"
#include "engine/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* pg_advisory_lock key of the daily run ("billdaly"). */
#define BILL_DAILY_LOCK_KEY "7091318301067930745"
#define BILL_DAILY_CHUNK 100000
#define BILL_DAILY_RETRIES 5
#define BILL_DAILY_WORKERS 2 /* processes, each with its own connection */
#define BILL_MAX_WORKERS 16
#define BILL_NSTAT 10 /* status, scanned, dialogs, fees, amount, trial, postponed,
			 reminders, suspended, resumed */

struct bill_sum {
	char day[16]; /* the day billed when all billed regions share it */
	bool mixed;
	int64_t regions_billed, regions_skipped;
	int64_t dialogs, fees, amount, trial_days, postponed, reminders, suspended, resumed;
};

/* YYYY-MM-DD, a real calendar day. */
static int parse_date(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, leap;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return -EINVAL;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] + (m == 2 && leap))
		return -EINVAL;
	return 0;
}

static int64_t col64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* The regions: notes for the skipped ones (D15); counts. */
static int bill_regions(struct ctl *x, const char *now, const char *date, struct bill_sum *s,
			struct ctl_json *j)
{
	const char *p[2] = {now, date};
	PGresult *r = NULL;
	char err[1024];
	int rc;

	rc = bill_exec(x->db,
		       "SELECT code, d, begun, local_now FROM bill_daily_regions($1, $2::date)", 2, p,
		       &r, err, sizeof(err));
	if (rc < 0)
		return ctl_db_fail(rc, err);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *code = PQgetvalue(r, i, 0), *d = PQgetvalue(r, i, 1);
		const char *local = PQgetvalue(r, i, 3);

		if (PQgetvalue(r, i, 2)[0] == 't') {
			if (s->regions_billed++ == 0)
				snprintf(s->day, sizeof(s->day), "%s", d);
			else if (strcmp(s->day, d) != 0)
				s->mixed = true;
			continue;
		}
		s->regions_skipped++;
		if (j) {
			ctl_json_obj_begin(j);
			ctl_json_kstr(j, "region", code);
			ctl_json_kstr(j, "date", d);
			ctl_json_kstr(j, "local_now", local);
			ctl_json_obj_end(j);
		} else {
			fprintf(x->out, "region %s: %s has not begun there (local %s); run again later\n",
				code, d, local);
		}
	}
	PQclear(r);
	return 0;
}

/* One chunk (after < id <= upto) in its own transaction, retried on a
 * deadlock or serialisation failure. 0, or -1 with the message on stderr. */
static int bill_chunk(PGconn *db, const char *const prm[5], const char *after, const char *upto,
		      int64_t out[BILL_NSTAT])
{
	const char *p[7] = {prm[0], prm[1], after, upto, prm[2], prm[3], prm[4]};
	char err[1024];
	PGresult *r = NULL;
	int rc = 0;

	for (int attempt = 0; attempt < BILL_DAILY_RETRIES; attempt++) {
		if ((rc = bill_begin(db, err, sizeof(err))) < 0)
			break;
		rc = bill_exec(db,
			       "SELECT scanned, dialogs, fees, amount, trial_days, postponed, "
			       "reminders, suspended, resumed "
			       "FROM bill_daily_chunk($1, $2::date, $3, $4, $5, $6, $7)",
			       7, p, &r, err, sizeof(err));
		if (rc == 0)
			rc = bill_commit(db, err, sizeof(err));
		if (rc == 0)
			break;
		bill_rollback(db);
		PQclear(r);
		r = NULL;
		if (rc != -EAGAIN)
			break;
	}
	if (rc < 0) {
		ctl_db_fail(rc, err);
		return -1;
	}
	for (int k = 0; k < BILL_NSTAT - 1; k++)
		out[1 + k] = col64(r, 0, k);
	PQclear(r);
	return 0;
}

static void add_stats(struct bill_sum *s, int64_t *scanned, const int64_t st[BILL_NSTAT])
{
	*scanned += st[1];
	s->dialogs += st[2];
	s->fees += st[3];
	s->amount += st[4];
	s->trial_days += st[5];
	s->postponed += st[6];
	s->reminders += st[7];
	s->suspended += st[8];
	s->resumed += st[9];
}

static void progress(bool tty, const char *label, int64_t done, int64_t total)
{
	if (!tty)
		return;
	fprintf(stderr, "\rbilling %s: %" PRId64 "/%" PRId64 " dialogs", label, done,
		total > done ? total : done);
	fflush(stderr);
}

/* A worker process: its own connection; it takes the next chunk not yet
 * taken (*next, shared by the workers), so that a worker whose chunks run
 * slower does not leave the other idle at the end; one record per chunk on
 * the pipe (st[0] = 1 done, 0 failed). */
static void bill_worker(struct ctl *x, const char *const prm[5], const int64_t *upto, int n,
			int *next, int fd)
{
	char conninfo[2048], err[1024], after[24], top[24];
	int64_t st[BILL_NSTAT];
	PGconn *db;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed run stops its workers too */
	if (getppid() == 1)
		_exit(1);
	bill_conninfo_resolve(x->db_flag, &x->cfg, conninfo, sizeof(conninfo));
	db = bill_connect_as(conninfo, "dialogctl bill daily", err, sizeof(err));
	if (!db) {
		ctl_fail(CTL_DB, "database: %s", err);
		memset(st, 0, sizeof(st));
		(void)!write(fd, st, sizeof(st));
		_exit(1);
	}
	for (int k; (k = __atomic_fetch_add(next, 1, __ATOMIC_RELAXED)) < n;) {
		memset(st, 0, sizeof(st));
		snprintf(after, sizeof(after), "%" PRId64, k ? upto[k - 1] : (int64_t)0);
		snprintf(top, sizeof(top), "%" PRId64, upto[k]);
		if (bill_chunk(db, prm, after, top, st) < 0) {
			(void)!write(fd, st, sizeof(st));
			PQfinish(db);
			_exit(1);
		}
		st[0] = 1;
		if (write(fd, st, sizeof(st)) != (ssize_t)sizeof(st))
			_exit(1);
	}
	PQfinish(db);
	_exit(0);
}

/* Run the chunks with nw worker processes; 0 or CTL_DB. */
static int bill_parallel(struct ctl *x, const char *const prm[5], const int64_t *upto, int n,
			 int nw, struct bill_sum *s, bool tty, const char *label, int64_t total)
{
	int fds[2], failed = 0, status, *next;
	pid_t pids[BILL_MAX_WORKERS];
	int64_t st[BILL_NSTAT], scanned = 0;
	ssize_t got;

	/* the index of the next chunk to take, shared with the workers */
	next = mmap(NULL, sizeof(*next), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (next == MAP_FAILED)
		return ctl_fail(CTL_DB, "mmap: %s", strerror(errno));
	*next = 0;
	if (pipe(fds) < 0) {
		munmap(next, sizeof(*next));
		return ctl_fail(CTL_DB, "pipe: %s", strerror(errno));
	}
	fflush(NULL);
	for (int w = 0; w < nw; w++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			nw = w;
			failed = 1;
			ctl_fail(CTL_DB, "fork: %s", strerror(errno));
			break;
		}
		if (pids[w] == 0) {
			close(fds[0]);
			bill_worker(x, prm, upto, n, next, fds[1]);
		}
	}
	close(fds[1]);
	while ((got = read(fds[0], st, sizeof(st))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(st))
			break;
		if (!st[0]) {
			failed = 1;
			continue;
		}
		add_stats(s, &scanned, st);
		progress(tty, label, scanned, total);
	}
	close(fds[0]);
	for (int w = 0; w < nw; w++) {
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	munmap(next, sizeof(*next));
	return failed ? CTL_DB : 0;
}

static void print_summary(struct ctl *x, const char *date, const struct bill_sum *s,
			  struct ctl_json *j)
{
	char m[64];

	if (j) {
		ctl_json_arr_end(j); /* "skipped" */
		ctl_json_kstr(j, "date", date);
		ctl_json_kint(j, "regions_billed", s->regions_billed);
		ctl_json_kint(j, "regions_skipped", s->regions_skipped);
		ctl_json_kint(j, "dialogs", s->dialogs);
		ctl_json_kint(j, "fees_charged", s->fees);
		ctl_json_kint(j, "fees_amount", s->amount);
		ctl_json_kint(j, "trial_days", s->trial_days);
		ctl_json_kint(j, "postponed_days", s->postponed);
		ctl_json_kint(j, "reminders_queued", s->reminders);
		ctl_json_kint(j, "suspended", s->suspended);
		ctl_json_kint(j, "resumed", s->resumed);
		ctl_json_obj_end(j);
		ctl_json_end(j);
		return;
	}
	fprintf(x->out,
		"bill daily %s: regions billed %" PRId64 ", skipped %" PRId64 "\n"
		"  dialogs:          %" PRId64 "\n"
		"  fees charged:     %" PRId64 " (%s)\n"
		"  trial days:       %" PRId64 " (R13a, free)\n"
		"  postponed days:   %" PRId64 " (R13b, no accepted reminder)\n"
		"  reminders queued: %" PRId64 "\n"
		"  suspended:        %" PRId64 "\n"
		"  resumed:          %" PRId64 "\n",
		date, s->regions_billed, s->regions_skipped, s->dialogs, s->fees,
		ctl_fmt_money(s->amount, m, sizeof(m)), s->trial_days, s->postponed, s->reminders,
		s->suspended, s->resumed);
}

static int env_int(const char *name, int dflt, int max)
{
	const char *e = getenv(name);
	long n;

	if (!e || !*e)
		return dflt;
	n = strtol(e, NULL, 10);
	return n > 0 && n <= max ? (int)n : dflt;
}

int ctl_cmd_bill_daily(struct ctl *x)
{
	const char *date = ctl_optval(x, "date");
	const char *label = date ? date : "today"; /* "today": each region's own */
	char now[40], err[1024], size[24], trial[16], grace[16];
	struct bill_sum s;
	struct ctl_json jbuf, *j = NULL;
	int64_t total = 0, *upto = NULL;
	bool tty = isatty(fileno(stderr));
	PGresult *r = NULL;
	int rc, n = 0, nw;

	memset(&s, 0, sizeof(s));
	if (date && parse_date(date) < 0)
		return ctl_fail(CTL_USAGE, "--date: \"%s\" is not a date (YYYY-MM-DD)", date);
	if (!ctl_db(x))
		return CTL_DB;
	eng_now_param(now);

	/* One run at a time: a second one waits here, then finds nothing to do. */
	if ((rc = bill_exec0(x->db, "SELECT pg_advisory_lock(" BILL_DAILY_LOCK_KEY ")", err,
			     sizeof(err))) < 0)
		return ctl_db_fail(rc, err);

	if (x->json) {
		ctl_json_init(&jbuf, x->out);
		j = &jbuf;
		ctl_json_obj_begin(j);
		ctl_json_key(j, "skipped");
		ctl_json_arr_begin(j);
	}
	if ((rc = bill_regions(x, now, date, &s, j)) != 0)
		return rc;
	if (!date && s.regions_billed > 0 && !s.mixed)
		label = s.day; /* every region's own current day is the same */

	snprintf(size, sizeof(size), "%d", env_int("DIALOG_BILL_CHUNK", BILL_DAILY_CHUNK, 10000000));
	if (s.regions_billed > 0) {
		const char *p[3] = {now, date, size};
		rc = bill_exec(x->db, "SELECT upto, n FROM bill_daily_chunks($1, $2::date, $3)", 3, p,
			       &r, err, sizeof(err));
		if (rc < 0)
			return ctl_db_fail(rc, err);
		n = PQntuples(r);
		upto = calloc((size_t)n + 1, sizeof(*upto));
		if (!upto) {
			PQclear(r);
			return ctl_fail(CTL_DB, "out of memory");
		}
		for (int i = 0; i < n; i++) {
			upto[i] = col64(r, i, 0);
			total += col64(r, i, 1);
		}
		PQclear(r);
	}
	snprintf(trial, sizeof(trial), "%d", x->cfg.service.trial_days);
	snprintf(grace, sizeof(grace), "%d", x->cfg.service.notice_grace_days);
	nw = env_int("DIALOG_BILL_WORKERS", BILL_DAILY_WORKERS, BILL_MAX_WORKERS);
	if (nw > n)
		nw = n;
	rc = 0;
	if (n > 0) {
		const char *prm[5] = {now, date, trial, grace, x->cfg.service.short_code};

		progress(tty, label, 0, total);
		if (nw > 1) {
			rc = bill_parallel(x, prm, upto, n, nw, &s, tty, label, total);
		} else {
			int64_t st[BILL_NSTAT], scanned = 0;
			char after[24], top[24];

			for (int k = 0; k < n && rc == 0; k++) {
				memset(st, 0, sizeof(st));
				snprintf(after, sizeof(after), "%" PRId64, k ? upto[k - 1] : (int64_t)0);
				snprintf(top, sizeof(top), "%" PRId64, upto[k]);
				if (bill_chunk(x->db, prm, after, top, st) < 0) {
					rc = CTL_DB;
					break;
				}
				add_stats(&s, &scanned, st);
				progress(tty, label, scanned, total);
			}
		}
		if (tty)
			fputc('\n', stderr);
	}
	if (rc == 0 && n > 0) {
		char top[24];
		const char *p[3] = {now, date, top};

		snprintf(top, sizeof(top), "%" PRId64, upto[n - 1]);
		rc = bill_exec(x->db, "SELECT bill_daily_finish($1, $2::date, $3)", 3, p, NULL, err,
			       sizeof(err));
		if (rc < 0)
			rc = ctl_db_fail(rc, err);
	}
	free(upto);
	if (rc)
		return rc;
	bill_exec0(x->db, "SELECT pg_advisory_unlock(" BILL_DAILY_LOCK_KEY ")", err, sizeof(err));
	print_summary(x, label, &s, j);
	return CTL_OK;
}
