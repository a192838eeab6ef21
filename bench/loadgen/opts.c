/* opts.c - command-line parsing, defaults, validation and --help (see opts.h). */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lx_version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: llmux-bench [options]\n"
            "Load generator for llmux and OpenAI/Anthropic-compatible HTTP/1.1 servers.\n"
            "\n"
            "Target and request:\n"
            "  --url URL            target (default " LB_DEFAULT_URL ");\n"
            "                       http:// or https:// (TLS, HTTP/1.1 keep-alive, sessions\n"
            "                       resumed); without a path: /v1/chat/completions, or\n"
            "                       /v1/messages with --anthropic\n"
            "  --cacert FILE        https: verify the server against this CA bundle (PEM)\n"
            "  --api-key K          send Authorization: Bearer K (x-api-key: K with --anthropic)\n"
            "  --anthropic          Anthropic Messages body (with max_tokens) and headers\n"
            "                       (x-api-key, anthropic-version: 2023-06-01)\n"
            "  --model M            model in the built-in body (default " LB_DEFAULT_MODEL ");\n"
            "                       llmux-mock options ride on it: m+chunks=20+gap_ms=10\n"
            "  --stream             ask for a stream (\"stream\":true) and parse the SSE\n"
            "  --max-tokens N       max_tokens in the body (Anthropic default 256)\n"
            "  --prompt TEXT        the user message (default \"Say hello.\")\n"
            "  --body-file F        send F as the JSON body, as is (--model, --stream,\n"
            "                       --max-tokens, --prompt then do not change it; streams\n"
            "                       are recognised by Content-Type: text/event-stream)\n"
            "  -H, --header 'N: V'  extra request header (repeatable, up to %d)\n"
            "\n"
            "Load:\n"
            "  -c, --concurrency C  connections (closed loop default %d; open loop default\n"
            "                       %d, connected on demand)\n"
            "  --rate R             open loop: R requests/s on a fixed timeline, latency\n"
            "                       measured from each request's scheduled time; without\n"
            "                       --rate: closed loop, each connection sends its next\n"
            "                       request as soon as the previous one ends\n"
            "  -d, --duration D     measure for D after the warm-up (default 10s); units\n"
            "                       us ms s m h (a bare number is seconds)\n"
            "  -n, --requests N     stop after N measured requests (whichever comes first)\n"
            "  --warmup D           run D before measuring (total run: warm-up + duration);\n"
            "                       requests started in it are not counted (default 0)\n"
            "  --timeout D          per-request limit, from send to last byte (default 30s)\n"
            "  -t, --threads N      event-loop threads, connections spread over them\n"
            "                       (default 1)\n"
            "\n"
            "Checks and output:\n"
            "  --expect-chunks N    streams must carry exactly \"tok0 tok1 ... tok{N-1} \"\n"
            "                       (what llmux-mock sends for +chunks=N); others count as\n"
            "                       fidelity errors\n"
            "  --json FILE          write every result as JSON to FILE (\"-\": stdout, and\n"
            "                       the human summary goes to stderr)\n"
            "  --rss-pid PID        sample VmRSS of PID every 100 ms; report max and last\n"
            "  --no-progress        no live progress line (shown only when stderr is a TTY)\n"
            "  --ttfc-log FILE      one line per measured stream that got a data event:\n"
            "                       its start (us after the run's start) and its time to\n"
            "                       first chunk (us), sorted by start\n"
            "  -h, --help           this text\n"
            "  --version            print the version\n"
            "\n"
            "Exit status: 0 when the run completed (even with request errors), 1 on a\n"
            "setup failure (address, file), 2 on bad usage.\n",
            LB_MAX_HEADERS, LB_CLOSED_CONCURRENCY, LB_OPEN_CONCURRENCY);
}

int lb_parse_duration(const char *s, uint64_t *us)
{
    char *end;
    double v, mult = 1e6;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1e6;
    else if (strcmp(end, "ms") == 0)
        mult = 1e3;
    else if (strcmp(end, "us") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60e6;
    else if (strcmp(end, "h") == 0)
        mult = 3600e6;
    else
        return -1;
    v *= mult;
    if (v > 365.0 * 86400e6)
        return -1;
    *us = (uint64_t)llround(v);
    return 0;
}

static int bad(const char *opt, const char *v)
{
    fprintf(stderr, "llmux-bench: bad value for --%s: '%s' (see --help)\n", opt, v);
    return -1;
}

static int num(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    long long x = 0;

    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
        return bad(opt, v);
    *out = x;
    return 0;
}

enum {
    O_URL = 256,
    O_KEY,
    O_ANTHROPIC,
    O_MODEL,
    O_STREAM,
    O_BODY,
    O_MAXTOK,
    O_PROMPT,
    O_RATE,
    O_WARMUP,
    O_TIMEOUT,
    O_EXPECT,
    O_JSON,
    O_RSS,
    O_NOPROG,
    O_TTFC_LOG,
    O_VERSION,
    O_CACERT,
};

lb_opts_rc_t lb_opts_parse(lb_opts_t *o, int argc, char **argv)
{
    static const struct option lo[] = {
        {"url", required_argument, NULL, O_URL},
        {"api-key", required_argument, NULL, O_KEY},
        {"cacert", required_argument, NULL, O_CACERT},
        {"anthropic", no_argument, NULL, O_ANTHROPIC},
        {"model", required_argument, NULL, O_MODEL},
        {"stream", no_argument, NULL, O_STREAM},
        {"body-file", required_argument, NULL, O_BODY},
        {"max-tokens", required_argument, NULL, O_MAXTOK},
        {"prompt", required_argument, NULL, O_PROMPT},
        {"header", required_argument, NULL, 'H'},
        {"concurrency", required_argument, NULL, 'c'},
        {"rate", required_argument, NULL, O_RATE},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"threads", required_argument, NULL, 't'},
        {"expect-chunks", required_argument, NULL, O_EXPECT},
        {"json", required_argument, NULL, O_JSON},
        {"rss-pid", required_argument, NULL, O_RSS},
        {"no-progress", no_argument, NULL, O_NOPROG},
        {"ttfc-log", required_argument, NULL, O_TTFC_LOG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    long long x = 0;
    int ch;
    bool conc_set = false;

    memset(o, 0, sizeof(*o));
    o->url = LB_DEFAULT_URL;
    o->model = LB_DEFAULT_MODEL;
    o->max_tokens = -1;
    o->prompt = "Say hello.";
    o->duration_us = 10000000u;
    o->timeout_us = 30000000u;
    o->threads = 1;
    o->progress = true;

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":hH:c:d:n:t:", lo, NULL)) != -1) {
        int rc = 0;
        switch (ch) {
        case O_URL:
            o->url = optarg;
            break;
        case O_CACERT:
            o->cacert = optarg;
            break;
        case O_KEY:
            o->api_key = optarg;
            if (strpbrk(optarg, "\r\n") != NULL)
                rc = bad("api-key", "(contains a line break)");
            break;
        case O_ANTHROPIC:
            o->anthropic = true;
            break;
        case O_MODEL:
            o->model = optarg;
            break;
        case O_STREAM:
            o->stream = true;
            break;
        case O_BODY:
            o->body_file = optarg;
            break;
        case O_PROMPT:
            o->prompt = optarg;
            break;
        case O_MAXTOK:
            rc = num("max-tokens", optarg, 1, 100000000, &x);
            o->max_tokens = (long)x;
            break;
        case 'H':
            if (strchr(optarg, ':') == NULL || strpbrk(optarg, "\r\n") != NULL)
                rc = bad("header", optarg);
            else if (o->nheaders == LB_MAX_HEADERS)
                rc = bad("header", "too many");
            else
                o->headers[o->nheaders++] = optarg;
            break;
        case 'c':
            rc = num("concurrency", optarg, 1, 1000000, &x);
            o->concurrency = (unsigned)x;
            conc_set = true;
            break;
        case O_RATE: {
            char *end;
            errno = 0;
            o->rate = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(o->rate > 0) || o->rate > 1e7)
                rc = bad("rate", optarg);
            break;
        }
        case 'd':
            if (lb_parse_duration(optarg, &o->duration_us) < 0 || o->duration_us == 0)
                rc = bad("duration", optarg);
            break;
        case 'n':
            rc = num("requests", optarg, 1, (long long)1 << 50, &x);
            o->requests = (uint64_t)x;
            break;
        case O_WARMUP:
            if (lb_parse_duration(optarg, &o->warmup_us) < 0)
                rc = bad("warmup", optarg);
            break;
        case O_TIMEOUT:
            if (lb_parse_duration(optarg, &o->timeout_us) < 0 || o->timeout_us < 1000 ||
                o->timeout_us > 3600u * 1000000u)
                rc = bad("timeout", optarg);
            break;
        case 't':
            rc = num("threads", optarg, 1, 256, &x);
            o->threads = (unsigned)x;
            break;
        case O_EXPECT:
            rc = num("expect-chunks", optarg, 1, 1000000, &x);
            o->expect_chunks = (uint32_t)x;
            break;
        case O_JSON:
            o->json_path = optarg;
            break;
        case O_RSS:
            rc = num("rss-pid", optarg, 1, 0x7fffffff, &x);
            o->rss_pid = (long)x;
            break;
        case O_NOPROG:
            o->progress = false;
            break;
        case O_TTFC_LOG:
            o->ttfc_log = optarg;
            break;
        case 'h':
            usage(stdout);
            return LB_OPTS_EXIT;
        case O_VERSION:
            printf("llmux-bench %s\n", LX_VERSION);
            return LB_OPTS_EXIT;
        case ':':
            fprintf(stderr, "llmux-bench: option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            return LB_OPTS_USAGE;
        default:
            fprintf(stderr, "llmux-bench: unknown option %s (see --help)\n", argv[optind - 1]);
            return LB_OPTS_USAGE;
        }
        if (rc < 0)
            return LB_OPTS_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "llmux-bench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return LB_OPTS_USAGE;
    }
    if (!conc_set)
        o->concurrency = o->rate > 0 ? LB_OPEN_CONCURRENCY : LB_CLOSED_CONCURRENCY;
    if (o->threads > o->concurrency)
        o->threads = o->concurrency;
    return LB_OPTS_RUN;
}
