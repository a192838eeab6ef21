/* otlp.h - the OTLP/HTTP JSON encoding of spans: one
 * ExportTraceServiceRequest {"resourceSpans":[{"resource":{...},
 * "scopeSpans":[{"scope":{...},"spans":[...]}]}]} with ids as lowercase hex,
 * times as strings of unix nanoseconds, and attributes as
 * {"key","value":{"stringValue"|"intValue"|"doubleValue"|"boolValue"}}
 * (intValue as a string, as the protobuf JSON mapping writes int64).
 *
 * Pure: borrows the spans, appends to the caller's buffer. */
#ifndef LX_OBS_OTLP_H
#define LX_OBS_OTLP_H

#include "core/buf.h"
#include "obs/trace.h"

/* Appends the request for spans[0..n) of service service_name to out. */
void lx_otlp_encode(lx_buf_t *out, const char *service_name, lx_span_t *const *spans, size_t n);

#endif
