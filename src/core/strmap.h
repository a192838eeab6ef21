/* strmap.h - an immutable string -> index hash table, built once and then
 * read by any number of threads without locks (open addressing, linear
 * probing, load factor <= 0.5).
 *
 * The map copies nothing: it keeps the key pointers it was built with, which
 * must outlive it. Lookups take a length-carrying view. */
#ifndef LX_CORE_STRMAP_H
#define LX_CORE_STRMAP_H

#include "core/common.h"

typedef struct {
    uint32_t mask;
    struct lx_strmap_slot {
        const char *key; /* NULL: empty */
        uint32_t len;
        uint32_t hash;
        int32_t value;
    } * slots;
} lx_strmap_t;

void lx_strmap_init(lx_strmap_t *m, size_t expected);
/* Adds key -> value unless key is present (the first one wins). */
void lx_strmap_put(lx_strmap_t *m, const char *key, size_t len, int32_t value);
/* The value for key, or -1. */
int32_t lx_strmap_get(const lx_strmap_t *m, lx_str_t key);
void lx_strmap_free(lx_strmap_t *m);

uint32_t lx_hash(const void *p, size_t n);

#endif
