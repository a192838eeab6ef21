/* migrate.c - numbered migrations, each applied once. */
#include "db/migrate.h"
#include "db/conninfo.h"
#include "db/migrations.h"
#include "core/common.h"
#include "core/log.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#define MIGRATE_LOCK_ID 7426151 /* pg_advisory_lock key shared by every instance */

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? LX_OK : LX_ERROR;
}

static int applied(PGconn *pg, const char *name)
{
    const char *params[1] = {name};
    PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL,
                               params, NULL, NULL, 0);
    int yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    return yes;
}

static int apply(PGconn *pg, const lx_migration_t *m, char *err, size_t errlen)
{
    char e[512];
    if (exec_ok(pg, "BEGIN", e, sizeof e) != LX_OK || exec_ok(pg, m->sql, e, sizeof e) != LX_OK) {
        snprintf(err, errlen, "migration %s failed: %s", m->name, e);
        exec_ok(pg, "ROLLBACK", e, sizeof e);
        return LX_ERROR;
    }
    const char *params[1] = {m->name};
    PGresult *r = PQexecParams(pg, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, NULL,
                               params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok || exec_ok(pg, "COMMIT", e, sizeof e) != LX_OK) {
        snprintf(err, errlen, "migration %s could not be recorded", m->name);
        exec_ok(pg, "ROLLBACK", e, sizeof e);
        return LX_ERROR;
    }
    lx_log_info("migration applied", "\"name\":\"%s\"", m->name);
    return LX_OK;
}

int lx_db_migrate(const char *url, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        char why[400];
        lx_conninfo_scrub(url, PQerrorMessage(pg), why, sizeof why);
        snprintf(err, errlen, "cannot connect to the database: %s", why);
        PQfinish(pg);
        return -1;
    }
    char e[512];
    int n = 0;
    if (exec_ok(pg, "SET client_min_messages = warning", e, sizeof e) != LX_OK ||
        exec_ok(pg, "SELECT pg_advisory_lock(" LX_STRINGIFY(MIGRATE_LOCK_ID) ")", e, sizeof e) !=
            LX_OK ||
        exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                e, sizeof e) != LX_OK) {
        snprintf(err, errlen, "cannot prepare migrations: %s", e);
        PQfinish(pg);
        return -1;
    }
    for (int i = 0; i < lx_migrations_count; i++) {
        if (applied(pg, lx_migrations[i].name))
            continue;
        if (apply(pg, &lx_migrations[i], err, errlen) != LX_OK) {
            n = -1;
            break;
        }
        n++;
    }
    exec_ok(pg, "SELECT pg_advisory_unlock(" LX_STRINGIFY(MIGRATE_LOCK_ID) ")", e, sizeof e);
    PQfinish(pg);
    return n;
}
