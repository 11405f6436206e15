/* pdu.c — SMPP 3.4 PDUs: framing, decoding, encoding.
 *
 * Decoders are written here and read nothing but the bytes they were given.
 *
 * Encoders: bind_* and bind_*_resp bodies come from libsmpp34's packer, which
 * produces the same bytes as Net::SMPP for them. The packer validates header
 * fields we must not restrict (it refuses sequence_number 0 and any
 * command_status outside its table, e.g. vendor statuses), so it packs a
 * placeholder header (status 0, sequence 1) and we write the real
 * command_status and sequence_number afterwards. It also refuses an
 * interface_version other than 0x34 and TON/NPI values outside the SMPP 3.4
 * tables: smpp_encode_bind gives -EINVAL for those (we only ever bind as
 * 3.4). Everything else is encoded here, because libsmpp34 is wrong or
 * awkward for it:
 *   - submit_sm / deliver_sm: the packer refuses sm_length 254 (legal in
 *     SMPP 3.4), limits TLVs to 1024 octets (message_payload) and only packs
 *     empty schedule_delivery_time / validity_period for deliver_sm;
 *   - *_resp with a message_id: the packer drops the NUL of an empty
 *     message_id, other implementations (Net::SMPP) write it;
 *   - header-only PDUs are 16 octets and need no library.
 */
#include "smpp_gw/pdu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libsmpp34/smpp34.h>
#include <libsmpp34/smpp34_structs.h>

/* ---------------------------------------------------------------- names -- */

struct name_entry {
	uint32_t val;
	const char *name;
};

static const struct name_entry cmd_names[] = {
	{ SMPP_GENERIC_NACK, "generic_nack" },
	{ SMPP_BIND_RECEIVER, "bind_receiver" },
	{ SMPP_BIND_RECEIVER_RESP, "bind_receiver_resp" },
	{ SMPP_BIND_TRANSMITTER, "bind_transmitter" },
	{ SMPP_BIND_TRANSMITTER_RESP, "bind_transmitter_resp" },
	{ SMPP_QUERY_SM, "query_sm" },
	{ SMPP_QUERY_SM_RESP, "query_sm_resp" },
	{ SMPP_SUBMIT_SM, "submit_sm" },
	{ SMPP_SUBMIT_SM_RESP, "submit_sm_resp" },
	{ SMPP_DELIVER_SM, "deliver_sm" },
	{ SMPP_DELIVER_SM_RESP, "deliver_sm_resp" },
	{ SMPP_UNBIND, "unbind" },
	{ SMPP_UNBIND_RESP, "unbind_resp" },
	{ SMPP_REPLACE_SM, "replace_sm" },
	{ SMPP_REPLACE_SM_RESP, "replace_sm_resp" },
	{ SMPP_CANCEL_SM, "cancel_sm" },
	{ SMPP_CANCEL_SM_RESP, "cancel_sm_resp" },
	{ SMPP_BIND_TRANSCEIVER, "bind_transceiver" },
	{ SMPP_BIND_TRANSCEIVER_RESP, "bind_transceiver_resp" },
	{ SMPP_OUTBIND, "outbind" },
	{ SMPP_ENQUIRE_LINK, "enquire_link" },
	{ SMPP_ENQUIRE_LINK_RESP, "enquire_link_resp" },
	{ SMPP_SUBMIT_MULTI, "submit_multi" },
	{ SMPP_SUBMIT_MULTI_RESP, "submit_multi_resp" },
	{ SMPP_ALERT_NOTIFICATION, "alert_notification" },
	{ SMPP_DATA_SM, "data_sm" },
	{ SMPP_DATA_SM_RESP, "data_sm_resp" },
};

static const struct name_entry status_names[] = {
	{ 0x00, "ESME_ROK" },
	{ 0x01, "ESME_RINVMSGLEN" },
	{ 0x02, "ESME_RINVCMDLEN" },
	{ 0x03, "ESME_RINVCMDID" },
	{ 0x04, "ESME_RINVBNDSTS" },
	{ 0x05, "ESME_RALYBND" },
	{ 0x06, "ESME_RINVPRTFLG" },
	{ 0x07, "ESME_RINVREGDLVFLG" },
	{ 0x08, "ESME_RSYSERR" },
	{ 0x0A, "ESME_RINVSRCADR" },
	{ 0x0B, "ESME_RINVDSTADR" },
	{ 0x0C, "ESME_RINVMSGID" },
	{ 0x0D, "ESME_RBINDFAIL" },
	{ 0x0E, "ESME_RINVPASWD" },
	{ 0x0F, "ESME_RINVSYSID" },
	{ 0x11, "ESME_RCANCELFAIL" },
	{ 0x13, "ESME_RREPLACEFAIL" },
	{ 0x14, "ESME_RMSGQFUL" },
	{ 0x15, "ESME_RINVSERTYP" },
	{ 0x33, "ESME_RINVNUMDESTS" },
	{ 0x34, "ESME_RINVDLNAME" },
	{ 0x40, "ESME_RINVDESTFLAG" },
	{ 0x42, "ESME_RINVSUBREP" },
	{ 0x43, "ESME_RINVESMCLASS" },
	{ 0x44, "ESME_RCNTSUBDL" },
	{ 0x45, "ESME_RSUBMITFAIL" },
	{ 0x48, "ESME_RINVSRCTON" },
	{ 0x49, "ESME_RINVSRCNPI" },
	{ 0x50, "ESME_RINVDSTTON" },
	{ 0x51, "ESME_RINVDSTNPI" },
	{ 0x53, "ESME_RINVSYSTYP" },
	{ 0x54, "ESME_RINVREPFLAG" },
	{ 0x55, "ESME_RINVNUMMSGS" },
	{ 0x58, "ESME_RTHROTTLED" },
	{ 0x61, "ESME_RINVSCHED" },
	{ 0x62, "ESME_RINVEXPIRY" },
	{ 0x63, "ESME_RINVDFTMSGID" },
	{ 0x64, "ESME_RX_T_APPN" },
	{ 0x65, "ESME_RX_P_APPN" },
	{ 0x66, "ESME_RX_R_APPN" },
	{ 0x67, "ESME_RQUERYFAIL" },
	{ 0xC0, "ESME_RINVOPTPARSTREAM" },
	{ 0xC1, "ESME_ROPTPARNOTALLWD" },
	{ 0xC2, "ESME_RINVPARLEN" },
	{ 0xC3, "ESME_RMISSINGOPTPARAM" },
	{ 0xC4, "ESME_RINVOPTPARAMVAL" },
	{ 0xFE, "ESME_RDELIVERYFAILURE" },
	{ 0xFF, "ESME_RUNKNOWNERR" },
};

static const char *lookup(const struct name_entry *t, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].val == v)
			return t[i].name;
	return "unknown";
}

const char *smpp_cmd_name(uint32_t cmd)
{
	return lookup(cmd_names, sizeof cmd_names / sizeof cmd_names[0], cmd);
}

const char *smpp_status_name(uint32_t status)
{
	return lookup(status_names, sizeof status_names / sizeof status_names[0], status);
}

/* ---------------------------------------------------------- byte order -- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* -------------------------------------------------------------- header -- */

int smpp_hdr_parse(const uint8_t *buf, size_t n, struct smpp_hdr *h)
{
	if (n < SMPP_HEADER_LEN)
		return -SMPP_ESME_RINVCMDLEN;
	h->len = get32(buf);
	h->id = get32(buf + 4);
	h->status = get32(buf + 8);
	h->seq = get32(buf + 12);
	if (h->len < SMPP_HEADER_LEN || h->len > SMPP_MAX_PDU_LEN)
		return -SMPP_ESME_RINVCMDLEN;
	return 0;
}

/* -------------------------------------------------------------- framer -- */

#define FRAMER_INITIAL_CAP 4096u

void smpp_framer_init(struct smpp_framer *f)
{
	memset(f, 0, sizeof *f);
}

void smpp_framer_free(struct smpp_framer *f)
{
	free(f->buf);
	memset(f, 0, sizeof *f);
}

int smpp_framer_feed(struct smpp_framer *f, const uint8_t *data, size_t n)
{
	if (n == 0)
		return 0;
	size_t held = f->len - f->off;
	/* Bounded memory: a caller drains next() before feeding again, which
	 * leaves less than one PDU (< SMPP_MAX_PDU_LEN) held. More than that
	 * means whole PDUs or an error are waiting: refuse to grow further. */
	if (held >= SMPP_MAX_PDU_LEN)
		return -ENOMEM;
	/* compact: move the unconsumed tail to the front */
	if (f->off > 0) {
		if (held > 0)
			memmove(f->buf, f->buf + f->off, held);
		f->len = held;
		f->off = 0;
	}
	if (n > SIZE_MAX - held)
		return -ENOMEM;
	size_t need = held + n;
	if (need > f->cap) {
		size_t ncap = f->cap ? f->cap : FRAMER_INITIAL_CAP;
		while (ncap < need && ncap < SMPP_MAX_PDU_LEN)
			ncap *= 2;
		if (ncap < need)
			ncap = need;
		uint8_t *nb = realloc(f->buf, ncap);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = ncap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

int smpp_framer_next(struct smpp_framer *f, const uint8_t **pdu, struct smpp_hdr *h)
{
	size_t held = f->len - f->off;
	if (held < SMPP_HEADER_LEN) {
		if (held == 0)
			f->len = f->off = 0;
		return 0;
	}
	struct smpp_hdr hh;
	int rc = smpp_hdr_parse(f->buf + f->off, held, &hh);
	if (rc < 0)
		return rc;
	if (held < hh.len)
		return 0;
	*pdu = f->buf + f->off;
	*h = hh;
	f->off += hh.len;
	return 1;
}

/* ------------------------------------------------------------- decoding -- */

struct rd {
	const uint8_t *p;
	size_t n; /* bytes left */
};

static int rd_u8(struct rd *r, uint8_t *v)
{
	if (r->n < 1)
		return -SMPP_ESME_RINVCMDLEN;
	*v = r->p[0];
	r->p++;
	r->n--;
	return 0;
}

/* A C-octet string of at most `max` octets including its NUL. The NUL must
 * be within the field's maximum size and within the body; `err` is the
 * status for a violation. Copies at most dsz-1 characters into dst (the
 * rest of a longer legal string is dropped). */
static int rd_cstr(struct rd *r, size_t max, char *dst, size_t dsz, int err)
{
	size_t lim = r->n < max ? r->n : max;
	const uint8_t *nul = memchr(r->p, 0, lim);
	if (!nul)
		return err;
	size_t sl = (size_t)(nul - r->p);
	size_t cp = sl < dsz - 1 ? sl : dsz - 1;
	memcpy(dst, r->p, cp);
	dst[cp] = '\0';
	r->p += sl + 1;
	r->n -= sl + 1;
	return 0;
}

/* schedule_delivery_time / validity_period: empty, or 16 characters. */
static int rd_time(struct rd *r, char *dst, int err)
{
	int rc = rd_cstr(r, 17, dst, 17, err);
	if (rc < 0)
		return rc;
	size_t l = strlen(dst);
	if (l != 0 && l != 16)
		return err;
	return 0;
}

static int rd_addr(struct rd *r, struct smpp_addr *a, int err)
{
	int rc;
	if ((rc = rd_u8(r, &a->ton)) < 0 || (rc = rd_u8(r, &a->npi)) < 0)
		return rc;
	return rd_cstr(r, sizeof a->addr, a->addr, sizeof a->addr, err);
}

/* Whole PDU: header valid, command_length equal to the buffer length. */
static int pdu_begin(const uint8_t *pdu, size_t len, struct smpp_hdr *h, struct rd *r)
{
	if (!pdu)
		return -SMPP_ESME_RINVCMDLEN;
	int rc = smpp_hdr_parse(pdu, len, h);
	if (rc < 0)
		return rc;
	if (h->len != len)
		return -SMPP_ESME_RINVCMDLEN;
	r->p = pdu + SMPP_HEADER_LEN;
	r->n = len - SMPP_HEADER_LEN;
	return 0;
}

void smpp_sm_init(struct smpp_sm *sm)
{
	memset(sm, 0, sizeof *sm);
	sm->message_state = -1;
}

static int decode_sm_tlv(struct smpp_sm *sm, uint16_t tag, const uint8_t *v, uint16_t l,
			 bool *have_payload_tlv)
{
	switch (tag) {
	case SMPP_TLV_MESSAGE_PAYLOAD:
		if (*have_payload_tlv)
			return -SMPP_ESME_ROPTPARNOTALLWD;
		*have_payload_tlv = true;
		sm->payload = v;
		sm->payload_len = l;
		break;
	case SMPP_TLV_RECEIPTED_MESSAGE_ID: {
		/* C-octet string of at most 65 octets; tolerate a value sent
		 * without its NUL when it still fits. */
		if (l == 0 || l > sizeof sm->receipted_message_id)
			return -SMPP_ESME_RINVPARLEN;
		const uint8_t *nul = memchr(v, 0, l);
		size_t sl = nul ? (size_t)(nul - v) : l;
		if (sl >= sizeof sm->receipted_message_id)
			return -SMPP_ESME_RINVPARLEN;
		memcpy(sm->receipted_message_id, v, sl);
		sm->receipted_message_id[sl] = '\0';
		sm->has_receipted_message_id = true;
		break;
	}
	case SMPP_TLV_MESSAGE_STATE:
		if (l != 1)
			return -SMPP_ESME_RINVPARLEN;
		sm->message_state = v[0];
		break;
	case SMPP_TLV_SAR_MSG_REF_NUM:
		if (l != 2)
			return -SMPP_ESME_RINVPARLEN;
		sm->sar_msg_ref_num = get16(v);
		sm->has_sar = true;
		break;
	case SMPP_TLV_SAR_TOTAL_SEGMENTS:
		if (l != 1)
			return -SMPP_ESME_RINVPARLEN;
		sm->sar_total_segments = v[0];
		sm->has_sar = true;
		break;
	case SMPP_TLV_SAR_SEGMENT_SEQNUM:
		if (l != 1)
			return -SMPP_ESME_RINVPARLEN;
		sm->sar_segment_seqnum = v[0];
		sm->has_sar = true;
		break;
	default:
		break; /* unknown: skipped, counted by the caller */
	}
	return 0;
}

int smpp_decode_sm(const uint8_t *pdu, size_t len, struct smpp_sm *sm)
{
	struct smpp_hdr h;
	struct rd r;
	int rc;

	smpp_sm_init(sm);
	if ((rc = pdu_begin(pdu, len, &h, &r)) < 0)
		return rc;
	if (h.id != SMPP_SUBMIT_SM && h.id != SMPP_DELIVER_SM)
		return -SMPP_ESME_RINVCMDID;

	uint8_t sm_length;
	if ((rc = rd_cstr(&r, sizeof sm->service_type, sm->service_type,
			  sizeof sm->service_type, -SMPP_ESME_RINVSERTYP)) < 0 ||
	    (rc = rd_addr(&r, &sm->src, -SMPP_ESME_RINVSRCADR)) < 0 ||
	    (rc = rd_addr(&r, &sm->dst, -SMPP_ESME_RINVDSTADR)) < 0 ||
	    (rc = rd_u8(&r, &sm->esm_class)) < 0 ||
	    (rc = rd_u8(&r, &sm->protocol_id)) < 0 ||
	    (rc = rd_u8(&r, &sm->priority_flag)) < 0 ||
	    (rc = rd_time(&r, sm->schedule_delivery_time, -SMPP_ESME_RINVSCHED)) < 0 ||
	    (rc = rd_time(&r, sm->validity_period, -SMPP_ESME_RINVEXPIRY)) < 0 ||
	    (rc = rd_u8(&r, &sm->registered_delivery)) < 0 ||
	    (rc = rd_u8(&r, &sm->replace_if_present)) < 0 ||
	    (rc = rd_u8(&r, &sm->data_coding)) < 0 ||
	    (rc = rd_u8(&r, &sm->sm_default_msg_id)) < 0 ||
	    (rc = rd_u8(&r, &sm_length)) < 0)
		goto fail;
	if (sm_length > r.n) {
		rc = -SMPP_ESME_RINVMSGLEN;
		goto fail;
	}
	sm->payload = r.p;
	sm->payload_len = sm_length;
	r.p += sm_length;
	r.n -= sm_length;

	bool have_payload_tlv = false;
	while (r.n > 0) {
		if (r.n < 4) {
			rc = -SMPP_ESME_RINVOPTPARSTREAM;
			goto fail;
		}
		uint16_t tag = get16(r.p);
		uint16_t l = get16(r.p + 2);
		if (l > r.n - 4) {
			rc = -SMPP_ESME_RINVOPTPARSTREAM;
			goto fail;
		}
		sm->tlv_count++;
		if (tag == SMPP_TLV_MESSAGE_PAYLOAD && sm_length > 0) {
			rc = -SMPP_ESME_ROPTPARNOTALLWD; /* both forms of the text */
			goto fail;
		}
		if ((rc = decode_sm_tlv(sm, tag, r.p + 4, l, &have_payload_tlv)) < 0)
			goto fail;
		r.p += 4u + l;
		r.n -= 4u + l;
	}
	sm->payload_in_tlv = have_payload_tlv;
	return 0;

fail:
	{
		unsigned seen = sm->tlv_count;
		smpp_sm_init(sm);
		sm->tlv_count = seen;
	}
	return rc;
}

int smpp_decode_bind(const uint8_t *pdu, size_t len, struct smpp_bind *b)
{
	struct smpp_hdr h;
	struct rd r;
	int rc;

	memset(b, 0, sizeof *b);
	if ((rc = pdu_begin(pdu, len, &h, &r)) < 0)
		return rc;
	if (h.id != SMPP_BIND_TRANSMITTER && h.id != SMPP_BIND_RECEIVER &&
	    h.id != SMPP_BIND_TRANSCEIVER)
		return -SMPP_ESME_RINVCMDID;
	if ((rc = rd_cstr(&r, sizeof b->system_id, b->system_id, sizeof b->system_id,
			  -SMPP_ESME_RINVSYSID)) < 0 ||
	    (rc = rd_cstr(&r, sizeof b->password, b->password, sizeof b->password,
			  -SMPP_ESME_RINVPASWD)) < 0 ||
	    (rc = rd_cstr(&r, sizeof b->system_type, b->system_type, sizeof b->system_type,
			  -SMPP_ESME_RINVSYSTYP)) < 0 ||
	    (rc = rd_u8(&r, &b->interface_version)) < 0 ||
	    (rc = rd_u8(&r, &b->address_range.ton)) < 0 ||
	    (rc = rd_u8(&r, &b->address_range.npi)) < 0 ||
	    (rc = rd_cstr(&r, 41, b->address_range.addr, sizeof b->address_range.addr,
			  -SMPP_ESME_RINVPARLEN)) < 0) {
		memset(b, 0, sizeof *b);
		return rc;
	}
	/* SMPP 3.4 binds carry no TLVs; anything after address_range is
	 * ignored. */
	return 0;
}

int smpp_decode_resp_id(const uint8_t *pdu, size_t len, char *id, size_t idsz)
{
	struct smpp_hdr h;
	struct rd r;
	int rc;

	if (!id || idsz == 0)
		return -ENOSPC;
	id[0] = '\0';
	if ((rc = pdu_begin(pdu, len, &h, &r)) < 0)
		return rc;
	if (!(h.id & SMPP_RESP_BIT))
		return -SMPP_ESME_RINVCMDID;
	if (r.n == 0)
		return 0;
	bool bind_resp = h.id == SMPP_BIND_TRANSMITTER_RESP ||
			 h.id == SMPP_BIND_RECEIVER_RESP || h.id == SMPP_BIND_TRANSCEIVER_RESP;
	size_t max = bind_resp ? 16 : 65;
	size_t lim = r.n < max ? r.n : max;
	const uint8_t *nul = memchr(r.p, 0, lim);
	if (!nul)
		return bind_resp ? -SMPP_ESME_RINVSYSID : -SMPP_ESME_RINVMSGID;
	size_t sl = (size_t)(nul - r.p);
	if (sl >= idsz)
		return -ENOSPC;
	memcpy(id, r.p, sl);
	id[sl] = '\0';
	return 0;
}

/* ------------------------------------------------------------- encoding -- */

struct wr {
	uint8_t *p;
	size_t cap;
	size_t n;
	bool overflow;
};

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (w->overflow || n > w->cap - w->n) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void wr_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];
	put16(b, v);
	wr_bytes(w, b, 2);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4];
	put32(b, v);
	wr_bytes(w, b, 4);
}

static void wr_cstr(struct wr *w, const char *s)
{
	wr_bytes(w, s, strlen(s) + 1);
}

static void wr_header(struct wr *w, uint32_t cmd, uint32_t status, uint32_t seq)
{
	wr_u32(w, 0); /* command_length, patched by wr_finish */
	wr_u32(w, cmd);
	wr_u32(w, status);
	wr_u32(w, seq);
}

static int wr_finish(struct wr *w)
{
	if (w->overflow)
		return -ENOSPC;
	if (w->n > SMPP_MAX_PDU_LEN)
		return -EINVAL; /* our own framer would refuse it */
	put32(w->p, (uint32_t)w->n);
	return (int)w->n;
}

/* A C string held in a char[sz] field fits when its NUL is inside it and it
 * has at most `maxlen` characters. */
static bool str_fits(const char *s, size_t sz, size_t maxlen)
{
	size_t l = strnlen(s, sz);
	return l < sz && l <= maxlen;
}

int smpp_encode_header_only(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			    uint32_t seq)
{
	struct wr w = { out, cap, 0, false };
	wr_header(&w, cmd, status, seq);
	return wr_finish(&w);
}

/* Copy a PDU packed by libsmpp34 into `out`, writing the real
 * command_status and sequence_number over the placeholders. */
static int packed_out(uint8_t *out, size_t cap, const uint8_t *tmp, int tlen, uint32_t status,
		      uint32_t seq)
{
	if (tlen < (int)SMPP_HEADER_LEN || (uint32_t)tlen != get32(tmp))
		return -EINVAL;
	if ((size_t)tlen > cap)
		return -ENOSPC;
	memcpy(out, tmp, (size_t)tlen);
	put32(out + 8, status);
	put32(out + 12, seq);
	return tlen;
}

#define PACK_PLACEHOLDER_SEQ 1u

int smpp_encode_bind(uint8_t *out, size_t cap, uint32_t cmd, uint32_t seq,
		     const struct smpp_bind *b)
{
	if (!b || (cmd != SMPP_BIND_TRANSMITTER && cmd != SMPP_BIND_RECEIVER &&
		   cmd != SMPP_BIND_TRANSCEIVER))
		return -EINVAL;
	if (!str_fits(b->system_id, sizeof b->system_id, 15) ||
	    !str_fits(b->password, sizeof b->password, 8) ||
	    !str_fits(b->system_type, sizeof b->system_type, 12) ||
	    !str_fits(b->address_range.addr, sizeof b->address_range.addr, 20))
		return -EINVAL;

	/* The three bind bodies have the same layout in libsmpp34. */
	union {
		bind_transmitter_t tx;
		bind_receiver_t rx;
		bind_transceiver_t trx;
	} u;
	bind_transceiver_t *t = &u.trx;
	memset(&u, 0, sizeof u);
	t->command_id = cmd;
	t->command_status = 0;
	t->sequence_number = PACK_PLACEHOLDER_SEQ;
	memcpy(t->system_id, b->system_id, strlen(b->system_id) + 1);
	memcpy(t->password, b->password, strlen(b->password) + 1);
	memcpy(t->system_type, b->system_type, strlen(b->system_type) + 1);
	t->interface_version = b->interface_version;
	t->addr_ton = b->address_range.ton;
	t->addr_npi = b->address_range.npi;
	memcpy(t->address_range, b->address_range.addr, strlen(b->address_range.addr) + 1);

	uint8_t tmp[128];
	int tlen = 0;
	if (smpp34_pack(cmd, tmp, (int)sizeof tmp, &tlen, &u) != 0)
		return -EINVAL;
	return packed_out(out, cap, tmp, tlen, 0, seq);
}

int smpp_encode_bind_resp(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			  uint32_t seq, const char *system_id)
{
	if (!system_id)
		system_id = "";
	if (cmd != SMPP_BIND_TRANSMITTER_RESP && cmd != SMPP_BIND_RECEIVER_RESP &&
	    cmd != SMPP_BIND_TRANSCEIVER_RESP)
		return -EINVAL;
	if (strnlen(system_id, 16) > 15)
		return -EINVAL;

	union {
		bind_transmitter_resp_t tx;
		bind_receiver_resp_t rx;
		bind_transceiver_resp_t trx;
	} u;
	bind_transceiver_resp_t *t = &u.trx;
	tlv_t ver;
	memset(&u, 0, sizeof u);
	memset(&ver, 0, sizeof ver);
	t->command_id = cmd;
	t->command_status = SMPP_ESME_ROK; /* placeholder */
	t->sequence_number = PACK_PLACEHOLDER_SEQ;
	memcpy(t->system_id, system_id, strlen(system_id) + 1);
	if (status == SMPP_ESME_ROK) {
		ver.tag = SMPP_TLV_SC_INTERFACE_VERSION;
		ver.length = 1;
		ver.value.val08 = 0x34;
		ver.next = NULL;
		t->tlv = &ver;
	}
	uint8_t tmp[128];
	int tlen = 0;
	if (smpp34_pack(cmd, tmp, (int)sizeof tmp, &tlen, &u) != 0)
		return -EINVAL;
	return packed_out(out, cap, tmp, tlen, status, seq);
}

int smpp_encode_sm(uint8_t *out, size_t cap, uint32_t cmd, uint32_t seq,
		   const struct smpp_sm *sm)
{
	if (!sm || (cmd != SMPP_SUBMIT_SM && cmd != SMPP_DELIVER_SM))
		return -EINVAL;
	if (!str_fits(sm->service_type, sizeof sm->service_type, 5) ||
	    !str_fits(sm->src.addr, sizeof sm->src.addr, 20) ||
	    !str_fits(sm->dst.addr, sizeof sm->dst.addr, 20) ||
	    !str_fits(sm->schedule_delivery_time, sizeof sm->schedule_delivery_time, 16) ||
	    !str_fits(sm->validity_period, sizeof sm->validity_period, 16))
		return -EINVAL;
	size_t sl = strlen(sm->schedule_delivery_time);
	size_t vl = strlen(sm->validity_period);
	if ((sl != 0 && sl != 16) || (vl != 0 && vl != 16))
		return -EINVAL;
	if (sm->payload_len > 0 && !sm->payload)
		return -EINVAL;
	if (sm->payload_len > 0xFFFF)
		return -EINVAL;
	if (sm->has_receipted_message_id &&
	    !str_fits(sm->receipted_message_id, sizeof sm->receipted_message_id, 64))
		return -EINVAL;
	if (sm->message_state > 0xFF)
		return -EINVAL;
	bool in_tlv = sm->payload_in_tlv || sm->payload_len > 254;

	struct wr w = { out, cap, 0, false };
	wr_header(&w, cmd, 0, seq);
	wr_cstr(&w, sm->service_type);
	wr_u8(&w, sm->src.ton);
	wr_u8(&w, sm->src.npi);
	wr_cstr(&w, sm->src.addr);
	wr_u8(&w, sm->dst.ton);
	wr_u8(&w, sm->dst.npi);
	wr_cstr(&w, sm->dst.addr);
	wr_u8(&w, sm->esm_class);
	wr_u8(&w, sm->protocol_id);
	wr_u8(&w, sm->priority_flag);
	wr_cstr(&w, sm->schedule_delivery_time);
	wr_cstr(&w, sm->validity_period);
	wr_u8(&w, sm->registered_delivery);
	wr_u8(&w, sm->replace_if_present);
	wr_u8(&w, sm->data_coding);
	wr_u8(&w, sm->sm_default_msg_id);
	if (in_tlv) {
		wr_u8(&w, 0);
	} else {
		wr_u8(&w, (uint8_t)sm->payload_len);
		wr_bytes(&w, sm->payload, sm->payload_len);
	}
	if (sm->has_receipted_message_id) {
		size_t l = strlen(sm->receipted_message_id) + 1;
		wr_u16(&w, SMPP_TLV_RECEIPTED_MESSAGE_ID);
		wr_u16(&w, (uint16_t)l);
		wr_bytes(&w, sm->receipted_message_id, l);
	}
	if (sm->message_state >= 0) {
		wr_u16(&w, SMPP_TLV_MESSAGE_STATE);
		wr_u16(&w, 1);
		wr_u8(&w, (uint8_t)sm->message_state);
	}
	if (sm->has_sar) {
		wr_u16(&w, SMPP_TLV_SAR_MSG_REF_NUM);
		wr_u16(&w, 2);
		wr_u16(&w, sm->sar_msg_ref_num);
		wr_u16(&w, SMPP_TLV_SAR_TOTAL_SEGMENTS);
		wr_u16(&w, 1);
		wr_u8(&w, sm->sar_total_segments);
		wr_u16(&w, SMPP_TLV_SAR_SEGMENT_SEQNUM);
		wr_u16(&w, 1);
		wr_u8(&w, sm->sar_segment_seqnum);
	}
	if (in_tlv) {
		wr_u16(&w, SMPP_TLV_MESSAGE_PAYLOAD);
		wr_u16(&w, (uint16_t)sm->payload_len);
		wr_bytes(&w, sm->payload, sm->payload_len);
	}
	return wr_finish(&w);
}

int smpp_encode_sm_resp(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			uint32_t seq, const char *message_id)
{
	if (!message_id)
		message_id = "";
	if (!(cmd & SMPP_RESP_BIT))
		return -EINVAL;
	if (strnlen(message_id, 65) > 64)
		return -EINVAL;
	struct wr w = { out, cap, 0, false };
	wr_header(&w, cmd, status, seq);
	wr_cstr(&w, message_id);
	return wr_finish(&w);
}
