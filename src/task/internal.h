/* internal.h - shared by the files of src/task only: the SQL that renders a
 * task object and the caller filter, and the registry's type list. Owns
 * nothing. */
#ifndef LX_TASK_INTERNAL_H
#define LX_TASK_INTERNAL_H

#include "task/task.h"

#define TASK_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The task object a client sees, as JSON text, from a row of ai_tasks. */
#define TASK_JSON                                                                                  \
    "json_build_object('id', public_id, 'object', 'task', 'type', type, 'status', status, "        \
    "'progress', progress, 'priority', priority, 'attempts', attempts, "                           \
    "'created_at', " TASK_TS("created_at") ", 'updated_at', " TASK_TS(                             \
        "updated_at") ", 'finished_at', " TASK_TS("finished_at") ", 'output', output, "            \
                                                                 "'error', CASE WHEN error_code "  \
                                                                 "IS NULL THEN NULL ELSE "         \
                                                                 "json_build_object('code', "      \
                                                                 "error_code, "                    \
                                                                 "'message', error_message) END, " \
                                                                 "'callback_url', callback_url, "  \
                                                                 "'links', "                       \
                                                                 "json_build_object('self', "      \
                                                                 "'/api/v1/tasks/' || public_id, " \
                                                                 "'events', '/api/v1/tasks/' || "  \
                                                                 "public_id || '/events'))::text"

/* Who may see a row: $A is 't' for the admin key, $K the key id, $U the
 * JWT user id (0: none). */
#define TASK_WHO(a, k, u)                                                                          \
    "($" a "::bool OR (coalesce(api_key_id, 0) = $" k "::bigint AND coalesce(user_id, 0) = $" u    \
    "::bigint))"

/* registry.c: the registered types as a Postgres text[] literal; returns
 * how many (0: none), LX_ERROR if cap is too small. */
int lx_task_types_literal(char *out, size_t cap);

/* The caller's three filter parameters as text (buffers of 24 bytes). */
void lx_task_who_params(const lx_task_caller_t *who, char admin[24], char key[24], char user[24]);

/* webhook.c: the outbox deliverer a runner with a poster owns. */
typedef struct lx_task_webhooks lx_task_webhooks_t;
struct event_base;
lx_task_webhooks_t *lx_task_webhooks_new(struct event_base *base, lx_pg_t *pg,
                                         const lx_task_poster_t *poster, const char *secret,
                                         int max_attempts);
/* Cancels deliveries in flight (their rows are tried again after their
 * claim) and frees it (at the latest when its claim query answers). */
void lx_task_webhooks_free(lx_task_webhooks_t *h);

/* stats.c: the runner's counters (lx_task_stats_t; ix: type index, -1
 * counts nothing). */
void lx_task_stats_held(lx_task_stats_t *s, int ix, lx_task_status_t st, int64_t d);
void lx_task_stats_finished(lx_task_stats_t *s, int ix, lx_task_status_t st);
void lx_task_stats_poll(lx_task_stats_t *s, int ix, int64_t us, bool retry);

#endif
