/* log.h - one JSON object per line on stderr.
 *
 * Each thread owns a line buffer. Worker threads turn buffering on and flush
 * from a timer so a busy loop does one write(2) per batch, not per line; other
 * threads write each line at once. Callers must never pass a secret. */
#ifndef LX_CORE_LOG_H
#define LX_CORE_LOG_H

#include "core/buf.h"

typedef enum {
    LX_LOG_DEBUG = 0,
    LX_LOG_INFO,
    LX_LOG_WARN,
    LX_LOG_ERROR,
    LX_LOG_FATAL,
} lx_log_level_t;

extern lx_log_level_t lx_log_min_level;

int lx_log_level_parse(const char *s, lx_log_level_t *out);
const char *lx_log_level_name(lx_log_level_t level);

/* fields is a printf format producing zero or more `"key":value` pairs,
 * comma separated, already valid JSON (use lx_log_str for strings). */
void lx_log(lx_log_level_t level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a preformatted JSON line (without the newline) as is. */
void lx_log_raw_line(const char *json, size_t n);
/* For a line built in place: append one JSON object (no newline) to the
 * returned buffer, then call lx_log_line_end with its level. Nothing else
 * may log in between. */
lx_buf_t *lx_log_line_begin(void);
void lx_log_line_end(lx_log_level_t level);

/* Writes the current UTC time as 2026-01-02T03:04:05.678Z; returns its length. */
size_t lx_log_timestamp(char out[32]);

void lx_log_set_buffered(int on);
void lx_log_flush(void);
/* Flushes and releases this thread's buffer; call before a thread exits. */
void lx_log_thread_done(void);

#define lx_log_debug(msg, ...)                                                                     \
    do {                                                                                           \
        if (lx_log_min_level <= LX_LOG_DEBUG)                                                      \
            lx_log(LX_LOG_DEBUG, msg, __VA_ARGS__);                                                \
    } while (0)
#define lx_log_info(msg, ...)  lx_log(LX_LOG_INFO, msg, __VA_ARGS__)
#define lx_log_warn(msg, ...)  lx_log(LX_LOG_WARN, msg, __VA_ARGS__)
#define lx_log_error(msg, ...) lx_log(LX_LOG_ERROR, msg, __VA_ARGS__)

#endif
