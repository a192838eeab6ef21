/* stream.c - SSE response analysis and fidelity checking (see stream.h). */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

int lb_expect_build(lb_expect_t *e, uint32_t n)
{
    size_t cap = (size_t)n * 16u + 1u, len = 0;
    char *t = malloc(cap);

    if (t == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "tok%u ", i);
    t[len] = '\0';
    e->text = t;
    e->len = len;
    e->n = n;
    return 0;
}

void lb_expect_free(lb_expect_t *e)
{
    free(e->text);
    e->text = NULL;
    e->len = 0;
}

void lb_stream_start(lb_stream_t *s, const lb_expect_t *exp)
{
    memset(s, 0, sizeof(*s));
    s->exp = exp;
}

/* "tok<digits>" at p (n bytes) -> the number; -1 if it is not a token. */
static long token_at(const char *p, size_t n)
{
    long v = 0;
    size_t i = 3;

    if (n < 4 || memcmp(p, "tok", 3) != 0 || p[3] < '0' || p[3] > '9')
        return -1;
    for (; i < n && p[i] >= '0' && p[i] <= '9' && v < 100000000L; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* The received text diverged from the expectation at expected offset `at`;
 * the received bytes from that point are p[0..n) and the `back` bytes before
 * p are the (matching) text received just before. Backs up to the token both
 * were in and compares token numbers: a later one means tokens went missing,
 * an earlier one a duplicate or a reordering, anything else is corruption. */
static lb_fid_t classify(const lb_expect_t *e, size_t at, const char *p, size_t n, size_t back)
{
    size_t start = at;
    long got, want;

    while (start > 0 && e->text[start - 1] != ' ')
        start--;
    if (at - start > back) /* that token began in an earlier piece */
        return LB_FID_CORRUPT;
    p -= at - start;
    n += at - start;
    got = token_at(p, n);
    want = start >= e->len ? (long)e->n : token_at(e->text + start, e->len - start);
    if (got < 0 || want < 0 || got == want)
        return LB_FID_CORRUPT;
    return got > want ? LB_FID_MISSING : LB_FID_REORDER;
}

static void check_text(lb_stream_t *s, lb_span_t str)
{
    const lb_expect_t *e = s->exp;
    lb_json_str_t it;
    char buf[512];
    size_t n;

    if (e == NULL || s->problem != LB_FID_NONE)
        return;
    lb_json_str_init(&it, str);
    while ((n = lb_json_str_read(&it, buf, sizeof(buf))) > 0) {
        size_t avail = e->len - s->pos, k = n < avail ? n : avail, m = 0;
        while (m < k && buf[m] == e->text[s->pos + m])
            m++;
        if (m < n) { /* mismatch at m, or more text than expected */
            s->problem = (uint8_t)classify(e, s->pos + m, buf + m, n - m, m);
            return;
        }
        s->pos += n;
    }
    if (it.bad)
        s->problem = LB_FID_CORRUPT;
}

static void chunk(lb_stream_t *s, lb_span_t str)
{
    if (!lb_json_is_string(str) || str.n <= 2)
        return; /* null or "" carries no content */
    s->chunks++;
    check_text(s, str);
}

void lb_stream_event(lb_stream_t *s, const char *name, size_t name_len, const char *data, size_t n)
{
    lb_span_t all = {data, n}, obj, k, v, choices = {0}, type = {0}, delta = {0};
    lb_json_iter_t it;
    bool has_choices = false, has_type = false, has_delta = false;

    (void)name;
    (void)name_len;
    s->events++;
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        if (s->kind == LB_SK_UNKNOWN)
            s->kind = LB_SK_OPENAI;
        return;
    }
    if (!lb_json_value(all, &obj) || !lb_json_iter_init(&it, obj)) {
        /* Not a JSON object: no client SDK would parse this event. */
        if (s->problem == LB_FID_NONE)
            s->problem = LB_FID_CORRUPT;
        return;
    }
    while (lb_json_iter_next(&it, &k, &v)) {
        if (k.n == 7 && memcmp(k.p, "choices", 7) == 0) {
            choices = v;
            has_choices = true;
        } else if (k.n == 4 && memcmp(k.p, "type", 4) == 0) {
            type = v;
            has_type = true;
        } else if (k.n == 5 && memcmp(k.p, "delta", 5) == 0) {
            delta = v;
            has_delta = true;
        } else if (k.n == 5 && memcmp(k.p, "error", 5) == 0) {
            s->error_event = true;
        }
    }
    if (has_choices) {
        lb_span_t c0, d, content;
        s->kind = LB_SK_OPENAI;
        if (lb_json_at(choices, 0, &c0) && lb_json_get(c0, "delta", &d) &&
            lb_json_get(d, "content", &content))
            chunk(s, content);
        return;
    }
    if (!has_type)
        return;
    s->kind = LB_SK_ANTHROPIC;
    if (lb_json_str_is(type, "content_block_delta")) {
        lb_span_t dt, text;
        if (has_delta && lb_json_get(delta, "type", &dt) && lb_json_str_is(dt, "text_delta") &&
            lb_json_get(delta, "text", &text))
            chunk(s, text);
    } else if (lb_json_str_is(type, "message_stop")) {
        s->done = true;
    } else if (lb_json_str_is(type, "error")) {
        s->error_event = true;
    }
}

lb_stream_verdict_t lb_stream_verdict(const lb_stream_t *s)
{
    lb_stream_verdict_t v = {0};

    v.no_done = s->kind != LB_SK_UNKNOWN && !s->done;
    v.problem = (lb_fid_t)s->problem;
    if (s->exp != NULL && v.problem == LB_FID_NONE && s->pos < s->exp->len)
        v.problem = LB_FID_MISSING;
    v.ok = !v.no_done && v.problem == LB_FID_NONE && !s->error_event;
    return v;
}
