/* trace_conf.c - the trace settings checked and parsed at start-up
 * (trace_conf.h). */
#include "obs/trace_conf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void free_lines(char **lines, int n)
{
    for (int i = 0; i < n; i++) {
        explicit_bzero(lines[i], strlen(lines[i]));
        free(lines[i]);
        lines[i] = NULL;
    }
}

static int fail(char *err, size_t errlen, int entry, const char *why)
{
    snprintf(err, errlen, "OTEL_EXPORTER_OTLP_HEADERS (tracing.headers): entry %d %s", entry, why);
    return LX_ERROR;
}

int lx_otlp_headers_parse(const char *s, char **lines, int max, int *n, char *err, size_t errlen)
{
    *n = 0;
    size_t len = s ? strlen(s) : 0, i = 0;
    int entry = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != ',')
            e++;
        size_t a = i, b = e;
        i = e + 1;
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        entry++;
        if (a == b)
            continue; /* "a=1,,b=2": an empty entry is skipped */
        const char *eq = memchr(s + a, '=', b - a);
        if (eq == NULL) {
            free_lines(lines, *n);
            *n = 0;
            return fail(err, errlen, entry, "has no '='");
        }
        size_t ke = (size_t)(eq - s), vs = ke + 1;
        while (ke > a && (s[ke - 1] == ' ' || s[ke - 1] == '\t'))
            ke--;
        while (vs < b && (s[vs] == ' ' || s[vs] == '\t'))
            vs++;
        bool ok = ke > a;
        for (size_t k = a; ok && k < ke; k++)
            ok = token_char((unsigned char)s[k]);
        if (!ok) {
            free_lines(lines, *n);
            *n = 0;
            return fail(err, errlen, entry, "has a name that is not an HTTP header name");
        }
        if (*n == max) {
            free_lines(lines, *n);
            *n = 0;
            return fail(err, errlen, entry, "is one too many");
        }
        char *line = lx_alloc((ke - a) + 2 + (b - vs) + 1);
        size_t o = 0;
        memcpy(line, s + a, ke - a);
        o = ke - a;
        line[o++] = ':';
        line[o++] = ' ';
        const char *why = NULL;
        for (size_t k = vs; k < b && !why; k++) {
            unsigned char c = (unsigned char)s[k];
            if (c == '%') {
                int hi = k + 2 < b ? lx_hex_digit(s[k + 1]) : -1,
                    lo = k + 2 < b ? lx_hex_digit(s[k + 2]) : -1;
                if (hi < 0 || lo < 0) {
                    why = "has a bad %XX escape in its value";
                    break;
                }
                c = (unsigned char)(hi << 4 | lo);
                k += 2;
            }
            if (c < 0x20 || c == 0x7f) {
                why = "has a control character in its value";
                break;
            }
            line[o++] = (char)c;
        }
        line[o] = '\0';
        if (why) {
            explicit_bzero(line, o);
            free(line);
            free_lines(lines, *n);
            *n = 0;
            return fail(err, errlen, entry, why);
        }
        lines[(*n)++] = line;
    }
    return LX_OK;
}

static bool http_url(const char *u)
{
    return (strncasecmp(u, "http://", 7) == 0 && u[7]) ||
           (strncasecmp(u, "https://", 8) == 0 && u[8]);
}

static int bad(lx_trace_conf_t *out, char *err, size_t errlen, const char *fmt, const char *a)
{
    snprintf(err, errlen, fmt, a);
    lx_trace_conf_free(out);
    return LX_ERROR;
}

int lx_trace_conf_build(const lx_tracing_conf_t *in, lx_trace_conf_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->sampler.kind = LX_SAMPLER_PARENT_ON; /* the OpenTelemetry default */
    out->sampler.ratio = 1.0;
    out->capture_content = in->capture_content;
    out->service_name = lx_strdup(in->service_name ? in->service_name : "llmux");
    if (in->traces_endpoint) {
        if (!http_url(in->traces_endpoint))
            return bad(out, err, errlen,
                       "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (tracing.traces_endpoint): expected "
                       "an http:// or https:// URL%s",
                       "");
        out->url = lx_strdup(in->traces_endpoint);
    } else if (in->endpoint) {
        if (!http_url(in->endpoint))
            return bad(out, err, errlen,
                       "OTEL_EXPORTER_OTLP_ENDPOINT (tracing.endpoint): expected an http:// or "
                       "https:// URL%s",
                       "");
        size_t n = strlen(in->endpoint);
        bool slash = in->endpoint[n - 1] == '/';
        out->url = lx_alloc(n + 12);
        snprintf(out->url, n + 12, "%s%s", in->endpoint, slash ? "v1/traces" : "/v1/traces");
    }
    if (in->sampler && lx_sampler_parse(in->sampler, &out->sampler.kind) != LX_OK)
        return bad(out, err, errlen,
                   "OTEL_TRACES_SAMPLER (tracing.sampler): \"%s\" is not one of always_on, "
                   "always_off, traceidratio, parentbased_always_on, parentbased_always_off, "
                   "parentbased_traceidratio",
                   in->sampler);
    if (in->sampler_arg) {
        char *end;
        errno = 0;
        double r = strtod(in->sampler_arg, &end);
        bool is_ratio =
            out->sampler.kind == LX_SAMPLER_RATIO || out->sampler.kind == LX_SAMPLER_PARENT_RATIO;
        if (is_ratio && (errno || end == in->sampler_arg || *end || !isfinite(r) || r < 0 || r > 1))
            return bad(out, err, errlen,
                       "OTEL_TRACES_SAMPLER_ARG (tracing.sampler_arg): expected a number from 0 "
                       "to 1, got \"%s\"",
                       in->sampler_arg);
        if (is_ratio)
            out->sampler.ratio = r;
    }
    if (lx_otlp_headers_parse(in->headers, out->headers, LX_OTLP_MAX_HEADERS, &out->nheaders, err,
                              errlen) != LX_OK) {
        lx_trace_conf_free(out);
        return LX_ERROR;
    }
    out->enabled = out->url != NULL && !in->disabled;
    return LX_OK;
}

void lx_trace_conf_free(lx_trace_conf_t *c)
{
    free(c->url);
    free(c->service_name);
    free_lines(c->headers, c->nheaders);
    memset(c, 0, sizeof *c);
}
