/*
 * fuzz_result.c — libFuzzer harness: a result message as a client takes
 * it from the broker (result_msg.c, result_msg__decode), CBOR when the
 * first byte is odd, JSON when even, the rest the payload.
 *
 * Checked beyond crashes: a refusal says why; a message read has
 * rows × columns values, its columns (when it has them) that many names;
 * written again in CBOR it reads back to the same values bit for bit,
 * and in JSON to the same finite values (the others as NaN).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void again(const result_msg *m, int cbor)
{
    size_t len;
    char *text = result_msg__encode(m, cbor, &len);
    if (text == NULL)
        return; /* out of memory */
    result_msg back;
    char why[256];
    if (result_msg__decode(text, len, cbor, &back, why, sizeof why) != 0)
        abort(); /* what it wrote, it cannot read */
    if (back.seq != m->seq || back.n_rows != m->n_rows ||
        (m->n_rows > 0 && back.n_cols != m->n_cols))
        abort();
    for (size_t i = 0; i < m->n_rows * m->n_cols; i++) {
        double a = m->values[i], b = back.values[i];
        if (cbor ? memcmp(&a, &b, sizeof a) != 0
                 : isfinite(a) ? memcmp(&a, &b, sizeof a) != 0 : !isnan(b))
            abort();
    }
    result_msg__clear(&back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int cbor = data[0] & 1;
    result_msg m;
    char why[256] = "";
    if (result_msg__decode((const char *)data + 1, size - 1, cbor, &m, why,
                           sizeof why) != 0) {
        if (why[0] == '\0' || m.values != NULL)
            abort();
        return 0;
    }
    if (m.columns != NULL && json_array_size(m.columns) != m.n_cols)
        abort();
    if (m.n_rows > 0 && m.values == NULL)
        abort();
    /* A message without columns (JSON only) cannot be written in CBOR. */
    if (m.columns != NULL && m.n_cols > 0)
        again(&m, 1);
    again(&m, 0);
    result_msg__clear(&m);
    return 0;
}
