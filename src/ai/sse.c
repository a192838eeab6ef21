/* sse.c - incremental SSE parsing.
 *
 * An event that arrives whole within one feed (nearly all of them) is
 * parsed and handed on in place, in the caller's bytes; only an event split
 * across feeds is carried over in raw. Offsets into the event being parsed
 * (line_start, data1_off, event_off) are from its first byte, so they stay
 * valid when its start moves from the feed into raw. */
#include "ai/sse.h"

void lx_sse_init(lx_sse_parser_t *p, lx_sse_cb cb, void *arg)
{
    memset(p, 0, sizeof *p);
    lx_buf_init(&p->raw, 0); /* allocated on first use */
    lx_buf_init(&p->data, 0);
    p->cb = cb;
    p->arg = arg;
}

void lx_sse_free(lx_sse_parser_t *p)
{
    lx_buf_free(&p->raw);
    lx_buf_free(&p->data);
}

size_t lx_sse_pending(const lx_sse_parser_t *p)
{
    return p->raw.n;
}

static void reset_event(lx_sse_parser_t *p)
{
    lx_buf_reset(&p->raw);
    lx_buf_reset(&p->data);
    p->has_data = false;
    p->ndata = 0;
    p->line_start = 0;
    p->event_len = 0;
}

/* Handles the line ev[line_start .. end) of the event ev[0 .. len). A blank
 * line dispatches the event and resets line_start to 0. */
static int line(lx_sse_parser_t *p, const char *ev, size_t len, size_t end)
{
    const char *s = ev + p->line_start;
    size_t n = end - p->line_start;
    p->line_start = len;
    if (n == 0) {
        int rc = LX_OK;
        if (p->has_data || p->event_len) {
            lx_str_t data =
                p->ndata == 1 ? (lx_str_t){ev + p->data1_off, p->data1_len} : lx_buf_str(&p->data);
            if (data.p == NULL)
                data = (lx_str_t){"", 0};
            lx_sse_event_t sev = {
                {p->event_len ? ev + p->event_off : "", p->event_len}, data, {ev, len}};
            rc = p->cb(&sev, p->arg);
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
        /* One data line (the usual event) is read in place; a second one
         * makes the joined copy. */
        if (p->ndata == 0) {
            p->data1_off = (size_t)(v - ev);
            p->data1_len = vlen;
        } else {
            if (p->ndata == 1)
                lx_buf_append(&p->data, ev + p->data1_off, p->data1_len);
            lx_buf_append_char(&p->data, '\n');
            lx_buf_append(&p->data, v, vlen);
        }
        p->ndata++;
        p->has_data = true;
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        p->event_off = (size_t)(v - ev);
        p->event_len = vlen;
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
    /* in_place: the current event starts at buf[ev0] (no part of it is in
     * raw); otherwise it is raw's bytes and each line is appended there. */
    bool in_place = p->raw.n == 0;
    size_t ev0 = i;
    while (i < n) {
        const char *q = find_eol(buf + i, n - i);
        if (q == NULL)
            break;
        size_t k = (size_t)(q - (buf + i)), eol = 1;
        if (*q == '\r') {
            if (i + k + 1 < n)
                eol = q[1] == '\n' ? 2 : 1;
            else
                p->last_cr = true; /* a \n may start the next feed */
        }
        const char *ev;
        size_t len;
        if (in_place) {
            ev = buf + ev0;
            len = i + k + eol - ev0;
        } else {
            len = p->raw.n + k + eol;
            if (p->max_event && len > p->max_event)
                return LX_SSE_TOO_BIG;
            lx_buf_append(&p->raw, buf + i, k + eol);
            ev = p->raw.p;
        }
        if (p->max_event && len > p->max_event)
            return LX_SSE_TOO_BIG;
        i += k + eol;
        int rc = line(p, ev, len, len - eol);
        if (rc != LX_OK)
            return rc;
        if (p->line_start == 0) { /* the event ended: the next one starts here */
            in_place = true;
            ev0 = i;
        }
    }
    /* What is left of an unfinished event waits in raw for the next feed. */
    size_t from = in_place ? ev0 : i;
    if (n > from) {
        if (p->max_event && p->raw.n + (n - from) > p->max_event)
            return LX_SSE_TOO_BIG;
        lx_buf_append(&p->raw, buf + from, n - from);
    }
    return LX_OK;
}
