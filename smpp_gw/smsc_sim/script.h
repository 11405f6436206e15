/* smsc_sim/script.h — the smsc-sim scenario language (private).
 *
 * A script is parsed once, up front, into an array of steps; a syntax error
 * anywhere is reported with its line number before anything runs. The
 * language is documented in docs/smsc-sim.md. This header has no libuv
 * dependency so that the parser can be unit tested on its own.
 */
#ifndef SMSC_SIM_SCRIPT_H
#define SMSC_SIM_SCRIPT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_op {
	SIM_OP_WAIT_BIND,
	SIM_OP_WAIT_BINDS,
	SIM_OP_MO,
	SIM_OP_MO_HEX,
	SIM_OP_RAW,
	SIM_OP_EXPECT_RESP,
	SIM_OP_EXPECT_RESPS,
	SIM_OP_EXPECT_MT,
	SIM_OP_EXPECT_MT_PARTS,
	SIM_OP_EXPECT_NO_MT,
	SIM_OP_EXPECT_GENERIC_NACK,
	SIM_OP_EXPECT_DISCONNECT,
	SIM_OP_EXPECT_BIND_COUNT,
	SIM_OP_THROTTLE,
	SIM_OP_FAIL_SUBMIT,
	SIM_OP_RECEIPTS,
	SIM_OP_DROP,
	SIM_OP_REFUSE_BINDS,
	SIM_OP_PASSWORD,
	SIM_OP_ENQUIRE_LINK,
	SIM_OP_WAIT,
	SIM_OP_ECHO,
	SIM_OP__COUNT
};

/* Name table: the command word of each op ("wait-bind", "expect-mt", ...). */
const char *sim_op_name(enum sim_op op);

enum sim_receipts {
	SIM_RECEIPTS_OFF = 0,
	SIM_RECEIPTS_ON,   /* stat:DELIVRD, message_state 2 */
	SIM_RECEIPTS_FAIL, /* stat:UNDELIV, message_state 5 */
};
const char *sim_receipts_name(enum sim_receipts r);

/* One step. Fields not used by an op keep their zero / -1 defaults. */
struct sim_step {
	enum sim_op op;
	unsigned line;      /* 1-based line in the script */
	int64_t ms;         /* timeout or duration in ms; -1 = the default */
	long n;             /* count (wait-binds, throttle, parts, ...) */
	long status;        /* expected / injected command_status; -1 none */
	long dcs;           /* data_coding (mo-hex, expect-mt-parts); -1 none */
	long esm;           /* esm_class (mo-hex); -1 none */
	char from[21];
	char to[21];
	char *text;         /* mo text, echo text, regex source, password */
	uint8_t *bytes;     /* mo-hex payload / raw bytes */
	size_t nbytes;
	bool has_re;
	regex_t re;         /* expect-mt, compiled REG_EXTENDED|REG_ICASE */
	char *src;          /* the line as written, for the transcript */
};

struct sim_script {
	struct sim_step *steps;
	size_t n;
};

/* Parse a whole script. On success returns 0 and fills `sc` (free with
 * sim_script_free). On error returns -EINVAL (or -ENOMEM) and writes
 * "line N: what is wrong" to err; `sc` is left empty. */
int sim_script_parse(const char *text, size_t len, struct sim_script *sc, char *err,
		     size_t errsz);
void sim_script_free(struct sim_script *sc);

/* Helpers shared with the rest of the simulator. */
/* Parse a command_status: a number (decimal or 0x..) or a name as printed
 * by smpp_status_name ("ESME_RTHROTTLED", also accepted without "ESME_").
 * Returns 0 and sets *out, or -EINVAL. */
int sim_parse_status(const char *s, uint32_t *out);
/* Parse hex digits (whitespace between bytes allowed) into a malloc'ed
 * buffer. 0 or -EINVAL / -ENOMEM. An empty string gives n = 0. */
int sim_parse_hex(const char *s, uint8_t **out, size_t *n);
/* Canonical digits of a number for comparisons: '+' and separators removed,
 * 8XXXXXXXXXX and 9XXXXXXXXX (10 digits) rewritten to 7XXXXXXXXXX (R2). */
void sim_canon_number(const char *in, char *out, size_t outsz);

#endif
