/* framing.c - the strict request framing check (see framing.h).
 *
 * One state machine over the client's byte stream: request line, header
 * lines, then the body that the head announced (Content-Length bytes, or
 * chunks and trailers), then the next request. What it refuses (RFC 9112):
 * obs-fold, a header line without a colon or with an empty name or a space
 * before the colon, bare CR or LF, NUL in values (any control character in
 * the values of Content-Length and Transfer-Encoding), a
 * Content-Length that is not plain digits or that disagrees with an earlier
 * one, Transfer-Encoding other than one "chunked" (501), Transfer-Encoding
 * with Content-Length or on HTTP/1.0, chunk sizes over 16 hex digits or with
 * extensions (evhtp cannot parse those either). */
#include "http/framing.h"
#include "core/common.h"

enum {
    S_START,
    S_METHOD,
    S_TARGET,
    S_VERSION,
    S_RL_LF,
    S_HDR_START,
    S_NAME,
    S_VALUE,
    S_VALUE_LF,
    S_HEAD_END_LF,
    S_BODY,
    S_CHUNK_SIZE,
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_ERROR,
};

enum { HDR_OTHER, HDR_CL, HDR_TE };

static const char cl_name[] = "content-length";
static const char te_name[] = "transfer-encoding";
static const char chunked[] = "chunked";

#define CR '\r'
#define LF '\n'

/* RFC 9110 tchar: one load per byte of a name or method. */
static const uint8_t tchar_tab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_tchar(unsigned char c)
{
    return tchar_tab[c];
}

/* A byte a field value may hold: VCHAR, SP, HTAB, obs-text. */
static bool is_field_byte(unsigned char c)
{
    return (c >= 0x20 && c != 0x7f) || c == '\t';
}

static int fail(lx_framing_t *f, lx_err_t err, const char *why)
{
    f->state = S_ERROR;
    f->err = err;
    f->why = why;
    return LX_ERROR;
}

void lx_framing_init(lx_framing_t *f)
{
    memset(f, 0, sizeof *f);
    f->state = S_START;
}

bool lx_framing_idle(const lx_framing_t *f)
{
    return f->state == S_START;
}

bool lx_framing_in_head(const lx_framing_t *f)
{
    return f->state >= S_METHOD && f->state <= S_HEAD_END_LF;
}

uint64_t lx_framing_head_start(const lx_framing_t *f)
{
    return f->head_start;
}

uint64_t lx_framing_fed(const lx_framing_t *f)
{
    return f->fed;
}

uint64_t lx_framing_end_after(lx_framing_t *f, uint64_t from)
{
    size_t stale = 0;
    while (stale < f->nends && f->ends[stale] <= from)
        stale++;
    if (stale > 0) {
        memmove(f->ends, f->ends + stale, (f->nends - stale) * sizeof f->ends[0]);
        f->nends = (uint8_t)(f->nends - stale);
    }
    return f->nends > 0 ? f->ends[0] : UINT64_MAX;
}

/* A request is complete at stream offset end: remember where, and start
 * over. */
static void request_done(lx_framing_t *f, uint64_t end)
{
    if (f->nends < LX_FRAMING_ENDS) /* beyond, evhtp gets several at once */
        f->ends[f->nends++] = end;
    f->state = S_START;
    f->http10 = f->has_cl = f->chunked = f->trailers = false;
    f->cl = 0;
}

/* A header value byte: the syntax every value shares, then what the two
 * framing headers mean. */
static int value_byte(lx_framing_t *f, unsigned char c)
{
    if (!is_field_byte(c))
        return fail(f, LX_E_BAD_REQUEST, "control character in a header value");
    if (f->trailers || f->hdr == HDR_OTHER)
        return LX_OK;
    bool ows = c == ' ' || c == '\t';
    if (f->hdr == HDR_CL) {
        if (ows) {
            if (f->digits)
                f->sp = 1;
            return LX_OK;
        }
        if (c < '0' || c > '9' || f->sp)
            return fail(f, LX_E_BAD_REQUEST, "Content-Length is not a number");
        if (++f->digits > 19)
            return fail(f, LX_E_BAD_REQUEST, "Content-Length is too large");
        f->num = f->num * 10 + (uint64_t)(c - '0');
        return LX_OK;
    }
    /* Transfer-Encoding: exactly "chunked", any case, OWS around it. */
    if (ows) {
        if (f->te_pos)
            f->sp = 1;
        return LX_OK;
    }
    if (f->sp || f->te_pos >= sizeof chunked - 1 || (c | 0x20) != chunked[f->te_pos])
        return fail(f, LX_E_NOT_IMPLEMENTED,
                    "Transfer-Encoding other than chunked is not supported");
    f->te_pos++;
    return LX_OK;
}

static int header_done(lx_framing_t *f)
{
    if (f->trailers || f->hdr == HDR_OTHER)
        return LX_OK;
    if (f->hdr == HDR_CL) {
        if (f->digits == 0)
            return fail(f, LX_E_BAD_REQUEST, "Content-Length is not a number");
        if (f->has_cl && f->num != f->cl)
            return fail(f, LX_E_BAD_REQUEST, "conflicting Content-Length headers");
        f->has_cl = true;
        f->cl = f->num;
        return LX_OK;
    }
    if (f->te_pos != sizeof chunked - 1)
        return fail(f, LX_E_NOT_IMPLEMENTED,
                    "Transfer-Encoding other than chunked is not supported");
    if (f->chunked)
        return fail(f, LX_E_NOT_IMPLEMENTED, "Transfer-Encoding chunked applied twice");
    f->chunked = true;
    return LX_OK;
}

static int head_done(lx_framing_t *f, uint64_t end)
{
    if (f->trailers) {
        request_done(f, end);
        return LX_OK;
    }
    if (f->chunked && f->has_cl)
        return fail(f, LX_E_BAD_REQUEST, "both Content-Length and Transfer-Encoding");
    if (f->chunked && f->http10)
        return fail(f, LX_E_BAD_REQUEST, "Transfer-Encoding on an HTTP/1.0 request");
    if (f->chunked) {
        f->state = S_CHUNK_SIZE;
        f->digits = 0;
        f->num = 0;
    } else if (f->cl > 0) {
        f->state = S_BODY;
        f->left = f->cl;
    } else {
        request_done(f, end);
    }
    return LX_OK;
}

int lx_framing_feed(lx_framing_t *f, const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data, *end = p + n, *start = p;
    uint64_t base = f->fed;
    f->fed += n;
    while (p < end) {
        if (f->state == S_ERROR)
            return LX_ERROR;
        if (f->state == S_BODY || f->state == S_CHUNK_DATA) {
            size_t take = (size_t)(end - p) < f->left ? (size_t)(end - p) : (size_t)f->left;
            p += take;
            f->left -= take;
            if (f->left == 0)
                f->state = f->state == S_BODY ? S_START : S_CHUNK_DATA_CR;
            if (f->state == S_START)
                request_done(f, base + (uint64_t)(p - start));
            continue;
        }
        unsigned char c = *p++;
        switch (f->state) {
        case S_START:
            if (c == CR || c == LF)
                break; /* empty lines before a request line are allowed */
            if (!is_tchar(c))
                return fail(f, LX_E_BAD_REQUEST, "malformed request line");
            f->state = S_METHOD;
            f->head_start = base + (uint64_t)(p - start) - 1;
            break;
        case S_METHOD:
            if (c == ' ') {
                f->state = S_TARGET;
                f->line_len = 0;
            } else if (!is_tchar(c)) {
                return fail(f, LX_E_BAD_REQUEST, "malformed request line");
            }
            break;
        case S_TARGET:
            while (c > 0x20 && c < 0x7f && p < end) {
                f->line_len++;
                c = *p++;
            }
            if (c > 0x20 && c < 0x7f) {
                f->line_len++;
                break;
            }
            if (c == ' ' && f->line_len > 0) {
                f->state = S_VERSION;
                f->line_len = 0;
            } else if (c <= 0x20 || c >= 0x7f) {
                return fail(f, LX_E_BAD_REQUEST, "malformed request target");
            } else {
                f->line_len++;
            }
            break;
        case S_VERSION: {
            static const char v[] = "HTTP/1.";
            if (f->line_len < sizeof v - 1) {
                if (c != (unsigned char)v[f->line_len])
                    return fail(f, LX_E_BAD_REQUEST, "unsupported HTTP version");
            } else if (f->line_len == sizeof v - 1) {
                if (c != '0' && c != '1')
                    return fail(f, LX_E_BAD_REQUEST, "unsupported HTTP version");
                f->http10 = c == '0';
            } else if (c == CR) {
                f->state = S_RL_LF;
                break;
            } else {
                return fail(f, LX_E_BAD_REQUEST, "malformed request line");
            }
            f->line_len++;
            break;
        }
        case S_RL_LF:
            if (c != LF)
                return fail(f, LX_E_BAD_REQUEST, "bare CR in the request line");
            f->state = S_HDR_START;
            break;
        case S_HDR_START:
            if (c == CR) {
                f->state = S_HEAD_END_LF;
                break;
            }
            if (c == ' ' || c == '\t')
                return fail(f, LX_E_BAD_REQUEST,
                            "obs-fold (a header line continued) is not allowed");
            if (c == ':')
                return fail(f, LX_E_BAD_REQUEST, "a header with an empty name");
            if (!is_tchar(c))
                return fail(f, LX_E_BAD_REQUEST, "malformed header line");
            f->state = S_NAME;
            f->name_len = 0;
            /* fall through */
        case S_NAME:
            /* Names are kept (lowercased, 17 bytes: the longer of the two
             * that matter) and compared at the colon: | 0x20 lowercases
             * letters and maps no other tchar onto '-'. */
            {
                size_t len = f->name_len; /* in a register: the stores are chars */
                while (is_tchar(c)) {
                    if (len < sizeof f->name)
                        f->name[len] = (char)(c | 0x20);
                    len++;
                    if (p == end)
                        break;
                    c = *p++;
                }
                f->name_len = len > UINT8_MAX ? UINT8_MAX : (uint8_t)len;
                if (is_tchar(c))
                    goto more; /* the name goes on in the next bytes */
            }
            if (c == ' ' || c == '\t')
                return fail(f, LX_E_BAD_REQUEST, "whitespace between a header name and colon");
            if (c != ':')
                return fail(f, LX_E_BAD_REQUEST, "a header line without a colon");
            f->hdr =
                f->name_len == sizeof cl_name - 1 && memcmp(f->name, cl_name, f->name_len) == 0
                    ? HDR_CL
                : f->name_len == sizeof te_name - 1 && memcmp(f->name, te_name, f->name_len) == 0
                    ? HDR_TE
                    : HDR_OTHER;
            f->state = S_VALUE;
            f->digits = f->te_pos = f->sp = 0;
            f->num = 0;
            break;
        case S_VALUE:
            if (f->hdr == HDR_OTHER || f->trailers) {
                /* Most of a head: only CR, LF and NUL decide anything here
                 * (where the line ends, and where evhtp's C string does),
                 * so find them with memchr rather than byte by byte. */
                const unsigned char *from = p - 1;
                const unsigned char *cr = memchr(from, CR, (size_t)(end - from));
                size_t len = (size_t)((cr ? cr : end) - from);
                if (memchr(from, LF, len) || memchr(from, 0, len))
                    return fail(f, LX_E_BAD_REQUEST, "control character in a header value");
                if (cr == NULL) {
                    p = end;
                    break;
                }
                p = cr + 1;
                f->state = S_VALUE_LF;
                break;
            }
            if (c == CR) {
                f->state = S_VALUE_LF;
                break;
            }
            if (value_byte(f, c) != LX_OK)
                return LX_ERROR;
            break;
        case S_VALUE_LF:
            if (c != LF)
                return fail(f, LX_E_BAD_REQUEST, "bare CR in a header line");
            if (header_done(f) != LX_OK)
                return LX_ERROR;
            f->state = S_HDR_START;
            break;
        case S_HEAD_END_LF:
            if (c != LF)
                return fail(f, LX_E_BAD_REQUEST, "bare CR after the headers");
            if (head_done(f, base + (uint64_t)(p - start)) != LX_OK)
                return LX_ERROR;
            break;
        case S_CHUNK_SIZE: {
            int v = lx_hex_digit(c);
            if (c == CR && f->digits > 0) {
                f->state = S_CHUNK_SIZE_LF;
            } else if (v < 0) {
                return fail(f, LX_E_BAD_REQUEST, "malformed chunk size");
            } else if (++f->digits > 16) {
                return fail(f, LX_E_BAD_REQUEST, "chunk size too large");
            } else {
                f->num = (f->num << 4) | (uint64_t)v;
            }
            break;
        }
        case S_CHUNK_SIZE_LF:
            if (c != LF)
                return fail(f, LX_E_BAD_REQUEST, "malformed chunk size");
            if (f->num == 0) {
                f->trailers = true;
                f->state = S_HDR_START;
                f->head_start = base + (uint64_t)(p - start);
            } else {
                f->left = f->num;
                f->state = S_CHUNK_DATA;
            }
            break;
        case S_CHUNK_DATA_CR:
            if (c != CR)
                return fail(f, LX_E_BAD_REQUEST, "chunk longer than its size");
            f->state = S_CHUNK_DATA_LF;
            break;
        case S_CHUNK_DATA_LF:
            if (c != LF)
                return fail(f, LX_E_BAD_REQUEST, "chunk longer than its size");
            f->state = S_CHUNK_SIZE;
            f->digits = 0;
            f->num = 0;
            break;
        default:
            return LX_ERROR;
        }
    more:;
    }
    return f->state == S_ERROR ? LX_ERROR : LX_OK;
}
