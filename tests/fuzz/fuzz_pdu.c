/* fuzz_pdu.c — the SMPP framer and decoders on hostile bytes.
 *
 * The input is fed to a framer in chunk sizes derived from the input itself
 * (so partial reads are exercised); every PDU framed is handed to all three
 * decoders. A decoded deliver_sm/submit_sm is re-encoded and decoded again:
 * the key fields must survive, and encoding is idempotent. Same for binds and
 * response ids. Any disagreement aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smpp_gw/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                              \
	do {                                                                                  \
		if (!(c))                                                                     \
			abort();                                                              \
	} while (0)

static uint8_t out1[2 * SMPP_MAX_PDU_LEN];
static uint8_t out2[2 * SMPP_MAX_PDU_LEN];

static void check_sm_equal(const struct smpp_sm *a, const struct smpp_sm *b)
{
	CHECK(strcmp(a->service_type, b->service_type) == 0);
	CHECK(a->src.ton == b->src.ton && a->src.npi == b->src.npi);
	CHECK(strcmp(a->src.addr, b->src.addr) == 0);
	CHECK(a->dst.ton == b->dst.ton && a->dst.npi == b->dst.npi);
	CHECK(strcmp(a->dst.addr, b->dst.addr) == 0);
	CHECK(a->esm_class == b->esm_class);
	CHECK(a->protocol_id == b->protocol_id);
	CHECK(a->priority_flag == b->priority_flag);
	CHECK(strcmp(a->schedule_delivery_time, b->schedule_delivery_time) == 0);
	CHECK(strcmp(a->validity_period, b->validity_period) == 0);
	CHECK(a->registered_delivery == b->registered_delivery);
	CHECK(a->replace_if_present == b->replace_if_present);
	CHECK(a->data_coding == b->data_coding);
	CHECK(a->sm_default_msg_id == b->sm_default_msg_id);
	CHECK(a->payload_len == b->payload_len);
	CHECK(a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
	if (a->payload_len <= 254)
		CHECK(a->payload_in_tlv == b->payload_in_tlv);
	CHECK(a->has_receipted_message_id == b->has_receipted_message_id);
	if (a->has_receipted_message_id)
		CHECK(strcmp(a->receipted_message_id, b->receipted_message_id) == 0);
	CHECK(a->message_state == b->message_state);
	CHECK(a->has_sar == b->has_sar);
	if (a->has_sar) {
		CHECK(a->sar_msg_ref_num == b->sar_msg_ref_num);
		CHECK(a->sar_total_segments == b->sar_total_segments);
		CHECK(a->sar_segment_seqnum == b->sar_segment_seqnum);
	}
}

static void roundtrip_sm(const struct smpp_hdr *h, const struct smpp_sm *sm)
{
	int n1 = smpp_encode_sm(out1, sizeof out1, h->id, h->seq, sm);
	if (n1 < 0) {
		/* only a PDU already near the cap may grow past it (SAR TLVs
		 * completed, a NUL added to receipted_message_id) */
		CHECK(n1 == -EINVAL && h->len > SMPP_MAX_PDU_LEN - 64);
		return;
	}
	struct smpp_hdr h1;
	CHECK(smpp_hdr_parse(out1, (size_t)n1, &h1) == 0);
	CHECK(h1.len == (uint32_t)n1 && h1.id == h->id && h1.seq == h->seq);
	struct smpp_sm d1;
	CHECK(smpp_decode_sm(out1, (size_t)n1, &d1) == 0);
	check_sm_equal(sm, &d1);
	int n2 = smpp_encode_sm(out2, sizeof out2, h->id, h->seq, &d1);
	CHECK(n2 == n1 && memcmp(out1, out2, (size_t)n1) == 0);
}

static void roundtrip_bind(const struct smpp_hdr *h, const struct smpp_bind *b)
{
	int n = smpp_encode_bind(out1, sizeof out1, h->id, h->seq, b);
	if (n < 0)
		return; /* libsmpp34's packer may refuse odd values */
	struct smpp_bind d;
	CHECK(smpp_decode_bind(out1, (size_t)n, &d) == 0);
	CHECK(strcmp(b->system_id, d.system_id) == 0);
	CHECK(strcmp(b->password, d.password) == 0);
	CHECK(strcmp(b->system_type, d.system_type) == 0);
	CHECK(b->interface_version == d.interface_version);
	CHECK(b->address_range.ton == d.address_range.ton);
	CHECK(b->address_range.npi == d.address_range.npi);
	CHECK(strcmp(b->address_range.addr, d.address_range.addr) == 0);
}

static void roundtrip_resp(const struct smpp_hdr *h, const char *id)
{
	int n = smpp_encode_sm_resp(out1, sizeof out1, h->id, h->status, h->seq, id);
	CHECK(n > 0);
	char d[65];
	CHECK(smpp_decode_resp_id(out1, (size_t)n, d, sizeof d) == 0);
	CHECK(strcmp(id, d) == 0);
}

static void one_pdu(const uint8_t *pdu, const struct smpp_hdr *h)
{
	CHECK(h->len >= SMPP_HEADER_LEN && h->len <= SMPP_MAX_PDU_LEN);

	struct smpp_sm sm;
	if (smpp_decode_sm(pdu, h->len, &sm) == 0) {
		CHECK(h->id == SMPP_SUBMIT_SM || h->id == SMPP_DELIVER_SM);
		CHECK(sm.payload_len == 0 ||
		      (sm.payload >= pdu && sm.payload + sm.payload_len <= pdu + h->len));
		roundtrip_sm(h, &sm);
	}
	struct smpp_bind b;
	if (smpp_decode_bind(pdu, h->len, &b) == 0)
		roundtrip_bind(h, &b);
	char id[65];
	if (smpp_decode_resp_id(pdu, h->len, id, sizeof id) == 0) {
		CHECK(h->id & SMPP_RESP_BIT);
		roundtrip_resp(h, id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = 2166136261u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;

	struct smpp_framer f;
	smpp_framer_init(&f);
	size_t pos = 0;
	while (pos < size) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = 1 + (seed >> 16) % 300;
		if (chunk > size - pos)
			chunk = size - pos;
		if (smpp_framer_feed(&f, data + pos, chunk) != 0)
			break;
		pos += chunk;
		const uint8_t *pdu;
		struct smpp_hdr h;
		int rc;
		while ((rc = smpp_framer_next(&f, &pdu, &h)) == 1)
			one_pdu(pdu, &h);
		if (rc < 0) {
			CHECK(rc == -SMPP_ESME_RINVCMDLEN);
			break; /* the connection would be closed */
		}
		CHECK(f.cap <= SMPP_MAX_PDU_LEN + 300);
	}
	smpp_framer_free(&f);
	return 0;
}
