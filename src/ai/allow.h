/* allow.h - request allowances of API keys, users and teams (rpm, rpd),
 * held locally and leased from Postgres so that a limit holds across every
 * llmux instance without a database round trip on the request path.
 *
 * One table per process, shared by every worker through C11 atomics (no
 * lock, no allocation on the request path). A subject ('key:12', 'user:7',
 * 'team:3') has one slot with two windows (minute, day). Each window is one
 * atomic word: (window index low 32 bits) << 32 | tokens left here.
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
 * Ownership: this module owns the slots (a static table, process lifetime);
 * they are claimed when a registry snapshot is built (off the loops) and never
 * freed, and the snapshot's keys keep pointers to them. */
#ifndef LX_AI_ALLOW_H
#define LX_AI_ALLOW_H

#include "core/common.h"

#include <stdatomic.h>

#define LX_ALLOW_SLOTS 8192 /* subjects with a limit, per process */

typedef enum { LX_ALLOW_MIN = 0, LX_ALLOW_DAY = 1 } lx_allow_per_t;

typedef struct lx_allow {
    _Atomic uint64_t key;          /* kind << 56 | id; 0 = free */
    char subject[24];              /* "key:12": the ai_limit_windows subject */
    _Atomic int limit[2];          /* per window: 0 = none (from the snapshot) */
    _Atomic uint64_t word[2];      /* window << 32 | tokens left */
    _Atomic uint32_t leasing[2];   /* window + 1 of the lease in flight, 0 = none */
    _Atomic uint32_t exhausted[2]; /* window + 1 whose global count is spent */
    _Atomic uint32_t used[2];      /* window + 1 of the last request here */
    _Atomic uint64_t room[2];      /* (window + 1) << 32 | global count left after
                                    * the last lease of that window */
} lx_allow_t;

/* Up to three subjects of a request (key, user, team): NULL where none. */
typedef struct {
    lx_allow_t *s[3];
} lx_allow_set_t;

/* Start-up, before any worker runs: shared (true) when leases come from a
 * database; false (the default): local limits. */
void lx_allow_set_shared(bool shared);

/* The slot of a subject (kind 'k', 'u' or 't'), claimed on first use; NULL
 * when the table is full (that subject is then not limited). Off the loops
 * (snapshot build). rpm / rpd <= 0: none. */
lx_allow_t *lx_allow_get(char kind, int64_t id, int rpm, int rpd);

/* The slice a lease asks for. */
int lx_allow_slice(int limit);

/* The arithmetic of one window (w: the window index's low 32 bits). */
typedef enum {
    LX_ALLOW_TAKEN = 0, /* one token taken */
    LX_ALLOW_EMPTY,     /* no token here */
} lx_allow_rc_t;
/* *left: the tokens left after the take (negative: borrowed, see above). */
lx_allow_rc_t lx_allow_take(lx_allow_t *a, lx_allow_per_t p, uint32_t w, int32_t *left);
void lx_allow_give_back(lx_allow_t *a, lx_allow_per_t p, uint32_t w);
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
    lx_allow_per_t per;
    int limit;
    int64_t retry_after_s;
    bool waiting; /* a lease may bring tokens soon (not spent) */
} lx_allow_refusal_t;

/* What a lease asker does (allow_lease.h): called for each window that
 * wants a lease (claimed already). */
typedef void (*lx_allow_lease_fn)(void *arg, lx_allow_t *a, lx_allow_per_t p, int64_t window);

/* Takes one token from every limited window of every subject, or none.
 * true when admitted; false with the refusal in *r. Windows that run dry
 * are handed to lease (may be NULL: local mode or no asker). */
bool lx_allow_admit(const lx_allow_set_t *set, int64_t now_ms, lx_allow_lease_fn lease,
                    void *lease_arg, lx_allow_refusal_t *r);

/* Gives back what lx_allow_admit took at now_ms (a request refused later,
 * before any call). No-op for windows that rolled. */
void lx_allow_release(const lx_allow_set_t *set, int64_t now_ms);

#endif
