/* fuzz_retry_after.c - Retry-After / HTTP-date parsing
 * (src/ai/routing/limits.c: lx_retry_after_parse, lx_cooling_set). */
#include "ai/routing/limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A fixed "now" (2024-01-01T00:00:00Z) keeps runs reproducible. */
    const int64_t now = 1704067200000;
    int64_t delay = -12345;
    int rc = lx_retry_after_parse((lx_str_t){(const char *)data, size}, now, &delay);
    if (rc == LX_OK && delay < 0)
        abort(); /* documented: never negative */
    if (rc != LX_OK && delay != -12345)
        abort(); /* documented: untouched on error */

    /* The NUL-terminated path that the upstream side uses. */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    lx_route_state_t st;
    memset(&st, 0, sizeof st);
    int64_t until = lx_cooling_set(&st, now, s, 1000, 60000);
    if (until < now || until > now + 60000)
        abort(); /* capped */
    free(s);
    return 0;
}
