/* breaker.c - circuit breaker transitions on one packed atomic word. */
#include "ai/routing/breaker.h"

/* brk word: state:2 | probes:4 | gen:16 | t_ms:42 (t: time of the last change) */
#define ST_BITS    2
#define PR_SHIFT   2
#define PR_MASK    UINT64_C(0xf)
#define GEN_SHIFT  6
#define GEN_MASK   UINT64_C(0xffff)
#define T_SHIFT    22
#define T_MASK     ((UINT64_C(1) << 42) - 1)
#define PROBES_MAX 15

static inline unsigned w_state(uint64_t w)
{
    return (unsigned)(w & ((1u << ST_BITS) - 1));
}
static inline unsigned w_probes(uint64_t w)
{
    return (unsigned)((w >> PR_SHIFT) & PR_MASK);
}
static inline uint32_t w_gen(uint64_t w)
{
    return (uint32_t)((w >> GEN_SHIFT) & GEN_MASK);
}
static inline int64_t w_time(uint64_t w)
{
    return (int64_t)(w >> T_SHIFT);
}
static inline uint64_t mkw(unsigned state, unsigned probes, uint32_t gen, int64_t t)
{
    uint64_t tt = t < 0 ? 0 : ((uint64_t)t & T_MASK);
    return (uint64_t)state | ((uint64_t)probes & PR_MASK) << PR_SHIFT |
           ((uint64_t)gen & GEN_MASK) << GEN_SHIFT | tt << T_SHIFT;
}

/* bucket word: gen:8 | epoch:16 | ok:20 | fail:20 */
#define B_CNT_MASK ((UINT64_C(1) << 20) - 1)
static inline uint64_t b_tag(uint32_t gen, uint64_t epoch)
{
    return ((uint64_t)(gen & 0xff) << 16 | (epoch & 0xffff)) << 40;
}
#define B_TAG_MASK (~((UINT64_C(1) << 40) - 1))

void lx_breaker_conf_default(lx_breaker_conf_t *c)
{
    *c = (lx_breaker_conf_t){
        .failure_threshold = 5,
        .failure_ratio = 0.5,
        .min_requests = 20,
        .window_ms = 30000,
        .open_ms = 30000,
        .half_open_max = 1,
    };
}

static unsigned probe_max(const lx_breaker_conf_t *c)
{
    unsigned m = c->half_open_max;
    return m < 1 ? 1 : m > PROBES_MAX ? PROBES_MAX : m;
}

static int64_t bucket_ms(const lx_breaker_conf_t *c)
{
    int64_t b = c->window_ms / LX_BRK_BUCKETS;
    return b > 0 ? b : 1;
}

lx_breaker_verdict_t lx_breaker_allow(lx_route_state_t *st, const lx_breaker_conf_t *c,
                                      int64_t now_ms, uint32_t *gen)
{
    if (!st) {
        *gen = 0;
        return LX_BRK_ALLOWED;
    }
    uint64_t w = atomic_load_explicit(&st->brk, memory_order_acquire);
    for (;;) {
        uint64_t nw;
        switch (w_state(w)) {
        case LX_BRK_CLOSED:
            *gen = w_gen(w);
            return LX_BRK_ALLOWED;
        case LX_BRK_OPEN:
            if (now_ms - w_time(w) < c->open_ms)
                return LX_BRK_DENIED;
            nw = mkw(LX_BRK_HALF_OPEN, 1, w_gen(w) + 1, now_ms);
            break;
        default: /* half-open */
            if (w_probes(w) < probe_max(c))
                nw = mkw(LX_BRK_HALF_OPEN, w_probes(w) + 1, w_gen(w), w_time(w));
            else if (now_ms - w_time(w) >= c->open_ms) /* the probes never reported */
                nw = mkw(LX_BRK_HALF_OPEN, 1, w_gen(w) + 1, now_ms);
            else
                return LX_BRK_DENIED;
            break;
        }
        if (atomic_compare_exchange_weak_explicit(&st->brk, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *gen = w_gen(nw);
            return LX_BRK_PROBE;
        }
    }
}

bool lx_breaker_would_allow(const lx_route_state_t *st, const lx_breaker_conf_t *c, int64_t now_ms)
{
    if (!st)
        return true;
    uint64_t w = atomic_load_explicit(&st->brk, memory_order_acquire);
    switch (w_state(w)) {
    case LX_BRK_CLOSED:
        return true;
    case LX_BRK_OPEN:
        return now_ms - w_time(w) >= c->open_ms;
    default:
        return w_probes(w) < probe_max(c) || now_ms - w_time(w) >= c->open_ms;
    }
}

/* Adds one result to the current bucket of generation gen. */
static void bucket_add(lx_route_state_t *st, const lx_breaker_conf_t *c, bool ok, uint32_t gen,
                       int64_t now_ms)
{
    uint64_t epoch = (uint64_t)(now_ms < 0 ? 0 : now_ms) / (uint64_t)bucket_ms(c);
    _Atomic uint64_t *b = &st->bucket[epoch % LX_BRK_BUCKETS];
    uint64_t tag = b_tag(gen, epoch);
    uint64_t old = atomic_load_explicit(b, memory_order_relaxed), nv;
    do {
        uint64_t okc = 0, failc = 0;
        if ((old & B_TAG_MASK) == tag) {
            okc = (old >> 20) & B_CNT_MASK;
            failc = old & B_CNT_MASK;
        }
        if (ok && okc < B_CNT_MASK)
            okc++;
        else if (!ok && failc < B_CNT_MASK)
            failc++;
        nv = tag | okc << 20 | failc;
    } while (!atomic_compare_exchange_weak_explicit(b, &old, nv, memory_order_relaxed,
                                                    memory_order_relaxed));
}

/* Results of generation gen in the rolling window ending now. */
static void window_sum(const lx_route_state_t *st, const lx_breaker_conf_t *c, uint32_t gen,
                       int64_t now_ms, uint64_t *okc, uint64_t *failc)
{
    uint64_t epoch = (uint64_t)(now_ms < 0 ? 0 : now_ms) / (uint64_t)bucket_ms(c);
    *okc = *failc = 0;
    for (uint64_t k = 0; k < LX_BRK_BUCKETS && k <= epoch; k++) {
        uint64_t e = epoch - k;
        uint64_t v = atomic_load_explicit(&st->bucket[e % LX_BRK_BUCKETS], memory_order_relaxed);
        if ((v & B_TAG_MASK) != b_tag(gen, e))
            continue;
        *okc += (v >> 20) & B_CNT_MASK;
        *failc += v & B_CNT_MASK;
    }
}

static bool should_trip(lx_route_state_t *st, const lx_breaker_conf_t *c, uint32_t consec,
                        uint32_t gen, int64_t now_ms)
{
    if (c->failure_threshold > 0 && consec >= c->failure_threshold)
        return true;
    if (c->failure_ratio <= 0)
        return false;
    uint64_t okc, failc;
    window_sum(st, c, gen, now_ms, &okc, &failc);
    uint64_t total = okc + failc;
    return total > 0 && total >= c->min_requests &&
           (double)failc >= c->failure_ratio * (double)total;
}

lx_breaker_event_t lx_breaker_record(lx_route_state_t *st, const lx_breaker_conf_t *c, bool ok,
                                     uint32_t gen, int64_t now_ms)
{
    if (!st)
        return LX_BRK_EV_NONE;
    gen &= GEN_MASK;
    uint64_t w = atomic_load_explicit(&st->brk, memory_order_acquire);
    if (w_gen(w) != gen)
        return LX_BRK_EV_STALE;

    if (w_state(w) == LX_BRK_CLOSED) {
        bucket_add(st, c, ok, gen, now_ms);
        if (ok) {
            atomic_store_explicit(&st->consec_fail, 0, memory_order_relaxed);
            return LX_BRK_EV_NONE;
        }
        uint32_t consec = atomic_fetch_add_explicit(&st->consec_fail, 1, memory_order_relaxed) + 1;
        if (!should_trip(st, c, consec, gen, now_ms))
            return LX_BRK_EV_NONE;
        uint64_t nw = mkw(LX_BRK_OPEN, 0, gen + 1, now_ms);
        /* In the closed state only a transition changes the word: if the CAS
         * fails, someone else already tripped it. */
        if (atomic_compare_exchange_strong_explicit(&st->brk, &w, nw, memory_order_acq_rel,
                                                    memory_order_acquire))
            return LX_BRK_EV_OPENED;
        return LX_BRK_EV_NONE;
    }

    if (w_state(w) == LX_BRK_OPEN) /* no request is ever allowed with an open generation */
        return LX_BRK_EV_STALE;

    /* half-open: this is a probe's verdict */
    for (;;) {
        uint64_t nw =
            ok ? mkw(LX_BRK_CLOSED, 0, gen + 1, now_ms) : mkw(LX_BRK_OPEN, 0, gen + 1, now_ms);
        if (ok)
            atomic_store_explicit(&st->consec_fail, 0, memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&st->brk, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire))
            return ok ? LX_BRK_EV_CLOSED : LX_BRK_EV_REOPENED;
        if (w_gen(w) != gen || w_state(w) != LX_BRK_HALF_OPEN)
            return LX_BRK_EV_STALE; /* another probe decided first */
    }
}

void lx_breaker_release(lx_route_state_t *st, uint32_t gen)
{
    if (!st)
        return;
    gen &= GEN_MASK;
    uint64_t w = atomic_load_explicit(&st->brk, memory_order_acquire);
    while (w_state(w) == LX_BRK_HALF_OPEN && w_gen(w) == gen && w_probes(w) > 0) {
        uint64_t nw = mkw(LX_BRK_HALF_OPEN, w_probes(w) - 1, gen, w_time(w));
        if (atomic_compare_exchange_weak_explicit(&st->brk, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire))
            return;
    }
}

lx_breaker_state_t lx_breaker_state(const lx_route_state_t *st)
{
    if (!st)
        return LX_BRK_CLOSED;
    return (lx_breaker_state_t)w_state(atomic_load_explicit(&st->brk, memory_order_acquire));
}

uint32_t lx_breaker_generation(const lx_route_state_t *st)
{
    return st ? w_gen(atomic_load_explicit(&st->brk, memory_order_acquire)) : 0;
}

static const char *const state_names[] = {
    [LX_BRK_CLOSED] = "closed",
    [LX_BRK_OPEN] = "open",
    [LX_BRK_HALF_OPEN] = "half_open",
};

static const char *const event_names[] = {
    [LX_BRK_EV_NONE] = "none",     [LX_BRK_EV_STALE] = "stale",       [LX_BRK_EV_OPENED] = "opened",
    [LX_BRK_EV_CLOSED] = "closed", [LX_BRK_EV_REOPENED] = "reopened",
};

const char *lx_breaker_state_name(lx_breaker_state_t s)
{
    return (unsigned)s < LX_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

const char *lx_breaker_event_name(lx_breaker_event_t e)
{
    return (unsigned)e < LX_ARRAY_LEN(event_names) ? event_names[e] : "unknown";
}
