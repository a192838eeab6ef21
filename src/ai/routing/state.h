/* state.h - the shared, lock-free runtime state of routing targets, one
 * lx_route_state_t per key, in three namespaces:
 *   - a credential (its id: ai_connections.id): its own breaker (connect / TLS
 *     failures), rate-limit windows, credential-wide cooling (quota
 *     exhausted) and auth hold (401), in-flight count, EWMA of time to first
 *     byte, success / error totals, and what its deployments' breakers say
 *     (deploy.h);
 *   - a deployment (credential x upstream model name): cooling after a 429,
 *     the deployment's breaker (5xx, malformed answers, timeouts) and a 403
 *     hold. Only cooling_until, auth_until, brk, consec_fail, bucket[],
 *     ttfb_ewma, inflight and dep_win are used there;
 *   - a group member (group id x member index): latency and in-flight of
 *     that member alone;
 *   - a group (its id): the round-robin / smooth-weighted cursor (`cursor`,
 *     select.h), the only field used there, so that a group's turns go on
 *     across snapshots.
 *
 * The table is a fixed-capacity open-addressing hash (linear probing) of
 * 192-byte entries, allocated once at start-up and never resized. Entries are
 * inserted lock-free (CAS on the key) and never removed: a credential deleted
 * from the database keeps its entry until the process ends (at 192 bytes an
 * entry, 65536 entries cost 12 MiB of address space, touched lazily). Every
 * field is a C11 atomic and the all-zero entry is a valid fresh state
 * (breaker closed, no counts, no data), so a reader that finds a key another
 * thread has just inserted never sees half-initialised state.
 *
 * Any thread may use any entry at any time without a lock. Entry pointers are
 * stable for the life of the table, so the snapshot builder resolves them
 * once (lx_cred_state_get) and the request path uses the pointers directly.
 *
 * Clock: every routing function takes now_ms from the caller. Use one clock
 * for all of them; the wall clock (lx_wall_ms) is the intended one, because
 * the rate-limit day window aligns to UTC midnight, Retry-After may be an
 * HTTP date and cooling_until is shared with Postgres as a timestamp. Values
 * must lie in [0, 2^42) ms (until the year 2109). A clock stepping back only
 * makes a window or a timeout last longer.
 *
 * lx_route_state_t is 64-byte aligned: get entries from a table, never from
 * malloc (which only guarantees 16).
 *
 * A NULL state pointer means "untracked" (the table was full or the id
 * invalid): every routing function accepts it and treats the target as
 * healthy, unlimited and without data. */
#ifndef LX_AI_ROUTING_STATE_H
#define LX_AI_ROUTING_STATE_H

#include "core/common.h"

#include <stdatomic.h>

#define LX_STATE_DEFAULT_CAPACITY 65536
#define LX_BRK_BUCKETS            6 /* rolling failure-ratio window: 6 buckets */

typedef struct lx_route_state {
    /* first cache line: what a routing decision reads */
    _Alignas(64) _Atomic uint64_t key; /* 0: free slot */
    _Atomic uint64_t brk;          /* breaker word: state, probes, generation, time (breaker.c) */
    _Atomic int64_t cooling_until; /* ms; cooling while now < cooling_until */
    _Atomic int64_t auth_until;    /* ms; flagged after a 401/403 while now < auth_until */
    _Atomic uint64_t rpm_win;      /* minute index << 32 | count taken in it */
    _Atomic uint64_t rpd_win;      /* day index << 32 | count taken in it */
    _Atomic uint64_t ttfb_ewma;    /* microseconds << 4 (fixed point); 0: no data */
    _Atomic int32_t inflight;      /* attempts started and not ended */
    _Atomic uint32_t consec_fail;  /* consecutive failures in the current generation */
    /* second cache line: breaker window and totals */
    _Atomic uint64_t bucket[LX_BRK_BUCKETS]; /* gen:8 | epoch:16 | ok:20 | fail:20 */
    /* Monotonic totals of attempts ended (attempt.c), any generation: the
     * success and error counts (lx_state_count). The health monitor writes
     * their growth back to Postgres. */
    _Atomic uint64_t ok_total, fail_total;
    /* third cache line: when the credential was last used / last failed */
    _Alignas(64) _Atomic int64_t last_used_ms; /* end of the newest attempt (ms); 0: never */
    _Atomic uint64_t last_error;               /* newest error: ms << 8 | lx_cred_err_t; 0: none */
    /* deploy.c: on a credential, window:32 | deployments seen:16 | failing:16;
     * on a deployment, window:32 | seen:1 | failing:1 (bits 0 and 1) */
    _Atomic uint64_t dep_win;
    _Atomic uint64_t cursor; /* on a group: the turns taken (select.c) */
} lx_route_state_t;

typedef struct lx_state_table lx_state_table_t;

/* --- keys ---------------------------------------------------------------- */

/* The key of a credential id (ids are > 0; BIGSERIAL or the config-only
 * ids from 1). Returns 0 (invalid) for ids <= 0 or >= 2^62. */
uint64_t lx_state_key_cred(int64_t cred_id);
/* The key of member index idx (0..65535) of group group_id (> 0, < 2^46):
 * a separate namespace from credential keys. 0 if out of range. */
uint64_t lx_state_key_member(int64_t group_id, int idx);

/* The key of group group_id (> 0, < 2^62): a namespace of its own (top two
 * bits 11). 0 if out of range. */
uint64_t lx_state_key_group(int64_t group_id);

/* The key of a deployment: credential cred_id (as for lx_state_key_cred) x
 * upstream model name (the bytes sent upstream, case-sensitive; aliases of
 * one upstream model share it). A namespace of its own: the top two bits
 * are 10, the other 62 bits a hash of the pair (splitmix64 over FNV-1a of
 * the name and the id). Two different pairs that hash alike would share
 * one state entry: with n deployments the chance of any such pair is about
 * n^2 / 2^63 (2^-31 for a full table of 65536); the effect is that the two
 * cool and break together, as a whole credential did before deployments
 * existed; nothing else is shared (the credential used is the request's
 * own). 0 for an invalid id or an empty name. */
uint64_t lx_state_key_deploy(int64_t cred_id, lx_str_t model);

/* --- a table (tests, or several tables) ---------------------------------- */

/* capacity is rounded up to a power of two (minimum 64). Inserts stop at 7/8
 * of capacity so probe sequences stay short. Start-up only: allocates. */
lx_state_table_t *lx_state_table_new(size_t capacity);
/* No thread may use the table or any entry pointer after this. */
void lx_state_table_free(lx_state_table_t *t);
/* The entry for key, inserted on first use. NULL for key 0 or when the table
 * is full. The pointer stays valid until lx_state_table_free. */
lx_route_state_t *lx_state_table_get(lx_state_table_t *t, uint64_t key);
/* As lx_state_table_get, but inserts only while the table is less than
 * half full (the request path: names a client chose must not take the room
 * the snapshot builder needs for credentials and configured deployments). */
lx_route_state_t *lx_state_table_get_soft(lx_state_table_t *t, uint64_t key);
/* The entry for key if present, else NULL; never inserts. */
lx_route_state_t *lx_state_table_find(lx_state_table_t *t, uint64_t key);
size_t lx_state_table_count(const lx_state_table_t *t);
size_t lx_state_table_capacity(const lx_state_table_t *t);

/* --- the process-wide table ---------------------------------------------- */

/* Start-up, main thread, before workers start (LX_ERROR if called twice or
 * on allocation failure). capacity 0 means LX_STATE_DEFAULT_CAPACITY. */
int lx_route_state_init(size_t capacity);
/* After every worker has stopped. */
void lx_route_state_shutdown(void);
/* The process-wide table, or NULL before lx_route_state_init. */
lx_state_table_t *lx_route_state_table(void);
/* Entries of the process-wide table (NULL when not initialised, the id is
 * invalid or the table is full). */
lx_route_state_t *lx_cred_state_get(int64_t cred_id);
lx_route_state_t *lx_member_state_get(int64_t group_id, int idx);
lx_route_state_t *lx_group_state_get(int64_t group_id);
/* A deployment's entry. lx_deploy_state_get is for the snapshot builder
 * (inserts up to the table's limit); lx_deploy_state_use for the request
 * path (hashes the name, inserts only below half the capacity: no lock, no
 * allocation). NULL: untracked, and then deployment signals fall back on the
 * credential (attempt.h). */
lx_route_state_t *lx_deploy_state_get(int64_t cred_id, lx_str_t model);
lx_route_state_t *lx_deploy_state_use(int64_t cred_id, lx_str_t model);

/* --- per-entry counters -------------------------------------------------- */

static inline void lx_state_inflight_acquire(lx_route_state_t *st)
{
    if (st)
        atomic_fetch_add_explicit(&st->inflight, 1, memory_order_relaxed);
}

static inline void lx_state_inflight_release(lx_route_state_t *st)
{
    if (st)
        atomic_fetch_sub_explicit(&st->inflight, 1, memory_order_relaxed);
}

static inline int32_t lx_state_inflight(const lx_route_state_t *st)
{
    return st ? atomic_load_explicit(&st->inflight, memory_order_relaxed) : 0;
}

/* Folds one time-to-first-byte sample (µs, >= 0) into the EWMA (alpha 1/8,
 * as TCP's SRTT; the first sample is taken as is). CAS loop, lock-free. */
void lx_state_ttfb_update(lx_route_state_t *st, int64_t ttfb_us);
/* The EWMA in µs, or -1 when there is no sample yet. */
int64_t lx_state_ttfb_us(const lx_route_state_t *st);

/* What the newest error of a credential was: a small code kept in the shared
 * state (no strings there); lx_cred_err_name gives the text for logs and the
 * last_error column of ai_connections. */
typedef enum {
    LX_CRED_ERR_NONE = 0,
    LX_CRED_ERR_UPSTREAM,     /* 5xx, a broken or malformed answer, connect failure */
    LX_CRED_ERR_TIMEOUT,      /* connect / first byte / idle / total timeout, 408, 504 */
    LX_CRED_ERR_UNAVAILABLE,  /* 503 / 529: overloaded */
    LX_CRED_ERR_RATE_LIMITED, /* 429, 402 or a quota error */
    LX_CRED_ERR_AUTH,         /* 401 / 403: the credential was refused */
    LX_CRED_ERR__COUNT
} lx_cred_err_t;

const char *lx_cred_err_name(lx_cred_err_t e);

/* Counts one ended attempt (attempt.c calls it from lx_attempt_end): a
 * success (err == LX_CRED_ERR_NONE, ok set) adds to ok_total; an error adds
 * to fail_total and becomes the last error unless a newer one is already
 * there; neither (ok false, err NONE: the client left, a 4xx of the
 * client's own) counts nowhere. last_used_ms moves forward in every case.
 * Lock-free; a store is skipped when the value would not change. */
void lx_state_count(lx_route_state_t *st, bool ok, lx_cred_err_t err, int64_t now_ms);
/* Readers (any thread; relaxed: each value alone is exact, the set is not a
 * snapshot). */
uint64_t lx_state_success_total(const lx_route_state_t *st);
uint64_t lx_state_error_total(const lx_route_state_t *st);
int64_t lx_state_last_used_ms(const lx_route_state_t *st);
/* The newest error's time (ms, 0: none) and code (may be NULL). */
int64_t lx_state_last_error(const lx_route_state_t *st, lx_cred_err_t *code);

/* 401 seen on a credential, or 403 on a deployment: the entry is flagged
 * (not eligible) until now + hold_ms. */
void lx_state_flag_auth(lx_route_state_t *st, int64_t now_ms, int64_t hold_ms);
/* Clears the flag (the credential was edited). */
void lx_state_clear_auth(lx_route_state_t *st);
bool lx_state_auth_flagged(const lx_route_state_t *st, int64_t now_ms);

#endif
