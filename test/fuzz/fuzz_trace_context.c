/* fuzz_trace_context.c - the W3C trace context parsers and the
 * OTEL_EXPORTER_OTLP_HEADERS parser (src/obs/trace.c, trace_conf.c). The
 * first byte picks the parser: 't' traceparent, 's' tracestate, anything
 * else the headers. */
#include "obs/trace.h"
#include "obs/trace_conf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void traceparent(const char *s, size_t n)
{
    lx_trace_ctx_t c, again;
    memset(&c, 0x5a, sizeof c);
    if (lx_traceparent_parse(s, n, &c) != LX_OK) {
        if (c.flags != 0x5a)
            abort(); /* documented: untouched on error */
        return;
    }
    if (lx_trace_id_is_zero(c.trace_id, 16) || lx_trace_id_is_zero(c.span_id, 8))
        abort();
    char out[LX_TRACEPARENT_LEN + 1];
    lx_traceparent_format(&c, out);
    if (strlen(out) != LX_TRACEPARENT_LEN ||
        lx_traceparent_parse(out, strlen(out), &again) != LX_OK)
        abort(); /* what we send upstream is valid */
    if (memcmp(again.trace_id, c.trace_id, 16) || memcmp(again.span_id, c.span_id, 8) ||
        again.flags != (c.flags & LX_TRACE_FLAG_SAMPLED))
        abort();
    if (n == LX_TRACEPARENT_LEN && s[0] == '0' && s[1] == '0' && (c.flags & 0xfe) == 0 &&
        memcmp(out, s, n) != 0)
        abort(); /* a version 00 header round-trips */
}

static void tracestate(const char *s, size_t n)
{
    if (!lx_tracestate_valid(s, n))
        return;
    if (n > LX_TRACESTATE_MAX)
        abort();
    for (size_t i = 0; i < n; i++) /* forwarded as a header: no control bytes */
        if ((unsigned char)s[i] < 0x20 && s[i] != '\t')
            abort();
}

static void headers(const char *s)
{
    char *lines[LX_OTLP_MAX_HEADERS];
    int n = -1;
    char err[200];
    err[0] = '\0';
    if (lx_otlp_headers_parse(s, lines, LX_OTLP_MAX_HEADERS, &n, err, sizeof err) != LX_OK) {
        if (n != 0 || err[0] == '\0' || memchr(err, '\0', sizeof err) == NULL)
            abort();
        return;
    }
    if (n < 0 || n > LX_OTLP_MAX_HEADERS)
        abort();
    for (int i = 0; i < n; i++) {
        const char *colon = strstr(lines[i], ": ");
        if (colon == NULL || colon == lines[i])
            abort();
        for (const char *p = lines[i]; *p; p++) /* a header line never splits */
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort();
        free(lines[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    size_t n = size - 1;
    if (data[0] == 't')
        traceparent(s, n);
    else if (data[0] == 's')
        tracestate(s, n);
    else if (memchr(s, '\0', n) == NULL)
        headers(s);
    free(s);
    return 0;
}
