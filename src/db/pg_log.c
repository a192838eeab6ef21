/* pg_log.c - libpq messages made fit for the log (pg.c's helpers). Owns
 * nothing beyond the strings it returns. */
#include "db/pg_log.h"
#include "core/buf.h"

#include <stdlib.h>

/* Copies a libpq message without its trailing newline/blanks. */
char *lx_pg_trimmed_dup(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n ? lx_strndup(s, n) : lx_strdup("unknown error");
}

/* Logs msg with an "error" field holding a libpq message (never conninfo:
 * callers pass messages about the connection through scrubbed()). */
void lx_pg_log(lx_log_level_t level, const char *msg, const char *detail)
{
    if (level < lx_log_min_level)
        return;
    char *t = lx_pg_trimmed_dup(detail);
    lx_buf_t b;
    lx_buf_init(&b, 0);
    lx_buf_append_json_str(&b, t, strlen(t));
    lx_log(level, msg, "\"error\":%s", b.p);
    lx_buf_free(&b);
    free(t);
}
