/* ack.h — which acknowledged deliver_sm the SMSC may redeliver (private to
 * the engine; see ack.c). */
#ifndef ENGINE_ACK_H
#define ENGINE_ACK_H

#include <stddef.h>
#include <stdint.h>

struct eng_ack;

/* Marks: 0 = not watched (nothing committed, or out of memory). */

/* `run` numbers this engine process (engine_ack.run). */
struct eng_ack *eng__ack_new(uint32_t run);
void eng__ack_free(struct eng_ack *a);

/* The fingerprint of an MO: what a redelivery repeats byte for byte. */
uint64_t eng__ack_fp(const char *src, const char *dst, unsigned dcs, unsigned esm,
		     const uint8_t *payload, size_t len);

/* A new mark for `n` MOs whose effect is about to be committed; the rows
 * carry it (ack_mark). Every one of the n must end with eng__ack_done,
 * eng__ack_sent or eng__ack_unsent. */
uint64_t eng__ack_mark(struct eng_ack *a, int n);
/* One MO of `mark` needs no watching: answered with an error, nothing
 * committed. */
void eng__ack_done(struct eng_ack *a, uint64_t mark);
/* One MO of `mark` (fingerprint fp) was committed and answered ESME_ROK on
 * `link` with response ordinal `ord` (smpp_esme_respond_ord). */
void eng__ack_sent(struct eng_ack *a, uint64_t mark, uint64_t fp, int link, uint64_t ord);
/* Committed, but its ESME_ROK could not be written (link gone): the SMSC
 * will redeliver it. A suspect is stored (ack_suspect) before its mark
 * settles: see eng__ack_take_changes. */
void eng__ack_unsent(struct eng_ack *a, uint64_t mark, uint64_t fp, int64_t now_us);
/* smpp_esme on_confirmed. */
void eng__ack_confirmed(struct eng_ack *a, int link, uint64_t upto, int lost, int64_t now_us);
/* An MO arrived: is it the redelivery of a committed one? 1 (and *mark set
 * to a fresh mark: answer ESME_ROK through eng__ack_respond with it) or 0.
 * The stored suspect is forgotten once that answer settles (confirmed, or
 * itself lost and stored again). */
int eng__ack_match(struct eng_ack *a, uint64_t fp, uint64_t *mark);
/* A stored suspect (ack_suspect) loaded at start-up. */
void eng__ack_add_stored(struct eng_ack *a, uint64_t fp, int64_t expires_us);

/* Suspects to store and stored ones to forget since the last call, handed
 * to the caller (free() the arrays); the marks of the new suspects settle
 * once eng__ack_stored() says they are committed. */
struct eng_ack_suspect {
	uint64_t mark, fp;
	int64_t expires_us;
};
void eng__ack_take_changes(struct eng_ack *a, struct eng_ack_suspect **add, size_t *nadd,
			   uint64_t **forget, size_t *nforget);
/* The store of `add` committed (ok = 1: their marks settle) or failed
 * (ok = 0: they are kept for the next call). Takes `add` back. */
void eng__ack_stored(struct eng_ack *a, struct eng_ack_suspect *add, size_t nadd,
		     uint64_t *forget, size_t nforget, int ok);
/* Forget suspects whose redelivery window ended. */
void eng__ack_expire(struct eng_ack *a, int64_t now_us);
void eng__ack_set_window(struct eng_ack *a, int64_t window_us);

struct smpp_esme;
/* Answer a deliver_sm and watch the answer: ESME_ROK for an MO of `mark`
 * whose effect is committed -> sent / unsent; any other status -> done. */
void eng__ack_respond(struct eng_ack *a, struct smpp_esme *e, uint64_t token, uint32_t status,
		      uint64_t mark, uint64_t fp, int64_t now_us);

/* Every committed MO with ack_mark <= this was answered and its answer
 * read by the SMSC, or needs no watching. */
uint64_t eng__ack_watermark(const struct eng_ack *a);
size_t eng__ack_suspects(const struct eng_ack *a);
uint64_t eng__ack_matched(const struct eng_ack *a);

#endif
