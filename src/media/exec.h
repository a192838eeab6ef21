/* exec.h - the media executors ("video.generate", "image.generate"): the
 * task system's executor interface (task/task.h) on top of the pure job
 * adapters (adapter.h) and the worker's upstream client.
 *
 * Where a task goes (provider, credential, base URL, key, adapter, the
 * upstream model name and its unit price) is not media's to know: the app
 * gives a resolver (lx_media_resolve_fn) that reads the registry snapshot.
 * The resolver runs on any thread and must not block.
 *
 * Ownership: lx_media_exec_register keeps the resolver for the process's
 * life. A target (lx_media_target_t) owns its strings and, for a generic
 * adapter, the adapter; lx_media_target_free frees them and wipes the key.
 * The view's ctx (lx_task_view_t.ctx) must be the worker's lx_upstream_t. */
#ifndef LX_MEDIA_EXEC_H
#define LX_MEDIA_EXEC_H

#include "media/adapter.h"
#include "task/task.h"
#include "upstream/upstream.h"

typedef enum { LX_MEDIA_VIDEO, LX_MEDIA_IMAGE } lx_media_kind_t;

typedef struct {
    char provider[128];      /* the provider's name */
    char credential_id[128]; /* the pool key: the credential's id ("cred:<id>"), or
                                "provider:<name>" for a keyless provider */
    char *base_url;          /* owned */
    char *key;               /* owned secret (wiped on free); NULL for none */
    char *upstream_model;    /* owned: the name the provider knows */
    char *public_model;      /* owned: how the client named it */
    const lx_media_adapter_t *adapter;
    lx_media_adapter_t *owned_adapter; /* a generic adapter made for this target, or NULL */
    double unit_price;                 /* USD per second of video or per image (0: free) */
    lx_timeouts_t timeouts;
    lx_transport_t transport; /* owned copy: the provider's connection settings */
} lx_media_target_t;

/* model: the client's model name; credential_id: the pool key a task was
 * submitted with (NULL at submit: pick one). LX_OK with out filled, or
 * LX_ERROR with a message for the client in err (no secret). */
typedef int (*lx_media_resolve_fn)(const char *model, lx_media_kind_t kind,
                                   const char *credential_id, lx_media_target_t *out, char *err,
                                   size_t errlen);

void lx_media_target_free(lx_media_target_t *t);

/* Main thread, before the workers start: registers both executors. */
int lx_media_exec_register(lx_media_resolve_fn resolve);
lx_media_resolve_fn lx_media_resolver(void);

#endif
