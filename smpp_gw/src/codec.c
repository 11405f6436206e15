/* SMS text codecs and segmentation (smpp_gw/codec.h).
 *
 * GSM 03.38 (3GPP TS 23.038) default alphabet, one septet per octet
 * (unpacked, as SMPP carries it), with the single-shift extension table
 * behind 0x1B.
 *
 * Decoding choices for what 03.38 leaves to the receiver:
 *  - 0x1B followed by a code that has no entry in the extension table is
 *    shown as the default-table character of that code (23.038 §6.2.1.1:
 *    "the MS shall display ... the character shown in the main GSM 7 bit
 *    default alphabet table"); the escape itself is dropped.
 *  - 0x1B 0x1B (escape to a further table, none defined) and a lone 0x1B at
 *    the end of the text are shown as a space (23.038 note to 0x1B: "a
 *    receiving entity shall display a space until another extension table
 *    is defined").
 *  - An octet >= 0x80 is not a septet: U+FFFD.
 *  - U+0000 from Latin-1 or UCS-2 becomes U+FFFD: the result is a C string
 *    and ends up in PostgreSQL text, where NUL cannot live. (GSM 0x00 is
 *    '@' and decodes as such.)
 */
#include "smpp_gw/codec.h"
#include "smpp_gw/pdu.h"

#include <errno.h>
#include <string.h>

#define GSM_ESC 0x1B
#define GSM_SINGLE 160u    /* septets in one unconcatenated segment */
#define GSM_PART 153u      /* septets per part after a 6-octet UDH */
#define UCS2_SINGLE 70u    /* UCS-2 units in one segment */
#define UCS2_PART 67u      /* UCS-2 units per part after a 6-octet UDH */
#define UDH_CONCAT_LEN 6u  /* 05 00 03 ref total seq */
#define REPLACEMENT 0xFFFDu

/* Default alphabet: code point of each septet. 0x1B is the escape; the
 * entry is only used for the "shown as space" fallback. */
static const uint16_t gsm_default[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, /* 00 */
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, /* 08 */
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, /* 10 */
	0x03A3, 0x0398, 0x039E, 0x0020, 0x00C6, 0x00E6, 0x00DF, 0x00C9, /* 18 */
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, /* 20 */
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, /* 28 */
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 30 */
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, /* 38 */
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* 40 */
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, /* 48 */
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* 50 */
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, /* 58 */
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* 60 */
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, /* 68 */
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* 70 */
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, /* 78 */
};

struct gsm_ext {
	uint8_t code;
	uint16_t cp;
};

/* Extension table (characters reached by 0x1B + code). */
static const struct gsm_ext gsm_extension[] = {
	{ 0x0A, 0x000C }, /* form feed (page break) */
	{ 0x14, 0x005E }, /* ^ */
	{ 0x28, 0x007B }, /* { */
	{ 0x29, 0x007D }, /* } */
	{ 0x2F, 0x005C }, /* backslash */
	{ 0x3C, 0x005B }, /* [ */
	{ 0x3D, 0x007E }, /* ~ */
	{ 0x3E, 0x005D }, /* ] */
	{ 0x40, 0x007C }, /* | */
	{ 0x65, 0x20AC }, /* euro sign */
};

#define N_EXT (sizeof gsm_extension / sizeof gsm_extension[0])

/* ------------------------------------------------------------------ */
/* UTF-8 helpers */

/* Decode one code point from s[*i..n). Strict: no overlongs, no
 * surrogates, nothing above U+10FFFF. Returns the code point or -1. */
static int32_t utf8_next(const uint8_t *s, size_t n, size_t *i)
{
	size_t p = *i;
	uint8_t c = s[p];
	uint32_t cp;
	size_t len;

	if (c < 0x80) {
		*i = p + 1;
		return c;
	} else if (c >= 0xC2 && c <= 0xDF) {
		cp = c & 0x1F;
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		cp = c & 0x0F;
		len = 3;
	} else if (c >= 0xF0 && c <= 0xF4) {
		cp = c & 0x07;
		len = 4;
	} else {
		return -1;
	}
	if (n - p < len)
		return -1;
	for (size_t k = 1; k < len; k++) {
		uint8_t cc = s[p + k];
		if ((cc & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (cc & 0x3F);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return -1;
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return -1;
	*i = p + len;
	return (int32_t)cp;
}

/* Append the UTF-8 of cp; keeps room for the final NUL. */
static int utf8_put(char *out, size_t outsz, size_t *pos, uint32_t cp)
{
	uint8_t b[4];
	size_t len;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		len = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3F));
		len = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xE0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
		len = 3;
	} else {
		b[0] = (uint8_t)(0xF0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (uint8_t)(0x80 | (cp & 0x3F));
		len = 4;
	}
	if (outsz - *pos <= len)
		return -ENOSPC;
	memcpy(out + *pos, b, len);
	*pos += len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* GSM lookups */

static int gsm_ext_find(uint8_t code)
{
	for (size_t k = 0; k < N_EXT; k++)
		if (gsm_extension[k].code == code)
			return (int)k;
	return -1;
}

/* The septets of one code point: returns 1 or 2 (escape pair) with the
 * septets in sep[], or 0 when cp has no GSM encoding. */
static int gsm_encode_cp(uint32_t cp, uint8_t sep[2])
{
	for (unsigned k = 0; k < 128; k++) {
		if (k == GSM_ESC)
			continue;
		if (gsm_default[k] == cp) {
			sep[0] = (uint8_t)k;
			return 1;
		}
	}
	for (size_t k = 0; k < N_EXT; k++) {
		if (gsm_extension[k].cp == cp) {
			sep[0] = GSM_ESC;
			sep[1] = gsm_extension[k].code;
			return 2;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* UDH */

int smpp_udh_len(const uint8_t *p, size_t n)
{
	if (!p || n < 1 || (size_t)p[0] + 1 > n)
		return -EINVAL;
	return p[0] + 1;
}

int smpp_udh_concat(const uint8_t *udh, size_t udh_len, uint16_t *ref, uint8_t *total,
		    uint8_t *seq)
{
	if (!udh || udh_len < 1 || (size_t)udh[0] + 1 != udh_len)
		return -EINVAL;

	size_t i = 1;
	int found = 0;
	while (i < udh_len) {
		if (udh_len - i < 2)
			return -EINVAL;
		uint8_t iei = udh[i];
		uint8_t iel = udh[i + 1];
		const uint8_t *d = udh + i + 2;
		if ((size_t)iel > udh_len - i - 2)
			return -EINVAL;
		if (iei == 0x00 || iei == 0x08) {
			uint16_t r;
			uint8_t t, s;
			if (iei == 0x00) {
				if (iel != 3)
					return -EINVAL;
				r = d[0];
				t = d[1];
				s = d[2];
			} else {
				if (iel != 4)
					return -EINVAL;
				r = (uint16_t)((d[0] << 8) | d[1]);
				t = d[2];
				s = d[3];
			}
			/* 23.040 §9.2.3.24.1: a total of 0, or a sequence
			 * number of 0 or above the total, means the element
			 * is ignored. */
			if (t != 0 && s != 0 && s <= t && !found) {
				if (ref)
					*ref = r;
				if (total)
					*total = t;
				if (seq)
					*seq = s;
				found = 1;
			}
		}
		i += 2 + (size_t)iel;
	}
	return found;
}

/* ------------------------------------------------------------------ */
/* Decoding */

static int decode_gsm(const uint8_t *in, size_t n, char *out, size_t outsz, size_t *pos)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = in[i];
		uint32_t cp;

		if (c >= 0x80) {
			cp = REPLACEMENT;
		} else if (c != GSM_ESC) {
			cp = gsm_default[c];
		} else if (i + 1 >= n) {
			cp = 0x20; /* lone trailing escape: a space */
		} else {
			uint8_t e = in[++i];
			int k = e < 0x80 ? gsm_ext_find(e) : -1;
			if (k >= 0)
				cp = gsm_extension[k].cp;
			else if (e == GSM_ESC)
				cp = 0x20; /* escape to an undefined table */
			else if (e >= 0x80)
				cp = REPLACEMENT;
			else
				cp = gsm_default[e];
		}
		if (utf8_put(out, outsz, pos, cp) != 0)
			return -ENOSPC;
	}
	return 0;
}

static int decode_latin1(const uint8_t *in, size_t n, char *out, size_t outsz, size_t *pos)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t cp = in[i] ? in[i] : REPLACEMENT;
		if (utf8_put(out, outsz, pos, cp) != 0)
			return -ENOSPC;
	}
	return 0;
}

static int decode_ucs2(const uint8_t *in, size_t n, char *out, size_t outsz, size_t *pos)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		if (n - i < 2) {
			cp = REPLACEMENT; /* odd trailing octet */
			i = n;
		} else {
			uint16_t u = (uint16_t)((in[i] << 8) | in[i + 1]);
			i += 2;
			if (u >= 0xD800 && u <= 0xDBFF) {
				uint16_t lo = 0;
				if (n - i >= 2)
					lo = (uint16_t)((in[i] << 8) | in[i + 1]);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) +
					     ((uint32_t)lo - 0xDC00);
					i += 2;
				} else {
					cp = REPLACEMENT; /* unpaired high */
				}
			} else if (u >= 0xDC00 && u <= 0xDFFF) {
				cp = REPLACEMENT; /* unpaired low */
			} else if (u == 0) {
				cp = REPLACEMENT;
			} else {
				cp = u;
			}
		}
		if (utf8_put(out, outsz, pos, cp) != 0)
			return -ENOSPC;
	}
	return 0;
}

int smpp_text_to_utf8(uint8_t data_coding, const uint8_t *in, size_t n, char *out,
		      size_t outsz)
{
	size_t pos = 0;
	int rc;

	if (!out || outsz == 0)
		return -ENOSPC;
	if (!in)
		n = 0;
	switch (data_coding) {
	case SMPP_DCS_GSM:
		rc = decode_gsm(in, n, out, outsz, &pos);
		break;
	case SMPP_DCS_UCS2:
		rc = decode_ucs2(in, n, out, outsz, &pos);
		break;
	case SMPP_DCS_LATIN1:
	default:
		rc = decode_latin1(in, n, out, outsz, &pos);
		break;
	}
	out[pos] = '\0';
	if (rc < 0)
		return rc;
	return (int)pos;
}

/* ------------------------------------------------------------------ */
/* Encoding and segmentation */

bool smpp_text_fits_gsm(const char *utf8, size_t n)
{
	const uint8_t *s = (const uint8_t *)utf8;
	size_t i = 0;
	uint8_t sep[2];

	if (!utf8 && n)
		return false;
	while (i < n) {
		int32_t cp = utf8_next(s, n, &i);
		if (cp < 0 || gsm_encode_cp((uint32_t)cp, sep) == 0)
			return false;
	}
	return true;
}

/* Walk the text, packing code points into parts of at most `cap` units
 * (septets or UCS-2 units) without splitting a pair. With segs != NULL
 * the octets are appended to each segment's data (after its UDH). Returns the
 * number of parts, or -EINVAL for invalid UTF-8. */
static int pack(const uint8_t *s, size_t n, bool gsm, size_t cap, struct smpp_segment *segs,
		size_t max_segs)
{
	size_t i = 0;
	size_t part = 0;  /* index of the current part */
	size_t used = 0;  /* units in the current part */

	while (i < n) {
		int32_t cp = utf8_next(s, n, &i);
		uint8_t b[4];
		size_t units, octets;

		if (cp < 0)
			return -EINVAL;
		if (gsm) {
			units = (size_t)gsm_encode_cp((uint32_t)cp, b);
			if (units == 0)
				return -EINVAL; /* caller checked: cannot happen */
			octets = units;
		} else if (cp >= 0x10000) {
			uint32_t v = (uint32_t)cp - 0x10000;
			uint16_t hi = (uint16_t)(0xD800 + (v >> 10));
			uint16_t lo = (uint16_t)(0xDC00 + (v & 0x3FF));
			b[0] = (uint8_t)(hi >> 8);
			b[1] = (uint8_t)hi;
			b[2] = (uint8_t)(lo >> 8);
			b[3] = (uint8_t)lo;
			units = 2;
			octets = 4;
		} else {
			b[0] = (uint8_t)(cp >> 8);
			b[1] = (uint8_t)cp;
			units = 1;
			octets = 2;
		}
		if (used + units > cap) {
			part++;
			used = 0;
		}
		if (segs && part < max_segs) {
			struct smpp_segment *sg = &segs[part];
			memcpy(sg->data + sg->len, b, octets);
			sg->len = (uint8_t)(sg->len + octets);
		}
		used += units;
	}
	return (int)(part + 1);
}

int smpp_text_segments(const char *utf8, size_t n, uint8_t ref, struct smpp_segment *segs,
		       size_t max_segs)
{
	const uint8_t *s = (const uint8_t *)utf8;
	bool gsm;
	size_t total_units = 0;
	size_t i = 0;
	int nparts;

	if (!utf8 && n)
		return -EINVAL;
	if (!segs || max_segs == 0)
		return -E2BIG;

	/* Validate, choose the alphabet and count units in one pass. */
	gsm = true;
	while (i < n) {
		int32_t cp = utf8_next(s, n, &i);
		uint8_t sep[2];
		if (cp < 0)
			return -EINVAL;
		if (gsm && gsm_encode_cp((uint32_t)cp, sep) == 0)
			gsm = false;
	}
	i = 0;
	while (i < n) {
		int32_t cp = utf8_next(s, n, &i);
		uint8_t sep[2];
		if (gsm)
			total_units += (size_t)gsm_encode_cp((uint32_t)cp, sep);
		else
			total_units += cp >= 0x10000 ? 2 : 1;
	}

	uint8_t dcs = gsm ? SMPP_DCS_GSM : SMPP_DCS_UCS2;
	size_t single = gsm ? GSM_SINGLE : UCS2_SINGLE;

	if (total_units <= single) {
		memset(&segs[0], 0, sizeof segs[0]);
		segs[0].data_coding = dcs;
		nparts = pack(s, n, gsm, single, segs, 1);
		return nparts < 0 ? nparts : 1;
	}

	size_t cap = gsm ? GSM_PART : UCS2_PART;
	nparts = pack(s, n, gsm, cap, NULL, 0);
	if (nparts < 0)
		return nparts;
	if ((size_t)nparts > max_segs || nparts > 255)
		return -E2BIG;
	for (int k = 0; k < nparts; k++) {
		struct smpp_segment *sg = &segs[k];
		memset(sg, 0, sizeof *sg);
		sg->data_coding = dcs;
		sg->esm_class = SMPP_ESM_UDHI;
		sg->data[0] = 0x05; /* UDHL */
		sg->data[1] = 0x00; /* IEI: concatenation, 8-bit reference */
		sg->data[2] = 0x03; /* IEL */
		sg->data[3] = ref;
		sg->data[4] = (uint8_t)nparts;
		sg->data[5] = (uint8_t)(k + 1);
		sg->len = UDH_CONCAT_LEN;
	}
	int rc = pack(s, n, gsm, cap, segs, (size_t)nparts);
	return rc < 0 ? rc : nparts;
}

static size_t ceil_div(size_t a, size_t b)
{
	return (a + b - 1) / b;
}

/* Septets a Latin-1 octet takes once carried as GSM: 2 for the characters
 * of the extension table, else 1 (characters outside GSM still count one
 * character, D6 counts characters). */
static size_t latin1_septets(uint8_t c)
{
	for (size_t k = 0; k < N_EXT; k++)
		if (gsm_extension[k].cp == c)
			return 2;
	return 1;
}

int smpp_segments_needed(uint8_t data_coding, uint8_t esm_class, const uint8_t *payload,
			 size_t n)
{
	size_t units;

	if (esm_class & SMPP_ESM_UDHI)
		return 1;
	if (!payload)
		n = 0;
	if (data_coding == SMPP_DCS_UCS2) {
		units = (n + 1) / 2;
		if (units <= UCS2_SINGLE)
			return 1;
		return (int)ceil_div(units, UCS2_PART);
	}
	if (data_coding == SMPP_DCS_GSM) {
		units = n; /* unpacked: an escape pair already is 2 octets */
	} else {
		units = 0;
		for (size_t i = 0; i < n; i++)
			units += latin1_septets(payload[i]);
	}
	if (units <= GSM_SINGLE)
		return 1;
	/* n is bounded by the PDU size; the count fits an int. */
	return (int)ceil_div(units, GSM_PART);
}

int smpp_segments_to_utf8(const struct smpp_segment *segs, size_t nsegs, char *out,
			  size_t outsz)
{
	size_t pos = 0;

	if (!out || outsz == 0)
		return -ENOSPC;
	out[0] = '\0';
	if (!segs && nsegs)
		return -EINVAL;
	for (size_t k = 0; k < nsegs; k++) {
		const struct smpp_segment *sg = &segs[k];
		const uint8_t *p = sg->data;
		size_t len = sg->len <= sizeof sg->data ? sg->len : sizeof sg->data;

		if (sg->esm_class & SMPP_ESM_UDHI) {
			int h = smpp_udh_len(p, len);
			if (h < 0)
				return h;
			p += h;
			len -= (size_t)h;
		}
		int rc = smpp_text_to_utf8(sg->data_coding, p, len, out + pos, outsz - pos);
		if (rc < 0)
			return rc;
		pos += (size_t)rc;
	}
	return (int)pos;
}
