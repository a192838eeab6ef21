/* record.c - recording requests into a fixed ring of JSON entries. */
#include "record.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonw.h"

bool mock_record_enabled = true;

typedef struct {
    char *json;
    size_t len;
} entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry_t ring[MOCK_RECORD_SLOTS];
static unsigned long total; /* entries ever added since the last clear */
static unsigned long seq;   /* never reset: a request's number for the process lifetime */

static bool wanted_header(const char *k, size_t n)
{
    static const char *const names[] = {
        "authorization", "x-api-key",    "x-goog-api-key", "anthropic-version",
        "content-type",  "x-request-id", "anthropic-beta", "openai-organization",
        "traceparent",   "tracestate",
    };

    if (n > 7 && strncasecmp(k, "x-test-", 7) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], k, n) == 0)
            return true;
    return false;
}

static void add_lower_key(struct evbuffer *out, const char *k, size_t n)
{
    char tmp[256];

    if (n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (k[i] >= 'A' && k[i] <= 'Z') ? (char)(k[i] - 'A' + 'a') : k[i];
    mock_jw_str(out, tmp, n);
}

static const char *method_name(evhtp_request_t *req)
{
    switch (evhtp_request_get_method(req)) {
    case htp_method_GET:
        return "GET";
    case htp_method_HEAD:
        return "HEAD";
    case htp_method_POST:
        return "POST";
    case htp_method_PUT:
        return "PUT";
    case htp_method_DELETE:
        return "DELETE";
    case htp_method_PATCH:
        return "PATCH";
    case htp_method_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

void mock_record_request(evhtp_request_t *req, const char *body, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    const char *path = req->uri && req->uri->path ? req->uri->path->full : "";
    const char *query = req->uri && req->uri->query_raw ? (const char *)req->uri->query_raw : "";
    size_t keep = n > MOCK_RECORD_MAX_BODY ? MOCK_RECORD_MAX_BODY : n;
    evhtp_kv_t *kv;
    bool first = true;
    entry_t e;

    if (b == NULL)
        return;
    pthread_mutex_lock(&lock);
    unsigned long my_seq = ++seq;
    pthread_mutex_unlock(&lock);

    evbuffer_add_printf(b, "{\"seq\":%lu,\"method\":\"%s\",\"path\":", my_seq, method_name(req));
    mock_jw_cstr(b, path);
    MOCK_LIT(b, ",\"query\":");
    mock_jw_cstr(b, query);
    MOCK_LIT(b, ",\"headers\":{");
    TAILQ_FOREACH(kv, req->headers_in, next)
    {
        if (kv->key == NULL || !wanted_header(kv->key, kv->klen))
            continue;
        if (!first)
            MOCK_LIT(b, ",");
        first = false;
        add_lower_key(b, kv->key, kv->klen);
        MOCK_LIT(b, ":");
        mock_jw_str(b, kv->val ? kv->val : "", kv->val ? kv->vlen : 0);
    }
    MOCK_LIT(b, "},\"body\":");
    mock_jw_str(b, body ? body : "", keep);
    evbuffer_add_printf(b, ",\"body_bytes\":%zu,\"truncated\":%s}", n, keep < n ? "true" : "false");

    e.len = evbuffer_get_length(b);
    e.json = malloc(e.len);
    if (e.json != NULL) {
        evbuffer_remove(b, e.json, e.len);
        pthread_mutex_lock(&lock);
        entry_t *slot = &ring[total % MOCK_RECORD_SLOTS];
        char *old = slot->json;
        *slot = e;
        total++;
        pthread_mutex_unlock(&lock);
        free(old);
    }
    evbuffer_free(b);
}

void mock_record_json_all(struct evbuffer *out)
{
    pthread_mutex_lock(&lock);
    unsigned long count = total < MOCK_RECORD_SLOTS ? total : MOCK_RECORD_SLOTS;
    MOCK_LIT(out, "{\"requests\":[");
    for (unsigned long i = 0; i < count; i++) {
        const entry_t *e = &ring[(total - count + i) % MOCK_RECORD_SLOTS];
        if (i)
            MOCK_LIT(out, ",");
        evbuffer_add(out, e->json, e->len);
    }
    MOCK_LIT(out, "]}");
    pthread_mutex_unlock(&lock);
}

bool mock_record_json_last(struct evbuffer *out)
{
    bool found = false;

    pthread_mutex_lock(&lock);
    if (total > 0) {
        const entry_t *e = &ring[(total - 1) % MOCK_RECORD_SLOTS];
        evbuffer_add(out, e->json, e->len);
        found = true;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void mock_record_clear(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MOCK_RECORD_SLOTS; i++) {
        free(ring[i].json);
        ring[i].json = NULL;
        ring[i].len = 0;
    }
    total = 0;
    pthread_mutex_unlock(&lock);
}
