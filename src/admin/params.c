/* params.c - query-string rules every admin route shares: only the
 * parameters a route takes (anything else is a 400 naming it), and
 * timestamps as RFC 3339 (what every answer prints:
 * 2026-12-05T01:02:03.456Z). */
#include "admin/internal.h"

#include <stdio.h>
#include <stdlib.h>

/* The name of the next "name[=value]" pair of a raw query string,
 * percent-decoded into out; returns where the pair after it starts. */
static const char *next_name(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    for (; *p && *p != '&' && *p != '=' && *p != ';'; p++) {
        char c = *p;
        if (c == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0' && v > 0) {
                c = (char)v;
                p += 2;
            }
        } else if (c == '+') {
            c = ' ';
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    out[n] = '\0';
    while (*p && *p != '&' && *p != ';')
        p++;
    return *p ? p + 1 : p;
}

static bool listed(const char *name, const char *const *allowed, const adm_entity_t *ent)
{
    for (size_t i = 0; allowed && allowed[i]; i++)
        if (strcmp(name, allowed[i]) == 0)
            return true;
    for (size_t i = 0; ent && i < ent->nfilters; i++)
        if (strcmp(name, ent->filters[i].param) == 0)
            return true;
    return false;
}

bool adm_query_only(lx_req_t *req, const char *const *allowed, const adm_entity_t *filters_of,
                    adm_verr_t *e)
{
    memset(e, 0, sizeof *e);
    lx_str_t raw = lx_req_query_raw(req);
    if (raw.n == 0)
        return true;
    char copy[2048];
    snprintf(copy, sizeof copy, "%.*s", (int)(raw.n < sizeof copy ? raw.n : sizeof copy - 1),
             raw.p);
    for (const char *p = copy; *p;) {
        char name[64];
        p = next_name(p, name, sizeof name);
        if (name[0] == '\0' || listed(name, allowed, filters_of))
            continue;
        lx_buf_t takes;
        lx_buf_init(&takes, 128);
        for (size_t i = 0; allowed && allowed[i]; i++)
            lx_buf_printf(&takes, "%s%s", takes.n ? ", " : "", allowed[i]);
        for (size_t i = 0; filters_of && i < filters_of->nfilters; i++)
            lx_buf_printf(&takes, "%s%s", takes.n ? ", " : "", filters_of->filters[i].param);
        adm_verr(e, name, "unknown query parameter '%s' (this route takes %s)", name,
                 takes.n ? takes.p : "none");
        lx_buf_free(&takes);
        return false;
    }
    return true;
}

int adm_query_time(lx_req_t *req, const char *name, int64_t *ms, adm_verr_t *e)
{
    char buf[64];
    const char *s = adm_query(req, name, buf, sizeof buf);
    if (s == NULL)
        return 0;
    /* an unencoded "+02:00" arrives as " 02:00" (a query string's '+') */
    size_t n = strlen(buf);
    if (n > 19 && buf[n - 6] == ' ' && buf[n - 3] == ':')
        buf[n - 6] = '+';
    if (!adm_parse_rfc3339(buf, ms)) {
        adm_verr(e, name,
                 "'%s' must be an RFC 3339 timestamp such as 2026-01-02T03:04:05.000Z (UTC) or "
                 "2026-01-02T05:04:05+02:00",
                 name);
        return -1;
    }
    return 1;
}
