/* engine/rating.h — how one relayed message is rated (R9-R11, D6).
 *
 * Pure arithmetic, no state: the engine supplies the pair's allowance use
 * (committed and reserved) and the sender's price. */
#ifndef ENGINE_RATING_H
#define ENGINE_RATING_H

#include <stdint.h>

struct eng_rate_in {
	int segments;       /* D6: segments the message counts for (>= 1) */
	int in_dialog;      /* 1: the pair has an active dialog (R9) */
	int allowance;      /* daily_allowance */
	int used;           /* units of the pair's day already used or reserved */
	int64_t price;      /* the sender's tariff SMS price, kopecks */
};

struct eng_rate_out {
	int free_segments;     /* within the allowance (R9) */
	int charged_segments;  /* beyond it (R10) or no dialog (R11) */
	int64_t amount;        /* charged_segments * price */
	const char *rule;      /* "R9" all free, "R10" some charged, "R11" no dialog */
};

void eng_rate(const struct eng_rate_in *in, struct eng_rate_out *out);

#endif
