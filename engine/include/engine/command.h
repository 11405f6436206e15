/* engine/command.h — what a subscriber's SMS to the short code asks for
 * (service-rules.md, "Commands"). Case-insensitive, surrounding white space
 * ignored, Latin and Cyrillic spellings both accepted. */
#ifndef ENGINE_COMMAND_H
#define ENGINE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/msisdn.h"

enum eng_cmd_kind {
	ENG_CMD_HELP = 0,    /* HELP, ПОМОЩЬ, or anything not understood */
	ENG_CMD_INVITE,      /* a phone number (R4) */
	ENG_CMD_ACCEPT,      /* 1 [number] (R6) */
	ENG_CMD_DECLINE,     /* 2 [number] (R7) */
	ENG_CMD_STOP,        /* STOP / СТОП / 0 [number] (R14) */
	ENG_CMD_STATUS,      /* STATUS / СТАТУС / ? */
	ENG_CMD_BAD_NUMBER,  /* looks like a number (digits, +, spaces, dashes,
	                        parentheses only) but is not valid by R2, or a
	                        command whose number argument is invalid */
	ENG_CMD__COUNT
};

/* Name table ("help", "invite", ...), used in logs. */
const char *eng_cmd_kind_name(enum eng_cmd_kind k);

struct eng_cmd {
	enum eng_cmd_kind kind;
	bool has_number;                    /* a number was given */
	char number[ENG_MSISDN_LEN + 1];    /* canonical, when has_number */
	enum eng_cmd_kind wanted;           /* for ENG_CMD_BAD_NUMBER: the command
	                                       the bad number came with
	                                       (ENG_CMD_INVITE for a bare one) */
};

/* Parse the UTF-8 text of an SMS (need not be NUL-terminated; invalid UTF-8
 * is simply not understood -> HELP). Never fails. */
void eng_cmd_parse(const char *text, size_t len, struct eng_cmd *out);

#endif
