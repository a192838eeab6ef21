/* test_framing.c - unit tests for src/http/framing.c: what request framing
 * it accepts (pipelined requests, bodies, chunks, split at any byte) and
 * every smuggling shape it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/framing.h"

#include <stdio.h>
#include <string.h>

/* Feeds s whole, and again one byte at a time: both must agree. */
static int feed(const char *s, lx_framing_t *out)
{
    lx_framing_t a, b;
    lx_framing_init(&a);
    lx_framing_init(&b);
    int ra = lx_framing_feed(&a, s, strlen(s));
    int rb = LX_OK;
    for (size_t i = 0; s[i] && rb == LX_OK; i++)
        rb = lx_framing_feed(&b, s + i, 1);
    assert_int_equal(ra, rb);
    if (out)
        *out = a;
    return ra;
}

static void refused(const char *s, lx_err_t err, const char *why_part)
{
    lx_framing_t f;
    assert_int_equal(feed(s, &f), LX_ERROR);
    assert_int_equal(f.err, err);
    assert_non_null(strstr(f.why, why_part));
    /* and it stays refused */
    assert_int_equal(lx_framing_feed(&f, "GET / HTTP/1.1\r\n\r\n", 18), LX_ERROR);
}

static void accepts_pipelined_requests_with_bodies(void **state)
{
    (void)state;
    lx_framing_t f;
    const char *s = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    "\r\n" /* an empty line between requests is allowed */
                    "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\n"
                    "content-length: 5\r\n\r\nhello"
                    "POST /x HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                    "5\r\nhello\r\n0000000000000010\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n"
                    "GET / HTTP/1.0\r\nX: \x80\xff obs-text is fine\r\n\r\n";
    assert_int_equal(feed(s, &f), LX_OK);
    assert_true(lx_framing_idle(&f));
}

static void a_body_is_skipped_not_parsed(void **state)
{
    (void)state;
    lx_framing_t f;
    /* the body holds what would be a malformed head */
    assert_int_equal(feed("POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\n\r\n :\x01\r\n", &f), LX_OK);
    assert_true(lx_framing_idle(&f));
    assert_int_equal(feed("POST / HTTP/1.1\r\nContent-Length: 7\r\n\r\nabc", &f), LX_OK);
    assert_false(lx_framing_idle(&f));
}

static void refuses_transfer_encodings_it_cannot_frame(void **state)
{
    (void)state;
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", LX_E_NOT_IMPLEMENTED,
            "Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", LX_E_NOT_IMPLEMENTED,
            "Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunkedx\r\n\r\n", LX_E_NOT_IMPLEMENTED,
            "Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunk\r\n\r\n", LX_E_NOT_IMPLEMENTED,
            "Transfer-Encoding");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            LX_E_NOT_IMPLEMENTED, "twice");
    refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            LX_E_BAD_REQUEST, "both");
    refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", LX_E_BAD_REQUEST, "1.0");
}

static void refuses_bad_content_lengths(void **state)
{
    (void)state;
    refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", LX_E_BAD_REQUEST,
            "conflicting");
    const char *bad[] = {"-1", "+5", "0x10", "a, b", "1, 1", "5 5", "", "1.0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char req[128];
        snprintf(req, sizeof req, "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        refused(req, LX_E_BAD_REQUEST, "Content-Length");
    }
    refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", LX_E_BAD_REQUEST,
            "too large");
}

static void refuses_malformed_header_lines(void **state)
{
    (void)state;
    refused("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", LX_E_BAD_REQUEST, "colon");
    refused("GET / HTTP/1.1\r\nX-A: 1\r\n\tfolded\r\n\r\n", LX_E_BAD_REQUEST, "obs-fold");
    refused("GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", LX_E_BAD_REQUEST, "obs-fold");
    refused("GET / HTTP/1.1\r\n: empty\r\n\r\n", LX_E_BAD_REQUEST, "empty name");
    refused("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", LX_E_BAD_REQUEST, "whitespace");
    refused("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", LX_E_BAD_REQUEST, "bare CR");
    refused("GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", LX_E_BAD_REQUEST, "control");
    refused("GET / HTTP/1.1\r\nContent-Length: 1\x01\r\n\r\n", LX_E_BAD_REQUEST, "control");
    refused("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\x7f\r\n\r\n", LX_E_BAD_REQUEST,
            "control");
    lx_framing_t f;
    lx_framing_init(&f);
    static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    assert_int_equal(lx_framing_feed(&f, nul, sizeof nul - 1), LX_ERROR);
    assert_non_null(strstr(f.why, "control"));
    refused("GET / HTTP/1.1\nHost: x\r\n\r\n", LX_E_BAD_REQUEST, "request line");
    refused("GET / HTTP/2.0\r\n\r\n", LX_E_BAD_REQUEST, "version");
    refused("GET /a b HTTP/1.1\r\n\r\n", LX_E_BAD_REQUEST, "version");
    refused("G(T / HTTP/1.1\r\n\r\n", LX_E_BAD_REQUEST, "request line");
}

static void refuses_bad_chunks(void **state)
{
    (void)state;
    const char *h = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    char req[256];
    /* 17 hex digits: would wrap a 64-bit size around to 5 */
    snprintf(req, sizeof req, "%s10000000000000005\r\nhello\r\n0\r\n\r\n", h);
    refused(req, LX_E_BAD_REQUEST, "too large");
    snprintf(req, sizeof req, "%s5;ext=1\r\nhello\r\n0\r\n\r\n", h);
    refused(req, LX_E_BAD_REQUEST, "chunk size");
    snprintf(req, sizeof req, "%s\r\nhello\r\n0\r\n\r\n", h);
    refused(req, LX_E_BAD_REQUEST, "chunk size");
    snprintf(req, sizeof req, "%s3\r\nhello\r\n0\r\n\r\n", h);
    refused(req, LX_E_BAD_REQUEST, "longer");
}

static void remembers_where_requests_end(void **state)
{
    (void)state;
    lx_framing_t f;
    lx_framing_init(&f);
    const char *get = "GET / HTTP/1.1\r\n\r\n"; /* 18 bytes */
    const char *post = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
    assert_int_equal(lx_framing_feed(&f, get, 18), LX_OK);
    assert_int_equal(lx_framing_feed(&f, post, strlen(post)), LX_OK);
    assert_int_equal(lx_framing_feed(&f, "\r\nGET / HT", 10), LX_OK);
    assert_int_equal(lx_framing_end_after(&f, 0), 18);
    assert_int_equal(lx_framing_end_after(&f, 18), 18 + strlen(post));
    assert_true(lx_framing_in_head(&f));
    assert_int_equal(lx_framing_head_start(&f), 18 + strlen(post) + 2);
    assert_int_equal(lx_framing_end_after(&f, 18 + strlen(post)), UINT64_MAX);
    /* only the first 16 ends not yet asked for are kept */
    for (int i = 0; i < 20; i++)
        assert_int_equal(lx_framing_feed(&f, i == 0 ? "TP/1.1\r\n\r\n" : get, i == 0 ? 10 : 18),
                         LX_OK);
    uint64_t at = 18 + strlen(post) + 2 + 18;
    assert_int_equal(lx_framing_end_after(&f, 0), at);
    assert_int_equal(lx_framing_end_after(&f, at + 14 * 18), at + 15 * 18);
    assert_int_equal(lx_framing_end_after(&f, at + 15 * 18), UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_pipelined_requests_with_bodies),
        cmocka_unit_test(a_body_is_skipped_not_parsed),
        cmocka_unit_test(refuses_transfer_encodings_it_cannot_frame),
        cmocka_unit_test(refuses_bad_content_lengths),
        cmocka_unit_test(refuses_malformed_header_lines),
        cmocka_unit_test(refuses_bad_chunks),
        cmocka_unit_test(remembers_where_requests_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
