/* jscan.c - the minimal JSON scanner (see jscan.h): skipping values, object
 * and array lookups, string decoding. */
#include "jscan.h"

#include <string.h>

static const char *ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at the opening quote; returns just past the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* p at the first byte of a value; returns just past it, or NULL. */
static const char *skip_value(const char *p, const char *end)
{
    if (p >= end)
        return NULL;
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                if (p == NULL)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    /* number, true, false, null */
    const char *q = p;
    while (q < end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\t' &&
           *q != '\n' && *q != '\r')
        q++;
    return q > p ? q : NULL;
}

bool lb_json_value(lb_span_t s, lb_span_t *out)
{
    const char *end = s.p + s.n;
    const char *p = ws(s.p, end);
    const char *q = skip_value(p, end);

    if (q == NULL)
        return false;
    out->p = p;
    out->n = (size_t)(q - p);
    return true;
}

bool lb_json_iter_init(lb_json_iter_t *it, lb_span_t obj)
{
    it->end = obj.p + obj.n;
    it->p = ws(obj.p, it->end);
    it->bad = it->p >= it->end || *it->p != '{';
    if (!it->bad)
        it->p++;
    return !it->bad;
}

bool lb_json_iter_next(lb_json_iter_t *it, lb_span_t *key, lb_span_t *val)
{
    const char *p, *q, *end = it->end;

    if (it->bad)
        return false;
    p = ws(it->p, end);
    if (p < end && *p == ',')
        p = ws(p + 1, end);
    if (p >= end || *p != '"') {
        it->bad = true; /* '}' (the end) or garbage: stop either way */
        return false;
    }
    q = skip_string(p, end);
    if (q == NULL)
        goto bad;
    key->p = p + 1;
    key->n = (size_t)(q - p - 2);
    p = ws(q, end);
    if (p >= end || *p != ':')
        goto bad;
    p = ws(p + 1, end);
    q = skip_value(p, end);
    if (q == NULL)
        goto bad;
    val->p = p;
    val->n = (size_t)(q - p);
    it->p = q;
    return true;
bad:
    it->bad = true;
    return false;
}

bool lb_json_get(lb_span_t obj, const char *key, lb_span_t *val)
{
    lb_json_iter_t it;
    lb_span_t k, v;
    size_t kn = strlen(key);

    if (!lb_json_iter_init(&it, obj))
        return false;
    while (lb_json_iter_next(&it, &k, &v)) {
        if (k.n == kn && memcmp(k.p, key, kn) == 0) {
            *val = v;
            return true;
        }
    }
    return false;
}

bool lb_json_at(lb_span_t arr, size_t idx, lb_span_t *val)
{
    const char *end = arr.p + arr.n;
    const char *p = ws(arr.p, end);

    if (p >= end || *p != '[')
        return false;
    p = ws(p + 1, end);
    for (size_t i = 0;; i++) {
        const char *q;
        if (p >= end || *p == ']')
            return false;
        q = skip_value(p, end);
        if (q == NULL)
            return false;
        if (i == idx) {
            val->p = p;
            val->n = (size_t)(q - p);
            return true;
        }
        p = ws(q, end);
        if (p >= end || *p != ',')
            return false;
        p = ws(p + 1, end);
    }
}

bool lb_json_is_string(lb_span_t v)
{
    return v.n >= 2 && v.p[0] == '"';
}

bool lb_json_str_is(lb_span_t v, const char *lit)
{
    size_t n = strlen(lit);

    return v.n == n + 2 && v.p[0] == '"' && memcmp(v.p + 1, lit, n) == 0;
}

void lb_json_str_init(lb_json_str_t *s, lb_span_t v)
{
    s->bad = !lb_json_is_string(v);
    s->p = s->bad ? v.p : v.p + 1;
    s->end = s->bad ? v.p : v.p + v.n - 1; /* before the closing quote */
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t lb_json_str_read(lb_json_str_t *s, char *out, size_t cap)
{
    size_t n = 0;

    while (s->p < s->end && !s->bad && cap - n >= 4) {
        char c = *s->p;
        if (c != '\\') {
            out[n++] = c;
            s->p++;
            continue;
        }
        if (s->end - s->p < 2) {
            s->bad = true;
            break;
        }
        c = s->p[1];
        s->p += 2;
        switch (c) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(s->p, s->end, &cp) < 0) {
                s->bad = true;
                break;
            }
            s->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' &&
                    hex4(s->p + 2, s->end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    s->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            n += utf8(cp, out + n);
            break;
        }
        default:
            s->bad = true;
            break;
        }
    }
    return n;
}
