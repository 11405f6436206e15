/* smpp_gw/pdu.h — SMPP 3.4 PDUs: framing, decoding, encoding.
 *
 * Decoding is our own code and reads only what the peer sent: every length
 * is checked before it is used, every C-octet string is bounded, TLVs are
 * walked with their declared lengths. A peer-controlled PDU is never handed to
 * libsmpp34's unpacker (which overruns a global trace buffer on TLV-heavy PDUs,
 * refuses sequence_number 0 and leaks on failure). Encoding: bind_* and
 * bind_*_resp bodies are packed by libsmpp34 (its bytes match Net::SMPP for
 * them) behind a placeholder header; pdu.c writes the real command_status
 * and sequence_number afterwards, since the packer refuses sequence 0 and
 * statuses outside its table. Header-only PDUs, submit_sm / deliver_sm and the
 * message_id responses are encoded by pdu.c itself: libsmpp34 refuses
 * sm_length 254, caps TLVs at 1024 octets (message_payload), packs only empty
 * times in deliver_sm and drops the NUL of an empty message_id.
 *
 * Error convention: 0 or a positive length on success; a negative value is
 * the negated SMPP command_status that describes the problem
 * (-SMPP_ESME_RINVCMDLEN, -SMPP_ESME_RINVMSGLEN, ...), or -ENOSPC when an
 * output buffer is too small.
 */
#ifndef SMPP_GW_PDU_H
#define SMPP_GW_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMPP_HEADER_LEN 16u
/* Largest command_length we accept. A deliver_sm/submit_sm with a 254-octet
 * short_message and all usual TLVs is far below 1 KiB; message_payload may
 * carry up to 64 KiB in theory, but the engine never needs more than a long
 * concatenated text, so 8 KiB is the documented cap. Anything larger is a
 * framing error: the connection is closed, nothing is allocated. */
#define SMPP_MAX_PDU_LEN 8192u

/* command_id */
enum smpp_cmd {
	SMPP_GENERIC_NACK = 0x80000000u,
	SMPP_BIND_RECEIVER = 0x00000001u,
	SMPP_BIND_RECEIVER_RESP = 0x80000001u,
	SMPP_BIND_TRANSMITTER = 0x00000002u,
	SMPP_BIND_TRANSMITTER_RESP = 0x80000002u,
	SMPP_QUERY_SM = 0x00000003u,
	SMPP_QUERY_SM_RESP = 0x80000003u,
	SMPP_SUBMIT_SM = 0x00000004u,
	SMPP_SUBMIT_SM_RESP = 0x80000004u,
	SMPP_DELIVER_SM = 0x00000005u,
	SMPP_DELIVER_SM_RESP = 0x80000005u,
	SMPP_UNBIND = 0x00000006u,
	SMPP_UNBIND_RESP = 0x80000006u,
	SMPP_REPLACE_SM = 0x00000007u,
	SMPP_REPLACE_SM_RESP = 0x80000007u,
	SMPP_CANCEL_SM = 0x00000008u,
	SMPP_CANCEL_SM_RESP = 0x80000008u,
	SMPP_BIND_TRANSCEIVER = 0x00000009u,
	SMPP_BIND_TRANSCEIVER_RESP = 0x80000009u,
	SMPP_OUTBIND = 0x0000000Bu,
	SMPP_ENQUIRE_LINK = 0x00000015u,
	SMPP_ENQUIRE_LINK_RESP = 0x80000015u,
	SMPP_SUBMIT_MULTI = 0x00000021u,
	SMPP_SUBMIT_MULTI_RESP = 0x80000021u,
	SMPP_ALERT_NOTIFICATION = 0x00000102u,
	SMPP_DATA_SM = 0x00000103u,
	SMPP_DATA_SM_RESP = 0x80000103u,
};
#define SMPP_RESP_BIT 0x80000000u

/* command_status values we use */
enum smpp_status {
	SMPP_ESME_ROK = 0x00,
	SMPP_ESME_RINVMSGLEN = 0x01,
	SMPP_ESME_RINVCMDLEN = 0x02,
	SMPP_ESME_RINVCMDID = 0x03,
	SMPP_ESME_RINVBNDSTS = 0x04,
	SMPP_ESME_RALYBND = 0x05,
	SMPP_ESME_RSYSERR = 0x08,
	SMPP_ESME_RINVSRCADR = 0x0A,
	SMPP_ESME_RINVDSTADR = 0x0B,
	SMPP_ESME_RINVMSGID = 0x0C,
	SMPP_ESME_RBINDFAIL = 0x0D,
	SMPP_ESME_RINVPASWD = 0x0E,
	SMPP_ESME_RINVSYSID = 0x0F,
	SMPP_ESME_RMSGQFUL = 0x14,
	SMPP_ESME_RINVSERTYP = 0x15,
	SMPP_ESME_RINVESMCLASS = 0x43,
	SMPP_ESME_RSUBMITFAIL = 0x45,
	SMPP_ESME_RINVSYSTYP = 0x53,
	SMPP_ESME_RTHROTTLED = 0x58,
	SMPP_ESME_RINVSCHED = 0x61,
	SMPP_ESME_RINVEXPIRY = 0x62,
	SMPP_ESME_RX_T_APPN = 0x64,
	SMPP_ESME_RX_P_APPN = 0x65,
	SMPP_ESME_RX_R_APPN = 0x66,
	SMPP_ESME_RINVOPTPARSTREAM = 0xC0,
	SMPP_ESME_ROPTPARNOTALLWD = 0xC1,
	SMPP_ESME_RINVPARLEN = 0xC2,
	SMPP_ESME_RMISSINGOPTPARAM = 0xC3,
	SMPP_ESME_RINVOPTPARAMVAL = 0xC4,
	SMPP_ESME_RUNKNOWNERR = 0xFF,
};

/* Name tables for logs: "deliver_sm", "ESME_RTHROTTLED"; unknown values give
 * "unknown". */
const char *smpp_cmd_name(uint32_t cmd);
const char *smpp_status_name(uint32_t status);

/* esm_class bits */
#define SMPP_ESM_UDHI 0x40u           /* short_message starts with a UDH */
#define SMPP_ESM_TYPE_MASK 0x3Cu
#define SMPP_ESM_RECEIPT 0x04u        /* SMSC delivery receipt */

/* TLV tags we read or write */
enum smpp_tlv_tag {
	SMPP_TLV_SAR_MSG_REF_NUM = 0x020C,
	SMPP_TLV_SAR_TOTAL_SEGMENTS = 0x020E,
	SMPP_TLV_SAR_SEGMENT_SEQNUM = 0x020F,
	SMPP_TLV_RECEIPTED_MESSAGE_ID = 0x001E,
	SMPP_TLV_MESSAGE_STATE = 0x0427,
	SMPP_TLV_MESSAGE_PAYLOAD = 0x0424,
	SMPP_TLV_SC_INTERFACE_VERSION = 0x0210,
};

/* message_state values (receipts) */
enum smpp_msg_state {
	SMPP_STATE_ENROUTE = 1,
	SMPP_STATE_DELIVERED = 2,
	SMPP_STATE_EXPIRED = 3,
	SMPP_STATE_DELETED = 4,
	SMPP_STATE_UNDELIVERABLE = 5,
	SMPP_STATE_ACCEPTED = 6,
	SMPP_STATE_UNKNOWN = 7,
	SMPP_STATE_REJECTED = 8,
};

struct smpp_hdr {
	uint32_t len;    /* command_length */
	uint32_t id;     /* command_id */
	uint32_t status; /* command_status */
	uint32_t seq;    /* sequence_number (0 is legal on the wire) */
};

/* Read the 16-octet header at `buf` (n >= 16). Returns 0, or
 * -SMPP_ESME_RINVCMDLEN when command_length < 16 or > SMPP_MAX_PDU_LEN. */
int smpp_hdr_parse(const uint8_t *buf, size_t n, struct smpp_hdr *h);

/* Stream framer: bytes in, whole PDUs out. Survives partial reads and many
 * PDUs in one read; never allocates more than SMPP_MAX_PDU_LEN + one read. */
struct smpp_framer {
	uint8_t *buf;
	size_t len;  /* bytes held */
	size_t off;  /* bytes already handed out */
	size_t cap;
};
void smpp_framer_init(struct smpp_framer *f);
void smpp_framer_free(struct smpp_framer *f);
/* Append bytes. 0, or -ENOMEM (also when SMPP_MAX_PDU_LEN octets are
 * already held: call next() until it returns 0 before feeding again). */
int smpp_framer_feed(struct smpp_framer *f, const uint8_t *data, size_t n);
/* Next whole PDU: returns 1 and sets *pdu and *h (the PDU is valid until the next
 * call to feed or next), 0 when more bytes are needed, or
 * -SMPP_ESME_RINVCMDLEN when the stream carries an impossible command_length
 * (the caller closes the connection). */
int smpp_framer_next(struct smpp_framer *f, const uint8_t **pdu, struct smpp_hdr *h);

/* An SMPP address */
struct smpp_addr {
	uint8_t ton;
	uint8_t npi;
	char addr[21]; /* C-octet string, at most 20 characters */
};

/* The body of deliver_sm / submit_sm (same layout), decoded. `payload`
 * points into the PDU buffer it was decoded from (short_message, or the
 * message_payload TLV when sm_length is 0). */
struct smpp_sm {
	char service_type[6];
	struct smpp_addr src;
	struct smpp_addr dst;
	uint8_t esm_class;
	uint8_t protocol_id;
	uint8_t priority_flag;
	char schedule_delivery_time[17];
	char validity_period[17];
	uint8_t registered_delivery;
	uint8_t replace_if_present;
	uint8_t data_coding;
	uint8_t sm_default_msg_id;
	const uint8_t *payload;
	size_t payload_len;
	bool payload_in_tlv;            /* came in / goes out as message_payload */
	/* selected optional parameters */
	bool has_receipted_message_id;
	char receipted_message_id[65];
	int message_state;              /* -1 when absent */
	bool has_sar;
	uint16_t sar_msg_ref_num;
	uint8_t sar_total_segments;
	uint8_t sar_segment_seqnum;
	unsigned tlv_count;             /* all TLVs seen, known or not */
};

/* Decode a whole deliver_sm or submit_sm PDU (header included, as handed out
 * by the framer). Unknown TLVs are skipped; a TLV that runs past the end, a
 * C-octet string without its NUL within its maximum size, or sm_length past
 * the end is an error (-SMPP_ESME_RINVMSGLEN / -SMPP_ESME_RINVOPTPARSTREAM /
 * -SMPP_ESME_RINVSRCADR ...). In detail: command_length != len or a body
 * that ends inside the mandatory fields -> RINVCMDLEN; a C-octet string
 * without its NUL within its maximum size -> RINVSERTYP / RINVSRCADR /
 * RINVDSTADR / RINVSCHED / RINVEXPIRY (times must be empty or 16 chars);
 * sm_length past the end -> RINVMSGLEN; a TLV header or value past the end
 * -> RINVOPTPARSTREAM; a known TLV of the wrong length -> RINVPARLEN;
 * message_payload together with short_message (or twice) -> ROPTPARNOTALLWD.
 * SAR TLVs, when present, set has_sar (and are written by smpp_encode_sm when
 * has_sar is set). */
int smpp_decode_sm(const uint8_t *pdu, size_t len, struct smpp_sm *sm);

struct smpp_bind {
	char system_id[16];
	char password[9];
	char system_type[13];
	uint8_t interface_version;
	struct smpp_addr address_range; /* addr up to 40 characters is truncated
	                                   to 20: we never route by it */
};
/* Decode bind_transmitter / bind_receiver / bind_transceiver. */
int smpp_decode_bind(const uint8_t *pdu, size_t len, struct smpp_bind *b);

/* Decode the C-octet string that starts the body of a response
 * (submit_sm_resp message_id, bind_*_resp system_id). An empty body (legal
 * for error responses) gives "". Returns 0 or negative. */
int smpp_decode_resp_id(const uint8_t *pdu, size_t len, char *id, size_t idsz);

/* Encoders: write a whole PDU (header included) into `out` (cap bytes);
 * return its length, or negative (-ENOSPC, -EINVAL for a field too long). */
int smpp_encode_header_only(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			    uint32_t seq);
/* bind_*: -EINVAL also for interface_version != 0x34 or a TON/NPI outside the
 * SMPP 3.4 tables (libsmpp34's packer refuses them; we only bind as 3.4). */
int smpp_encode_bind(uint8_t *out, size_t cap, uint32_t cmd, uint32_t seq,
		     const struct smpp_bind *b);
/* bind_*_resp with system_id (and sc_interface_version 0x34 when status 0). */
int smpp_encode_bind_resp(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			  uint32_t seq, const char *system_id);
/* submit_sm or deliver_sm: payload of at most 254 octets goes in
 * short_message unless payload_in_tlv; longer goes in message_payload.
 * receipted_message_id / message_state are written when set. */
int smpp_encode_sm(uint8_t *out, size_t cap, uint32_t cmd, uint32_t seq,
		   const struct smpp_sm *sm);
/* submit_sm_resp / deliver_sm_resp / data_sm_resp with a message_id
 * ("" for deliver_sm_resp). */
int smpp_encode_sm_resp(uint8_t *out, size_t cap, uint32_t cmd, uint32_t status,
			uint32_t seq, const char *message_id);

/* Fill `sm` with the defaults of an outgoing message (all zero, empty
 * strings, message_state -1). */
void smpp_sm_init(struct smpp_sm *sm);

#endif
