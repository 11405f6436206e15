/* key=value event log to stderr (engine/log.h). */
#include "engine/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

static enum eng_log_level g_level = ENG_LOG_INFO;

static const char *const level_names[] = {
	[ENG_LOG_DEBUG] = "debug",
	[ENG_LOG_INFO] = "info",
	[ENG_LOG_NOTICE] = "notice",
	[ENG_LOG_ERROR] = "error",
};

const char *eng_log_level_name(enum eng_log_level l)
{
	if ((unsigned)l >= sizeof level_names / sizeof level_names[0])
		return "unknown";
	return level_names[l];
}

int eng_log_level_parse(const char *s)
{
	for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void eng_log_set_level(enum eng_log_level l)
{
	g_level = l;
}

enum eng_log_level eng_log_get_level(void)
{
	return g_level;
}

char *eng_log_quote(const char *in, char *out, unsigned outsz)
{
	int need = in[0] == '\0';
	for (const char *p = in; *p && !need; p++)
		need = *p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		       (unsigned char)*p < 0x20 || *p == 0x7f;
	unsigned o = 0;
	if (outsz == 0)
		return out;
	if (!need) {
		snprintf(out, outsz, "%s", in);
		return out;
	}
	if (o + 1 < outsz)
		out[o++] = '"';
	for (const char *p = in; *p && o + 5 < outsz; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (unsigned)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (o + 1 < outsz)
		out[o++] = '"';
	out[o] = '\0';
	return out;
}

void eng_logv(enum eng_log_level l, const char *sub, const char *event, const char *fmt,
	      va_list ap)
{
	if (l < g_level)
		return;
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof line,
			 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s sub=%s event=%s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv.tv_usec / 1000), eng_log_level_name(l), sub, event);
	if (n < 0)
		return;
	if (fmt && *fmt && (size_t)n + 1 < sizeof line) {
		line[n++] = ' ';
		int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}

void eng_log(enum eng_log_level l, const char *sub, const char *event, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	eng_logv(l, sub, event, fmt, ap);
	va_end(ap);
}
