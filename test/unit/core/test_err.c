/* test_err.c - unit tests for src/core/err.c: the reason table and the
 * upstream status mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/common.h"
#include "core/err.h"

static bool is_machine_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static void test_table_is_complete(void **state)
{
    (void)state;
    for (int e = 0; e < LX_E__COUNT; e++) {
        const lx_err_info_t *i = lx_err_info((lx_err_t)e);
        assert_non_null(i);
        if (!is_machine_name(i->name))
            fail_msg("lx_err_t %d: missing or malformed name", e);
        if (i->status < 100 || i->status > 599)
            fail_msg("%s: status %d is not an HTTP status", i->name, i->status);
        if (e != LX_E_NONE && i->status < 400)
            fail_msg("%s: an error must have a 4xx/5xx status, got %d", i->name, i->status);
        assert_non_null(i->openai_type);
        assert_non_null(i->anthropic_type);
        assert_non_null(i->message);
        assert_true(i->message[0] != '\0');
    }
    assert_int_equal(lx_err_info(LX_E_NONE)->status, 200);
}

static void test_names_are_unique(void **state)
{
    (void)state;
    for (int a = 0; a < LX_E__COUNT; a++)
        for (int b = a + 1; b < LX_E__COUNT; b++)
            if (strcmp(lx_err_info((lx_err_t)a)->name, lx_err_info((lx_err_t)b)->name) == 0)
                fail_msg("errors %d and %d share the name %s", a, b,
                         lx_err_info((lx_err_t)a)->name);
}

static void test_wire_types_are_known(void **state)
{
    (void)state;
    /* The error.type strings that OpenAI and Anthropic clients understand
     * (OpenAI answers a spent quota with 429 insufficient_quota). */
    static const char *const openai[] = {
        "invalid_request_error", "authentication_error", "permission_error",  "not_found_error",
        "rate_limit_error",      "server_error",         "insufficient_quota"};
    static const char *const anthropic[] = {
        "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
        "request_too_large",     "rate_limit_error",     "api_error",        "overloaded_error"};
    for (int e = 0; e < LX_E__COUNT; e++) {
        const lx_err_info_t *i = lx_err_info((lx_err_t)e);
        /* "ok" and client_gone never reach a client. */
        if (e == LX_E_NONE || e == LX_E_CLIENT_GONE)
            continue;
        if (!in_list(i->openai_type, openai, LX_ARRAY_LEN(openai)))
            fail_msg("%s: unknown openai type '%s'", i->name, i->openai_type);
        if (!in_list(i->anthropic_type, anthropic, LX_ARRAY_LEN(anthropic)))
            fail_msg("%s: unknown anthropic type '%s'", i->name, i->anthropic_type);
        /* 5xx are server-side types, 4xx never are; 501 answers what the
         * client sent (an unknown method or transfer coding). */
        bool server = strcmp(i->openai_type, "server_error") == 0;
        assert_int_equal(server, i->status >= 500 && i->status != 501);
    }
}

static void test_specific_entries(void **state)
{
    (void)state;
    static const struct {
        lx_err_t e;
        const char *name;
        int status;
    } want[] = {
        {LX_E_NONE, "ok", 200},
        {LX_E_BAD_REQUEST, "bad_request", 400},
        {LX_E_INVALID_JSON, "invalid_json", 400},
        {LX_E_MISSING_FIELD, "missing_field", 400},
        {LX_E_INVALID_TYPE, "invalid_type", 400},
        {LX_E_UNAUTHORIZED, "invalid_api_key", 401},
        {LX_E_FORBIDDEN, "forbidden", 403},
        {LX_E_NOT_FOUND, "not_found", 404},
        {LX_E_MODEL_NOT_FOUND, "model_not_found", 404},
        {LX_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
        {LX_E_NOT_IMPLEMENTED, "not_implemented", 501},
        {LX_E_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
        {LX_E_REQUEST_TIMEOUT, "request_timeout", 408},
        {LX_E_BODY_TOO_LARGE, "request_too_large", 413},
        {LX_E_HEADERS_TOO_LARGE, "headers_too_large", 431},
        {LX_E_RATE_LIMITED, "rate_limit_exceeded", 429},
        {LX_E_INTERNAL, "internal_error", 500},
        {LX_E_UPSTREAM, "upstream_error", 502},
        {LX_E_UPSTREAM_TIMEOUT, "upstream_timeout", 504},
        {LX_E_UNAVAILABLE, "unavailable", 503},
        {LX_E_SHUTTING_DOWN, "shutting_down", 503},
        {LX_E_CLIENT_GONE, "client_gone", 499},
        {LX_E_CONFLICT, "conflict", 409},
        {LX_E_BUDGET_EXCEEDED, "budget_exceeded", 429},
    };
    assert_int_equal(LX_ARRAY_LEN(want), LX_E__COUNT);
    for (size_t k = 0; k < LX_ARRAY_LEN(want); k++) {
        const lx_err_info_t *i = lx_err_info(want[k].e);
        assert_string_equal(i->name, want[k].name);
        assert_int_equal(i->status, want[k].status);
    }
    assert_string_equal(lx_err_info(LX_E_UNAUTHORIZED)->anthropic_type, "authentication_error");
    assert_string_equal(lx_err_info(LX_E_BUDGET_EXCEEDED)->openai_type, "insufficient_quota");
    assert_string_equal(lx_err_info(LX_E_BUDGET_EXCEEDED)->anthropic_type, "rate_limit_error");
    assert_string_equal(lx_err_info(LX_E_RATE_LIMITED)->openai_type, "rate_limit_error");
    assert_string_equal(lx_err_info(LX_E_UNAVAILABLE)->anthropic_type, "overloaded_error");
    assert_string_equal(lx_err_info(LX_E_MODEL_NOT_FOUND)->anthropic_type, "not_found_error");
}

static void test_out_of_range_maps_to_internal(void **state)
{
    (void)state;
    const lx_err_info_t *internal = lx_err_info(LX_E_INTERNAL);
    assert_ptr_equal(lx_err_info(LX_E__COUNT), internal);
    assert_ptr_equal(lx_err_info((lx_err_t)(LX_E__COUNT + 100)), internal);
    assert_ptr_equal(lx_err_info((lx_err_t)-1), internal);
}

static void test_from_status_mapping(void **state)
{
    (void)state;
    static const struct {
        int status;
        lx_err_t want;
    } cases[] = {
        {400, LX_E_BAD_REQUEST},      {422, LX_E_BAD_REQUEST},  {401, LX_E_UNAUTHORIZED},
        {403, LX_E_FORBIDDEN},        {404, LX_E_NOT_FOUND},    {408, LX_E_REQUEST_TIMEOUT},
        {413, LX_E_BODY_TOO_LARGE},   {429, LX_E_RATE_LIMITED}, {503, LX_E_UNAVAILABLE},
        {529, LX_E_UNAVAILABLE}, /* Anthropic "overloaded" */
        {504, LX_E_UPSTREAM_TIMEOUT}, {500, LX_E_UPSTREAM},     {502, LX_E_UPSTREAM},
        {501, LX_E_UPSTREAM},         {599, LX_E_UPSTREAM},     {409, LX_E_BAD_REQUEST},
        {418, LX_E_BAD_REQUEST},      {499, LX_E_BAD_REQUEST},
    };
    for (size_t k = 0; k < LX_ARRAY_LEN(cases); k++) {
        lx_err_t got = lx_err_from_status(cases[k].status);
        if (got != cases[k].want)
            fail_msg("status %d: got %s, want %s", cases[k].status, lx_err_info(got)->name,
                     lx_err_info(cases[k].want)->name);
    }
}

static void test_from_status_keeps_the_status(void **state)
{
    (void)state;
    /* For the statuses llmux has a reason for, mapping an upstream status and
     * replying with that reason gives the client the same status back. */
    static const int same[] = {400, 401, 403, 404, 408, 413, 429, 503, 504};
    for (size_t k = 0; k < LX_ARRAY_LEN(same); k++)
        assert_int_equal(lx_err_info(lx_err_from_status(same[k]))->status, same[k]);
    /* Every 4xx/5xx maps to a reason that is itself an error. */
    for (int s = 400; s < 600; s++) {
        lx_err_t e = lx_err_from_status(s);
        assert_true(e != LX_E_NONE);
        assert_true(e < LX_E__COUNT);
        assert_true(lx_err_info(e)->status >= 400);
        assert_int_equal(lx_err_info(e)->status >= 500, s >= 500);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_names_are_unique),
        cmocka_unit_test(test_wire_types_are_known),
        cmocka_unit_test(test_specific_entries),
        cmocka_unit_test(test_out_of_range_maps_to_internal),
        cmocka_unit_test(test_from_status_mapping),
        cmocka_unit_test(test_from_status_keeps_the_status),
    };
    return cmocka_run_group_tests_name("core/err", tests, NULL, NULL);
}
