/* dialogd — the SMS dialog engine daemon (interfaces.md, "dialogd"). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <uv.h>

#include "billing/db.h"
#include "engine/clock.h"
#include "engine/config.h"
#include "engine/daemon.h"
#include "engine/fsm.h"
#include "engine/log.h"
#include "engine/version.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: dialogd [--config FILE] [--check-config]\n"
		   "  --config FILE    configuration (else $DIALOG_CONFIG; else defaults)\n"
		   "  --check-config   validate the configuration and exit\n"
		   "  --config-doc     print every configuration key as Markdown tables\n"
		   "  --fsm-doc        print the dialog state machine as Markdown (docs/fsm.md)\n"
		   "  --version        print the version\n");
}

/* The SMPP client connects to numeric addresses; a host name is resolved
 * once, here, before the loop starts. */
static int resolve_host(char *host, size_t hostsz)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "dialogd: [smpp] host: cannot resolve \"%s\": %s\n", host,
			gai_strerror(rc));
		return -EINVAL;
	}
	char num[NI_MAXHOST];
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof num, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (rc != 0 || strlen(num) >= hostsz)
		return -EINVAL;
	memcpy(host, num, strlen(num) + 1);
	return 0;
}

static struct eng_daemon *g_daemon;
static uv_signal_t g_sigterm, g_sigint;

static void stopped(void *data)
{
	uv_loop_t *loop = data;
	uv_close((uv_handle_t *)&g_sigterm, NULL);
	uv_close((uv_handle_t *)&g_sigint, NULL);
	ENG_INFO("dialogd", "stopped", NULL);
	(void)loop;
}

static void on_signal(uv_signal_t *h, int signum)
{
	ENG_INFO("dialogd", "signal", "signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	uv_signal_stop(&g_sigterm);
	uv_signal_stop(&g_sigint);
	eng_daemon_stop(g_daemon, stopped, h->loop);
}

int main(int argc, char **argv)
{
	const char *config_flag = NULL;
	int check = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_flag = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_flag = argv[i] + 9;
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "--config-doc") == 0) {
			/* docs/configuration.md's tables come from here */
			eng_config_write_doc(stdout);
			return 0;
		} else if (strcmp(argv[i], "--fsm-doc") == 0) {
			/* docs/fsm.md comes from here */
			eng_fsm_write_doc(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("dialogd %s\n", eng_version());
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "dialogd: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	struct eng_config cfg;
	char err[512];
	const char *path = eng_config_path(config_flag);
	if (path) {
		if (eng_config_load(&cfg, path, err, sizeof err) != 0) {
			fprintf(stderr, "dialogd: %s\n", err);
			return 2;
		}
		struct stat st;
		if (stat(path, &st) == 0 && (st.st_mode & S_IROTH)) {
			char q[PATH_MAX + 8];
			ENG_NOTICE("dialogd", "config_world_readable",
				   "file=%s hint=\"chmod o-r: it holds the SMPP password\"",
				   eng_log_quote(path, q, sizeof q));
		}
	} else {
		eng_config_defaults(&cfg);
	}
	if (check) {
		printf("dialogd: configuration %s is valid\n", path ? path : "(defaults)");
		return 0;
	}
	eng_log_set_level((enum eng_log_level)cfg.log.level);
	if (eng_clock_init() != 0) {
		fprintf(stderr, "dialogd: DIALOG_NOW is not an ISO-8601 instant: %s\n",
			getenv("DIALOG_NOW"));
		return 2;
	}
	if (resolve_host(cfg.smpp.host, sizeof cfg.smpp.host) != 0)
		return 2;
	char conninfo[2048];
	bill_conninfo_resolve(NULL, &cfg, conninfo, sizeof conninfo);

	signal(SIGPIPE, SIG_IGN);
	uv_loop_t loop;
	uv_loop_init(&loop);
	char now[32];
	ENG_INFO("dialogd", "start",
		 "version=%s smsc=%s:%d system_id=%s sessions=%d bind=%s now=%s",
		 eng_version(), cfg.smpp.host, cfg.smpp.port, cfg.smpp.system_id, cfg.smpp.sessions,
		 cfg.smpp.bind == ENG_BIND_TX_RX ? "tx_rx" : "transceiver",
		 eng_format_instant(eng_now_us(), now));
	g_daemon = eng_daemon_start(&loop, &cfg, conninfo);
	if (!g_daemon) {
		ENG_ERROR("dialogd", "start_failed", NULL);
		return 1;
	}
	uv_signal_init(&loop, &g_sigterm);
	uv_signal_init(&loop, &g_sigint);
	uv_signal_start(&g_sigterm, on_signal, SIGTERM);
	uv_signal_start(&g_sigint, on_signal, SIGINT);
	uv_run(&loop, UV_RUN_DEFAULT);
	int failed = eng_daemon_failed(g_daemon);
	eng_daemon_free(g_daemon);
	int rc = uv_loop_close(&loop);
	if (rc != 0) {
		ENG_ERROR("dialogd", "loop_not_closed", "error=%s", uv_err_name(rc));
		return 1;
	}
	return failed ? 1 : 0;
}
