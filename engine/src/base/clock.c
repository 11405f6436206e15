/* The service clock: system time, or $DIALOG_NOW running on (engine/clock.h). */
#include "engine/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t g_offset_us; /* added to the system clock */
static int g_inited;

static int64_t system_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int eng_parse_instant(const char *s, int64_t *out_us)
{
	int y, mo, d, h = 0, mi = 0, se = 0;
	int64_t frac_us = 0;
	size_t n = strlen(s);
	if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return -EINVAL;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (strlen(p) < 5 || digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi))
			return -EINVAL;
		p += 5;
		if (*p == ':') {
			if (digits(p + 1, 2, &se))
				return -EINVAL;
			p += 3;
			if (*p == '.' || *p == ',') {
				p++;
				int64_t scale = 100000;
				if (*p < '0' || *p > '9')
					return -EINVAL;
				while (*p >= '0' && *p <= '9') {
					frac_us += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
	}
	int off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om = 0;
		p++;
		if (digits(p, 2, &oh))
			return -EINVAL;
		p += 2;
		if (*p == ':')
			p++;
		if (*p) {
			if (digits(p, 2, &om))
				return -EINVAL;
			p += 2;
		}
		if (oh > 18 || om > 59)
			return -EINVAL;
		off_min = sign * (oh * 60 + om);
	}
	if (*p != '\0')
		return -EINVAL;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    se > 60)
		return -EINVAL;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return -EINVAL;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
		       mi * 60 + se - (int64_t)off_min * 60;
	*out_us = secs * 1000000 + frac_us;
	return 0;
}

char *eng_format_instant(int64_t us, char *out)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

int eng_clock_init(void)
{
	if (g_inited)
		return 0;
	g_inited = 1;
	const char *s = getenv("DIALOG_NOW");
	if (!s || !*s)
		return 0;
	int64_t at;
	if (eng_parse_instant(s, &at) != 0)
		return -EINVAL;
	g_offset_us = at - system_us();
	return 0;
}

int64_t eng_now_us(void)
{
	if (!g_inited)
		eng_clock_init();
	return system_us() + g_offset_us;
}

char *eng_now_param(char out[40])
{
	return eng_format_instant_us(eng_now_us(), out);
}

/* Year, month, day of a day number (days since 1970-01-01; Hinnant's
 * civil_from_days). The formatters below run for every recorded message:
 * no strftime, no snprintf. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

static char *put_date(char *p, int64_t day)
{
	int64_t y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	return put_digits(p, d, 2);
}

char *eng_format_instant_us(int64_t us, char out[40])
{
	int64_t s = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
	int64_t frac = us - s * 1000000;
	int64_t day = s >= 0 ? s / 86400 : (s - 86399) / 86400;
	unsigned sod = (unsigned)(s - day * 86400);
	char *p = put_date(out, day);
	*p++ = 'T';
	p = put_digits(p, sod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, sod % 60, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)frac, 6);
	*p++ = 'Z';
	*p = '\0';
	return out;
}

int eng_tz_day(const char *tz, int64_t at_s, int32_t *day, int64_t *next_midnight_s)
{
	/* The C library converts in the process time zone only: switch it for
	 * the call. Called once per region per day, not per message. */
	char *old = getenv("TZ");
	char saved[256] = "";
	int had = old != NULL;
	if (had)
		snprintf(saved, sizeof saved, "%s", old);
	setenv("TZ", tz, 1);
	tzset();
	time_t t = (time_t)at_s;
	struct tm tm;
	int rc = localtime_r(&t, &tm) ? 0 : -EINVAL;
	if (rc == 0) {
		*day = (int32_t)days_from_civil(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
						(unsigned)tm.tm_mday);
		struct tm mid = tm;
		mid.tm_mday += 1;
		mid.tm_hour = 0;
		mid.tm_min = 0;
		mid.tm_sec = 0;
		mid.tm_isdst = -1;
		*next_midnight_s = (int64_t)mktime(&mid);
	}
	if (had)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	return rc;
}

char *eng_format_day(int32_t day, char out[11])
{
	*put_date(out, day) = '\0';
	return out;
}
