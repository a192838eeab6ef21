/* report.c - the human summary and the JSON results (see report.h). */
#include "report.h"

#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "lx_version.h"

void lb_fmt_us(char *buf, size_t cap, uint64_t us)
{
    if (us < 1000)
        snprintf(buf, cap, "%lluus", (unsigned long long)us);
    else if (us < 1000000)
        snprintf(buf, cap, "%.2fms", (double)us / 1e3);
    else
        snprintf(buf, cap, "%.3fs", (double)us / 1e6);
}

static double per_s(uint64_t n, double secs)
{
    return secs > 0 ? (double)n / secs : 0.0;
}

static void hist_line(FILE *f, const char *label, const lb_hist_t *h)
{
    static const double ps[] = {50, 90, 99, 99.9};
    static const char *const names[] = {"p50", "p90", "p99", "p99.9"};
    char b[32];

    fprintf(f, "%-12s", label);
    if (h->count == 0) {
        fprintf(f, "-\n");
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        lb_fmt_us(b, sizeof(b), lb_hist_percentile(h, ps[i]));
        fprintf(f, "%s %-9s ", names[i], b);
    }
    lb_fmt_us(b, sizeof(b), h->max);
    fprintf(f, "max %-9s ", b);
    lb_fmt_us(b, sizeof(b), (uint64_t)(lb_hist_mean(h) + 0.5));
    fprintf(f, "mean %s (n=%llu)\n", b, (unsigned long long)h->count);
}

void lb_report_human(FILE *f, const lb_report_t *r)
{
    const lb_opts_t *o = r->opts;
    const lb_stats_t *s = r->stats;
    uint64_t errs = lb_stats_errors(s);
    bool open = o->rate > 0;

    fprintf(f, "llmux-bench %s: %s loop, %u connections, %u thread%s, %s%s, %.2f s measured",
            LX_VERSION, open ? "open" : "closed", o->concurrency, r->threads,
            r->threads == 1 ? "" : "s",
            o->body_file ? "custom body"
            : o->stream  ? "stream"
                         : "non-stream",
            o->anthropic ? " (anthropic)" : "", r->measured_s);
    if (r->warmup_s > 0)
        fprintf(f, " (+%.2f s warm-up)", r->warmup_s);
    fprintf(f, "%s\n", r->interrupted ? " [interrupted]" : "");
    fprintf(f, "%-12sPOST %s (%s) %s %s, body %zu B\n", "target", o->url, r->target->addr_text,
            o->body_file ? "body-file" : "model", o->body_file ? o->body_file : o->model,
            r->target->body_len);
    fprintf(f, "%-12s%llu sent, %llu completed, %llu ok, %llu errors, %llu unfinished at end\n",
            "requests", (unsigned long long)s->started, (unsigned long long)s->completed,
            (unsigned long long)s->ok, (unsigned long long)errs, (unsigned long long)s->unfinished);
    fprintf(f, "%-12s%.1f req/s completed, %.1f req/s ok, %.2f MB/s read\n", "throughput",
            per_s(s->completed, r->measured_s), per_s(s->ok, r->measured_s),
            per_s(s->bytes_in, r->measured_s) / 1e6);
    hist_line(f, "latency", &s->latency);
    if (s->streams > 0 || s->ttfc.count > 0) {
        hist_line(f, "ttfc", &s->ttfc);
        hist_line(f, "chunk gap", &s->gap);
        fprintf(f,
                "%-12s%llu streams; chunks per stream min %llu avg %.1f max %llu; data "
                "events avg %.1f\n",
                "chunks", (unsigned long long)s->streams,
                (unsigned long long)(s->streams ? s->chunks_min : 0),
                s->streams ? (double)s->chunks_sum / (double)s->streams : 0.0,
                (unsigned long long)s->chunks_max,
                s->streams ? (double)s->events_sum / (double)s->streams : 0.0);
    }
    if (s->streams > 0 || o->expect_chunks > 0) {
        uint64_t checked = s->streams + s->fid_not_stream;
        fprintf(f,
                "%-12s%llu/%llu ok (%.2f%%)%s: missing %llu, reordered/duplicated %llu, "
                "corrupt %llu, no end marker %llu, error events %llu",
                "fidelity", (unsigned long long)s->fid_ok, (unsigned long long)checked,
                checked ? 100.0 * (double)s->fid_ok / (double)checked : 0.0,
                o->expect_chunks ? "" : " (text not checked)", (unsigned long long)s->fid_missing,
                (unsigned long long)s->fid_reorder, (unsigned long long)s->fid_corrupt,
                (unsigned long long)s->fid_no_done, (unsigned long long)s->error_events);
        if (s->fid_not_stream)
            fprintf(f, ", not a stream %llu", (unsigned long long)s->fid_not_stream);
        fputc('\n', f);
    }
    fprintf(f, "%-12s", "errors");
    for (int i = 0; i < LB_ERR__N; i++)
        fprintf(f, "%s%s %llu", i ? ", " : "", lb_err_names[i], (unsigned long long)s->errors[i]);
    fputc('\n', f);
    if (s->errors[LB_ERR_STATUS] > 0) {
        fprintf(f, "%-12s", "http codes");
        for (int c = 0, first = 1; c < 600; c++) {
            if (s->status[c] == 0)
                continue;
            fprintf(f, "%s%d: %llu", first ? "" : ", ", c, (unsigned long long)s->status[c]);
            first = 0;
        }
        fputc('\n', f);
    }
    if (open)
        fprintf(f, "%-12srate %.1f/s, backlogged %llu, longest queue %llu, unsent at end %llu\n",
                "open loop", o->rate, (unsigned long long)s->backlogged,
                (unsigned long long)s->backlog_max, (unsigned long long)s->unsent);
    fprintf(f, "%-12s%llu connect attempts, %llu requests resent after a stale keep-alive\n",
            "connections", (unsigned long long)s->connects, (unsigned long long)s->resent);
    if (r->rss != NULL)
        fprintf(f, "%-12spid %ld: max %llu kB, last %llu kB (%llu samples%s)\n", "rss", r->rss->pid,
                (unsigned long long)r->rss->max_kb, (unsigned long long)r->rss->last_kb,
                (unsigned long long)r->rss->samples, r->rss->gone ? ", process gone" : "");
}

static json_t *hist_json(const lb_hist_t *h)
{
    return json_pack("{s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I}", "count", (json_int_t)h->count,
                     "min", (json_int_t)(h->count ? h->min : 0), "mean", lb_hist_mean(h), "p50",
                     (json_int_t)lb_hist_percentile(h, 50), "p90",
                     (json_int_t)lb_hist_percentile(h, 90), "p99",
                     (json_int_t)lb_hist_percentile(h, 99), "p99_9",
                     (json_int_t)lb_hist_percentile(h, 99.9), "max", (json_int_t)h->max);
}

static json_t *build(const lb_report_t *r)
{
    const lb_opts_t *o = r->opts;
    const lb_stats_t *s = r->stats;
    json_t *root = json_object(), *cfg, *errs, *codes, *v;

    cfg = json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:f, s:f, s:f, s:I, s:f, s:I, s:I}", "url",
                    o->url, "mode", o->rate > 0 ? "open" : "closed", "model", o->model, "stream",
                    o->stream, "anthropic", o->anthropic, "concurrency", (json_int_t)o->concurrency,
                    "threads", (json_int_t)r->threads, "rate", o->rate, "duration_s",
                    (double)o->duration_us / 1e6, "warmup_s", r->warmup_s, "requests_limit",
                    (json_int_t)o->requests, "timeout_s", (double)o->timeout_us / 1e6,
                    "expect_chunks", (json_int_t)o->expect_chunks, "body_bytes",
                    (json_int_t)r->target->body_len);
    if (o->body_file)
        json_object_set_new(cfg, "body_file", json_string(o->body_file));
    if (o->max_tokens > 0)
        json_object_set_new(cfg, "max_tokens", json_integer(o->max_tokens));
    json_object_set_new(root, "tool", json_string("llmux-bench"));
    json_object_set_new(root, "version", json_string(LX_VERSION));
    json_object_set_new(root, "config", cfg);
    json_object_set_new(root, "duration_s", json_real(r->measured_s));
    json_object_set_new(root, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(root, "requests",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "sent",
                                  (json_int_t)s->started, "completed", (json_int_t)s->completed,
                                  "ok", (json_int_t)s->ok, "errors", (json_int_t)lb_stats_errors(s),
                                  "unfinished", (json_int_t)s->unfinished, "backlogged",
                                  (json_int_t)s->backlogged, "backlog_max",
                                  (json_int_t)s->backlog_max, "unsent", (json_int_t)s->unsent,
                                  "resent", (json_int_t)s->resent));
    json_object_set_new(root, "rps", json_real(per_s(s->completed, r->measured_s)));
    json_object_set_new(root, "ok_rps", json_real(per_s(s->ok, r->measured_s)));
    json_object_set_new(root, "backlogged", json_integer((json_int_t)s->backlogged));
    json_object_set_new(root, "latency_us", hist_json(&s->latency));
    json_object_set_new(root, "ttfc_us", hist_json(&s->ttfc));
    json_object_set_new(root, "gap_us", hist_json(&s->gap));
    json_object_set_new(root, "chunks",
                        json_pack("{s:I, s:I, s:f, s:I, s:f}", "streams", (json_int_t)s->streams,
                                  "min", (json_int_t)(s->streams ? s->chunks_min : 0), "avg",
                                  s->streams ? (double)s->chunks_sum / (double)s->streams : 0.0,
                                  "max", (json_int_t)s->chunks_max, "events_avg",
                                  s->streams ? (double)s->events_sum / (double)s->streams : 0.0));
    json_object_set_new(
        root, "fidelity",
        json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "text_checked",
                  o->expect_chunks > 0, "checked", (json_int_t)(s->streams + s->fid_not_stream),
                  "ok", (json_int_t)s->fid_ok, "missing", (json_int_t)s->fid_missing,
                  "reordered_or_duplicated", (json_int_t)s->fid_reorder, "corrupt",
                  (json_int_t)s->fid_corrupt, "no_done", (json_int_t)s->fid_no_done, "error_events",
                  (json_int_t)s->error_events, "not_stream", (json_int_t)s->fid_not_stream));
    errs = json_object();
    codes = json_object();
    for (int i = 0; i < LB_ERR__N; i++)
        json_object_set_new(errs, lb_err_names[i], json_integer((json_int_t)s->errors[i]));
    uint64_t c4 = 0, c5 = 0;
    for (int c = 0; c < 600; c++) {
        char k[8];
        if (s->status[c] == 0)
            continue;
        snprintf(k, sizeof(k), "%d", c);
        json_object_set_new(codes, k, json_integer((json_int_t)s->status[c]));
        if (c >= 400 && c < 500)
            c4 += s->status[c];
        else if (c >= 500)
            c5 += s->status[c];
    }
    json_object_set_new(errs, "status_4xx", json_integer((json_int_t)c4));
    json_object_set_new(errs, "status_5xx", json_integer((json_int_t)c5));
    json_object_set_new(errs, "status", codes);
    json_object_set_new(root, "errors", errs);
    json_object_set_new(root, "connections",
                        json_pack("{s:I}", "connect_attempts", (json_int_t)s->connects));
    json_object_set_new(root, "bytes_in", json_integer((json_int_t)s->bytes_in));
    if (r->rss != NULL) {
        v = json_pack("{s:I, s:I, s:I, s:I, s:b}", "pid", (json_int_t)r->rss->pid, "max_kb",
                      (json_int_t)r->rss->max_kb, "last_kb", (json_int_t)r->rss->last_kb, "samples",
                      (json_int_t)r->rss->samples, "gone", r->rss->gone);
        json_object_set_new(root, "rss_kb", v);
    }
    return root;
}

int lb_report_json(const char *path, const lb_report_t *r)
{
    json_t *root = build(r);
    FILE *f;
    int rc = 0;

    if (root == NULL)
        return -1;
    f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "llmux-bench: cannot write %s: %s\n", path, strerror(errno));
        json_decref(root);
        return -1;
    }
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', f) == EOF)
        rc = -1;
    if (f != stdout) {
        if (fclose(f) != 0)
            rc = -1;
    } else {
        fflush(stdout);
    }
    if (rc < 0)
        fprintf(stderr, "llmux-bench: cannot write %s\n", path);
    json_decref(root);
    return rc;
}
