/* test_pdu.c — SMPP 3.4 framer, decoders and encoders.
 *
 * Interoperability: every PDU of VECTORS_TSV (encoded by Net::SMPP, an
 * independent implementation) is framed and decoded, each field checked
 * against the line's description, and where we can encode the same PDU the
 * bytes must match exactly. Then the hostile inputs a peer can send. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smpp_gw/pdu.h"

/* ------------------------------------------------------------- vectors -- */

#define MAX_VECTORS 64

struct vector {
	char name[64];
	uint8_t *bytes;
	size_t len;
};

static struct vector vectors[MAX_VECTORS];
static size_t n_vectors;

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int load_vectors(void **state)
{
	(void)state;
	FILE *f = fopen(VECTORS_TSV, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", VECTORS_TSV);
		return -1;
	}
	char line[8192];
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char *t1 = strchr(line, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2 || n_vectors >= MAX_VECTORS) {
			fclose(f);
			return -1;
		}
		*t1 = '\0';
		struct vector *v = &vectors[n_vectors++];
		size_t nl = strlen(line);
		if (nl >= sizeof v->name)
			nl = sizeof v->name - 1;
		memcpy(v->name, line, nl);
		v->name[nl] = '\0';
		char *hex = t2 + 1;
		size_t hl = strcspn(hex, "\r\n");
		v->bytes = malloc(hl / 2 + 1);
		v->len = 0;
		for (size_t i = 0; i + 1 < hl; i += 2) {
			int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
			if (hi < 0 || lo < 0) {
				fclose(f);
				return -1;
			}
			v->bytes[v->len++] = (uint8_t)(hi << 4 | lo);
		}
	}
	fclose(f);
	return n_vectors >= 13 ? 0 : -1;
}

static int free_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++)
		free(vectors[i].bytes);
	n_vectors = 0;
	return 0;
}

static const struct vector *vec(const char *name)
{
	for (size_t i = 0; i < n_vectors; i++)
		if (strcmp(vectors[i].name, name) == 0)
			return &vectors[i];
	fail_msg("vector %s missing", name);
	return NULL;
}

static void assert_encodes_to(const uint8_t *out, int n, const struct vector *v)
{
	assert_int_equal(n, (int)v->len);
	assert_memory_equal(out, v->bytes, v->len);
}

/* ------------------------------------------------------------- helpers -- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A deliver_sm/submit_sm: header + body given as raw bytes. */
static size_t mk_pdu(uint8_t *out, uint32_t cmd, uint32_t seq, const uint8_t *body, size_t bl)
{
	put32(out, (uint32_t)(16 + bl));
	put32(out + 4, cmd);
	put32(out + 8, 0);
	put32(out + 12, seq);
	memcpy(out + 16, body, bl);
	return 16 + bl;
}

/* The mandatory part of a deliver_sm from 79161234567 to 6249 with
 * sm_length `sml` and no text yet. Returns its length. */
static size_t mk_sm_body(uint8_t *b, uint8_t sml)
{
	static const uint8_t fixed[] = {
		0x00,                                           /* service_type */
		0x01, 0x01, '7', '9', '1', '6', '1', '2', '3', '4', '5', '6', '7', 0x00,
		0x00, 0x01, '6', '2', '4', '9', 0x00,
		0x00, 0x00, 0x00,                               /* esm, pid, prio */
		0x00, 0x00,                                     /* times */
		0x00, 0x00, 0x00, 0x00,                         /* rd, rip, dc, dmid */
	};
	memcpy(b, fixed, sizeof fixed);
	b[sizeof fixed] = sml;
	return sizeof fixed + 1;
}

static void set_addr(struct smpp_addr *a, uint8_t ton, uint8_t npi, const char *s)
{
	a->ton = ton;
	a->npi = npi;
	snprintf(a->addr, sizeof a->addr, "%s", s);
}

static void assert_addr(const struct smpp_addr *a, uint8_t ton, uint8_t npi, const char *s)
{
	assert_int_equal(a->ton, ton);
	assert_int_equal(a->npi, npi);
	assert_string_equal(a->addr, s);
}

static void assert_seq(const struct vector *v, uint32_t cmd, uint32_t status, uint32_t seq)
{
	struct smpp_hdr h;
	assert_int_equal(smpp_hdr_parse(v->bytes, v->len, &h), 0);
	assert_int_equal(h.len, v->len);
	assert_int_equal(h.id, cmd);
	assert_int_equal(h.status, status);
	assert_int_equal(h.seq, seq);
}

/* ------------------------------------------------ vectors: every line -- */

static void test_vectors_all_frame_and_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		struct smpp_framer f;
		const uint8_t *pdu;
		struct smpp_hdr h;
		smpp_framer_init(&f);
		assert_int_equal(smpp_framer_feed(&f, v->bytes, v->len), 0);
		assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
		assert_int_equal(h.len, v->len);
		assert_memory_equal(pdu, v->bytes, v->len);
		assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
		if (h.id == SMPP_DELIVER_SM || h.id == SMPP_SUBMIT_SM) {
			struct smpp_sm sm;
			assert_int_equal(smpp_decode_sm(pdu, h.len, &sm), 0);
		} else if (h.id == SMPP_BIND_TRANSCEIVER) {
			struct smpp_bind b;
			assert_int_equal(smpp_decode_bind(pdu, h.len, &b), 0);
		} else if (h.id & SMPP_RESP_BIT) {
			char id[65];
			assert_int_equal(smpp_decode_resp_id(pdu, h.len, id, sizeof id), 0);
		} else {
			assert_int_equal(h.len, SMPP_HEADER_LEN);
		}
		smpp_framer_free(&f);
	}
}

/* --------------------------------------------- vectors: field by field -- */

static void test_vector_bind_transceiver(void **state)
{
	(void)state;
	const struct vector *v = vec("bind_transceiver");
	struct smpp_bind b;
	assert_seq(v, SMPP_BIND_TRANSCEIVER, 0, 1);
	assert_int_equal(smpp_decode_bind(v->bytes, v->len, &b), 0);
	assert_string_equal(b.system_id, "dialog");
	assert_string_equal(b.password, "secret");
	assert_string_equal(b.system_type, "");
	assert_int_equal(b.interface_version, 0x34);
	assert_addr(&b.address_range, 0, 0, "");

	struct smpp_bind e;
	memset(&e, 0, sizeof e);
	strcpy(e.system_id, "dialog");
	strcpy(e.password, "secret");
	e.interface_version = 0x34;
	uint8_t out[256];
	assert_encodes_to(out, smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSCEIVER, 1, &e), v);
}

static void mo_sm(struct smpp_sm *sm, const char *src, uint8_t dton, const char *dst,
		  uint8_t dc, const void *text, size_t tl)
{
	smpp_sm_init(sm);
	set_addr(&sm->src, 1, 1, src);
	set_addr(&sm->dst, dton, 1, dst);
	sm->data_coding = dc;
	sm->payload = text;
	sm->payload_len = tl;
}

static void test_vector_deliver_sm_gsm_help(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_gsm_help");
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 2);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_string_equal(sm.service_type, "");
	assert_addr(&sm.src, 1, 1, "79161234567");
	assert_addr(&sm.dst, 0, 1, "6249");
	assert_int_equal(sm.esm_class, 0);
	assert_int_equal(sm.data_coding, 0);
	assert_int_equal(sm.payload_len, 4);
	assert_memory_equal(sm.payload, "HELP", 4);
	assert_false(sm.payload_in_tlv);
	assert_int_equal(sm.tlv_count, 0);
	assert_false(sm.has_receipted_message_id);
	assert_int_equal(sm.message_state, -1);

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 0, "6249", 0, "HELP", 4);
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 2, &e), v);
}

static void test_vector_deliver_sm_ucs2_stop(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_ucs2_stop");
	static const uint8_t stop[] = { 0x04, 0x21, 0x04, 0x22, 0x04, 0x1E, 0x04, 0x1F };
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 3);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_addr(&sm.src, 1, 1, "79161234567");
	assert_addr(&sm.dst, 0, 1, "6249");
	assert_int_equal(sm.data_coding, 8);
	assert_int_equal(sm.payload_len, sizeof stop);
	assert_memory_equal(sm.payload, stop, sizeof stop);

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 0, "6249", 8, stop, sizeof stop);
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 3, &e), v);
}

static void test_vector_deliver_sm_p2p_gsm(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_p2p_gsm");
	const char *text = "8 (916) 765-43-21";
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 4);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_addr(&sm.src, 1, 1, "79161234567");
	assert_addr(&sm.dst, 1, 1, "79167654321");
	assert_int_equal(sm.data_coding, 0);
	assert_int_equal(sm.payload_len, strlen(text));
	assert_memory_equal(sm.payload, text, strlen(text));

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 1, "79167654321", 0, text, strlen(text));
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 4, &e), v);
}

static void test_vector_deliver_sm_udh_part(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_p2p_ucs2_udh_1of2");
	static const uint8_t udh[] = { 0x05, 0x00, 0x03, 0x2A, 0x02, 0x01 };
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 5);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_addr(&sm.src, 1, 1, "79161234567");
	assert_addr(&sm.dst, 1, 1, "79167654321");
	assert_int_equal(sm.esm_class, SMPP_ESM_UDHI);
	assert_int_equal(sm.data_coding, 8);
	/* UDH (6) + 67 UCS-2 characters */
	assert_int_equal(sm.payload_len, 6 + 67 * 2);
	assert_memory_equal(sm.payload, udh, sizeof udh);
	/* first character: U+041F 'П' */
	assert_int_equal(sm.payload[6], 0x04);
	assert_int_equal(sm.payload[7], 0x1F);

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 1, "79167654321", 8, sm.payload, sm.payload_len);
	e.esm_class = SMPP_ESM_UDHI;
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 5, &e), v);
}

static void test_vector_deliver_sm_receipt(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_receipt");
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 6);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_addr(&sm.src, 1, 1, "79167654321");
	assert_addr(&sm.dst, 0, 1, "6249");
	assert_int_equal(sm.esm_class & SMPP_ESM_TYPE_MASK, SMPP_ESM_RECEIPT);
	assert_true(sm.payload_len > 8);
	assert_memory_equal(sm.payload, "id:4711 ", 8);
	assert_true(sm.has_receipted_message_id);
	assert_string_equal(sm.receipted_message_id, "4711");
	assert_int_equal(sm.message_state, SMPP_STATE_DELIVERED);
	assert_int_equal(sm.tlv_count, 2);
	assert_false(sm.payload_in_tlv);

	struct smpp_sm e;
	uint8_t out[512];
	const char *text = "id:4711 sub:001 dlvrd:001 submit date:2611221200 "
			   "done date:2611221201 stat:DELIVRD err:000 text:";
	mo_sm(&e, "79167654321", 0, "6249", 0, text, strlen(text));
	e.esm_class = SMPP_ESM_RECEIPT;
	e.has_receipted_message_id = true;
	strcpy(e.receipted_message_id, "4711");
	e.message_state = SMPP_STATE_DELIVERED;
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 6, &e), v);
}

static void test_vector_submit_sm_resp_ok(void **state)
{
	(void)state;
	const struct vector *v = vec("submit_sm_resp_ok");
	char id[65];
	assert_seq(v, SMPP_SUBMIT_SM_RESP, 0, 7);
	assert_int_equal(smpp_decode_resp_id(v->bytes, v->len, id, sizeof id), 0);
	assert_string_equal(id, "4711");
	uint8_t out[128];
	assert_encodes_to(out, smpp_encode_sm_resp(out, sizeof out, SMPP_SUBMIT_SM_RESP, 0, 7, "4711"),
			  v);
}

static void test_vector_submit_sm_resp_throttled(void **state)
{
	(void)state;
	const struct vector *v = vec("submit_sm_resp_throttled");
	char id[65] = "junk";
	assert_seq(v, SMPP_SUBMIT_SM_RESP, SMPP_ESME_RTHROTTLED, 8);
	assert_int_equal(smpp_decode_resp_id(v->bytes, v->len, id, sizeof id), 0);
	assert_string_equal(id, "");
	uint8_t out[128];
	assert_encodes_to(out,
			  smpp_encode_sm_resp(out, sizeof out, SMPP_SUBMIT_SM_RESP,
					      SMPP_ESME_RTHROTTLED, 8, ""),
			  v);
}

static void test_vector_header_only(void **state)
{
	(void)state;
	uint8_t out[64];
	const struct vector *v = vec("enquire_link");
	assert_seq(v, SMPP_ENQUIRE_LINK, 0, 9);
	assert_encodes_to(out, smpp_encode_header_only(out, sizeof out, SMPP_ENQUIRE_LINK, 0, 9), v);
	v = vec("unbind");
	assert_seq(v, SMPP_UNBIND, 0, 10);
	assert_encodes_to(out, smpp_encode_header_only(out, sizeof out, SMPP_UNBIND, 0, 10), v);
	v = vec("generic_nack");
	assert_seq(v, SMPP_GENERIC_NACK, SMPP_ESME_RINVCMDID, 11);
	assert_encodes_to(out,
			  smpp_encode_header_only(out, sizeof out, SMPP_GENERIC_NACK,
						  SMPP_ESME_RINVCMDID, 11),
			  v);
	/* generic_nack has an empty body: as a response it gives "" */
	char id[8] = "x";
	assert_int_equal(smpp_decode_resp_id(v->bytes, v->len, id, sizeof id), 0);
	assert_string_equal(id, "");
}

static void test_vector_deliver_sm_seq0(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_seq0");
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 0);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_addr(&sm.src, 1, 1, "79161234567");
	assert_int_equal(sm.payload_len, 1);
	assert_int_equal(sm.payload[0], '1');

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 0, "6249", 0, "1", 1);
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 0, &e), v);
}

static void test_vector_deliver_sm_gsm_ext(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_gsm_ext");
	static const uint8_t text[] = { 0x00, 0x1B, 0x3C };
	struct smpp_sm sm;
	assert_seq(v, SMPP_DELIVER_SM, 0, 12);
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), 0);
	assert_int_equal(sm.data_coding, 0);
	assert_int_equal(sm.payload_len, 3);
	assert_memory_equal(sm.payload, text, 3); /* the NUL '@' survives */

	struct smpp_sm e;
	uint8_t out[512];
	mo_sm(&e, "79161234567", 0, "6249", 0, text, sizeof text);
	assert_encodes_to(out, smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 12, &e), v);
}

/* --------------------------------------------------------------- framer -- */

static void test_framer_byte_by_byte(void **state)
{
	(void)state;
	struct smpp_framer f;
	smpp_framer_init(&f);
	size_t got = 0;
	for (size_t i = 0; i < n_vectors; i++) {
		const struct vector *v = &vectors[i];
		for (size_t k = 0; k < v->len; k++) {
			const uint8_t *pdu;
			struct smpp_hdr h;
			assert_int_equal(smpp_framer_feed(&f, &v->bytes[k], 1), 0);
			int rc = smpp_framer_next(&f, &pdu, &h);
			if (k + 1 < v->len) {
				assert_int_equal(rc, 0);
			} else {
				assert_int_equal(rc, 1);
				assert_int_equal(h.len, v->len);
				assert_memory_equal(pdu, v->bytes, v->len);
				got++;
			}
		}
	}
	assert_int_equal(got, n_vectors);
	assert_true(f.cap <= 2 * SMPP_MAX_PDU_LEN);
	smpp_framer_free(&f);
}

static void test_framer_three_in_one_feed(void **state)
{
	(void)state;
	const struct vector *a = vec("deliver_sm_gsm_help");
	const struct vector *b = vec("enquire_link");
	const struct vector *c = vec("deliver_sm_receipt");
	uint8_t buf[1024];
	size_t n = 0;
	memcpy(buf + n, a->bytes, a->len), n += a->len;
	memcpy(buf + n, b->bytes, b->len), n += b->len;
	memcpy(buf + n, c->bytes, c->len), n += c->len;
	buf[n++] = 0x00; /* and the first octet of a fourth */

	struct smpp_framer f;
	const uint8_t *pdu;
	struct smpp_hdr h;
	smpp_framer_init(&f);
	assert_int_equal(smpp_framer_feed(&f, buf, n), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_int_equal(h.id, SMPP_DELIVER_SM);
	assert_memory_equal(pdu, a->bytes, a->len);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_int_equal(h.id, SMPP_ENQUIRE_LINK);
	assert_int_equal(h.seq, 9);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_memory_equal(pdu, c->bytes, c->len);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	/* the rest of the fourth arrives: the buffer is compacted first */
	assert_int_equal(smpp_framer_feed(&f, b->bytes + 1, b->len - 1), 0);
	assert_int_equal(f.off, 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_memory_equal(pdu, b->bytes, b->len);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	smpp_framer_free(&f);
}

static void test_framer_huge_length_refused_without_allocation(void **state)
{
	(void)state;
	uint8_t hdr[16] = { 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05 };
	struct smpp_framer f;
	const uint8_t *pdu = NULL;
	struct smpp_hdr h;
	smpp_framer_init(&f);
	assert_int_equal(smpp_framer_feed(&f, hdr, sizeof hdr), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), -SMPP_ESME_RINVCMDLEN);
	assert_null(pdu);
	assert_true(f.cap < SMPP_MAX_PDU_LEN); /* nothing sized by the peer */
	/* the error is sticky: the stream cannot be resynchronised */
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), -SMPP_ESME_RINVCMDLEN);
	smpp_framer_free(&f);

	struct smpp_hdr hh;
	assert_int_equal(smpp_hdr_parse(hdr, sizeof hdr, &hh), -SMPP_ESME_RINVCMDLEN);
}

static void test_framer_length_15_refused(void **state)
{
	(void)state;
	uint8_t hdr[16] = { 0x00, 0x00, 0x00, 0x0F, 0x00, 0x00, 0x00, 0x15 };
	struct smpp_framer f;
	const uint8_t *pdu;
	struct smpp_hdr h;
	smpp_framer_init(&f);
	assert_int_equal(smpp_framer_feed(&f, hdr, sizeof hdr), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), -SMPP_ESME_RINVCMDLEN);
	smpp_framer_free(&f);
}

static void test_framer_length_limits(void **state)
{
	(void)state;
	uint8_t hdr[16] = { 0 };
	struct smpp_hdr h;
	put32(hdr, SMPP_MAX_PDU_LEN);
	assert_int_equal(smpp_hdr_parse(hdr, sizeof hdr, &h), 0);
	assert_int_equal(h.len, SMPP_MAX_PDU_LEN);
	put32(hdr, SMPP_MAX_PDU_LEN + 1);
	assert_int_equal(smpp_hdr_parse(hdr, sizeof hdr, &h), -SMPP_ESME_RINVCMDLEN);
	put32(hdr, 16);
	assert_int_equal(smpp_hdr_parse(hdr, sizeof hdr, &h), 0);
	assert_int_equal(smpp_hdr_parse(hdr, 15, &h), -SMPP_ESME_RINVCMDLEN);

	/* a PDU of exactly SMPP_MAX_PDU_LEN passes the framer */
	uint8_t *big = calloc(1, SMPP_MAX_PDU_LEN);
	assert_non_null(big);
	put32(big, SMPP_MAX_PDU_LEN);
	put32(big + 4, SMPP_DATA_SM);
	struct smpp_framer f;
	const uint8_t *pdu;
	smpp_framer_init(&f);
	assert_int_equal(smpp_framer_feed(&f, big, SMPP_MAX_PDU_LEN), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_int_equal(h.len, SMPP_MAX_PDU_LEN);
	smpp_framer_free(&f);
	free(big);
}

static void test_framer_truncated_needs_more(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_receipt");
	struct smpp_framer f;
	const uint8_t *pdu;
	struct smpp_hdr h;
	smpp_framer_init(&f);
	/* fewer than 16 octets: not even the header */
	assert_int_equal(smpp_framer_feed(&f, v->bytes, 10), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	assert_int_equal(smpp_framer_feed(&f, v->bytes + 10, v->len - 11), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	assert_int_equal(smpp_framer_feed(&f, v->bytes + v->len - 1, 1), 0);
	assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
	assert_memory_equal(pdu, v->bytes, v->len);
	smpp_framer_free(&f);
}

static void test_framer_bounded_memory(void **state)
{
	(void)state;
	const struct vector *v = vec("enquire_link");
	struct smpp_framer f;
	const uint8_t *pdu;
	struct smpp_hdr h;
	smpp_framer_init(&f);
	/* a long session of small reads drained each time: the buffer is
	 * reused, not grown */
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(smpp_framer_feed(&f, v->bytes, v->len), 0);
		assert_int_equal(smpp_framer_next(&f, &pdu, &h), 1);
		assert_int_equal(smpp_framer_next(&f, &pdu, &h), 0);
	}
	assert_true(f.cap <= 4096);
	/* a caller that never drains is stopped once a full PDU's worth is
	 * held */
	int rc = 0;
	size_t fed = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		rc = smpp_framer_feed(&f, v->bytes, v->len);
		if (rc == 0)
			fed += v->len;
	}
	assert_int_equal(rc, -ENOMEM);
	assert_true(fed >= SMPP_MAX_PDU_LEN);
	assert_true(f.cap <= 2 * SMPP_MAX_PDU_LEN);
	smpp_framer_free(&f);
}

/* ------------------------------------------------------ hostile decoder -- */

static void test_decode_100_tlvs(void **state)
{
	(void)state;
	uint8_t body[2048], pdu[2048 + 16];
	size_t bl = mk_sm_body(body, 1);
	body[bl++] = 'x';
	for (int i = 0; i < 100; i++) {
		body[bl++] = (uint8_t)(0x14 + (i >> 8)); /* vendor tags 0x1400.. */
		body[bl++] = (uint8_t)i;
		body[bl++] = 0x00;
		body[bl++] = 0x03;
		body[bl++] = 'a';
		body[bl++] = 'b';
		body[bl++] = 'c';
	}
	size_t n = mk_pdu(pdu, SMPP_DELIVER_SM, 0, body, bl);
	struct smpp_sm sm;
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), 0);
	assert_int_equal(sm.tlv_count, 100);
	assert_int_equal(sm.payload_len, 1);
	assert_int_equal(sm.payload[0], 'x');
}

static void test_decode_tlv_past_end(void **state)
{
	(void)state;
	uint8_t body[256], pdu[300];
	struct smpp_sm sm;
	size_t bl = mk_sm_body(body, 0);
	/* message_state announcing 5 octets, only 1 present */
	const uint8_t tlv[] = { 0x04, 0x27, 0x00, 0x05, 0x02 };
	memcpy(body + bl, tlv, sizeof tlv);
	size_t n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + sizeof tlv);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVOPTPARSTREAM);
	/* a TLV header cut after 3 octets */
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + 3);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVOPTPARSTREAM);
	/* length 0xFFFF */
	const uint8_t big[] = { 0x14, 0x00, 0xFF, 0xFF, 0x00 };
	memcpy(body + bl, big, sizeof big);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + sizeof big);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVOPTPARSTREAM);
	/* a known TLV of the wrong length */
	const uint8_t bad[] = { 0x04, 0x27, 0x00, 0x02, 0x02, 0x02 };
	memcpy(body + bl, bad, sizeof bad);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + sizeof bad);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVPARLEN);
}

static void test_decode_sm_length_past_end(void **state)
{
	(void)state;
	uint8_t body[256], pdu[300];
	struct smpp_sm sm;
	size_t bl = mk_sm_body(body, 10);
	memcpy(body + bl, "HELP", 4);
	size_t n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + 4);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVMSGLEN);
	/* the same with sm_length 4 decodes */
	body[bl - 1] = 4;
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + 4);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), 0);
	/* body cut inside the mandatory fields */
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl - 3);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVCMDLEN);
}

static void test_decode_unterminated_strings(void **state)
{
	(void)state;
	uint8_t pdu[300];
	struct smpp_sm sm;
	/* source_addr running to the end of the PDU without a NUL */
	const uint8_t b1[] = { 0x00, 0x01, 0x01, '7', '9', '1', '6' };
	size_t n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, b1, sizeof b1);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVSRCADR);
	/* service_type without NUL */
	const uint8_t b2[] = { 'C', 'M', 'T' };
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, b2, sizeof b2);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVSERTYP);
	/* empty body */
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, b2, 0);
	assert_true(smpp_decode_sm(pdu, n, &sm) < 0);
	/* bind: password without NUL at the end */
	const uint8_t b3[] = { 'd', 'i', 'a', 'l', 'o', 'g', 0, 's', 'e', 'c' };
	struct smpp_bind b;
	n = mk_pdu(pdu, SMPP_BIND_TRANSCEIVER, 1, b3, sizeof b3);
	assert_int_equal(smpp_decode_bind(pdu, n, &b), -SMPP_ESME_RINVPASWD);
	/* a response whose message_id has no NUL */
	const uint8_t b4[] = { '4', '7', '1', '1' };
	char id[65];
	n = mk_pdu(pdu, SMPP_SUBMIT_SM_RESP, 1, b4, sizeof b4);
	assert_int_equal(smpp_decode_resp_id(pdu, n, id, sizeof id), -SMPP_ESME_RINVMSGID);
}

static void test_decode_oversize_fields(void **state)
{
	(void)state;
	uint8_t body[512], pdu[600];
	struct smpp_sm sm;
	size_t bl, n;

	/* service_type of 6 characters (max 5 + NUL) */
	bl = mk_sm_body(body, 0);
	memmove(body + 6, body, bl);
	memcpy(body, "ABCDEF", 6);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + 6);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVSERTYP);

	/* destination_addr of 21 digits (max 20 + NUL) */
	uint8_t b2[128];
	size_t k = 0;
	b2[k++] = 0;
	b2[k++] = 1, b2[k++] = 1;
	memcpy(b2 + k, "79161234567", 12), k += 12;
	b2[k++] = 1, b2[k++] = 1;
	memcpy(b2 + k, "123456789012345678901", 22), k += 22;
	memset(b2 + k, 0, 10), k += 10;
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, b2, k);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVDSTADR);
	/* the same with 20 digits decodes */
	memcpy(b2 + 17, "12345678901234567890", 21);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, b2, k - 1);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), 0);
	assert_string_equal(sm.dst.addr, "12345678901234567890");

	/* validity_period that is neither empty nor 16 characters */
	k = 0;
	b2[k++] = 0;
	b2[k++] = 1, b2[k++] = 1, b2[k++] = 0;
	b2[k++] = 1, b2[k++] = 1, b2[k++] = 0;
	b2[k++] = 0, b2[k++] = 0, b2[k++] = 0;
	b2[k++] = 0; /* schedule empty */
	memcpy(b2 + k, "0000010", 8), k += 8;
	memset(b2 + k, 0, 5), k += 5;
	n = mk_pdu(pdu, SMPP_SUBMIT_SM, 1, b2, k);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVEXPIRY);
	/* schedule of 17 characters: no NUL within 17 octets */
	k = 10;
	memcpy(b2 + k, "00000000000000000R", 19), k += 19;
	b2[k++] = 0;
	memset(b2 + k, 0, 5), k += 5;
	n = mk_pdu(pdu, SMPP_SUBMIT_SM, 1, b2, k);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_RINVSCHED);

	/* bind with a 16-character system_id (max 15 + NUL) */
	uint8_t b3[64];
	k = 0;
	memcpy(b3, "ABCDEFGHIJKLMNOP", 17), k += 17;
	memcpy(b3 + k, "secret", 7), k += 7;
	b3[k++] = 0, b3[k++] = 0x34, b3[k++] = 0, b3[k++] = 0, b3[k++] = 0;
	struct smpp_bind b;
	n = mk_pdu(pdu, SMPP_BIND_TRANSMITTER, 1, b3, k);
	assert_int_equal(smpp_decode_bind(pdu, n, &b), -SMPP_ESME_RINVSYSID);
	/* password of 9 characters (max 8 + NUL) */
	k = 0;
	memcpy(b3, "dialog", 7), k += 7;
	memcpy(b3 + k, "123456789", 10), k += 10;
	b3[k++] = 0, b3[k++] = 0x34, b3[k++] = 0, b3[k++] = 0, b3[k++] = 0;
	n = mk_pdu(pdu, SMPP_BIND_TRANSMITTER, 1, b3, k);
	assert_int_equal(smpp_decode_bind(pdu, n, &b), -SMPP_ESME_RINVPASWD);
	/* address_range of 40 characters is legal and truncated to 20 */
	k = 0;
	memcpy(b3, "dialog", 7), k += 7;
	memcpy(b3 + k, "secret", 7), k += 7;
	b3[k++] = 0, b3[k++] = 0x34, b3[k++] = 1, b3[k++] = 1;
	memcpy(b3 + k, "7916123456789012345678901234567890123456", 41), k += 41;
	n = mk_pdu(pdu, SMPP_BIND_RECEIVER, 1, b3, k);
	assert_int_equal(smpp_decode_bind(pdu, n, &b), 0);
	assert_string_equal(b.address_range.addr, "79161234567890123456");

	/* submit_sm_resp message_id of 65 characters (max 64 + NUL) */
	char id[70], big[70];
	memset(big, 'A', 65);
	big[65] = 0;
	n = mk_pdu(pdu, SMPP_SUBMIT_SM_RESP, 1, (const uint8_t *)big, 66);
	assert_int_equal(smpp_decode_resp_id(pdu, n, id, sizeof id), -SMPP_ESME_RINVMSGID);
	n = mk_pdu(pdu, SMPP_SUBMIT_SM_RESP, 1, (const uint8_t *)big + 1, 65);
	assert_int_equal(smpp_decode_resp_id(pdu, n, id, sizeof id), 0);
	assert_int_equal(strlen(id), 64);
	/* a caller buffer too small */
	assert_int_equal(smpp_decode_resp_id(pdu, n, id, 10), -ENOSPC);
}

static void test_decode_both_payloads_refused(void **state)
{
	(void)state;
	uint8_t body[256], pdu[300];
	struct smpp_sm sm;
	size_t bl = mk_sm_body(body, 2);
	body[bl++] = 'h', body[bl++] = 'i';
	const uint8_t tlv[] = { 0x04, 0x24, 0x00, 0x02, 'h', 'o' };
	memcpy(body + bl, tlv, sizeof tlv);
	size_t n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + sizeof tlv);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_ROPTPARNOTALLWD);

	/* sm_length 0 + message_payload: the payload is the TLV */
	bl = mk_sm_body(body, 0);
	memcpy(body + bl, tlv, sizeof tlv);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + sizeof tlv);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), 0);
	assert_true(sm.payload_in_tlv);
	assert_int_equal(sm.payload_len, 2);
	assert_memory_equal(sm.payload, "ho", 2);
	/* message_payload twice */
	memcpy(body + bl + sizeof tlv, tlv, sizeof tlv);
	n = mk_pdu(pdu, SMPP_DELIVER_SM, 1, body, bl + 2 * sizeof tlv);
	assert_int_equal(smpp_decode_sm(pdu, n, &sm), -SMPP_ESME_ROPTPARNOTALLWD);
}

static void test_decode_wrong_pdu(void **state)
{
	(void)state;
	const struct vector *v = vec("deliver_sm_gsm_help");
	struct smpp_sm sm;
	struct smpp_bind b;
	char id[65];
	/* command_length disagrees with the buffer length */
	assert_int_equal(smpp_decode_sm(v->bytes, v->len - 1, &sm), -SMPP_ESME_RINVCMDLEN);
	assert_int_equal(smpp_decode_sm(v->bytes, 10, &sm), -SMPP_ESME_RINVCMDLEN);
	/* a decoder handed the wrong command */
	assert_int_equal(smpp_decode_bind(v->bytes, v->len, &b), -SMPP_ESME_RINVCMDID);
	assert_int_equal(smpp_decode_resp_id(v->bytes, v->len, id, sizeof id),
			 -SMPP_ESME_RINVCMDID);
	v = vec("bind_transceiver");
	assert_int_equal(smpp_decode_sm(v->bytes, v->len, &sm), -SMPP_ESME_RINVCMDID);
}

/* ---------------------------------------------------------- round trips -- */

static void test_roundtrip_submit_254(void **state)
{
	(void)state;
	uint8_t text[254], out[1024];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (uint8_t)(i * 7);
	struct smpp_sm e, d;
	smpp_sm_init(&e);
	set_addr(&e.src, 5, 0, "6249");
	set_addr(&e.dst, 1, 1, "79161234567");
	e.data_coding = 8;
	e.registered_delivery = 1;
	strcpy(e.validity_period, "000001000000000R");
	e.payload = text;
	e.payload_len = sizeof text;
	int n = smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 0x7FFFFFFF, &e);
	assert_true(n > 0);
	struct smpp_hdr h;
	assert_int_equal(smpp_hdr_parse(out, (size_t)n, &h), 0);
	assert_int_equal(h.len, (uint32_t)n);
	assert_int_equal(h.id, SMPP_SUBMIT_SM);
	assert_int_equal(h.seq, 0x7FFFFFFF);
	assert_int_equal(smpp_decode_sm(out, (size_t)n, &d), 0);
	assert_false(d.payload_in_tlv);
	assert_int_equal(d.payload_len, 254);
	assert_memory_equal(d.payload, text, 254);
	assert_int_equal(d.payload[-1], 254); /* sm_length octet */
	assert_addr(&d.src, 5, 0, "6249");
	assert_addr(&d.dst, 1, 1, "79161234567");
	assert_int_equal(d.data_coding, 8);
	assert_int_equal(d.registered_delivery, 1);
	assert_string_equal(d.validity_period, "000001000000000R");
	assert_string_equal(d.schedule_delivery_time, "");
	assert_int_equal(d.tlv_count, 0);
	/* too small an output buffer */
	assert_int_equal(smpp_encode_sm(out, (size_t)n - 1, SMPP_SUBMIT_SM, 1, &e), -ENOSPC);
	assert_int_equal(smpp_encode_sm(out, (size_t)n, SMPP_SUBMIT_SM, 1, &e), n);
}

static void test_roundtrip_submit_600_message_payload(void **state)
{
	(void)state;
	uint8_t text[600], out[2048];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (uint8_t)(i ^ 0x5A);
	struct smpp_sm e, d;
	smpp_sm_init(&e);
	set_addr(&e.src, 5, 0, "6249");
	set_addr(&e.dst, 1, 1, "79161234567");
	e.payload = text;
	e.payload_len = sizeof text;
	int n = smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 42, &e);
	assert_true(n > 600);
	assert_int_equal(smpp_decode_sm(out, (size_t)n, &d), 0);
	assert_true(d.payload_in_tlv);
	assert_int_equal(d.payload_len, 600);
	assert_memory_equal(d.payload, text, 600);
	assert_int_equal(d.tlv_count, 1);
	/* payload_in_tlv forces the TLV for a short text too */
	e.payload_len = 10;
	e.payload_in_tlv = true;
	n = smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 43, &e);
	assert_true(n > 0);
	assert_int_equal(smpp_decode_sm(out, (size_t)n, &d), 0);
	assert_true(d.payload_in_tlv);
	assert_int_equal(d.payload_len, 10);
	assert_memory_equal(d.payload, text, 10);
	/* a payload our own framer would refuse is not encoded */
	static uint8_t huge[SMPP_MAX_PDU_LEN];
	uint8_t *hout = malloc(2 * SMPP_MAX_PDU_LEN);
	e.payload = huge;
	e.payload_len = sizeof huge;
	assert_int_equal(smpp_encode_sm(hout, 2 * SMPP_MAX_PDU_LEN, SMPP_SUBMIT_SM, 1, &e),
			 -EINVAL);
	free(hout);
}

static void test_roundtrip_receipt_and_sar(void **state)
{
	(void)state;
	uint8_t out[1024];
	struct smpp_sm e, d;
	smpp_sm_init(&e);
	set_addr(&e.src, 1, 1, "79167654321");
	set_addr(&e.dst, 0, 1, "6249");
	e.esm_class = SMPP_ESM_RECEIPT;
	e.has_receipted_message_id = true;
	memset(e.receipted_message_id, 'Z', 64); /* the longest legal id */
	e.receipted_message_id[64] = 0;
	e.message_state = SMPP_STATE_UNDELIVERABLE;
	e.payload = (const uint8_t *)"id:ZZ stat:UNDELIV";
	e.payload_len = 18;
	int n = smpp_encode_sm(out, sizeof out, SMPP_DELIVER_SM, 0, &e);
	assert_true(n > 0);
	assert_int_equal(smpp_decode_sm(out, (size_t)n, &d), 0);
	assert_true(d.has_receipted_message_id);
	assert_string_equal(d.receipted_message_id, e.receipted_message_id);
	assert_int_equal(d.message_state, SMPP_STATE_UNDELIVERABLE);
	assert_int_equal(d.esm_class, SMPP_ESM_RECEIPT);
	assert_int_equal(d.tlv_count, 2);
	assert_false(d.has_sar);

	smpp_sm_init(&e);
	set_addr(&e.src, 5, 0, "6249");
	set_addr(&e.dst, 1, 1, "79161234567");
	e.has_sar = true;
	e.sar_msg_ref_num = 0xBEEF;
	e.sar_total_segments = 3;
	e.sar_segment_seqnum = 2;
	e.payload = (const uint8_t *)"abc";
	e.payload_len = 3;
	n = smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 5, &e);
	assert_true(n > 0);
	assert_int_equal(smpp_decode_sm(out, (size_t)n, &d), 0);
	assert_true(d.has_sar);
	assert_int_equal(d.sar_msg_ref_num, 0xBEEF);
	assert_int_equal(d.sar_total_segments, 3);
	assert_int_equal(d.sar_segment_seqnum, 2);
	assert_int_equal(d.message_state, -1);
	assert_false(d.has_receipted_message_id);
	assert_int_equal(d.tlv_count, 3);
}

static void test_encode_rejects_bad_fields(void **state)
{
	(void)state;
	uint8_t out[1024];
	struct smpp_sm e;
	smpp_sm_init(&e);
	strcpy(e.validity_period, "12345"); /* neither empty nor 16 */
	assert_int_equal(smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 1, &e), -EINVAL);
	smpp_sm_init(&e);
	memset(e.src.addr, '7', sizeof e.src.addr); /* no NUL */
	assert_int_equal(smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 1, &e), -EINVAL);
	smpp_sm_init(&e);
	assert_int_equal(smpp_encode_sm(out, sizeof out, SMPP_ENQUIRE_LINK, 1, &e), -EINVAL);
	e.payload_len = 3; /* and no payload pointer */
	assert_int_equal(smpp_encode_sm(out, sizeof out, SMPP_SUBMIT_SM, 1, &e), -EINVAL);
	assert_int_equal(smpp_encode_header_only(out, 15, SMPP_ENQUIRE_LINK, 0, 1), -ENOSPC);
	assert_int_equal(smpp_encode_sm_resp(out, 16, SMPP_SUBMIT_SM_RESP, 0, 1, ""), -ENOSPC);
	char longid[80];
	memset(longid, 'x', 65);
	longid[65] = 0;
	assert_int_equal(smpp_encode_sm_resp(out, sizeof out, SMPP_SUBMIT_SM_RESP, 0, 1, longid),
			 -EINVAL);
	struct smpp_bind b;
	memset(&b, 0, sizeof b);
	memset(b.system_id, 'a', sizeof b.system_id);
	assert_int_equal(smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSCEIVER, 1, &b), -EINVAL);
	memset(&b, 0, sizeof b);
	b.interface_version = 0x34;
	assert_int_equal(smpp_encode_bind(out, sizeof out, SMPP_SUBMIT_SM, 1, &b), -EINVAL);
	assert_int_equal(smpp_encode_bind(out, 20, SMPP_BIND_TRANSCEIVER, 1, &b), -ENOSPC);
	assert_int_equal(smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSCEIVER, 1, &b), 16 + 7);
	/* documented limits of the libsmpp34 packer behind smpp_encode_bind */
	b.interface_version = 0x33;
	assert_int_equal(smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSCEIVER, 1, &b), -EINVAL);
	b.interface_version = 0x34;
	b.address_range.ton = 7;
	assert_int_equal(smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSCEIVER, 1, &b), -EINVAL);
}

static void test_encode_bind_seq0_and_roundtrip(void **state)
{
	(void)state;
	uint8_t out[256];
	struct smpp_bind e, d;
	memset(&e, 0, sizeof e);
	strcpy(e.system_id, "ABCDEFGHIJKLMNO");
	strcpy(e.password, "12345678");
	strcpy(e.system_type, "dialog");
	e.interface_version = 0x34;
	set_addr(&e.address_range, 1, 1, "7916");
	/* libsmpp34 alone refuses sequence_number 0 */
	int n = smpp_encode_bind(out, sizeof out, SMPP_BIND_TRANSMITTER, 0, &e);
	assert_true(n > 0);
	struct smpp_hdr h;
	assert_int_equal(smpp_hdr_parse(out, (size_t)n, &h), 0);
	assert_int_equal(h.seq, 0);
	assert_int_equal(h.id, SMPP_BIND_TRANSMITTER);
	assert_int_equal(h.len, (uint32_t)n);
	assert_int_equal(smpp_decode_bind(out, (size_t)n, &d), 0);
	assert_string_equal(d.system_id, e.system_id);
	assert_string_equal(d.password, e.password);
	assert_string_equal(d.system_type, e.system_type);
	assert_int_equal(d.interface_version, 0x34);
	assert_addr(&d.address_range, 1, 1, "7916");
}

static void test_encode_bind_resp(void **state)
{
	(void)state;
	uint8_t out[256];
	char id[65];
	int n = smpp_encode_bind_resp(out, sizeof out, SMPP_BIND_TRANSCEIVER_RESP, 0, 0, "smsc");
	/* header, "smsc\0", sc_interface_version TLV 0x0210 len 1 value 0x34 */
	static const uint8_t want[] = { 0x00, 0x00, 0x00, 0x1A, 0x80, 0x00, 0x00, 0x09,
					0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					's',  'm',  's',  'c',  0x00, 0x02, 0x10, 0x00,
					0x01, 0x34 };
	assert_int_equal(n, (int)sizeof want);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(smpp_decode_resp_id(out, (size_t)n, id, sizeof id), 0);
	assert_string_equal(id, "smsc");
	/* an error response carries no TLV */
	n = smpp_encode_bind_resp(out, sizeof out, SMPP_BIND_TRANSMITTER_RESP,
				  SMPP_ESME_RINVPASWD, 77, "smsc");
	assert_int_equal(n, 21);
	struct smpp_hdr h;
	assert_int_equal(smpp_hdr_parse(out, (size_t)n, &h), 0);
	assert_int_equal(h.status, SMPP_ESME_RINVPASWD);
	assert_int_equal(h.seq, 77);
	assert_int_equal(smpp_decode_resp_id(out, (size_t)n, id, sizeof id), 0);
	assert_string_equal(id, "smsc");
	/* a vendor-specific status (libsmpp34's packer refuses it) */
	n = smpp_encode_bind_resp(out, sizeof out, SMPP_BIND_RECEIVER_RESP, 0x400, 0, "");
	assert_int_equal(n, 17);
	assert_int_equal(smpp_hdr_parse(out, (size_t)n, &h), 0);
	assert_int_equal(h.status, 0x400);
	assert_int_equal(h.id, SMPP_BIND_RECEIVER_RESP);
	assert_int_equal(h.seq, 0);
	/* deliver_sm_resp with an empty message_id */
	n = smpp_encode_sm_resp(out, sizeof out, SMPP_DELIVER_SM_RESP, SMPP_ESME_RX_T_APPN, 0,
				NULL);
	assert_int_equal(n, 17);
	assert_int_equal(out[16], 0);
	assert_int_equal(smpp_hdr_parse(out, (size_t)n, &h), 0);
	assert_int_equal(h.status, 0x64);
}

/* ---------------------------------------------------------------- names -- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(smpp_cmd_name(SMPP_DELIVER_SM), "deliver_sm");
	assert_string_equal(smpp_cmd_name(SMPP_SUBMIT_SM_RESP), "submit_sm_resp");
	assert_string_equal(smpp_cmd_name(SMPP_GENERIC_NACK), "generic_nack");
	assert_string_equal(smpp_cmd_name(SMPP_BIND_TRANSCEIVER), "bind_transceiver");
	assert_string_equal(smpp_cmd_name(0x12345678u), "unknown");
	assert_string_equal(smpp_status_name(SMPP_ESME_RTHROTTLED), "ESME_RTHROTTLED");
	assert_string_equal(smpp_status_name(SMPP_ESME_ROK), "ESME_ROK");
	assert_string_equal(smpp_status_name(SMPP_ESME_RX_T_APPN), "ESME_RX_T_APPN");
	assert_string_equal(smpp_status_name(SMPP_ESME_RINVOPTPARSTREAM), "ESME_RINVOPTPARSTREAM");
	assert_string_equal(smpp_status_name(0x400), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_all_frame_and_decode),
		cmocka_unit_test(test_vector_bind_transceiver),
		cmocka_unit_test(test_vector_deliver_sm_gsm_help),
		cmocka_unit_test(test_vector_deliver_sm_ucs2_stop),
		cmocka_unit_test(test_vector_deliver_sm_p2p_gsm),
		cmocka_unit_test(test_vector_deliver_sm_udh_part),
		cmocka_unit_test(test_vector_deliver_sm_receipt),
		cmocka_unit_test(test_vector_submit_sm_resp_ok),
		cmocka_unit_test(test_vector_submit_sm_resp_throttled),
		cmocka_unit_test(test_vector_header_only),
		cmocka_unit_test(test_vector_deliver_sm_seq0),
		cmocka_unit_test(test_vector_deliver_sm_gsm_ext),
		cmocka_unit_test(test_framer_byte_by_byte),
		cmocka_unit_test(test_framer_three_in_one_feed),
		cmocka_unit_test(test_framer_huge_length_refused_without_allocation),
		cmocka_unit_test(test_framer_length_15_refused),
		cmocka_unit_test(test_framer_length_limits),
		cmocka_unit_test(test_framer_truncated_needs_more),
		cmocka_unit_test(test_framer_bounded_memory),
		cmocka_unit_test(test_decode_100_tlvs),
		cmocka_unit_test(test_decode_tlv_past_end),
		cmocka_unit_test(test_decode_sm_length_past_end),
		cmocka_unit_test(test_decode_unterminated_strings),
		cmocka_unit_test(test_decode_oversize_fields),
		cmocka_unit_test(test_decode_both_payloads_refused),
		cmocka_unit_test(test_decode_wrong_pdu),
		cmocka_unit_test(test_roundtrip_submit_254),
		cmocka_unit_test(test_roundtrip_submit_600_message_payload),
		cmocka_unit_test(test_roundtrip_receipt_and_sar),
		cmocka_unit_test(test_encode_rejects_bad_fields),
		cmocka_unit_test(test_encode_bind_seq0_and_roundtrip),
		cmocka_unit_test(test_encode_bind_resp),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, load_vectors, free_vectors);
}
