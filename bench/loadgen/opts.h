/* opts.h - the command line of llmux-bench: every option, its default, its
 * validation and the --help text. */
#ifndef LB_OPTS_H
#define LB_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_MAX_HEADERS        32
#define LB_DEFAULT_URL        "http://127.0.0.1:8080/v1/chat/completions"
#define LB_DEFAULT_MODEL      "demo/mock-model"
#define LB_CLOSED_CONCURRENCY 64   /* closed loop default */
#define LB_OPEN_CONCURRENCY   1000 /* open loop default (connected on demand) */

typedef struct {
    const char *url;
    const char *cacert;  /* https: the CA bundle to verify against (NULL: the system's) */
    const char *api_key; /* NULL: no auth header */
    bool anthropic;
    const char *model;
    bool stream;
    const char *body_file; /* NULL: built-in body */
    long max_tokens;       /* -1: unset (Anthropic then sends 256) */
    const char *prompt;
    unsigned concurrency;
    double rate; /* requests/s; 0: closed loop */
    uint64_t duration_us;
    uint64_t requests; /* 0: no limit */
    uint64_t warmup_us;
    uint64_t timeout_us;
    unsigned threads;
    uint32_t expect_chunks;              /* 0: no fidelity text check */
    const char *json_path;               /* NULL: none; "-": stdout */
    long rss_pid;                        /* 0: none */
    const char *ttfc_log;                /* NULL: none; one line per measured stream */
    const char *headers[LB_MAX_HEADERS]; /* extra "Name: value" lines (argv) */
    size_t nheaders;
    bool progress; /* live line allowed (still needs a TTY) */
} lb_opts_t;

typedef enum { LB_OPTS_RUN, LB_OPTS_EXIT, LB_OPTS_USAGE } lb_opts_rc_t;

/* Parses argv into o (strings point into argv). LB_OPTS_EXIT: --help or
 * --version was printed; LB_OPTS_USAGE: an error was printed to stderr. */
lb_opts_rc_t lb_opts_parse(lb_opts_t *o, int argc, char **argv);
/* Parses "10s", "500ms", "250us", "1.5m", "2h" or a bare number of seconds
 * into microseconds; -1 if malformed. */
int lb_parse_duration(const char *s, uint64_t *us);

#endif
