/* registry_live.h - the lifetime of registry snapshots: publishing one,
 * and freeing the ones it replaced (private to the registry: registry.c and
 * the tests use it; requests use lx_registry_acquire/release). A published
 * snapshot belongs to the registry until its last reference is released.
 *
 * One publisher at a time (the control thread, or start-up and shutdown on
 * the main thread); any thread may acquire and release. */
#ifndef LX_AI_REGISTRY_LIVE_H
#define LX_AI_REGISTRY_LIVE_H

#include "ai/registry.h"

#define LX_REGISTRY_SLOTS 4096

/* Makes s (built by registry_build.h) the current snapshot and gives it
 * the next version: LX_OK, and s belongs to the registry. The snapshot it
 * replaces is freed at once if no request holds it, else by the release of
 * its last reference (on that thread). LX_ERROR when LX_REGISTRY_SLOTS - 1
 * snapshots are still held (nothing changes; s stays the caller's). */
int lx_registry_publish(lx_snapshot_t *s);
/* Shutdown, after every thread that acquires has stopped: unpublishes the
 * current snapshot and frees every snapshot left, held or not. */
void lx_registry_retire_all(void);
/* Snapshots not freed yet: the current one and replaced ones still held
 * (tests; any thread). */
int lx_registry_live(void);

#endif
