/* registry.h - the read-mostly state every request consults: providers with
 * their credentials (opened, in memory only), models, groups, API keys.
 *
 * A snapshot is immutable once published: every field is written before
 * publication and only read after it, by any number of threads. What
 * changes while requests run lives outside it, keyed by id in the shared
 * routing state table (routing/state.h): credentials' and deployments'
 * health and limits, group members' latency, and each group's round-robin
 * cursor, so that all of it goes on across republications. The snapshot
 * holds pointers to those entries, never the state itself.
 *
 * Lifetime: a request takes a reference at start (lx_registry_acquire: one
 * atomic add, no lock) and drops it at the end (lx_registry_release: one
 * atomic subtract). The control thread builds new snapshots off the loop
 * threads (registry_build.c: from Postgres, or from the configuration when
 * there is no database) and publishes them with one atomic exchange
 * (registry_live.c). A replaced snapshot is freed when its last reference
 * is released, by the thread that releases it, or at once by the publisher
 * when no request holds it. */
#ifndef LX_AI_REGISTRY_H
#define LX_AI_REGISTRY_H

#include "core/config.h"
#include "core/strmap.h"
#include "auth/allow.h"
#include "auth/budget.h"
#include "auth/model_limit.h"
#include "ai/routing/select.h"

typedef struct {
    int64_t id;
    char *name;
    char *api_key;        /* secret, opened from its sealed form; NULL for keyless servers */
    int priority, weight; /* lowest priority value is tried first; weight splits a tier */
    bool active;
    int rate_limit_per_minute, rate_limit_per_day; /* 0 = none */
} lx_credential_t;

typedef struct {
    int64_t id;
    lx_provider_conf_t conf; /* conf.api_key: the first active credential's key */
    bool active;
    lx_credential_t *creds;
    int ncreds;
    char *jobs; /* settings.jobs: the media job adapter's settings, JSON text (NULL: none) */
} lx_provider_t;

typedef struct {
    int64_t id;
    const lx_provider_t *provider;
    char *upstream_name, *public_name; /* an alias: a public name other than the upstream's */
    char *full_name;                   /* "provider/public_name": how clients address it */
    char *upstream_full; /* "provider/upstream_name": the index key for upstream names */
    unsigned caps;       /* LX_CAP_* */
    int context_window, max_output;
    double input_per_1m, output_per_1m, cached_per_1m;
    double unit_cost; /* media: USD per second of video or per image */
    bool active;
} lx_model_t;

typedef struct {
    int64_t id;
    unsigned char hash[32]; /* SHA-256 of the key */
    char label[32];         /* "key_<id>", for logs and usage */
    bool active;
    int64_t expires_ms; /* 0 = never */
    char **allowed;     /* NULL: every model */
    int nallowed;
    lx_allow_set_t allow; /* [0..2]: the key's, its user's and its team's slots */
    lx_spend_set_t spend; /* [0..2]: the key's, its user's and its team's spend and budgets */
    lx_model_limits_t ml; /* the key's own per-model overrides (model_limit.h) */
    /* The key's, its user's and its team's overrides (NULL: none): &ml and
     * the principals' (borrowed from this snapshot). */
    const lx_model_limits_t *mls[LX_LEVELS];
} lx_apikey_t;

/* A user or a team by name: who a JWT's claims name (registry_principals.c). */
typedef struct {
    int64_t id;
    char *name;
    bool active;
    int64_t team_id;      /* a user's team (0: none); 0 for a team */
    lx_allow_t *slot;     /* its rpm/rpd allowance (allow.h), NULL when it has none */
    lx_spend_t *spend;    /* its spend and budget (budget.h); NULL: the table is full */
    lx_model_limits_t ml; /* its per-model overrides (model_limit.h) */
} lx_principal_t;

struct lx_route_state;

/* One place a request may go: a provider, one of its credentials (NULL: a
 * keyless server), a model (NULL: not in the catalog), with the credential's
 * key in conf and its shared routing state. The one target type: a group's
 * members are built as targets with the snapshot; a model's candidates are
 * assembled per request (call_targets.c). */
typedef struct {
    const lx_provider_t *prov;
    const lx_credential_t *cred;
    const lx_model_t *model;
    char upstream_model[256];
    lx_provider_conf_t conf;      /* prov->conf, api_key = cred's key */
    struct lx_route_state *state; /* the credential's breaker and limits, NULL if none */
    struct lx_route_state *dep;   /* the deployment's (credential x upstream model) cooling,
                                   * breaker and 403 hold; NULL: the credential's */
    struct lx_route_state *stats; /* a group member's latency / in-flight, NULL if none */
} lx_target_t;

/* A public model name backed by members and a selection strategy. */
typedef struct {
    int64_t id;
    char *name;
    bool active;
    lx_group_t sel;       /* the strategy (members point at targets and at their shared state) */
    lx_target_t *targets; /* the members, in sel's order */
    int ntargets;
} lx_group_entry_t;

typedef struct lx_snapshot {
    int slot; /* the registry's (registry_live.c), set at publication */
    uint64_t version;
    bool from_db;
    int64_t build_us;     /* load + build time, for the log */
    int64_t published_ms; /* wall clock at publication (its age in /metrics) */
    lx_provider_t *providers;
    int nproviders;
    lx_model_t *models;
    int nmodels;
    lx_apikey_t *keys; /* sorted by hash */
    int nkeys;
    lx_strmap_t provider_by_name;  /* -> index in providers */
    lx_strmap_t model_by_full;     /* "provider/public" -> index in models */
    lx_strmap_t model_by_upstream; /* "provider/upstream" -> the model of that name (else the
                                      first alias of it) */
    lx_strmap_t model_by_public;   /* public name -> first active model's index */
    lx_group_entry_t *groups;
    int ngroups;
    lx_strmap_t group_by_name;     /* active groups with members -> index in groups */
    lx_principal_t *users, *teams; /* each sorted by id */
    int nusers, nteams;
    lx_strmap_t user_by_name, team_by_name; /* -> index in users / teams */
} lx_snapshot_t;

/* Start-up (blocking, main thread): with a database, syncs the configured
 * providers into it and loads the first snapshot, then starts the control
 * thread (NOTIFY llmux_config + a periodic refresh); without one, builds
 * the snapshot from the configuration. cfg must outlive the registry. */
int lx_registry_start(const lx_config_t *cfg, char *err, size_t errlen);
void lx_registry_stop(void);

/* The current snapshot with a reference for the caller (NULL before start
 * or after stop). Any thread; lock-free, no allocation. The caller reads it
 * (never writes it) until it passes it to lx_registry_release, exactly
 * once, from any thread; s may be NULL. */
lx_snapshot_t *lx_registry_acquire(void);
void lx_registry_release(lx_snapshot_t *s);

/* Database health as the control thread last saw it. */
bool lx_registry_db_ok(void);
/* The newest published snapshot's version (1, 2, ...). */
uint64_t lx_registry_version(void);

const lx_provider_t *lx_snapshot_provider(const lx_snapshot_t *s, lx_str_t name);
/* The model a provider serves as name: its public name (an alias goes
 * upstream under its upstream_name), else an upstream name. */
const lx_model_t *lx_snapshot_model(const lx_snapshot_t *s, const lx_provider_t *p, lx_str_t name);
/* The first active model with that public name whose provider is active. */
const lx_model_t *lx_snapshot_public_model(const lx_snapshot_t *s, lx_str_t public_name);
const lx_group_entry_t *lx_snapshot_group(const lx_snapshot_t *s, lx_str_t name);
const lx_apikey_t *lx_snapshot_key(const lx_snapshot_t *s, const unsigned char hash[32]);
bool lx_apikey_allows(const lx_apikey_t *k, lx_str_t model);
/* A user or team by name or by id (NULL if none); borrowed from s. */
const lx_principal_t *lx_snapshot_user(const lx_snapshot_t *s, lx_str_t name);
const lx_principal_t *lx_snapshot_team(const lx_snapshot_t *s, lx_str_t name);
const lx_principal_t *lx_snapshot_team_by_id(const lx_snapshot_t *s, int64_t id);
const lx_principal_t *lx_snapshot_user_by_id(const lx_snapshot_t *s, int64_t id);

#endif
