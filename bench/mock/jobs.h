/* jobs.h - the table of video jobs shared by the OpenAI Videos API (video.c)
 * and the Runway task API (runway.c): creation with idempotency keys, lookup
 * by id and by tag, per-job counters, the job's phase over time, and the
 * /_mock/jobs and /_mock/stats views.
 *
 * One mutex (mock_jobs_lock) guards the whole table. Every operation under it
 * is O(1) (a job's number indexes an array; idempotency keys and tags are
 * hashed), so the workers hold it for microseconds; rendering a job's JSON is
 * done under it too. Functions marked "locked" must be called with the lock
 * held; the others take it themselves. A job lives until POST /_mock/reset
 * (or exit); a deleted job stays in the table, flagged, so that its counters
 * can still be read. */
#ifndef MOCK_JOBS_H
#define MOCK_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "opts.h"

struct evbuffer;

typedef enum {
    MOCK_JOB_OPENAI = 0, /* id video_mock<n> */
    MOCK_JOB_RUNWAY,     /* id xxxxxxxx-xxxx-4xxx-8xxx-<n as 12 hex digits> */
} mock_job_api_t;

typedef enum {
    MOCK_JP_THROTTLED = 0, /* during throttle_ms (OpenAI shows "queued") */
    MOCK_JP_QUEUED,        /* the first 10% of duration_ms (Runway PENDING) */
    MOCK_JP_RUNNING,       /* in_progress / RUNNING with progress */
    MOCK_JP_SUCCEEDED,
    MOCK_JP_FAILED,
    MOCK_JP_CANCELLED, /* Runway DELETE while not finished */
} mock_job_phase_t;

typedef struct mock_tag mock_tag_t;
typedef struct mock_job mock_job_t;

struct mock_job {
    long n; /* process-wide job number, never reused */
    mock_job_api_t api;
    char *model;   /* as received, options included */
    char *prompt;  /* OpenAI prompt / Runway promptText, or NULL */
    char *size;    /* OpenAI size, or NULL */
    char *seconds; /* OpenAI seconds, or NULL */
    char *idem;    /* Idempotency-Key, or NULL */
    mock_tag_t *tag;
    mock_job_t *idem_next; /* idempotency bucket chain */
    mock_job_t *tag_next;  /* the other jobs with the same tag */
    uint64_t start_ms;     /* monotonic clock at submit */
    int64_t created_ms;    /* wall clock at submit, Unix ms */
    uint64_t cancel_ms;    /* monotonic clock of the cancel (phase CANCELLED) */
    long duration_ms, throttle_ms, steps, content_bytes, poll_retry_after;
    long poll_fail; /* status polls still to fail; -1: every one */
    int poll_fail_status;
    mock_outcome_t outcome;
    bool cancelled; /* Runway DELETE before the end */
    bool deleted;   /* gone: GET answers 404 */
    long submissions, polls, cancels, content_fetches;
};

/* What a submit asks for; strings are copied. */
typedef struct {
    mock_job_api_t api;
    const char *model; /* model[0..model_len) */
    size_t model_len;
    const char *prompt, *size, *seconds; /* NULL if absent */
    const char *idem;                    /* Idempotency-Key header, or NULL */
    const char *tag;                     /* x-mock-tag header, else prompt (may be NULL) */
    const mock_opts_t *opts;
} mock_job_spec_t;

void mock_jobs_lock(void);
void mock_jobs_unlock(void);

/* Locked. The job for the idempotency key of spec (counting one more
 * submission and a duplicate), else a new job (one submission). NULL when out
 * of memory. *created says which. */
mock_job_t *mock_job_submit(const mock_job_spec_t *spec, bool *created);

/* Locked. The job whose id is id[0..n) (either API's form), or NULL.
 * Deleted jobs are found too: check j->deleted. */
mock_job_t *mock_job_find(const char *id, size_t n);

/* Locked. The job numbered n (deleted or not), or NULL; *lo and *hi (either
 * may be NULL) receive the numbers in the table now, [lo, hi). */
mock_job_t *mock_job_at(long n, long *lo, long *hi);

/* Writes the job's id ("video_mock12" or a UUID-like string) into buf. */
void mock_job_id(const mock_job_t *j, char buf[48]);

/* Locked. The phase at now (monotonic ms) and the progress in permille
 * (0..1000, stepped when j->steps > 0; 1000 only when succeeded). */
mock_job_phase_t mock_job_phase(const mock_job_t *j, uint64_t now, long *permille);

/* The status string of a phase in the job's API ("in_progress", "RUNNING", ...). */
const char *mock_job_status_name(mock_job_api_t api, mock_job_phase_t ph);

/* Locked. Counts a status poll; true if this poll must fail (poll_fail). */
bool mock_job_poll(mock_job_t *j);

/* Locked. Appends the job's record for tests: {"id","api","tag","status",
 * "submissions","polls","cancels","content_fetches","deleted"}. */
void mock_job_stats_json(struct evbuffer *out, const mock_job_t *j, uint64_t now);

/* Takes the lock. Appends "jobs":{<id>:<record>,...} (no braces around). */
void mock_jobs_stats_field(struct evbuffer *out);

/* Takes the lock. Appends {"tag":..,"count":N,"submissions":S,"jobs":[...]}
 * for the jobs with that tag, or every job when tag is NULL. */
void mock_jobs_list_json(struct evbuffer *out, const char *tag, size_t tag_len);

/* Takes the lock. Forgets every job (their ids then answer 404; numbers go on
 * from where they were). */
void mock_jobs_reset(void);

/* At exit: frees everything. */
void mock_jobs_cleanup(void);

#endif
