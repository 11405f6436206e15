/* smpp_gw/codec.h — SMS text codecs and segmentation.
 *
 * MO: data_coding 0 (GSM 03.38 default alphabet, one septet per octet,
 * unpacked, with the extension table behind 0x1B), 3 (ISO-8859-1) and 8
 * (UCS-2 big-endian, surrogate pairs allowed) -> UTF-8.
 * MT: UTF-8 -> GSM 03.38 when every character fits, else UCS-2; a text longer
 * than one segment (160 septets / 70 UCS-2 units) is split into parts of 153
 * septets / 67 UCS-2 units with a concatenation UDH (IEI 0x00, 8-bit ref), an
 * escape pair or a surrogate pair never split across parts.
 */
#ifndef SMPP_GW_CODEC_H
#define SMPP_GW_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smpp_dcs {
	SMPP_DCS_GSM = 0x00,
	SMPP_DCS_LATIN1 = 0x03,
	SMPP_DCS_UCS2 = 0x08,
};

#define SMPP_SEG_OCTETS 140u  /* one SMS on the air */

/* Length of the UDH at the start of `p` (1 + UDHL), or -EINVAL when it does
 * not fit in n. */
int smpp_udh_len(const uint8_t *p, size_t n);

/* Concatenation info from a UDH (IEI 0x00 8-bit ref or 0x08 16-bit ref).
 * Returns 1 when found, 0 when the UDH has none, -EINVAL when malformed. */
int smpp_udh_concat(const uint8_t *udh, size_t udh_len, uint16_t *ref, uint8_t *total,
		    uint8_t *seq);

/* Decode an MO payload (UDH already removed) to NUL-terminated UTF-8.
 * Unknown data_coding values are decoded as Latin-1 (GSM-like bytes),
 * invalid UCS-2 units become U+FFFD. Returns the length written, or -ENOSPC.
 * UTF-8 output needs at most 3 bytes per input octet + 1. */
int smpp_text_to_utf8(uint8_t data_coding, const uint8_t *in, size_t n, char *out,
		      size_t outsz);

/* Whether every character of the UTF-8 text has a GSM 03.38 encoding
 * (default or extension table). Invalid UTF-8 -> false. */
bool smpp_text_fits_gsm(const char *utf8, size_t n);

/* One outgoing part. */
struct smpp_segment {
	uint8_t data_coding;  /* SMPP_DCS_GSM or SMPP_DCS_UCS2 */
	uint8_t esm_class;    /* SMPP_ESM_UDHI when it carries a UDH */
	uint8_t len;          /* octets in data, UDH included */
	uint8_t data[160];    /* GSM: unpacked septets (up to 6 + 159);
	                         UCS-2: up to 140 octets */
};

/* Split a UTF-8 text into segments. `ref` is the concatenation reference
 * used when more than one part is needed. Returns the number of segments
 * (>= 1; an empty text is one empty segment), -EINVAL for invalid UTF-8, or
 * -E2BIG when more than max_segs (or 255) are needed. */
int smpp_text_segments(const char *utf8, size_t n, uint8_t ref, struct smpp_segment *segs,
		       size_t max_segs);

/* How many SMS segments a message payload would need on the air (D6): a
 * payload that fits one segment counts 1; a longer one counts
 * ceil(chars / 153) for GSM/Latin-1 or ceil(units / 67) for UCS-2 (counting
 * GSM extension characters as 2 septets). A payload with a UDH counts 1
 * (it already is one part). */
int smpp_segments_needed(uint8_t data_coding, uint8_t esm_class, const uint8_t *payload,
			 size_t n);

/* Reassemble: the UTF-8 text of a sequence of segments in order (used by
 * tests and smsc-sim). Returns the length written or negative. */
int smpp_segments_to_utf8(const struct smpp_segment *segs, size_t nsegs, char *out,
			  size_t outsz);

#endif
