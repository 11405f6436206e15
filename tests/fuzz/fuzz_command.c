/* Fuzz target: the subscriber-facing text parsers.
 *
 * Runs eng_cmd_parse, eng_msisdn_normalize_n and, for each data_coding,
 * smpp_text_to_utf8 followed by a segment/reassemble round trip, and checks
 * their invariants (abort() on a violation). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/command.h"
#include "engine/msisdn.h"
#include "smpp_gw/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                             \
			abort();                                                 \
		}                                                                \
	} while (0)

static void check_canonical(const char *num)
{
	CHECK(strlen(num) == ENG_MSISDN_LEN);
	CHECK(num[0] == '7');
	for (size_t i = 0; i < ENG_MSISDN_LEN; i++)
		CHECK(num[i] >= '0' && num[i] <= '9');
}

static void check_command(const uint8_t *data, size_t size)
{
	struct eng_cmd cmd;
	eng_cmd_parse((const char *)data, size, &cmd);
	CHECK((unsigned)cmd.kind < ENG_CMD__COUNT);
	CHECK(strcmp(eng_cmd_kind_name(cmd.kind), "unknown") != 0);
	if (cmd.has_number) {
		check_canonical(cmd.number);
		CHECK(cmd.kind == ENG_CMD_INVITE || cmd.kind == ENG_CMD_ACCEPT ||
		      cmd.kind == ENG_CMD_DECLINE || cmd.kind == ENG_CMD_STOP);
	}
	if (cmd.kind == ENG_CMD_INVITE)
		CHECK(cmd.has_number);
	if (cmd.kind == ENG_CMD_BAD_NUMBER) {
		CHECK(!cmd.has_number);
		CHECK(cmd.wanted == ENG_CMD_INVITE || cmd.wanted == ENG_CMD_ACCEPT ||
		      cmd.wanted == ENG_CMD_DECLINE || cmd.wanted == ENG_CMD_STOP);
	}
	/* Parsing is a pure function. */
	struct eng_cmd again;
	eng_cmd_parse((const char *)data, size, &again);
	CHECK(again.kind == cmd.kind && again.has_number == cmd.has_number);
	if (cmd.has_number)
		CHECK(strcmp(again.number, cmd.number) == 0);
}

static void check_msisdn(const uint8_t *data, size_t size)
{
	char out[ENG_MSISDN_LEN + 1];
	if (eng_msisdn_normalize_n((const char *)data, size, out) != 0)
		return;
	check_canonical(out);
	/* The canonical form is itself valid and a fixed point. */
	char again[ENG_MSISDN_LEN + 1];
	CHECK(eng_msisdn_normalize(out, again) == 0);
	CHECK(strcmp(out, again) == 0);
	CHECK(eng_msisdn_from_smpp(1, out, again) == 0);
	CHECK(strcmp(out, again) == 0);
}

static struct smpp_segment segs[255];

/* Encode valid UTF-8 into segments and read it back. */
static void check_segments(const char *utf8, size_t n)
{
	int ns = smpp_text_segments(utf8, n, 0x42, segs, 255);
	if (ns == -E2BIG)
		return;
	CHECK(ns >= 1);
	for (int k = 0; k < ns; k++) {
		CHECK(segs[k].len <= sizeof segs[k].data);
		if (segs[k].data_coding == SMPP_DCS_UCS2)
			CHECK(segs[k].len <= SMPP_SEG_OCTETS);
		else
			CHECK(segs[k].len <= 160);
		if (ns > 1) {
			uint16_t ref;
			uint8_t total, seq;
			CHECK(segs[k].esm_class & 0x40);
			CHECK(smpp_udh_len(segs[k].data, segs[k].len) == 6);
			CHECK(smpp_udh_concat(segs[k].data, 6, &ref, &total, &seq) == 1);
			CHECK(ref == 0x42 && total == ns && seq == k + 1);
		}
	}
	size_t cap = 4 * n + 16;
	char *back = malloc(cap);
	if (!back)
		return;
	int len = smpp_segments_to_utf8(segs, (size_t)ns, back, cap);
	CHECK(len >= 0 && (size_t)len == n);
	CHECK(memcmp(back, utf8, n) == 0);
	free(back);
}

static void check_decode(uint8_t dcs, const uint8_t *data, size_t size)
{
	size_t cap = 3 * size + 1;
	char *out = malloc(cap);
	if (!out)
		return;
	int rc = smpp_text_to_utf8(dcs, data, size, out, cap);
	CHECK(rc >= 0); /* the documented bound always suffices */
	CHECK((size_t)rc < cap && out[rc] == '\0');
	CHECK(strlen(out) == (size_t)rc); /* no NUL inside */
	(void)smpp_text_fits_gsm(out, (size_t)rc);
	CHECK(smpp_segments_needed(dcs, 0, data, size) >= 1);
	CHECK(smpp_segments_needed(dcs, 0x40, data, size) == 1);
	/* Decoder output is valid UTF-8: it encodes and comes back. */
	if (size <= 4096)
		check_segments(out, (size_t)rc);
	struct eng_cmd cmd;
	eng_cmd_parse(out, (size_t)rc, &cmd);
	CHECK((unsigned)cmd.kind < ENG_CMD__COUNT);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_command(data, size);
	check_msisdn(data, size);
	check_decode(SMPP_DCS_GSM, data, size);
	check_decode(SMPP_DCS_LATIN1, data, size);
	check_decode(SMPP_DCS_UCS2, data, size);
	if (size > 0)
		check_decode(data[0], data + 1, size - 1);

	/* The input itself as outgoing text (when it is valid UTF-8). */
	if (size <= 4096 && smpp_text_segments((const char *)data, size, 0x42, segs, 255) > 0 &&
	    memchr(data, 0, size) == NULL)
		check_segments((const char *)data, size);

	/* UDH helpers on raw bytes. */
	int h = smpp_udh_len(data, size);
	if (h > 0) {
		uint16_t ref;
		uint8_t total, seq;
		int c = smpp_udh_concat(data, (size_t)h, &ref, &total, &seq);
		CHECK(c == 1 || c == 0 || c == -EINVAL);
		if (c == 1)
			CHECK(seq >= 1 && seq <= total);
	}
	return 0;
}
