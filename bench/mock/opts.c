/* opts.c - parsing per-request options from headers and model-name suffixes. */
#include "opts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

mock_opts_t mock_opts_defaults = {
    .chunks = 5,
    .gap_ms = 0,
    .ttft_ms = 0,
    .latency_ms = 0,
    .after = 2,
    .retry_after = 1,
    .dims = 8,
    .duration_ms = 2000,
    .size = 1L << 20,
    .steps = 0,
    .throttle_ms = 0,
    .poll_fail = 0,
    .poll_fail_status = 503,
    .poll_retry_after = 0,
    .content_bytes = 32,
    .outcome = MOCK_OUTCOME_SUCCEED,
    .status = 0,
    .fault = MOCK_FAULT_NONE,
    .dims_set = false,
};

static const struct {
    const char *name;
    mock_fault_t fault;
} fault_names[] = {
    {"none", MOCK_FAULT_NONE},
    {"stall_headers", MOCK_FAULT_STALL_HEADERS},
    {"stall_mid", MOCK_FAULT_STALL_MID},
    {"drop", MOCK_FAULT_DROP},
    {"malformed", MOCK_FAULT_MALFORMED},
    {"error_event", MOCK_FAULT_ERROR_EVENT},
    {"fail", MOCK_FAULT_FAIL},
    {"slow_body", MOCK_FAULT_SLOW_BODY},
    {"max_tokens", MOCK_FAULT_MAX_TOKENS},
    {"refusal", MOCK_FAULT_REFUSAL},
    {"cr_header", MOCK_FAULT_CR_HEADER},
    {"huge_event", MOCK_FAULT_HUGE_EVENT},
    {"huge_body", MOCK_FAULT_HUGE_BODY},
    {"quota", MOCK_FAULT_QUOTA},
};

const char *mock_fault_name(mock_fault_t f)
{
    if (f == MOCK_FAULT_STATUS)
        return "status";
    if (f == MOCK_FAULT_RAW_STATUS)
        return "raw_status";
    for (size_t i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
        if (fault_names[i].fault == f)
            return fault_names[i].name;
    return "?";
}

/* Parses a decimal in [lo, hi] from v[0..n). */
static bool parse_long(const char *v, size_t n, long lo, long hi, long *out)
{
    char tmp[24];
    char *end;
    long x;

    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    x = strtol(tmp, &end, 10);
    if (*end != '\0' || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static bool parse_fault(mock_opts_t *o, const char *v, size_t n)
{
    long code;

    if (parse_long(v, n, 400, 599, &code)) {
        o->fault = MOCK_FAULT_STATUS;
        o->status = (int)code;
        return true;
    }
    /* raw_NNN: any three-digit status, written by hand (101, 204, 304, 999) */
    if (n > 4 && strncasecmp(v, "raw_", 4) == 0 && parse_long(v + 4, n - 4, 100, 999, &code)) {
        o->fault = MOCK_FAULT_RAW_STATUS;
        o->status = (int)code;
        return true;
    }
    for (size_t i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++) {
        if (strlen(fault_names[i].name) == n && strncasecmp(fault_names[i].name, v, n) == 0) {
            o->fault = fault_names[i].fault;
            o->status = 0;
            return true;
        }
    }
    return false;
}

static bool parse_outcome(mock_opts_t *o, const char *v, size_t n)
{
    static const struct {
        const char *name;
        mock_outcome_t outcome;
    } names[] = {
        {"succeed", MOCK_OUTCOME_SUCCEED},
        {"fail", MOCK_OUTCOME_FAIL},
        {"stall", MOCK_OUTCOME_STALL},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == n && strncasecmp(names[i].name, v, n) == 0) {
            o->outcome = names[i].outcome;
            return true;
        }
    }
    return false;
}

static bool key_is(const char *k, size_t n, const char *name)
{
    size_t i = 0;

    for (; i < n && name[i] != '\0'; i++) {
        char c = k[i] == '-' ? '_' : k[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return false;
    }
    return i == n && name[i] == '\0';
}

#define MS_MAX 3600000L

bool mock_opts_set(mock_opts_t *o, const char *k, size_t kn, const char *v, size_t vn)
{
    if (key_is(k, kn, "fault"))
        return parse_fault(o, v, vn);
    if (key_is(k, kn, "chunks"))
        return parse_long(v, vn, 0, 100000, &o->chunks);
    if (key_is(k, kn, "gap_ms"))
        return parse_long(v, vn, 0, MS_MAX, &o->gap_ms);
    if (key_is(k, kn, "ttft_ms"))
        return parse_long(v, vn, 0, MS_MAX, &o->ttft_ms);
    if (key_is(k, kn, "latency_ms"))
        return parse_long(v, vn, 0, MS_MAX, &o->latency_ms);
    if (key_is(k, kn, "after") || key_is(k, kn, "fault_after"))
        return parse_long(v, vn, 0, 100000, &o->after);
    if (key_is(k, kn, "retry_after"))
        return parse_long(v, vn, 0, 86400, &o->retry_after);
    if (key_is(k, kn, "duration_ms"))
        return parse_long(v, vn, 0, 24 * MS_MAX, &o->duration_ms);
    if (key_is(k, kn, "size"))
        return parse_long(v, vn, 0, 1L << 30, &o->size);
    if (key_is(k, kn, "steps"))
        return parse_long(v, vn, 0, 1000, &o->steps);
    if (key_is(k, kn, "throttle_ms"))
        return parse_long(v, vn, 0, 24 * MS_MAX, &o->throttle_ms);
    if (key_is(k, kn, "poll_fail")) {
        if (vn == 6 && strncasecmp(v, "always", 6) == 0) {
            o->poll_fail = -1;
            return true;
        }
        return parse_long(v, vn, -1, 1000000, &o->poll_fail);
    }
    if (key_is(k, kn, "poll_fail_status"))
        return parse_long(v, vn, 500, 599, &o->poll_fail_status);
    if (key_is(k, kn, "poll_retry_after"))
        return parse_long(v, vn, 0, 86400, &o->poll_retry_after);
    if (key_is(k, kn, "content_bytes"))
        return parse_long(v, vn, 32, 1L << 30, &o->content_bytes);
    if (key_is(k, kn, "outcome"))
        return parse_outcome(o, v, vn);
    if (key_is(k, kn, "dims")) {
        if (!parse_long(v, vn, 1, 65536, &o->dims))
            return false;
        o->dims_set = true;
        return true;
    }
    return false;
}

size_t mock_opts_apply_model(mock_opts_t *o, const char *model, size_t n)
{
    const char *plus = memchr(model, '+', n);
    size_t base = plus ? (size_t)(plus - model) : n;
    size_t i = base;

    while (i < n) {
        size_t start = i + 1, end = start, eq;
        while (end < n && model[end] != '+')
            end++;
        for (eq = start; eq < end && model[eq] != '='; eq++)
            ;
        if (eq < end)
            mock_opts_set(o, model + start, eq - start, model + eq + 1, end - eq - 1);
        i = end;
    }
    return base;
}
