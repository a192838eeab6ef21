/* metrics_int.h - the inside of the metrics registry (metrics.h), shared by
 * metrics.c (the owner's writes) and metrics_render.c (the scrape's reads)
 * only. A series belongs to the worker's table that made it and lives until
 * lx_metrics_free. */
#ifndef LX_OBS_METRICS_INT_H
#define LX_OBS_METRICS_INT_H

#include "obs/metrics.h"

#include <stdatomic.h>
#include <stddef.h>

enum { T_REQ, T_LAT, T_TOK, T_TEAM, T_KEY, T_RETRY, T__COUNT };
enum { H_TOTAL, H_OVERHEAD, H_TTFB, H_FIRST, H_GAP, H__COUNT };
#define NCOUNTERS 4

struct lx_mseries {
    lx_mseries_t *next; /* set before publication, constant after */
    uint64_t hash;
    size_t len;
    const char *labels; /* rendered `a="x",b="y"`, inside this block */
    _Atomic uint64_t c[NCOUNTERS];
    lx_hist_t h[]; /* the table's nh histograms */
};

typedef struct {
    int nh;
    /* the owner's index (open addressing, power-of-two capacity) */
    lx_mseries_t **idx;
    size_t cap, n;
    /* what readers walk */
    _Atomic(lx_mseries_t *) head;
    _Atomic uint64_t dropped;
} mtab_t;

struct lx_metrics {
    bool per_key;
    mtab_t t[T__COUNT];
};

#endif
