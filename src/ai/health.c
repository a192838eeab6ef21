/* health.c - the health monitor: counter write-back and breaker probes on a
 * timer of worker 0's loop. */
#include "ai/health.h"
#include "ai/health_policy.h"
#include "ai/call.h"
#include "ai/adapter.h"
#include "ai/catalog.h"
#include "ai/registry.h"
#include "ai/routing/failure.h"
#include "ai/routing/route.h"
#include "ai/xfer_map.h"
#include "core/clock.h"
#include "core/log.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define NAME_MAX_SHOWN 128

/* What the monitor remembers of one connection (health_policy.h). Kept for
 * the life of the monitor (connections are few; a deleted one keeps its
 * entry, so that a connection that leaves a snapshot and comes back is not
 * counted twice). */
typedef lx_health_conn_t conn_t;

typedef struct probe probe_t;

/* One row of a counter write: the totals it brings Postgres up to. */
typedef struct {
    int64_t id;
    lx_health_totals_t t;
} row_t;

typedef struct {
    lx_health_t *h; /* NULL once the monitor is gone */
    int n;
    row_t rows[];
} flush_t;

struct lx_health {
    struct event_base *base;
    const lx_config_t *cfg;
    lx_upstream_t *up;
    lx_pg_t *pg;
    lx_health_opts_t o;
    lx_breaker_conf_t brk;
    struct event *timer;
    conn_t *conns; /* open addressing on id, power-of-two capacity */
    size_t cap, count;
    probe_t *probes; /* in flight */
    int nprobes;
    flush_t *flush; /* the counter write in flight, or NULL */
    bool warned;    /* a failed write was logged (once until the next success) */
};

struct probe {
    lx_health_t *h;
    probe_t *next;
    lx_up_call_t *call;
    lx_route_state_t *st;
    int64_t id;
    uint32_t gen;
    bool models; /* GET /models, else a one-token chat */
    char provider[NAME_MAX_SHOWN], conn[NAME_MAX_SHOWN];
};

/* ---- connections by id ---- */

static size_t slot_of(int64_t id, size_t mask)
{
    uint64_t z = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(z ^ (z >> 29)) & mask;
}

static conn_t *conn_find(lx_health_t *h, int64_t id)
{
    if (h->cap == 0)
        return NULL;
    for (size_t i = slot_of(id, h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (h->conns[i].id == id)
            return &h->conns[i];
        if (h->conns[i].id == 0)
            return NULL;
    }
}

static void conn_grow(lx_health_t *h)
{
    size_t ncap = h->cap ? h->cap * 2 : 64;
    conn_t *n = lx_calloc(ncap, sizeof *n);
    for (size_t i = 0; i < h->cap; i++) {
        if (h->conns[i].id == 0)
            continue;
        size_t k = slot_of(h->conns[i].id, ncap - 1);
        while (n[k].id != 0)
            k = (k + 1) & (ncap - 1);
        n[k] = h->conns[i];
    }
    free(h->conns);
    h->conns = n;
    h->cap = ncap;
}

/* The entry of id, made on first sight. Pointers stay valid until the next
 * call (a growth moves the entries). */
static conn_t *conn_get(lx_health_t *h, int64_t id)
{
    conn_t *c = conn_find(h, id);
    if (c)
        return c;
    if ((h->count + 1) * 2 > h->cap)
        conn_grow(h);
    size_t i = slot_of(id, h->cap - 1);
    while (h->conns[i].id != 0)
        i = (i + 1) & (h->cap - 1);
    h->conns[i] = (conn_t){.id = id};
    h->count++;
    return &h->conns[i];
}

/* ---- logs ---- */

static void log_breaker(lx_log_level_t level, const char *msg, int64_t id, const char *provider,
                        const char *conn, const char *extra)
{
    lx_buf_t b;
    lx_buf_init(&b, 128);
    lx_buf_printf(&b, "\"connection_id\":%lld,\"connection\":", (long long)id);
    lx_buf_append_json_str(&b, conn, strlen(conn));
    lx_buf_append_lit(&b, ",\"provider\":");
    lx_buf_append_json_str(&b, provider, strlen(provider));
    if (extra && extra[0]) {
        lx_buf_append_char(&b, ',');
        lx_buf_append_cstr(&b, extra);
    }
    lx_log(level, msg, "%s", b.p);
    lx_buf_free(&b);
}

/* ---- counter write-back ---- */

/* ms (> 0) as a bigint array element, else NULL (no change). */
static void arr_ms(lx_buf_t *b, int64_t v)
{
    if (v > 0)
        lx_buf_printf(b, "%lld", (long long)v);
    else
        lx_buf_append_lit(b, "NULL");
}

static const char FLUSH_SQL[] =
    "UPDATE ai_connections c SET "
    "success_count = c.success_count + v.s, "
    "error_count = c.error_count + v.e, "
    "last_used_at = greatest(c.last_used_at, to_timestamp(v.u / 1000.0)), "
    "last_error_at = greatest(c.last_error_at, to_timestamp(v.ea / 1000.0)), "
    "last_error = CASE WHEN v.ea IS NOT NULL AND (c.last_error_at IS NULL OR "
    "to_timestamp(v.ea / 1000.0) >= c.last_error_at) THEN v.err ELSE c.last_error END "
    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], "
    "$6::text[]) AS v(id, s, e, u, ea, err) WHERE c.id = v.id";

static void flush_done(const lx_pg_result_t *res, void *arg)
{
    flush_t *f = arg;
    lx_health_t *h = f->h;
    if (h == NULL) { /* the monitor is gone */
        free(f);
        return;
    }
    h->flush = NULL;
    if (!lx_pg_ok(res)) {
        if (!h->warned) {
            lx_buf_t b;
            lx_buf_init(&b, 0);
            const char *e = lx_pg_error(res);
            lx_buf_append_json_str(&b, e ? e : "", e ? strlen(e) : 0);
            lx_log_warn("connection counters not written; will retry", "\"rows\":%d,\"error\":%s",
                        f->n, b.p);
            lx_buf_free(&b);
            h->warned = true;
        }
        free(f);
        return;
    }
    h->warned = false;
    for (int i = 0; i < f->n; i++) {
        conn_t *c = conn_find(h, f->rows[i].id);
        if (c == NULL)
            continue;
        c->written = f->rows[i].t;
    }
    free(f);
}

static bool db_usable(const lx_health_t *h)
{
    return h->pg != NULL && lx_pg_connected(h->pg) && h->flush == NULL;
}

/* One statement for every connection of the snapshot whose counters moved. */
static void flush_snapshot(lx_health_t *h, const lx_snapshot_t *s)
{
    if (!db_usable(h) || !s->from_db)
        return;
    int total = 0;
    for (int i = 0; i < s->nproviders; i++)
        total += s->providers[i].ncreds;
    if (total == 0)
        return;
    flush_t *f = lx_alloc(sizeof *f + (size_t)total * sizeof(row_t));
    f->h = h;
    f->n = 0;
    lx_buf_t a[6];
    for (int k = 0; k < 6; k++) {
        lx_buf_init(&a[k], 64);
        lx_buf_append_char(&a[k], '{');
    }
    for (int i = 0; i < s->nproviders; i++) {
        const lx_provider_t *p = &s->providers[i];
        for (int j = 0; j < p->ncreds; j++) {
            int64_t id = p->creds[j].id;
            lx_route_state_t *st = lx_cred_state_get(id);
            conn_t *c = st ? conn_get(h, id) : NULL;
            if (c == NULL)
                continue;
            lx_cred_err_t code;
            row_t r = {.id = id,
                       .t = {.ok = lx_state_success_total(st),
                             .fail = lx_state_error_total(st),
                             .used_ms = lx_state_last_used_ms(st)}};
            r.t.err_ms = (uint64_t)lx_state_last_error(st, &code);
            lx_health_delta_t d;
            if (!lx_health_delta(&c->written, &r.t, &d))
                continue;
            const char *sep = f->n ? "," : "";
            lx_buf_printf(&a[0], "%s%lld", sep, (long long)id);
            lx_buf_printf(&a[1], "%s%llu", sep, (unsigned long long)d.add_ok);
            lx_buf_printf(&a[2], "%s%llu", sep, (unsigned long long)d.add_fail);
            lx_buf_append_cstr(&a[3], sep);
            arr_ms(&a[3], d.used_ms);
            lx_buf_append_cstr(&a[4], sep);
            arr_ms(&a[4], d.err_ms);
            lx_buf_append_cstr(&a[5], sep);
            lx_buf_append_cstr(&a[5], d.err_ms > 0 ? lx_cred_err_name(code) : "NULL");
            f->rows[f->n++] = r;
        }
    }
    if (f->n > 0) {
        for (int k = 0; k < 6; k++)
            lx_buf_append_char(&a[k], '}');
        const char *params[6] = {a[0].p, a[1].p, a[2].p, a[3].p, a[4].p, a[5].p};
        h->flush = f; /* before the submit: its callback may run inside it */
        if (lx_pg_query(h->pg, FLUSH_SQL, 6, params, 0, flush_done, f) != LX_OK) {
            h->flush = NULL;
            free(f);
        }
    } else {
        free(f);
    }
    for (int k = 0; k < 6; k++)
        lx_buf_free(&a[k]);
}

void lx_health_flush(lx_health_t *h)
{
    if (h == NULL || !db_usable(h))
        return;
    lx_snapshot_t *s = lx_registry_acquire();
    if (s) {
        flush_snapshot(h, s);
        lx_registry_release(s);
    }
}

bool lx_health_flushing(const lx_health_t *h)
{
    return h != NULL && h->flush != NULL;
}

/* ---- probes ---- */

static void probe_unlink(lx_health_t *h, probe_t *p)
{
    for (probe_t **pp = &h->probes; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            h->nprobes--;
            break;
        }
    }
    conn_t *c = conn_find(h, p->id);
    if (c)
        c->probing = false;
}

static void probe_headers(lx_up_call_t *call, int status, void *arg) {}

static int probe_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    return LX_OK; /* the answer's body says nothing the status does not */
}

static void probe_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    probe_t *p = arg;
    lx_health_t *h = p->h;
    p->call = NULL;
    probe_unlink(h, p);
    int64_t now = lx_wall_ms();
    conn_t *c = conn_find(h, p->id);
    lx_attempt_facts_t facts = {
        .status = res->outcome == LX_UP_OK ? res->status : 0,
        .transport = lx_xfer_from_up(res->outcome),
        .request_sent = res->request_sent,
        .idempotent = true,
    };
    lx_probe_verdict_t v = lx_health_probe_verdict(p->models, &facts);
    lx_breaker_event_t ev = lx_health_probe_apply(v, c, p->st, &h->brk, p->gen, now);
    char extra[160];
    snprintf(extra, sizeof extra, "\"probe\":\"%s\",\"status\":%d,\"outcome\":\"%s\"",
             p->models ? "models" : "chat", facts.status, lx_up_outcome_name(res->outcome));

    switch (v) {
    case LX_PROBE_TRY_CHAT:
        log_breaker(LX_LOG_INFO, "health probe inconclusive: trying a chat next", p->id,
                    p->provider, p->conn, extra);
        break;
    case LX_PROBE_CLOSE:
        if (ev == LX_BRK_EV_CLOSED)
            log_breaker(LX_LOG_INFO, "breaker closed by a health probe", p->id, p->provider,
                        p->conn, extra);
        break;
    case LX_PROBE_REOPEN: {
        uint32_t n = c ? c->failed_probes : 1;
        /* the first failure at info, the rest of a long outage at debug */
        if (ev == LX_BRK_EV_REOPENED && (n == 1 || lx_log_min_level <= LX_LOG_DEBUG)) {
            size_t k = strlen(extra);
            snprintf(extra + k, sizeof extra - k, ",\"failed_probes\":%u", n);
            log_breaker(n == 1 ? LX_LOG_INFO : LX_LOG_DEBUG,
                        "health probe failed: breaker open again", p->id, p->provider, p->conn,
                        extra);
        }
        break;
    }
    case LX_PROBE_INCONCLUSIVE:
        log_breaker(LX_LOG_INFO, "health probe inconclusive", p->id, p->provider, p->conn, extra);
        break;
    }
    free(p);
}

/* The first active chat model of provider p in the snapshot, else "test". */
static const char *probe_model(const lx_snapshot_t *s, const lx_provider_t *p)
{
    for (int i = 0; i < s->nmodels; i++) {
        const lx_model_t *m = &s->models[i];
        if (m->provider == p && m->active && (m->caps & LX_CAP_CHAT))
            return m->upstream_name;
    }
    return "test";
}

static void scrub_build(lx_up_build_t *b)
{
    /* the build held the key in its headers (or a URL): zero them */
    for (int i = 0; i < b->nheaders; i++)
        explicit_bzero(b->headers[i], strlen(b->headers[i]));
    if (b->url.p)
        explicit_bzero(b->url.p, b->url.n);
    if (b->body.p)
        explicit_bzero(b->body.p, b->body.n);
}

/* Starts a probe for a connection whose breaker slot (gen) was taken.
 * False if it could not start (the caller gives the slot back). */
static bool probe_start(lx_health_t *h, const lx_snapshot_t *s, const lx_provider_t *prov,
                        const lx_credential_t *cred, conn_t *c, lx_route_state_t *st, uint32_t gen)
{
    const lx_adapter_t *ad = lx_adapter_for(prov->conf.kind);
    if (ad == NULL || ad->chat_build == NULL)
        return false;
    lx_provider_conf_t conf = prov->conf;
    conf.api_key = cred->api_key;
    bool models = !c->no_models &&
                  (conf.kind == LX_PROVIDER_OPENAI || conf.kind == LX_PROVIDER_OPENAI_COMPAT);
    json_t *rq = json_pack("{s:s, s:[{s:s, s:s}], s:i}", "model", probe_model(s, prov), "messages",
                           "role", "user", "content", "ping", "max_tokens", 1);
    lx_up_build_t b;
    lx_up_build_init(&b);
    char err[256] = "";
    int rc = ad->chat_build(&conf, rq, false, &b, err, sizeof err);
    json_decref(rq);
    if (rc != LX_OK) {
        scrub_build(&b);
        lx_up_build_free(&b);
        return false;
    }
    if (models) { /* the adapter's headers (auth, extra), the models list's URL */
        lx_buf_reset(&b.url);
        lx_buf_printf(&b.url, "%s/models", conf.base_url);
    }
    int t = h->o.probe_timeout_ms;
    lx_up_request_t up_rq = {
        .method = models ? "GET" : "POST",
        .url = b.url.p,
        .headers = (const char *const *)b.headers,
        .nheaders = b.nheaders,
        .body = models || b.body.p == NULL ? "" : b.body.p,
        .body_len = models ? 0 : b.body.n,
        .timeouts = {.connect_ms =
                         conf.timeouts.connect_ms > 0 ? LX_MIN(conf.timeouts.connect_ms, t) : t,
                     .first_byte_ms = t,
                     .idle_ms = t,
                     .total_ms = t},
        .transport = &prov->conf.transport,
    };
    probe_t *p = lx_calloc(1, sizeof *p);
    p->h = h;
    p->st = st;
    p->id = cred->id;
    p->gen = gen;
    p->models = models;
    snprintf(p->provider, sizeof p->provider, "%s", conf.name ? conf.name : "");
    snprintf(p->conn, sizeof p->conn, "%s", cred->name ? cred->name : "");
    static const lx_up_handlers_t handlers = {probe_headers, probe_data, probe_done};
    p->call = lx_up_call_start(h->up, &up_rq, &handlers, p);
    scrub_build(&b);
    lx_up_build_free(&b);
    if (p->call == NULL) {
        free(p);
        return false;
    }
    p->next = h->probes;
    h->probes = p;
    h->nprobes++;
    c->probing = true;
    return true;
}

/* Probes one connection if its breaker wants it. */
static void maybe_probe(lx_health_t *h, const lx_snapshot_t *s, const lx_provider_t *prov,
                        const lx_credential_t *cred, conn_t *c, lx_route_state_t *st, int64_t now)
{
    if (!lx_health_probe_due(c, prov->active && cred->active, h->nprobes, h->o.max_probes, st,
                             &h->brk, now))
        return;
    uint32_t gen;
    int rpm = cred->rate_limit_per_minute, rpd = cred->rate_limit_per_day;
    if (!lx_health_probe_claim(st, &h->brk, rpm, rpd, now, &gen))
        return;
    if (!probe_start(h, s, prov, cred, c, st, gen))
        lx_health_probe_unclaim(st, rpm, rpd, now, gen);
}

/* ---- the tick ---- */

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    lx_health_t *h = arg;
    lx_snapshot_t *s = lx_registry_acquire();
    if (s == NULL)
        return;
    int64_t now = lx_wall_ms();
    for (int i = 0; i < s->nproviders; i++) {
        const lx_provider_t *prov = &s->providers[i];
        for (int j = 0; j < prov->ncreds; j++) {
            const lx_credential_t *cred = &prov->creds[j];
            lx_route_state_t *st = lx_cred_state_get(cred->id);
            if (st == NULL)
                continue;
            conn_t *c = conn_get(h, cred->id);
            bool open = lx_breaker_state(st) != LX_BRK_CLOSED;
            if (open != c->seen_open) {
                c->seen_open = open;
                if (!open)
                    c->failed_probes = 0;
                log_breaker(LX_LOG_INFO, open ? "breaker opened" : "breaker closed", cred->id,
                            prov->conf.name ? prov->conf.name : "", cred->name ? cred->name : "",
                            NULL);
            }
            if (open)
                maybe_probe(h, s, prov, cred, c, st, now);
        }
    }
    flush_snapshot(h, s);
    lx_registry_release(s);
}

/* ---- life ---- */

lx_health_t *lx_health_new(struct event_base *base, const lx_config_t *cfg,
                           const lx_breaker_conf_t *brk, lx_upstream_t *up, lx_pg_t *pg,
                           const lx_health_opts_t *opts)
{
    lx_health_t *h = lx_calloc(1, sizeof *h);
    h->base = base;
    h->cfg = cfg;
    h->up = up;
    h->pg = pg;
    if (opts)
        h->o = *opts;
    if (h->o.interval_ms <= 0)
        h->o.interval_ms = 1000;
    if (h->o.probe_timeout_ms <= 0)
        h->o.probe_timeout_ms = 3000;
    if (h->o.max_probes <= 0)
        h->o.max_probes = 4;
    /* a breaker must be driven with one conf: the request path's */
    h->brk = *brk;
    h->timer = event_new(base, -1, EV_PERSIST, tick, h);
    struct timeval tv = {h->o.interval_ms / 1000, (h->o.interval_ms % 1000) * 1000};
    event_add(h->timer, &tv);
    return h;
}

void lx_health_free(lx_health_t *h)
{
    if (h == NULL)
        return;
    event_free(h->timer);
    while (h->probes) {
        probe_t *p = h->probes;
        h->probes = p->next;
        if (p->call)
            lx_up_call_cancel(p->call);
        lx_breaker_release(p->st, p->gen);
        free(p);
    }
    if (h->flush)
        h->flush->h = NULL; /* its callback frees it */
    free(h->conns);
    free(h);
}
