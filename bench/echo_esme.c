/* echo-esme: the trivial ESME that measures smsc-sim's own ceiling. It binds
 * with the project's SMPP client and answers every deliver_sm ESME_ROK at
 * once: no database, no rating, no relay. bench/run-all.sh drives it with
 * smsc-sim --load; what that reaches is the most any engine could get
 * through this simulator on this machine.
 *
 *   echo-esme --port PORT [--sessions N]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "engine/log.h"
#include "smpp_gw/esme.h"

static struct smpp_esme *g_esme;
static uv_signal_t g_sig;

static void on_deliver(struct smpp_esme *e, const struct smpp_mo *mo, void *data)
{
	smpp_esme_respond(e, mo->token, SMPP_ESME_ROK);
}

static void stopped(struct smpp_esme *e, void *data)
{
	uv_close((uv_handle_t *)&g_sig, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	uv_signal_stop(h);
	smpp_esme_stop(g_esme, stopped, NULL);
}

int main(int argc, char **argv)
{
	int port = 0, sessions = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--sessions") == 0)
			sessions = atoi(argv[i + 1]);
	}
	if (port <= 0 || sessions <= 0) {
		fprintf(stderr, "usage: echo-esme --port PORT [--sessions N]\n");
		return 2;
	}
	eng_log_set_level(ENG_LOG_NOTICE);
	uv_loop_t *loop = uv_default_loop();
	struct smpp_esme_config cfg = {
		.host = "127.0.0.1", .port = port, .system_id = "dialog", .password = "secret",
		.system_type = "", .sessions = sessions, .window = 1000, .enquire_link_s = 30,
		.reconnect_max_s = 2, .response_timeout_s = 10,
	};
	struct smpp_esme_callbacks cbs = {.on_deliver = on_deliver};
	g_esme = smpp_esme_start(loop, &cfg, &cbs);
	if (!g_esme)
		return 1;
	uv_signal_init(loop, &g_sig);
	uv_signal_start(&g_sig, on_signal, SIGTERM);
	uv_run(loop, UV_RUN_DEFAULT);
	smpp_esme_free(g_esme);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
