/* PostgreSQL array literals built for statement parameters (pgarray.h). */
#include "pgarray.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int eng__arr_put(struct eng_arr *b, const char *v, int quote)
{
	size_t need = (v ? strlen(v) * 2 : 4) + 4;
	if (b->len + need + 2 > b->cap) {
		size_t cap = (b->cap + need) * 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
	char sep = b->len ? ',' : '{';
	b->s[b->len++] = sep;
	if (!v) {
		memcpy(b->s + b->len, "NULL", 4);
		b->len += 4;
	} else if (!quote) {
		size_t l = strlen(v);
		memcpy(b->s + b->len, v, l);
		b->len += l;
	} else {
		b->s[b->len++] = '"';
		for (const char *c = v; *c; c++) {
			if (*c == '"' || *c == '\\')
				b->s[b->len++] = '\\';
			b->s[b->len++] = *c;
		}
		b->s[b->len++] = '"';
	}
	b->s[b->len] = '\0';
	return 0;
}

const char *eng__arr_end(struct eng_arr *b)
{
	if (!b->s) {
		b->s = strdup("{}");
		return b->s;
	}
	b->s[b->len++] = '}';
	b->s[b->len] = '\0';
	return b->s;
}
