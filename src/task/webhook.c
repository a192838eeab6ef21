/* webhook.c - task webhooks: the outbox ai_task_webhooks (a row written
 * in the same statement as a task's terminal transition, runner.c) is
 * claimed by one worker per instance (FOR UPDATE SKIP LOCKED, each row for
 * 60 s), each row POSTed through the app's poster with the task object as
 * its body, signed with HMAC-SHA256 when a secret is set, deleted once
 * answered 2xx, else tried again with backoff (1 s doubling to 5 min) up
 * to webhook_max_attempts: at least once, and a restart loses nothing.
 * Owned by its runner (lx_task_webhooks_*, internal.h), on its loop. */
#include "core/crypto.h"
#include "core/json.h"
#include "core/log.h"
#include "db/pg.h"
#include "task/internal.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_INFLIGHT 16
#define TICK_MS      500

typedef struct delivery {
    struct lx_task_webhooks *h;
    void *handle;
    int64_t id;
    int attempts;
} delivery_t;

struct lx_task_webhooks {
    lx_pg_t *pg;
    lx_task_poster_t poster;
    const char *secret;
    int max_attempts;
    struct event *timer;
    bool claiming, closing;
    delivery_t *inflight[MAX_INFLIGHT];
};

static const char CLAIM_SQL[] =
    "WITH c AS (SELECT id FROM ai_task_webhooks WHERE next_at <= now() ORDER BY id "
    "LIMIT $1::int FOR UPDATE SKIP LOCKED) "
    "UPDATE ai_task_webhooks w SET attempts = w.attempts + 1, "
    "next_at = now() + interval '60 seconds' FROM c WHERE w.id = c.id "
    "RETURNING w.id, w.attempts, w.url, "
    "(SELECT " TASK_JSON " FROM ai_tasks WHERE ai_tasks.id = w.task_id)";

static void on_written(const lx_pg_result_t *res, void *arg)
{
    if (!lx_pg_ok(res))
        lx_log_warn("task webhook state not saved", "\"error\":\"%s\"", "statement failed");
}

static void finish(lx_task_webhooks_t *h, int64_t id, int attempts, const char *why)
{
    char ids[24], delay[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (why == NULL || attempts >= h->max_attempts) {
        if (why)
            lx_log_warn("task webhook dropped", "\"delivery\":%lld,\"attempts\":%d,\"why\":\"%s\"",
                        (long long)id, attempts, why);
        const char *p[1] = {ids};
        lx_pg_query(h->pg, "DELETE FROM ai_task_webhooks WHERE id = $1::bigint", 1, p, 0,
                    on_written, NULL);
        return;
    }
    int shift = attempts > 1 ? attempts - 1 : 0;
    int secs = 1 << (shift > 8 ? 8 : shift);
    snprintf(delay, sizeof delay, "%d", secs > 300 ? 300 : secs);
    const char *p[3] = {ids, why, delay};
    lx_pg_query(h->pg,
                "UPDATE ai_task_webhooks SET last_error = left($2, 300), "
                "next_at = now() + make_interval(secs => $3::int) WHERE id = $1::bigint",
                3, p, 0, on_written, NULL);
    lx_log_warn("task webhook not delivered", "\"delivery\":%lld,\"attempt\":%d,\"why\":\"%s\"",
                (long long)id, attempts, why);
}

static void forget(lx_task_webhooks_t *h, delivery_t *d)
{
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (h->inflight[i] == d)
            h->inflight[i] = NULL;
    free(d);
}

static void posted(int status, void *arg)
{
    delivery_t *d = arg;
    char why[64];
    if (status >= 200 && status < 300) {
        finish(d->h, d->id, d->attempts, NULL);
    } else {
        if (status > 0)
            snprintf(why, sizeof why, "HTTP status %d", status);
        else
            snprintf(why, sizeof why, "no answer");
        finish(d->h, d->id, d->attempts, why);
    }
    forget(d->h, d);
}

static int free_slots(const lx_task_webhooks_t *h)
{
    int n = 0;
    for (int i = 0; i < MAX_INFLIGHT; i++)
        n += h->inflight[i] == NULL;
    return n;
}

static void deliver(lx_task_webhooks_t *h, const lx_pg_result_t *res, int r)
{
    int64_t id = strtoll(lx_pg_value(res, r, 0), NULL, 10);
    int attempts = atoi(lx_pg_value(res, r, 1));
    const char *url = lx_pg_value(res, r, 2), *text = lx_pg_value(res, r, 3);
    int slot = -1;
    for (int i = 0; i < MAX_INFLIGHT && slot < 0; i++)
        if (h->inflight[i] == NULL)
            slot = i;
    char err[64];
    json_t *obj =
        lx_pg_isnull(res, r, 3) ? NULL : lx_json_parse(text, strlen(text), 64, err, sizeof err);
    if (slot < 0 || obj == NULL) {
        json_decref(obj);
        finish(h, id, attempts, slot < 0 ? "too many deliveries in flight" : "the task is gone");
        return;
    }
    char *body = json_dumps(obj, JSON_COMPACT);
    char ev[64], idhdr[48], sighdr[96] = "";
    const char *st = json_string_value(json_object_get(obj, "status"));
    snprintf(ev, sizeof ev, "x-llmux-event: task.%s", st ? st : "unknown");
    json_decref(obj);
    snprintf(idhdr, sizeof idhdr, "x-llmux-delivery: %lld", (long long)id);
    if (h->secret && h->secret[0]) {
        unsigned char mac[32];
        char hex[65];
        lx_hmac_sha256(h->secret, strlen(h->secret), body, strlen(body), mac);
        lx_hex(mac, sizeof mac, hex);
        snprintf(sighdr, sizeof sighdr, "x-llmux-signature: sha256=%s", hex);
    }
    const char *headers[4] = {"content-type: application/json", ev, idhdr, sighdr};
    delivery_t *d = body ? calloc(1, sizeof *d) : NULL;
    if (d == NULL) {
        free(body);
        finish(h, id, attempts, "out of memory");
        return;
    }
    *d = (delivery_t){.h = h, .id = id, .attempts = attempts};
    h->inflight[slot] = d;
    d->handle = h->poster.post(h->poster.arg, url, headers, sighdr[0] ? 4 : 3, body, strlen(body),
                               posted, d);
    free(body);
    if (d->handle == NULL) {
        finish(h, id, attempts, "cannot start the call (a URL llmux cannot use)");
        forget(h, d);
    }
}

static void on_claim(const lx_pg_result_t *res, void *arg)
{
    lx_task_webhooks_t *h = arg;
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
    lx_task_webhooks_t *h = arg;
    int n = free_slots(h);
    if (h->claiming || n == 0 || lx_pg_down(h->pg))
        return;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", n);
    const char *p[1] = {lim};
    if (lx_pg_query(h->pg, CLAIM_SQL, 1, p, 0, on_claim, h) == LX_OK)
        h->claiming = true;
}

lx_task_webhooks_t *lx_task_webhooks_new(struct event_base *base, lx_pg_t *pg,
                                         const lx_task_poster_t *poster, const char *secret,
                                         int max_attempts)
{
    lx_task_webhooks_t *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->pg = pg;
    h->poster = *poster;
    h->secret = secret;
    h->max_attempts = max_attempts > 0 ? max_attempts : 10;
    h->timer = event_new(base, -1, EV_PERSIST, tick, h);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(h->timer, &tv);
    return h;
}

void lx_task_webhooks_free(lx_task_webhooks_t *h)
{
    if (h == NULL)
        return;
    event_free(h->timer);
    for (int i = 0; i < MAX_INFLIGHT; i++)
        if (h->inflight[i]) { /* the row is tried again after its 60 s claim */
            h->poster.cancel(h->poster.arg, h->inflight[i]->handle);
            free(h->inflight[i]);
        }
    if (h->claiming) {
        h->closing = true; /* on_claim frees it */
        return;
    }
    free(h);
}
