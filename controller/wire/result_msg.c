/*
 * result_msg.c — twin.result/1 messages in JSON and CBOR, written from
 * doubles and read back into them (see result_msg.h).
 *
 * The CBOR side uses libcbor's encoders for every item head and its
 * streaming decoder (cbor_stream_decode) to read: one item head at a
 * time, straight from the payload, with no tree built and nothing
 * allocated that the payload's own length does not bound.  Members this
 * reader does not know are skipped whatever they hold, to a nesting depth
 * of MAX_DEPTH.
 */
#include "result_msg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "csv.h"

/* The longest a value of a JSON row is written:
 * "-2.2250738585072014e-308". */
#define VALUE_MAX 24
#define MAX_DEPTH 64

static void fail(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *why, size_t len, const char *fmt, ...)
{
    if (why == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* ---- writing ------------------------------------------------------------ */

/* A growing byte buffer for the fixed parts. */
typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    int failed;
} bytes;

static unsigned char *room(bytes *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put(bytes *b, const void *data, size_t n)
{
    unsigned char *w = room(b, n);
    if (w != NULL) {
        memcpy(w, data, n);
        b->len += n;
    }
}

/* A CBOR text string: its head (libcbor) and its bytes. */
static void put_text(bytes *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char *w = room(b, 9);
    if (w != NULL)
        b->len += cbor_encode_string_start(n, w, 9);
    put(b, s, n);
}

static void put_head(bytes *b, size_t (*enc)(size_t, unsigned char *, size_t),
                     size_t value)
{
    unsigned char *w = room(b, 9);
    if (w != NULL)
        b->len += enc(value, w, 9);
}

static int init_cbor(result_enc *e, const char *run_id,
                     const json_t *columns)
{
    bytes h = {0}, m = {0};
    put_head(&h, cbor_encode_map_start, 5);
    put_text(&h, "contract");
    put_text(&h, "twin.result/1");
    put_text(&h, "run");
    put_text(&h, run_id);
    put_text(&h, "seq");
    put_text(&m, "columns");
    put_head(&m, cbor_encode_array_start, json_array_size(columns));
    for (size_t i = 0; i < json_array_size(columns); i++) {
        const char *name = json_string_value(json_array_get(columns, i));
        put_text(&m, name ? name : "");
    }
    put_text(&m, "rows");
    unsigned char *w = room(&m, 9);
    if (w != NULL)
        m.len += cbor_encode_tag(RESULT_TAG_F64LE, w, 9);
    if (h.failed || m.failed) {
        free(h.p);
        free(m.p);
        return -1;
    }
    e->head = h.p;
    e->head_len = h.len;
    e->mid = m.p;
    e->mid_len = m.len;
    return 0;
}

static int init_json(result_enc *e, const char *run_id,
                     const json_t *columns)
{
    json_t *id = json_string(run_id);
    char *id_text = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
    char *cols = json_dumps(columns, JSON_COMPACT);
    char *head = NULL, *mid = NULL;
    json_decref(id);
    if (id_text && cols &&
        asprintf(&head, "{\"contract\":\"twin.result/1\",\"run\":%s,"
                 "\"seq\":", id_text) < 0)
        head = NULL;
    if (cols && asprintf(&mid, ",\"columns\":%s,\"rows\":[", cols) < 0)
        mid = NULL;
    free(id_text);
    free(cols);
    if (head == NULL || mid == NULL) {
        free(head);
        free(mid);
        return -1;
    }
    e->head = (unsigned char *)head;
    e->head_len = strlen(head);
    e->mid = (unsigned char *)mid;
    e->mid_len = strlen(mid);
    return 0;
}

int result_enc__init(result_enc *e, int cbor, const char *run_id,
                     const json_t *columns)
{
    memset(e, 0, sizeof *e);
    e->cbor = cbor != 0;
    e->n_cols = json_array_size(columns);
    return cbor ? init_cbor(e, run_id, columns)
                : init_json(e, run_id, columns);
}

void result_enc__free(result_enc *e)
{
    free(e->head);
    free(e->mid);
    e->head = e->mid = NULL;
}

size_t result_enc__row_max(const result_enc *e)
{
    /* JSON: ",[" v "," v … "]" */
    return e->cbor ? e->n_cols * 8 : e->n_cols * (VALUE_MAX + 1) + 2;
}

size_t result_enc__overhead(const result_enc *e)
{
    /* CBOR: the seq's head and the byte string's; JSON: 20 digits, "]}". */
    return e->head_len + e->mid_len + (e->cbor ? 18 : 22);
}

/* A double as 8 bytes, little-endian, whatever this machine's order. */
static void put_f64le(char *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    u = __builtin_bswap64(u);
#endif
    memcpy(w, &u, 8);
}

static double get_f64le(const unsigned char *p)
{
    uint64_t u;
    double v;
    memcpy(&u, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    u = __builtin_bswap64(u);
#endif
    memcpy(&v, &u, 8);
    return v;
}

size_t result_enc__row(const result_enc *e, char *w, int first,
                       const double *values)
{
    size_t n = e->n_cols;
    if (e->cbor) {
        for (size_t i = 0; i < n; i++)
            put_f64le(w + 8 * i, values[i]);
        return n * 8;
    }
    char *start = w;
    if (!first)
        *w++ = ',';
    *w++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            *w++ = ',';
        if (isfinite(values[i])) {
            w += csv__number(w, VALUE_MAX + 2, values[i]);
        } else {
            memcpy(w, "null", 4);
            w += 4;
        }
    }
    *w++ = ']';
    return (size_t)(w - start);
}

char *result_enc__message(const result_enc *e, int64_t seq,
                          const char *rows, size_t rows_len, size_t *len)
{
    unsigned char seq_part[32], rows_head[16];
    size_t seq_len, head_len;
    if (e->cbor) {
        seq_len = cbor_encode_uint((uint64_t)seq, seq_part, sizeof seq_part);
        head_len = cbor_encode_bytestring_start(rows_len, rows_head,
                                                sizeof rows_head);
    } else {
        seq_len = (size_t)snprintf((char *)seq_part, sizeof seq_part, "%lld",
                                   (long long)seq);
        head_len = 0;
    }
    size_t tail = e->cbor ? 0 : 2;
    size_t n = e->head_len + seq_len + e->mid_len + head_len + rows_len +
               tail;
    char *msg = malloc(n + 1);
    if (msg == NULL)
        return NULL;
    char *w = msg;
    memcpy(w, e->head, e->head_len);
    w += e->head_len;
    memcpy(w, seq_part, seq_len);
    w += seq_len;
    memcpy(w, e->mid, e->mid_len);
    w += e->mid_len;
    memcpy(w, rows_head, head_len);
    w += head_len;
    if (rows_len)
        memcpy(w, rows, rows_len);
    w += rows_len;
    if (!e->cbor) {
        *w++ = ']';
        *w++ = '}';
    }
    *w = '\0';
    *len = n;
    return msg;
}

char *result_msg__encode(const result_msg *m, int cbor, size_t *len)
{
    result_enc e;
    json_t *cols = m->columns ? json_incref(m->columns) : json_array();
    char *rows = NULL, *msg = NULL;
    if (cols == NULL ||
        result_enc__init(&e, cbor, m->run ? m->run : "", cols) != 0) {
        json_decref(cols);
        return NULL;
    }
    e.n_cols = m->n_cols;
    size_t used = 0;
    rows = malloc(m->n_rows * result_enc__row_max(&e) + 1);
    if (rows != NULL) {
        for (size_t i = 0; i < m->n_rows; i++)
            used += result_enc__row(&e, rows + used, i == 0,
                                    m->values + i * m->n_cols);
        msg = result_enc__message(&e, m->seq, rows, used, len);
    }
    free(rows);
    result_enc__free(&e);
    json_decref(cols);
    return msg;
}

/* ---- reading ------------------------------------------------------------ */

int result_msg__is_cbor(const char *content_type)
{
    return content_type != NULL &&
           strcmp(content_type, RESULT_CONTENT_CBOR) == 0;
}

void result_msg__clear(result_msg *m)
{
    free(m->run);
    json_decref(m->columns);
    free(m->values);
    memset(m, 0, sizeof *m);
}

int result_msg__from_json(const json_t *msg, result_msg *m, char *why,
                          size_t why_len)
{
    memset(m, 0, sizeof *m);
    const json_t *seqv = json_object_get(msg, "seq");
    double seqd = json_number_value(seqv);
    if (!json_is_number(seqv) || seqd < 0 || seqd != floor(seqd) ||
        seqd > 1e12) {
        fail(why, why_len, "a message that is not a twin.result/1 with a "
             "seq");
        return -1;
    }
    m->seq = (int64_t)seqd;
    const json_t *cols = json_object_get(msg, "columns");
    const json_t *rows = json_object_get(msg, "rows");
    const char *run = json_string_value(json_object_get(msg, "run"));
    if (!json_is_array(rows)) {
        fail(why, why_len, "result seq %lld has no \"rows\"",
             (long long)m->seq);
        return -1;
    }
    if (json_is_array(cols) && json_array_size(cols) > 0)
        m->columns = json_incref((json_t *)cols);
    m->n_cols = m->columns ? json_array_size(cols)
                           : json_array_size(json_array_get(rows, 0));
    m->n_rows = json_array_size(rows);
    /* Every row checked before the values are allocated, so that what is
     * allocated is what the message holds. */
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r) {
        if (!json_is_array(r) || json_array_size(r) != m->n_cols ||
            m->n_cols == 0) {
            fail(why, why_len, "result seq %lld, row %zu %s %zu values for "
                 "%zu columns", (long long)m->seq, i,
                 json_is_array(r) ? "has" : "is no array of",
                 json_array_size(r), m->n_cols);
            goto bad;
        }
        for (size_t k = 0; k < m->n_cols; k++) {
            const json_t *v = json_array_get(r, k);
            if (!json_is_number(v) && !json_is_null(v)) {
                fail(why, why_len, "result seq %lld, row %zu, column %zu "
                     "is neither a number nor null", (long long)m->seq, i,
                     k);
                goto bad;
            }
        }
    }
    if ((run && (m->run = strdup(run)) == NULL) ||
        (m->values = malloc((m->n_rows * m->n_cols + 1) *
                            sizeof *m->values)) == NULL) {
        fail(why, why_len, "out of memory reading result seq %lld",
             (long long)m->seq);
        goto bad;
    }
    json_array_foreach(rows, i, r) {
        for (size_t k = 0; k < m->n_cols; k++) {
            const json_t *v = json_array_get(r, k);
            /* null: not finite, a nonfinite event says */
            m->values[i * m->n_cols + k] =
                json_is_number(v) ? json_number_value(v) : NAN;
        }
    }
    return 0;
bad:
    result_msg__clear(m);
    return -1;
}

/* One CBOR item head, as cbor_stream_decode reports it. */
enum kind {
    K_NONE, K_UINT, K_NEGINT, K_BYTES, K_TEXT, K_ARRAY, K_MAP, K_TAG,
    K_FLOAT, K_SIMPLE, K_INDEF, K_BREAK
};

typedef struct item {
    enum kind kind;
    uint64_t value;                /* integer, length, tag */
    const unsigned char *data;     /* definite strings: their bytes */
} item;

typedef struct reader {
    const unsigned char *p;
    size_t len, at;
    char *why;
    size_t why_len;
} reader;

static void on_u8(void *c, uint8_t v) { *(item *)c = (item){K_UINT, v, 0}; }
static void on_u16(void *c, uint16_t v) { *(item *)c = (item){K_UINT, v, 0}; }
static void on_u32(void *c, uint32_t v) { *(item *)c = (item){K_UINT, v, 0}; }
static void on_u64(void *c, uint64_t v) { *(item *)c = (item){K_UINT, v, 0}; }
static void on_n8(void *c, uint8_t v) { *(item *)c = (item){K_NEGINT, v, 0}; }
static void on_n16(void *c, uint16_t v)
{
    *(item *)c = (item){K_NEGINT, v, 0};
}
static void on_n32(void *c, uint32_t v)
{
    *(item *)c = (item){K_NEGINT, v, 0};
}
static void on_n64(void *c, uint64_t v)
{
    *(item *)c = (item){K_NEGINT, v, 0};
}
static void on_bytes(void *c, cbor_data d, size_t n)
{
    *(item *)c = (item){K_BYTES, n, d};
}
static void on_text(void *c, cbor_data d, size_t n)
{
    *(item *)c = (item){K_TEXT, n, d};
}
static void on_array(void *c, size_t n) { *(item *)c = (item){K_ARRAY, n, 0}; }
static void on_map(void *c, size_t n) { *(item *)c = (item){K_MAP, n, 0}; }
static void on_tag(void *c, uint64_t v) { *(item *)c = (item){K_TAG, v, 0}; }
static void on_indef(void *c) { *(item *)c = (item){K_INDEF, 0, 0}; }
static void on_break(void *c) { *(item *)c = (item){K_BREAK, 0, 0}; }
static void on_simple(void *c) { *(item *)c = (item){K_SIMPLE, 0, 0}; }
static void on_bool(void *c, bool b) { *(item *)c = (item){K_SIMPLE, b, 0}; }
static void on_float(void *c, float f) { *(item *)c = (item){K_FLOAT, 0, 0}; }
static void on_double(void *c, double f)
{
    *(item *)c = (item){K_FLOAT, 0, 0};
}

static const struct cbor_callbacks callbacks = {
    .uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
    .negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32,
    .negint64 = on_n64, .byte_string_start = on_indef,
    .byte_string = on_bytes, .string = on_text, .string_start = on_indef,
    .indef_array_start = on_indef, .array_start = on_array,
    .indef_map_start = on_indef, .map_start = on_map, .tag = on_tag,
    .float2 = on_float, .float4 = on_float, .float8 = on_double,
    .undefined = on_simple, .null = on_simple, .boolean = on_bool,
    .indef_break = on_break,
};

/* The next item head: 0, or -1 with why set. */
static int next(reader *rd, item *it)
{
    *it = (item){K_NONE, 0, 0};
    if (rd->at >= rd->len) {
        fail(rd->why, rd->why_len, "the CBOR message ends early (at byte "
             "%zu)", rd->at);
        return -1;
    }
    struct cbor_decoder_result r =
        cbor_stream_decode(rd->p + rd->at, rd->len - rd->at, &callbacks, it);
    if (r.status != CBOR_DECODER_FINISHED || it->kind == K_NONE) {
        fail(rd->why, rd->why_len, r.status == CBOR_DECODER_NEDATA
                 ? "the CBOR message ends early (at byte %zu)"
                 : "the CBOR message is malformed at byte %zu", rd->at);
        return -1;
    }
    rd->at += r.read;
    return 0;
}

/* Skip one whole item (a member this reader does not know). */
static int skip(reader *rd)
{
    const uint64_t indef = UINT64_MAX;
    uint64_t stack[MAX_DEPTH], left = 1;
    int depth = 0;
    for (;;) {
        while (left == 0) {
            if (depth == 0)
                return 0;
            left = stack[--depth];
        }
        item it;
        if (next(rd, &it) != 0)
            return -1;
        if (it.kind == K_BREAK) {
            if (left != indef)
                break;
            left = 0;
            continue;
        }
        if (left != indef)
            left--;
        uint64_t inner = it.kind == K_ARRAY ? it.value
                         : it.kind == K_MAP ? it.value * 2
                         : it.kind == K_TAG ? 1
                         : it.kind == K_INDEF ? indef : 0;
        /* Every item takes a byte at least. */
        if ((it.kind == K_ARRAY || it.kind == K_MAP) &&
            it.value > rd->len - rd->at)
            break;
        if (inner == 0)
            continue;
        if (depth == MAX_DEPTH) {
            fail(rd->why, rd->why_len, "the CBOR message nests deeper than "
                 "%d levels at byte %zu", MAX_DEPTH, rd->at);
            return -1;
        }
        stack[depth++] = left;
        left = inner;
    }
    fail(rd->why, rd->why_len, "the CBOR message is malformed at byte %zu",
         rd->at);
    return -1;
}

static int key_is(const item *k, const char *name)
{
    return k->value == strlen(name) && memcmp(k->data, name, k->value) == 0;
}

static int read_columns(reader *rd, result_msg *m)
{
    item it;
    if (next(rd, &it) != 0)
        return -1;
    if (it.kind != K_ARRAY || it.value == 0 || it.value > rd->len - rd->at) {
        fail(rd->why, rd->why_len, "\"columns\" is not a non-empty array of "
             "a definite length");
        return -1;
    }
    json_decref(m->columns);
    if ((m->columns = json_array()) == NULL)
        return -1;
    for (uint64_t i = 0; i < it.value; i++) {
        item name;
        if (next(rd, &name) != 0)
            return -1;
        /* No NUL: JSON (as jansson reads it) and C strings have none. */
        json_t *s = name.kind == K_TEXT &&
                            memchr(name.data, 0, (size_t)name.value) == NULL
                        ? json_stringn((const char *)name.data, name.value)
                        : NULL;
        if (s == NULL || json_array_append_new(m->columns, s) != 0) {
            fail(rd->why, rd->why_len, "\"columns\" %llu is not a text "
                 "string of UTF-8 without NUL", (unsigned long long)i);
            return -1;
        }
    }
    m->n_cols = (size_t)it.value;
    return 0;
}

static int read_rows(reader *rd, const unsigned char **data, size_t *len)
{
    item it;
    if (next(rd, &it) != 0)
        return -1;
    if (it.kind != K_TAG || it.value != RESULT_TAG_F64LE) {
        fail(rd->why, rd->why_len, "\"rows\" is not a typed array of "
             "float64, little-endian (RFC 8746 tag %d)", RESULT_TAG_F64LE);
        return -1;
    }
    if (next(rd, &it) != 0)
        return -1;
    if (it.kind != K_BYTES) {
        fail(rd->why, rd->why_len, "\"rows\" (tag %d) holds no byte string "
             "of a definite length", RESULT_TAG_F64LE);
        return -1;
    }
    *data = it.data;
    *len = (size_t)it.value;
    return 0;
}

static int decode_cbor(reader *rd, result_msg *m)
{
    item map, k, v;
    const unsigned char *rows = NULL;
    size_t rows_len = 0;
    int have_seq = 0;
    if (next(rd, &map) != 0)
        return -1;
    if (map.kind != K_MAP) {
        fail(rd->why, rd->why_len, "the CBOR message is not a map");
        return -1;
    }
    for (uint64_t i = 0; i < map.value; i++) {
        if (next(rd, &k) != 0)
            return -1;
        if (k.kind != K_TEXT) {
            fail(rd->why, rd->why_len, "a key of the CBOR message is not a "
                 "text string (at byte %zu)", rd->at);
            return -1;
        }
        if (key_is(&k, "seq")) {
            if (next(rd, &v) != 0)
                return -1;
            if (v.kind != K_UINT || v.value > (uint64_t)1e12) {
                fail(rd->why, rd->why_len, "\"seq\" is not a whole number "
                     "from 0 to 10^12");
                return -1;
            }
            m->seq = (int64_t)v.value;
            have_seq = 1;
        } else if (key_is(&k, "run") || key_is(&k, "contract")) {
            int run = key_is(&k, "run");
            if (next(rd, &v) != 0)
                return -1;
            if (v.kind != K_TEXT ||
                memchr(v.data, 0, (size_t)v.value) != NULL ||
                (!run && !(v.value == 13 &&
                           memcmp(v.data, "twin.result/1", 13) == 0))) {
                fail(rd->why, rd->why_len, run ? "\"run\" is not a text "
                     "string without NUL"
                     : "\"contract\" is not \"twin.result/1\"");
                return -1;
            }
            if (run) {
                free(m->run);
                if ((m->run = strndup((const char *)v.data,
                                      (size_t)v.value)) == NULL)
                    return -1;
            }
        } else if (key_is(&k, "columns")) {
            if (read_columns(rd, m) != 0)
                return -1;
        } else if (key_is(&k, "rows")) {
            if (read_rows(rd, &rows, &rows_len) != 0)
                return -1;
        } else if (skip(rd) != 0) {
            return -1;
        }
    }
    if (rd->at != rd->len) {
        fail(rd->why, rd->why_len, "%zu bytes follow the CBOR message",
             rd->len - rd->at);
        return -1;
    }
    if (!have_seq || rows == NULL || m->columns == NULL) {
        fail(rd->why, rd->why_len, "the CBOR message has no \"%s\"",
             !have_seq ? "seq" : rows == NULL ? "rows" : "columns");
        return -1;
    }
    if (rows_len % (m->n_cols * 8) != 0) {
        fail(rd->why, rd->why_len, "result seq %lld: its rows hold %zu "
             "bytes, not a whole number of rows of %zu float64 values",
             (long long)m->seq, rows_len, m->n_cols);
        return -1;
    }
    m->n_rows = rows_len / (m->n_cols * 8);
    if ((m->values = malloc(rows_len + 8)) == NULL)
        return -1;
    for (size_t i = 0; i < m->n_rows * m->n_cols; i++)
        m->values[i] = get_f64le(rows + 8 * i);
    return 0;
}

int result_msg__decode(const char *payload, size_t len, int cbor,
                       result_msg *m, char *why, size_t why_len)
{
    memset(m, 0, sizeof *m);
    if (why && why_len)
        why[0] = '\0';
    if (!cbor) {
        json_error_t err;
        json_t *msg = json_loadb(payload, len, JSON_DECODE_INT_AS_REAL, &err);
        if (msg == NULL) {
            fail(why, why_len, "a result message that is not JSON: %s",
                 err.text);
            return -1;
        }
        int rc = result_msg__from_json(msg, m, why, why_len);
        json_decref(msg);
        return rc;
    }
    reader rd = {.p = (const unsigned char *)payload, .len = len, .why = why,
                 .why_len = why_len};
    if (decode_cbor(&rd, m) != 0) {
        if (why && why_len && why[0] == '\0')
            fail(why, why_len, "out of memory reading a CBOR result");
        result_msg__clear(m);
        return -1;
    }
    return 0;
}
