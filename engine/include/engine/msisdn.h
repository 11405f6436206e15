/* engine/msisdn.h — subscriber numbers (R2).
 *
 * Accepted: "+7XXXXXXXXXX", "7XXXXXXXXXX", "8XXXXXXXXXX" and the 10-digit
 * national "9XXXXXXXXX", with spaces, dashes and parentheses anywhere.
 * Canonical form: 11 digits "7XXXXXXXXXX".
 */
#ifndef ENGINE_MSISDN_H
#define ENGINE_MSISDN_H

#include <stddef.h>

#define ENG_MSISDN_LEN 11 /* canonical digits, without the NUL */

/* Normalise `in` (NUL-terminated) to the canonical form in `out` (12 bytes).
 * Returns 0, or -EINVAL when `in` is not a valid number by R2. */
int eng_msisdn_normalize(const char *in, char out[ENG_MSISDN_LEN + 1]);

/* Same for a counted, not necessarily NUL-terminated, input. */
int eng_msisdn_normalize_n(const char *in, size_t n, char out[ENG_MSISDN_LEN + 1]);

/* Normalise an SMPP address: TON 1 (international) digits as they are, TON 0
 * / 2 (unknown / national) by R2. Returns 0 or -EINVAL. */
int eng_msisdn_from_smpp(unsigned ton, const char *addr, char out[ENG_MSISDN_LEN + 1]);

#endif
