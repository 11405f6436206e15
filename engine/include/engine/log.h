/* engine/log.h — one event a line, key=value, to stderr.
 *
 *   ts=2026-11-22T11:00:00.123Z level=info sub=smpp event=bound session=0 system_id=dialog
 *
 * Passwords and message bodies are never logged at info level or above.
 */
#ifndef ENGINE_LOG_H
#define ENGINE_LOG_H

#include <stdarg.h>

enum eng_log_level {
	ENG_LOG_DEBUG = 0,
	ENG_LOG_INFO,
	ENG_LOG_NOTICE,
	ENG_LOG_ERROR,
};

/* Name table for the enum ("debug", "info", ...). */
const char *eng_log_level_name(enum eng_log_level l);
/* Parse a level name; returns the level or -1. */
int eng_log_level_parse(const char *s);

void eng_log_set_level(enum eng_log_level l);
enum eng_log_level eng_log_get_level(void);

/* Log one event. `fmt` continues the line after "sub=... event=...", and must
 * itself be key=value pairs separated by spaces (may be NULL). */
void eng_log(enum eng_log_level l, const char *sub, const char *event,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void eng_logv(enum eng_log_level l, const char *sub, const char *event,
	      const char *fmt, va_list ap);

/* Quote a value for a key=value line: copies `in` to `out`, wrapping it in
 * double quotes and escaping `"`, `\` and control bytes when it holds a space,
 * a quote, `=` or a non-printable byte. Returns `out`. */
char *eng_log_quote(const char *in, char *out, unsigned outsz);

#define ENG_DEBUG(sub, ev, ...) eng_log(ENG_LOG_DEBUG, sub, ev, __VA_ARGS__)
#define ENG_INFO(sub, ev, ...) eng_log(ENG_LOG_INFO, sub, ev, __VA_ARGS__)
#define ENG_NOTICE(sub, ev, ...) eng_log(ENG_LOG_NOTICE, sub, ev, __VA_ARGS__)
#define ENG_ERROR(sub, ev, ...) eng_log(ENG_LOG_ERROR, sub, ev, __VA_ARGS__)

#endif
