/* sse.c - incremental SSE parsing. */
#include "ai/sse.h"

void lx_sse_init(lx_sse_parser_t *p, lx_sse_cb cb, void *arg)
{
    memset(p, 0, sizeof *p);
    lx_buf_init(&p->raw, 0); /* allocated on first use */
    lx_buf_init(&p->data, 0);
    lx_buf_init(&p->event, 0);
    p->cb = cb;
    p->arg = arg;
}

void lx_sse_free(lx_sse_parser_t *p)
{
    lx_buf_free(&p->raw);
    lx_buf_free(&p->data);
    lx_buf_free(&p->event);
}

size_t lx_sse_pending(const lx_sse_parser_t *p)
{
    return p->raw.n;
}

static void reset_event(lx_sse_parser_t *p)
{
    lx_buf_reset(&p->raw);
    lx_buf_reset(&p->data);
    lx_buf_reset(&p->event);
    p->has_data = false;
    p->ndata = 0;
    p->line_start = 0;
}

/* Handles the line raw[line_start .. end). A blank line dispatches. */
static int line(lx_sse_parser_t *p, size_t end)
{
    const char *s = p->raw.p + p->line_start;
    size_t n = end - p->line_start;
    p->line_start = p->raw.n;
    if (n == 0) {
        int rc = LX_OK;
        if (p->has_data || p->event.n) {
            lx_str_t data = p->ndata == 1 ? (lx_str_t){p->raw.p + p->data1_off, p->data1_len}
                                          : lx_buf_str(&p->data);
            if (data.p == NULL)
                data = (lx_str_t){"", 0};
            lx_sse_event_t ev = {lx_buf_str(&p->event), data, lx_buf_str(&p->raw)};
            rc = p->cb(&ev, p->arg);
        }
        reset_event(p);
        return rc;
    }
    if (s[0] == ':')
        return LX_OK;
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        /* One data line (the usual event) is read in place in raw; a
         * second one makes the joined copy. */
        if (p->ndata == 0) {
            p->data1_off = (size_t)(v - p->raw.p);
            p->data1_len = vlen;
        } else {
            if (p->ndata == 1)
                lx_buf_append(&p->data, p->raw.p + p->data1_off, p->data1_len);
            lx_buf_append_char(&p->data, '\n');
            lx_buf_append(&p->data, v, vlen);
        }
        p->ndata++;
        p->has_data = true;
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        lx_buf_reset(&p->event);
        lx_buf_append(&p->event, v, vlen);
    }
    return LX_OK;
}

/* The first \n or \r: two memchr scans (vectorized) beat one byte loop. */
static const char *find_eol(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    const char *cr = memchr(s, '\r', nl ? (size_t)(nl - s) : n);
    return cr ? cr : nl;
}

int lx_sse_feed(lx_sse_parser_t *p, const char *buf, size_t n)
{
    size_t i = 0;
    if (p->last_cr && n > 0) {
        p->last_cr = false;
        if (buf[0] == '\n') { /* the \n of a \r\n split across feeds */
            /* If that \r ended an event, the event is gone already: drop the
             * \n rather than start the next event with it ("\r" alone is a
             * valid line end, so what was forwarded stays valid SSE). */
            if (p->raw.n > 0) {
                lx_buf_append(&p->raw, buf, 1);
                p->line_start = p->raw.n;
            }
            i = 1;
        }
    }
    while (i < n) {
        const char *q = find_eol(buf + i, n - i);
        if (q == NULL) {
            lx_buf_append(&p->raw, buf + i, n - i);
            break;
        }
        size_t k = (size_t)(q - (buf + i)), eol = 1;
        if (*q == '\r') {
            if (i + k + 1 < n)
                eol = q[1] == '\n' ? 2 : 1;
            else
                p->last_cr = true; /* a \n may start the next feed */
        }
        lx_buf_append(&p->raw, buf + i, k + eol);
        i += k + eol;
        int rc = line(p, p->raw.n - eol);
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}
