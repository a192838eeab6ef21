/* metrics.c - the per-worker series tables of the AI request metrics and
 * their merge at scrape time (metrics.h). */
#include "obs/metrics_int.h"
#include "core/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int table_hists[T__COUNT] = {[T_LAT] = H__COUNT};

static inline void bump(_Atomic uint64_t *v, uint64_t d)
{
    atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

lx_metrics_t *lx_metrics_new(bool per_key)
{
    lx_metrics_t *m = lx_calloc(1, sizeof *m);
    m->per_key = per_key;
    for (int i = 0; i < T__COUNT; i++)
        m->t[i].nh = table_hists[i];
    return m;
}

void lx_metrics_free(lx_metrics_t *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < T__COUNT; i++) {
        lx_mseries_t *s = atomic_load_explicit(&m->t[i].head, memory_order_acquire);
        while (s) {
            lx_mseries_t *next = s->next;
            free(s);
            s = next;
        }
        free(m->t[i].idx);
    }
    free(m);
}

/* ---- labels ---- */

size_t lx_metrics_labels(char *out, size_t cap, const char *const *names, const char *const *values,
                         int n)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        const char *v = values[i] ? values[i] : "other";
        size_t nl = strlen(names[i]);
        if (o + nl + 4 >= cap)
            return 0;
        if (i)
            out[o++] = ',';
        memcpy(out + o, names[i], nl);
        o += nl;
        out[o++] = '=';
        out[o++] = '"';
        for (size_t k = 0; v[k] && k < LX_METRICS_LABEL_MAX; k++) {
            char e = v[k] == '\\' ? '\\' : v[k] == '"' ? '"' : v[k] == '\n' ? 'n' : 0;
            if (o + 3 >= cap)
                return 0;
            if (e) {
                out[o++] = '\\';
                out[o++] = e;
            } else {
                out[o++] = v[k];
            }
        }
        if (o + 2 >= cap)
            return 0;
        out[o++] = '"';
    }
    out[o] = '\0';
    return o;
}

const char *lx_metrics_status_class(int status)
{
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    return status >= 100 && status <= 599 ? cls[status / 100] : "other";
}

/* ---- series (owner thread) ---- */

static uint64_t hash_of(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static void idx_put(mtab_t *t, lx_mseries_t *s)
{
    size_t mask = t->cap - 1, i = s->hash & mask;
    while (t->idx[i])
        i = (i + 1) & mask;
    t->idx[i] = s;
}

static lx_mseries_t *series_get(mtab_t *t, const char *labels, size_t len)
{
    if (len == 0)
        return NULL;
    uint64_t h = hash_of(labels, len);
    if (t->cap) {
        size_t mask = t->cap - 1;
        for (size_t i = h & mask; t->idx[i]; i = (i + 1) & mask) {
            lx_mseries_t *s = t->idx[i];
            if (s->hash == h && s->len == len && memcmp(s->labels, labels, len) == 0)
                return s;
        }
    }
    if (t->n >= LX_METRICS_MAX_SERIES) {
        bump(&t->dropped, 1);
        return NULL;
    }
    if (2 * (t->n + 1) > t->cap) { /* grow the owner's index (a new series may allocate) */
        size_t old = t->cap;
        lx_mseries_t **oidx = t->idx;
        t->cap = old ? old * 2 : 64;
        t->idx = lx_calloc(t->cap, sizeof *t->idx);
        for (size_t i = 0; i < old; i++)
            if (oidx[i])
                idx_put(t, oidx[i]);
        free(oidx);
    }
    size_t hb = (size_t)t->nh * sizeof(lx_hist_t);
    lx_mseries_t *s = lx_calloc(1, sizeof *s + hb + len + 1);
    char *lab = (char *)s + sizeof *s + hb;
    memcpy(lab, labels, len);
    s->labels = lab;
    s->len = len;
    s->hash = h;
    s->next = atomic_load_explicit(&t->head, memory_order_relaxed);
    idx_put(t, s);
    t->n++;
    atomic_store_explicit(&t->head, s, memory_order_release); /* readers see it whole */
    return s;
}

static lx_mseries_t *get(mtab_t *t, const char *const *names, const char *const *values, int n)
{
    char lab[2048]; /* 5 labels of LX_METRICS_LABEL_MAX bytes, each escaped: fits */
    return series_get(t, lab, lx_metrics_labels(lab, sizeof lab, names, values, n));
}

static uint64_t nano_usd(double usd)
{
    return usd > 0 && isfinite(usd) ? (uint64_t)llround(usd * 1e9) : 0;
}

static uint64_t pos(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

static void spend(mtab_t *t, const char *name, const char *value, const lx_metrics_req_t *r)
{
    const char *names[1] = {name}, *values[1] = {value};
    lx_mseries_t *s = get(t, names, values, 1);
    if (s == NULL)
        return;
    bump(&s->c[0], 1);
    bump(&s->c[1], pos(r->tokens_in));
    bump(&s->c[2], pos(r->tokens_out));
    bump(&s->c[3], nano_usd(r->cost_usd));
}

void lx_metrics_request(lx_metrics_t *m, const lx_metrics_req_t *r)
{
    if (m == NULL)
        return;
    static const char *const rn[5] = {"endpoint", "provider", "model", "status_class", "reason"};
    const char *rv[5] = {r->endpoint, r->provider, r->model, lx_metrics_status_class(r->status),
                         r->reason && r->reason[0] ? r->reason : "ok"};
    lx_mseries_t *s = get(&m->t[T_REQ], rn, rv, 5);
    if (s)
        bump(&s->c[0], 1);
    s = get(&m->t[T_LAT], rn, rv, 2);
    if (s) {
        lx_hist_observe(&s->h[H_TOTAL], r->total_us);
        if (r->upstream_us >= 0)
            lx_hist_observe(&s->h[H_OVERHEAD], LX_MAX(r->total_us - r->upstream_us, 0));
    }
    if (r->tokens_in > 0 || r->tokens_out > 0 || r->cost_usd > 0) {
        static const char *const tn[2] = {"provider", "model"};
        const char *tv[2] = {r->provider, r->model};
        s = get(&m->t[T_TOK], tn, tv, 2);
        if (s) {
            bump(&s->c[1], pos(r->tokens_in));
            bump(&s->c[2], pos(r->tokens_out));
            bump(&s->c[3], nano_usd(r->cost_usd));
        }
    }
    if (r->team)
        spend(&m->t[T_TEAM], "team", r->team, r);
    if (m->per_key && r->key && r->key[0])
        spend(&m->t[T_KEY], "key", r->key, r);
}

void lx_metrics_attempt(lx_metrics_t *m, const char *endpoint, const char *provider,
                        int64_t ttfb_us, lx_metrics_next_t next, const char *reason)
{
    if (m == NULL)
        return;
    if (ttfb_us >= 0) {
        lx_mseries_t *s = lx_metrics_stream_series(m, endpoint, provider);
        if (s)
            lx_hist_observe(&s->h[H_TTFB], ttfb_us);
    }
    if (next != LX_METRICS_DONE) {
        static const char *const nn[1] = {"reason"};
        const char *nv[1] = {reason};
        lx_mseries_t *s = get(&m->t[T_RETRY], nn, nv, 1);
        if (s)
            bump(&s->c[next == LX_METRICS_RETRY ? 0 : 1], 1);
    }
}

lx_mseries_t *lx_metrics_stream_series(lx_metrics_t *m, const char *endpoint, const char *provider)
{
    if (m == NULL)
        return NULL;
    static const char *const ln[2] = {"endpoint", "provider"};
    const char *lv[2] = {endpoint, provider};
    return get(&m->t[T_LAT], ln, lv, 2);
}

void lx_metrics_stream_first(lx_mseries_t *s, int64_t us)
{
    if (s)
        lx_hist_observe(&s->h[H_FIRST], us);
}

void lx_metrics_stream_gap(lx_mseries_t *s, int64_t us)
{
    if (s)
        lx_hist_observe(&s->h[H_GAP], us);
}
