/* call_log.c - the attempts of one AI call as the request log shows them:
 * noted in the call's fixed log (no allocation) as they start and end, and
 * rendered once, by the finalizer, as a compact JSON array into the usage
 * record's fixed buffer (the usage sink writes it as text). */
#include "ai/call_int.h"

#include <string.h>

static lx_call_att_t *newest(lx_call_t *c)
{
    int k = c->attempts - 1; /* lx_call_log_start comes before the count */
    return k >= 0 && k < LX_CALL_LOG_MAX ? &c->log[k] : NULL;
}

void lx_call_log_start(lx_call_t *c, int64_t now_us)
{
    if (c->attempts >= LX_CALL_LOG_MAX)
        return;
    /* a retry that found its target refused (breaker, cooling, limits)
     * went on to the next one: a fallback after all */
    lx_call_att_t *prev = c->attempts > 0 ? &c->log[c->attempts - 1] : NULL;
    if (prev && prev->ti != c->ti)
        prev->then = LX_ATT_THEN_FALLBACK;
    c->log[c->attempts] = (lx_call_att_t){.ti = (int16_t)c->ti,
                                          .cls = LX_FAIL__COUNT,
                                          .start_us = now_us,
                                          .ttfb_us = -1,
                                          .dur_us = -1};
}

void lx_call_log_end(lx_call_t *c, const lx_up_result_t *res, int status, int cls)
{
    lx_call_att_t *a = newest(c);
    if (a == NULL)
        return;
    a->status = (int16_t)(status > 0 && status < 1000 ? status : 0);
    a->outcome = (uint8_t)res->outcome;
    a->cls = (uint8_t)cls;
    a->ttfb_us = res->first_byte_us;
    a->dur_us = res->total_us;
}

void lx_call_log_then(lx_call_t *c, lx_att_then_t then)
{
    lx_call_att_t *a = newest(c);
    if (a)
        a->then = (uint8_t)then;
}

static const char *const cls_names[] = {
    [LX_FAIL_SUCCESS] = "success", [LX_FAIL_RETRY] = "retry",         [LX_FAIL_ROTATE] = "rotate",
    [LX_FAIL_FATAL] = "fatal",     [LX_FAIL_FLAG_AUTH] = "auth_flag", [LX_FAIL_NEXT] = "next",
    [LX_FAIL__COUNT] = "open",
};
static const char *const then_names[] = {"end", "retry", "fallback"};

/* A writer into a fixed buffer that remembers whether anything failed to fit. */
typedef struct {
    char *p;
    size_t n, cap;
    bool full;
} fixed_t;

static void put(fixed_t *w, const char *s, size_t n)
{
    if (w->full || w->n + n >= w->cap) {
        w->full = true;
        return;
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

/* A string literal, its length counted by the compiler. */
#define PUT_LIT(w, lit) put(w, lit, sizeof(lit) - 1)

static void put_cstr(fixed_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/* v in decimal: the finalizer renders this for every request, and printf
 * cost about 6,000 instructions a request here. */
static void put_int(fixed_t *w, int64_t v)
{
    char d[24];
    put(w, d, lx_i64_str(d, v));
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void put_str(fixed_t *w, const char *s)
{
    PUT_LIT(w, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            put(w, e, 2);
        } else if (ch < 0x20) {
            static const char hex[] = "0123456789abcdef";
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            put(w, e, sizeof e);
        } else {
            put(w, s, 1);
        }
    }
    PUT_LIT(w, "\"");
}

/* One attempt's object; prev: what followed the attempt before it (how
 * this one came about), NULL for the first. */
static void put_attempt(fixed_t *w, const lx_call_t *c, int i, int64_t now_us)
{
    const lx_call_att_t *a = &c->log[i];
    const lx_target_t *t = &c->targets[a->ti];
    bool open = a->cls == LX_FAIL__COUNT;
    PUT_LIT(w, "{\"n\":");
    put_int(w, i + 1);
    PUT_LIT(w, ",\"provider\":");
    put_str(w, t->conf.name ? t->conf.name : "");
    PUT_LIT(w, ",\"connection_id\":");
    put_int(w, t->cred ? t->cred->id : 0);
    PUT_LIT(w, ",\"model\":");
    put_str(w, t->upstream_model);
    PUT_LIT(w, ",\"status\":");
    if (a->status)
        put_int(w, a->status);
    else
        PUT_LIT(w, "null");
    PUT_LIT(w, ",\"transport\":");
    put_str(w, open ? "open" : lx_up_outcome_name((lx_up_outcome_t)a->outcome));
    PUT_LIT(w, ",\"verdict\":\"");
    put_cstr(w, cls_names[a->cls]);
    PUT_LIT(w, "\",\"then\":\"");
    put_cstr(w, then_names[a->then]);
    PUT_LIT(w, "\"");
    if (a->then != LX_ATT_THEN_END) { /* why there was another attempt */
        PUT_LIT(w, ",\"reason\":\"");
        if (a->outcome != LX_UP_OK || a->status == 0) {
            put_cstr(w, lx_up_outcome_name((lx_up_outcome_t)a->outcome));
        } else {
            PUT_LIT(w, "HTTP ");
            put_int(w, a->status);
        }
        PUT_LIT(w, "\"");
    }
    const lx_call_att_t *prev = i > 0 ? &c->log[i - 1] : NULL;
    PUT_LIT(w, ",\"retry\":");
    put_cstr(w, prev && prev->ti == a->ti ? "true" : "false");
    PUT_LIT(w, ",\"fallback\":");
    put_cstr(w, prev && prev->ti != a->ti ? "true" : "false");
    PUT_LIT(w, ",\"duration_us\":");
    put_int(w, open ? now_us - a->start_us : a->dur_us);
    PUT_LIT(w, ",\"ttfb_us\":");
    if (a->ttfb_us >= 0)
        put_int(w, a->ttfb_us);
    else
        PUT_LIT(w, "null");
    PUT_LIT(w, "}");
}

void lx_call_log_render(const lx_call_t *c, int64_t now_us, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    int logged = LX_MIN(c->attempts, LX_CALL_LOG_MAX);
    if (logged == 0 || cap < 32)
        return;
    /* room kept for the closing {"more":n}] */
    fixed_t w = {out, 0, cap - 24, false};
    put(&w, "[", 1);
    int i = 0;
    for (; i < logged; i++) {
        size_t at = w.n;
        if (i)
            put(&w, ",", 1);
        put_attempt(&w, c, i, now_us);
        if (w.full) {
            w.n = at; /* this one did not fit: dropped whole */
            break;
        }
    }
    w.cap = cap;
    w.full = false;
    if (c->attempts > i) {
        if (i)
            PUT_LIT(&w, ",");
        PUT_LIT(&w, "{\"more\":");
        put_int(&w, c->attempts - i);
        PUT_LIT(&w, "}");
    }
    put(&w, "]", 1);
    out[w.n] = '\0';
}
