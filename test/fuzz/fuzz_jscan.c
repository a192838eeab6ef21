/* fuzz_jscan.c - the allocation-free JSON scanner (src/core/jscan.c) and the
 * byte-level body edits built on it (src/ai/body.c).
 *
 * Beyond "no crash", it checks the scanner's contract against jansson:
 * LX_JSCAN_OK must be a document lx_json_parse accepts, LX_JSCAN_INVALID one
 * it refuses; and every edit of an accepted object must still be one. */
#include "ai/body.h"
#include "core/jscan.h"
#include "core/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(lx_str_t v, int depth)
{
    lx_jscan_iter_t it;
    if (depth > LX_JSON_MAX_DEPTH + 2)
        abort(); /* the validator limits depth */
    if (lx_jscan_obj_begin(&it, v)) {
        lx_jscan_member_t m;
        while (lx_jscan_obj_next(&it, &m)) {
            (void)lx_jscan_key_is(&m, "model");
            walk(m.val, depth + 1);
        }
    } else if (lx_jscan_arr_begin(&it, v)) {
        lx_str_t e;
        while (lx_jscan_arr_next(&it, &e))
            walk(e, depth + 1);
    } else {
        lx_str_t raw;
        int64_t i;
        (void)lx_jscan_str_is(v, "user");
        (void)lx_jscan_str_raw(v, &raw);
        (void)lx_jscan_is_true(v);
        (void)lx_jscan_int(v, &i);
    }
}

static bool jansson_ok(const char *p, size_t n)
{
    char err[200];
    json_t *j = lx_json_parse(p, n, LX_JSON_MAX_DEPTH, err, sizeof err);
    json_decref(j);
    return j != NULL;
}

static void check_edit(const lx_buf_t *b, const char *what)
{
    if (lx_jscan_validate(b->p, b->n) == LX_JSCAN_INVALID && !jansson_ok(b->p, b->n)) {
        fprintf(stderr, "lx_body_%s made invalid JSON: %.*s\n", what, (int)b->n, b->p);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    /* The skip functions serve unvalidated text: they must stay inside it. */
    size_t i = lx_jscan_ws(p, size, 0);
    if (i < size) {
        size_t e = lx_jscan_skip_value(p, size, i);
        if (e > size)
            abort();
        if (p[i] == '"' && lx_jscan_skip_string(p, size, i) > size)
            abort();
    }

    lx_jscan_rc_t rc = lx_jscan_validate(p, size);
    if (rc == LX_JSCAN_UNSURE)
        return 0;
    bool jok = jansson_ok(p, size);
    if ((rc == LX_JSCAN_OK) != jok) {
        fprintf(stderr, "jscan says %s, jansson %s\n", rc == LX_JSCAN_OK ? "OK" : "INVALID",
                jok ? "accepts" : "refuses");
        abort();
    }
    if (rc != LX_JSCAN_OK)
        return 0;
    walk((lx_str_t){p, size}, 0);
    if (p[lx_jscan_ws(p, size, 0)] != '{')
        return 0;

    /* body.c works on validated objects. */
    size_t vs, ve;
    if (lx_body_find(p, size, "model", &vs, &ve) == LX_OK && (vs > ve || ve > size))
        abort();
    static const char *const keys[] = {"id", "model", "usage", "choices"};
    size_t kvs[4], kve[4];
    if (!lx_body_scan(p, size, keys, 4, kvs, kve)) {
        fprintf(stderr, "lx_body_scan refused a valid object\n");
        abort();
    }
    lx_buf_t b;
    lx_buf_init(&b, 64);
    lx_body_set_model(&b, p, size, "m\"x");
    check_edit(&b, "set_model");
    lx_buf_reset(&b);
    lx_body_set_usage(&b, p, size);
    check_edit(&b, "set_usage");
    lx_buf_reset(&b);
    lx_body_set(&b, p, size, "stream", "true", 4);
    check_edit(&b, "set");
    lx_buf_free(&b);
    return 0;
}
