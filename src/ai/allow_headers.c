/* allow_headers.c - x-ratelimit-* headers (allow_headers.h). */
#include "ai/allow_headers.h"

#include <string.h>

/* Decimal digits of v (>= 0) at p; returns the end. */
static char *digits(char *p, int64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

void lx_allow_duration(int64_t ms, char *out)
{
    char *p = out;
    if (ms < 0)
        ms = 0;
    if (ms < 1000) {
        p = digits(p, ms);
        *p++ = 'm', *p++ = 's';
    } else {
        int64_t s = (ms + 999) / 1000;
        if (s >= 3600) {
            p = digits(p, s / 3600);
            *p++ = 'h';
        }
        if (s >= 60) {
            p = digits(p, s / 60 % 60);
            *p++ = 'm';
        }
        p = digits(p, s % 60);
        *p++ = 's';
    }
    *p = '\0';
}

/* The strictest window of kind tokens (true) or requests (false). */
static bool strictest(const lx_allow_set_t *set, bool tokens, int64_t now_ms, lx_allow_view_t *out)
{
    bool found = false;
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++) {
        const lx_allow_t *a = set->s[i];
        for (int p = 0; a && p < LX_ALLOW_NWIN; p++) {
            if ((p == LX_ALLOW_TOK) != tokens ||
                atomic_load_explicit(&a->limit[p], memory_order_relaxed) <= 0)
                continue;
            lx_allow_view_t v;
            lx_allow_view(a, (lx_allow_per_t)p, now_ms, &v);
            if (!found || v.remaining < out->remaining ||
                (v.remaining == out->remaining && v.limit < out->limit))
                *out = v, found = true;
        }
    }
    return found;
}

#define NAME(s)                                                                                    \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }
typedef struct {
    const char *p;
    size_t n;
} name_t;

static void set_three(lx_req_t *req, const lx_allow_view_t *v, const name_t names[3])
{
    char buf[24];
    lx_req_add_header(req, names[0].p, names[0].n, buf, (size_t)(digits(buf, v->limit) - buf));
    lx_req_add_header(req, names[1].p, names[1].n, buf, (size_t)(digits(buf, v->remaining) - buf));
    lx_allow_duration(v->reset_ms, buf);
    lx_req_add_header(req, names[2].p, names[2].n, buf, strlen(buf));
}

void lx_allow_headers(lx_req_t *req, const lx_allow_set_t *set, int64_t now_ms)
{
    static const name_t req_names[3] = {NAME("x-ratelimit-limit-requests"),
                                        NAME("x-ratelimit-remaining-requests"),
                                        NAME("x-ratelimit-reset-requests")};
    static const name_t tok_names[3] = {NAME("x-ratelimit-limit-tokens"),
                                        NAME("x-ratelimit-remaining-tokens"),
                                        NAME("x-ratelimit-reset-tokens")};
    lx_allow_view_t v;
    if (strictest(set, false, now_ms, &v))
        set_three(req, &v, req_names);
    if (strictest(set, true, now_ms, &v))
        set_three(req, &v, tok_names);
}
