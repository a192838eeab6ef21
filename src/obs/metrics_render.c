/* metrics_render.c - the scrape: every worker's series of one table
 * gathered, sorted by labels and summed, then written as Prometheus text
 * (metrics.h). Reads the tables without a lock: the list heads with acquire
 * loads, the values relaxed. */
#include "obs/metrics_int.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *labels;
    size_t len; /* of labels */
    uint64_t c[NCOUNTERS];
    lx_hist_sum_t h[H__COUNT];
} merged_t;

static int by_labels(const void *a, const void *b)
{
    const lx_mseries_t *x = *(lx_mseries_t *const *)a, *y = *(lx_mseries_t *const *)b;
    return strcmp(x->labels, y->labels);
}

/* The table's series of all workers summed by label set, sorted; *count
 * entries (free the array; the labels are the series'). */
static merged_t *merge(lx_metrics_t *const *ms, int n, int table, size_t *count)
{
    size_t total = 0, cap = 64;
    lx_mseries_t **all = lx_alloc(cap * sizeof *all);
    for (int w = 0; w < n; w++) {
        if (ms[w] == NULL)
            continue;
        for (lx_mseries_t *s = atomic_load_explicit(&ms[w]->t[table].head, memory_order_acquire); s;
             s = s->next) {
            if (total == cap) {
                cap *= 2;
                all = lx_realloc(all, cap * sizeof *all);
            }
            all[total++] = s;
        }
    }
    qsort(all, total, sizeof *all, by_labels);
    merged_t *out = lx_calloc(total ? total : 1, sizeof *out);
    size_t k = 0;
    int nh = table == T_LAT ? H__COUNT : 0;
    for (size_t i = 0; i < total; i++) {
        if (k == 0 || strcmp(out[k - 1].labels, all[i]->labels) != 0) {
            out[k].labels = all[i]->labels;
            out[k++].len = all[i]->len;
        }
        merged_t *e = &out[k - 1];
        for (int c = 0; c < NCOUNTERS; c++)
            e->c[c] += atomic_load_explicit(&all[i]->c[c], memory_order_relaxed);
        for (int h = 0; h < nh; h++)
            lx_hist_add_to(&all[i]->h[h], &e->h[h]);
    }
    free(all);
    *count = k;
    return out;
}

void lx_metrics_sample_n(lx_buf_t *b, const char *name, size_t name_len, const char *labels,
                         size_t labels_len, uint64_t v)
{
    lx_buf_reserve(b, name_len + labels_len + 25);
    char *o = b->p + b->n;
    memcpy(o, name, name_len);
    o += name_len;
    if (labels_len) {
        *o++ = '{';
        memcpy(o, labels, labels_len);
        o += labels_len;
        *o++ = '}';
    }
    *o++ = ' ';
    b->n = (size_t)(o - b->p);
    lx_buf_append_uint(b, v);
    lx_buf_append_char(b, '\n');
}

void lx_metrics_sample(lx_buf_t *b, const char *name, const char *labels, uint64_t v)
{
    lx_metrics_sample_n(b, name, strlen(name), labels, strlen(labels), v);
}

static void head(lx_buf_t *b, const char *name, const char *type, const char *help)
{
    lx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(lx_buf_t *b, const char *name, const char *help, const merged_t *e, size_t n,
                    int c)
{
    head(b, name, "counter", help);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        lx_metrics_sample_n(b, name, nl, e[i].labels, e[i].len, e[i].c[c]);
}

/* name{labels,direction="in|out"} v */
static void direction(lx_buf_t *b, const char *name, size_t nl, const merged_t *e, bool in,
                      uint64_t v)
{
    lx_buf_reserve(b, nl + e->len + 24);
    char *o = b->p + b->n;
    memcpy(o, name, nl);
    o += nl;
    *o++ = '{';
    memcpy(o, e->labels, e->len);
    o += e->len;
    static const char din[] = ",direction=\"in\"} ", dout[] = ",direction=\"out\"} ";
    const char *d = in ? din : dout;
    size_t dl = in ? sizeof din - 1 : sizeof dout - 1;
    memcpy(o, d, dl);
    o += dl;
    b->n = (size_t)(o - b->p);
    lx_buf_append_uint(b, v);
    lx_buf_append_char(b, '\n');
}

static void tokens(lx_buf_t *b, const char *name, const char *help, const merged_t *e, size_t n)
{
    head(b, name, "counter", help);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        direction(b, name, nl, &e[i], true, e[i].c[1]);
        direction(b, name, nl, &e[i], false, e[i].c[2]);
    }
}

/* Nano-dollars as dollars with nine decimals ("%.9f" of n / 1e9, exact). */
static void nano_usd(lx_buf_t *b, uint64_t n)
{
    char frac[10];
    uint64_t f = n % 1000000000u;
    for (int k = 8; k >= 0; k--, f /= 10)
        frac[k] = (char)('0' + f % 10);
    frac[9] = '.';
    lx_buf_append_uint(b, n / 1000000000u);
    lx_buf_append_char(b, '.');
    lx_buf_append(b, frac, 9);
}

static void cost(lx_buf_t *b, const char *name, const char *help, const merged_t *e, size_t n)
{
    head(b, name, "counter", help);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++) {
        lx_buf_reserve(b, nl + e[i].len + 4);
        lx_buf_append(b, name, nl);
        lx_buf_append_char(b, '{');
        lx_buf_append(b, e[i].labels, e[i].len);
        lx_buf_append(b, "} ", 2);
        nano_usd(b, e[i].c[3]);
        lx_buf_append_char(b, '\n');
    }
}

static void spend_families(lx_buf_t *b, const char *who, const merged_t *e, size_t n)
{
    char name[64], help[160];
    snprintf(name, sizeof name, "llmux_ai_%s_requests_total", who);
    snprintf(help, sizeof help, "AI requests by %s.", who);
    counter(b, name, help, e, n, 0);
    snprintf(name, sizeof name, "llmux_ai_%s_tokens_total", who);
    snprintf(help, sizeof help, "Tokens by %s and direction (in: prompt, out: completion).", who);
    tokens(b, name, help, e, n);
    snprintf(name, sizeof name, "llmux_ai_%s_cost_usd_total", who);
    snprintf(help, sizeof help, "Cost in US dollars by %s (the catalog's prices).", who);
    cost(b, name, help, e, n);
}

void lx_metrics_render(lx_metrics_t *const *ms, int n, lx_buf_t *b)
{
    size_t k;
    merged_t *e = merge(ms, n, T_REQ, &k);
    counter(b, "llmux_ai_requests_total",
            "AI requests by endpoint, provider, model (the catalog's names; other for the "
            "rest), status class and outcome reason.",
            e, k, 0);
    free(e);

    e = merge(ms, n, T_RETRY, &k);
    counter(b, "llmux_ai_retries_total",
            "Upstream attempts retried on the same target, by the failed attempt's reason.", e, k,
            0);
    counter(b, "llmux_ai_fallbacks_total",
            "Requests moved to the next target, by the failed attempt's reason.", e, k, 1);
    free(e);

    static const struct {
        const char *name, *help;
    } hists[H__COUNT] = {
        [H_TOTAL] = {"llmux_ai_request_duration_seconds",
                     "AI request duration from its head to its end, by endpoint and provider."},
        [H_OVERHEAD] = {"llmux_ai_overhead_seconds",
                        "llmux's own time in an AI request: its duration minus the time spent "
                        "in upstream attempts."},
        [H_TTFB] = {"llmux_ai_upstream_ttfb_seconds",
                    "Time from starting an upstream attempt to its first response byte."},
        [H_FIRST] = {"llmux_ai_stream_first_chunk_seconds",
                     "Streams: time from the request's head to the first chunk sent to the "
                     "client."},
        [H_GAP] = {"llmux_ai_stream_chunk_gap_seconds",
                   "Streams: time between two upstream reads forwarded to the client."},
    };
    e = merge(ms, n, T_LAT, &k);
    for (int h = 0; h < H__COUNT; h++) {
        head(b, hists[h].name, "histogram", hists[h].help);
        for (size_t i = 0; i < k; i++) {
            uint64_t any = 0;
            for (int j = 0; j <= LX_HIST_BOUNDS; j++)
                any += e[i].h[h].n[j];
            if (any)
                lx_hist_render(b, hists[h].name, e[i].labels, &e[i].h[h]);
        }
    }
    free(e);

    e = merge(ms, n, T_TOK, &k);
    tokens(b, "llmux_ai_tokens_total",
           "Tokens by provider, model and direction (in: prompt, out: completion).", e, k);
    cost(b, "llmux_ai_cost_usd_total",
         "Cost in US dollars by provider and model (the catalog's prices).", e, k);
    free(e);

    e = merge(ms, n, T_TEAM, &k);
    spend_families(b, "team", e, k);
    free(e);
    bool per_key = false;
    for (int w = 0; w < n; w++)
        per_key |= ms[w] && ms[w]->per_key;
    if (per_key) {
        e = merge(ms, n, T_KEY, &k);
        spend_families(b, "key", e, k);
        free(e);
    }

    uint64_t dropped = 0;
    for (int w = 0; w < n; w++)
        for (int t = 0; ms[w] && t < T__COUNT; t++)
            dropped += atomic_load_explicit(&ms[w]->t[t].dropped, memory_order_relaxed);
    lx_buf_printf(b,
                  "# HELP llmux_metrics_series_dropped_total Samples not counted because a "
                  "worker's table already held its maximum of series.\n"
                  "# TYPE llmux_metrics_series_dropped_total counter\n"
                  "llmux_metrics_series_dropped_total %llu\n",
                  (unsigned long long)dropped);
}
