/* smsc_sim/interactive.c — `--interactive`: "FROM TO text" lines on stdin
 * become MO SMS; every MT is printed decoded as it arrives.
 *
 * Lines typed before any ESME is bound as receiver are queued and sent on
 * the first bind. At EOF the simulator waits (at most --timeout-ms) for the
 * queue to empty and the outstanding deliver_sm to be answered, then exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"

#define LINE_MAX_LEN 4096

struct qline {
	struct qline *next;
	char from[21];
	char to[21];
	char text[];
};

struct inter {
	uv_handle_type kind;
	union {
		uv_tty_t tty;
		uv_pipe_t pipe;
	} in;
	bool stream_open;
	uv_fs_t fsreq;
	bool fs_busy;
	char fsbuf[4096];
	int64_t fs_off;
	uv_timer_t grace;
	bool grace_init;
	char line[LINE_MAX_LEN + 1];
	size_t line_len;
	bool line_too_long;
	bool eof;
	struct qline *q_head, *q_tail;
};

static void maybe_finish(struct sim *s);

static void send_line(struct sim *s, struct qline *l)
{
	int32_t mo = sim_mo_new(s);
	if (mo < 0)
		return;
	int rc = sim_send_mo_text(s, l->from, l->to, l->text, mo, 0);
	if (rc < 0) {
		sim_out("ERR cannot send MO %s -> %s: %s", l->from, l->to,
			rc == -EINVAL ? "invalid UTF-8" : strerror(-rc));
		s->mos[mo].nparts = 0; /* counts as done */
	}
}

static void flush_queue(struct sim *s)
{
	struct inter *it = s->mode_data;
	while (it->q_head && sim_count_rx(s) > 0) {
		struct qline *l = it->q_head;
		it->q_head = l->next;
		if (!it->q_head)
			it->q_tail = NULL;
		send_line(s, l);
		free(l);
	}
}

static void handle_line(struct sim *s, char *line)
{
	struct inter *it = s->mode_data;
	char *p = line;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return;
	char from[32], to[32];
	int off = 0;
	if (sscanf(p, "%31s %31s %n", from, to, &off) < 2 || strlen(from) > 20 ||
	    strlen(to) > 20) {
		sim_out("ERR expected: FROM TO text");
		return;
	}
	const char *text = off > 0 ? p + off : "";
	struct qline *l = malloc(sizeof(*l) + strlen(text) + 1);
	if (!l)
		return;
	l->next = NULL;
	memcpy(l->from, from, strlen(from) + 1); /* <= 20 checked above */
	memcpy(l->to, to, strlen(to) + 1);
	strcpy(l->text, text);
	if (it->q_tail)
		it->q_tail->next = l;
	else
		it->q_head = l;
	it->q_tail = l;
	if (sim_count_rx(s) == 0 && l == it->q_head)
		sim_out("(no ESME bound as receiver yet: queued)");
	flush_queue(s);
}

static void feed(struct sim *s, const char *data, size_t n)
{
	struct inter *it = s->mode_data;
	for (size_t i = 0; i < n; i++) {
		char ch = data[i];
		if (ch == '\n') {
			it->line[it->line_len] = 0;
			if (it->line_too_long)
				sim_out("ERR line longer than %d bytes ignored", LINE_MAX_LEN);
			else
				handle_line(s, it->line);
			it->line_len = 0;
			it->line_too_long = false;
		} else if (it->line_len < LINE_MAX_LEN) {
			it->line[it->line_len++] = ch;
		} else {
			it->line_too_long = true;
		}
	}
}

static void on_eof(struct sim *s)
{
	struct inter *it = s->mode_data;
	if (it->eof)
		return;
	if (it->line_len > 0 && !it->line_too_long) {
		it->line[it->line_len] = 0;
		handle_line(s, it->line);
		it->line_len = 0;
	}
	it->eof = true;
	maybe_finish(s);
}

static void grace_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	sim_log(s, "eof_grace_expired", "queued_or_pending=yes");
	sim_stop(s, 0);
}

static void maybe_finish(struct sim *s)
{
	struct inter *it = s->mode_data;
	if (!it->eof || s->stopping)
		return;
	bool busy = it->q_head != NULL;
	for (size_t i = 0; i < s->mos_n && !busy; i++)
		if (s->mos[i].answered < s->mos[i].nparts)
			busy = true;
	if (!busy) {
		sim_stop(s, 0);
		return;
	}
	if (!it->grace_init) {
		uv_timer_init(s->loop, &it->grace);
		it->grace.data = s;
		it->grace_init = true;
		uv_timer_start(&it->grace, grace_cb, (uint64_t)s->opt.timeout_ms, 0);
	}
}

static void alloc_cb(uv_handle_t *h, size_t sug, uv_buf_t *buf)
{
	static char b[4096];
	buf->base = b;
	buf->len = sizeof(b);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sim *s = st->data;
	if (nread > 0)
		feed(s, buf->base, (size_t)nread);
	else if (nread < 0) {
		uv_read_stop(st);
		on_eof(s);
	}
}

static void fs_read_cb(uv_fs_t *req)
{
	struct sim *s = req->data;
	struct inter *it = s->mode_data;
	ssize_t r = req->result;
	uv_fs_req_cleanup(req);
	it->fs_busy = false;
	if (s->stopping)
		return;
	if (r <= 0) {
		on_eof(s);
		return;
	}
	feed(s, it->fsbuf, (size_t)r);
	if (s->stopping)
		return;
	uv_buf_t b = uv_buf_init(it->fsbuf, sizeof(it->fsbuf));
	it->fsreq.data = s;
	if (uv_fs_read(s->loop, &it->fsreq, 0, &b, 1, -1, fs_read_cb) == 0)
		it->fs_busy = true;
	else
		on_eof(s);
}

static void i_on_mt(struct sim *s, struct sim_mt *mt)
{
	char line[8192];
	sim_mt_format(mt, line, sizeof(line));
	sim_out("%s", line);
	sim_mt_free(mt);
}

static void i_on_event(struct sim *s)
{
	flush_queue(s);
	maybe_finish(s);
}

static void i_on_stop(struct sim *s)
{
	struct inter *it = s->mode_data;
	if (it->stream_open && !uv_is_closing((uv_handle_t *)&it->in))
		uv_close((uv_handle_t *)&it->in, NULL);
	if (it->grace_init && !uv_is_closing((uv_handle_t *)&it->grace))
		uv_close((uv_handle_t *)&it->grace, NULL);
	if (it->fs_busy)
		uv_cancel((uv_req_t *)&it->fsreq);
}

static void i_on_free(struct sim *s)
{
	struct inter *it = s->mode_data;
	while (it->q_head) {
		struct qline *l = it->q_head;
		it->q_head = l->next;
		free(l);
	}
	if (it->kind == UV_TTY)
		uv_tty_reset_mode();
	free(it);
	s->mode_data = NULL;
}

int sim_interactive_start(struct sim *s)
{
	struct inter *it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	s->mode_data = it;
	s->on_mt = i_on_mt;
	s->on_event = i_on_event;
	s->on_stop = i_on_stop;
	s->on_free = i_on_free;

	it->kind = uv_guess_handle(0);
	int rc = -1;
	if (it->kind == UV_TTY) {
		rc = uv_tty_init(s->loop, &it->in.tty, 0, 1);
	} else if (it->kind == UV_NAMED_PIPE) {
		rc = uv_pipe_init(s->loop, &it->in.pipe, 0);
		if (rc == 0) {
			rc = uv_pipe_open(&it->in.pipe, 0);
			if (rc < 0)
				uv_close((uv_handle_t *)&it->in.pipe, NULL);
		}
	}
	if (rc == 0) {
		it->stream_open = true;
		it->in.pipe.data = s;
		rc = uv_read_start((uv_stream_t *)&it->in, alloc_cb, read_cb);
		if (rc == 0)
			return 0;
		return rc;
	}
	/* a regular file, /dev/null, ...: read it through the fs API */
	it->kind = UV_FILE;
	uv_buf_t b = uv_buf_init(it->fsbuf, sizeof(it->fsbuf));
	it->fsreq.data = s;
	rc = uv_fs_read(s->loop, &it->fsreq, 0, &b, 1, -1, fs_read_cb);
	if (rc < 0)
		return rc;
	it->fs_busy = true;
	return 0;
}
