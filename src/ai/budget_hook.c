/* budget_hook.c - budget alert webhooks (budget_hook.h). */
#include "ai/budget_hook.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/crypto.h"
#include "core/log.h"
#include "core/secret.h"
#include "db/pg.h"
#include "upstream/upstream.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_INFLIGHT 8

typedef struct delivery {
    struct lx_budget_hook *h;
    lx_up_call_t *call;
    int64_t id;
    int attempts;
} delivery_t;

struct lx_budget_hook {
    const lx_config_t *cfg;
    lx_pg_t *pg;
    lx_upstream_t *up;
    struct event *timer;
    bool claiming; /* a claim in flight */
    bool closing;  /* freed while claiming: on_claim frees it */
    delivery_t *inflight[MAX_INFLIGHT];
};

void lx_budget_hook_aad(const char *kind, char out[48])
{
    snprintf(out, 48, "budget_webhook_secret:%s", kind);
}

/* Due rows, claimed for 60 s, with the subject's current URL and secret. */
static const char claim_sql[] =
    "WITH c AS (SELECT id FROM ai_budget_alerts WHERE delivered_at IS NULL AND failed_at IS NULL "
    "AND next_at <= now() ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED) "
    "UPDATE ai_budget_alerts a SET attempts = a.attempts + 1, next_at = now() + interval "
    "'60 seconds' FROM c WHERE a.id = c.id RETURNING a.id, a.attempts, a.body, "
    "split_part(a.subject, ':', 1), "
    "CASE split_part(a.subject, ':', 1) WHEN 'key' THEN (SELECT budget_webhook_url FROM api_keys "
    "WHERE id = split_part(a.subject, ':', 2)::bigint) ELSE (SELECT budget_webhook_url FROM teams "
    "WHERE id = split_part(a.subject, ':', 2)::bigint) END, "
    "CASE split_part(a.subject, ':', 1) WHEN 'key' THEN (SELECT budget_webhook_secret FROM "
    "api_keys WHERE id = split_part(a.subject, ':', 2)::bigint) ELSE (SELECT "
    "budget_webhook_secret FROM teams WHERE id = split_part(a.subject, ':', 2)::bigint) END";

static void on_done_row(const lx_pg_result_t *res, void *arg)
{
    (void)arg;
    if (!lx_pg_ok(res))
        lx_log_warn("budget webhook state not saved", "\"error\":\"%s\"", "statement failed");
}

/* Records how attempt `attempts` of alert id ended: delivered, retried
 * later, or failed for good. why: NULL when delivered. */
static void finish(lx_budget_hook_t *h, int64_t id, int attempts, const char *why)
{
    char ids[24], delay[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (why == NULL) {
        const char *p[1] = {ids};
        lx_pg_query(h->pg, "UPDATE ai_budget_alerts SET delivered_at = now() WHERE id = $1::bigint",
                    1, p, 0, on_done_row, NULL);
        return;
    }
    int shift = attempts > 1 ? attempts - 1 : 0;
    snprintf(delay, sizeof delay, "%d", 1 << (shift > 10 ? 10 : shift));
    const char *p[4] = {ids, why, delay, attempts >= LX_BUDGET_HOOK_ATTEMPTS ? "true" : "false"};
    lx_pg_query(h->pg,
                "UPDATE ai_budget_alerts SET last_error = left($2, 300), next_at = now() + "
                "make_interval(secs => $3::int), failed_at = CASE WHEN $4::boolean THEN now() END "
                "WHERE id = $1::bigint",
                4, p, 0, on_done_row, NULL);
    lx_log_warn("budget webhook not delivered",
                "\"alert\":%lld,\"attempt\":%d,\"retry\":%s,\"why\":\"%s\"", (long long)id,
                attempts, attempts >= LX_BUDGET_HOOK_ATTEMPTS ? "false" : "true", why);
}

static void forget(lx_budget_hook_t *h, delivery_t *d)
{
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (h->inflight[i] == d)
            h->inflight[i] = NULL;
    free(d);
}

static void up_headers(lx_up_call_t *call, int status, void *arg)
{
    (void)call, (void)status, (void)arg;
}

static int up_data(lx_up_call_t *call, const char *p, size_t n, void *arg)
{
    (void)call, (void)p, (void)n, (void)arg;
    return LX_OK; /* the answer's body is not read */
}

static void up_done(lx_up_call_t *call, const lx_up_result_t *res, void *arg)
{
    (void)call;
    delivery_t *d = arg;
    char why[120];
    if (res->outcome == LX_UP_OK && res->status >= 200 && res->status < 300)
        finish(d->h, d->id, d->attempts, NULL);
    else {
        if (res->outcome == LX_UP_OK)
            snprintf(why, sizeof why, "HTTP status %d", res->status);
        else
            snprintf(why, sizeof why, "%s", lx_up_outcome_name(res->outcome));
        finish(d->h, d->id, d->attempts, why);
    }
    forget(d->h, d);
}

static int free_slot(const lx_budget_hook_t *h)
{
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (h->inflight[i] == NULL)
            return i;
    return -1;
}

/* Opens a sealed secret (bytea text) with the master key or the old one. */
static bool open_secret(const lx_config_t *cfg, const char *kind, const char *text, lx_buf_t *out)
{
    char aad[48];
    lx_budget_hook_aad(kind, aad);
    lx_buf_t blob;
    lx_buf_init(&blob, 128);
    bool ok = lx_bytea_decode(text, &blob) == LX_OK &&
              ((cfg->has_master_key &&
                lx_secret_open(cfg->master_key, aad, blob.p, blob.n, out, NULL) == LX_OK) ||
               (cfg->has_master_key_old &&
                lx_secret_open(cfg->master_key_old, aad, blob.p, blob.n, out, NULL) == LX_OK));
    lx_buf_free(&blob);
    return ok;
}

static void deliver(lx_budget_hook_t *h, const lx_pg_result_t *res, int r)
{
    int64_t id = strtoll(lx_pg_value(res, r, 0), NULL, 10);
    int attempts = (int)strtol(lx_pg_value(res, r, 1), NULL, 10);
    const char *body = lx_pg_value(res, r, 2), *kind = lx_pg_value(res, r, 3);
    if (lx_pg_isnull(res, r, 4)) {
        finish(h, id, LX_BUDGET_HOOK_ATTEMPTS, "the subject has no budget_webhook_url");
        return;
    }
    int slot = free_slot(h);
    if (slot < 0) { /* cannot happen: claims ask for the free slots only */
        finish(h, id, attempts, "too many deliveries in flight");
        return;
    }
    char ts[24], tshdr[48], idhdr[48], sighdr[96] = "";
    snprintf(ts, sizeof ts, "%lld", (long long)(lx_wall_ms() / 1000));
    snprintf(tshdr, sizeof tshdr, "x-llmux-timestamp: %s", ts);
    snprintf(idhdr, sizeof idhdr, "x-llmux-delivery: %lld", (long long)id);
    if (!lx_pg_isnull(res, r, 5)) {
        lx_buf_t secret;
        lx_buf_init(&secret, 64);
        if (!open_secret(h->cfg, kind, lx_pg_value(res, r, 5), &secret)) {
            lx_buf_free(&secret);
            finish(h, id, attempts, "the webhook secret does not open with the master key");
            return;
        }
        unsigned char mac[32];
        char hex[65];
        lx_hmac_sha256(secret.p, secret.n, body, strlen(body), mac);
        explicit_bzero(secret.p, secret.n);
        lx_buf_free(&secret);
        lx_hex(mac, sizeof mac, hex);
        snprintf(sighdr, sizeof sighdr, "x-llmux-signature: sha256=%s", hex);
    }
    const char *headers[4] = {"content-type: application/json", tshdr, idhdr, sighdr};
    delivery_t *d = lx_calloc(1, sizeof *d);
    *d = (delivery_t){.h = h, .id = id, .attempts = attempts};
    lx_up_request_t rq = {
        .method = "POST",
        .url = lx_pg_value(res, r, 4),
        .headers = headers,
        .nheaders = sighdr[0] ? 4 : 3,
        .body = body,
        .body_len = strlen(body),
        .timeouts = {.connect_ms = 5000,
                     .first_byte_ms = 10000,
                     .idle_ms = 10000,
                     .total_ms = 15000},
    };
    static const lx_up_handlers_t handlers = {up_headers, up_data, up_done};
    h->inflight[slot] = d;
    d->call = lx_up_call_start(h->up, &rq, &handlers, d);
    if (d->call == NULL) {
        finish(h, id, attempts, "cannot start the call (a URL llmux cannot use)");
        forget(h, d);
    }
}

static void on_claim(const lx_pg_result_t *res, void *arg)
{
    lx_budget_hook_t *h = arg;
    h->claiming = false;
    if (h->closing) {
        free(h);
        return;
    }
    if (!lx_pg_ok(res))
        return;
    for (int r = 0; r < lx_pg_ntuples(res); r++)
        deliver(h, res, r);
}

static void tick(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd, (void)ev;
    lx_budget_hook_t *h = arg;
    if (h->claiming || !lx_pg_connected(h->pg))
        return;
    int nfree = 0;
    for (int i = 0; i < MAX_INFLIGHT; i++)
        nfree += h->inflight[i] == NULL;
    if (nfree == 0)
        return;
    char n[8];
    snprintf(n, sizeof n, "%d", nfree);
    const char *p[1] = {n};
    if (lx_pg_query(h->pg, "budget_claim", 1, p, LX_PG_PREPARED, on_claim, h) == LX_OK)
        h->claiming = true;
}

lx_budget_hook_t *lx_budget_hook_new(struct event_base *base, const lx_config_t *cfg, lx_pg_t *pg,
                                     lx_upstream_t *up)
{
    lx_budget_hook_t *h = lx_calloc(1, sizeof *h);
    h->cfg = cfg;
    h->pg = pg;
    h->up = up;
    lx_pg_prepare(pg, "budget_claim", claim_sql, 1);
    h->timer = event_new(base, -1, EV_PERSIST, tick, h);
    struct timeval tv = {0, 500000};
    event_add(h->timer, &tv);
    return h;
}

/* A delivery cut short here stays claimed; it is retried once its claim
 * lapses (60 s), by this instance after a restart or by another. */
void lx_budget_hook_free(lx_budget_hook_t *h)
{
    if (h == NULL)
        return;
    event_free(h->timer);
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (h->inflight[i]) {
            lx_up_call_cancel(h->inflight[i]->call);
            free(h->inflight[i]);
        }
    if (h->claiming) { /* on_claim frees it, from lx_pg_free at the latest */
        h->closing = true;
        return;
    }
    free(h);
}
