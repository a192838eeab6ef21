/* test_model_limit.c - unit tests for per-model overrides: subject keys and
 * texts (src/auth/subject.c), parsing and matching (src/auth/model_limit.c),
 * a request's sets built from them (lx_ai_model_scope, endpoint.c) and
 * admission over six subjects (allow.c, budget.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ai/handlers.h"
#include "auth/model_limit.h"
#include "auth/subject.h"

#define T0 INT64_C(1714557630000) /* 2024-05-01T10:00:30Z */

static void test_subject_text_and_parse(void **state)
{
    (void)state;
    char t[LX_SUBJECT_MAX];
    uint64_t k;
    lx_subject_text(t, 'k', 12, NULL, 0);
    assert_string_equal(t, "key:12");
    assert_int_equal(lx_subject_parse(t, &k), LX_OK);
    assert_true(k == lx_subject_key('k', 12, NULL, 0));
    lx_subject_text(t, 't', 3, "openai/gpt-4o", 13);
    assert_string_equal(t, "team:3@openai/gpt-4o");
    assert_int_equal(lx_subject_parse(t, &k), LX_OK);
    assert_true(k == lx_subject_key('t', 3, "openai/gpt-4o", 13));
    assert_true(k != lx_subject_key('k', 3, "openai/gpt-4o", 13)); /* kind */
    assert_true(k != lx_subject_key('t', 4, "openai/gpt-4o", 13)); /* owner */
    assert_true(k >> 56 == 'T');
    /* a name with '@' and ':' in it: split at the first '@' after the id */
    lx_subject_text(t, 'u', 7, "a@b:c", 5);
    assert_string_equal(t, "user:7@a@b:c");
    assert_int_equal(lx_subject_parse(t, &k), LX_OK);
    assert_true(k == lx_subject_key('u', 7, "a@b:c", 5));
    /* too long for the text: hashed, and the hash parses to the same key */
    char longname[200];
    memset(longname, 'm', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    lx_subject_text(t, 'k', 12, longname, strlen(longname));
    assert_true(strncmp(t, "key:12@#", 8) == 0);
    assert_int_equal(strlen(t), 8 + 14);
    assert_int_equal(lx_subject_parse(t, &k), LX_OK);
    assert_true(k == lx_subject_key('k', 12, longname, strlen(longname)));
    const char *bad[] = {"key",    "key:",   "key:x",   "key:0",    "car:1",
                         "key:1@", "key:1x", "key:1@#", "key:1@#zz"};
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++)
        assert_int_equal(lx_subject_parse(bad[i], &k), LX_ERROR);
}

static void test_build(void **state)
{
    (void)state;
    lx_model_limits_t ml;
    lx_model_limits_build(&ml,
                          "{\"gpt-4o\": {\"rpm\": 10, \"budget_usd\": 5}, \"x/y\": "
                          "{\"tpm\": 500}, \"cheap\": {\"budget_usd\": 0}}",
                          'k', 501, LX_PERIOD_MONTHLY);
    assert_int_equal(ml.n, 3);
    const lx_model_limit_t *e = &ml.v[0];
    assert_string_equal(e->name, "gpt-4o");
    assert_int_equal(e->rpm, 10);
    assert_string_equal(e->allow->subject, "key:501@gpt-4o");
    assert_int_equal(atomic_load(&e->allow->limit[LX_ALLOW_MIN]), 10);
    assert_int_equal(atomic_load(&e->allow->max_parallel), 0);
    assert_string_equal(e->spend->subject, "key:501@gpt-4o");
    assert_int_equal(atomic_load(&e->spend->budget), 5000000000LL);
    assert_int_equal(atomic_load(&e->spend->period), LX_PERIOD_MONTHLY);
    assert_ptr_equal(lx_spend_find("key:501@gpt-4o"), e->spend); /* the sync finds it */
    assert_int_equal(atomic_load(&ml.v[1].allow->limit[LX_ALLOW_TOK]), 500);
    assert_null(ml.v[2].allow); /* a budget only */
    assert_int_equal(atomic_load(&ml.v[2].spend->budget), 0);
    /* the owner's own slots are other slots */
    assert_ptr_not_equal(lx_allow_get_all('k', 501, 1, 0, 0, 0), e->allow);
    assert_ptr_not_equal(lx_spend_get('k', 501, -1, LX_PERIOD_TOTAL), e->spend);
    /* the same entry in the next snapshot: the same slots */
    lx_model_limits_t again;
    lx_model_limits_build(&again, "{\"gpt-4o\": {\"rpm\": 7}}", 'k', 501, LX_PERIOD_DAILY);
    assert_ptr_equal(again.v[0].allow, e->allow);
    assert_int_equal(atomic_load(&e->allow->limit[LX_ALLOW_MIN]), 7);
    assert_int_equal(atomic_load(&e->spend->budget), -1);
    lx_model_limits_free(&again);
    lx_model_limits_free(&ml);
    const char *nothing[] = {NULL, "", "{}", "[1]", "nonsense"};
    for (size_t i = 0; i < LX_ARRAY_LEN(nothing); i++) {
        lx_model_limits_build(&ml, nothing[i], 'k', 502, LX_PERIOD_TOTAL);
        assert_int_equal(ml.n, 0);
        lx_model_limits_free(&ml);
    }
}

static void test_match(void **state)
{
    (void)state;
    lx_model_limits_t ml;
    lx_model_limits_build(&ml,
                          "{\"gpt-4o\": {\"rpm\": 1}, \"openai/gpt-4o\": {\"rpm\": 2}, "
                          "\"smart\": {\"rpm\": 3}}",
                          'u', 77, LX_PERIOD_TOTAL);
    const lx_model_limit_t *e;
    /* sent as provider/model: the full name's entry before the public one */
    e = lx_model_limits_match(&ml, lx_str("openai/gpt-4o"), "openai/gpt-4o", "gpt-4o");
    assert_string_equal(e->name, "openai/gpt-4o");
    /* sent bare: the name sent first */
    e = lx_model_limits_match(&ml, lx_str("gpt-4o"), "openai/gpt-4o", "gpt-4o");
    assert_string_equal(e->name, "gpt-4o");
    /* another provider's gpt-4o: by its public name */
    e = lx_model_limits_match(&ml, lx_str("azure/gpt-4o"), "azure/gpt-4o", "gpt-4o");
    assert_string_equal(e->name, "gpt-4o");
    /* a group: by the name sent only */
    e = lx_model_limits_match(&ml, lx_str("smart"), NULL, NULL);
    assert_string_equal(e->name, "smart");
    assert_null(
        lx_model_limits_match(&ml, lx_str("gpt-4o-mini"), "openai/gpt-4o-mini", "gpt-4o-mini"));
    assert_null(lx_model_limits_match(&ml, lx_str("gpt"), NULL, NULL)); /* no prefix match */
    assert_null(lx_model_limits_match(NULL, lx_str("gpt-4o"), NULL, NULL));
    lx_model_limits_free(&ml);
}

/* The sets a request is built with, and admission over six subjects. */
static void test_scope_and_admit(void **state)
{
    (void)state;
    lx_allow_set_shared(false);
    lx_model_limits_t key_ml, team_ml;
    lx_model_limits_build(&key_ml, "{\"gpt-4o\": {\"rpm\": 2}}", 'k', 601, LX_PERIOD_TOTAL);
    lx_model_limits_build(&team_ml, "{\"openai/gpt-4o\": {\"rpm\": 5, \"budget_usd\": 1}}", 't',
                          602, LX_PERIOD_TOTAL);
    lx_provider_t prov = {.id = 1};
    lx_model_t m = {.provider = &prov, .public_name = "gpt-4o", .full_name = "openai/gpt-4o"};
    lx_resolved_t t = {.prov = &prov, .model = &m};
    lx_ai_auth_t a = {0};
    a.allow.s[0] = lx_allow_get_all('k', 601, 100, 0, 0, 0);
    a.spend.s[0] = lx_spend_get('k', 601, -1, LX_PERIOD_TOTAL);
    a.mls[0] = &key_ml;
    a.mls[2] = &team_ml;

    lx_ai_model_scope(&a, lx_str("openai/gpt-4o"), &t);
    assert_ptr_equal(a.mlim[0], &key_ml.v[0]); /* by public name */
    assert_null(a.mlim[1]);
    assert_ptr_equal(a.mlim[2], &team_ml.v[0]); /* by full name */
    assert_ptr_equal(a.allow.s[3], key_ml.v[0].allow);
    assert_null(a.allow.s[4]);
    assert_ptr_equal(a.allow.s[5], team_ml.v[0].allow);
    assert_ptr_equal(a.spend.s[5], team_ml.v[0].spend);

    /* two requests fit the key's model entry (rpm 2), the third is refused
     * by it (index 3: the key level's entry) and takes nothing */
    lx_allow_refusal_t r;
    for (int i = 0; i < 2; i++) {
        lx_allow_ticket_t tk = {.at_ms = T0, .tokens = 1};
        assert_true(lx_allow_admit(&a.allow, &tk, NULL, NULL, &r));
    }
    lx_allow_ticket_t tk = {.at_ms = T0, .tokens = 1};
    assert_false(lx_allow_admit(&a.allow, &tk, NULL, NULL, &r));
    assert_int_equal(r.idx, 3);
    assert_ptr_equal(r.who, key_ml.v[0].allow);
    assert_int_equal(r.limit, 2);
    lx_allow_view_t v;
    lx_allow_view(a.allow.s[0], LX_ALLOW_MIN, T0, &v);
    assert_int_equal(v.remaining, 98); /* the refused one gave back the key's */
    lx_allow_view(a.allow.s[5], LX_ALLOW_MIN, T0, &v);
    assert_int_equal(v.remaining, 3);

    /* the spend of a call goes to the team's entry; its budget refuses */
    lx_spend_add(&a.spend, 1.0);
    lx_budget_refusal_t br;
    assert_false(lx_budget_admit(&a.spend, T0, &br));
    assert_int_equal(br.idx, 5);
    assert_int_equal(lx_spend_known(a.spend.s[0], T0), 1000000000LL);

    /* another model: no entry, the sets keep the owner levels only */
    lx_model_t other = {.provider = &prov, .public_name = "o1", .full_name = "openai/o1"};
    t.model = &other;
    lx_ai_model_scope(&a, lx_str("openai/o1"), &t);
    for (int l = 0; l < LX_LEVELS; l++) {
        assert_null(a.mlim[l]);
        assert_null(a.allow.s[LX_LEVELS + l]);
        assert_null(a.spend.s[LX_LEVELS + l]);
    }
    assert_true(lx_budget_admit(&a.spend, T0, &br));
    lx_model_limits_free(&key_ml);
    lx_model_limits_free(&team_ml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_text_and_parse),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_scope_and_admit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
