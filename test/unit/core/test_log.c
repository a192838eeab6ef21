/* test_log.c - unit tests for src/core/log.c: level names and the JSON line
 * format written to stderr. stderr is redirected with dup2 to a memfd, the
 * bytes are read back and every line is parsed with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- stderr capture ---- */

static int cap_fd = -1;
static int saved_stderr = -1;

static void capture_begin(void)
{
    fflush(stderr);
    cap_fd = memfd_create("lx_log_capture", 0);
    assert_true(cap_fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_int_equal(dup2(cap_fd, STDERR_FILENO), STDERR_FILENO);
}

/* Bytes written to fd 2 so far, without ending the capture. Caller frees. */
static char *capture_peek(size_t *len)
{
    off_t end = lseek(cap_fd, 0, SEEK_CUR);
    assert_true(end >= 0);
    char *out = malloc((size_t)end + 1);
    assert_non_null(out);
    ssize_t r = pread(cap_fd, out, (size_t)end, 0);
    assert_int_equal(r, end);
    out[end] = '\0';
    if (len)
        *len = (size_t)end;
    return out;
}

/* Restores stderr and returns everything written while captured. */
static char *capture_end(size_t *len)
{
    assert_int_equal(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
    close(saved_stderr);
    saved_stderr = -1;
    char *out = capture_peek(len);
    close(cap_fd);
    cap_fd = -1;
    return out;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Parses one line (which must end in exactly one '\n') as a JSON object. */
static json_t *parse_line(const char *line, size_t n)
{
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    assert_null(memchr(line, '\n', n - 1));
    json_error_t jerr;
    json_t *v = json_loadb(line, n - 1, 0, &jerr);
    if (v == NULL)
        fail_msg("log line is not JSON (%s): %.*s", jerr.text, (int)n, line);
    assert_true(json_is_object(v));
    return v;
}

static int setup(void **state)
{
    (void)state;
    lx_log_min_level = LX_LOG_DEBUG;
    lx_log_set_buffered(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (saved_stderr >= 0) { /* a failed assertion left stderr captured */
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
    if (cap_fd >= 0) {
        close(cap_fd);
        cap_fd = -1;
    }
    lx_log_set_buffered(0);
    lx_log_min_level = LX_LOG_INFO;
    return 0;
}

/* ---- level parsing ---- */

static void test_level_parse_accepts_every_name(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        lx_log_level_t want;
    } ok[] = {
        {"debug", LX_LOG_DEBUG}, {"info", LX_LOG_INFO},   {"warn", LX_LOG_WARN},
        {"error", LX_LOG_ERROR}, {"fatal", LX_LOG_FATAL}, {"DEBUG", LX_LOG_DEBUG},
        {"Info", LX_LOG_INFO},   {"wArN", LX_LOG_WARN},   {"ERROR", LX_LOG_ERROR},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(ok); i++) {
        lx_log_level_t out = (lx_log_level_t)99;
        assert_int_equal(lx_log_level_parse(ok[i].s, &out), LX_OK);
        assert_int_equal(out, ok[i].want);
    }
}

static void test_level_parse_rejects_others(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "warning", "inf", "debugx", " info", "info ", "trace", "err", "0", "3",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        lx_log_level_t out = LX_LOG_WARN;
        assert_int_equal(lx_log_level_parse(bad[i], &out), LX_ERROR);
        assert_int_equal(out, LX_LOG_WARN); /* untouched on failure */
    }
}

static void test_level_name_round_trips(void **state)
{
    (void)state;
    assert_string_equal(lx_log_level_name(LX_LOG_DEBUG), "debug");
    assert_string_equal(lx_log_level_name(LX_LOG_INFO), "info");
    assert_string_equal(lx_log_level_name(LX_LOG_WARN), "warn");
    assert_string_equal(lx_log_level_name(LX_LOG_ERROR), "error");
    assert_string_equal(lx_log_level_name(LX_LOG_FATAL), "fatal");
    for (int l = LX_LOG_DEBUG; l <= LX_LOG_FATAL; l++) {
        lx_log_level_t out;
        assert_int_equal(lx_log_level_parse(lx_log_level_name((lx_log_level_t)l), &out), LX_OK);
        assert_int_equal(out, l);
    }
}

/* ---- line format ---- */

/* Matches s against a pattern where 'd' is any digit and other bytes are literal. */
static bool matches(const char *s, const char *pattern)
{
    if (strlen(s) != strlen(pattern))
        return false;
    for (size_t i = 0; pattern[i]; i++) {
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
            return false;
    }
    return true;
}

static void test_line_is_json_with_ts_level_msg_fields(void **state)
{
    (void)state;
    int64_t before = lx_wall_ms();
    capture_begin();
    lx_log(LX_LOG_INFO, "server started", "\"port\":%d,\"host\":\"%s\",\"ok\":%s", 8080,
           "127.0.0.1", "true");
    size_t n;
    char *out = capture_end(&n);
    int64_t after = lx_wall_ms();

    assert_int_equal(count_lines(out), 1);
    json_t *v = parse_line(out, n);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "server started");
    assert_int_equal(json_integer_value(json_object_get(v, "port")), 8080);
    assert_string_equal(json_string_value(json_object_get(v, "host")), "127.0.0.1");
    assert_true(json_is_true(json_object_get(v, "ok")));
    assert_int_equal(json_object_size(v), 6);

    /* ts: 2024-01-02T03:04:05.678Z, within the time the call took. */
    const char *ts = json_string_value(json_object_get(v, "ts"));
    assert_non_null(ts);
    if (!matches(ts, "dddd-dd-ddTdd:dd:dd.dddZ"))
        fail_msg("bad ts %s", ts);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    int64_t ms = (int64_t)timegm(&tm) * 1000 + atoi(rest + 1);
    assert_true(ms >= before && ms <= after);

    json_decref(v);
    free(out);
}

static void test_message_with_quotes_and_newlines_is_escaped(void **state)
{
    (void)state;
    const char *msg = "say \"hi\"\nthen\r\n\tleave \\ now \x01 done";
    capture_begin();
    lx_log(LX_LOG_WARN, msg, NULL);
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 1); /* the raw newline never leaks */
    json_t *v = parse_line(out, n);
    assert_string_equal(json_string_value(json_object_get(v, "msg")), msg);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "warn");
    assert_int_equal(json_object_size(v), 3);
    json_decref(v);
    free(out);
}

static void test_empty_fields_give_no_trailing_comma(void **state)
{
    (void)state;
    capture_begin();
    lx_log(LX_LOG_INFO, "a", NULL);
    const char *empty = ""; /* a literal "" trips -Wformat-zero-length */
    lx_log(LX_LOG_INFO, "b", empty, 0);
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 2);
    const char *line = out;
    const char *want[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        const char *nl = strchr(line, '\n');
        json_t *v = parse_line(line, (size_t)(nl - line) + 1);
        assert_string_equal(json_string_value(json_object_get(v, "msg")), want[i]);
        assert_int_equal(json_object_size(v), 3);
        json_decref(v);
        line = nl + 1;
    }
    free(out);
}

static void test_fields_format_producing_nothing(void **state)
{
    (void)state;
    /* log.h: fields is "a printf format producing zero or more pairs". A
     * non-empty format that produces zero pairs (optional fields passed as
     * "%s") must still give a valid line. */
    capture_begin();
    lx_log(LX_LOG_INFO, "c", "%s", "");
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 1);
    json_error_t jerr;
    json_t *v = json_loadb(out, n - 1, 0, &jerr);
    if (v == NULL)
        fail_msg("invalid JSON (%s): %s", jerr.text, out);
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "c");
    json_decref(v);
    free(out);
}

static void test_fields_from_lx_buf_json_str_survive(void **state)
{
    (void)state;
    /* The documented way to log a string field: escape it first. */
    lx_buf_t b;
    lx_buf_init(&b, 0);
    const char *path = "/v1/chat\"}{\"evil\":1";
    lx_buf_append_json_str(&b, path, strlen(path));
    capture_begin();
    lx_log(LX_LOG_ERROR, "bad path", "\"path\":%s", b.p);
    size_t n;
    char *out = capture_end(&n);
    json_t *v = parse_line(out, n);
    assert_string_equal(json_string_value(json_object_get(v, "path")), path);
    assert_null(json_object_get(v, "evil"));
    assert_string_equal(json_string_value(json_object_get(v, "level")), "error");
    json_decref(v);
    free(out);
    lx_buf_free(&b);
}

static void test_every_level_name_in_output(void **state)
{
    (void)state;
    for (int l = LX_LOG_DEBUG; l <= LX_LOG_FATAL; l++) {
        capture_begin();
        lx_log((lx_log_level_t)l, "m", NULL);
        size_t n;
        char *out = capture_end(&n);
        json_t *v = parse_line(out, n);
        assert_string_equal(json_string_value(json_object_get(v, "level")),
                            lx_log_level_name((lx_log_level_t)l));
        json_decref(v);
        free(out);
    }
}

static void test_min_level_filters(void **state)
{
    (void)state;
    lx_log_min_level = LX_LOG_WARN;
    capture_begin();
    lx_log(LX_LOG_DEBUG, "dropped-debug", NULL);
    lx_log(LX_LOG_INFO, "dropped-info", NULL);
    lx_log_info("dropped-macro", "\"x\":%d", 1);
    lx_log_debug("dropped-debug-macro", "\"x\":%d", 1);
    lx_log(LX_LOG_WARN, "kept-warn", NULL);
    lx_log_error("kept-error", "\"x\":%d", 2);
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 2);
    assert_null(strstr(out, "dropped"));
    assert_non_null(strstr(out, "kept-warn"));
    assert_non_null(strstr(out, "kept-error"));
    free(out);

    lx_log_min_level = LX_LOG_DEBUG;
    capture_begin();
    lx_log_debug("now-shown", "\"x\":%d", 3);
    out = capture_end(&n);
    json_t *v = parse_line(out, n);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "debug");
    assert_int_equal(json_integer_value(json_object_get(v, "x")), 3);
    json_decref(v);
    free(out);
}

static void test_buffered_mode_batches_until_flush(void **state)
{
    (void)state;
    capture_begin();
    lx_log_set_buffered(1);
    lx_log(LX_LOG_INFO, "one", NULL);
    lx_log(LX_LOG_WARN, "two", NULL);
    size_t n;
    char *seen = capture_peek(&n);
    assert_int_equal(n, 0); /* nothing written yet */
    free(seen);
    lx_log_flush();
    seen = capture_peek(&n);
    assert_int_equal(count_lines(seen), 2);
    free(seen);

    /* An error line flushes at once, together with what was waiting. */
    lx_log(LX_LOG_INFO, "three", NULL);
    lx_log(LX_LOG_ERROR, "four", NULL);
    seen = capture_peek(&n);
    assert_int_equal(count_lines(seen), 4);
    free(seen);

    /* Turning buffering off flushes what is pending. */
    lx_log(LX_LOG_INFO, "five", NULL);
    seen = capture_peek(&n);
    assert_int_equal(count_lines(seen), 4);
    free(seen);
    lx_log_set_buffered(0);
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 5);
    const char *order[] = {"one", "two", "three", "four", "five"};
    const char *line = out;
    for (int i = 0; i < 5; i++) {
        const char *nl = strchr(line, '\n');
        json_t *v = parse_line(line, (size_t)(nl - line) + 1);
        assert_string_equal(json_string_value(json_object_get(v, "msg")), order[i]);
        json_decref(v);
        line = nl + 1;
    }
    free(out);
}

static void test_buffered_mode_flushes_when_large(void **state)
{
    (void)state;
    char big[1024];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    capture_begin();
    lx_log_set_buffered(1);
    /* ~1 KiB per line: well before 100 lines the 16 KiB threshold triggers. */
    for (int i = 0; i < 100; i++)
        lx_log(LX_LOG_INFO, big, "\"i\":%d", i);
    size_t n;
    char *seen = capture_peek(&n);
    assert_true(count_lines(seen) > 0);
    assert_true(count_lines(seen) < 100);
    free(seen);
    lx_log_set_buffered(0);
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 100);
    free(out);
}

static void test_raw_line(void **state)
{
    (void)state;
    const char *raw = "{\"type\":\"access\",\"status\":200}";
    capture_begin();
    lx_log_raw_line(raw, strlen(raw));
    lx_log_raw_line("{\"a\":1}xyz", 7); /* only n bytes */
    size_t n;
    char *out = capture_end(&n);
    assert_string_equal(out, "{\"type\":\"access\",\"status\":200}\n{\"a\":1}\n");
    free(out);
}

typedef struct {
    int n;
    int buffered;
} thread_arg_t;

static void *log_from_thread(void *p)
{
    thread_arg_t *arg = p;
    lx_log_set_buffered(arg->buffered);
    lx_log(LX_LOG_INFO, "from a thread", "\"n\":%d", arg->n);
    /* Flushes what a buffered thread still holds and frees the buffer: without
     * it LeakSanitizer reports the thread's buffer when the process exits. */
    lx_log_thread_done();
    return NULL;
}

static void test_thread_done_flushes_and_releases_buffer(void **state)
{
    (void)state;
    thread_arg_t args[2] = {{1, 0}, {2, 1}};
    capture_begin();
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, log_from_thread, &args[i]), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
    }
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 2);
    const char *nl = strchr(out, '\n');
    json_t *v = parse_line(out, (size_t)(nl - out) + 1);
    assert_int_equal(json_integer_value(json_object_get(v, "n")), 1);
    json_decref(v);
    v = parse_line(nl + 1, n - (size_t)(nl + 1 - out));
    assert_int_equal(json_integer_value(json_object_get(v, "n")), 2); /* the buffered one */
    json_decref(v);
    free(out);
}

static void test_thread_done_then_log_again(void **state)
{
    (void)state;
    /* The calling thread may keep logging after lx_log_thread_done. */
    capture_begin();
    lx_log(LX_LOG_INFO, "before", NULL);
    lx_log_thread_done();
    lx_log_thread_done(); /* twice is harmless */
    lx_log(LX_LOG_INFO, "after", NULL);
    size_t n;
    char *out = capture_end(&n);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "\"before\""));
    assert_non_null(strstr(out, "\"after\""));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_parse_accepts_every_name),
        cmocka_unit_test(test_level_parse_rejects_others),
        cmocka_unit_test(test_level_name_round_trips),
        cmocka_unit_test_setup_teardown(test_line_is_json_with_ts_level_msg_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_message_with_quotes_and_newlines_is_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_empty_fields_give_no_trailing_comma, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_format_producing_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_from_lx_buf_json_str_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_level_name_in_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_level_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_mode_batches_until_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_mode_flushes_when_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_done_flushes_and_releases_buffer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_thread_done_then_log_again, setup, teardown),
    };
    return cmocka_run_group_tests_name("core/log", tests, NULL, NULL);
}
