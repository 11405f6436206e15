/* Subscriber numbers (engine/msisdn.h, service-rules.md R2). */
#include "engine/msisdn.h"

#include <errno.h>
#include <string.h>

static void fail_out(char *out)
{
	if (out)
		out[0] = '\0';
}

int eng_msisdn_normalize_n(const char *in, size_t n, char out[ENG_MSISDN_LEN + 1])
{
	char d[ENG_MSISDN_LEN + 1];
	size_t nd = 0;
	int plus = 0;

	if (!in || !out) {
		fail_out(out);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= '0' && c <= '9') {
			if (nd >= ENG_MSISDN_LEN) {
				fail_out(out);
				return -EINVAL; /* too long */
			}
			d[nd++] = c;
		} else if (c == '+') {
			if (plus || nd > 0) {
				fail_out(out);
				return -EINVAL; /* '+' only once, before the digits */
			}
			plus = 1;
		} else if (c != ' ' && c != '-' && c != '(' && c != ')') {
			fail_out(out);
			return -EINVAL; /* letters, NUL, anything else */
		}
	}

	if (nd == 11 && d[0] == '7') {
		/* +7XXXXXXXXXX or 7XXXXXXXXXX */
	} else if (!plus && nd == 11 && d[0] == '8') {
		d[0] = '7';
	} else if (!plus && nd == 10 && d[0] == '9') {
		memmove(d + 1, d, 10);
		d[0] = '7';
		nd = 11;
	} else {
		fail_out(out);
		return -EINVAL;
	}
	memcpy(out, d, ENG_MSISDN_LEN);
	out[ENG_MSISDN_LEN] = '\0';
	return 0;
}

int eng_msisdn_normalize(const char *in, char out[ENG_MSISDN_LEN + 1])
{
	if (!in) {
		fail_out(out);
		return -EINVAL;
	}
	return eng_msisdn_normalize_n(in, strlen(in), out);
}

int eng_msisdn_from_smpp(unsigned ton, const char *addr, char out[ENG_MSISDN_LEN + 1])
{
	if (!addr || !out) {
		fail_out(out);
		return -EINVAL;
	}
	switch (ton) {
	case 1: { /* international: the digits as they are, a '+' tolerated */
		const char *p = addr[0] == '+' ? addr + 1 : addr;
		size_t len = strlen(p);
		if (len != ENG_MSISDN_LEN || p[0] != '7') {
			fail_out(out);
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++) {
			if (p[i] < '0' || p[i] > '9') {
				fail_out(out);
				return -EINVAL;
			}
		}
		memcpy(out, p, ENG_MSISDN_LEN + 1);
		return 0;
	}
	case 0: /* unknown */
	case 2: /* national */
		return eng_msisdn_normalize(addr, out);
	default:
		fail_out(out);
		return -EINVAL;
	}
}
