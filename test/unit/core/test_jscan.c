/* test_jscan.c - unit tests for src/core/jscan.c: the validator on valid,
 * invalid and unsure corpora, a differential test against jansson
 * (lx_json_parse) over random mutations of sample bodies and random
 * documents, and the walkers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/jscan.h"
#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static lx_jscan_rc_t scan_n(const char *s, size_t n)
{
    /* A private copy, so that reading past n shows under ASan. */
    char *c = malloc(n ? n : 1);
    memcpy(c, s, n);
    lx_jscan_rc_t rc = lx_jscan_validate(c, n);
    free(c);
    return rc;
}

static bool jansson_ok(const char *s, size_t n)
{
    char err[200];
    json_t *v = lx_json_parse(s, n, LX_JSON_MAX_DEPTH, err, sizeof err);
    json_decref(v);
    return v != NULL;
}

static const char *rc_name(lx_jscan_rc_t rc)
{
    return rc == LX_JSCAN_OK ? "OK" : rc == LX_JSCAN_INVALID ? "INVALID" : "UNSURE";
}

/* Checks the scan's answer, and that jansson agrees with OK and INVALID. */
static void expect_n(const char *s, size_t n, lx_jscan_rc_t want)
{
    lx_jscan_rc_t rc = scan_n(s, n);
    if (rc != want)
        fail_msg("%s for '%.*s', expected %s", rc_name(rc), (int)n, s, rc_name(want));
    if (want != LX_JSCAN_UNSURE && jansson_ok(s, n) != (want == LX_JSCAN_OK))
        fail_msg("jansson disagrees with %s on '%.*s'", rc_name(want), (int)n, s);
}

static void expect(const char *s, lx_jscan_rc_t want)
{
    expect_n(s, strlen(s), want);
}

/* "[[[...]]]" (or objects) nested n deep. Caller frees. */
static char *nested(int n, bool objects)
{
    char *s = malloc((size_t)n * 6 + 8), *w = s;
    for (int i = 0; i < n; i++)
        w += sprintf(w, objects ? "{\"a\":" : "[");
    w += sprintf(w, "1");
    for (int i = 0; i < n; i++)
        *w++ = objects ? '}' : ']';
    *w = '\0';
    return s;
}

/* ------------------------------------------------------------------------ */
/* Corpora                                                                   */

static void test_valid(void **state)
{
    (void)state;
    static const char *docs[] = {
        "{}",
        "[]",
        " \t\r\n{ } \t\r\n",
        "[1,2,3]",
        "[0,-0,1,-1,10,123456789012345678,-123456789012345678]",
        "[0.5,-0.5,1.0,1e5,1E5,1e+5,1e-5,1.5e10,-1.5E-10,0e0,0.0e-0]",
        "[1e307,9.99e306,1e-400,1e-99999999,123.456e-300]",
        "[true,false,null]",
        "[\"\",\"a\",\"\\\"\",\"\\\\\",\"\\/\",\"\\b\\f\\n\\r\\t\"]",
        "[\"\\u0041\\u00e9\\u20AC\\uffff\\uD83D\\uDE00\\udbff\\udfff\"]",
        "[\"caf\xc3\xa9\",\"\xe2\x82\xac\",\"\xf0\x9f\x98\x80\",\"\xf4\x8f\xbf\xbf\"]",
        "[\"\xed\x9f\xbf\",\"\xee\x80\x80\",\"\xc2\x80\",\"\xe0\xa0\x80\",\"\xf0\x90\x80\x80\"]",
        "[\"\x7f\"]",
        "{\"a\":1,\"b\":[{\"a\":1,\"b\":2}],\"c\":{\"a\":{\"a\":null}}}",
        "{\"a\":1,\"A\":2,\"a \":3,\" a\":4,\"ab\":5,\"ba\":6}",
        "{\"\":1,\"x\":{\"\":2}}",
        "{\"a\\u0062\":1,\"ac\":2}",
        "{\"\\u00e9\":1,\"e\":2,\"\\u00e8\":3}",
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "[[],[[]],{},[{}],{\"a\":[]}]",
        "[{\"a\":1},{\"a\":1}]", /* the same key in sibling objects */
        "{\"a\":{\"b\":1},\"b\":{\"a\":1}}",
        "{\"k\":\"a long enough string to go through the eight-byte fast path and out\"}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_OK);
}

static void test_invalid_structure(void **state)
{
    (void)state;
    static const char *docs[] = {
        "",
        " ",
        "{",
        "[",
        "}",
        "]",
        "{]",
        "[}",
        "{\"a\":1",
        "{\"a\":1,",
        "{\"a\":}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{,}",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1,,2]",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{'a':1}",
        "{1:1}",
        "{null:1}",
        "[\"a\" \"b\"]",
        "{} {}",
        "{}x",
        "[]]",
        "\xef\xbb\xbf{}", /* a byte order mark */
        "[tru]",
        "[truex]",
        "[True]",
        "[nul]",
        "[NULL]",
        "[falsey]",
        "[true1]",
        "[undefined]",
        "[NaN]",
        "[Infinity]",
        "[-Infinity]",
        "[\x01]",
        "[\xc3\xa9]", /* UTF-8 outside a string */
        /* scalars at the top: jansson wants an object or an array */
        "1",
        "\"a\"",
        "true",
        "null",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_INVALID);
    /* NUL bytes, inside and outside strings */
    expect_n("[1]\0", 4, LX_JSCAN_INVALID);
    expect_n("[\"a\0b\"]", 7, LX_JSCAN_INVALID);
    expect_n("{\"a\0\":1}", 9, LX_JSCAN_INVALID);
    expect_n("\0[1]", 4, LX_JSCAN_INVALID);
}

static void test_invalid_numbers(void **state)
{
    (void)state;
    static const char *docs[] = {
        "[01]",    "[-01]",  "[00]",   "[1.]",   "[.5]",   "[-]",    "[-.5]",   "[+1]",  "[1e]",
        "[1e+]",   "[1E-]",  "[1.e5]", "[1.5.]", "[1..5]", "[0x10]", "[1_000]", "[--1]", "[1-2]",
        "[1e5e5]", "[1.5e]", "[-a]",   "[1 .5]", "[0.]",   "[- 1]",  "[1e 5]",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_INVALID);
}

static void test_invalid_strings(void **state)
{
    (void)state;
    static const char *docs[] = {
        "[\"abc]",
        "[\"abc\\\"]",
        "[\"\\x\"]",
        "[\"\\'\"]",
        "[\"\\a\"]",
        "[\"\\U0041\"]",
        "[\"\\u\"]",
        "[\"\\u12\"]",
        "[\"\\u12G4\"]",
        "[\"\\u 123\"]",
        "[\"\\",
        "[\"\\u00",
        /* lone or mismatched surrogate escapes */
        "[\"\\uD800\"]",
        "[\"\\uDBFF\"]",
        "[\"\\uDC00\"]",
        "[\"\\uDFFF\\uD800\"]",
        "[\"\\uD800\\u0041\"]",
        "[\"\\uD800\\uD800\"]",
        "[\"\\uD800x\"]",
        "[\"\\uD800\\n\"]",
        "[\"\\uD800\\uDC0\"]",
        /* raw control characters */
        "[\"a\nb\"]",
        "[\"a\tb\"]",
        "[\"\x01\"]",
        "[\"\x1f\"]",
        "{\"a\rb\":1}",
        /* bad UTF-8 */
        "[\"\x80\"]",
        "[\"\xbf\"]",
        "[\"\xc0\xaf\"]",                 /* overlong '/' */
        "[\"\xc1\xbf\"]",                 /* overlong */
        "[\"\xe0\x80\xaf\"]",             /* overlong 3-byte */
        "[\"\xe0\x9f\xbf\"]",             /* overlong 3-byte */
        "[\"\xf0\x80\x80\xaf\"]",         /* overlong 4-byte */
        "[\"\xf0\x8f\xbf\xbf\"]",         /* overlong 4-byte */
        "[\"\xed\xa0\x80\"]",             /* U+D800 encoded */
        "[\"\xed\xbf\xbf\"]",             /* U+DFFF encoded */
        "[\"\xed\xa0\xbd\xed\xb8\x80\"]", /* a CESU-8 surrogate pair */
        "[\"\xf4\x90\x80\x80\"]",         /* U+110000 */
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\xf8\x88\x80\x80\x80\"]",
        "[\"\xfe\"]",
        "[\"\xff\"]",
        "[\"\xc3\"]", /* truncated sequences */
        "[\"\xe2\x82\"]",
        "[\"\xf0\x9f\x98\"]",
        "[\"\xc3\x28\"]", /* bad continuation */
        "[\"\xe2\x28\xa1\"]",
        "[\"\xf0\x9f\x28\x80\"]",
        "[\"\xc3", /* running off the end */
        "[\"\xf0\x9f",
        /* the 8-byte fast path meets each class at each position */
        "[\"abcdefg\x01\"]",
        "[\"abcdefgh\x01xyz\"]",
        "[\"abcdefghijklmno\xff\"]",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_INVALID);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    static const char *docs[] = {
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"model\":\"x\",\"messages\":[],\"model\":\"y\"}",
        "{\"x\":{\"a\":1,\"a\":2}}",
        "[{\"a\":1,\"b\":{},\"a\":1}]",
        "{\"a\":{\"b\":{\"c\":1,\"c\":1}}}",
        "{\"\":1,\"\":2}",
        "{\"a\":1,\"\\u0061\":2}", /* the same key, escaped */
        "{\"\\u0061\":1,\"a\":2}",
        "{\"\\u0061\":1,\"\\u0061\":2}",
        "{\"a/b\":1,\"a\\/b\":2}",
        "{\"\xc3\xa9\":1,\"\\u00e9\":2}",
        "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}",
        "{\"a\\nb\":1,\"a\\u000ab\":2}",
        "{\"abcdefgh\":1,\"x\":{\"abcdefgh\":2},\"abcdefgh\":3}",
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_INVALID);
}

static void test_depth(void **state)
{
    (void)state;
    for (int objects = 0; objects < 2; objects++) {
        char *ok = nested(LX_JSON_MAX_DEPTH, objects);
        char *deep = nested(LX_JSON_MAX_DEPTH + 1, objects);
        expect(ok, LX_JSCAN_OK);
        expect(deep, LX_JSCAN_INVALID);
        free(ok);
        free(deep);
    }
    /* Deep empty containers count too. */
    char s[2 * (LX_JSON_MAX_DEPTH + 1) + 1];
    memset(s, '[', LX_JSON_MAX_DEPTH + 1);
    memset(s + LX_JSON_MAX_DEPTH + 1, ']', LX_JSON_MAX_DEPTH + 1);
    s[sizeof s - 1] = '\0';
    expect(s, LX_JSCAN_INVALID);
    expect(s + 1, LX_JSCAN_INVALID); /* unbalanced */
    s[2 * LX_JSON_MAX_DEPTH + 1] = '\0';
    expect(s + 1, LX_JSCAN_OK);
}

static void test_unsure(void **state)
{
    (void)state;
    static const char *docs[] = {
        "[\"\\u0000\"]", /* jansson refuses NUL without JSON_ALLOW_NUL */
        "{\"a\\u0000\":1}",
        "[1234567890123456789]", /* 19 digits: may overflow json_int_t */
        "[-1234567890123456789]",
        "[9223372036854775807]",
        "[9223372036854775808]",
        "[-9223372036854775809]",
        "[100000000000000000000000000000]",
        "[1e308]", /* may overflow a double */
        "[1e400]",
        "[-1e400]",
        "[1.5e99999999999]",
        "[123456789e300]",
        "[0.0000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000000000001]", /* over 100 bytes */
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++)
        expect(docs[i], LX_JSCAN_UNSURE);
    /* 18 digits are sure. */
    expect("[999999999999999999,-999999999999999999]", LX_JSCAN_OK);
}

/* Objects with many keys and many escaped keys: past the duplicate table the
 * scan is unsure, before it exact. */
static void test_many_keys(void **state)
{
    (void)state;
    char *s = malloc(64 * 1024);
    for (int nkeys = 100; nkeys <= 300; nkeys += 100) {
        char *w = s;
        w += sprintf(w, "{");
        for (int i = 0; i < nkeys; i++)
            w += sprintf(w, "%s\"key_%d\":%d", i ? "," : "", i, i);
        sprintf(w, "}");
        lx_jscan_rc_t rc = scan_n(s, strlen(s));
        assert_int_equal(rc, nkeys <= 128 ? LX_JSCAN_OK : LX_JSCAN_UNSURE);
        assert_true(jansson_ok(s, strlen(s)));
        /* The same with the first key repeated last. */
        sprintf(w, ",\"key_0\":1}");
        rc = scan_n(s, strlen(s));
        assert_int_equal(rc, nkeys < 128 ? LX_JSCAN_INVALID : LX_JSCAN_UNSURE);
    }
    /* Many small objects: the table is reused as objects close. */
    char *w = s;
    w += sprintf(w, "[");
    for (int i = 0; i < 1000; i++)
        w += sprintf(w, "%s{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":4}", i ? "," : "");
    sprintf(w, "]");
    expect(s, LX_JSCAN_OK);
    /* Escaped keys: exact up to a budget. */
    w = s;
    w += sprintf(w, "{");
    for (int i = 0; i < 40; i++)
        w += sprintf(w, "%s\"k\\u00e9%d\":1", i ? "," : "", i);
    sprintf(w, "}");
    expect(s, LX_JSCAN_UNSURE);
    free(s);
}

/* Every prefix of a valid document is invalid. */
static void test_truncated(void **state)
{
    (void)state;
    static const char *doc =
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \\\"q\\\"\"}]}],\"temperature\":0.5,"
        "\"max_tokens\":-12,\"stream\":true,\"x\":[null,false,1e-5]}";
    size_t n = strlen(doc);
    expect_n(doc, n, LX_JSCAN_OK);
    for (size_t k = 0; k < n; k++)
        expect_n(doc, k, LX_JSCAN_INVALID);
}

/* ------------------------------------------------------------------------ */
/* Differential test against jansson                                         */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static size_t pick(size_t n)
{
    return (size_t)(rnd() % n);
}

static const char *samples[] = {
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
    "terse.\"},{\"role\":\"user\",\"content\":\"Say hi\"}],\"temperature\":0.2,\"max_tokens\":64}",
    "{\"model\":\"openai/gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is "
    "this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0K\"}}]}"
    "]}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}],\"tools\":[{"
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\","
    "\"minimum\":1,\"maximum\":14}},\"required\":[\"city\"]}}}],\"tool_choice\":\"auto\"}",
    "{\"model\":\"m\",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
    "\"r\",\"schema\":{\"type\":\"object\"}}},\"messages\":[],\"max_completion_tokens\":1000,"
    "\"seed\":-42,\"logit_bias\":{\"50256\":-100},\"top_p\":1e-1,\"stop\":[\"\\n\\n\",\"END\"]}",
    "{\"mod\\u0065l\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xc3\xa9 \\u00e9 "
    "\xe2\x82\xac \xf0\x9f\x98\x80 \\ud83d\\ude00 \\\"quoted\\\" back\\\\slash \\/ \\t\"}],"
    "\"n\":1,\"user\":null,\"logprobs\":false}",
    "[1,-0,0.5,1e10,-2.5E-3,\"s\",true,false,null,[],{},[[{\"a\":[{\"b\":[]}]}]]]",
};

static const char *snippets[] = {
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "0",
    "1",
    "-",
    ".",
    "e",
    "E",
    "+",
    "t",
    "u",
    "n",
    "a",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\u00e9",
    "\\x",
    "\\u12",
    "1e400",
    "1e308",
    "12345678901234567890",
    "999999999999999999",
    "-0",
    "01",
    "1.",
    ".5",
    "[[[[",
    "]]]]",
    "true",
    "nul",
    "\"model\":1,",
    "\"a\":1,",
    "\"messages\":",
    "\xed\xa0\x80",
    "\xc0\xaf",
    "\xf4\x90\x80\x80",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xf0\x9f\x98\x80",
    "\x80",
    "\xff",
    "\x01",
    "\x7f",
    "\t",
    "\r",
};

static const unsigned char bytes[] = {'"',  '\\', '{',  '}',  '[',  ']',  ',',  ':',  '0',
                                      '1',  '9',  '-',  '.',  'e',  'E',  '+',  ' ',  '\n',
                                      't',  'u',  'n',  'f',  'a',  0x00, 0x1f, 0x7f, 0x80,
                                      0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff};

/* One random edit of s[0..*n) in place (cap bytes available). */
static void mutate(char *s, size_t *n, size_t cap)
{
    size_t at = *n ? pick(*n + 1) : 0;
    switch (pick(7)) {
    case 0: /* replace a byte */
        if (at < *n)
            s[at] = (char)bytes[pick(sizeof bytes)];
        break;
    case 1: /* insert a byte */
        if (*n + 1 <= cap) {
            memmove(s + at + 1, s + at, *n - at);
            s[at] = (char)bytes[pick(sizeof bytes)];
            (*n)++;
        }
        break;
    case 2: { /* insert a snippet */
        const char *t = snippets[pick(LX_ARRAY_LEN(snippets))];
        size_t k = strlen(t);
        if (*n + k <= cap) {
            memmove(s + at + k, s + at, *n - at);
            memcpy(s + at, t, k);
            *n += k;
        }
        break;
    }
    case 3: { /* delete a range */
        size_t k = 1 + pick(4);
        if (at + k <= *n) {
            memmove(s + at, s + at + k, *n - at - k);
            *n -= k;
        }
        break;
    }
    case 4: /* truncate */
        *n = at;
        break;
    case 5: { /* copy a slice elsewhere (duplicate keys, stray brackets) */
        if (*n == 0)
            break;
        size_t from = pick(*n), k = 1 + pick(LX_MIN(*n - from, (size_t)24));
        if (*n + k <= cap) {
            char tmp[24];
            memcpy(tmp, s + from, k);
            memmove(s + at + k, s + at, *n - at);
            memcpy(s + at, tmp, k);
            *n += k;
        }
        break;
    }
    default: /* swap two bytes */
        if (*n >= 2) {
            size_t b = pick(*n);
            at = pick(*n);
            char c = s[at];
            s[at] = s[b];
            s[b] = c;
        }
        break;
    }
}

typedef struct {
    int ok, invalid, unsure, jansson_ok;
} tally_t;

/* The contract: OK only if jansson accepts, INVALID only if it refuses. */
static void differ(const char *s, size_t n, tally_t *t)
{
    lx_jscan_rc_t rc = scan_n(s, n);
    bool jok = jansson_ok(s, n);
    if (rc == LX_JSCAN_OK && !jok)
        fail_msg("jscan OK, jansson refuses: '%.*s'", (int)n, s);
    if (rc == LX_JSCAN_INVALID && jok)
        fail_msg("jscan INVALID, jansson accepts: '%.*s'", (int)n, s);
    t->ok += rc == LX_JSCAN_OK;
    t->invalid += rc == LX_JSCAN_INVALID;
    t->unsure += rc == LX_JSCAN_UNSURE;
    t->jansson_ok += jok;
}

static void test_differential_mutations(void **state)
{
    (void)state;
    enum { ROUNDS = 6000, CAP = 2048 };
    char buf[CAP];
    tally_t t = {0};
    for (int r = 0; r < ROUNDS; r++) {
        const char *base = samples[pick(LX_ARRAY_LEN(samples))];
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int edits = 1 + (int)pick(3);
        for (int e = 0; e < edits; e++)
            mutate(buf, &n, CAP);
        differ(buf, n, &t);
    }
    print_message("# mutations: %d OK, %d INVALID, %d UNSURE (jansson accepted %d)\n", t.ok,
                  t.invalid, t.unsure, t.jansson_ok);
    /* The corpus must exercise both sides. */
    assert_true(t.ok > ROUNDS / 20);
    assert_true(t.invalid > ROUNDS / 4);
}

/* A random document: mostly valid, with a small chance of a bad token. */
static void gen_value(char *s, size_t *n, size_t cap, int depth)
{
    if (*n + 64 > cap)
        return;
    unsigned k = (unsigned)pick(depth > 6 ? 6 : 9);
    static const char *scalars[] = {"0",
                                    "-1",
                                    "12",
                                    "3.25",
                                    "-0.0e+1",
                                    "1e-7",
                                    "true",
                                    "false",
                                    "null",
                                    "\"\"",
                                    "\"a\"",
                                    "\"\\u00e9\"",
                                    "\"\\ud83d\\ude00\"",
                                    "\"x\\ny\"",
                                    "\"\xc3\xa9\"",
                                    "999999999999999999",
                                    "1e300"};
    static const char *keys[] = {"a",     "b",   "c",        "model",   "\\u0061",
                                 "a\\/b", "a/b", "\xc3\xa9", "\\u00e9", ""};
    if (pick(400) == 0) { /* a rare bad token */
        const char *t = snippets[pick(LX_ARRAY_LEN(snippets))];
        *n += (size_t)snprintf(s + *n, cap - *n, "%s", t);
        return;
    }
    if (k < 6) {
        const char *t = scalars[pick(LX_ARRAY_LEN(scalars))];
        *n += (size_t)snprintf(s + *n, cap - *n, "%s", t);
    } else if (k < 8) {
        size_t m = pick(5);
        s[(*n)++] = '[';
        for (size_t i = 0; i < m; i++) {
            if (i)
                s[(*n)++] = ',';
            gen_value(s, n, cap, depth + 1);
        }
        s[(*n)++] = ']';
    } else {
        size_t m = pick(5);
        s[(*n)++] = '{';
        for (size_t i = 0; i < m && *n + 64 <= cap; i++) {
            *n += (size_t)snprintf(s + *n, cap - *n, "%s\"%s\":", i ? ", " : "",
                                   keys[pick(LX_ARRAY_LEN(keys))]);
            gen_value(s, n, cap, depth + 1);
        }
        s[(*n)++] = '}';
    }
}

static void test_differential_random_documents(void **state)
{
    (void)state;
    enum { ROUNDS = 4000, CAP = 4096 };
    char buf[CAP];
    tally_t t = {0};
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = 0;
        buf[n++] = pick(2) ? '{' : '[';
        if (buf[0] == '{') {
            n += (size_t)snprintf(buf + n, CAP - n, "\"k\":");
            gen_value(buf, &n, CAP - 8, 1);
            buf[n++] = '}';
        } else {
            gen_value(buf, &n, CAP - 8, 1);
            buf[n++] = ']';
        }
        differ(buf, n, &t);
    }
    print_message("# random documents: %d OK, %d INVALID, %d UNSURE (jansson accepted %d)\n", t.ok,
                  t.invalid, t.unsure, t.jansson_ok);
    assert_true(t.ok > ROUNDS / 4);
    assert_true(t.invalid > ROUNDS / 20);
}

/* ------------------------------------------------------------------------ */
/* Skipping and walking                                                      */

/* The byte-by-byte skip the memchr one replaced. */
static size_t skip_string_ref(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return n;
}

static void test_skip_string_matches_reference(void **state)
{
    (void)state;
    static const char alphabet[] = {'"', '\\', 'a', 'b'};
    char s[16];
    for (int r = 0; r < 20000; r++) {
        size_t n = 1 + pick(sizeof s - 1);
        s[0] = '"';
        for (size_t i = 1; i < n; i++)
            s[i] = alphabet[pick(sizeof alphabet)];
        assert_int_equal(lx_jscan_skip_string(s, n, 0), skip_string_ref(s, n, 0));
    }
}

/* The index just after the text t, found in doc. */
static size_t end_of(const char *doc, const char *t)
{
    return (size_t)(strstr(doc, t) - doc) + strlen(t);
}

static void test_skip_value(void **state)
{
    (void)state;
    static const char doc[] = "{\"a\":[1,{\"b\":\"]}\"}],\"c\":\"x\\\"y\",\"d\":-12.5e3 }";
    size_t n = sizeof doc - 1, arr = (size_t)(strchr(doc, '[') - doc);
    size_t str = end_of(doc, "\"c\":"), num = end_of(doc, "\"d\":");
    assert_int_equal(lx_jscan_skip_value(doc, n, 0), n);
    assert_int_equal(lx_jscan_skip_value(doc, n, arr), end_of(doc, "\"}]"));
    assert_int_equal(lx_jscan_skip_value(doc, n, str), end_of(doc, "y\""));
    assert_int_equal(lx_jscan_skip_value(doc, n, num), end_of(doc, "e3"));
    assert_int_equal(lx_jscan_skip_value(doc, arr + 4, arr), arr + 4); /* truncated */
    assert_int_equal(lx_jscan_skip_value(doc, n, n), n);
    assert_int_equal(lx_jscan_ws(" \t\r\nx", 5, 0), 4);
    assert_int_equal(lx_jscan_ws("   ", 3, 1), 3);
}

static lx_str_t str_of(const char *s)
{
    return (lx_str_t){s, strlen(s)};
}

static void test_walk_object(void **state)
{
    (void)state;
    static const char doc[] =
        " { \"a\" : 1 , \"b\\u0063\":[1, 2] ,\"\":{\"x\":\"y\"},\"t\":true } ";
    assert_int_equal(lx_jscan_validate(doc, sizeof doc - 1), LX_JSCAN_OK);
    lx_jscan_iter_t it;
    lx_jscan_member_t m;
    assert_true(lx_jscan_obj_begin(&it, str_of(doc)));
    assert_false(lx_jscan_arr_begin(&it, str_of(doc)));
    assert_true(lx_jscan_obj_begin(&it, str_of(doc)));

    assert_true(lx_jscan_obj_next(&it, &m));
    assert_int_equal(m.key.n, 1);
    assert_memory_equal(m.key.p, "a", 1);
    assert_false(m.key_esc);
    assert_true(lx_jscan_key_is(&m, "a"));
    assert_false(lx_jscan_key_is(&m, "ab"));
    assert_int_equal(m.val.n, 1);
    int64_t v = 0;
    assert_true(lx_jscan_int(m.val, &v));
    assert_int_equal(v, 1);

    assert_true(lx_jscan_obj_next(&it, &m));
    assert_true(m.key_esc);
    assert_true(lx_jscan_key_is(&m, "bc"));
    assert_false(lx_jscan_key_is(&m, "b"));
    assert_false(lx_jscan_key_is(&m, "bcd"));
    assert_int_equal(m.val.n, 6);
    assert_memory_equal(m.val.p, "[1, 2]", 6);
    lx_jscan_iter_t ai;
    lx_str_t e;
    assert_true(lx_jscan_arr_begin(&ai, m.val));
    assert_true(lx_jscan_arr_next(&ai, &e));
    assert_true(lx_jscan_int(e, &v) && v == 1);
    assert_true(lx_jscan_arr_next(&ai, &e));
    assert_true(lx_jscan_int(e, &v) && v == 2);
    assert_false(lx_jscan_arr_next(&ai, &e));
    assert_false(lx_jscan_arr_next(&ai, &e));

    assert_true(lx_jscan_obj_next(&it, &m));
    assert_int_equal(m.key.n, 0);
    assert_true(lx_jscan_key_is(&m, ""));
    lx_jscan_iter_t in;
    lx_jscan_member_t im;
    assert_true(lx_jscan_obj_begin(&in, m.val));
    assert_true(lx_jscan_obj_next(&in, &im));
    assert_true(lx_jscan_str_is(im.val, "y"));
    assert_false(lx_jscan_obj_next(&in, &im));

    assert_true(lx_jscan_obj_next(&it, &m));
    assert_true(lx_jscan_is_true(m.val));
    assert_false(lx_jscan_obj_next(&it, &m));
    assert_false(lx_jscan_obj_next(&it, &m));

    /* Empty containers. */
    assert_true(lx_jscan_obj_begin(&it, str_of("{ }")));
    assert_false(lx_jscan_obj_next(&it, &m));
    assert_true(lx_jscan_arr_begin(&ai, str_of("[ ]")));
    assert_false(lx_jscan_arr_next(&ai, &e));
}

/* The walkers never loop or read past the end on text that was not
 * validated. */
static void test_walk_unvalidated(void **state)
{
    (void)state;
    static const char *docs[] = {"{", "{\"a", "{\"a\"", "{\"a\":", "{\"a\":1,", "{]",       "{,,}",
                                 "[", "[1,",  "[}",     "[,,]",    "[1 2}",     "{\"a\":[}"};
    for (size_t i = 0; i < LX_ARRAY_LEN(docs); i++) {
        lx_jscan_iter_t it;
        lx_jscan_member_t m;
        lx_str_t e;
        lx_str_t d = str_of(docs[i]);
        int steps = 0;
        if (lx_jscan_obj_begin(&it, d))
            while (lx_jscan_obj_next(&it, &m))
                assert_true(++steps < 10);
        if (lx_jscan_arr_begin(&it, d))
            while (lx_jscan_arr_next(&it, &e))
                assert_true(++steps < 10);
    }
}

static void test_strings_and_scalars(void **state)
{
    (void)state;
    lx_str_t raw;
    assert_true(lx_jscan_str_raw(str_of("\"gpt-4o\""), &raw));
    assert_int_equal(raw.n, 6);
    assert_memory_equal(raw.p, "gpt-4o", 6);
    assert_true(lx_jscan_str_raw(str_of("\"\""), &raw) && raw.n == 0);
    assert_false(lx_jscan_str_raw(str_of("\"a\\/b\""), &raw));
    assert_false(lx_jscan_str_raw(str_of("12"), &raw));

    assert_true(lx_jscan_str_is(str_of("\"image_url\""), "image_url"));
    assert_true(lx_jscan_str_is(str_of("\"image\\u005furl\""), "image_url"));
    assert_true(lx_jscan_str_is(str_of("\"\\u0069mage_url\""), "image_url"));
    assert_false(lx_jscan_str_is(str_of("\"image_url \""), "image_url"));
    assert_false(lx_jscan_str_is(str_of("\"image_ur\""), "image_url"));
    assert_false(lx_jscan_str_is(str_of("image_url"), "image_url"));
    assert_true(lx_jscan_str_is(str_of("\"caf\\u00e9\""), "caf\xc3\xa9"));
    assert_true(lx_jscan_str_is(str_of("\"\\ud83d\\ude00\""), "\xf0\x9f\x98\x80"));
    assert_true(lx_jscan_str_is(str_of("\"\\b\\f\\n\\r\\t\\\"\\\\\\/\""), "\b\f\n\r\t\"\\/"));
    assert_false(lx_jscan_str_is(str_of("\"\\u00e9\""), "e"));

    assert_true(lx_jscan_is_true(str_of("true")));
    assert_false(lx_jscan_is_true(str_of("\"true\"")));
    assert_false(lx_jscan_is_true(str_of("false")));
    assert_false(lx_jscan_is_true(str_of("1")));

    int64_t v = 7;
    assert_true(lx_jscan_int(str_of("0"), &v) && v == 0);
    assert_true(lx_jscan_int(str_of("-0"), &v) && v == 0);
    assert_true(lx_jscan_int(str_of("-42"), &v) && v == -42);
    assert_true(lx_jscan_int(str_of("9223372036854775807"), &v) && v == INT64_MAX);
    assert_true(lx_jscan_int(str_of("-9223372036854775808"), &v) && v == INT64_MIN);
    assert_false(lx_jscan_int(str_of("9223372036854775808"), &v));
    assert_false(lx_jscan_int(str_of("-9223372036854775809"), &v));
    assert_false(lx_jscan_int(str_of("1.0"), &v));
    assert_false(lx_jscan_int(str_of("1e3"), &v));
    assert_false(lx_jscan_int(str_of("-"), &v));
    assert_false(lx_jscan_int(str_of(""), &v));
    assert_false(lx_jscan_int(str_of("\"1\""), &v));
    assert_false(lx_jscan_int(str_of("true"), &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid_structure),
        cmocka_unit_test(test_invalid_numbers),
        cmocka_unit_test(test_invalid_strings),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_unsure),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_differential_mutations),
        cmocka_unit_test(test_differential_random_documents),
        cmocka_unit_test(test_skip_string_matches_reference),
        cmocka_unit_test(test_skip_value),
        cmocka_unit_test(test_walk_object),
        cmocka_unit_test(test_walk_unvalidated),
        cmocka_unit_test(test_strings_and_scalars),
    };
    return cmocka_run_group_tests_name("core/jscan", tests, NULL, NULL);
}
