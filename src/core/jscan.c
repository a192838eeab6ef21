/* jscan.c - the allocation-free JSON validator and walker (see jscan.h). */
#include "core/jscan.h"
#include "core/json.h"

#include <string.h>

/* Duplicate keys are found by comparing each key with the earlier keys of
 * its object, kept for every open object in a fixed table. Past these
 * bounds the scan cannot (cheaply) tell, and says UNSURE. */
#define MAX_OBJ_KEYS 128 /* keys in one object */
#define MAX_KEYS     256 /* keys of all the open objects */
#define MAX_ESC_KEYS 32  /* keys written with escapes, in the document */
#define MAX_NUMBER   100 /* bytes of a real number */
#define MAX_INT      18  /* digits of an integer: always fits an int64_t */
#define MAX_REAL_MAG 308 /* below 10^308: never overflows a double */

/* ------------------------------------------------------------------------ */
/* Skipping (shared with ai/body.c, which also reads unvalidated text)       */

size_t lx_jscan_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

size_t lx_jscan_skip_string(const char *p, size_t n, size_t i)
{
    size_t from = i + 1;
    for (;;) {
        const char *q = from < n ? memchr(p + from, '"', n - from) : NULL;
        if (q == NULL)
            return n;
        /* The quote ends the string unless an odd run of backslashes
         * precedes it. */
        size_t at = (size_t)(q - p), k = at;
        while (k > i + 1 && p[k - 1] == '\\')
            k--;
        if ((at - k) % 2 == 0)
            return at + 1;
        from = at + 1;
    }
}

size_t lx_jscan_skip_value(const char *p, size_t n, size_t i)
{
    if (i >= n)
        return n;
    if (p[i] == '"')
        return lx_jscan_skip_string(p, n, i);
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        while (i < n) {
            char c = p[i];
            if (c == '"') {
                i = lx_jscan_skip_string(p, n, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' && p[i] != '\n' &&
           p[i] != '\r' && p[i] != '\t')
        i++;
    return i;
}

/* ------------------------------------------------------------------------ */
/* Decoding strings (validated ones, or plain UTF-8 literals)                */

static int hex4(const char *p, size_t n, size_t i)
{
    if (i > n || n - i < 4)
        return -1;
    int v = 0;
    for (size_t k = i; k < i + 4; k++) {
        char c = p[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* The code point at s[*i] (an escape if esc), advancing *i. Bytes that do
 * not decode come back one by one, so a bad literal only fails to match. */
static uint32_t next_cp(const char *s, size_t n, size_t *i, bool esc)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t at = *i;
    if (esc && u[at] == '\\' && at + 1 < n) {
        *i = at + 2;
        switch (u[at + 1]) {
        case 'b':
            return '\b';
        case 'f':
            return '\f';
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 't':
            return '\t';
        case 'u': {
            int v = hex4(s, n, at + 2);
            if (v < 0)
                return u[at + 1];
            *i = at + 6;
            bool pair =
                v >= 0xD800 && v <= 0xDBFF && at + 7 < n && u[at + 6] == '\\' && u[at + 7] == 'u';
            int lo = pair ? hex4(s, n, at + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return (uint32_t)v;
            *i = at + 12;
            return 0x10000 + ((uint32_t)(v - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
        }
        default:
            return u[at + 1];
        }
    }
    unsigned c = u[at];
    size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (k > n - at) {
        k = 1;
    }
    *i = at + k;
    if (k == 1)
        return c;
    uint32_t v = c & (0x3Fu >> (k - 1));
    for (size_t j = 1; j < k; j++)
        v = v << 6 | (u[at + j] & 0x3Fu);
    return v;
}

/* Two string contents (between the quotes) equal once decoded. */
static bool str_eq(const char *a, size_t an, bool aesc, const char *b, size_t bn, bool besc)
{
    if (!aesc && !besc)
        return an == bn && memcmp(a, b, an) == 0;
    size_t i = 0, j = 0;
    while (i < an && j < bn)
        if (next_cp(a, an, &i, aesc) != next_cp(b, bn, &j, besc))
            return false;
    return i == an && j == bn;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */

typedef struct {
    uint32_t off, len; /* the raw key between its quotes */
    uint32_t dlen;     /* its length decoded */
    uint32_t hash;     /* of the raw bytes (keys without escapes) */
    bool esc;
} key_ref_t;

typedef struct {
    const char *p;
    size_t n;
    lx_jscan_rc_t rc;                     /* why a scan_* returned 0 */
    unsigned nkeys, nesc;                 /* keys in the table, escaped keys seen */
    uint64_t objs;                        /* bit d-1: the container at depth d is an object */
    uint16_t base[LX_JSON_MAX_DEPTH + 1]; /* first key of the object at each depth */
    key_ref_t keys[MAX_KEYS];
} scan_t;

/* A whole UTF-8 sequence at u[i] (lead byte >= 0x80): its length, or 0 if
 * it is malformed, overlong, a surrogate or beyond U+10FFFF. */
static size_t utf8_len(const unsigned char *u, size_t n, size_t i)
{
    unsigned c = u[i], lo = 0x80, hi = 0xBF;
    size_t k;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (n - i < k || u[i + 1] < lo || u[i + 1] > hi)
        return 0;
    for (size_t j = 2; j < k; j++)
        if ((u[i + j] & 0xC0) != 0x80)
            return 0;
    return k;
}

/* Eight bytes that need no look: no quote, backslash, control or non-ASCII
 * byte among them. */
static inline bool plain8(const unsigned char *u)
{
    uint64_t w, ones = 0x0101010101010101u, high = ones * 0x80;
    memcpy(&w, u, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t bad = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w;
    return (bad & high) == 0;
}

/* i at an opening quote. Returns the index after the closing quote, or 0
 * with s->rc set. *dlen is the decoded length, *esc whether it has escapes. */
static size_t scan_string(scan_t *s, size_t i, size_t *dlen, bool *esc)
{
    const unsigned char *u = (const unsigned char *)s->p;
    size_t n = s->n, start = ++i, extra = 0; /* extra: raw bytes beyond the decoded ones */
    *esc = false;
    for (;;) {
        while (n - i >= 8 && plain8(u + i))
            i += 8;
        while (i < n && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\')
            i++;
        if (i >= n)
            break;
        unsigned c = u[i];
        if (c == '"') {
            *dlen = i - start - extra;
            return i + 1;
        }
        if (c < 0x20)
            break;
        if (c >= 0x80) {
            size_t k = utf8_len(u, n, i);
            if (k == 0)
                break;
            i += k;
            continue;
        }
        /* an escape */
        *esc = true;
        if (i + 1 >= n)
            break;
        switch (u[i + 1]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            i += 2;
            extra++;
            continue;
        default:
            break;
        }
        int v = u[i + 1] == 'u' ? hex4(s->p, n, i + 2) : -1;
        if (v < 0 || (v >= 0xDC00 && v <= 0xDFFF))
            break;
        if (v == 0) { /* jansson refuses NUL without JSON_ALLOW_NUL: let it say so */
            s->rc = LX_JSCAN_UNSURE;
            return 0;
        }
        if (v >= 0xD800 && v <= 0xDBFF) {
            int lo = i + 7 < n && u[i + 6] == '\\' && u[i + 7] == 'u' ? hex4(s->p, n, i + 8) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                break;
            i += 12;
            extra += 12 - 4;
            continue;
        }
        i += 6;
        extra += 6 - (v < 0x80 ? 1 : v < 0x800 ? 2 : 3);
    }
    s->rc = LX_JSCAN_INVALID;
    return 0;
}

/* i at the first byte of a number. Returns the index after it, or 0. */
static size_t scan_number(scan_t *s, size_t i)
{
    const char *p = s->p;
    size_t n = s->n, start = i;
    s->rc = LX_JSCAN_INVALID;
    if (p[i] == '-')
        i++;
    size_t digits = i;
    if (i < n && p[i] == '0') {
        i++;
        if (i < n && p[i] >= '0' && p[i] <= '9')
            return 0; /* a leading zero */
    } else if (i < n && p[i] >= '1' && p[i] <= '9') {
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    } else {
        return 0;
    }
    long mag = (long)(i - digits); /* the value is below 10^mag */
    bool real = false;
    if (i < n && p[i] == '.') {
        if (++i >= n || p[i] < '0' || p[i] > '9')
            return 0;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        real = true;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        bool neg = false;
        if (++i < n && (p[i] == '+' || p[i] == '-'))
            neg = p[i++] == '-';
        if (i >= n || p[i] < '0' || p[i] > '9')
            return 0;
        long e = 0;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (p[i] - '0');
        mag += neg ? -e : e;
        real = true;
    }
    /* jansson refuses integers beyond json_int_t and reals that overflow a
     * double; rather than mimic strtoll and strtod, leave the edge to it. */
    if (real ? mag > MAX_REAL_MAG || i - start > MAX_NUMBER : i - digits > MAX_INT) {
        s->rc = LX_JSCAN_UNSURE;
        return 0;
    }
    return i;
}

static uint32_t key_hash(const char *k, size_t n)
{
    uint32_t a = 0, b = 0;
    if (n >= 4) {
        memcpy(&a, k, 4);
        memcpy(&b, k + n - 4, 4);
    } else {
        for (size_t j = 0; j < n; j++)
            a = a << 8 | (unsigned char)k[j];
    }
    return (a * 0x9E3779B1u) ^ (b * 0x85EBCA77u) ^ (uint32_t)n;
}

/* Records a key of the object at depth d: INVALID if the object already has
 * it (jansson refuses duplicate keys), UNSURE past the table's bounds. */
static lx_jscan_rc_t add_key(scan_t *s, int d, size_t off, size_t len, size_t dlen, bool esc)
{
    unsigned first = s->base[d];
    if (s->nkeys - first >= MAX_OBJ_KEYS || s->nkeys == MAX_KEYS ||
        (esc && ++s->nesc > MAX_ESC_KEYS))
        return LX_JSCAN_UNSURE;
    const char *k = s->p + off;
    uint32_t h = esc ? 0 : key_hash(k, len);
    for (unsigned j = first; j < s->nkeys; j++) {
        const key_ref_t *o = &s->keys[j];
        if (o->dlen != dlen || (!esc && !o->esc && o->hash != h))
            continue;
        if (str_eq(s->p + o->off, o->len, o->esc, k, len, esc))
            return LX_JSCAN_INVALID;
    }
    s->keys[s->nkeys++] = (key_ref_t){(uint32_t)off, (uint32_t)len, (uint32_t)dlen, h, esc};
    return LX_JSCAN_OK;
}

static bool literal(const char *p, size_t n, size_t i, const char *lit, size_t len)
{
    return n - i >= len && memcmp(p + i, lit, len) == 0;
}

lx_jscan_rc_t lx_jscan_validate(const char *p, size_t n)
{
    enum { VALUE, KEY, NEXT } want = VALUE;
    scan_t s;
    s.p = p;
    s.n = n;
    s.nkeys = s.nesc = 0;
    s.objs = 0;
    s.base[0] = 0;
    int d = 0;
    size_t i = lx_jscan_ws(p, n, 0);
    if (i >= n || (p[i] != '{' && p[i] != '['))
        return LX_JSCAN_INVALID; /* jansson wants an object or an array */
    if (n > UINT32_MAX)
        return LX_JSCAN_UNSURE;
    for (;;) {
        if (want == NEXT) {
            i = lx_jscan_ws(p, n, i);
            if (d == 0)
                return i == n ? LX_JSCAN_OK : LX_JSCAN_INVALID;
            if (i >= n)
                return LX_JSCAN_INVALID;
            bool obj = (s.objs >> (d - 1)) & 1;
            if (p[i] == ',') {
                i = lx_jscan_ws(p, n, i + 1);
                want = obj ? KEY : VALUE;
            } else if (p[i] == (obj ? '}' : ']')) {
                i++;
                s.nkeys = s.base[d];
                d--;
                continue;
            } else {
                return LX_JSCAN_INVALID;
            }
        }
        if (i >= n)
            return LX_JSCAN_INVALID;
        if (want == KEY) {
            size_t dlen, end;
            bool esc;
            if (p[i] != '"')
                return LX_JSCAN_INVALID;
            if ((end = scan_string(&s, i, &dlen, &esc)) == 0)
                return s.rc;
            lx_jscan_rc_t rc = add_key(&s, d, i + 1, end - i - 2, dlen, esc);
            if (rc != LX_JSCAN_OK)
                return rc;
            i = lx_jscan_ws(p, n, end);
            if (i >= n || p[i] != ':')
                return LX_JSCAN_INVALID;
            i = lx_jscan_ws(p, n, i + 1);
            if (i >= n)
                return LX_JSCAN_INVALID;
        }
        /* a value at p[i] */
        want = NEXT;
        char c = p[i];
        if (c == '{' || c == '[') {
            if (d == LX_JSON_MAX_DEPTH)
                return LX_JSCAN_INVALID;
            uint64_t bit = (uint64_t)1 << d;
            s.objs = c == '{' ? s.objs | bit : s.objs & ~bit;
            s.base[++d] = (uint16_t)s.nkeys;
            i = lx_jscan_ws(p, n, i + 1);
            if (i < n && p[i] == (c == '{' ? '}' : ']')) {
                i++;
                d--;
            } else {
                want = c == '{' ? KEY : VALUE;
            }
        } else if (c == '"') {
            size_t dlen;
            bool esc;
            if ((i = scan_string(&s, i, &dlen, &esc)) == 0)
                return s.rc;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if ((i = scan_number(&s, i)) == 0)
                return s.rc;
        } else if (literal(p, n, i, "true", 4)) {
            i += 4;
        } else if (literal(p, n, i, "false", 5)) {
            i += 5;
        } else if (literal(p, n, i, "null", 4)) {
            i += 4;
        } else {
            return LX_JSCAN_INVALID;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Walking validated text                                                    */

static bool begin(lx_jscan_iter_t *it, lx_str_t v, char open)
{
    size_t i = lx_jscan_ws(v.p, v.n, 0);
    if (i >= v.n || v.p[i] != open)
        return false;
    *it = (lx_jscan_iter_t){v.p, v.n, i + 1};
    return true;
}

bool lx_jscan_obj_begin(lx_jscan_iter_t *it, lx_str_t v)
{
    return begin(it, v, '{');
}

bool lx_jscan_arr_begin(lx_jscan_iter_t *it, lx_str_t v)
{
    return begin(it, v, '[');
}

/* The next value at the cursor (after a ',' if there is one); false at the
 * closing bracket. */
static bool next_value(lx_jscan_iter_t *it, size_t i, lx_str_t *v)
{
    i = lx_jscan_ws(it->p, it->n, i);
    size_t end = lx_jscan_skip_value(it->p, it->n, i);
    if (end <= i) {
        it->i = it->n;
        return false;
    }
    *v = (lx_str_t){it->p + i, end - i};
    it->i = end;
    return true;
}

static size_t after_comma(const lx_jscan_iter_t *it)
{
    size_t i = lx_jscan_ws(it->p, it->n, it->i);
    return i < it->n && it->p[i] == ',' ? lx_jscan_ws(it->p, it->n, i + 1) : i;
}

bool lx_jscan_obj_next(lx_jscan_iter_t *it, lx_jscan_member_t *m)
{
    const char *p = it->p;
    size_t n = it->n, i = after_comma(it), end = i + 1;
    if (i >= n || p[i] != '"') {
        it->i = n;
        return false;
    }
    /* Keys are short: a byte loop beats memchr. */
    bool esc = false;
    while (end < n && p[end] != '"') {
        if (p[end] == '\\') {
            esc = true;
            end++;
        }
        end++;
    }
    if (end >= n) {
        it->i = n;
        return false;
    }
    m->key = (lx_str_t){p + i + 1, end - i - 1};
    m->key_esc = esc;
    i = lx_jscan_ws(p, n, end + 1);
    if (i >= n || p[i] != ':') {
        it->i = n;
        return false;
    }
    return next_value(it, i + 1, &m->val);
}

bool lx_jscan_arr_next(lx_jscan_iter_t *it, lx_str_t *v)
{
    size_t i = after_comma(it);
    if (i >= it->n || it->p[i] == ']') {
        it->i = it->n;
        return false;
    }
    return next_value(it, i, v);
}

bool lx_jscan_key_is(const lx_jscan_member_t *m, const char *lit)
{
    if (m->key_esc)
        return str_eq(m->key.p, m->key.n, true, lit, strlen(lit), false);
    return strnlen(lit, m->key.n + 1) == m->key.n && memcmp(m->key.p, lit, m->key.n) == 0;
}

bool lx_jscan_str_is(lx_str_t v, const char *lit)
{
    if (v.n < 2 || v.p[0] != '"')
        return false;
    bool esc = memchr(v.p + 1, '\\', v.n - 2) != NULL;
    return str_eq(v.p + 1, v.n - 2, esc, lit, strlen(lit), false);
}

bool lx_jscan_str_raw(lx_str_t v, lx_str_t *out)
{
    if (v.n < 2 || v.p[0] != '"' || memchr(v.p + 1, '\\', v.n - 2) != NULL)
        return false;
    *out = (lx_str_t){v.p + 1, v.n - 2};
    return true;
}

bool lx_jscan_is_true(lx_str_t v)
{
    return v.n == 4 && memcmp(v.p, "true", 4) == 0;
}

bool lx_jscan_int(lx_str_t v, int64_t *out)
{
    size_t i = v.n > 0 && v.p[0] == '-' ? 1 : 0;
    if (i == v.n)
        return false;
    uint64_t mag = 0, limit = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < v.n; i++) {
        unsigned d = (unsigned)(v.p[i] - '0');
        if (d > 9 || mag > (limit - d) / 10)
            return false;
        mag = mag * 10 + d;
    }
    *out = v.p[0] == '-' ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}
