/*
 * result_msg.h — a twin.result/1 message in either of its encodings:
 * written from the doubles a run made, and read back into doubles.
 *
 * JSON (application/json) is the contract's default: `rows` is an array
 * of arrays of numbers, a value that is not finite written as null.
 * CBOR (application/cbor, RFC 8949, asked for with "encoding": "cbor") has
 * the same members, with `rows` one RFC 8746 typed array: tag 86 (float64,
 * little-endian) over a byte string holding the rows one after the other
 * (row-major), so that its length is rows × columns × 8 and the column
 * count is that of `columns`; a value that is not finite is the IEEE
 * value itself.  libcbor writes and reads the CBOR items; no number goes
 * through text.
 *
 * The writer (result_enc) is made once per run, and builds each message
 * from the rows' bytes as the sender gathers them (result_enc__row), so
 * the sender holds no parsed tree.  The reader (result_msg__decode) takes
 * a payload from the broker, hostile or not: whatever it holds, the
 * answer is a message or a sentence saying what is wrong with it.
 */
#ifndef TWIN_RESULT_MSG_H
#define TWIN_RESULT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define RESULT_CONTENT_JSON "application/json"
#define RESULT_CONTENT_CBOR "application/cbor"
/* The RFC 8746 tag of a typed array of float64, little-endian. */
#define RESULT_TAG_F64LE 86

/* ---- writing ------------------------------------------------------------ */

typedef struct result_enc {
    int cbor;
    size_t n_cols;
    unsigned char *head;   /* the bytes before the seq */
    size_t head_len;
    unsigned char *mid;    /* the bytes between the seq and the rows */
    size_t mid_len;
} result_enc;

/* The fixed parts of a run's result messages.  Returns 0, or -1 when out
 * of memory (e is then empty). */
int result_enc__init(result_enc *e, int cbor, const char *run_id,
                     const json_t *columns);
void result_enc__free(result_enc *e);

/* The most bytes one row takes (JSON: every value's text, commas and
 * brackets; CBOR: 8 per value). */
size_t result_enc__row_max(const result_enc *e);

/* Append one row of e->n_cols values at w (room for result_enc__row_max);
 * first: it is the message's first row.  Returns the bytes written. */
size_t result_enc__row(const result_enc *e, char *w, int first,
                       const double *values);

/* A whole message of seq with the rows' bytes (as result_enc__row wrote
 * them), NUL-terminated (the NUL not counted in *len), or NULL when out
 * of memory. */
char *result_enc__message(const result_enc *e, int64_t seq,
                          const char *rows, size_t rows_len, size_t *len);

/* The most bytes a message takes beside its rows (a seq of up to 20
 * digits, the rows' framing). */
size_t result_enc__overhead(const result_enc *e);

/* ---- reading ------------------------------------------------------------ */

typedef struct result_msg {
    char *run;             /* NULL when the message has none */
    int64_t seq;
    json_t *columns;       /* array of names; NULL when the message has
                            * none (JSON only; CBOR needs them) */
    size_t n_cols;         /* values per row */
    size_t n_rows;
    double *values;        /* n_rows × n_cols, row-major; non-finite
                            * values as sent (JSON null: NaN) */
} result_msg;

/* Is this MQTT content type CBOR? (NULL, absent: JSON, as every older
 * controller sends.) */
int result_msg__is_cbor(const char *content_type);

/* Read a payload of len bytes (cbor: in CBOR, else JSON) into m.
 * Returns 0, or -1 with a sentence in why (m is then empty). */
int result_msg__decode(const char *payload, size_t len, int cbor,
                       result_msg *m, char *why, size_t why_len);

/* The same for a JSON message parsed already (with
 * JSON_DECODE_INT_AS_REAL or without). */
int result_msg__from_json(const json_t *msg, result_msg *m, char *why,
                          size_t why_len);

void result_msg__clear(result_msg *m);

/* The message m again in the other encoding (or the same): for replay
 * of a journal in the encoding a request asks for.  NULL when out of
 * memory. */
char *result_msg__encode(const result_msg *m, int cbor, size_t *len);

#endif
