/* jobs.c - the video job table: numbers, ids, idempotency and tag indexes,
 * phases over time, counters and their JSON. One mutex; O(1) lookups. */
#include "jobs.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "jsonw.h"
#include "util.h"

struct mock_tag {
    char *s;
    size_t len;
    uint64_t h;
    mock_tag_t *next; /* bucket chain */
    mock_job_t *head, *tail;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static mock_job_t **tab; /* tab[k] is job number base + k */
static size_t n_tab, cap_tab;
static long base = 1, next_n = 1;

static mock_job_t **idem_b; /* idempotency buckets */
static size_t idem_nb, idem_count;
static mock_tag_t **tag_b; /* tag buckets */
static size_t tag_nb, tag_count;

void mock_jobs_lock(void)
{
    pthread_mutex_lock(&lock);
}

void mock_jobs_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

/* ---- ids ---- */

static uint64_t id_hash(long n)
{
    return mock_hash(&n, sizeof(n));
}

void mock_job_id(const mock_job_t *j, char buf[48])
{
    if (j->api == MOCK_JOB_OPENAI) {
        snprintf(buf, 48, "video_mock%ld", j->n);
    } else {
        uint64_t h = id_hash(j->n);
        snprintf(buf, 48, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012lx",
                 h >> 32, (h >> 16) & 0xffff, (h >> 4) & 0xfff, (h >> 20) & 0xfff, j->n);
    }
}

/* The job number in id[0..len) and its API; 0 if it is not a job id. */
static long parse_id(const char *id, size_t len, mock_job_api_t *api)
{
    static const char pfx[] = "video_mock";
    size_t k = sizeof(pfx) - 1;
    long n = 0;

    if (len > k && len - k <= 12 && memcmp(id, pfx, k) == 0) {
        for (size_t i = k; i < len; i++) {
            if (id[i] < '0' || id[i] > '9')
                return 0;
            n = n * 10 + (id[i] - '0');
        }
        *api = MOCK_JOB_OPENAI;
        return n;
    }
    if (len == 36 && id[23] == '-') {
        mock_job_t probe = {.api = MOCK_JOB_RUNWAY};
        char buf[48];
        for (size_t i = 24; i < 36; i++) {
            char c = id[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return 0;
            n = n * 16 + d;
        }
        probe.n = n;
        mock_job_id(&probe, buf);
        if (memcmp(buf, id, 36) != 0)
            return 0;
        *api = MOCK_JOB_RUNWAY;
        return n;
    }
    return 0;
}

mock_job_t *mock_job_find(const char *id, size_t len)
{
    mock_job_api_t api = MOCK_JOB_OPENAI;
    long n = parse_id(id, len, &api);
    mock_job_t *j;

    if (n < base || (size_t)(n - base) >= n_tab)
        return NULL;
    j = tab[n - base];
    return j != NULL && j->api == api ? j : NULL;
}

mock_job_t *mock_job_at(long n, long *lo, long *hi)
{
    if (lo != NULL)
        *lo = base;
    if (hi != NULL)
        *hi = base + (long)n_tab;
    if (n < base || (size_t)(n - base) >= n_tab)
        return NULL;
    return tab[n - base];
}

/* ---- indexes ---- */

static uint64_t idem_hash(mock_job_api_t api, const char *key)
{
    return mock_hash(key, strlen(key)) ^ (uint64_t)api;
}

/* Doubles a bucket array of chained items; next_of gives an item's chain link. */
static bool grow_idem(void)
{
    size_t nb = idem_nb ? idem_nb * 2 : 256;
    mock_job_t **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        return false;
    for (size_t i = 0; i < idem_nb; i++) {
        mock_job_t *j = idem_b[i];
        while (j != NULL) {
            mock_job_t *next = j->idem_next;
            size_t k = idem_hash(j->api, j->idem) & (nb - 1);
            j->idem_next = b[k];
            b[k] = j;
            j = next;
        }
    }
    free(idem_b);
    idem_b = b;
    idem_nb = nb;
    return true;
}

static mock_job_t *idem_find(mock_job_api_t api, const char *key)
{
    if (idem_nb == 0)
        return NULL;
    for (mock_job_t *j = idem_b[idem_hash(api, key) & (idem_nb - 1)]; j != NULL; j = j->idem_next)
        if (j->api == api && strcmp(j->idem, key) == 0)
            return j;
    return NULL;
}

static bool grow_tags(void)
{
    size_t nb = tag_nb ? tag_nb * 2 : 256;
    mock_tag_t **b = calloc(nb, sizeof(*b));

    if (b == NULL)
        return false;
    for (size_t i = 0; i < tag_nb; i++) {
        mock_tag_t *t = tag_b[i];
        while (t != NULL) {
            mock_tag_t *next = t->next;
            t->next = b[t->h & (nb - 1)];
            b[t->h & (nb - 1)] = t;
            t = next;
        }
    }
    free(tag_b);
    tag_b = b;
    tag_nb = nb;
    return true;
}

static mock_tag_t *tag_find(const char *s, size_t len, uint64_t h)
{
    if (tag_nb == 0)
        return NULL;
    for (mock_tag_t *t = tag_b[h & (tag_nb - 1)]; t != NULL; t = t->next)
        if (t->h == h && t->len == len && memcmp(t->s, s, len) == 0)
            return t;
    return NULL;
}

/* The tag entry for s, created if new; NULL when out of memory. */
static mock_tag_t *tag_get(const char *s)
{
    size_t len = strlen(s);
    uint64_t h = mock_hash(s, len);
    mock_tag_t *t = tag_find(s, len, h);

    if (t != NULL)
        return t;
    if (tag_count >= tag_nb && !grow_tags())
        return NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL || (t->s = strdup(s)) == NULL) {
        free(t);
        return NULL;
    }
    t->len = len;
    t->h = h;
    t->next = tag_b[h & (tag_nb - 1)];
    tag_b[h & (tag_nb - 1)] = t;
    tag_count++;
    return t;
}

/* ---- create ---- */

static void job_free(mock_job_t *j)
{
    if (j == NULL)
        return;
    free(j->model);
    free(j->prompt);
    free(j->size);
    free(j->seconds);
    free(j->idem);
    free(j);
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *ok = false;
    return d;
}

static mock_job_t *job_new(const mock_job_spec_t *sp)
{
    const mock_opts_t *o = sp->opts;
    mock_job_t *j = calloc(1, sizeof(*j));
    bool ok = true;

    if (j == NULL)
        return NULL;
    j->api = sp->api;
    j->model = strndup(sp->model, sp->model_len);
    j->prompt = dup_or_null(sp->prompt, &ok);
    j->size = dup_or_null(sp->size, &ok);
    j->seconds = dup_or_null(sp->seconds, &ok);
    j->idem = dup_or_null(sp->idem, &ok);
    if (j->model == NULL || !ok) {
        job_free(j);
        return NULL;
    }
    j->start_ms = mock_now_ms();
    j->created_ms = mock_unix_ms();
    j->duration_ms = o->duration_ms;
    j->throttle_ms = o->throttle_ms;
    j->steps = o->steps;
    j->content_bytes = o->content_bytes;
    j->poll_retry_after = o->poll_retry_after;
    j->poll_fail = o->poll_fail;
    j->poll_fail_status = (int)o->poll_fail_status;
    j->outcome = o->fault == MOCK_FAULT_FAIL ? MOCK_OUTCOME_FAIL : o->outcome;
    j->submissions = 1;
    return j;
}

mock_job_t *mock_job_submit(const mock_job_spec_t *sp, bool *created)
{
    mock_job_t *j;
    mock_tag_t *t = NULL;

    *created = false;
    if (sp->idem != NULL && (j = idem_find(sp->api, sp->idem)) != NULL) {
        j->submissions++;
        return j;
    }
    if (n_tab == cap_tab) {
        size_t cap = cap_tab ? cap_tab * 2 : 1024;
        mock_job_t **grown = realloc(tab, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        tab = grown;
        cap_tab = cap;
    }
    if (sp->idem != NULL && idem_count >= idem_nb && !grow_idem())
        return NULL;
    if (sp->tag != NULL && (t = tag_get(sp->tag)) == NULL)
        return NULL;
    if ((j = job_new(sp)) == NULL)
        return NULL;
    j->n = next_n++;
    tab[n_tab++] = j;
    if (j->idem != NULL) {
        size_t k = idem_hash(j->api, j->idem) & (idem_nb - 1);
        j->idem_next = idem_b[k];
        idem_b[k] = j;
        idem_count++;
    }
    if (t != NULL) {
        j->tag = t;
        if (t->tail != NULL)
            t->tail->tag_next = j;
        else
            t->head = j;
        t->tail = j;
    }
    *created = true;
    return j;
}

/* ---- phases ---- */

static mock_job_phase_t phase_at(const mock_job_t *j, uint64_t age, long *pm)
{
    uint64_t d = (uint64_t)j->duration_ms;
    long p;

    *pm = 0;
    if (age < (uint64_t)j->throttle_ms)
        return MOCK_JP_THROTTLED;
    age -= (uint64_t)j->throttle_ms;
    if (age * 10 < d)
        return MOCK_JP_QUEUED;
    if (age >= d && j->outcome != MOCK_OUTCOME_STALL) {
        if (j->outcome == MOCK_OUTCOME_FAIL)
            return MOCK_JP_FAILED;
        *pm = 1000;
        return MOCK_JP_SUCCEEDED;
    }
    p = d > 0 ? (long)(age * 1000 / d) : 500;
    if (j->outcome == MOCK_OUTCOME_STALL && p > 500)
        p = 500;
    if (j->steps > 0)
        p = p * j->steps / 1000 * 1000 / j->steps;
    *pm = p > 999 ? 999 : p;
    return MOCK_JP_RUNNING;
}

mock_job_phase_t mock_job_phase(const mock_job_t *j, uint64_t now, long *pm)
{
    uint64_t at = j->cancelled ? j->cancel_ms : now;

    if (j->cancelled) {
        phase_at(j, at > j->start_ms ? at - j->start_ms : 0, pm);
        return MOCK_JP_CANCELLED;
    }
    return phase_at(j, at > j->start_ms ? at - j->start_ms : 0, pm);
}

const char *mock_job_status_name(mock_job_api_t api, mock_job_phase_t ph)
{
    static const char *const openai[] = {
        [MOCK_JP_THROTTLED] = "queued",    [MOCK_JP_QUEUED] = "queued",
        [MOCK_JP_RUNNING] = "in_progress", [MOCK_JP_SUCCEEDED] = "completed",
        [MOCK_JP_FAILED] = "failed",       [MOCK_JP_CANCELLED] = "failed",
    };
    static const char *const runway[] = {
        [MOCK_JP_THROTTLED] = "THROTTLED", [MOCK_JP_QUEUED] = "PENDING",
        [MOCK_JP_RUNNING] = "RUNNING",     [MOCK_JP_SUCCEEDED] = "SUCCEEDED",
        [MOCK_JP_FAILED] = "FAILED",       [MOCK_JP_CANCELLED] = "CANCELLED",
    };
    return api == MOCK_JOB_OPENAI ? openai[ph] : runway[ph];
}

bool mock_job_poll(mock_job_t *j)
{
    j->polls++;
    if (j->poll_fail < 0)
        return true;
    if (j->poll_fail > 0) {
        j->poll_fail--;
        return true;
    }
    return false;
}

/* ---- JSON views ---- */

void mock_job_stats_json(struct evbuffer *out, const mock_job_t *j, uint64_t now)
{
    char id[48];
    long pm;
    mock_job_phase_t ph = mock_job_phase(j, now, &pm);

    mock_job_id(j, id);
    evbuffer_add_printf(out, "{\"id\":\"%s\",\"api\":\"%s\",\"tag\":", id,
                        j->api == MOCK_JOB_OPENAI ? "openai" : "runway");
    mock_jw_cstr(out, j->tag ? j->tag->s : NULL);
    evbuffer_add_printf(out,
                        ",\"status\":\"%s\",\"progress_permille\":%ld,\"submissions\":%ld,"
                        "\"polls\":%ld,\"cancels\":%ld,\"content_fetches\":%ld,\"deleted\":%s}",
                        mock_job_status_name(j->api, ph), pm, j->submissions, j->polls, j->cancels,
                        j->content_fetches, j->deleted ? "true" : "false");
}

void mock_jobs_stats_field(struct evbuffer *out)
{
    uint64_t now = mock_now_ms();
    char id[48];

    MOCK_LIT(out, "\"jobs\":{");
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_tab; i++) {
        if (i)
            MOCK_LIT(out, ",");
        mock_job_id(tab[i], id);
        evbuffer_add_printf(out, "\"%s\":", id);
        mock_job_stats_json(out, tab[i], now);
    }
    pthread_mutex_unlock(&lock);
    MOCK_LIT(out, "}");
}

void mock_jobs_list_json(struct evbuffer *out, const char *tag, size_t tag_len)
{
    uint64_t now = mock_now_ms();
    long count = 0, subs = 0, polls = 0, cancels = 0, fetches = 0;
    struct evbuffer *list = evbuffer_new();
    mock_tag_t *t = NULL;
    mock_job_t *j;
    size_t i = 0;

    if (list == NULL)
        return;
    pthread_mutex_lock(&lock);
    if (tag != NULL) {
        t = tag_find(tag, tag_len, mock_hash(tag, tag_len));
        j = t ? t->head : NULL;
    } else {
        j = n_tab ? tab[0] : NULL;
    }
    while (j != NULL) {
        if (count++)
            MOCK_LIT(list, ",");
        mock_job_stats_json(list, j, now);
        subs += j->submissions;
        polls += j->polls;
        cancels += j->cancels;
        fetches += j->content_fetches;
        j = tag != NULL ? j->tag_next : ++i < n_tab ? tab[i] : NULL;
    }
    pthread_mutex_unlock(&lock);
    MOCK_LIT(out, "{\"tag\":");
    if (tag != NULL)
        mock_jw_str(out, tag, tag_len);
    else
        MOCK_LIT(out, "null");
    evbuffer_add_printf(out,
                        ",\"count\":%ld,\"submissions\":%ld,\"polls\":%ld,\"cancels\":%ld,"
                        "\"content_fetches\":%ld,\"jobs\":[",
                        count, subs, polls, cancels, fetches);
    evbuffer_add_buffer(out, list);
    MOCK_LIT(out, "]}");
    evbuffer_free(list);
}

/* ---- reset ---- */

static void clear_locked(void)
{
    for (size_t i = 0; i < n_tab; i++)
        job_free(tab[i]);
    for (size_t i = 0; i < tag_nb; i++) {
        mock_tag_t *t = tag_b[i];
        while (t != NULL) {
            mock_tag_t *next = t->next;
            free(t->s);
            free(t);
            t = next;
        }
    }
    free(tab);
    free(idem_b);
    free(tag_b);
    tab = NULL;
    idem_b = NULL;
    tag_b = NULL;
    n_tab = cap_tab = idem_nb = idem_count = tag_nb = tag_count = 0;
    base = next_n;
}

void mock_jobs_reset(void)
{
    pthread_mutex_lock(&lock);
    clear_locked();
    pthread_mutex_unlock(&lock);
}

void mock_jobs_cleanup(void)
{
    mock_jobs_reset();
}
