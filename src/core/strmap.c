/* strmap.c - immutable open-addressing string map. */
#include "core/strmap.h"

#include <stdlib.h>

uint32_t lx_hash(const void *p, size_t n)
{
    /* FNV-1a: short keys (model and provider names), good enough spread. */
    const unsigned char *b = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

void lx_strmap_init(lx_strmap_t *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    m->mask = (uint32_t)(cap - 1);
    m->slots = lx_calloc(cap, sizeof *m->slots);
}

void lx_strmap_put(lx_strmap_t *m, const char *key, size_t len, int32_t value)
{
    uint32_t h = lx_hash(key, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct lx_strmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            *s = (struct lx_strmap_slot){key, (uint32_t)len, h, value};
            return;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return;
    }
}

int32_t lx_strmap_get(const lx_strmap_t *m, lx_str_t key)
{
    if (m->slots == NULL)
        return -1;
    uint32_t h = lx_hash(key.p, key.n);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct lx_strmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            return -1;
        if (s->hash == h && s->len == key.n && memcmp(s->key, key.p, key.n) == 0)
            return s->value;
    }
}

void lx_strmap_free(lx_strmap_t *m)
{
    free(m->slots);
    m->slots = NULL;
}
