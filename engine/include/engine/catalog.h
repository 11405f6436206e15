/* engine/catalog.h — every subscriber-facing text, in Russian (default) and
 * English. Texts are templates with named placeholders "{name}" filled from
 * key/value pairs. */
#ifndef ENGINE_CATALOG_H
#define ENGINE_CATALOG_H

#include <stddef.h>

enum eng_lang { ENG_LANG_RU = 0, ENG_LANG_EN, ENG_LANG__COUNT };

/* Placeholders every message may use (the renderer fills the common ones,
 * the caller the rest): {short_code} {support_line} {allowance}. Others, per
 * message, are listed beside it. Dates are "DD.MM.YYYY" (ru) / "YYYY-MM-DD"
 * (en) as given by the caller; {peer} is a number as "+7XXXXXXXXXX"; {fee}
 * is roubles as eng_format_rub() writes them. */
enum eng_msg {
	ENG_MSG_HELP = 0,
	/* R4/R5 invitation */
	ENG_MSG_INVITE_SENT,          /* to A: {peer} {ttl_hours} */
	ENG_MSG_INVITATION,           /* to B, B had a trial already: {peer} {fee} */
	ENG_MSG_INVITATION_TRIAL,     /* to B, B never used the service: {peer} {fee} {trial_days} */
	ENG_MSG_INVITE_EXPIRED,       /* to A: {peer} */
	/* R6 activation: each side its own terms */
	ENG_MSG_ACTIVATED,            /* fee from the next day: {peer} {fee} {fee_from} */
	ENG_MSG_ACTIVATED_TRIAL,      /* free until trial end: {peer} {fee} {trial_end} {fee_from} */
	/* R7 */
	ENG_MSG_DECLINED_INVITER,     /* to A: {peer} */
	ENG_MSG_DECLINED_INVITEE,     /* to B, confirmation: {peer} */
	/* R14, D2 */
	ENG_MSG_ENDED_SELF,           /* to the one who stopped: {peer} */
	ENG_MSG_ENDED_PEER,           /* to the other participant: {peer} */
	ENG_MSG_WITHDRAWN_SELF,       /* to the inviter whose STOP withdrew it: {peer} */
	ENG_MSG_WITHDRAWN_INVITEE,    /* to the invitee: {peer} */
	ENG_MSG_ENDED_BLOCKED,        /* to the peer of a blocked subscriber: {peer} */
	/* refusals of an invitation (R1, R2, R4, D9) */
	ENG_MSG_ERR_NOT_SUBSCRIBER,   /* the sender is not a subscriber */
	ENG_MSG_ERR_SENDER_BLOCKED,   /* the sender's number is not active */
	ENG_MSG_ERR_BAD_NUMBER,       /* {text}: what was sent, shortened */
	ENG_MSG_ERR_SELF,
	ENG_MSG_ERR_PEER_UNKNOWN,     /* {peer} is not a subscriber of the operator */
	ENG_MSG_ERR_PEER_BLOCKED,     /* {peer} is not active */
	ENG_MSG_ERR_DIALOG_EXISTS,    /* {peer} */
	ENG_MSG_ERR_INVITE_EXISTS,    /* {peer} (from A to B, still pending) */
	ENG_MSG_ERR_LIMIT_SELF,       /* {limit}: A has max_dialogs_per_subscriber */
	ENG_MSG_ERR_LIMIT_PEER,       /* {peer} has the maximum */
	ENG_MSG_ERR_PENDING_LIMIT,    /* {limit} */
	ENG_MSG_ERR_DAILY_LIMIT,      /* {limit} */
	ENG_MSG_ERR_COOLDOWN,         /* {peer} {date}: B declined; A may invite again from {date} */
	/* answers 1 / 2 (R6, R7, D3) */
	ENG_MSG_NOTHING_PENDING,      /* 1 or 2 with no invitation pending */
	ENG_MSG_NO_INVITE_FROM,       /* 1/2 <number>: {peer} sent none */
	ENG_MSG_ACCEPT_LIMIT_SELF,    /* D3: {peer} {limit}; the invitation stays pending */
	ENG_MSG_ACCEPT_LIMIT_PEER,    /* D3: {peer} */
	/* STOP with nothing to stop */
	ENG_MSG_STOP_NOTHING,
	ENG_MSG_STOP_NOTHING_WITH,    /* {peer} */
	/* daily billing (R13b, R17, D13) */
	ENG_MSG_TRIAL_REMINDER,       /* last free day: {fee} {fee_from} */
	ENG_MSG_SUSPENDED,            /* fee unpaid, dialog suspended: {peer} {fee} {payer} */
	ENG_MSG_RESUMED,              /* paid again, dialog active: {peer} {fee} */
	/* operator channel (R15) */
	ENG_MSG_OPERATOR_ENDED,       /* to the requester, R15: {peer} {fee} */
	/* STATUS: rendered by eng_render_status() from its parts */
	ENG_MSG_STATUS,
	ENG_MSG__COUNT
};

/* Name table for the message ids ("help", ...), used in logs and the outbox. */
const char *eng_msg_name(enum eng_msg m);

/* "ru" / "en" -> language; -1 when unknown. */
int eng_lang_parse(const char *s);

struct eng_kv {
	const char *key;
	const char *value;
};

/* Render message `m` in `lang` into `out`, replacing each "{key}" by its value
 * from `kv` (n pairs). Returns the length written (without the NUL), or
 * -ENOSPC when `out` is too small, -EINVAL for a placeholder with no value. */
int eng_msg_render(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		   char *out, size_t outsz);

/* Message id from its name ("invite_sent"); -1 when unknown. */
int eng_msg_parse(const char *name);

/* Render like eng_msg_render, but kv may hold more pairs than the message
 * uses, and {short_code}/{support_line}/{allowance} come from `common` when
 * kv lacks them. The outbox stores a message as its name + key/value
 * parameters and dialogd renders it this way when it sends it. */
int eng_msg_render_kv(enum eng_lang lang, enum eng_msg m, const struct eng_kv *kv, size_t n,
		      const struct eng_kv *common, size_t ncommon, char *out, size_t outsz);

/* STATUS (service-rules.md "Commands"): the sender's dialogs, today's
 * allowance use, trial end, fees. Parameters (all strings):
 *   n          number of dialog lines (0 -> "no dialogs" text + how to invite)
 *   peerI stateI sinceI usedI   for I = 0..n-1: peer number, state name
 *              (active, suspended, pending_in, pending_out), the date since,
 *              allowance used today
 *   trial_end  a date, or "" when the subscriber has no trial running
 *   fee        the daily fee of the subscriber's region (roubles)
 * plus the common ones. Returns the length or negative like eng_msg_render. */
int eng_render_status(enum eng_lang lang, const struct eng_kv *kv, size_t n,
		      const struct eng_kv *common, size_t ncommon, char *out, size_t outsz);

/* Format kopecks as roubles for texts: 300 -> "3", 4550 -> "45,50" (ru) or
 * "45.50" (en). `out` needs 32 bytes. */
char *eng_format_rub(long long kopecks, enum eng_lang lang, char *out);

#endif
