/* smsc_sim/main.c — smsc-sim: options, the loop, signals, output.
 *
 *   smsc-sim --listen HOST:PORT --system-id ID --password PW
 *            (--interactive | --script FILE | --load [load options])
 *
 * See docs/smsc-sim.md.
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void usage(FILE *f)
{
	fputs("usage: smsc-sim --listen HOST:PORT --system-id ID --password PW MODE [options]\n"
	      "modes (exactly one):\n"
	      "  --interactive          read 'FROM TO text' lines on stdin, print MTs\n"
	      "  --script FILE          play a scenario; exit 0 only if every expectation held\n"
	      "  --load                 drive MO traffic and report figures\n"
	      "options:\n"
	      "  --port-file F          write the bound port number to F once listening\n"
	      "  --timeout-ms N         default expectation timeout in scripts (5000)\n"
	      "  --receipts on|off|fail delivery receipts for accepted submit_sm (off)\n"
	      "  --verbose              log every PDU on stderr\n"
	      "  --control PATH         create a FIFO at PATH and read fault commands from it\n"
	      "                         (drop | refuse S | throttle S | stall S | clear)\n"
	      "load options:\n"
	      "  --rate N               MO per second (100; 0 = none, e.g. invitations only)\n"
	      "  --duration S           measured seconds (10)\n"
	      "  --warmup S             seconds sent before measuring (0)\n"
	      "  --drain S              seconds to wait for the last responses (5)\n"
	      "  --pairs N              subscriber pairs 7916xxxxxxx (1000)\n"
	      "  --p2p-ratio F          share of P2P messages, rest are commands (0.8)\n"
	      "  --short-code C         the service short code (6249)\n"
	      "  --window N             max MO without response (1000)\n"
	      "  --bind-wait S          how long to wait for the first bind (30)\n"
	      "  --seed N               random seed (1)\n"
	      "  --pairs-file F         the population: one pair 'A B' a line (instead of --pairs)\n"
	      "  --log F                one line per MO, response, loss and MT (for checkers)\n"
	      "  --mo-timeout-ms N      give up an MO unanswered this long (0 = never, default)\n"
	      "  --invite-pairs-file F  pairs 'A B' (not in a dialog): A invites B, B accepts\n"
	      "  --invite-rate N        invitations per second (0 = none, default)\n"
	      "  --redeliver            resend MOs lost at a disconnect, retry temporary errors\n",
	      f);
}

void sim_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

double sim_elapsed(const struct sim *s)
{
	return (double)(uv_hrtime() - s->t0_ns) / 1e9;
}

void sim_log(const struct sim *s, const char *event, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sim %s t=%.3f", event, sim_elapsed(s));
	if (fmt && *fmt) {
		fputc(' ', stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

void sim_stop(struct sim *s, int code)
{
	if (s->stopping)
		return;
	s->exit_code = code;
	if (s->on_stop)
		s->on_stop(s);
	s->stopping = true;
	sim_control_stop(s);
	sim_server_stop(s);
	if (!uv_is_closing((uv_handle_t *)&s->sigint))
		uv_close((uv_handle_t *)&s->sigint, NULL);
	if (!uv_is_closing((uv_handle_t *)&s->sigterm))
		uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct sim *s = h->data;
	sim_log(s, "signal", "sig=%s", signum == SIGINT ? "INT" : "TERM");
	sim_stop(s, 0);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_longarg(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

enum {
	OPT_LISTEN = 256,
	OPT_SYSID,
	OPT_PASSWORD,
	OPT_INTERACTIVE,
	OPT_SCRIPT,
	OPT_LOAD,
	OPT_PORT_FILE,
	OPT_TIMEOUT,
	OPT_RECEIPTS,
	OPT_VERBOSE,
	OPT_RATE,
	OPT_DURATION,
	OPT_WARMUP,
	OPT_DRAIN,
	OPT_PAIRS,
	OPT_P2P,
	OPT_SHORT,
	OPT_WINDOW,
	OPT_BINDWAIT,
	OPT_SEED,
	OPT_PAIRS_FILE,
	OPT_LOG,
	OPT_MO_TIMEOUT,
	OPT_INVITE_PAIRS,
	OPT_INVITE_RATE,
	OPT_REDELIVER,
	OPT_CONTROL,
	OPT_HELP,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "system-id", required_argument, NULL, OPT_SYSID },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "interactive", no_argument, NULL, OPT_INTERACTIVE },
	{ "script", required_argument, NULL, OPT_SCRIPT },
	{ "load", no_argument, NULL, OPT_LOAD },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "receipts", required_argument, NULL, OPT_RECEIPTS },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "pairs", required_argument, NULL, OPT_PAIRS },
	{ "p2p-ratio", required_argument, NULL, OPT_P2P },
	{ "short-code", required_argument, NULL, OPT_SHORT },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "bind-wait", required_argument, NULL, OPT_BINDWAIT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "pairs-file", required_argument, NULL, OPT_PAIRS_FILE },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "mo-timeout-ms", required_argument, NULL, OPT_MO_TIMEOUT },
	{ "invite-pairs-file", required_argument, NULL, OPT_INVITE_PAIRS },
	{ "invite-rate", required_argument, NULL, OPT_INVITE_RATE },
	{ "redeliver", no_argument, NULL, OPT_REDELIVER },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* 0 ok, 1 help shown, -1 usage error (message printed). */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
	int modes = 0;
	long l;
	int c, li = 0;

	memset(o, 0, sizeof(*o));
	o->timeout_ms = 5000;
	o->rate = 100;
	o->duration_s = 10;
	o->drain_s = 5;
	o->bind_wait_s = 30;
	o->pairs = 1000;
	o->p2p_ratio = 0.8;
	o->window = 1000;
	o->short_code = "6249";
	o->seed = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, &li)) != -1) {
		const char *a = optarg;
		switch (c) {
		case OPT_LISTEN:
			o->listen = a;
			break;
		case OPT_SYSID:
			if (strlen(a) > 15) {
				fprintf(stderr, "smsc-sim: --system-id has at most 15 characters\n");
				return -1;
			}
			o->system_id = a;
			break;
		case OPT_PASSWORD:
			if (strlen(a) > 8) {
				fprintf(stderr, "smsc-sim: --password has at most 8 characters\n");
				return -1;
			}
			o->password = a;
			break;
		case OPT_INTERACTIVE:
			o->mode = SIM_MODE_INTERACTIVE;
			modes++;
			break;
		case OPT_SCRIPT:
			o->mode = SIM_MODE_SCRIPT;
			o->script = a;
			modes++;
			break;
		case OPT_LOAD:
			o->mode = SIM_MODE_LOAD;
			modes++;
			break;
		case OPT_PORT_FILE:
			o->port_file = a;
			break;
		case OPT_TIMEOUT:
			if (parse_longarg(a, 0, 3600L * 1000, &l) < 0)
				goto bad;
			o->timeout_ms = l;
			break;
		case OPT_RECEIPTS:
			if (strcmp(a, "on") == 0)
				o->receipts = SIM_RECEIPTS_ON;
			else if (strcmp(a, "off") == 0)
				o->receipts = SIM_RECEIPTS_OFF;
			else if (strcmp(a, "fail") == 0)
				o->receipts = SIM_RECEIPTS_FAIL;
			else
				goto bad;
			break;
		case OPT_VERBOSE:
			o->verbose = true;
			break;
		case OPT_RATE:
			if (parse_double(a, 0, 1e6, &o->rate) < 0)
				goto bad;
			break;
		case OPT_DURATION:
			if (parse_double(a, 0.001, 1e6, &o->duration_s) < 0)
				goto bad;
			break;
		case OPT_WARMUP:
			if (parse_double(a, 0, 1e6, &o->warmup_s) < 0)
				goto bad;
			break;
		case OPT_DRAIN:
			if (parse_double(a, 0, 1e6, &o->drain_s) < 0)
				goto bad;
			break;
		case OPT_BINDWAIT:
			if (parse_double(a, 0, 1e6, &o->bind_wait_s) < 0)
				goto bad;
			break;
		case OPT_PAIRS:
			if (parse_longarg(a, 1, 4999999, &o->pairs) < 0)
				goto bad;
			break;
		case OPT_P2P:
			if (parse_double(a, 0, 1, &o->p2p_ratio) < 0)
				goto bad;
			break;
		case OPT_SHORT:
			if (!*a || strlen(a) > 20)
				goto bad;
			o->short_code = a;
			break;
		case OPT_WINDOW:
			if (parse_longarg(a, 1, 10000000, &o->window) < 0)
				goto bad;
			break;
		case OPT_SEED:
			if (parse_longarg(a, 0, 0x7FFFFFFFL, &l) < 0)
				goto bad;
			o->seed = (uint64_t)l;
			break;
		case OPT_PAIRS_FILE:
			o->pairs_file = a;
			break;
		case OPT_LOG:
			o->log_file = a;
			break;
		case OPT_MO_TIMEOUT:
			if (parse_longarg(a, 0, 3600L * 1000, &l) < 0)
				goto bad;
			o->mo_timeout_ms = l;
			break;
		case OPT_INVITE_PAIRS:
			o->invite_pairs_file = a;
			break;
		case OPT_INVITE_RATE:
			if (parse_double(a, 0, 1e6, &o->invite_rate) < 0)
				goto bad;
			break;
		case OPT_REDELIVER:
			o->redeliver = true;
			break;
		case OPT_CONTROL:
			if (!*a)
				goto bad;
			o->control = a;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "smsc-sim: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			return -1;
		}
		continue;
bad:
		fprintf(stderr, "smsc-sim: bad value '%s' for --%s\n", a, long_opts[li].name);
		return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "smsc-sim: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->listen || !o->system_id || !o->password) {
		fprintf(stderr, "smsc-sim: --listen, --system-id and --password are required\n");
		return -1;
	}
	if (modes != 1) {
		fprintf(stderr, "smsc-sim: give exactly one of --interactive, --script, --load\n");
		return -1;
	}
	if (o->invite_rate > 0 && !o->invite_pairs_file) {
		fprintf(stderr, "smsc-sim: --invite-rate needs --invite-pairs-file\n");
		return -1;
	}
	return 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	static struct sim sim; /* large (read buffer); zeroed */
	struct sim *s = &sim;
	uv_loop_t loop;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	setlocale(LC_CTYPE, "");
	if (MB_CUR_MAX == 1)
		setlocale(LC_CTYPE, "C.UTF-8"); /* regexes over UTF-8 text */
	signal(SIGPIPE, SIG_IGN);

	rc = parse_args(argc, argv, &s->opt);
	if (rc != 0) {
		if (rc < 0)
			usage(stderr);
		return rc < 0 ? 2 : 0;
	}
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "smsc-sim: uv_loop_init failed\n");
		return 1;
	}
	s->loop = &loop;
	s->t0_ns = uv_hrtime();
	s->exit_code = 0;
	uv_signal_init(&loop, &s->sigint);
	uv_signal_init(&loop, &s->sigterm);
	s->sigint.data = s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);

	/* the mode first (a script with a syntax error must not listen) */
	switch (s->opt.mode) {
	case SIM_MODE_INTERACTIVE:
		rc = sim_interactive_start(s);
		break;
	case SIM_MODE_SCRIPT:
		rc = sim_script_start(s);
		break;
	case SIM_MODE_LOAD:
		rc = sim_load_start(s);
		break;
	}
	if (rc == 0)
		rc = sim_control_start(s);
	if (rc == 0)
		rc = sim_server_start(s);
	if (rc < 0)
		sim_stop(s, rc == -EINVAL ? 2 : 1);

	uv_run(&loop, UV_RUN_DEFAULT);

	/* safety net: nothing should be left, but never leave handles open */
	uv_walk(&loop, walk_close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	int cl = uv_loop_close(&loop);
	if (cl != 0) {
		fprintf(stderr, "smsc-sim: uv_loop_close: %s\n", uv_strerror(cl));
		if (s->exit_code == 0)
			s->exit_code = 1;
	}
	if (s->on_free)
		s->on_free(s);
	sim_server_free(s);
	return s->exit_code;
}
