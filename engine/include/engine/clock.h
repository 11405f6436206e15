/* engine/clock.h — "now" for dialogd and dialogctl.
 *
 * The clock reads the system clock, or, when $DIALOG_NOW holds an ISO-8601
 * instant ("2026-11-22T14:00:00+03:00", "2026-11-22T11:00:00Z"), starts at that
 * instant and runs on in real time (interfaces.md, "Time").
 */
#ifndef ENGINE_CLOCK_H
#define ENGINE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Read $DIALOG_NOW once. Returns 0, or -EINVAL when it is set but malformed
 * (the clock then runs on the system clock). Safe to call more than once. */
int eng_clock_init(void);

/* Microseconds since the Unix epoch, UTC. */
int64_t eng_now_us(void);
static inline time_t eng_now(void) { return (time_t)(eng_now_us() / 1000000); }

/* Parse an ISO-8601 instant with a zone ("Z", "+03:00", "+0300") or none
 * (taken as UTC) into microseconds since the epoch. 0 or -EINVAL. */
int eng_parse_instant(const char *s, int64_t *out_us);

/* Format microseconds since the epoch as "2026-11-22T11:00:00Z" (UTC).
 * `out` needs 32 bytes. Returns out. */
char *eng_format_instant(int64_t us, char *out);

/* "2026-11-22T11:00:00.123456Z": the service clock now, for SQL statement
 * parameters (DIALOG_NOW moves it; PostgreSQL's now() would not). */
char *eng_now_param(char out[40]);
/* The same for any instant (microseconds since the epoch). */
char *eng_format_instant_us(int64_t us, char out[40]);

/* The billing day (days since 1970-01-01 of the local date) of instant
 * `at_s` in IANA zone `tz`, and the UTC instant of the next local midnight.
 * 0 or -EINVAL. Not for hot paths: it switches the process time zone. */
int eng_tz_day(const char *tz, int64_t at_s, int32_t *day, int64_t *next_midnight_s);

/* "YYYY-MM-DD" of a day number. */
char *eng_format_day(int32_t day, char out[11]);

#endif
