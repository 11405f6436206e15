/* Unit tests: SMS text codecs and segmentation (smpp_gw/codec.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>

#include "smpp_gw/codec.h"

/* GSM 03.38 default alphabet as expected UTF-8, written out independently of
 * the codec's table. NULL for 0x1B (the escape). */
static const char *const gsm_expect[128] = {
	"@", "£", "$", "¥", "è", "é", "ù", "ì", "ò", "Ç", "\n", "Ø", "ø", "\r", "Å", "å",
	"Δ", "_", "Φ", "Γ", "Λ", "Ω", "Π", "Ψ", "Σ", "Θ", "Ξ", NULL, "Æ", "æ", "ß", "É",
	" ", "!", "\"", "#", "¤", "%", "&", "'", "(", ")", "*", "+", ",", "-", ".", "/",
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ":", ";", "<", "=", ">", "?",
	"¡", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O",
	"P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "Ä", "Ö", "Ñ", "Ü", "§",
	"¿", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
	"p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "ä", "ö", "ñ", "ü", "à",
};

static const struct {
	uint8_t code;
	const char *utf8;
} gsm_ext_expect[] = {
	{ 0x0A, "\f" }, { 0x14, "^" }, { 0x28, "{" }, { 0x29, "}" }, { 0x2F, "\\" },
	{ 0x3C, "[" },  { 0x3D, "~" }, { 0x3E, "]" }, { 0x40, "|" }, { 0x65, "€" },
};

#define N_EXT (sizeof gsm_ext_expect / sizeof gsm_ext_expect[0])

static int dec(uint8_t dcs, const void *in, size_t n, char *out, size_t outsz)
{
	return smpp_text_to_utf8(dcs, (const uint8_t *)in, n, out, outsz);
}

/* Every default-alphabet septet decodes to its character and that
 * character encodes back to the same single septet. */
static void test_gsm_default_table_round_trip(void **state)
{
	(void)state;
	for (unsigned k = 0; k < 128; k++) {
		if (!gsm_expect[k])
			continue;
		uint8_t sept = (uint8_t)k;
		char out[16];
		int rc = dec(SMPP_DCS_GSM, &sept, 1, out, sizeof out);
		assert_int_equal(rc, (int)strlen(gsm_expect[k]));
		assert_string_equal(out, gsm_expect[k]);

		const char *t = gsm_expect[k];
		assert_true(smpp_text_fits_gsm(t, strlen(t)));
		struct smpp_segment seg[2];
		assert_int_equal(smpp_text_segments(t, strlen(t), 0, seg, 2), 1);
		assert_int_equal(seg[0].data_coding, SMPP_DCS_GSM);
		assert_int_equal(seg[0].esm_class, 0);
		assert_int_equal(seg[0].len, 1);
		if (seg[0].data[0] != k)
			fail_msg("septet 0x%02X encodes as 0x%02X", k, seg[0].data[0]);
	}
}

/* Every extension character: 0x1B+code decodes to it, it encodes to the
 * escape pair. */
static void test_gsm_extension_table_round_trip(void **state)
{
	(void)state;
	for (size_t k = 0; k < N_EXT; k++) {
		uint8_t in[2] = { 0x1B, gsm_ext_expect[k].code };
		char out[16];
		const char *t = gsm_ext_expect[k].utf8;
		assert_int_equal(dec(SMPP_DCS_GSM, in, 2, out, sizeof out), (int)strlen(t));
		assert_string_equal(out, t);

		struct smpp_segment seg[1];
		assert_true(smpp_text_fits_gsm(t, strlen(t)));
		assert_int_equal(smpp_text_segments(t, strlen(t), 0, seg, 1), 1);
		assert_int_equal(seg[0].data_coding, SMPP_DCS_GSM);
		assert_int_equal(seg[0].len, 2);
		assert_int_equal(seg[0].data[0], 0x1B);
		assert_int_equal(seg[0].data[1], gsm_ext_expect[k].code);
	}
}

/* The whole alphabet in one text: split in GSM parts, reassembled exact. */
static void test_gsm_all_chars_multipart_round_trip(void **state)
{
	(void)state;
	char text[1024] = "";
	size_t septets = 0;
	for (unsigned k = 0; k < 128; k++) {
		if (gsm_expect[k]) {
			strcat(text, gsm_expect[k]);
			septets++;
		}
	}
	for (size_t k = 0; k < N_EXT; k++) {
		strcat(text, gsm_ext_expect[k].utf8);
		septets += 2;
	}
	assert_int_equal(septets, 127 + 20);
	struct smpp_segment seg[4];
	int n = smpp_text_segments(text, strlen(text), 9, seg, 4);
	assert_int_equal(n, 1); /* 147 septets fit one segment */
	assert_int_equal(seg[0].len, 147);

	/* Twice the text: 294 septets -> 2 parts. */
	char twice[2048];
	snprintf(twice, sizeof twice, "%s%s", text, text);
	n = smpp_text_segments(twice, strlen(twice), 9, seg, 4);
	assert_int_equal(n, 2);
	char back[4096];
	int len = smpp_segments_to_utf8(seg, (size_t)n, back, sizeof back);
	assert_int_equal(len, (int)strlen(twice));
	assert_string_equal(back, twice);
}

/* 03.38 receiver fallbacks (documented in codec.c). */
static void test_gsm_escape_fallbacks(void **state)
{
	(void)state;
	char out[32];
	const uint8_t unknown_ext[] = { 0x1B, 0x41, 'x' };  /* no ext entry for 'A' */
	assert_int_equal(dec(SMPP_DCS_GSM, unknown_ext, 3, out, sizeof out), 2);
	assert_string_equal(out, "Ax");
	const uint8_t esc_esc[] = { 'a', 0x1B, 0x1B, 'b' };
	assert_int_equal(dec(SMPP_DCS_GSM, esc_esc, 4, out, sizeof out), 3);
	assert_string_equal(out, "a b");
	const uint8_t trailing[] = { 'a', 0x1B };
	assert_int_equal(dec(SMPP_DCS_GSM, trailing, 2, out, sizeof out), 2);
	assert_string_equal(out, "a ");
	const uint8_t high[] = { 0x80, 'z' };
	assert_int_equal(dec(SMPP_DCS_GSM, high, 2, out, sizeof out), 4);
	assert_string_equal(out, "\xEF\xBF\xBDz");
	/* 0x00 is '@': NUL octets are text. */
	const uint8_t at[] = { 0x00, 'x', 0x00 };
	assert_int_equal(dec(SMPP_DCS_GSM, at, 3, out, sizeof out), 3);
	assert_string_equal(out, "@x@");
	/* The Greek capitals. */
	const uint8_t greek[] = { 0x10, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A };
	assert_int_equal(dec(SMPP_DCS_GSM, greek, sizeof greek, out, sizeof out), 20);
	assert_string_equal(out, "ΔΦΓΛΩΠΨΣΘΞ");
}

static void test_latin1_decode(void **state)
{
	(void)state;
	char out[64];
	const uint8_t in[] = { 'c', 'a', 'f', 0xE9, ' ', 0xA3, '5', ' ', 0xFF, 0xC0 };
	assert_int_equal(dec(SMPP_DCS_LATIN1, in, sizeof in, out, sizeof out),
			 (int)strlen("café £5 ÿÀ"));
	assert_string_equal(out, "café £5 ÿÀ");
	/* Unknown data_coding: as Latin-1. */
	assert_int_equal(dec(0x04, in, sizeof in, out, sizeof out), (int)strlen("café £5 ÿÀ"));
	assert_string_equal(out, "café £5 ÿÀ");
}

static void test_ucs2_cyrillic_and_surrogates(void **state)
{
	(void)state;
	char out[64];
	const uint8_t privet[] = { 0x04, 0x1F, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32, 0x04, 0x35,
				   0x04, 0x42, 0x00, 0x21 };
	assert_int_equal(dec(SMPP_DCS_UCS2, privet, sizeof privet, out, sizeof out),
			 (int)strlen("Привет!"));
	assert_string_equal(out, "Привет!");

	const uint8_t smile[] = { 0x00, 'a', 0xD8, 0x3D, 0xDE, 0x00, 0x00, 'b' };
	assert_int_equal(dec(SMPP_DCS_UCS2, smile, sizeof smile, out, sizeof out), 6);
	assert_string_equal(out, "a\xF0\x9F\x98\x80" "b");
}

static void test_ucs2_invalid(void **state)
{
	(void)state;
	char out[64];
	/* Odd length: the trailing octet becomes U+FFFD. */
	const uint8_t odd[] = { 0x04, 0x1F, 0x04 };
	assert_int_equal(dec(SMPP_DCS_UCS2, odd, sizeof odd, out, sizeof out), 5);
	assert_string_equal(out, "П\xEF\xBF\xBD");
	/* Lone high surrogate, then lone low surrogate. */
	const uint8_t lone[] = { 0xD8, 0x3D, 0x00, 'x', 0xDE, 0x00 };
	assert_int_equal(dec(SMPP_DCS_UCS2, lone, sizeof lone, out, sizeof out), 7);
	assert_string_equal(out, "\xEF\xBF\xBDx\xEF\xBF\xBD");
	/* High surrogate at the very end. */
	const uint8_t hi_end[] = { 0xD8, 0x3D };
	assert_int_equal(dec(SMPP_DCS_UCS2, hi_end, 2, out, sizeof out), 3);
	/* Single octet. */
	assert_int_equal(dec(SMPP_DCS_UCS2, odd, 1, out, sizeof out), 3);
	assert_string_equal(out, "\xEF\xBF\xBD");
	/* Empty. */
	assert_int_equal(dec(SMPP_DCS_UCS2, odd, 0, out, sizeof out), 0);
	assert_string_equal(out, "");
}

static void test_decode_enospc(void **state)
{
	(void)state;
	char out[4];
	const uint8_t t[] = { 'a', 'b', 'c' };
	assert_int_equal(dec(SMPP_DCS_GSM, t, 3, out, 4), 3);
	assert_int_equal(dec(SMPP_DCS_GSM, t, 3, out, 3), -ENOSPC);
	assert_int_equal(dec(SMPP_DCS_GSM, t, 0, out, 0), -ENOSPC);
	const uint8_t euro[] = { 0x1B, 0x65 };
	assert_int_equal(dec(SMPP_DCS_GSM, euro, 2, out, 3), -ENOSPC);
	assert_int_equal(dec(SMPP_DCS_GSM, euro, 2, out, 4), 3);
}

static void check_udh(const struct smpp_segment *s, uint8_t ref, uint8_t total, uint8_t seq)
{
	assert_int_equal(s->esm_class, 0x40);
	assert_true(s->len >= 6);
	assert_int_equal(smpp_udh_len(s->data, s->len), 6);
	uint16_t r = 0;
	uint8_t t = 0, q = 0;
	assert_int_equal(smpp_udh_concat(s->data, 6, &r, &t, &q), 1);
	assert_int_equal(s->data[0], 0x05);
	assert_int_equal(s->data[1], 0x00);
	assert_int_equal(s->data[2], 0x03);
	assert_int_equal(r, ref);
	assert_int_equal(t, total);
	assert_int_equal(q, seq);
}

/* 300 Russian characters: 5 UCS-2 parts of 67 units, reassembled exactly. */
static void test_ucs2_300_russian_chars_5_segments(void **state)
{
	(void)state;
	static const char *const alpha[] = { "а", "б", "в", "г", "д", "е", "ё", "ж", "з", "и",
					     "й", "к", "Л", "М", "Н", "О", "П", "Р", "С", "Т",
					     "у", "ф", "х", "ц", "ч", "ш", "щ", "ъ", "ы", "ь",
					     "э", "ю", "я", " " };
	char text[1024] = "";
	for (int i = 0; i < 300; i++)
		strcat(text, alpha[i % 34]);
	assert_false(smpp_text_fits_gsm(text, strlen(text)));

	struct smpp_segment seg[8];
	int n = smpp_text_segments(text, strlen(text), 0x7A, seg, 8);
	assert_int_equal(n, 5);
	for (int k = 0; k < 5; k++) {
		assert_int_equal(seg[k].data_coding, SMPP_DCS_UCS2);
		check_udh(&seg[k], 0x7A, 5, (uint8_t)(k + 1));
		assert_int_equal(seg[k].len, k < 4 ? 140 : 6 + 2 * (300 - 4 * 67));
	}
	char back[2048];
	int len = smpp_segments_to_utf8(seg, 5, back, sizeof back);
	assert_int_equal(len, (int)strlen(text));
	assert_string_equal(back, text);

	/* Too few slots. */
	assert_int_equal(smpp_text_segments(text, strlen(text), 0, seg, 4), -E2BIG);
}

static void test_ucs2_single_segment_limit(void **state)
{
	(void)state;
	char text[512] = "";
	struct smpp_segment seg[3];
	for (int i = 0; i < 70; i++)
		strcat(text, "ж");
	assert_int_equal(smpp_text_segments(text, strlen(text), 1, seg, 3), 1);
	assert_int_equal(seg[0].esm_class, 0);
	assert_int_equal(seg[0].len, 140);
	assert_int_equal(seg[0].data[0], 0x04);
	assert_int_equal(seg[0].data[1], 0x36);
	strcat(text, "ж");
	assert_int_equal(smpp_text_segments(text, strlen(text), 1, seg, 3), 2);
	assert_int_equal(seg[0].len, 140);
	assert_int_equal(seg[1].len, 6 + 8);
}

/* 161 GSM characters: 2 parts, 153 + 8 septets. 160 fit one. */
static void test_gsm_161_chars_2_segments(void **state)
{
	(void)state;
	char text[200];
	for (int i = 0; i < 161; i++)
		text[i] = (char)('a' + i % 26);
	text[161] = '\0';
	struct smpp_segment seg[4];
	assert_int_equal(smpp_text_segments(text, 160, 3, seg, 4), 1);
	assert_int_equal(seg[0].data_coding, SMPP_DCS_GSM);
	assert_int_equal(seg[0].esm_class, 0);
	assert_int_equal(seg[0].len, 160);
	assert_memory_equal(seg[0].data, text, 160);

	assert_int_equal(smpp_text_segments(text, 161, 3, seg, 4), 2);
	check_udh(&seg[0], 3, 2, 1);
	check_udh(&seg[1], 3, 2, 2);
	assert_int_equal(seg[0].len, 6 + 153);
	assert_int_equal(seg[1].len, 6 + 8);
	assert_memory_equal(seg[0].data + 6, text, 153);
	assert_memory_equal(seg[1].data + 6, text + 153, 8);
	char back[256];
	assert_int_equal(smpp_segments_to_utf8(seg, 2, back, sizeof back), 161);
	assert_string_equal(back, text);
}

/* An escape pair that would straddle septets 153/154 moves whole to the
 * next part. */
static void test_gsm_escape_pair_not_split(void **state)
{
	(void)state;
	char text[256];
	memset(text, 'a', 152);
	strcpy(text + 152, "€");
	memset(text + 152 + 3, 'b', 10);
	text[152 + 3 + 10] = '\0';
	struct smpp_segment seg[4];
	assert_int_equal(smpp_text_segments(text, strlen(text), 5, seg, 4), 2);
	assert_int_equal(seg[0].len, 6 + 152);
	assert_int_equal(seg[0].data[6 + 151], 'a');
	assert_int_equal(seg[1].len, 6 + 12);
	assert_int_equal(seg[1].data[6], 0x1B);
	assert_int_equal(seg[1].data[7], 0x65);
	char back[512];
	assert_int_equal(smpp_segments_to_utf8(seg, 2, back, sizeof back), (int)strlen(text));
	assert_string_equal(back, text);

	/* A pair ending exactly at septet 153 stays. */
	memset(text, 'a', 151);
	strcpy(text + 151, "{");
	memset(text + 152, 'b', 20);
	text[172] = '\0';
	assert_int_equal(smpp_text_segments(text, strlen(text), 5, seg, 4), 2);
	assert_int_equal(seg[0].len, 6 + 153);
	assert_int_equal(seg[0].data[6 + 151], 0x1B);
	assert_int_equal(seg[0].data[6 + 152], 0x28);
}

static void test_ucs2_surrogate_pair_not_split(void **state)
{
	(void)state;
	char text[512] = "";
	for (int i = 0; i < 66; i++)
		strcat(text, "я");
	strcat(text, "\xF0\x9F\x98\x80"); /* units 67 and 68 */
	for (int i = 0; i < 10; i++)
		strcat(text, "я");
	struct smpp_segment seg[4];
	assert_int_equal(smpp_text_segments(text, strlen(text), 5, seg, 4), 2);
	assert_int_equal(seg[0].len, 6 + 132);
	assert_int_equal(seg[1].len, 6 + 24);
	assert_int_equal(seg[1].data[6], 0xD8);
	assert_int_equal(seg[1].data[7], 0x3D);
	assert_int_equal(seg[1].data[8], 0xDE);
	assert_int_equal(seg[1].data[9], 0x00);
	char back[512];
	assert_int_equal(smpp_segments_to_utf8(seg, 2, back, sizeof back), (int)strlen(text));
	assert_string_equal(back, text);
}

static void test_segments_edge_cases(void **state)
{
	(void)state;
	struct smpp_segment seg[2];
	/* Empty text: one empty GSM segment. */
	assert_int_equal(smpp_text_segments("", 0, 0, seg, 2), 1);
	assert_int_equal(seg[0].len, 0);
	assert_int_equal(seg[0].esm_class, 0);
	/* Invalid UTF-8 (truncated, overlong, surrogate). */
	assert_int_equal(smpp_text_segments("\xD0", 1, 0, seg, 2), -EINVAL);
	assert_int_equal(smpp_text_segments("\xC0\xAF", 2, 0, seg, 2), -EINVAL);
	assert_int_equal(smpp_text_segments("\xED\xA0\x80", 3, 0, seg, 2), -EINVAL);
	assert_false(smpp_text_fits_gsm("\xD0", 1));
	assert_false(smpp_text_fits_gsm("ç", strlen("ç")));
	assert_true(smpp_text_fits_gsm("Hello, World! {€}", strlen("Hello, World! {€}")));
	/* One non-GSM character turns the whole text into UCS-2. */
	assert_int_equal(smpp_text_segments("Hi ж", strlen("Hi ж"), 0, seg, 2), 1);
	assert_int_equal(seg[0].data_coding, SMPP_DCS_UCS2);
	assert_int_equal(seg[0].len, 8);
	const uint8_t want[] = { 0, 'H', 0, 'i', 0, ' ', 0x04, 0x36 };
	assert_memory_equal(seg[0].data, want, 8);
}

/* D6: segments a message_payload needs. */
static void test_D6_segments_needed(void **state)
{
	(void)state;
	uint8_t buf[1200];
	memset(buf, 'a', sizeof buf);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 0), 1);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 160), 1);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 161), 2);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 306), 2);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 307), 3);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, buf, 1000), 7);
	/* UCS-2: 70 units one, 71 two, 300 units five. */
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0, buf, 140), 1);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0, buf, 142), 2);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0, buf, 268), 2);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0, buf, 270), 3);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0, buf, 600), 5);
	/* A payload with a UDH already is one part. */
	assert_int_equal(smpp_segments_needed(SMPP_DCS_UCS2, 0x40, buf, 600), 1);
	/* Latin-1: 160 chars one; extension characters count two septets. */
	assert_int_equal(smpp_segments_needed(SMPP_DCS_LATIN1, 0, buf, 160), 1);
	buf[0] = '[';
	assert_int_equal(smpp_segments_needed(SMPP_DCS_LATIN1, 0, buf, 160), 2);
	assert_int_equal(smpp_segments_needed(SMPP_DCS_LATIN1, 0, buf, 159), 1);
}

/* D6 agrees with the segmenter on plain texts. */
static void test_D6_agrees_with_segmenter(void **state)
{
	(void)state;
	struct smpp_segment seg[16];
	char text[1300];
	for (size_t n = 150; n < 1200; n += 37) {
		memset(text, 'x', n);
		assert_int_equal(smpp_segments_needed(SMPP_DCS_GSM, 0, (uint8_t *)text, n),
				 smpp_text_segments(text, n, 0, seg, 16));
	}
}

/* The UDH of vector deliver_sm_p2p_ucs2_udh_1of2 (shared/vectors/pdus.tsv):
 * its short_message, embedded. */
static const uint8_t vec_1of2[] = {
	0x05, 0x00, 0x03, 0x2a, 0x02, 0x01, 0x04, 0x1f, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32,
	0x04, 0x35, 0x04, 0x42, 0x00, 0x21, 0x00, 0x20, 0x04, 0x2d, 0x04, 0x42, 0x04, 0x3e,
	0x00, 0x20, 0x04, 0x3f, 0x04, 0x35, 0x04, 0x40, 0x04, 0x32, 0x04, 0x30, 0x04, 0x4f,
	0x00, 0x20, 0x04, 0x47, 0x04, 0x30, 0x04, 0x41, 0x04, 0x42, 0x04, 0x4c, 0x00, 0x20,
	0x04, 0x34, 0x04, 0x3b, 0x04, 0x38, 0x04, 0x3d, 0x04, 0x3d, 0x04, 0x3e, 0x04, 0x33,
	0x04, 0x3e, 0x00, 0x20, 0x04, 0x41, 0x04, 0x3e, 0x04, 0x3e, 0x04, 0x31, 0x04, 0x49,
	0x04, 0x35, 0x04, 0x3d, 0x04, 0x38, 0x04, 0x4f, 0x00, 0x2c, 0x00, 0x20, 0x04, 0x32,
	0x00, 0x20, 0x04, 0x3d, 0x04, 0x35, 0x04, 0x39, 0x00, 0x20, 0x04, 0x40, 0x04, 0x3e,
	0x04, 0x32, 0x04, 0x3d, 0x04, 0x3e, 0x00, 0x20, 0x00, 0x36, 0x00, 0x37, 0x00, 0x20,
	0x04, 0x37, 0x04, 0x3d, 0x04, 0x30, 0x04, 0x3a, 0x04, 0x3e, 0x04, 0x32, 0x00, 0x2e,
};

static void test_udh_vector_deliver_sm_p2p_ucs2_udh_1of2(void **state)
{
	(void)state;
	assert_int_equal(sizeof vec_1of2, 140);

	/* The embedded bytes are those of the vector file, when present. */
	FILE *f = fopen(VECTORS_TSV, "r");
	if (f) {
		char line[4096];
		char hex[2 * sizeof vec_1of2 + 1];
		for (size_t i = 0; i < sizeof vec_1of2; i++)
			snprintf(hex + 2 * i, 3, "%02x", vec_1of2[i]);
		bool seen = false;
		while (fgets(line, sizeof line, f)) {
			if (strncmp(line, "deliver_sm_p2p_ucs2_udh_1of2\t", 29) == 0) {
				assert_non_null(strstr(line, hex));
				seen = true;
			}
		}
		fclose(f);
		assert_true(seen);
	}

	int h = smpp_udh_len(vec_1of2, sizeof vec_1of2);
	assert_int_equal(h, 6);
	uint16_t ref = 0;
	uint8_t total = 0, seq = 0;
	assert_int_equal(smpp_udh_concat(vec_1of2, (size_t)h, &ref, &total, &seq), 1);
	assert_int_equal(ref, 0x2A);
	assert_int_equal(total, 2);
	assert_int_equal(seq, 1);
	char out[512];
	int n = dec(SMPP_DCS_UCS2, vec_1of2 + h, sizeof vec_1of2 - (size_t)h, out, sizeof out);
	assert_true(n > 0);
	assert_string_equal(out, "Привет! Это первая часть длинного сообщения, в ней ровно 67 знаков.");
}

static void test_udh_parsing_variants(void **state)
{
	(void)state;
	uint16_t ref = 0;
	uint8_t total = 0, seq = 0;
	/* 16-bit reference (IEI 0x08) after another element. */
	const uint8_t u16[] = { 0x09, 0x24, 0x01, 0x07, 0x08, 0x04, 0x12, 0x34, 0x03, 0x02 };
	assert_int_equal(smpp_udh_len(u16, sizeof u16), 10);
	assert_int_equal(smpp_udh_concat(u16, sizeof u16, &ref, &total, &seq), 1);
	assert_int_equal(ref, 0x1234);
	assert_int_equal(total, 3);
	assert_int_equal(seq, 2);
	/* No concatenation element. */
	const uint8_t none[] = { 0x03, 0x24, 0x01, 0x07 };
	assert_int_equal(smpp_udh_concat(none, sizeof none, &ref, &total, &seq), 0);
	/* Ignored per 23.040: seq 0, seq > total, total 0. */
	const uint8_t seq0[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x00 };
	const uint8_t seqbig[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x03 };
	const uint8_t tot0[] = { 0x05, 0x00, 0x03, 0x01, 0x00, 0x00 };
	assert_int_equal(smpp_udh_concat(seq0, 6, &ref, &total, &seq), 0);
	assert_int_equal(smpp_udh_concat(seqbig, 6, &ref, &total, &seq), 0);
	assert_int_equal(smpp_udh_concat(tot0, 6, &ref, &total, &seq), 0);
	/* Malformed. */
	const uint8_t badlen[] = { 0x05, 0x00, 0x04, 0x01, 0x02, 0x01 };  /* IEL 4 for IEI 0 */
	const uint8_t overrun[] = { 0x03, 0x00, 0x03, 0x01 };
	assert_int_equal(smpp_udh_concat(badlen, 6, &ref, &total, &seq), -EINVAL);
	assert_int_equal(smpp_udh_concat(overrun, 4, &ref, &total, &seq), -EINVAL);
	assert_int_equal(smpp_udh_concat(vec_1of2, 5, &ref, &total, &seq), -EINVAL);
	assert_int_equal(smpp_udh_len(vec_1of2, 5), -EINVAL);
	assert_int_equal(smpp_udh_len(vec_1of2, 0), -EINVAL);
	const uint8_t zero[] = { 0x00 };
	assert_int_equal(smpp_udh_len(zero, 1), 1);
	assert_int_equal(smpp_udh_concat(zero, 1, &ref, &total, &seq), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gsm_default_table_round_trip),
		cmocka_unit_test(test_gsm_extension_table_round_trip),
		cmocka_unit_test(test_gsm_all_chars_multipart_round_trip),
		cmocka_unit_test(test_gsm_escape_fallbacks),
		cmocka_unit_test(test_latin1_decode),
		cmocka_unit_test(test_ucs2_cyrillic_and_surrogates),
		cmocka_unit_test(test_ucs2_invalid),
		cmocka_unit_test(test_decode_enospc),
		cmocka_unit_test(test_ucs2_300_russian_chars_5_segments),
		cmocka_unit_test(test_ucs2_single_segment_limit),
		cmocka_unit_test(test_gsm_161_chars_2_segments),
		cmocka_unit_test(test_gsm_escape_pair_not_split),
		cmocka_unit_test(test_ucs2_surrogate_pair_not_split),
		cmocka_unit_test(test_segments_edge_cases),
		cmocka_unit_test(test_D6_segments_needed),
		cmocka_unit_test(test_D6_agrees_with_segmenter),
		cmocka_unit_test(test_udh_vector_deliver_sm_p2p_ucs2_udh_1of2),
		cmocka_unit_test(test_udh_parsing_variants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
