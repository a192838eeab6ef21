/* rng.h - a per-request pseudo-random generator for routing decisions
 * (xorshift64*), so that no decision touches rand() or any shared state.
 *
 * Owns nothing. An lx_rng_t lives wherever the caller puts it (the request
 * context, a worker, a test) and must be used by one thread at a time. Not
 * for anything secret. */
#ifndef LX_AI_ROUTING_RNG_H
#define LX_AI_ROUTING_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s; /* never 0 */
} lx_rng_t;

/* Seeds from any 64-bit value (a request id, a counter, a clock reading):
 * one splitmix64 round spreads the bits, and 0 is mapped away. */
static inline void lx_rng_seed(lx_rng_t *r, uint64_t seed)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545f4914f6cdd1dull;
}

static inline uint64_t lx_rng_next(lx_rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n) for n >= 1 (Lemire's multiply-shift: the bias is below
 * n / 2^32, irrelevant for weights and jitter). Returns 0 for n == 0. */
static inline uint32_t lx_rng_below(lx_rng_t *r, uint32_t n)
{
    return (uint32_t)(((lx_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, n] for 64-bit ranges (jitter in milliseconds). */
static inline uint64_t lx_rng_upto(lx_rng_t *r, uint64_t n)
{
    if (n == UINT64_MAX)
        return lx_rng_next(r);
    return lx_rng_next(r) % (n + 1);
}

#endif
