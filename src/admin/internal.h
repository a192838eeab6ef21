/* internal.h - what the files of src/admin share: the pending-operation
 * context, entity descriptors, validation and the generic CRUD engine.
 * Nothing outside src/admin includes this file.
 *
 * Request lifecycle. A handler validates what the client sent, then hands
 * an adm_op_t to adm_submit, which queues one SQL statement on the worker's
 * Postgres connection and registers an abort callback on the request; the
 * handler returns LX_AGAIN. The op owns itself from then on: the DB callback
 * runs exactly once and either replies (adm_reply_*, adm_error*: these end
 * the request and free the op), submits the next statement, or starts an
 * upstream call. If the client leaves first, the abort callback forgets the
 * request (op->req = NULL) and the op is freed when its DB callback runs
 * (or at once, cancelling the upstream call, if it was waiting on one). */
#ifndef LX_ADMIN_INTERNAL_H
#define LX_ADMIN_INTERNAL_H

#include "admin/admin.h"
#include "auth/roles.h"
#include "core/buf.h"

#include <jansson.h>

/* ---- who is calling (principal.c) ---- */

/* The caller of an admin request: the admin key (root) or a JWT's role,
 * user and, for a team_admin, its team. */
typedef struct adm_principal {
    lx_role_t role;
    int64_t team_id; /* a team_admin's team: every key, user and usage row it
                      * reaches is that team's; 0 for other roles */
    char team[256];  /* that team's name */
    char actor[272]; /* the audit log's actor: "admin", or "jwt:<user>" */
    char claim[64];  /* the role claim as the token has it (for messages) */
} adm_principal_t;

/* Signs in a JWT bearer for the admin API: verified (ai/signin.h), its role
 * read, a team_admin's team found (the team claim, else the user record's
 * team) in the snapshot. LX_OK with *p filled; LX_ERROR with the status
 * (401: the token; 403: a team_admin without a team) and a client-safe
 * message. */
int adm_principal_from_jwt(lx_str_t token, adm_principal_t *p, int *status, char *msg, size_t cap);
/* The team a team_admin's request is confined to (0: none). */
int64_t adm_scope_team(const lx_admin_t *a);
/* The audit statements write actor 'admin': for another actor, sql with
 * every "SELECT 'admin', " of an audit insert turned into
 * "SELECT $<nparams+1>::text, " (malloc'd; the caller passes actor as
 * that parameter), or NULL when there is nothing to rewrite. */
char *adm_actor_sql(const char *sql, int nparams);

/* ---- pending operations (op.c) ---- */

#define ADM_DB_DEADLINE_MS 15000

struct event;
typedef struct adm_op adm_op_t;
typedef struct adm_entity adm_entity_t;
typedef void (*adm_step_fn)(adm_op_t *op, const lx_pg_result_t *res);

struct adm_op {
    lx_admin_t *admin;
    lx_req_t *req; /* NULL once the client has left */
    const adm_entity_t *ent;
    adm_step_fn step;              /* runs with the DB result while the client is there */
    bool db_pending;               /* a query of ours is queued: its callback frees us */
    int ok_status;                 /* 200, or 201 for creations */
    int64_t id;                    /* the entity id the op is about (0: none) */
    int64_t parent_id;             /* the group of a member */
    int64_t limit, offset;         /* lists */
    char *doc;                     /* validated JSON document (owned) */
    char *secret;                  /* a value to zero on free: an API key, a credential */
    void (*on_free)(adm_op_t *op); /* extra cleanup (connection tests) */
    void (*on_abort)(adm_op_t *op);
    void *ext;              /* the owner of on_free's data */
    adm_principal_t who;    /* the caller (a copy of lx_admin_t.who) */
    struct event *deadline; /* answers 503 if the database stays silent */
};

adm_op_t *adm_op_new(lx_admin_t *admin, lx_req_t *req, const adm_entity_t *ent);
void adm_op_free(adm_op_t *op);
/* Queues sql with text params (copied) and step as the continuation.
 * Returns LX_AGAIN when queued; otherwise it has replied 503, freed op and
 * returns LX_OK. From a step, just return after calling it. While the
 * database is unreachable queries wait in the connection's queue: if no
 * answer comes within ADM_DB_DEADLINE_MS the client gets a 503 and the op
 * waits, detached, for its callback. */
int adm_submit(adm_op_t *op, const char *sql, int nparams, const char *const *params,
               adm_step_fn step);
/* Reply and free op (the client may be gone: then only free). */
void adm_reply_json(adm_op_t *op, int status, json_t *body); /* steals body */
void adm_error(adm_op_t *op, int status, lx_err_t err, const char *msg, const char *param);
/* Maps a failed statement onto a client error (409/422/400/404/503/500) and
 * replies. */
void adm_db_error(adm_op_t *op, const lx_pg_result_t *res);
/* Parses the JSON text in column col of row 0 (NULL if none or bad). */
json_t *adm_row_json(const lx_pg_result_t *res, int row, int col);

/* ---- validation (validate.c) ---- */

typedef enum {
    FT_TEXT,    /* string */
    FT_INT,     /* integer column */
    FT_BIGINT,  /* id column */
    FT_NUM,     /* NUMERIC column */
    FT_TEXTARR, /* TEXT[] column from an array of strings */
    FT_JSONB,   /* JSONB column */
    FT_TS,      /* TIMESTAMPTZ from RFC 3339 text */
    FT_VIRTUAL, /* validated, but no column of its own (e.g. api_key) */
} adm_ftype_t;

enum {
    F_REQUIRED = 1 << 0, /* on create */
    F_NULLABLE = 1 << 1,
    F_READONLY = 1 << 2, /* shown, never written by the client */
};

/* A rejected field: the message and the field it names. */
typedef struct {
    int status; /* 400 unless set */
    lx_err_t err;
    char msg[300];
    char param[64];
} adm_verr_t;

/* Checks a non-null value of the field's type; false with e filled. */
typedef bool (*adm_check_fn)(const char *field, const json_t *v, adm_verr_t *e);

typedef struct {
    const char *name; /* JSON key and column */
    adm_ftype_t type;
    unsigned flags;
    adm_check_fn check; /* NULL: the type check is enough */
    /* A field stored in another column (e.g. a key's "team" name as
     * team_id): that column and the SQL expression (over $1, the document)
     * that computes it. NULL: the column is name, its value read from $1. */
    const char *column;
    const char *expr;
} adm_field_t;

/* A list filter: ?name=value -> column = value. */
typedef struct {
    const char *param;
    const char *column;
    const char *cast; /* "text", "bigint" */
    adm_check_fn check;
    /* Set: column IN (sub $n::cast), e.g. a team name to team_id with
     * "SELECT id FROM teams WHERE name =". */
    const char *sub;
} adm_filter_t;

bool adm_verr(adm_verr_t *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Common checks. */
bool adm_chk_status(const char *f, const json_t *v, adm_verr_t *e);      /* active|disabled */
bool adm_chk_positive(const char *f, const json_t *v, adm_verr_t *e);    /* int32 > 0 */
bool adm_chk_nonneg(const char *f, const json_t *v, adm_verr_t *e);      /* int32 >= 0 */
bool adm_chk_int32(const char *f, const json_t *v, adm_verr_t *e);       /* any int32 */
bool adm_chk_id(const char *f, const json_t *v, adm_verr_t *e);          /* bigint > 0 */
bool adm_chk_label(const char *f, const json_t *v, adm_verr_t *e);       /* 1..200 chars */
bool adm_chk_text(const char *f, const json_t *v, adm_verr_t *e);        /* 0..2000 chars */
bool adm_chk_model_name(const char *f, const json_t *v, adm_verr_t *e);  /* model-name chars */
bool adm_chk_model_list(const char *f, const json_t *v, adm_verr_t *e);  /* array of those */
bool adm_chk_money(const char *f, const json_t *v, adm_verr_t *e);       /* number >= 0 */
bool adm_chk_rfc3339(const char *f, const json_t *v, adm_verr_t *e);     /* timestamp text */
bool adm_chk_text_status(const char *f, const json_t *v, adm_verr_t *e); /* for filters */
bool adm_chk_text_id(const char *f, const json_t *v, adm_verr_t *e);     /* for filters */
bool adm_chk_period(const char *f, const json_t *v, adm_verr_t *e); /* daily|weekly|monthly|total */

/* model_limits.c: {"<model>": {"rpm": .., "budget_usd": ..}}, at most this many. */
#define ADM_MODEL_LIMITS_MAX 64
bool adm_chk_model_limits(const char *f, const json_t *v, adm_verr_t *e);

/* Parses strict RFC 3339 ("2025-01-02T03:04:05.678Z", "...+02:00") into
 * Unix milliseconds. */
bool adm_parse_rfc3339(const char *s, int64_t *ms);
/* Formats Unix milliseconds as "2025-01-02T03:04:05.678Z" (out: 48 bytes). */
void adm_format_rfc3339(int64_t ms, char out[48]);

/* Every timestamp string in v (under a key ending in "_at" or "_until", or "from",
 * "to", "bucket"; not inside a connection's free-form "settings") rewritten
 * as adm_format_rfc3339 prints it: UTC, milliseconds, "Z". Postgres prints
 * "2026-12-05T01:02:03.456789+00:00"; every admin answer goes through this
 * (adm_reply_json). */
void adm_normalize_times(json_t *v);

/* The request body as a JSON object, or NULL after a 400 reply. */
json_t *adm_parse_body(lx_req_t *req);
/* Checks body against the entity's fields and returns the validated
 * document (new reference: only the entity's writable fields), or NULL
 * with e filled. */
json_t *adm_validate(const adm_entity_t *ent, json_t *body, bool create, adm_verr_t *e);
/* The request's body parsed and validated for ent (new reference), or NULL
 * after replying the error (400 in the client's shape). */
json_t *adm_read_doc(lx_req_t *req, const adm_entity_t *ent, bool create);

void adm_reply_verr(lx_req_t *req, const adm_verr_t *e);

/* principal.c: a key's or user's document from a team_admin: "team_id" / "team" must be
 * its own team (403 otherwise); on create the team is set. True for every
 * other caller. */
bool adm_scope_doc(const lx_admin_t *a, json_t *doc, bool create, adm_verr_t *e);

/* A query-string value, percent-decoded into buf (NULL if absent). */
const char *adm_query(lx_req_t *req, const char *name, char *buf, size_t cap);
/* Only the query parameters in allowed (NULL-terminated, may be NULL) and
 * the list filters of filters_of (may be NULL): false with e naming the
 * first other one (params.c). */
bool adm_query_only(lx_req_t *req, const char *const *allowed, const adm_entity_t *filters_of,
                    adm_verr_t *e);
/* ?name= as an RFC 3339 timestamp: 1 with *ms set, 0 when absent, -1 with
 * e naming it when it is not one. An unencoded '+' of an offset (a space
 * once decoded) is read as '+'. */
int adm_query_time(lx_req_t *req, const char *name, int64_t *ms, adm_verr_t *e);
/* ?limit= (default 50, 1..500: anything else is an error) and ?offset=
 * (default 0). */
bool adm_query_page(lx_req_t *req, int64_t *limit, int64_t *offset, adm_verr_t *e);

/* ---- entities and the generic CRUD engine (crud.c) ---- */

struct adm_entity {
    const char *name;         /* path segment, audit entity and NOTIFY payload */
    const char *notify;       /* NOTIFY payload when it differs from name */
    const char *singular;     /* for messages: "provider" */
    const char *table;        /* "ai_providers" */
    const char *parent_col;   /* "group_id" for group members, else NULL */
    const char *parent_table; /* "ai_groups" */
    const adm_field_t *fields;
    size_t nfields;
    const adm_filter_t *filters;
    size_t nfilters;
    const char *view;       /* jsonb expression over the row alias x */
    const char *audit_view; /* the same with secrets masked (NULL: view) */
    bool has_updated_at;
    /* Cross-field rules and defaults after the field checks (may be NULL). */
    bool (*fixup)(json_t *doc, bool create, adm_verr_t *e);
};

/* An extra column written from another parameter, e.g. credential = $3. */
typedef struct {
    const char *column;
    const char *expr;
} adm_extra_t;

extern const adm_entity_t adm_providers, adm_connections, adm_models, adm_groups, adm_members,
    adm_keys, adm_teams, adm_users;

int adm_crud_list(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t parent_id);
int adm_crud_get(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                 int64_t parent_id);
int adm_crud_create(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t parent_id);
int adm_crud_update(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                    int64_t parent_id);
int adm_crud_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id,
                    int64_t parent_id);

/* SQL builders. Insert: $1 is the document; extras may use $2... Update:
 * $1 document, $2 id, then $3 the parent id if the entity has one, extras
 * after. Every statement also writes the audit row and notifies, and
 * returns one row: the entity's view as JSON text. */
void adm_sql_insert(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                    const adm_extra_t *extra, int nextra);
/* Only its first part: "WITH ins AS (INSERT ... RETURNING *)", for a
 * statement that adds CTEs of its own (a group with its members). */
void adm_sql_insert_cte(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                        const adm_extra_t *extra, int nextra);
/* Inserts op->doc ($1) as a new row of ent with the given id ($2) and a
 * sealed secret ($3, bytea in hex) through extra; the reply follows from
 * adm_step_one. */
void adm_insert_sealed(adm_op_t *op, const adm_entity_t *ent, const adm_extra_t *extra, int nextra,
                       int64_t id, const char *sealed_hex);
void adm_sql_update(lx_buf_t *sql, const adm_entity_t *ent, const json_t *doc,
                    const adm_extra_t *extra, int nextra);
/* The step that replies with row 0's JSON (404 when no row). */
void adm_step_one(adm_op_t *op, const lx_pg_result_t *res);

/* ---- resources with their own handlers ---- */

int adm_provider_create(lx_admin_t *a, lx_req_t *req);
int adm_provider_update(lx_admin_t *a, lx_req_t *req, int64_t id);
int adm_connection_create(lx_admin_t *a, lx_req_t *req);
int adm_connection_update(lx_admin_t *a, lx_req_t *req, int64_t id);
int adm_connection_test(lx_admin_t *a, lx_req_t *req, int64_t id);
int adm_key_create(lx_admin_t *a, lx_req_t *req);
int adm_group_create(lx_admin_t *a, lx_req_t *req);
int adm_member_create(lx_admin_t *a, lx_req_t *req, int64_t group_id);
int adm_member_update(lx_admin_t *a, lx_req_t *req, int64_t id, int64_t group_id);
/* refs.c: the DELETE of a provider, model or connection, checking what
 * refers to it. */
int adm_refs_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id);
/* The reply to a reference-checked delete whose row 0 is (deleted count,
 * found count, references text, reference count): 404, 409 naming the
 * references, or 200. */
void adm_refs_step_deleted(adm_op_t *op, const lx_pg_result_t *res);
/* ?cascade: 1 true, 0 false or absent, -1 after replying 400. */
int adm_refs_cascade(lx_req_t *req);
/* Runs a reference-checked DELETE (sql: $1 the id, $2 the cascade flag)
 * whose reply is adm_refs_step_deleted's. */
int adm_refs_submit(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id, bool cascade,
                    const char *sql);
/* teams.c: DELETE of a team (referenced by users and keys) or a user
 * (referenced by keys): 409 naming them unless ?cascade=true, which
 * detaches them (their team_id / user_id set to null, audited). */
int adm_owner_delete(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id);
int adm_usage_summary(lx_admin_t *a, lx_req_t *req);
int adm_usage_timeseries(lx_admin_t *a, lx_req_t *req);
int adm_usage_requests(lx_admin_t *a, lx_req_t *req); /* usage_requests.c */
/* GET usage/requests/{request_id}: one request's row with its attempts,
 * timings and route (usage_requests.c); the id is the path's last segment,
 * which the router already checked (lx_request_id_valid). */
int adm_usage_request(lx_admin_t *a, lx_req_t *req);
/* GET health: each deployment's breaker, cooling, in-flight, latency and
 * newest error, read from the process-wide routing state (health_view.c). */
int adm_health(lx_admin_t *a, lx_req_t *req);
int adm_audit_list(lx_admin_t *a, lx_req_t *req); /* audit.c */
/* budgets.c: POST keys|users|teams/{id}/reset-spend; the webhook fields'
 * checks; the sealing of budget_webhook_secret in a fixup (kind: "key",
 * "team"), false with e when it cannot be sealed. */
int adm_reset_spend(lx_admin_t *a, lx_req_t *req, const adm_entity_t *ent, int64_t id);
bool adm_chk_webhook_url(const char *f, const json_t *v, adm_verr_t *e);
bool adm_chk_webhook_secret(const char *f, const json_t *v, adm_verr_t *e);
bool adm_budget_seal(json_t *doc, const char *kind, adm_verr_t *e);
/* The spend fields every key, user and team shows (kind: "key", ...). */
#define ADM_SPEND_VIEW(kind)                                                                       \
    "jsonb_build_object('spend_usd', llmux_spend('" kind ":' || x.id, x.budget_period), "          \
    "'budget_reset_at', llmux_period_end(llmux_period_key(x.budget_period, now())))"

/* ---- usage query parameters (usage_query.c) ---- */

#define ADM_USAGE_MAX_DIMS 4

/* One group_by dimension: the columns it adds to a row (with their JSON
 * names), its GROUP BY list and the joins it needs. */
typedef struct {
    const char *name;
    const char *select;
    const char *group;
    unsigned join;
} adm_usage_dim_t;

/* The parameters every usage endpoint takes: from, to (RFC 3339; default
 * the last 24 hours), api_key_id, team (a team's name), team_id, user (a
 * user's name), user_id (the key's team and user), provider, model (upstream name or
 * provider/name), status (429 or 4xx), feature, error_code, group_by (a
 * comma-separated list of dimensions). Values are kept here and passed as
 * SQL parameters: params[0..np) once built. */
typedef struct {
    char from[48], to[48];
    int64_t from_ms, to_ms;
    int64_t api_key_id, team_id, user_id;
    char team[202], user[202], provider[66], model[258], feature[18], error_code[50];
    int status_lo, status_hi; /* 0: no status filter */
    char group_by[128];
    const adm_usage_dim_t *dims[ADM_USAGE_MAX_DIMS];
    int ndims;
    const char *params[24];
    int np;
    char num[5][24];
    char ref[16]; /* "$<n>" */
} adm_usage_q_t;

/* Reads the parameters; false with e filled (the parameter named). */
bool adm_usage_q_parse(lx_req_t *req, adm_usage_q_t *q, adm_verr_t *e);
/* The same for a's caller: a team_admin's is confined to its team (403
 * when it names another). */
bool adm_usage_q_parse_as(const lx_admin_t *a, lx_req_t *req, adm_usage_q_t *q, adm_verr_t *e);
/* Starts the parameter list: $1 from, $2 to, then $3 group_by if asked. */
void adm_usage_q_begin(adm_usage_q_t *q, bool with_group_by);
/* Appends " AND ..." for the range and every filter given, over ai_usage
 * as u, pushing their values as the next parameters. */
void adm_usage_q_where(adm_usage_q_t *q, lx_buf_t *sql);
/* The group_by columns ("x AS y, " each), the joins they need, and the
 * GROUP BY list (", a, b" after a leading column, else " GROUP BY a, b"). */
void adm_usage_q_select(const adm_usage_q_t *q, lx_buf_t *sql);
void adm_usage_q_joins(const adm_usage_q_t *q, lx_buf_t *sql);
void adm_usage_q_group(const adm_usage_q_t *q, lx_buf_t *sql, bool leading_comma);

/* ---- opaque list cursors (usage_requests.c) ---- */

/* Encodes text as a cursor (hex of "v1|" + text; out: 2 * (n + 3) + 1). */
void adm_cursor_encode(const char *text, char *out, size_t cap);
/* Decodes a cursor into text (NUL-terminated); false if it is not one. */
bool adm_cursor_decode(const char *cursor, char *out, size_t cap);
/* ?limit= (1..500, default 50) and ?cursor= (decoded into pos, "" if none). */
bool adm_page_params(lx_req_t *req, int64_t *limit, char *pos, size_t cap, adm_verr_t *e);
/* The step of a cursor-paged list: row 0 is {"data": [...]} with op->limit
 * + 1 rows at most, each with a hidden "_pos" (the text of its cursor).
 * Drops the extra row (there is a next page), takes "_pos" out and replies
 * with next_cursor (null on the last page). */
void adm_page_reply(adm_op_t *op, const lx_pg_result_t *res);

#endif
