/* fuzz_framing.c - the request framing check (src/http/framing.c): no
 * crash, the same verdict however the stream is split, an error that
 * sticks, and head offsets that stay inside the stream. */
#include "core/common.h"
#include "http/framing.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the split points for the second pass. */
    unsigned step = (unsigned)data[0] % 13 + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    lx_framing_t whole, split;
    lx_framing_init(&whole);
    lx_framing_init(&split);
    int rw = lx_framing_feed(&whole, p, n);
    int rs = LX_OK;
    for (size_t at = 0; at < n && rs == LX_OK; at += step) {
        size_t len = n - at < step ? n - at : step;
        rs = lx_framing_feed(&split, p + at, len);
        if (rs == LX_OK && lx_framing_in_head(&split) &&
            lx_framing_head_start(&split) > lx_framing_fed(&split))
            abort(); /* a head cannot start after the bytes seen */
    }
    if (rw != rs)
        abort(); /* the verdict depends on how the bytes arrived */
    if (rw == LX_ERROR) {
        if (whole.why == NULL || strcmp(whole.why, split.why) != 0)
            abort();
        if (lx_framing_feed(&whole, "GET / HTTP/1.1\r\n\r\n", 18) != LX_ERROR)
            abort(); /* an error sticks */
    } else if (lx_framing_idle(&whole) != lx_framing_idle(&split) ||
               lx_framing_in_head(&whole) != lx_framing_in_head(&split) ||
               (lx_framing_in_head(&whole) &&
                lx_framing_head_start(&whole) != lx_framing_head_start(&split))) {
        abort();
    }
    return 0;
}
