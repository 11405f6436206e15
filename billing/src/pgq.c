/* PostgreSQL job queue on the libuv loop (billing/pgq.h).
 *
 * The cycle is libpq's documented non-blocking one: PQsendQueryParams (in
 * pipeline mode) -> PQflush (wait for writable while it returns 1) ->
 * PQconsumeInput on readable -> PQisBusy -> PQgetResult. Every PGresult is
 * PQclear'ed on every path.
 */
#include "billing/pgq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"

struct pgq_stmt {
	const char *sql;
	int nparams;
	const char **values; /* into the job's arena */
};

struct bill_pgq_job {
	bill_pgq_cb cb;
	void *data;
	struct pgq_stmt *stmts;
	int nstmts, capstmts;
	PGresult **results;
	int solo;                /* retried alone after its batch failed */
	struct bill_pgq_job *next;
};

/* What each result in the pipeline belongs to. */
struct pgq_slot {
	struct bill_pgq_job *job; /* NULL for BEGIN / COMMIT / ROLLBACK */
	int stmt;
};

enum pgq_state { PGQ_DOWN = 0, PGQ_CONNECTING, PGQ_UP, PGQ_CLOSING, PGQ_CLOSED };

struct bill_pgq {
	uv_loop_t *loop;
	char *conninfo;
	PGconn *conn;
	enum pgq_state state;
	uv_poll_t *poll;      /* NULL when none */
	int poll_fd;
	int poll_events;
	uv_timer_t retry;
	uv_prepare_t prepare;
	int backoff_ms;
	/* jobs waiting for the next batch */
	struct bill_pgq_job *head, *tail;
	int nqueued;
	/* jobs to fail on the next loop turn (async contract) */
	struct bill_pgq_job *fail_head, *fail_tail;
	/* the batch in flight */
	struct bill_pgq_job *batch;
	int nbatch;
	struct pgq_slot *slots;
	int nslots, capslots;
	int slot_idx;         /* result being read */
	int batch_failed;
	int flushing;
	char err[512];
	char sqlstate[6];
	void (*on_state)(void *data, int up);
	void *state_data;
	void (*close_done)(void *data);
	void *close_data;
	int handles_open;
	char listen_channel[64];
	char listen_sql[96];
	void (*notify_cb)(void *data, const char *channel, const char *payload);
	void *notify_data;
	void (*before_batch)(void *data);
	void *before_batch_data;
};

static void pgq_poll_cb(uv_poll_t *h, int status, int events);
static void pgq_start_connect(struct bill_pgq *q);

/* ---- jobs -------------------------------------------------------------- */

struct bill_pgq_job *bill_pgq_job_new(bill_pgq_cb cb, void *data)
{
	struct bill_pgq_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->cb = cb;
	j->data = data;
	return j;
}

int bill_pgq_job_add(struct bill_pgq_job *j, const char *sql, int nparams,
		     const char *const *values)
{
	if (j->nstmts == j->capstmts) {
		int cap = j->capstmts ? j->capstmts * 2 : 4;
		struct pgq_stmt *s = realloc(j->stmts, (size_t)cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		j->stmts = s;
		j->capstmts = cap;
	}
	/* One allocation: the pointer array, then the strings. */
	size_t bytes = (size_t)nparams * sizeof(char *);
	for (int i = 0; i < nparams; i++)
		if (values[i])
			bytes += strlen(values[i]) + 1;
	char **v = NULL;
	if (nparams > 0) {
		v = malloc(bytes);
		if (!v)
			return -ENOMEM;
		char *p = (char *)(v + nparams);
		for (int i = 0; i < nparams; i++) {
			if (!values[i]) {
				v[i] = NULL;
				continue;
			}
			size_t n = strlen(values[i]) + 1;
			memcpy(p, values[i], n);
			v[i] = p;
			p += n;
		}
	}
	j->stmts[j->nstmts++] = (struct pgq_stmt){sql, nparams, (const char **)v};
	return 0;
}

static void job_clear_results(struct bill_pgq_job *j)
{
	if (!j->results)
		return;
	for (int i = 0; i < j->nstmts; i++) {
		PQclear(j->results[i]);
		j->results[i] = NULL;
	}
}

static void job_free(struct bill_pgq_job *j)
{
	job_clear_results(j);
	free(j->results);
	for (int i = 0; i < j->nstmts; i++)
		free((void *)j->stmts[i].values);
	free(j->stmts);
	free(j);
}

static void job_finish(struct bill_pgq_job *j, int status)
{
	j->cb(j->data, status, j->results, status == 0 ? j->nstmts : 0);
	job_free(j);
}

static void list_push(struct bill_pgq_job **head, struct bill_pgq_job **tail,
		      struct bill_pgq_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* Fail every queued job on the next loop turn. */
static void fail_queued(struct bill_pgq *q)
{
	while (q->head) {
		struct bill_pgq_job *j = q->head;
		q->head = j->next;
		list_push(&q->fail_head, &q->fail_tail, j);
	}
	q->tail = NULL;
	q->nqueued = 0;
}

/* ---- connection ---------------------------------------------------------- */

static void set_state(struct bill_pgq *q, enum pgq_state s)
{
	int was_up = q->state == PGQ_UP;
	q->state = s;
	int up = s == PGQ_UP;
	if (was_up != up && q->on_state)
		q->on_state(q->state_data, up);
}

static void handle_closed(uv_handle_t *h);

static void poll_close_cb(uv_handle_t *h)
{
	handle_closed(h);
	free(h);
}

static void poll_stop(struct bill_pgq *q)
{
	if (!q->poll)
		return;
	uv_poll_stop(q->poll);
	uv_close((uv_handle_t *)q->poll, poll_close_cb);
	q->poll = NULL;
	q->poll_fd = -1;
	q->poll_events = 0;
}

/* Watch the connection's socket for `events`, re-creating the poll handle
 * when libpq changed sockets. */
static int poll_watch(struct bill_pgq *q, int events)
{
	int fd = PQsocket(q->conn);
	if (fd < 0)
		return -EBADF;
	if (q->poll && q->poll_fd != fd)
		poll_stop(q);
	if (!q->poll) {
		q->poll = malloc(sizeof *q->poll);
		if (!q->poll)
			return -ENOMEM;
		if (uv_poll_init(q->loop, q->poll, fd) != 0) {
			free(q->poll);
			q->poll = NULL;
			return -EBADF;
		}
		q->poll->data = q;
		q->handles_open++;
		q->poll_fd = fd;
		q->poll_events = 0;
	}
	if (events != q->poll_events) {
		uv_poll_start(q->poll, events, pgq_poll_cb);
		q->poll_events = events;
	}
	return 0;
}

static void retry_cb(uv_timer_t *t)
{
	struct bill_pgq *q = t->data;
	if (q->state == PGQ_DOWN)
		pgq_start_connect(q);
}

/* The connection failed or was lost: everything in flight or queued learns
 * -EAGAIN, and we try again after the back-off. */
static void conn_lost(struct bill_pgq *q, const char *why)
{
	char msg[600];
	eng_log_quote(why && *why ? why : "connection lost", msg, sizeof msg);
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	ENG_ERROR("db", "down", "reason=%s retry_ms=%d", msg, q->backoff_ms);
	poll_stop(q);
	if (q->conn) {
		PQfinish(q->conn);
		q->conn = NULL;
	}
	while (q->batch) {
		struct bill_pgq_job *j = q->batch;
		q->batch = j->next;
		job_clear_results(j);
		list_push(&q->fail_head, &q->fail_tail, j);
	}
	q->nbatch = 0;
	q->nslots = 0;
	fail_queued(q);
	if (q->state == PGQ_CLOSING) {
		return;
	}
	set_state(q, PGQ_DOWN);
	uv_timer_start(&q->retry, retry_cb, (uint64_t)q->backoff_ms, 0);
	q->backoff_ms = q->backoff_ms * 2 > 5000 ? 5000 : q->backoff_ms * 2;
}

static void listen_done(void *data, int status, PGresult *const *r, int n)
{
	if (status != 0)
		ENG_ERROR("db", "listen_failed", "status=%d", status);
}

/* LISTEN goes first on a new connection, ahead of anything queued. */
static void queue_listen(struct bill_pgq *q)
{
	snprintf(q->listen_sql, sizeof q->listen_sql, "LISTEN %s", q->listen_channel);
	struct bill_pgq_job *j = bill_pgq_job_new(listen_done, q);
	/* The session is marked as the engine's (dialog.engine = on), so that
	 * triggers can tell its writes from other programs' (see 0005). */
	if (!j || bill_pgq_job_add(j, q->listen_sql, 0, NULL) != 0 ||
	    bill_pgq_job_add(j, "SELECT set_config('dialog.engine', 'on', false)", 0, NULL) != 0) {
		if (j)
			job_free(j);
		return;
	}
	j->solo = 1;
	j->next = q->head;
	q->head = j;
	if (!q->tail)
		q->tail = j;
	q->nqueued++;
}

static void connect_step(struct bill_pgq *q)
{
	switch (PQconnectPoll(q->conn)) {
	case PGRES_POLLING_READING:
		if (poll_watch(q, UV_READABLE) != 0)
			conn_lost(q, "cannot watch the database socket");
		return;
	case PGRES_POLLING_WRITING:
		if (poll_watch(q, UV_WRITABLE) != 0)
			conn_lost(q, "cannot watch the database socket");
		return;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(q->conn, 1) != 0 || PQenterPipelineMode(q->conn) != 1) {
			conn_lost(q, PQerrorMessage(q->conn));
			return;
		}
		q->backoff_ms = 500;
		poll_watch(q, UV_READABLE);
		ENG_INFO("db", "up", "server_version=%d", PQserverVersion(q->conn));
		if (q->listen_channel[0])
			queue_listen(q);
		set_state(q, PGQ_UP);
		return;
	default:
		conn_lost(q, PQerrorMessage(q->conn));
		return;
	}
}

/* Server notices (e.g. "relation ... already exists, skipping") go to the
 * log at debug level instead of libpq's default of stderr. */
static void pgq_notice(void *arg, const char *message)
{
	char line[512];
	eng_log_quote(message, line, sizeof line);
	ENG_DEBUG("db", "notice", "message=%s", line);
}

static void pgq_start_connect(struct bill_pgq *q)
{
	q->conn = PQconnectStart(q->conninfo);
	if (q->conn)
		PQsetNoticeProcessor(q->conn, pgq_notice, q);
	if (!q->conn || PQstatus(q->conn) == CONNECTION_BAD) {
		conn_lost(q, q->conn ? PQerrorMessage(q->conn) : "out of memory");
		return;
	}
	set_state(q, PGQ_CONNECTING);
	connect_step(q);
}

/* ---- batches ------------------------------------------------------------- */

static int add_slot(struct bill_pgq *q, struct bill_pgq_job *j, int stmt)
{
	if (q->nslots == q->capslots) {
		int cap = q->capslots ? q->capslots * 2 : 64;
		struct pgq_slot *s = realloc(q->slots, (size_t)cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		q->slots = s;
		q->capslots = cap;
	}
	q->slots[q->nslots++] = (struct pgq_slot){j, stmt};
	return 0;
}

static int send_plain(struct bill_pgq *q, const char *sql)
{
	if (add_slot(q, NULL, 0) != 0)
		return -ENOMEM;
	return PQsendQueryParams(q->conn, sql, 0, NULL, NULL, NULL, NULL, 0) == 1 ? 0 : -EIO;
}

static void flush_out(struct bill_pgq *q)
{
	int r = PQflush(q->conn);
	if (r < 0) {
		conn_lost(q, PQerrorMessage(q->conn));
		return;
	}
	q->flushing = r == 1;
	poll_watch(q, UV_READABLE | (q->flushing ? UV_WRITABLE : 0));
}

/* Take jobs from the queue: all of them up to the first solo one, or one solo
 * job alone; send them in one transaction. */
static void send_batch(struct bill_pgq *q)
{
	q->nslots = 0;
	q->slot_idx = 0;
	q->batch_failed = 0;
	struct bill_pgq_job *last = NULL;
	q->batch = NULL;
	q->nbatch = 0;
	while (q->head) {
		struct bill_pgq_job *j = q->head;
		if (j->solo && q->nbatch > 0)
			break;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->nqueued--;
		j->next = NULL;
		if (last)
			last->next = j;
		else
			q->batch = j;
		last = j;
		q->nbatch++;
		if (j->solo)
			break;
	}
	int rc = 0;
	PGTransactionStatusType ts = PQtransactionStatus(q->conn);
	if (ts == PQTRANS_INERROR || ts == PQTRANS_INTRANS)
		rc = send_plain(q, "ROLLBACK");
	if (rc == 0)
		rc = send_plain(q, "BEGIN");
	for (struct bill_pgq_job *j = q->batch; j && rc == 0; j = j->next) {
		if (!j->results) {
			j->results = calloc((size_t)(j->nstmts ? j->nstmts : 1), sizeof(PGresult *));
			if (!j->results) {
				rc = -ENOMEM;
				break;
			}
		}
		for (int i = 0; i < j->nstmts && rc == 0; i++) {
			const struct pgq_stmt *s = &j->stmts[i];
			if (add_slot(q, j, i) != 0) {
				rc = -ENOMEM;
				break;
			}
			if (PQsendQueryParams(q->conn, s->sql, s->nparams, NULL, s->values, NULL,
					      NULL, 0) != 1)
				rc = -EIO;
		}
	}
	if (rc == 0)
		rc = send_plain(q, "COMMIT");
	if (rc == 0 && PQpipelineSync(q->conn) != 1)
		rc = -EIO;
	if (rc != 0) {
		conn_lost(q, rc == -ENOMEM ? "out of memory" : PQerrorMessage(q->conn));
		return;
	}
	flush_out(q);
}

static void batch_done(struct bill_pgq *q)
{
	struct bill_pgq_job *b = q->batch;
	int failed = q->batch_failed, n = q->nbatch;
	q->batch = NULL;
	q->nbatch = 0;
	q->nslots = 0;
	if (!failed) {
		while (b) {
			struct bill_pgq_job *next = b->next;
			job_finish(b, 0);
			b = next;
		}
		return;
	}
	if (n == 1) {
		ENG_ERROR("db", "job_failed", "sqlstate=%s", q->sqlstate);
		job_finish(b, -EINVAL);
		return;
	}
	/* Put the batch back at the head, each job to run alone. */
	ENG_NOTICE("db", "batch_retry", "jobs=%d sqlstate=%s", n, q->sqlstate);
	struct bill_pgq_job *last = b;
	for (struct bill_pgq_job *j = b; j; j = j->next) {
		job_clear_results(j);
		j->solo = 1;
		last = j;
	}
	last->next = q->head;
	q->head = b;
	if (!q->tail)
		q->tail = last;
	q->nqueued += n;
}

static void record_error(struct bill_pgq *q, PGresult *r)
{
	const char *m = PQresultErrorMessage(r);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(q->err, sizeof q->err, "%s", m && *m ? m : "statement failed");
	char *nl = strchr(q->err, '\n');
	if (nl)
		*nl = '\0';
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", st ? st : "XX000");
}

static void read_results(struct bill_pgq *q)
{
	if (PQconsumeInput(q->conn) != 1) {
		conn_lost(q, PQerrorMessage(q->conn));
		return;
	}
	while (q->batch && !PQisBusy(q->conn)) {
		PGresult *r = PQgetResult(q->conn);
		if (!r) {
			q->slot_idx++; /* end of one statement's results */
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			batch_done(q);
			break;
		}
		if (st == PGRES_FATAL_ERROR && !q->batch_failed) {
			q->batch_failed = 1;
			record_error(q, r);
		}
		if (q->slot_idx < q->nslots && q->slots[q->slot_idx].job) {
			struct pgq_slot *s = &q->slots[q->slot_idx];
			PQclear(s->job->results[s->stmt]);
			s->job->results[s->stmt] = r;
		} else {
			PQclear(r);
		}
	}
	if (PQstatus(q->conn) == CONNECTION_BAD)
		conn_lost(q, PQerrorMessage(q->conn));
}

static void pgq_poll_cb(uv_poll_t *h, int status, int events)
{
	struct bill_pgq *q = h->data;
	if (status < 0) {
		conn_lost(q, uv_strerror(status));
		return;
	}
	if (q->state == PGQ_CONNECTING) {
		connect_step(q);
		return;
	}
	if (!q->conn)
		return;
	if (events & UV_WRITABLE) {
		flush_out(q);
		if (!q->conn)
			return;
	}
	if (events & UV_READABLE) {
		read_results(q);
		if (!q->conn)
			return;
		/* NOTIFYs may arrive with or without a batch. */
		PGnotify *n;
		while (q->conn && (n = PQnotifies(q->conn))) {
			if (q->notify_cb)
				q->notify_cb(q->notify_data, n->relname, n->extra);
			PQfreemem(n);
		}
	}
}

static void close_finish(struct bill_pgq *q);

/* Once per loop turn, before the loop sleeps. */
static void prepare_cb(uv_prepare_t *p)
{
	struct bill_pgq *q = p->data;
	while (q->fail_head) {
		struct bill_pgq_job *j = q->fail_head;
		q->fail_head = j->next;
		if (!q->fail_head)
			q->fail_tail = NULL;
		job_finish(j, q->state == PGQ_CLOSING || q->state == PGQ_CLOSED ? -ECANCELED
										: -EAGAIN);
	}
	if (q->state == PGQ_UP && !q->batch && q->before_batch)
		q->before_batch(q->before_batch_data);
	if (q->state == PGQ_UP && !q->batch && q->head)
		send_batch(q);
	if (q->state == PGQ_CLOSING && !q->batch && !q->fail_head)
		close_finish(q);
}

/* ---- public -------------------------------------------------------------- */

struct bill_pgq *bill_pgq_new(uv_loop_t *loop, const char *conninfo,
			      void (*on_state)(void *data, int up), void *data)
{
	struct bill_pgq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->conninfo = strdup(conninfo ? conninfo : "");
	if (!q->conninfo) {
		free(q);
		return NULL;
	}
	q->loop = loop;
	q->poll_fd = -1;
	q->backoff_ms = 500;
	q->on_state = on_state;
	q->state_data = data;
	uv_timer_init(loop, &q->retry);
	q->retry.data = q;
	uv_prepare_init(loop, &q->prepare);
	q->prepare.data = q;
	uv_prepare_start(&q->prepare, prepare_cb);
	q->handles_open = 2;
	pgq_start_connect(q);
	return q;
}

int bill_pgq_up(const struct bill_pgq *q)
{
	return q->state == PGQ_UP;
}

int bill_pgq_pending(const struct bill_pgq *q)
{
	return q->nqueued + q->nbatch;
}

void bill_pgq_submit(struct bill_pgq *q, struct bill_pgq_job *j)
{
	if (q->state == PGQ_UP) {
		list_push(&q->head, &q->tail, j);
		q->nqueued++;
	} else {
		list_push(&q->fail_head, &q->fail_tail, j);
	}
}

void bill_pgq_listen(struct bill_pgq *q, const char *channel,
		     void (*cb)(void *data, const char *channel, const char *payload), void *data)
{
	snprintf(q->listen_channel, sizeof q->listen_channel, "%s", channel);
	q->notify_cb = cb;
	q->notify_data = data;
	if (q->state == PGQ_UP)
		queue_listen(q);
}

void bill_pgq_before_batch(struct bill_pgq *q, void (*cb)(void *data), void *data)
{
	q->before_batch = cb;
	q->before_batch_data = data;
}

const char *bill_pgq_error(const struct bill_pgq *q)
{
	return q->err;
}

const char *bill_pgq_sqlstate(const struct bill_pgq *q)
{
	return q->sqlstate;
}

static void handle_closed(uv_handle_t *h)
{
	struct bill_pgq *q = h->data;
	if (--q->handles_open == 0 && q->close_done)
		q->close_done(q->close_data);
}

static void close_finish(struct bill_pgq *q)
{
	q->state = PGQ_CLOSED;
	poll_stop(q);
	if (q->conn) {
		PQfinish(q->conn);
		q->conn = NULL;
	}
	uv_prepare_stop(&q->prepare);
	uv_timer_stop(&q->retry);
	uv_close((uv_handle_t *)&q->prepare, handle_closed);
	uv_close((uv_handle_t *)&q->retry, handle_closed);
}

void bill_pgq_close(struct bill_pgq *q, void (*done)(void *data), void *data)
{
	q->close_done = done;
	q->close_data = data;
	int was_up = q->state == PGQ_UP;
	q->state = PGQ_CLOSING;
	if (was_up && q->on_state)
		q->on_state(q->state_data, 0);
	fail_queued(q);
	if (!q->batch) {
		/* let prepare_cb deliver the cancellations, then finish */
		uv_timer_stop(&q->retry);
	}
}

void bill_pgq_free(struct bill_pgq *q)
{
	if (!q)
		return;
	free(q->slots);
	free(q->conninfo);
	free(q);
}
