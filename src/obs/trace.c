/* trace.c - trace and span ids, W3C trace context, samplers and spans
 * (trace.h). Pure but for the per-thread id generator and the clock. */
#include "obs/trace.h"

#include "core/crypto.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- ids ---- */

static _Thread_local uint64_t rng_s[4];
static _Thread_local bool rng_seeded;

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        do
            lx_random_bytes(rng_s, sizeof rng_s);
        while ((rng_s[0] | rng_s[1] | rng_s[2] | rng_s[3]) == 0);
        rng_seeded = true;
    }
    uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

bool lx_trace_id_is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

void lx_trace_random_id(uint8_t *p, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = rng_next();
            memcpy(p + i, &r, n - i < 8 ? n - i : 8);
        }
    } while (lx_trace_id_is_zero(p, n));
}

void lx_trace_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int64_t lx_trace_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- W3C trace context ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* uppercase is invalid in traceparent */
}

static bool unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int lx_traceparent_parse(const char *s, size_t n, lx_trace_ctx_t *out)
{
    uint8_t ver;
    lx_trace_ctx_t c;
    if (s == NULL || n < LX_TRACEPARENT_LEN || !unhex(s, &ver, 1) || ver == 0xff)
        return LX_ERROR;
    if (ver == 0 && n != LX_TRACEPARENT_LEN)
        return LX_ERROR;
    if (n > LX_TRACEPARENT_LEN && s[LX_TRACEPARENT_LEN] != '-')
        return LX_ERROR; /* a future version may add fields, after a '-' */
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return LX_ERROR;
    if (!unhex(s + 3, c.trace_id, 16) || !unhex(s + 36, c.span_id, 8) ||
        !unhex(s + 53, &c.flags, 1))
        return LX_ERROR;
    if (lx_trace_id_is_zero(c.trace_id, 16) || lx_trace_id_is_zero(c.span_id, 8))
        return LX_ERROR;
    *out = c;
    return LX_OK;
}

void lx_traceparent_format(const lx_trace_ctx_t *c, char out[LX_TRACEPARENT_LEN + 1])
{
    memcpy(out, "00-", 3);
    lx_trace_hex(c->trace_id, 16, out + 3);
    out[35] = '-';
    lx_trace_hex(c->span_id, 8, out + 36);
    out[52] = '-';
    uint8_t f = c->flags & LX_TRACE_FLAG_SAMPLED;
    lx_trace_hex(&f, 1, out + 53);
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

/* key = simple-key / tenant-id "@" system-id */
static bool ts_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    size_t tn = at ? (size_t)(at - k) : n;
    if (tn == 0 || !((k[0] >= 'a' && k[0] <= 'z') || (at && k[0] >= '0' && k[0] <= '9')))
        return false;
    if (tn > (at ? 241u : 256u))
        return false;
    for (size_t i = 0; i < tn; i++)
        if (!key_char(k[i]))
            return false;
    if (at) {
        const char *sys = at + 1;
        size_t sn = n - tn - 1;
        if (sn == 0 || sn > 14 || !(sys[0] >= 'a' && sys[0] <= 'z'))
            return false;
        for (size_t i = 0; i < sn; i++)
            if (!key_char(sys[i]))
                return false;
    }
    return true;
}

static bool ts_value(const char *v, size_t n)
{
    if (n == 0 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

bool lx_tracestate_valid(const char *s, size_t n)
{
    if (s == NULL || n == 0 || n > LX_TRACESTATE_MAX)
        return false;
    struct {
        const char *p;
        size_t n;
    } keys[32];
    int nkeys = 0;
    size_t i = 0;
    while (i <= n) {
        size_t e = i;
        while (e < n && s[e] != ',')
            e++;
        size_t a = i, b = e;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        if (b > a) { /* an empty list-member is allowed */
            const char *eq = memchr(s + a, '=', b - a);
            if (eq == NULL || nkeys == 32)
                return false;
            size_t kn = (size_t)(eq - (s + a));
            if (!ts_key(s + a, kn) || !ts_value(eq + 1, (size_t)(s + b - eq - 1)))
                return false;
            for (int k = 0; k < nkeys; k++)
                if (keys[k].n == kn && memcmp(keys[k].p, s + a, kn) == 0)
                    return false;
            keys[nkeys].p = s + a;
            keys[nkeys].n = kn;
            nkeys++;
        }
        i = e + 1;
    }
    return nkeys > 0;
}

/* ---- sampling ---- */

int lx_sampler_parse(const char *name, lx_sampler_kind_t *out)
{
    static const char *const names[] = {
        [LX_SAMPLER_ALWAYS_ON] = "always_on",
        [LX_SAMPLER_ALWAYS_OFF] = "always_off",
        [LX_SAMPLER_RATIO] = "traceidratio",
        [LX_SAMPLER_PARENT_ON] = "parentbased_always_on",
        [LX_SAMPLER_PARENT_OFF] = "parentbased_always_off",
        [LX_SAMPLER_PARENT_RATIO] = "parentbased_traceidratio",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (lx_sampler_kind_t)i;
            return LX_OK;
        }
    return LX_ERROR;
}

static bool ratio_keeps(double ratio, const uint8_t id[16])
{
    if (ratio <= 0)
        return false;
    if (ratio >= 1)
        return true;
    uint64_t x = 0;
    for (int i = 8; i < 16; i++)
        x = x << 8 | id[i];
    return (double)x < ratio * 18446744073709551616.0;
}

bool lx_sampler_decide(const lx_sampler_t *s, const lx_trace_ctx_t *parent,
                       const uint8_t trace_id[16])
{
    switch (s->kind) {
    case LX_SAMPLER_ALWAYS_ON:
        return true;
    case LX_SAMPLER_ALWAYS_OFF:
        return false;
    case LX_SAMPLER_RATIO:
        return ratio_keeps(s->ratio, trace_id);
    case LX_SAMPLER_PARENT_ON:
    case LX_SAMPLER_PARENT_OFF:
    case LX_SAMPLER_PARENT_RATIO:
        if (parent)
            return (parent->flags & LX_TRACE_FLAG_SAMPLED) != 0;
        if (s->kind == LX_SAMPLER_PARENT_RATIO)
            return ratio_keeps(s->ratio, trace_id);
        return s->kind == LX_SAMPLER_PARENT_ON;
    }
    return false;
}

/* ---- spans ---- */

lx_span_t *lx_span_new(const char *name, lx_span_kind_t kind, const uint8_t trace_id[16],
                       const uint8_t *parent_id, int64_t start_ns)
{
    lx_span_t *s = lx_alloc(sizeof *s);
    memset(s, 0, offsetof(lx_span_t, attrs));
    memcpy(s->trace_id, trace_id, 16);
    lx_trace_random_id(s->span_id, 8);
    if (parent_id) {
        memcpy(s->parent_id, parent_id, 8);
        s->has_parent = true;
    }
    s->kind = kind;
    s->start_ns = start_ns;
    lx_copy_cstr(s->name, sizeof s->name, name);
    return s;
}

static lx_attr_t *slot(lx_span_t *s, const char *key)
{
    for (int i = 0; i < s->nattrs; i++)
        if (strcmp(s->attrs[i].key, key) == 0) {
            if (s->attrs[i].type == LX_ATTR_STR)
                free(s->attrs[i].s);
            s->attrs[i].s = NULL;
            return &s->attrs[i];
        }
    if (s->nattrs == LX_SPAN_MAX_ATTRS)
        return NULL;
    lx_attr_t *a = &s->attrs[s->nattrs++];
    a->key = key;
    a->s = NULL;
    return a;
}

void lx_span_str(lx_span_t *s, const char *key, const char *v, size_t n)
{
    lx_attr_t *a = slot(s, key);
    if (a == NULL)
        return;
    a->type = LX_ATTR_STR;
    a->s = lx_alloc(n + 1);
    memcpy(a->s, v, n);
    a->s[n] = '\0';
    a->slen = n;
}

void lx_span_cstr(lx_span_t *s, const char *key, const char *v)
{
    lx_span_str(s, key, v ? v : "", v ? strlen(v) : 0);
}

void lx_span_int(lx_span_t *s, const char *key, int64_t v)
{
    lx_attr_t *a = slot(s, key);
    if (a) {
        a->type = LX_ATTR_INT;
        a->v.i = v;
    }
}

void lx_span_double(lx_span_t *s, const char *key, double v)
{
    lx_attr_t *a = slot(s, key);
    if (a) {
        a->type = LX_ATTR_DOUBLE;
        a->v.d = v;
    }
}

void lx_span_bool(lx_span_t *s, const char *key, bool v)
{
    lx_attr_t *a = slot(s, key);
    if (a) {
        a->type = LX_ATTR_BOOL;
        a->v.b = v;
    }
}

const lx_attr_t *lx_span_attr(const lx_span_t *s, const char *key)
{
    for (int i = 0; i < s->nattrs; i++)
        if (strcmp(s->attrs[i].key, key) == 0)
            return &s->attrs[i];
    return NULL;
}

void lx_span_free(lx_span_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->nattrs; i++)
        if (s->attrs[i].type == LX_ATTR_STR)
            free(s->attrs[i].s);
    free(s->tracestate);
    free(s);
}
