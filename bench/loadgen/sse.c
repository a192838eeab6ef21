/* sse.c - the split-safe SSE parser (see sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

void lb_sse_init(lb_sse_t *s)
{
    memset(s, 0, sizeof(*s));
    lb_line_init(&s->line, LB_SSE_MAX_EVENT, true);
}

void lb_sse_reset(lb_sse_t *s)
{
    lb_line_reset(&s->line);
    s->data_len = 0;
    s->has_data = false;
    s->name_len = 0;
}

void lb_sse_free(lb_sse_t *s)
{
    lb_line_free(&s->line);
    free(s->data);
    s->data = NULL;
    s->data_len = s->data_cap = 0;
}

static int append(lb_sse_t *s, const char *p, size_t n, bool nl)
{
    size_t need = s->data_len + n + (nl ? 1u : 0u);

    if (need > LB_SSE_MAX_EVENT)
        return -1;
    if (need > s->data_cap) {
        size_t cap = s->data_cap ? s->data_cap : 512;
        while (cap < need)
            cap *= 2;
        char *d = realloc(s->data, cap);
        if (d == NULL)
            return -1;
        s->data = d;
        s->data_cap = cap;
    }
    if (nl)
        s->data[s->data_len++] = '\n';
    memcpy(s->data + s->data_len, p, n);
    s->data_len += n;
    return 0;
}

static int on_line(lb_sse_t *s, const char *l, size_t n, lb_sse_event_fn fn, void *arg)
{
    const char *colon, *v;
    size_t fn_len, vn;

    if (n == 0) {
        if (s->has_data)
            fn(arg, s->name, s->name_len, s->data ? s->data : "", s->data_len);
        s->data_len = 0;
        s->has_data = false;
        s->name_len = 0;
        return 0;
    }
    if (l[0] == ':')
        return 0;
    colon = memchr(l, ':', n);
    fn_len = colon ? (size_t)(colon - l) : n;
    v = colon ? colon + 1 : l + n;
    vn = (size_t)(l + n - v);
    if (vn > 0 && v[0] == ' ') {
        v++;
        vn--;
    }
    if (fn_len == 4 && memcmp(l, "data", 4) == 0) {
        if (append(s, v, vn, s->has_data) < 0)
            return -1;
        s->has_data = true;
    } else if (fn_len == 5 && memcmp(l, "event", 5) == 0) {
        s->name_len = vn < LB_SSE_MAX_NAME ? vn : LB_SSE_MAX_NAME;
        memcpy(s->name, v, s->name_len);
    }
    return 0;
}

int lb_sse_feed(lb_sse_t *s, const char *p, size_t n, lb_sse_event_fn fn, void *arg)
{
    const char *end = p + n, *line;
    size_t len;

    while (p < end) {
        switch (lb_line_take(&s->line, &p, end, &line, &len)) {
        case LB_LINE_MORE:
            return 0;
        case LB_LINE_TOO_LONG:
            return -1;
        case LB_LINE_OK:
            if (on_line(s, line, len, fn, arg) < 0)
                return -1;
            break;
        }
    }
    return 0;
}
