/* engine/config.h — the one configuration file of dialogd and dialogctl (D14).
 *
 * One typed table (section, key, type, bounds, default, target) drives
 * defaults, loading, validation and the documentation in docs/configuration.md.
 * Unknown sections and keys are refused with their name; so are values out of
 * range. See interfaces.md for the keys.
 */
#ifndef ENGINE_CONFIG_H
#define ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum eng_bind_mode {
	ENG_BIND_TRANSCEIVER = 0, /* one bind_transceiver per session */
	ENG_BIND_TX_RX,           /* bind_transmitter + bind_receiver per session */
};

struct eng_config {
	struct {
		char host[256];
		int port;
		char system_id[16];   /* SMPP: at most 15 characters */
		char password[9];     /* SMPP: at most 8 characters; never logged */
		char system_type[13];
		enum eng_bind_mode bind;
		int sessions;
		int window;
		int tps;
		int enquire_link_s;
		int reconnect_max_s;
		int response_timeout_s; /* submit_sm / bind response timer */
		int redelivery_window_s; /* ack.c: watch unconfirmed answers this long */
	} smpp;
	struct {
		char short_code[21];
		char support_line[21];
		int daily_allowance;
		int max_dialogs_per_subscriber;
		int max_pending_invites;
		int max_invites_per_day;
		int invite_ttl_s;
		int decline_cooldown_days;
		int trial_days;
		int notice_grace_days;
		char language[3]; /* "ru" or "en" */
	} service;
	struct {
		char conninfo[1024];
		int record_connections; /* relay recorders besides the main connection */
	} db;
	struct {
		int level; /* enum eng_log_level */
	} log;
};

/* Fill every key with its default. */
void eng_config_defaults(struct eng_config *c);

/* Defaults, then the file. Returns 0, or -EINVAL / -ENOENT with a message
 * naming the file, line and key in `err` (e.g. "dialog.ini:12: [smpp] port:
 * 70000 is out of range 1..65535"). */
int eng_config_load(struct eng_config *c, const char *path, char *err, size_t errsz);

/* Same, from text in memory (for tests and the fuzzer); `name` is used in
 * messages. */
int eng_config_load_string(struct eng_config *c, const char *text, const char *name,
			   char *err, size_t errsz);

/* The path to use: `flag` if not NULL, else $DIALOG_CONFIG, else NULL. */
const char *eng_config_path(const char *flag);

/* Write the whole table as Markdown (docs/configuration.md is generated
 * from this). */
void eng_config_write_doc(FILE *out);

#endif
