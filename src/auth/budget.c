/* budget.c - periods, the spend table and budget admission (budget.h). */
#include "auth/budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static lx_spend_t slots[LX_SPEND_SLOTS];

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's
 * algorithms, proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

lx_period_t lx_period_parse(const char *s)
{
    if (s == NULL)
        return LX_PERIOD_TOTAL;
    if (strcmp(s, "daily") == 0)
        return LX_PERIOD_DAILY;
    if (strcmp(s, "weekly") == 0)
        return LX_PERIOD_WEEKLY;
    if (strcmp(s, "monthly") == 0)
        return LX_PERIOD_MONTHLY;
    return LX_PERIOD_TOTAL;
}

const char *lx_period_name(lx_period_t p)
{
    static const char *const names[] = {"total", "daily", "weekly", "monthly"};
    return (unsigned)p < 4 ? names[p] : "total";
}

int64_t lx_period_index(lx_period_t p, int64_t ms)
{
    int64_t day = floor_div(ms, DAY_MS);
    switch (p) {
    case LX_PERIOD_DAILY:
        return day;
    case LX_PERIOD_WEEKLY:
        return floor_div(day + 3, 7); /* 1970-01-01 was a Thursday */
    case LX_PERIOD_MONTHLY: {
        int64_t y;
        int m;
        civil_from_days(day, &y, &m);
        return (y - 1970) * 12 + (m - 1);
    }
    default:
        return 0;
    }
}

int64_t lx_period_start_ms(lx_period_t p, int64_t i)
{
    switch (p) {
    case LX_PERIOD_DAILY:
        return i * DAY_MS;
    case LX_PERIOD_WEEKLY:
        return (i * 7 - 3) * DAY_MS;
    case LX_PERIOD_MONTHLY:
        return days_from_civil(1970 + floor_div(i, 12), (int)(i - floor_div(i, 12) * 12) + 1, 1) *
               DAY_MS;
    default:
        return 0;
    }
}

int64_t lx_period_end_ms(lx_period_t p, int64_t ms)
{
    if (p == LX_PERIOD_TOTAL)
        return -1;
    return lx_period_start_ms(p, lx_period_index(p, ms) + 1);
}

void lx_period_key(lx_period_t p, int64_t i, char out[24])
{
    static const char tag[] = {'t', 'd', 'w', 'm'};
    if (p == LX_PERIOD_TOTAL || (unsigned)p >= 4)
        snprintf(out, 24, "t");
    else
        snprintf(out, 24, "%c:%lld", tag[p], (long long)i);
}

int lx_period_key_parse(const char *key, lx_period_t *p, int64_t *i)
{
    if (strcmp(key, "t") == 0) {
        *p = LX_PERIOD_TOTAL, *i = 0;
        return LX_OK;
    }
    if (key[0] == '\0' || key[1] != ':')
        return LX_ERROR;
    switch (key[0]) {
    case 'd':
        *p = LX_PERIOD_DAILY;
        break;
    case 'w':
        *p = LX_PERIOD_WEEKLY;
        break;
    case 'm':
        *p = LX_PERIOD_MONTHLY;
        break;
    default:
        return LX_ERROR;
    }
    char *end;
    long long v = strtoll(key + 2, &end, 10);
    if (end == key + 2 || *end != '\0')
        return LX_ERROR;
    *i = v;
    return LX_OK;
}

static lx_spend_t *lookup(uint64_t key, bool claim, char kind, int64_t id, const char *model)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < LX_SPEND_SLOTS; i++) {
        lx_spend_t *s = &slots[(h + i) % LX_SPEND_SLOTS];
        uint64_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
        if (cur == 0) {
            if (!claim)
                return NULL;
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&s->key, &zero, key)) {
                lx_subject_text(s->subject, kind, id, model, model ? strlen(model) : 0);
                return s;
            }
            cur = zero;
        }
        if (cur == key)
            return s;
    }
    return NULL;
}

static lx_spend_t *set_budget(lx_spend_t *s, double budget_usd, lx_period_t period)
{
    if (s == NULL)
        return NULL;
    int64_t b = budget_usd < 0 || !isfinite(budget_usd) ? -1 : llround(budget_usd * LX_NANO_USD);
    atomic_store_explicit(&s->budget, b, memory_order_relaxed);
    atomic_store_explicit(&s->period, (int)period, memory_order_relaxed);
    return s;
}

lx_spend_t *lx_spend_get(char kind, int64_t id, double budget_usd, lx_period_t period)
{
    return set_budget(lookup(lx_subject_key(kind, id, NULL, 0), true, kind, id, NULL), budget_usd,
                      period);
}

lx_spend_t *lx_spend_get_model(char kind, int64_t id, const char *model, double budget_usd,
                               lx_period_t period)
{
    return set_budget(lookup(lx_subject_key(kind, id, model, strlen(model)), true, kind, id, model),
                      budget_usd, period);
}

lx_spend_t *lx_spend_find(const char *subject)
{
    uint64_t key;
    if (lx_subject_parse(subject, &key) != LX_OK)
        return NULL;
    return lookup(key, false, 0, 0, NULL);
}

lx_spend_t *lx_spend_slot(int i)
{
    return &slots[i];
}

int64_t lx_spend_known(const lx_spend_t *s, int64_t now_ms)
{
    lx_period_t p = (lx_period_t)atomic_load_explicit(&s->period, memory_order_relaxed);
    int64_t want = lx_period_index(p, now_ms) + 1, g = 0;
    /* A sequence lock with one writer (the sync): a read between two equal
     * even sequence numbers saw one write whole. */
    for (;;) {
        uint64_t q1 = atomic_load(&s->seq);
        int64_t gi = atomic_load(&s->gidx);
        int64_t v = atomic_load(&s->global);
        if ((q1 & 1) == 0 && atomic_load(&s->seq) == q1) {
            g = gi == want ? v : 0;
            break;
        }
    }
    return g + atomic_load_explicit(&s->pending, memory_order_relaxed) +
           atomic_load_explicit(&s->sending, memory_order_relaxed);
}

void lx_spend_add(const lx_spend_set_t *set, double cost_usd)
{
    if (!(cost_usd > 0) || !isfinite(cost_usd))
        return;
    int64_t nano = llround(cost_usd * LX_NANO_USD);
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++)
        if (set->s[i])
            atomic_fetch_add_explicit(&set->s[i]->pending, nano, memory_order_relaxed);
}

void lx_spend_set_global(lx_spend_t *s, int64_t idx, int64_t nano)
{
    atomic_fetch_add(&s->seq, 1);
    atomic_store(&s->gidx, idx + 1);
    atomic_store(&s->global, nano);
    atomic_fetch_add(&s->seq, 1);
}

bool lx_budget_admit(const lx_spend_set_t *set, int64_t now_ms, lx_budget_refusal_t *r)
{
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++) {
        const lx_spend_t *s = set->s[i];
        if (s == NULL)
            continue;
        int64_t b = atomic_load_explicit(&s->budget, memory_order_relaxed);
        if (b < 0)
            continue;
        int64_t spent = lx_spend_known(s, now_ms);
        if (spent < b && b > 0)
            continue;
        lx_period_t p = (lx_period_t)atomic_load_explicit(&s->period, memory_order_relaxed);
        *r = (lx_budget_refusal_t){
            .who = s,
            .idx = i,
            .budget = b,
            .spent = spent,
            .period = p,
            .reset_ms = lx_period_end_ms(p, now_ms),
        };
        return false;
    }
    return true;
}
