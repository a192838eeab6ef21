/* otlp.c - spans as OTLP/HTTP JSON (otlp.h). */
#include "obs/otlp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void hex_field(lx_buf_t *b, const char *name, const uint8_t *id, size_t n)
{
    char h[33];
    lx_trace_hex(id, n, h);
    lx_buf_printf(b, ",\"%s\":\"%s\"", name, h);
}

static void attr_json(lx_buf_t *b, const lx_attr_t *a)
{
    lx_buf_append_cstr(b, "{\"key\":");
    lx_buf_append_json_str(b, a->key, strlen(a->key));
    lx_buf_append_cstr(b, ",\"value\":{");
    switch (a->type) {
    case LX_ATTR_STR:
        lx_buf_append_cstr(b, "\"stringValue\":");
        lx_buf_append_json_str(b, a->s, a->slen);
        break;
    case LX_ATTR_INT:
        lx_buf_printf(b, "\"intValue\":\"%lld\"", (long long)a->v.i);
        break;
    case LX_ATTR_DOUBLE:
        if (isfinite(a->v.d))
            lx_buf_printf(b, "\"doubleValue\":%.17g", a->v.d);
        else /* JSON has no NaN/Infinity; the protobuf mapping writes them as strings */
            lx_buf_printf(b, "\"doubleValue\":\"%s\"",
                          isnan(a->v.d) ? "NaN"
                          : a->v.d > 0  ? "Infinity"
                                        : "-Infinity");
        break;
    case LX_ATTR_BOOL:
        lx_buf_append_cstr(b, a->v.b ? "\"boolValue\":true" : "\"boolValue\":false");
        break;
    }
    lx_buf_append_cstr(b, "}}");
}

static void span_json(lx_buf_t *b, const lx_span_t *s)
{
    lx_buf_append_cstr(b, "{\"name\":");
    lx_buf_append_json_str(b, s->name, strlen(s->name));
    hex_field(b, "traceId", s->trace_id, 16);
    hex_field(b, "spanId", s->span_id, 8);
    if (s->has_parent)
        hex_field(b, "parentSpanId", s->parent_id, 8);
    if (s->tracestate) {
        lx_buf_append_cstr(b, ",\"traceState\":");
        lx_buf_append_json_str(b, s->tracestate, strlen(s->tracestate));
    }
    lx_buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"",
                  (int)s->kind, (long long)s->start_ns,
                  (long long)(s->end_ns ? s->end_ns : s->start_ns));
    lx_buf_append_cstr(b, ",\"attributes\":[");
    for (int i = 0; i < s->nattrs; i++) {
        if (i)
            lx_buf_append_char(b, ',');
        attr_json(b, &s->attrs[i]);
    }
    lx_buf_printf(b, "],\"status\":{\"code\":%d}}", (int)s->status);
}

void lx_otlp_encode(lx_buf_t *out, const char *service_name, lx_span_t *const *spans, size_t n)
{
    lx_buf_append_cstr(out, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                            "{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    lx_buf_append_json_str(out, service_name, strlen(service_name));
    lx_buf_append_cstr(out, "}},{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":"
                            "\"llmux\"}},{\"key\":\"telemetry.sdk.language\",\"value\":{"
                            "\"stringValue\":\"c\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
                            "\"llmux\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            lx_buf_append_char(out, ',');
        span_json(out, spans[i]);
    }
    lx_buf_append_cstr(out, "]}]}]}");
}
