/* store.h - blocking database access for start-up and for the registry's
 * control thread. Never called from a worker loop (those use pg.h).
 *
 * Ownership: row structs returned by lx_store_load belong to the caller
 * (lx_registry_rows_free). Sealed credentials are returned still sealed:
 * opening them is the registry's job. */
#ifndef LX_DB_STORE_H
#define LX_DB_STORE_H

#include "core/buf.h"
#include "core/config.h"

typedef struct lx_store lx_store_t;

typedef struct {
    int64_t id;
    char *name, *kind, *base_url, *status;
    char *extra_headers;     /* plain JSON object text an older version stored ("{}": none) */
    lx_buf_t headers_sealed; /* sealed JSON object (sealed_headers.h), empty if none */
    int timeouts_ms[4];      /* connect, first byte, idle, total; 0 = default */
    char *jobs;              /* settings.jobs (sql/017), JSON text; NULL: none */
    char *settings;          /* the whole settings object, JSON text (core/transport.h's keys) */
} lx_provider_row_t;

typedef struct {
    int64_t id, provider_id;
    char *name, *status;
    lx_buf_t credential; /* sealed bytes, empty if none */
    int priority, weight, rate_limit_per_minute, rate_limit_per_day; /* 0 = none */
} lx_connection_row_t;

typedef struct {
    int64_t id, provider_id;
    char *upstream_name, *public_name, *status;
    char *capabilities; /* Postgres array text, e.g. {chat,stream} */
    int context_window, max_output;
    double input_per_1m, output_per_1m, cached_per_1m;
    double unit_cost; /* USD per second of video or per image (sql/017) */
} lx_model_row_t;

typedef struct {
    int64_t id;
    unsigned char hash[32];
    char *prefix, *name, *status;
    int64_t expires_ms;                         /* 0 = never */
    char *allowed_models;                       /* Postgres array text, or NULL for all */
    int rpm;                                    /* the key's rate_limit_per_minute, 0 = none */
    int64_t user_id, team_id;                   /* 0 = none; team: the key's, else its user's */
    int user_rpm, user_rpd, team_rpm, team_rpd; /* 0 = none */
    /* the key's, its user's and its team's budget in USD (has_budget false:
     * none) and its period (budget_period text, NULL: total) */
    bool has_budget[3];
    double budget[3];
    char *budget_period[3];
    int rpd, tpm, max_parallel; /* the key's, 0 = none */
    int user_tpm, user_max_parallel, team_tpm, team_max_parallel;
    char *model_limits; /* the key's per-model overrides, JSON object text */
} lx_key_row_t;

typedef struct {
    int64_t id;
    char *name, *strategy, *status;
} lx_group_row_t;

typedef struct {
    int64_t id, group_id, provider_id, connection_id; /* connection_id 0: the provider's */
    char *upstream_name;
    int weight, priority;
} lx_member_row_t;

/* A user or a team, for sign-in by JWT (found by name). */
typedef struct {
    char kind; /* 'u': users, 't': teams */
    int64_t id;
    char *name, *status;
    int64_t team_id; /* a user's team, 0 = none */
    int rpm, rpd;    /* 0 = none */
    int tpm, max_parallel;
    bool has_budget; /* budget_usd set */
    double budget;
    char *budget_period; /* NULL: total */
    char *model_limits;  /* per-model overrides, JSON object text */
} lx_principal_row_t;

typedef struct {
    lx_group_row_t *groups;
    int ngroups;
    lx_member_row_t *members; /* ordered by group, then id */
    int nmembers;
    lx_provider_row_t *providers;
    int nproviders;
    lx_connection_row_t *connections;
    int nconnections;
    lx_model_row_t *models;
    int nmodels;
    lx_key_row_t *keys;
    int nkeys;
    lx_principal_row_t *principals; /* users, then teams, each by id */
    int nprincipals;
} lx_registry_rows_t;

/* A model the start-up seed puts in ai_models: a catalog entry (public_name
 * NULL) if no row of that provider has its upstream name yet; a config file
 * alias (public_name set) inserted, or its row of that public name made to
 * agree with it. */
typedef struct {
    const char *provider, *name, *capabilities; /* name: upstream; capabilities as {a,b} */
    int context_window, max_output;
    double input_per_1m, output_per_1m, cached_per_1m;
    const char *public_name; /* an alias: the public name; NULL: name */
} lx_seed_model_t;

lx_store_t *lx_store_open(const char *url, char *err, size_t errlen);
void lx_store_close(lx_store_t *s);
bool lx_store_ok(lx_store_t *s);

/* Start-up: makes the database agree with what the operator configured.
 * Known providers are seeded (disabled until configured); every provider in
 * cfg is upserted and enabled, its headers sealed with the master key; a
 * provider key from cfg becomes the connection "config" of that provider,
 * sealed with the master key; seed models are added where absent (and
 * aliases from cfg upserted by public name); plain
 * extra_headers an older version stored are sealed (and emptied in the same
 * statement) when there is a master key. One transaction: a crash leaves
 * everything as it was. Storing a key or a header value without a master
 * key is an error naming LLMUX_MASTER_KEY. */
int lx_store_sync(lx_store_t *s, const lx_config_t *cfg, const lx_seed_model_t *seed, size_t nseed,
                  char *err, size_t errlen);

int lx_store_load(lx_store_t *s, lx_registry_rows_t *out, char *err, size_t errlen);
void lx_registry_rows_free(lx_registry_rows_t *rows);

/* LISTEN on channel; then lx_store_wait blocks up to timeout_ms for a
 * notification: 1 notified, 0 timed out, -1 the connection broke. */
int lx_store_listen(lx_store_t *s, const char *channel);
int lx_store_wait(lx_store_t *s, int timeout_ms);

/* Re-encrypts every stored credential and every provider's sealed headers
 * sealed with old_key under new_key (key version: the old blob's + 1), in
 * one transaction, and notifies every instance. Blobs already sealed with
 * new_key are left alone, so a rotation interrupted and run again
 * completes. Returns how many credentials (and in *nheaders how many header
 * sets), or -1. */
int lx_store_rotate(lx_store_t *s, const unsigned char old_key[32], const unsigned char new_key[32],
                    int *nheaders, char *err, size_t errlen);

/* The AAD that binds a sealed credential to its row. */
void lx_credential_aad(int64_t connection_id, char *out, size_t outlen);

#endif
