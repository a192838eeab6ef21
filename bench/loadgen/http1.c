/* http1.c - the incremental HTTP/1.x response parser (see http1.h). */
#include "http1.h"

#include <string.h>
#include <strings.h>

void lb_h1_init(lb_h1_t *h)
{
    memset(h, 0, sizeof(*h));
    lb_line_init(&h->line, LB_H1_MAX_HEAD, false);
    lb_h1_reset(h);
}

void lb_h1_reset(lb_h1_t *h)
{
    lb_line_t line = h->line;

    memset(h, 0, sizeof(*h));
    h->line = line;
    lb_line_reset(&h->line);
    h->state = LB_H1_STATUS;
}

void lb_h1_free(lb_h1_t *h)
{
    lb_line_free(&h->line);
}

bool lb_h1_started(const lb_h1_t *h)
{
    return h->state != LB_H1_STATUS || h->head_bytes > 0 || h->line.len > 0;
}

static void fail(lb_h1_t *h, const char *why)
{
    h->state = LB_H1_ERROR;
    h->error = why;
}

static bool parse_u64(const char *p, size_t n, int base, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t first = i;
    for (; i < n; i++) {
        unsigned d;
        char c = p[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            break;
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    if (i == first)
        return false;
    for (; i < n; i++) { /* only whitespace (or a chunk extension) may follow */
        if (base == 16 && p[i] == ';')
            break;
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    }
    *out = v;
    return true;
}

/* Case-insensitive search of a token in a comma-separated header value. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tn = strlen(tok);

    for (size_t i = 0; i + tn <= n; i++) {
        if (strncasecmp(v + i, tok, tn) == 0 && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
            (i + tn == n || v[i + tn] == ' ' || v[i + tn] == ',' || v[i + tn] == ';'))
            return true;
    }
    return false;
}

static void status_line(lb_h1_t *h, const char *l, size_t n)
{
    /* HTTP/1.x SP 3DIGIT [SP reason] */
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[7] < '0' || l[7] > '9' || l[8] != ' ' ||
        l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
        (n > 12 && l[12] != ' ')) {
        fail(h, "bad status line");
        return;
    }
    h->minor = l[7] - '0';
    h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    h->state = LB_H1_HEADER;
}

static void header_line(lb_h1_t *h, const char *l, size_t n)
{
    const char *colon = memchr(l, ':', n);
    size_t kn;
    const char *v;
    size_t vn;

    if (colon == NULL || colon == l) {
        fail(h, "bad header line");
        return;
    }
    kn = (size_t)(colon - l);
    v = colon + 1;
    vn = (size_t)(l + n - v);
    while (vn > 0 && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        vn--;
    }
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (kn == 14 && strncasecmp(l, "content-length", 14) == 0) {
        uint64_t len;
        if (!parse_u64(v, vn, 10, &len) || (h->has_length && len != h->length)) {
            fail(h, "bad content-length");
            return;
        }
        h->length = len;
        h->has_length = true;
    } else if (kn == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
        if (has_token(v, vn, "chunked"))
            h->chunked = true;
    } else if (kn == 10 && strncasecmp(l, "connection", 10) == 0) {
        if (has_token(v, vn, "close"))
            h->conn_close = true;
        if (has_token(v, vn, "keep-alive"))
            h->conn_keep = true;
    } else if (kn == 12 && strncasecmp(l, "content-type", 12) == 0) {
        h->event_stream = vn >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
    }
}

/* The blank line after the headers: choose the body framing. */
static void head_done(lb_h1_t *h, lb_h1_head_fn head, void *arg)
{
    if (h->status >= 100 && h->status < 200) { /* interim: the real one follows */
        lb_line_t line = h->line;
        size_t hb = h->head_bytes;
        memset(h, 0, sizeof(*h));
        h->line = line;
        h->head_bytes = hb;
        h->state = LB_H1_STATUS;
        return;
    }
    h->keep_alive = h->minor >= 1 ? !h->conn_close : (h->conn_keep && !h->conn_close);
    if (head)
        head(arg);
    if (h->status == 204 || h->status == 304) {
        h->state = LB_H1_DONE;
    } else if (h->chunked) {
        h->state = LB_H1_CHUNK_SIZE;
    } else if (h->has_length) {
        h->left = h->length;
        h->state = h->left ? LB_H1_BODY_LEN : LB_H1_DONE;
    } else {
        h->keep_alive = false;
        h->state = LB_H1_BODY_EOF;
    }
}

size_t lb_h1_feed(lb_h1_t *h, const char *p0, size_t n, lb_h1_head_fn head, lb_h1_body_fn body,
                  void *arg)
{
    const char *p = p0, *end = p0 + n, *line;
    size_t len;

    while (p < end && h->state != LB_H1_DONE && h->state != LB_H1_ERROR) {
        switch (h->state) {
        case LB_H1_STATUS:
        case LB_H1_HEADER:
        case LB_H1_CHUNK_SIZE:
        case LB_H1_CHUNK_CRLF:
        case LB_H1_TRAILER: {
            const char *before = p;
            lb_line_rc_t rc = lb_line_take(&h->line, &p, end, &line, &len);
            if (h->state == LB_H1_STATUS || h->state == LB_H1_HEADER) {
                h->head_bytes += (size_t)(p - before);
                if (h->head_bytes > LB_H1_MAX_HEAD) {
                    fail(h, "response head too large");
                    break;
                }
            }
            if (rc == LB_LINE_TOO_LONG) {
                fail(h, "line too long");
                break;
            }
            if (rc == LB_LINE_MORE)
                break;
            switch (h->state) {
            case LB_H1_STATUS:
                if (len == 0 && h->status == 0 && h->head_bytes <= 2)
                    break; /* tolerate a stray CRLF before the status line */
                status_line(h, line, len);
                break;
            case LB_H1_HEADER:
                if (len == 0)
                    head_done(h, head, arg);
                else
                    header_line(h, line, len);
                break;
            case LB_H1_CHUNK_SIZE: {
                uint64_t sz;
                if (!parse_u64(line, len, 16, &sz)) {
                    fail(h, "bad chunk size");
                    break;
                }
                h->left = sz;
                h->state = sz ? LB_H1_CHUNK_DATA : LB_H1_TRAILER;
                break;
            }
            case LB_H1_CHUNK_CRLF:
                if (len != 0)
                    fail(h, "missing CRLF after chunk");
                else
                    h->state = LB_H1_CHUNK_SIZE;
                break;
            case LB_H1_TRAILER:
                if (len == 0)
                    h->state = LB_H1_DONE;
                break;
            default:
                break;
            }
            break;
        }
        case LB_H1_BODY_LEN:
        case LB_H1_CHUNK_DATA: {
            size_t k = (size_t)(end - p);
            if ((uint64_t)k > h->left)
                k = (size_t)h->left;
            if (body && body(arg, p, k) < 0) {
                fail(h, "body rejected");
                break;
            }
            p += k;
            h->left -= k;
            if (h->left == 0)
                h->state = h->state == LB_H1_BODY_LEN ? LB_H1_DONE : LB_H1_CHUNK_CRLF;
            break;
        }
        case LB_H1_BODY_EOF: {
            if (body && body(arg, p, (size_t)(end - p)) < 0) {
                fail(h, "body rejected");
                break;
            }
            p = end;
            break;
        }
        default:
            break;
        }
    }
    return (size_t)(p - p0);
}

bool lb_h1_eof(lb_h1_t *h)
{
    if (h->state == LB_H1_BODY_EOF)
        h->state = LB_H1_DONE;
    return h->state == LB_H1_DONE;
}
