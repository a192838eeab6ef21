/* fuzz_sse.c - the incremental SSE parser (src/ai/sse.c).
 *
 * The input is fed once whole and once cut into pieces (sizes taken from
 * the input's first byte); the parser promises the same events whatever the
 * split, so the event names and data of both runs must match. (The one
 * documented difference, a \r\n split between feeds, changes only the raw
 * bytes, which are not compared.) */
#include "ai/sse.h"
#include "core/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each event as "event\0data\0" appended to one buffer. */
static int collect(const lx_sse_event_t *ev, void *arg)
{
    lx_buf_t *b = arg;
    if (ev->raw.n == 0 && (ev->data.n || ev->event.n))
        abort(); /* an event comes from bytes */
    lx_buf_append(b, ev->event.p, ev->event.n);
    lx_buf_append_char(b, '\0');
    lx_buf_append(b, ev->data.p, ev->data.n);
    lx_buf_append_char(b, '\0');
    return LX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned step = data[0] % 16 + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    lx_buf_t whole, split;
    lx_buf_init(&whole, 64);
    lx_buf_init(&split, 64);
    lx_sse_parser_t a, b;
    lx_sse_init(&a, collect, &whole);
    lx_sse_init(&b, collect, &split);

    lx_sse_feed(&a, p, n);
    size_t pending_a = lx_sse_pending(&a);
    for (size_t i = 0, k = 0; i < n; k++) {
        size_t cut = (step + k * 7) % 13 + 1; /* uneven pieces, 1..13 bytes */
        if (cut > n - i)
            cut = n - i;
        lx_sse_feed(&b, p + i, cut);
        i += cut;
    }
    if (pending_a > n)
        abort();
    if (whole.n != split.n || memcmp(whole.p, split.p, whole.n) != 0) {
        fprintf(stderr, "events differ with the split: %zu vs %zu bytes\n", whole.n, split.n);
        abort();
    }
    lx_sse_free(&a);
    lx_sse_free(&b);
    lx_buf_free(&whole);
    lx_buf_free(&split);
    return 0;
}
