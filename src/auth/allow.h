/* allow.h - request and token allowances of API keys, users and teams
 * (rpm, rpd, tpm) and their requests in flight (max_parallel), held locally and leased from
 * Postgres so that a limit holds across every llmux instance without a database round trip on the
 * request path.
 *
 * One table per process, shared by every worker through C11 atomics (no
 * lock, no allocation on the request path). A subject ('key:12', 'user:7',
 * 'team:3') has one slot with three windows (requests per minute, requests
 * per day, tokens per minute). Each window is one atomic word: (window index
 * low 32 bits) << 32 | tokens left here (a request window's token is one
 * request; a tokens window's is one model token).
 *
 * Local mode (no database): a window starts with its whole limit: exact in
 * one instance. Shared mode (a database): a window starts empty and tokens
 * come from leases (allow_lease.h): a lease grants a slice of
 * lx_allow_slice(limit) = max(1, ceil(limit * 5 %)) tokens out of a global
 * count in ai_limit_windows that never exceeds the limit. A lease is asked
 * for when a take leaves a window with no tokens (or finds none), at most one
 * per window in flight. So that a request never waits and is never refused
 * only because a lease is on its way (a quiet key's first request of a
 * window, a burst faster than a database round trip), a take may borrow up
 * to one slice against the lease while the window's global count is not
 * known to be spent, and never more than the global count had left after
 * this instance's last lease (so one instance alone never exceeds its
 * limit); the lease's tokens pay the debt first. Bounds, for a limit L,
 * slice S and I instances, per window: at most L + I * S admitted (what
 * each borrowed just before another spent the count), and,
 * when demand exceeds the limit on every instance, at least L - I * S
 * (unused tokens: at most one slice per instance). 2 instances, rpm 60,
 * slice 3: between 54 and 66, i.e. 60 +- 10 %.
 *
 * Tokens per minute (tpm, input + output): a request takes its estimate E
 * (the prompt estimate plus max_tokens, or LX_ALLOW_TPM_DEFAULT_OUT when the
 * client set none) from the tokens window when that window is above its
 * floor (above zero, or above the borrow floor of one slice in shared mode),
 * so the take may leave it below the floor by up to E; when the response
 * ends (streams included, call_end.c) the window of its admission is
 * settled with the real use R (input + output as recorded): E - R is given
 * back, or R - E taken without a check (a debt the next leases pay: a lease
 * asks one slice plus the debt). A settlement after the window rolled is
 * dropped. Bound, for limit L, slice S, I instances and E_max the largest
 * estimate admitted, tokens used by requests admitted in one window:
 *   <= L + I * (S + E_max) + sum over those requests of max(0, R - E)
 * (one instance without a database: S = 0). The last term is the settlement
 * excess of requests whose estimate was lower than their real use: with
 * max_tokens set it is at most the prompt estimate's error (bytes / 4); with
 * no max_tokens, the output beyond the default.
 *
 * Requests in flight (max_parallel M, streams included): a count per slot,
 * taken at admission and released exactly once (the call's finalizer, or
 * lx_allow_release on a refusal after admission). Across instances each
 * instance publishes its count per subject to Postgres every 250 ms
 * (allow_parallel.h) and reads the sum the others published (fresh within
 * 3 s); admission checks local + others < M. Bound: in flight across I
 * instances <= M + the requests the other instances admitted since the count
 * this one read (at most one publication delay: 250 ms + a round trip +
 * 250 ms); arrivals slower than that never exceed M, one instance alone
 * never does.
 *
 * Ownership: this module owns the slots (a static table, process lifetime);
 * they are claimed when a registry snapshot is built (off the loops) and never
 * freed, and the snapshot's keys keep pointers to them. */
#ifndef LX_AUTH_ALLOW_H
#define LX_AUTH_ALLOW_H

#include "core/common.h"
#include "auth/subject.h"

#include <stdatomic.h>

#define LX_ALLOW_SLOTS 8192 /* subjects with a limit, per process */

/* The windows; LX_ALLOW_PAR (not a window) names a refusal for max_parallel. */
typedef enum {
    LX_ALLOW_MIN = 0,
    LX_ALLOW_DAY = 1,
    LX_ALLOW_TOK = 2,
    LX_ALLOW_PAR = 3
} lx_allow_per_t;
#define LX_ALLOW_NWIN            3
#define LX_ALLOW_TPM_DEFAULT_OUT 1024 /* output tokens estimated when max_tokens is not set */

typedef struct lx_allow {
    _Atomic uint64_t key;                      /* kind << 56 | id; 0 = free */
    char subject[LX_SUBJECT_MAX];              /* "key:12", "key:12@gpt-4o" (subject.h):
                                                * the ai_limit_windows subject */
    _Atomic int limit[LX_ALLOW_NWIN];          /* per window: 0 = none (from the snapshot) */
    _Atomic uint64_t word[LX_ALLOW_NWIN];      /* window << 32 | tokens left */
    _Atomic uint32_t leasing[LX_ALLOW_NWIN];   /* window + 1 of the lease in flight, 0 = none */
    _Atomic uint32_t exhausted[LX_ALLOW_NWIN]; /* window + 1 whose global count is spent */
    _Atomic uint32_t used[LX_ALLOW_NWIN];      /* window + 1 of the last request here */
    _Atomic uint64_t room[LX_ALLOW_NWIN];      /* (window + 1) << 32 | global count left
                                                * after the last lease of that window */
    _Atomic int max_parallel;                  /* 0 = none */
    _Atomic int32_t inflight;                  /* requests in flight in this process */
    _Atomic int32_t others;                    /* ... the other instances published */
    int32_t published;                         /* the publisher's (allow_parallel.c) */
    uint32_t mark;                             /* the publisher's, per tick */
} lx_allow_t;

/* The subjects of a request: [0..2] the key, its user and its team
 * (LX_LEVELS), [3..5] the model entry (model_limit.h) of each of those
 * levels that applies to the request's model; NULL where none. */
#define LX_LEVELS         3
#define LX_LIMIT_SUBJECTS (2 * LX_LEVELS)
typedef struct {
    lx_allow_t *s[LX_LIMIT_SUBJECTS];
} lx_allow_set_t;

/* Start-up, before any worker runs: shared (true) when leases come from a
 * database; false (the default): local limits. */
void lx_allow_set_shared(bool shared);

/* The slot of a subject (kind 'k', 'u' or 't'), claimed on first use; NULL
 * when the table is full (that subject is then not limited). Off the loops
 * (snapshot build). rpm / rpd <= 0: none. */
lx_allow_t *lx_allow_get(char kind, int64_t id, int rpm, int rpd);
/* Same, with every limit (tpm, max_parallel <= 0: none). */
lx_allow_t *lx_allow_get_all(char kind, int64_t id, int rpm, int rpd, int tpm, int max_parallel);
/* The slot of a model entry of a subject (subject.h: "key:12@gpt-4o"):
 * request windows only (rpm, rpd, tpm; no max_parallel). Off the loops. */
lx_allow_t *lx_allow_get_model(char kind, int64_t id, const char *model, int rpm, int rpd, int tpm);
/* Whether a has any limit (a subject whose limits were all removed keeps
 * its slot). */
bool lx_allow_limited(const lx_allow_t *a);

/* The slice a lease asks for. */
int lx_allow_slice(int limit);

/* The arithmetic of one window (w: the window index's low 32 bits). */
typedef enum {
    LX_ALLOW_TAKEN = 0, /* one token taken */
    LX_ALLOW_EMPTY,     /* no token here */
} lx_allow_rc_t;
/* *left: the tokens left after the take (negative: borrowed, see above). */
lx_allow_rc_t lx_allow_take(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t *left);
/* Takes n (>= 1) when the window is above its floor (it may end below). */
lx_allow_rc_t lx_allow_take_n(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t n,
                              int32_t *left);
void lx_allow_give_back(lx_allow_t *a, lx_allow_per_t p, uint32_t w);
/* Adds delta (negative: takes, without a check) to window w; no-op once
 * w rolled. */
void lx_allow_adjust(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t delta);
/* Requests in flight: true when one more fits (local + others < max),
 * counted; lx_allow_leave uncounts it. */
bool lx_allow_enter(lx_allow_t *a);
void lx_allow_leave(lx_allow_t *a);
/* Adds n leased tokens to window w (dropped if the window rolled). */
void lx_allow_credit(lx_allow_t *a, lx_allow_per_t p, uint32_t w, uint32_t n);
/* Worth leasing ahead for window w: never used yet (a new subject), or
 * used in w or the window before. */
bool lx_allow_active(const lx_allow_t *a, lx_allow_per_t p, uint32_t w);
/* Tokens left here in window w (negative: borrowed). */
int32_t lx_allow_left(const lx_allow_t *a, lx_allow_per_t p, uint32_t w);
/* Claims the right to lease for window w: true at most once until
 * lx_allow_lease_done; false when one is in flight or the window's global
 * count is spent. */
bool lx_allow_lease_claim(lx_allow_t *a, lx_allow_per_t p, uint32_t w);
#define LX_ALLOW_ROOM_UNKNOWN INT32_MAX /* the lease failed */

/* The lease for w ended: granted tokens (0 on failure) and room, what the
 * global count has left after it (<= 0: spent; LX_ALLOW_ROOM_UNKNOWN). */
void lx_allow_lease_done(lx_allow_t *a, lx_allow_per_t p, uint32_t w, uint32_t granted,
                         int32_t room);

/* A refusal: which subject and window, and the seconds to wait. */
typedef struct {
    const lx_allow_t *who;
    int idx; /* who's index in the set */
    lx_allow_per_t per;
    int limit;
    int64_t retry_after_s;
    bool waiting; /* a lease may bring tokens soon (not spent) */
} lx_allow_refusal_t;

/* What a lease asker does (allow_lease.h): called for each window that
 * wants a lease (claimed already). */
typedef void (*lx_allow_lease_fn)(void *arg, lx_allow_t *a, lx_allow_per_t p, int64_t window);

/* One admitted request's hold: set by the caller (at_ms, tokens: the
 * estimate, >= 1) and by lx_allow_admit (which subjects' tokens windows and
 * places in flight it took), so that its end gives back exactly those. */
typedef struct {
    int64_t at_ms;
    int32_t tokens;
    uint8_t took_tokens; /* bit i: set->s[i]'s tokens window */
    uint8_t entered;     /* bit i: a place in flight of set->s[i] */
    bool requests_only;  /* set by the caller: rpm and rpd only (a task's
                          * submission): no tokens window, no place in flight */
} lx_allow_ticket_t;

/* Takes one request from every limited request window of every subject,
 * t->tokens from every tokens window and one place in flight of every
 * subject with max_parallel (neither when t->requests_only), or nothing. true when admitted; false
 * with the refusal in *r. Windows that run dry are handed to lease (may be NULL: local mode or no
 * asker). */
bool lx_allow_admit(const lx_allow_set_t *set, lx_allow_ticket_t *t, lx_allow_lease_fn lease,
                    void *lease_arg, lx_allow_refusal_t *r);

/* Gives back what lx_allow_admit took (a request refused later, before
 * any call): requests and tokens (no-op for windows that rolled) and its
 * places in flight. */
void lx_allow_release(const lx_allow_set_t *set, const lx_allow_ticket_t *t);

/* The end of an admitted request (its finalizer, once): the tokens windows
 * it took from settled from the estimate to the real use (no-op for
 * windows that rolled), and its places in flight released. */
void lx_allow_settle(const lx_allow_set_t *set, const lx_allow_ticket_t *t, int64_t real);

/* What a window looks like at now_ms: the limit (0: none), what is left
 * (as this instance knows it: the global count left after its last lease
 * plus what it holds; exact with one instance), and the ms to its end. */
typedef struct {
    int limit;
    int64_t remaining;
    int64_t reset_ms;
} lx_allow_view_t;
void lx_allow_view(const lx_allow_t *a, lx_allow_per_t p, int64_t now_ms, lx_allow_view_t *v);
/* Requests in flight of a's subject: here and published by the others. */
int32_t lx_allow_in_flight(const lx_allow_t *a);

#endif
