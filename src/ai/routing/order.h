/* order.h - small ordering helpers shared by select.c and chain.c: sort
 * keys that preserve numeric order, an insertion sort for the short lists a
 * routing decision handles (a group's members, a model's credentials), and
 * priority tiers with a weighted-random head.
 *
 * Everything works in place on caller-owned arrays; nothing allocates. */
#ifndef LX_AI_ROUTING_ORDER_H
#define LX_AI_ROUTING_ORDER_H

#include "ai/routing/rng.h"
#include "core/common.h"

typedef struct {
    uint64_t k1, k2; /* ascending by k1, then k2 */
    uint32_t w;      /* weight, for lx_order_priority */
    uint16_t idx;    /* the caller's index */
} lx_order_item_t;

/* Stable insertion sort, ascending (k1, k2). Meant for n up to a few hundred. */
void lx_order_sort(lx_order_item_t *it, int n);

/* Order-preserving keys: a < b implies key(a) < key(b). */
static inline uint64_t lx_order_key_i32(int32_t v)
{
    return (uint64_t)((uint32_t)v ^ 0x80000000u);
}

/* For costs: negatives and NaN sort as 0 / last respectively. */
uint64_t lx_order_key_cost(double v);

/* Sorts the items by priority tier (the caller sets k1 to
 * lx_order_key_i32(priority); k2 is overwritten); in each tier the head is
 * drawn at random in proportion to w (weight 0 never heads a tier that has
 * a positive weight), the rest follow by weight descending, then index. */
void lx_order_priority(lx_order_item_t *it, int n, lx_rng_t *rng);

/* Moves the item drawn in proportion to w among it[0..n) to it[0], keeping
 * the others in their order. Does nothing when every weight is 0. */
void lx_order_weighted_head(lx_order_item_t *it, int n, lx_rng_t *rng);

#endif
