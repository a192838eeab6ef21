/* log.c - JSON line logger with per-thread buffers. */
#include "core/log.h"
#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

lx_log_level_t lx_log_min_level = LX_LOG_INFO;

static const char *const level_names[] = {
    [LX_LOG_DEBUG] = "debug", [LX_LOG_INFO] = "info",   [LX_LOG_WARN] = "warn",
    [LX_LOG_ERROR] = "error", [LX_LOG_FATAL] = "fatal",
};

#define FLUSH_AT (16 * 1024)

static _Thread_local lx_buf_t tl_buf;
static _Thread_local int tl_buffered;

int lx_log_level_parse(const char *s, lx_log_level_t *out)
{
    for (size_t i = 0; i < LX_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (lx_log_level_t)i;
            return LX_OK;
        }
    }
    return LX_ERROR;
}

const char *lx_log_level_name(lx_log_level_t level)
{
    return level_names[level];
}

void lx_log_flush(void)
{
    size_t off = 0;
    while (off < tl_buf.n) {
        ssize_t w = write(STDERR_FILENO, tl_buf.p + off, tl_buf.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* stderr gone: drop rather than spin */
        off += (size_t)w;
    }
    lx_buf_reset(&tl_buf);
}

void lx_log_set_buffered(int on)
{
    if (!on)
        lx_log_flush();
    tl_buffered = on;
}

void lx_log_thread_done(void)
{
    lx_log_flush();
    lx_buf_free(&tl_buf);
    tl_buffered = 0;
}

static void line_done(lx_log_level_t level)
{
    lx_buf_append_char(&tl_buf, '\n');
    if (!tl_buffered || tl_buf.n >= FLUSH_AT || level >= LX_LOG_ERROR)
        lx_log_flush();
}

lx_buf_t *lx_log_line_begin(void)
{
    return &tl_buf;
}

void lx_log_line_end(lx_log_level_t level)
{
    line_done(level);
}

void lx_log_raw_line(const char *json, size_t n)
{
    lx_buf_append(&tl_buf, json, n);
    line_done(LX_LOG_INFO);
}

static _Thread_local time_t tl_ts_sec = -1;
static _Thread_local char tl_ts[32];

size_t lx_log_timestamp(char out[32])
{
    int64_t ms = lx_wall_ms();
    time_t sec = (time_t)(ms / 1000);
    if (sec != tl_ts_sec) { /* formatting a date is costly; once a second */
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(tl_ts, sizeof tl_ts, "%Y-%m-%dT%H:%M:%S", &tm);
        tl_ts_sec = sec;
    }
    size_t n = strlen(tl_ts);
    memcpy(out, tl_ts, n);
    int frac = (int)(ms % 1000);
    out[n++] = '.';
    out[n++] = (char)('0' + frac / 100);
    out[n++] = (char)('0' + frac / 10 % 10);
    out[n++] = (char)('0' + frac % 10);
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

void lx_log(lx_log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < lx_log_min_level)
        return;
    char ts[32];
    lx_log_timestamp(ts);
    lx_buf_printf(&tl_buf, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
    lx_buf_append_json_str(&tl_buf, msg, strlen(msg));
    if (fields && fields[0]) {
        lx_buf_append_char(&tl_buf, ',');
        size_t before = tl_buf.n;
        va_list ap;
        va_start(ap, fields);
        lx_buf_vprintf(&tl_buf, fields, ap);
        va_end(ap);
        if (tl_buf.n == before) /* the fields expanded to nothing */
            tl_buf.n--;
    }
    lx_buf_append_char(&tl_buf, '}');
    line_done(level);
}
