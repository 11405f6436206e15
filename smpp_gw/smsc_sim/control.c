/* smsc_sim/control.c — `--control PATH`: fault commands read from a FIFO.
 *
 * The simulator creates the FIFO (a stale one is removed first) and opens it
 * read-write, so that it never sees end-of-file between writers: any number
 * of `echo drop > PATH` work one after the other. One command a line:
 *
 *   drop         close every ESME connection now
 *   refuse S     for S seconds answer every bind with ESME_RBINDFAIL and close
 *   throttle S   for S seconds answer every submit_sm with ESME_RTHROTTLED
 *   stall S      for S seconds answer no submit_sm; then answer the held ones
 *                whose connection is still up (the others are dropped)
 *   clear        end every active fault now (held submit_sm are answered)
 *
 * Each command applied is logged on stderr ("smsc-sim: control CMD") and
 * passed to the mode (load mode writes "control CMD SECONDS" to --log).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

struct control {
	uv_pipe_t pipe;
	uv_timer_t stall_end;
	bool open;
	char line[256];
	size_t len;
	bool overlong;
	int closed;
};

static void stall_end_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	s->stall_until_ns = 0;
	sim_release_held(s);
}

static void applied(struct sim *s, const char *cmd)
{
	fprintf(stderr, "smsc-sim: control %s\n", cmd);
	if (s->on_control && !s->stopping)
		s->on_control(s, cmd);
}

static void apply(struct sim *s, struct control *ct, char *line)
{
	char word[16], extra[2];
	double secs = 0;
	int n = sscanf(line, "%15s %lf %1s", word, &secs, extra);
	if (n < 1)
		return; /* blank line */
	bool timed = strcmp(word, "refuse") == 0 || strcmp(word, "throttle") == 0 ||
		     strcmp(word, "stall") == 0;
	bool plain = strcmp(word, "drop") == 0 || strcmp(word, "clear") == 0;
	if ((timed && (n != 2 || !isfinite(secs) || secs < 0 || secs > 86400)) ||
	    (plain && n != 1) || (!timed && !plain)) {
		fprintf(stderr, "smsc-sim: control: bad command '%s' (drop | refuse S | "
				"throttle S | stall S | clear)\n", line);
		return;
	}
	char norm[64];
	if (timed)
		snprintf(norm, sizeof(norm), "%s %g", word, secs);
	else
		snprintf(norm, sizeof(norm), "%s", word);
	/* log first, so that the log shows the cause before the effects */
	applied(s, norm);
	uint64_t until = uv_hrtime() + (uint64_t)(secs * 1e9);
	if (strcmp(word, "drop") == 0) {
		sim_close_all(s);
	} else if (strcmp(word, "refuse") == 0) {
		s->refuse_until_ns = until;
	} else if (strcmp(word, "throttle") == 0) {
		s->throttle_until_ns = until;
	} else if (strcmp(word, "stall") == 0) {
		s->stall_until_ns = until;
		uv_timer_start(&ct->stall_end, stall_end_cb, (uint64_t)ceil(secs * 1000), 0);
	} else { /* clear */
		s->refuse_until_ns = s->throttle_until_ns = s->stall_until_ns = 0;
		uv_timer_stop(&ct->stall_end);
		sim_release_held(s);
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char rbuf[1024];
	(void)h;
	(void)suggested;
	buf->base = rbuf;
	buf->len = sizeof(rbuf);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sim *s = st->data;
	struct control *ct = s->control;
	if (nread < 0) {
		/* opened read-write, so EOF does not happen; any error ends it */
		fprintf(stderr, "smsc-sim: control: read: %s\n", uv_strerror((int)nread));
		uv_read_stop(st);
		return;
	}
	for (ssize_t i = 0; i < nread; i++) {
		char c = buf->base[i];
		if (c == '\n') {
			ct->line[ct->len] = 0;
			if (ct->len && ct->line[ct->len - 1] == '\r')
				ct->line[ct->len - 1] = 0;
			if (!ct->overlong)
				apply(s, ct, ct->line);
			else
				fprintf(stderr, "smsc-sim: control: line too long\n");
			ct->len = 0;
			ct->overlong = false;
			if (s->stopping)
				return;
		} else if (ct->len + 1 < sizeof(ct->line)) {
			ct->line[ct->len++] = c;
		} else {
			ct->overlong = true;
		}
	}
}

static void free_cb(uv_handle_t *h)
{
	struct sim *s = h->data;
	struct control *ct = s->control;
	if (ct && ++ct->closed == 2) { /* both handles closed */
		s->control = NULL;
		free(ct);
	}
}

int sim_control_start(struct sim *s)
{
	const char *path = s->opt.control;
	if (!path)
		return 0;
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISFIFO(st.st_mode)) {
			fprintf(stderr, "smsc-sim: --control %s exists and is not a FIFO\n", path);
			return -EINVAL;
		}
		unlink(path); /* stale */
	}
	if (mkfifo(path, 0600) != 0) {
		fprintf(stderr, "smsc-sim: mkfifo %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	/* read-write: we are a writer ourselves, so there is no EOF when the
	 * last `echo` closes its end */
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "smsc-sim: open %s: %s\n", path, strerror(errno));
		unlink(path);
		return -EINVAL;
	}
	struct control *ct = calloc(1, sizeof(*ct));
	if (!ct) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	s->control = ct;
	uv_timer_init(s->loop, &ct->stall_end);
	ct->stall_end.data = s;
	uv_pipe_init(s->loop, &ct->pipe, 0);
	ct->pipe.data = s;
	ct->open = true;
	int rc = uv_pipe_open(&ct->pipe, fd);
	if (rc < 0)
		close(fd); /* not the pipe's yet */
	else
		rc = uv_read_start((uv_stream_t *)&ct->pipe, alloc_cb, read_cb);
	if (rc < 0) {
		fprintf(stderr, "smsc-sim: --control %s: %s\n", path, uv_strerror(rc));
		sim_control_stop(s);
		return -EINVAL;
	}
	sim_log(s, "control", "fifo=%s", path);
	return 0;
}

void sim_control_stop(struct sim *s)
{
	struct control *ct = s->control;
	if (!ct || !ct->open)
		return;
	ct->open = false;
	uv_timer_stop(&ct->stall_end);
	if (!uv_is_closing((uv_handle_t *)&ct->pipe))
		uv_close((uv_handle_t *)&ct->pipe, free_cb);
	if (!uv_is_closing((uv_handle_t *)&ct->stall_end))
		uv_close((uv_handle_t *)&ct->stall_end, free_cb);
	unlink(s->opt.control);
}
