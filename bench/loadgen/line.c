/* line.c - split-safe line assembly (see line.h). */
#include "line.h"

#include <stdlib.h>
#include <string.h>

void lb_line_init(lb_line_t *l, size_t max, bool sse)
{
    memset(l, 0, sizeof(*l));
    l->max = max;
    l->sse = sse;
}

void lb_line_reset(lb_line_t *l)
{
    l->len = 0;
    l->skip_lf = false;
}

void lb_line_free(lb_line_t *l)
{
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = 0;
}

static bool carry(lb_line_t *l, const char *p, size_t n)
{
    if (l->len + n > l->max)
        return false;
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n)
            cap *= 2;
        if (cap > l->max)
            cap = l->max;
        char *b = realloc(l->buf, cap);
        if (b == NULL)
            return false;
        l->buf = b;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
    return true;
}

static const char *find_eol(const lb_line_t *l, const char *p, const char *end)
{
    if (!l->sse)
        return memchr(p, '\n', (size_t)(end - p));
    for (; p < end; p++)
        if (*p == '\n' || *p == '\r')
            return p;
    return NULL;
}

lb_line_rc_t lb_line_take(lb_line_t *l, const char **pp, const char *end, const char **line,
                          size_t *len)
{
    const char *p = *pp, *eol;

    if (l->skip_lf && p < end) {
        l->skip_lf = false;
        if (*p == '\n')
            p++;
    }
    eol = find_eol(l, p, end);
    if (eol == NULL) {
        *pp = end;
        return carry(l, p, (size_t)(end - p)) ? LB_LINE_MORE : LB_LINE_TOO_LONG;
    }
    *pp = eol + 1;
    if (l->sse && *eol == '\r') {
        if (eol + 1 < end) {
            if (eol[1] == '\n')
                *pp = eol + 2;
        } else {
            l->skip_lf = true;
        }
    }
    if (l->len == 0) {
        size_t n = (size_t)(eol - p);
        if (n > l->max)
            return LB_LINE_TOO_LONG;
        if (!l->sse && n > 0 && p[n - 1] == '\r')
            n--;
        *line = p;
        *len = n;
        return LB_LINE_OK;
    }
    if (!carry(l, p, (size_t)(eol - p)))
        return LB_LINE_TOO_LONG;
    *line = l->buf;
    *len = l->len;
    if (!l->sse && *len > 0 && l->buf[*len - 1] == '\r')
        (*len)--;
    l->len = 0; /* the caller reads buf before the next call */
    return LB_LINE_OK;
}
