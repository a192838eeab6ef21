/* registry_build.h - building and freeing registry snapshots (inside the
 * registry: registry.c and the tests use it; requests never do).
 *
 * Ownership: a builder returns a new snapshot that the caller owns, with
 * its lookup indexes built and its groups bound to their shared state in
 * the routing state table (which must be initialised first, or the groups
 * keep cursors of their own). It is not shared until published
 * (registry_live.h); once published, only the registry frees it. The
 * builders allocate and may grow the routing state table: off the loop
 * threads only. */
#ifndef LX_AI_REGISTRY_BUILD_H
#define LX_AI_REGISTRY_BUILD_H

#include "ai/catalog.h"
#include "ai/registry.h"
#include "db/store.h"

/* From the database's rows (credentials opened with cfg's master keys).
 * rows and cfg are only read; the snapshot copies what it keeps. */
lx_snapshot_t *lx_snapshot_from_rows(const lx_config_t *cfg, const lx_registry_rows_t *rows);
/* Without a database: cfg's providers, their catalog models, cfg's aliases
 * and groups. */
lx_snapshot_t *lx_snapshot_from_config(const lx_config_t *cfg);
/* Frees s and everything it owns (secrets are wiped first). s must not be
 * published, or be one the registry has let go of (registry_live.c). */
void lx_snapshot_free(lx_snapshot_t *s);

/* A config file alias as a catalog row (the seed of the database sync). */
lx_model_info_t lx_alias_info(const lx_config_t *cfg, const lx_model_conf_t *mc);
/* registry_principals.c: the snapshot's users and teams (by name, for
 * sign-in by JWT) with their allowance slots; and their freeing. */
void lx_snapshot_build_principals(lx_snapshot_t *s, const lx_registry_rows_t *rows);
void lx_snapshot_free_principals(lx_snapshot_t *s);
/* The order of lx_snapshot_t.keys (by hash), for qsort and bsearch. */
int lx_apikey_cmp(const void *a, const void *b);

#endif
