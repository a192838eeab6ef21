/* registry_live.h - the lifetime of registry snapshots: publishing one,
 * and freeing the ones it replaced (inside the registry: registry.c and
 * the tests use it; requests use lx_registry_acquire/release).
 *
 * One publisher at a time (the control thread, or start-up and shutdown on
 * the main thread); any thread may acquire and release. */
#ifndef LX_AI_REGISTRY_LIVE_H
#define LX_AI_REGISTRY_LIVE_H

#include "ai/registry.h"

/* Makes s (built by registry_build.h, indexed) the current snapshot and
 * gives it the next version. Ownership of s moves to the registry. The
 * snapshot it replaces is freed once no request holds it. */
void lx_registry_publish(lx_snapshot_t *s);
/* Frees the replaced snapshots that no request holds any more. */
void lx_registry_reclaim(void);
/* Shutdown, after every thread that acquires has stopped: unpublishes the
 * current snapshot and frees every snapshot left. */
void lx_registry_retire_all(void);
/* Snapshots not freed yet: the current one and replaced ones still held. */
int lx_registry_live(void);

#endif
