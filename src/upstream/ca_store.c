/* ca_store.c - a worker's parsed CA bundles (see ca_store.h). */
#include "upstream/ca_store.h"
#include "core/buf.h"
#include "core/log.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *path;         /* NULL: OpenSSL's default locations */
    X509_STORE *store;  /* the table's reference; NULL: the file could not be read */
    int64_t used_s;     /* for the least-recently-used eviction */
    int64_t retry_at_s; /* when to parse it (again); 0: never parsed */
} ca_entry_t;

struct lx_ca_stores {
    ca_entry_t e[LX_CA_STORE_MAX];
    int n;
    int parsed;
};

lx_ca_stores_t *lx_ca_stores_new(void)
{
    return lx_calloc(1, sizeof(lx_ca_stores_t));
}

static void entry_clear(ca_entry_t *e)
{
    X509_STORE_free(e->store);
    free(e->path);
    *e = (ca_entry_t){0};
}

void lx_ca_stores_free(lx_ca_stores_t *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < t->n; i++)
        entry_clear(&t->e[i]);
    free(t);
}

int lx_ca_stores_parsed(const lx_ca_stores_t *t)
{
    return t->parsed;
}

static bool same_path(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Why OpenSSL could not read a file: the system's error (a missing file)
 * rather than OpenSSL's "system lib" over it. Empties the error queue. */
static const char *why_unreadable(void)
{
    const char *sys = NULL, *ssl = NULL;
    unsigned long err;
    while ((err = ERR_get_error()) != 0) {
        if (ERR_SYSTEM_ERROR(err))
            sys = strerror(ERR_GET_REASON(err));
        else if (ssl == NULL)
            ssl = ERR_reason_error_string(err);
    }
    return sys ? sys : ssl ? ssl : "no certificate in it";
}

static void log_unreadable(const char *path)
{
    lx_buf_t b;
    lx_buf_init(&b, 128);
    lx_buf_append_cstr(&b, "\"file\":");
    lx_buf_append_json_str(&b, path ? path : "", path ? strlen(path) : 0);
    const char *why = why_unreadable();
    lx_buf_append_cstr(&b, ",\"reason\":");
    lx_buf_append_json_str(&b, why, strlen(why));
    lx_log_warn("upstream CA bundle cannot be read", "%s", b.p);
    lx_buf_free(&b);
}

/* The flags curl 7.88 sets on the stores it makes (populate_x509_store):
 * issuers in the trusted store first (not a server's legacy intermediate),
 * and an intermediate in the bundle is a trust anchor like a root. */
static X509_STORE *parse(const char *path)
{
    X509_STORE *s = X509_STORE_new();
    if (s == NULL)
        return NULL;
    int ok = path ? X509_STORE_load_file(s, path) : X509_STORE_set_default_paths(s);
    if (!ok) {
        log_unreadable(path);
        X509_STORE_free(s);
        return NULL;
    }
    X509_STORE_set_flags(s, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
    return s;
}

static ca_entry_t *slot_for(lx_ca_stores_t *t, const char *path)
{
    for (int i = 0; i < t->n; i++)
        if (same_path(t->e[i].path, path))
            return &t->e[i];
    ca_entry_t *e;
    if (t->n < LX_CA_STORE_MAX) {
        e = &t->e[t->n++];
    } else {
        e = &t->e[0];
        for (int i = 1; i < t->n; i++)
            if (t->e[i].used_s < e->used_s)
                e = &t->e[i];
        entry_clear(e);
    }
    e->path = path ? lx_strdup(path) : NULL;
    return e;
}

X509_STORE *lx_ca_stores_get(lx_ca_stores_t *t, const char *path, int64_t now_s)
{
    ca_entry_t *e = slot_for(t, path);
    e->used_s = now_s;
    if (e->retry_at_s <= now_s) { /* new, a day old, or unreadable last time */
        X509_STORE *fresh = parse(path);
        t->parsed++;
        if (fresh) {
            X509_STORE_free(e->store);
            e->store = fresh;
            e->retry_at_s = now_s + LX_CA_STORE_TTL_S;
        } else {
            e->retry_at_s = now_s + LX_CA_STORE_RETRY_S; /* an old store stays */
        }
    }
    if (e->store == NULL || !X509_STORE_up_ref(e->store))
        return NULL;
    return e->store;
}
