/* pg_result.c - what a query's callback reads: the result of one query
 * (rows, fields, the error text and SQLSTATE), and how a libpq result is
 * judged and turned into that error text. The lx_pg_result_t is the
 * connection's, valid for the callback's duration only (pg.h). */
#include "db/pg.h"
#include "db/pg_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool lx_pg_res_failed(const PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
        return false;
    default:
        return true;
    }
}

const char *lx_pg_result_error(const PGresult *r, char *buf, size_t len)
{
    if (r == NULL)
        return "no result";
    ExecStatusType st = PQresultStatus(r);
    switch (st) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
        return NULL;
    case PGRES_PIPELINE_ABORTED:
        return "not run: an earlier statement in the pipeline failed";
    case PGRES_FATAL_ERROR:
    case PGRES_NONFATAL_ERROR: {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (m && *m)
            return m;
        m = PQresultErrorMessage(r);
        size_t n = strlen(m);
        while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
            n--;
        if (n == 0)
            return "query failed";
        snprintf(buf, len, "%.*s", (int)n, m);
        return buf;
    }
    default:
        snprintf(buf, len, "unexpected result: %s", PQresStatus(st));
        return buf;
    }
}

bool lx_pg_ok(const lx_pg_result_t *res)
{
    return res->error == NULL;
}

const char *lx_pg_error(const lx_pg_result_t *res)
{
    return res->error;
}

const char *lx_pg_sqlstate(const lx_pg_result_t *res)
{
    return res->res ? PQresultErrorField(res->res, PG_DIAG_SQLSTATE) : NULL;
}

int lx_pg_ntuples(const lx_pg_result_t *res)
{
    return res->res ? PQntuples(res->res) : 0;
}

int lx_pg_nfields(const lx_pg_result_t *res)
{
    return res->res ? PQnfields(res->res) : 0;
}

const char *lx_pg_fname(const lx_pg_result_t *res, int col)
{
    return res->res ? PQfname(res->res, col) : NULL;
}

/* "" as well for a row or column out of range. */
const char *lx_pg_value(const lx_pg_result_t *res, int row, int col)
{
    const char *v = res->res ? PQgetvalue(res->res, row, col) : NULL;
    return v ? v : "";
}

bool lx_pg_isnull(const lx_pg_result_t *res, int row, int col)
{
    return res->res == NULL || PQgetisnull(res->res, row, col) != 0;
}

long lx_pg_affected(const lx_pg_result_t *res)
{
    const char *s = res->res ? PQcmdTuples(res->res) : NULL;
    return s && *s ? strtol(s, NULL, 10) : 0;
}
