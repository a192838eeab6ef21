/* allow.c - the allowance table and its arithmetic (allow.h). */
#include "auth/allow.h"
#include "core/windows.h"

#include <stdio.h>

static lx_allow_t slots[LX_ALLOW_SLOTS];
_Static_assert(LX_LIMIT_SUBJECTS <= 8, "the ticket's bitmasks are uint8_t");
static bool shared_mode;

void lx_allow_set_shared(bool shared)
{
    shared_mode = shared;
}

int lx_allow_slice(int limit)
{
    if (limit <= 0)
        return 0;
    int s = (int)(((int64_t)limit * 5 + 99) / 100);
    return s < 1 ? 1 : s;
}

lx_allow_t *lx_allow_get(char kind, int64_t id, int rpm, int rpd)
{
    return lx_allow_get_all(kind, id, rpm, rpd, 0, 0);
}

bool lx_allow_limited(const lx_allow_t *a)
{
    for (int p = 0; p < LX_ALLOW_NWIN; p++)
        if (atomic_load_explicit(&a->limit[p], memory_order_relaxed) > 0)
            return true;
    return atomic_load_explicit(&a->max_parallel, memory_order_relaxed) > 0;
}

/* Claims (or finds) the slot of key, and sets its limits. */
static lx_allow_t *claim(uint64_t key, char kind, int64_t id, const char *model, int rpm, int rpd,
                         int tpm, int max_parallel)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < LX_ALLOW_SLOTS; i++) {
        lx_allow_t *a = &slots[(h + i) % LX_ALLOW_SLOTS];
        uint64_t cur = atomic_load_explicit(&a->key, memory_order_acquire);
        if (cur == 0) {
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&a->key, &zero, key) || zero == key) {
                if (zero == 0)
                    lx_subject_text(a->subject, kind, id, model, model ? strlen(model) : 0);
                cur = key;
            } else
                continue;
        }
        if (cur != key)
            continue;
        atomic_store_explicit(&a->limit[LX_ALLOW_MIN], rpm > 0 ? rpm : 0, memory_order_relaxed);
        atomic_store_explicit(&a->limit[LX_ALLOW_DAY], rpd > 0 ? rpd : 0, memory_order_relaxed);
        atomic_store_explicit(&a->limit[LX_ALLOW_TOK], tpm > 0 ? tpm : 0, memory_order_relaxed);
        atomic_store_explicit(&a->max_parallel, max_parallel > 0 ? max_parallel : 0,
                              memory_order_relaxed);
        return a;
    }
    return NULL;
}

lx_allow_t *lx_allow_get_all(char kind, int64_t id, int rpm, int rpd, int tpm, int max_parallel)
{
    return claim(lx_subject_key(kind, id, NULL, 0), kind, id, NULL, rpm, rpd, tpm, max_parallel);
}

lx_allow_t *lx_allow_get_model(char kind, int64_t id, const char *model, int rpm, int rpd, int tpm)
{
    return claim(lx_subject_key(kind, id, model, strlen(model)), kind, id, model, rpm, rpd, tpm, 0);
}

#define WIN(word)  ((uint32_t)((word) >> 32))
#define LEFT(word) ((int32_t)(uint32_t)(word)) /* negative: borrowed */
#define MAKE(w, n) ((uint64_t)(w) << 32 | (uint32_t)(int32_t)(n))

/* The word of window w: a stale window starts full (local) or empty. */
static uint64_t current(const lx_allow_t *a, lx_allow_per_t p, uint32_t w, uint64_t word)
{
    if (WIN(word) == w)
        return word;
    int lim = atomic_load_explicit(&a->limit[p], memory_order_relaxed);
    return MAKE(w, shared_mode ? 0 : lim);
}

bool lx_allow_active(const lx_allow_t *a, lx_allow_per_t p, uint32_t w)
{
    uint32_t u = atomic_load_explicit(&a->used[p], memory_order_relaxed);
    return u == 0 || u == w + 1 || u == w;
}

/* How far below zero a take may go in window w: in shared mode, one slice
 * borrowed against the lease that is (or is about to be) in flight, until
 * the window's global count is known to be spent; else none. */
static int32_t floor_of(const lx_allow_t *a, lx_allow_per_t p, uint32_t w)
{
    if (!shared_mode || atomic_load_explicit(&a->exhausted[p], memory_order_relaxed) == w + 1)
        return 0;
    int32_t most = lx_allow_slice(atomic_load_explicit(&a->limit[p], memory_order_relaxed));
    uint64_t r = atomic_load_explicit(&a->room[p], memory_order_relaxed);
    if (WIN(r) == w + 1 && (int32_t)(uint32_t)r < most) /* what the next lease can grant */
        most = (int32_t)(uint32_t)r;
    return most > 0 ? -most : 0;
}

lx_allow_rc_t lx_allow_take(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t *left)
{
    return lx_allow_take_n(a, p, w, 1, left);
}

lx_allow_rc_t lx_allow_take_n(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t n, int32_t *left)
{
    if (atomic_load_explicit(&a->used[p], memory_order_relaxed) != w + 1)
        atomic_store_explicit(&a->used[p], w + 1, memory_order_relaxed);
    int32_t floor = floor_of(a, p, w);
    uint64_t old = atomic_load_explicit(&a->word[p], memory_order_relaxed);
    for (;;) {
        uint64_t cur = current(a, p, w, old);
        if (LEFT(cur) <= floor) {
            if (cur != old) /* record the roll so leases credit the new window */
                atomic_compare_exchange_weak(&a->word[p], &old, cur);
            *left = LEFT(cur);
            return LX_ALLOW_EMPTY;
        }
        int64_t after = (int64_t)LEFT(cur) - n;
        uint64_t next = MAKE(w, after < INT32_MIN / 2 ? INT32_MIN / 2 : after);
        if (atomic_compare_exchange_weak_explicit(&a->word[p], &old, next, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *left = LEFT(next);
            return LX_ALLOW_TAKEN;
        }
    }
}

void lx_allow_credit(lx_allow_t *a, lx_allow_per_t p, uint32_t w, uint32_t n)
{
    uint64_t old = atomic_load_explicit(&a->word[p], memory_order_relaxed);
    for (;;) {
        if ((int32_t)(WIN(old) - w) > 0)
            return; /* a later window: the lease was for one that ended */
        uint64_t cur = current(a, p, w, old);
        if (atomic_compare_exchange_weak_explicit(&a->word[p], &old, MAKE(w, LEFT(cur) + n),
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

void lx_allow_give_back(lx_allow_t *a, lx_allow_per_t p, uint32_t w)
{
    lx_allow_adjust(a, p, w, 1);
}

void lx_allow_adjust(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t delta)
{
    uint64_t old = atomic_load_explicit(&a->word[p], memory_order_relaxed);
    for (;;) {
        if (WIN(old) != w || delta == 0)
            return;
        int64_t v = (int64_t)LEFT(old) + delta;
        v = v < INT32_MIN / 2 ? INT32_MIN / 2 : v > INT32_MAX / 2 ? INT32_MAX / 2 : v;
        if (atomic_compare_exchange_weak_explicit(&a->word[p], &old, MAKE(w, v),
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

bool lx_allow_enter(lx_allow_t *a)
{
    int max = atomic_load_explicit(&a->max_parallel, memory_order_relaxed);
    int32_t n = atomic_fetch_add_explicit(&a->inflight, 1, memory_order_acq_rel) + 1;
    if (max <= 0 || n + atomic_load_explicit(&a->others, memory_order_relaxed) <= max)
        return true;
    atomic_fetch_sub_explicit(&a->inflight, 1, memory_order_acq_rel);
    return false;
}

void lx_allow_leave(lx_allow_t *a)
{
    atomic_fetch_sub_explicit(&a->inflight, 1, memory_order_acq_rel);
}

int32_t lx_allow_in_flight(const lx_allow_t *a)
{
    return atomic_load_explicit(&a->inflight, memory_order_relaxed) +
           atomic_load_explicit(&a->others, memory_order_relaxed);
}

int32_t lx_allow_left(const lx_allow_t *a, lx_allow_per_t p, uint32_t w)
{
    uint64_t word = atomic_load_explicit(&a->word[p], memory_order_relaxed);
    return LEFT(current(a, p, w, word));
}

bool lx_allow_lease_claim(lx_allow_t *a, lx_allow_per_t p, uint32_t w)
{
    if (atomic_load_explicit(&a->exhausted[p], memory_order_relaxed) == w + 1)
        return false;
    uint32_t cur = atomic_load_explicit(&a->leasing[p], memory_order_relaxed);
    if (cur == w + 1)
        return false;
    return atomic_compare_exchange_strong(&a->leasing[p], &cur, w + 1);
}

void lx_allow_lease_done(lx_allow_t *a, lx_allow_per_t p, uint32_t w, uint32_t granted,
                         int32_t room)
{
    if (room != LX_ALLOW_ROOM_UNKNOWN)
        atomic_store_explicit(&a->room[p], MAKE(w + 1, room < 0 ? 0 : room), memory_order_relaxed);
    if (granted)
        lx_allow_credit(a, p, w, granted);
    if (room != LX_ALLOW_ROOM_UNKNOWN && room <= 0)
        atomic_store_explicit(&a->exhausted[p], w + 1, memory_order_relaxed);
    uint32_t cur = w + 1;
    atomic_compare_exchange_strong(&a->leasing[p], &cur, 0);
}

static uint32_t win_of(lx_allow_per_t p, int64_t now_ms, int64_t *full)
{
    *full = lx_window_index(now_ms, p == LX_ALLOW_DAY ? LX_DAY_MS : LX_MINUTE_MS);
    return (uint32_t)*full;
}

static int64_t window_len(lx_allow_per_t p)
{
    return p == LX_ALLOW_DAY ? 86400000 : 60000;
}

/* The ms from now_ms to the end of p's window (real clock). */
static int64_t to_end(lx_allow_per_t p, int64_t now_ms)
{
    int64_t len = window_len(p);
    return len - ((now_ms % len) + len) % len;
}

static int32_t amount(lx_allow_per_t p, int32_t tokens)
{
    return p == LX_ALLOW_TOK ? (tokens > 0 ? tokens : 1) : 1;
}

/* Gives back the first n windows taken and the places in flight entered. */
static void undo(lx_allow_t *const *ta, const lx_allow_per_t *tp, const uint32_t *tw, int n,
                 const lx_allow_set_t *set, unsigned entered, int32_t tokens)
{
    while (n-- > 0)
        lx_allow_adjust(ta[n], tp[n], tw[n], amount(tp[n], tokens));
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++)
        if (entered & (1u << i))
            lx_allow_leave(set->s[i]);
}

bool lx_allow_admit(const lx_allow_set_t *set, lx_allow_ticket_t *t, lx_allow_lease_fn lease,
                    void *lease_arg, lx_allow_refusal_t *r)
{
    lx_allow_t *taken_a[LX_LIMIT_SUBJECTS * LX_ALLOW_NWIN];
    lx_allow_per_t taken_p[LX_LIMIT_SUBJECTS * LX_ALLOW_NWIN];
    uint32_t taken_w[LX_LIMIT_SUBJECTS * LX_ALLOW_NWIN];
    int ntaken = 0;
    int64_t now_ms = t->at_ms;
    t->took_tokens = t->entered = 0;
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++) {
        lx_allow_t *a = set->s[i];
        if (a == NULL)
            continue;
        for (int p = 0; p < LX_ALLOW_NWIN; p++) {
            int lim = atomic_load_explicit(&a->limit[p], memory_order_relaxed);
            if (lim <= 0 || (p == LX_ALLOW_TOK && t->requests_only))
                continue;
            int64_t full;
            uint32_t w = win_of((lx_allow_per_t)p, now_ms, &full);
            int32_t left;
            lx_allow_rc_t rc = lx_allow_take_n(a, (lx_allow_per_t)p, w,
                                               amount((lx_allow_per_t)p, t->tokens), &left);
            if (left <= 0 && shared_mode && lease && lx_allow_lease_claim(a, (lx_allow_per_t)p, w))
                lease(lease_arg, a, (lx_allow_per_t)p, full);
            if (rc == LX_ALLOW_TAKEN) {
                taken_a[ntaken] = a, taken_p[ntaken] = (lx_allow_per_t)p;
                taken_w[ntaken++] = w;
                if (p == LX_ALLOW_TOK)
                    t->took_tokens |= (uint8_t)(1u << i);
                continue;
            }
            undo(taken_a, taken_p, taken_w, ntaken, set, 0, t->tokens);
            t->took_tokens = 0;
            bool spent = !shared_mode ||
                         atomic_load_explicit(&a->exhausted[p], memory_order_relaxed) == w + 1;
            *r = (lx_allow_refusal_t){
                .who = a,
                .idx = i,
                .per = (lx_allow_per_t)p,
                .limit = lim,
                .waiting = !spent,
                .retry_after_s = spent ? (to_end((lx_allow_per_t)p, now_ms) + 999) / 1000 : 1,
            };
            return false;
        }
    }
    for (int i = 0; i < LX_LIMIT_SUBJECTS && !t->requests_only; i++) {
        lx_allow_t *a = set->s[i];
        if (a == NULL || atomic_load_explicit(&a->max_parallel, memory_order_relaxed) <= 0)
            continue;
        if (lx_allow_enter(a)) {
            t->entered |= (uint8_t)(1u << i);
            continue;
        }
        undo(taken_a, taken_p, taken_w, ntaken, set, t->entered, t->tokens);
        t->took_tokens = t->entered = 0;
        *r = (lx_allow_refusal_t){
            .who = a,
            .idx = i,
            .per = LX_ALLOW_PAR,
            .limit = atomic_load_explicit(&a->max_parallel, memory_order_relaxed),
            .retry_after_s = 1,
        };
        return false;
    }
    return true;
}

void lx_allow_release(const lx_allow_set_t *set, const lx_allow_ticket_t *t)
{
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++) {
        lx_allow_t *a = set->s[i];
        for (int p = 0; a && p < LX_ALLOW_NWIN; p++) {
            int64_t full;
            if (p == LX_ALLOW_TOK ? (t->took_tokens & (1u << i)) != 0
                                  : atomic_load_explicit(&a->limit[p], memory_order_relaxed) > 0)
                lx_allow_adjust(a, (lx_allow_per_t)p, win_of((lx_allow_per_t)p, t->at_ms, &full),
                                amount((lx_allow_per_t)p, t->tokens));
        }
        if (t->entered & (1u << i))
            lx_allow_leave(a);
    }
}

void lx_allow_settle(const lx_allow_set_t *set, const lx_allow_ticket_t *t, int64_t real)
{
    if (real < 0)
        real = 0;
    int64_t d = (int64_t)amount(LX_ALLOW_TOK, t->tokens) - real;
    int32_t delta = d < -(INT32_MAX / 4) ? -(INT32_MAX / 4)
                    : d > INT32_MAX / 4  ? INT32_MAX / 4
                                         : (int32_t)d;
    for (int i = 0; i < LX_LIMIT_SUBJECTS; i++) {
        lx_allow_t *a = set->s[i];
        int64_t full;
        if (t->took_tokens & (1u << i))
            lx_allow_adjust(a, LX_ALLOW_TOK, win_of(LX_ALLOW_TOK, t->at_ms, &full), delta);
        if (t->entered & (1u << i))
            lx_allow_leave(a);
    }
}
void lx_allow_view(const lx_allow_t *a, lx_allow_per_t p, int64_t now_ms, lx_allow_view_t *v)
{
    int lim = atomic_load_explicit(&a->limit[p], memory_order_relaxed);
    int64_t full;
    uint32_t w = win_of(p, now_ms, &full);
    v->limit = lim;
    v->reset_ms = to_end(p, now_ms);
    if (lim <= 0) {
        v->remaining = 0;
        return;
    }
    int64_t left = lx_allow_left(a, p, w);
    if (shared_mode) {
        uint64_t r = atomic_load_explicit(&a->room[p], memory_order_relaxed);
        left += WIN(r) == w + 1 ? (int64_t)(int32_t)(uint32_t)r : lim;
    }
    v->remaining = left < 0 ? 0 : left > lim ? lim : left;
}
