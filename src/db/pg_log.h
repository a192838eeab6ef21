/* pg_log.h - libpq messages for the log: pg.c's private header (src/db only); owns nothing. */
#ifndef LX_DB_PG_LOG_H
#define LX_DB_PG_LOG_H

#include "core/log.h"

/* A copy of s without its trailing newline/blanks ("unknown error" for
 * NULL or empty); the caller frees it. */
char *lx_pg_trimmed_dup(const char *s);
/* Logs msg with an "error" field holding a libpq message (never conninfo:
 * callers pass messages about the connection through pg.c's scrubbed()). */
void lx_pg_log(lx_log_level_t level, const char *msg, const char *detail);

#endif
