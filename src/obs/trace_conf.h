/* trace_conf.h - the trace exporter's settings, checked and parsed once at
 * start-up from lx_config_t.tracing (the file's "tracing" object and the
 * OTEL_* variables, core/config_tracing.c).
 *
 * Ownership: lx_trace_conf_t owns its strings (lx_trace_conf_free); the main
 * thread builds it before the workers start, and it is read-only (shared by
 * every worker's tracer) from then on. headers hold secrets: no message
 * ever prints a header's value. */
#ifndef LX_OBS_TRACE_CONF_H
#define LX_OBS_TRACE_CONF_H

#include "core/config.h"
#include "obs/trace.h"

#define LX_OTLP_MAX_HEADERS 16

typedef struct {
    bool enabled;                       /* an endpoint is set and the SDK is not disabled */
    char *url;                          /* where spans are POSTed (…/v1/traces) */
    char *headers[LX_OTLP_MAX_HEADERS]; /* "Name: value" lines (secret) */
    int nheaders;
    char *service_name; /* resource service.name (default "llmux") */
    lx_sampler_t sampler;
    bool capture_content; /* prompt and answer text on request spans */
} lx_trace_conf_t;

/* Checks in and fills out. LX_ERROR with a message naming the setting
 * (never a header value) in err; out is then empty. */
int lx_trace_conf_build(const lx_tracing_conf_t *in, lx_trace_conf_t *out, char *err,
                        size_t errlen);
void lx_trace_conf_free(lx_trace_conf_t *c);

/* OTEL_EXPORTER_OTLP_HEADERS: "k1=v1,k2=v2" (OWS around entries, keys and
 * values trimmed; values percent-decoded; an empty text is no header).
 * Each header becomes a malloc'd "Name: value" line in lines[0..*n).
 * LX_ERROR (nothing kept) for an entry without '=', a key that is not an
 * HTTP token, a bad %XX, a decoded value with a control byte, or more than
 * max entries; err names the entry by position, never its value. */
int lx_otlp_headers_parse(const char *s, char **lines, int max, int *n, char *err, size_t errlen);

#endif
