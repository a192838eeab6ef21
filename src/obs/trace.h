/* trace.h - spans and W3C trace context for OpenTelemetry traces (README
 * "Traces"): 128-bit trace ids and 64-bit span ids from a per-thread
 * generator seeded from the CSPRNG, the traceparent/tracestate parsers and
 * the traceparent writer, the samplers (OTEL_TRACES_SAMPLER), and the span
 * itself (name, kind, times in unix nanoseconds, status, attributes).
 *
 * Ownership: a span is owned by whoever made it (lx_span_new) until it is
 * handed to a tracer (trace_export.h: lx_tracer_submit), which frees it
 * after export or drop. Attribute keys are static strings (borrowed for the
 * span's life); string values are copied. Pure code: no I/O, no locks; the
 * id generator is per thread. */
#ifndef LX_OBS_TRACE_H
#define LX_OBS_TRACE_H

#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_SPAN_MAX_ATTRS     24
#define LX_TRACESTATE_MAX     512 /* W3C: 32 list-members, at most 512 bytes kept */
#define LX_TRACEPARENT_LEN    55  /* 00-<32 hex>-<16 hex>-<2 hex> */
#define LX_TRACE_FLAG_SAMPLED 0x01

/* Values are OTLP's SpanKind numbers. */
typedef enum { LX_SPAN_INTERNAL = 1, LX_SPAN_SERVER = 2, LX_SPAN_CLIENT = 3 } lx_span_kind_t;
/* Values are OTLP's StatusCode numbers. */
typedef enum { LX_SPAN_UNSET = 0, LX_SPAN_OK = 1, LX_SPAN_ERROR = 2 } lx_span_status_t;

/* One hop of a trace: its trace id, the span id of the parent, and the
 * flags (bit 0: sampled), as traceparent carries them. */
typedef struct {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags;
} lx_trace_ctx_t;

typedef enum { LX_ATTR_STR, LX_ATTR_INT, LX_ATTR_DOUBLE, LX_ATTR_BOOL } lx_attr_type_t;

typedef struct {
    const char *key; /* static */
    lx_attr_type_t type;
    union {
        int64_t i;
        double d;
        bool b;
    } v;
    char *s; /* LX_ATTR_STR: owned, NUL-terminated copy */
    size_t slen;
} lx_attr_t;

typedef struct lx_span {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    bool has_parent;
    lx_span_kind_t kind;
    lx_span_status_t status;
    int64_t start_ns, end_ns; /* unix nanoseconds; end 0 while open */
    char name[160];
    char *tracestate; /* owned; NULL: none */
    int nattrs;
    lx_attr_t attrs[LX_SPAN_MAX_ATTRS];
} lx_span_t;

/* ---- ids ---- */

/* Fills p[0..n) from this thread's generator (xoshiro256**, seeded from
 * lx_random_bytes at its first use on the thread); never all zero. */
void lx_trace_random_id(uint8_t *p, size_t n);
bool lx_trace_id_is_zero(const uint8_t *p, size_t n);
/* Lowercase hex of p[0..n) into out (2n chars + NUL). */
void lx_trace_hex(const uint8_t *p, size_t n, char *out);
/* Unix time in nanoseconds. */
int64_t lx_trace_now_ns(void);

/* ---- W3C trace context ---- */

/* Parses a traceparent header strictly (version 00: exactly 55 bytes,
 * lowercase hex, non-zero trace and parent ids; a higher version is read by
 * its first 55 bytes when what follows starts with '-'; version ff is
 * invalid). LX_ERROR: invalid, out untouched. */
int lx_traceparent_parse(const char *s, size_t n, lx_trace_ctx_t *out);
/* Writes "00-<trace>-<span>-<flags>" (LX_TRACEPARENT_LEN chars + NUL). */
void lx_traceparent_format(const lx_trace_ctx_t *c, char out[LX_TRACEPARENT_LEN + 1]);
/* True if s[0..n) is a valid tracestate (1..32 list-members key=value,
 * keys and values per the W3C grammar, no duplicate keys, at most
 * LX_TRACESTATE_MAX bytes). An invalid one is dropped, never forwarded. */
bool lx_tracestate_valid(const char *s, size_t n);

/* ---- sampling ---- */

typedef enum {
    LX_SAMPLER_ALWAYS_ON = 0,
    LX_SAMPLER_ALWAYS_OFF,
    LX_SAMPLER_RATIO,
    LX_SAMPLER_PARENT_ON,
    LX_SAMPLER_PARENT_OFF,
    LX_SAMPLER_PARENT_RATIO,
} lx_sampler_kind_t;

typedef struct {
    lx_sampler_kind_t kind;
    double ratio; /* 0..1, for the ratio samplers */
} lx_sampler_t;

/* Parses OTEL_TRACES_SAMPLER's names (always_on, ..., parentbased_traceidratio). */
int lx_sampler_parse(const char *name, lx_sampler_kind_t *out);
/* The decision for a new span of trace_id: the parent-based samplers follow
 * a remote parent's sampled flag (parent NULL: a root span, decided by the
 * root sampler); traceidratio keeps a trace when its id's last 8 bytes, read
 * as a number, fall below ratio * 2^64 (so every hop decides alike). */
bool lx_sampler_decide(const lx_sampler_t *s, const lx_trace_ctx_t *parent,
                       const uint8_t trace_id[16]);

/* ---- spans ---- */

/* A new open span of trace_id with a fresh span id; parent_id NULL for a
 * root. name is copied (truncated at 159 bytes). */
lx_span_t *lx_span_new(const char *name, lx_span_kind_t kind, const uint8_t trace_id[16],
                       const uint8_t *parent_id, int64_t start_ns);
/* Attributes: keys are static strings; a key set twice keeps the last
 * value; beyond LX_SPAN_MAX_ATTRS keys the rest are ignored. */
void lx_span_str(lx_span_t *s, const char *key, const char *v, size_t n);
void lx_span_cstr(lx_span_t *s, const char *key, const char *v);
void lx_span_int(lx_span_t *s, const char *key, int64_t v);
void lx_span_double(lx_span_t *s, const char *key, double v);
void lx_span_bool(lx_span_t *s, const char *key, bool v);
/* The attribute key, or NULL (for tests and the encoder). */
const lx_attr_t *lx_span_attr(const lx_span_t *s, const char *key);
void lx_span_free(lx_span_t *s);

#endif
