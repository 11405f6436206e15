/* pgarray.h — PostgreSQL array literals ("{a,b,NULL}") built element by
 * element, for the batched statements of the engine (private). */
#ifndef ENGINE_PGARRAY_H
#define ENGINE_PGARRAY_H

#include <stddef.h>

struct eng_arr {
	char *s;
	size_t len, cap;
};

/* Append one element (NULL -> NULL; `quote`: as a quoted, escaped string).
 * 0 or -ENOMEM. */
int eng__arr_put(struct eng_arr *b, const char *v, int quote);
/* Close the literal ("{}" when empty) and return it; free(b->s) after use.
 * NULL on out of memory. */
const char *eng__arr_end(struct eng_arr *b);

#endif
