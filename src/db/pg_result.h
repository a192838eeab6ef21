/* pg_result.h - private to pg.c and pg_result.c: the result handed to a
 * query's callback, and how a libpq result is judged. */
#ifndef LX_DB_PG_RESULT_H
#define LX_DB_PG_RESULT_H

#include "db/pg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct lx_pg_result {
    PGresult *res; /* may be NULL */
    const char *error;
    char ebuf[256];
};

/* Whether r is anything but a command or tuples result. */
bool lx_pg_res_failed(const PGresult *r);
/* r's error text (NULL when it succeeded), possibly written into buf. */
const char *lx_pg_result_error(const PGresult *r, char *buf, size_t len);

#endif
