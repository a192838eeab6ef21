/* key_info.c - GET /v1/key/info: what the calling key may do and has done
 * (issue 18). Any valid API key sees its own limits at each level (key, its
 * user, its team), the current use of each window (requests this minute
 * and today, tokens this minute, requests in flight) and when each window
 * resets, and each level's spend for its budget period; never its secret.
 * A JWT user (signin.h) sees its user's and team's limits (key: null,
 * "label": "user_<id>"; budgets apply to keys only). The admin key gets
 * {"admin": true} and no levels (it is not limited). Counts are what this
 * instance knows: exact with one instance, within the bounds of allow.h
 * and budget.h with several.
 *
 * Shape (docs/openapi.json, KeyInfo):
 *   {"object": "key_info", "key": {"id", "label", "admin"},
 *    "levels": {"key"|"user"|"team": null | {"id", "subject",
 *      "limits": {"rpm", "rpd", "tpm", "max_parallel"} (null: none),
 *      "usage": {"requests_minute", "requests_day", "tokens_minute":
 *                null | {"limit", "used", "remaining", "reset_at", "reset"},
 *                "in_flight": null | {"limit", "current"}},
 *      "spend": null | {"spend_usd", "budget_usd", "budget_period",
 *                       "budget_reset_at"},
 *      "models": {"<entry>": {"limits": {"rpm", "rpd", "tpm", "budget_usd"},
 *                 "usage": {"requests_minute", "requests_day", "tokens_minute"},
 *                 "spend": null | {...as above}}}}}}
 * A level is null when it has neither a limit, a spend slot nor overrides. The JSON is
 * built here only; the request path never calls it. */
#include "ai/allow_headers.h"
#include "auth/budget.h"
#include "auth/budget_sync.h"
#include "ai/handlers.h"
#include "core/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static json_t *limit_or_null(int v)
{
    return v > 0 ? json_integer(v) : json_null();
}

static json_t *iso(int64_t ms)
{
    char at[32];
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(at);
}

static json_t *window(const lx_allow_t *a, lx_allow_per_t p, int64_t now_ms)
{
    lx_allow_view_t v;
    if (a == NULL)
        return json_null();
    lx_allow_view(a, p, now_ms, &v);
    if (v.limit <= 0)
        return json_null();
    char dur[24];
    lx_allow_duration(v.reset_ms, dur);
    return json_pack("{s:i, s:I, s:I, s:o, s:s}", "limit", v.limit, "used",
                     (json_int_t)(v.limit - v.remaining), "remaining", (json_int_t)v.remaining,
                     "reset_at", iso(now_ms + v.reset_ms), "reset", dur);
}

static int lim(const lx_allow_t *a, lx_allow_per_t p)
{
    return a ? atomic_load_explicit(&a->limit[p], memory_order_relaxed) : 0;
}

/* The level's spend in its budget period (a key's levels only). */
static json_t *spend(const lx_spend_t *s)
{
    if (s == NULL)
        return json_null();
    int64_t now = lx_budget_now_ms();
    int64_t budget = atomic_load_explicit(&s->budget, memory_order_relaxed);
    lx_period_t p = (lx_period_t)atomic_load_explicit(&s->period, memory_order_relaxed);
    int64_t end = lx_period_end_ms(p, now);
    return json_pack(
        "{s:f, s:o, s:s, s:o}", "spend_usd", (double)lx_spend_known(s, now) / LX_NANO_USD,
        "budget_usd", budget < 0 ? json_null() : json_real((double)budget / LX_NANO_USD),
        "budget_period", lx_period_name(p), "budget_reset_at", end < 0 ? json_null() : iso(end));
}

/* A level's per-model overrides: each entry's limits, use and spend. */
static json_t *models(const lx_model_limits_t *ml, int64_t now_ms)
{
    json_t *out = json_object();
    for (int i = 0; ml && i < ml->n; i++) {
        const lx_model_limit_t *e = &ml->v[i];
        json_t *limits =
            json_pack("{s:o, s:o, s:o, s:o}", "rpm", limit_or_null(e->rpm), "rpd",
                      limit_or_null(e->rpd), "tpm", limit_or_null(e->tpm), "budget_usd",
                      e->budget_usd < 0 ? json_null() : json_real(e->budget_usd));
        json_t *usage =
            json_pack("{s:o, s:o, s:o}", "requests_minute", window(e->allow, LX_ALLOW_MIN, now_ms),
                      "requests_day", window(e->allow, LX_ALLOW_DAY, now_ms), "tokens_minute",
                      window(e->allow, LX_ALLOW_TOK, now_ms));
        json_object_set_new(out, e->name,
                            json_pack("{s:o, s:o, s:o}", "limits", limits, "usage", usage, "spend",
                                      spend(e->spend)));
    }
    return out;
}

static json_t *level(const lx_allow_t *a, const lx_spend_t *s, const lx_model_limits_t *ml,
                     int64_t now_ms)
{
    if (a == NULL && s == NULL && ml == NULL)
        return json_null();
    const char *subject = a ? a->subject : s ? s->subject : "";
    const char *colon = strchr(subject, ':');
    int mp = a ? atomic_load_explicit(&a->max_parallel, memory_order_relaxed) : 0;
    json_t *limits =
        json_pack("{s:o, s:o, s:o, s:o}", "rpm", limit_or_null(lim(a, LX_ALLOW_MIN)), "rpd",
                  limit_or_null(lim(a, LX_ALLOW_DAY)), "tpm", limit_or_null(lim(a, LX_ALLOW_TOK)),
                  "max_parallel", limit_or_null(mp));
    json_t *usage = json_pack(
        "{s:o, s:o, s:o, s:o}", "requests_minute", window(a, LX_ALLOW_MIN, now_ms), "requests_day",
        window(a, LX_ALLOW_DAY, now_ms), "tokens_minute", window(a, LX_ALLOW_TOK, now_ms),
        "in_flight",
        mp > 0 ? json_pack("{s:i, s:i}", "limit", mp, "current", (int)lx_allow_in_flight(a))
               : json_null());
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)(colon ? strtoll(colon + 1, NULL, 10) : 0), "subject", subject,
                     "limits", limits, "usage", usage, "spend", spend(s), "models",
                     models(ml, now_ms));
}

static int key_info_body(lx_ai_t *ai, lx_req_t *req, lx_ai_auth_t *a)
{
    (void)ai;
    int64_t now = lx_wall_ms();
    const lx_apikey_t *k = a->key;
    bool admin = k == NULL && a->user_id == 0; /* neither a key nor a JWT user */
    json_t *key =
        k ? json_pack("{s:I, s:s, s:b}", "id", (json_int_t)k->id, "label", k->label, "admin", 0)
          : json_pack("{s:n, s:s, s:b}", "id", "label", a->key_id, "admin", admin);
    json_t *levels =
        json_pack("{s:o, s:o, s:o}", "key", level(a->allow.s[0], a->spend.s[0], a->mls[0], now),
                  "user", level(a->allow.s[1], a->spend.s[1], a->mls[1], now), "team",
                  level(a->allow.s[2], a->spend.s[2], a->mls[2], now));
    lx_req_reply_json(
        req, 200, json_pack("{s:s, s:o, s:o}", "object", "key_info", "key", key, "levels", levels));
    return LX_OK;
}

int lx_ai_key_info_handler(lx_req_t *req, void *arg)
{
    return lx_ai_guarded(arg, req, key_info_body);
}
