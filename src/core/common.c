/* common.c - allocation wrappers and small string helpers. */
#include "core/common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

void *lx_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (lx_unlikely(p == NULL))
        oom(n);
    return p;
}

/* glibc's calloc always takes the arena path; malloc serves small blocks
 * from the thread's cache (tcache, up to 1032 bytes), several times cheaper
 * for the structs made per request. Larger blocks keep calloc, which skips
 * the memset for fresh pages. */
#define LX_CALLOC_VIA_MALLOC 1024

/* GCC folds malloc + memset back into calloc (its strlen pass); not here. */
#if defined(__GNUC__) && !defined(__clang__)
#define KEEP_MEMSET __attribute__((optimize("no-optimize-strlen")))
#else
#define KEEP_MEMSET
#endif

KEEP_MEMSET void *lx_calloc(size_t count, size_t n)
{
    size_t total;
    if (!__builtin_mul_overflow(count, n, &total) && total - 1 < LX_CALLOC_VIA_MALLOC) {
        void *q = malloc(total);
        if (lx_unlikely(q == NULL))
            oom(total);
        return memset(q, 0, total);
    }
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (lx_unlikely(p == NULL))
        oom(count * n);
    return p;
}

void *lx_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (lx_unlikely(q == NULL))
        oom(n);
    return q;
}

char *lx_strndup(const char *p, size_t n)
{
    char *s = lx_alloc(n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

char *lx_strdup(const char *s)
{
    return lx_strndup(s, strlen(s));
}

bool lx_str_ieq(lx_str_t a, lx_str_t b)
{
    if (a.n != b.n)
        return false;
    for (size_t i = 0; i < a.n; i++)
        if (tolower((unsigned char)a.p[i]) != tolower((unsigned char)b.p[i]))
            return false;
    return true;
}

size_t lx_copy(char *dst, size_t cap, const char *p, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, p, n);
    dst[n] = '\0';
    return n;
}

size_t lx_i64_str(char out[24], int64_t v)
{
    char d[24];
    int k = (int)sizeof d;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        d[--k] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        d[--k] = '-';
    size_t n = sizeof d - (size_t)k;
    memcpy(out, d + k, n);
    out[n] = '\0';
    return n;
}
