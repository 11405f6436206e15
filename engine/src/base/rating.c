/* Rating of one relayed message (engine/rating.h). */
#include "engine/rating.h"

void eng_rate(const struct eng_rate_in *in, struct eng_rate_out *out)
{
	int segs = in->segments > 0 ? in->segments : 1;
	int left = 0;
	if (in->in_dialog && in->allowance > in->used)
		left = in->allowance - in->used;
	/* D6: when the allowance runs out inside a multi-part message, the parts
	 * within it are free and the rest charged. */
	out->free_segments = segs < left ? segs : left;
	out->charged_segments = segs - out->free_segments;
	out->amount = (int64_t)out->charged_segments * in->price;
	if (!in->in_dialog)
		out->rule = "R11";
	else if (out->charged_segments > 0)
		out->rule = "R10";
	else
		out->rule = "R9";
}
