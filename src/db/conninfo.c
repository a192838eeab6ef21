/* conninfo.c - the database URL checked, and its password scrubbed from
 * libpq's messages (see conninfo.h). */
#include "db/conninfo.h"
#include "core/common.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SECRETS 8

/* The spellings of a password found in a conninfo (owned copies). */
typedef struct {
    char *s[MAX_SECRETS];
    int n;
} secrets_t;

static void secrets_free(secrets_t *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->s[i]);
    t->n = 0;
}

static void add(secrets_t *t, const char *p, size_t n)
{
    if (n == 0 || t->n == MAX_SECRETS)
        return;
    for (int i = 0; i < t->n; i++)
        if (strlen(t->s[i]) == n && memcmp(t->s[i], p, n) == 0)
            return;
    t->s[t->n++] = lx_strndup(p, n);
}

/* p[0..n) as written and, if it holds %XX escapes, percent-decoded. */
static void add_both(secrets_t *t, const char *p, size_t n)
{
    add(t, p, n);
    char *d = lx_alloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = lx_hex_digit(p[i + 1])) >= 0 &&
            (lo = lx_hex_digit(p[i + 2])) >= 0) {
            d[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[k++] = p[i];
        }
    }
    add(t, d, k);
    free(d);
}

/* postgresql://user:PASSWORD@host...: the user information ends at the
 * last '@' (a conservative reading: a password may hold '@' or '/'). */
static void from_uri(const char *c, secrets_t *t)
{
    const char *a = strstr(c, "://");
    if (a == NULL)
        return;
    a += 3;
    const char *at = strrchr(a, '@');
    if (at == NULL)
        return;
    const char *colon = memchr(a, ':', (size_t)(at - a));
    if (colon)
        add_both(t, colon + 1, (size_t)(at - colon - 1));
}

/* password=VALUE as a key=value pair (VALUE may be 'quoted') or a URL
 * query parameter (ends at '&'), any case, blanks around '='. */
static void from_keyword(const char *c, secrets_t *t)
{
    static const char kw[] = "password";
    for (const char *p = c; (p = strcasestr(p, kw)) != NULL;) {
        p += sizeof kw - 1;
        const char *v = p;
        while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
            v++;
        const char *e = v;
        if (*v == '\'') {
            /* quoted: to the closing quote (backslash escapes), or the end */
            e = ++v;
            char *u = lx_alloc(strlen(v) + 1);
            size_t k = 0;
            while (*e && *e != '\'') {
                if (*e == '\\' && e[1])
                    e++;
                u[k++] = *e++;
            }
            add(t, v, (size_t)(e - v));
            add(t, u, k);
            free(u);
        } else {
            while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r' && *e != '&')
                e++;
            add_both(t, v, (size_t)(e - v));
        }
        p = e; /* go on after the value */
    }
}

/* What libpq itself reads as the password, when the conninfo parses. */
static void from_parse(const PQconninfoOption *opts, secrets_t *t)
{
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val)
            add(t, o->val, strlen(o->val));
}

/* Appends s to out[*k..outlen-1). */
static void put(char *out, size_t outlen, size_t *k, const char *s, size_t n)
{
    size_t room = outlen - 1 - *k;
    n = LX_MIN(n, room);
    memcpy(out + *k, s, n);
    *k += n;
}

static char *scrub_with(const secrets_t *t, bool quoted, const char *msg, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    size_t k = 0;
    const char *m = msg ? msg : "";
    while (*m && k < outlen - 1) {
        if (quoted && *m == '"') {
            const char *q = strchr(m + 1, '"');
            if (q) {
                if (q - m > 2) /* "]" and "=" say what is missing: kept */
                    put(out, outlen, &k, "\"***\"", 5);
                else
                    put(out, outlen, &k, m, (size_t)(q - m + 1));
                m = q + 1;
                continue;
            }
        }
        size_t best = 0;
        for (int i = 0; i < t->n; i++) {
            size_t n = strlen(t->s[i]);
            if (n > best && strncmp(m, t->s[i], n) == 0)
                best = n;
        }
        if (best) {
            put(out, outlen, &k, "***", 3);
            m += best;
        } else {
            out[k++] = *m++;
        }
    }
    out[k] = '\0';
    return out;
}

char *lx_conninfo_scrub(const char *conninfo, const char *msg, char *out, size_t outlen)
{
    secrets_t t = {0};
    const char *c = conninfo ? conninfo : "";
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(c, &perr);
    PQfreemem(perr);
    from_parse(opts, &t);
    from_uri(c, &t);
    from_keyword(c, &t);
    /* Unparsed, libpq quotes what it choked on: drop those pieces when
     * they could hold a password. */
    bool quoted = opts == NULL && (t.n > 0 || strchr(c, '@') || strcasestr(c, "password"));
    PQconninfoFree(opts);
    scrub_with(&t, quoted, msg, out, outlen);
    secrets_free(&t);
    return out;
}

/* Options libpq reads as integers only when it connects: checked here so a
 * typo fails at start-up. Their values are not echoed. */
static const char *bad_integer_option(const PQconninfoOption *opts)
{
    static const char *const ints[] = {"port",
                                       "connect_timeout",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout"};
    for (const PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        for (size_t i = 0; i < LX_ARRAY_LEN(ints); i++) {
            if (strcmp(o->keyword, ints[i]) != 0)
                continue;
            /* a list for several hosts: "5432,5433" (an empty item is the default) */
            for (const char *p = o->val; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p == ',' && i == 0) || *p == ' '))
                    return ints[i];
        }
    }
    return NULL;
}

int lx_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &perr);
    if (opts == NULL) {
        char clean[400];
        lx_conninfo_scrub(conninfo, perr ? perr : "does not parse", clean, sizeof clean);
        PQfreemem(perr);
        size_t n = strlen(clean);
        while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
            clean[--n] = '\0';
        snprintf(err, errlen, "database_url: not a valid Postgres URL or conninfo: %s", clean);
        return LX_ERROR;
    }
    const char *bad = bad_integer_option(opts);
    PQconninfoFree(opts);
    if (bad) {
        snprintf(err, errlen, "database_url: %s must be a number", bad);
        return LX_ERROR;
    }
    return LX_OK;
}

/* The connect deadline: libpq's connect_timeout (seconds, at least 2, as
 * libpq reads it) when conninfo has one, else default_ms. libpq
 * enforces connect_timeout only in its blocking connect, so we do it here.
 * Returns -1 when conninfo does not parse. */
int lx_conninfo_connect_timeout_ms(const char *conninfo, int default_ms)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        PQfreemem(err);
        return -1;
    }
    int ms = default_ms;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val && *o->val) {
            int sec = atoi(o->val);
            if (sec > 0)
                ms = LX_MAX(sec, 2) * 1000;
        }
    }
    PQconninfoFree(opts);
    return ms;
}
