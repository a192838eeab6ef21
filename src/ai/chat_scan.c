/* chat_scan.c - a chat request's fields from its bytes or from its tree
 * (see chat_scan.h). Both readers must agree on every body the scan
 * accepts; test/unit/ai/test_chat_scan.c holds them to it. */
#include "ai/chat_scan.h"
#include "ai/adapter.h"
#include "ai/catalog.h"
#include "core/jscan.h"
#include "core/json.h"

#include <string.h>

static bool tokens_in_range(int64_t v)
{
    return v >= 1 && v <= LX_TOKENS_MAX;
}

/* The first of the two limits that is set (not null) but out of bounds. */
static const char *bad_limit(bool mct_bad, bool mt_bad)
{
    return mct_bad ? "max_completion_tokens" : mt_bad ? "max_tokens" : NULL;
}

/* ------------------------------------------------------------------------ */
/* From the bytes                                                            */

/* A limit's value text: set and not an integer in range. */
static bool limit_bad(lx_str_t v, bool is_int, int64_t n)
{
    return !(v.n == 4 && memcmp(v.p, "null", 4) == 0) && !(is_int && tokens_in_range(n));
}

/* obj[key] as a view, if obj is an object that has it. */
static bool member(lx_str_t obj, const char *key, lx_str_t *val)
{
    lx_jscan_iter_t it;
    lx_jscan_member_t m;
    if (!lx_jscan_obj_begin(&it, obj))
        return false;
    while (lx_jscan_obj_next(&it, &m))
        if (lx_jscan_key_is(&m, key)) {
            *val = m.val;
            return true;
        }
    return false;
}

/* Some messages[i].content[k].type is "image_url". */
static bool has_image(lx_str_t messages)
{
    lx_jscan_iter_t mi, ci;
    lx_str_t msg, content, part, type;
    if (!lx_jscan_arr_begin(&mi, messages))
        return false;
    while (lx_jscan_arr_next(&mi, &msg)) {
        if (!member(msg, "content", &content) || !lx_jscan_arr_begin(&ci, content))
            continue;
        while (lx_jscan_arr_next(&ci, &part))
            if (member(part, "type", &type) && lx_jscan_str_is(type, "image_url"))
                return true;
    }
    return false;
}

static bool non_empty_array(lx_str_t v)
{
    return v.p[0] == '[' && v.p[lx_jscan_ws(v.p, v.n, 1)] != ']';
}

static bool json_output(lx_str_t response_format)
{
    lx_str_t type;
    return member(response_format, "type", &type) &&
           (lx_jscan_str_is(type, "json_object") || lx_jscan_str_is(type, "json_schema"));
}

bool lx_chat_req_scan(lx_str_t body, lx_chat_req_t *r)
{
    memset(r, 0, sizeof *r);
    lx_jscan_iter_t it;
    lx_jscan_member_t m;
    if (lx_jscan_validate(body.p, body.n) != LX_JSCAN_OK || !lx_jscan_obj_begin(&it, body))
        return false;
    bool mct_int = false, mt_int = false, mct_bad = false, mt_bad = false;
    int64_t mct = 0, mt = 0;
    lx_str_t v;
    /* The scan refused duplicate keys, so each of these comes once. */
    while (lx_jscan_obj_next(&it, &m)) {
        if (lx_jscan_key_is(&m, "model")) {
            r->model_wrong = m.val.p[0] != '"' && m.val.p[0] != 'n';
            if (m.val.p[0] == '"' && !lx_jscan_str_raw(m.val, &r->model))
                return false; /* escapes: the tree decodes them */
        } else if (lx_jscan_key_is(&m, "messages")) {
            r->messages_array = m.val.p[0] == '[';
            r->messages_wrong = m.val.p[0] != '[' && m.val.p[0] != 'n';
            if (has_image(m.val))
                r->need |= LX_CAP_VISION;
        } else if (lx_jscan_key_is(&m, "stream")) {
            r->stream = lx_jscan_is_true(m.val);
        } else if (lx_jscan_key_is(&m, "stream_options")) {
            r->client_usage = member(m.val, "include_usage", &v) && lx_jscan_is_true(v);
        } else if (lx_jscan_key_is(&m, "tools")) {
            if (non_empty_array(m.val))
                r->need |= LX_CAP_TOOLS;
        } else if (lx_jscan_key_is(&m, "response_format")) {
            if (json_output(m.val))
                r->need |= LX_CAP_JSON;
        } else if (lx_jscan_key_is(&m, "max_completion_tokens")) {
            mct_int = lx_jscan_int(m.val, &mct);
            mct_bad = limit_bad(m.val, mct_int, mct);
        } else if (lx_jscan_key_is(&m, "max_tokens")) {
            mt_int = lx_jscan_int(m.val, &mt);
            mt_bad = limit_bad(m.val, mt_int, mt);
        }
    }
    r->max_tokens = mct_int ? mct : mt_int ? mt : 0;
    r->bad_param = bad_limit(mct_bad, mt_bad);
    return true;
}

/* ------------------------------------------------------------------------ */
/* From the tree                                                             */

/* What the request asks of a model beyond chat: tools, images in the
 * messages, JSON output (the capability filter). */
static unsigned request_needs(const json_t *root)
{
    unsigned need = 0;
    if (json_array_size(json_object_get(root, "tools")) > 0)
        need |= LX_CAP_TOOLS;
    const char *rf =
        json_string_value(json_object_get(json_object_get(root, "response_format"), "type"));
    if (rf && (strcmp(rf, "json_object") == 0 || strcmp(rf, "json_schema") == 0))
        need |= LX_CAP_JSON;
    size_t i, k;
    json_t *m, *part;
    json_array_foreach(json_object_get(root, "messages"), i, m)
    {
        json_array_foreach(json_object_get(m, "content"), k, part)
        {
            const char *type = json_string_value(json_object_get(part, "type"));
            if (type && strcmp(type, "image_url") == 0)
                return need | LX_CAP_VISION;
        }
    }
    return need;
}

/* A limit in the tree: set and not an integer in range. */
static bool tree_limit_bad(const json_t *v)
{
    return v != NULL && !json_is_null(v) &&
           !(json_is_integer(v) && tokens_in_range(json_integer_value(v)));
}

void lx_chat_req_from_json(const json_t *root, lx_chat_req_t *r)
{
    json_t *model = json_object_get(root, "model");
    json_t *msgs = json_object_get(root, "messages");
    json_t *mct = json_object_get(root, "max_completion_tokens");
    json_t *mt = mct;
    if (!json_is_integer(mt))
        mt = json_object_get(root, "max_tokens");
    *r = (lx_chat_req_t){
        .messages_array = json_is_array(msgs),
        .messages_wrong = msgs && !json_is_array(msgs) && !json_is_null(msgs),
        .model_wrong = model && !json_is_string(model) && !json_is_null(model),
        .stream = json_is_true(json_object_get(root, "stream")),
        .client_usage =
            json_is_true(json_object_get(json_object_get(root, "stream_options"), "include_usage")),
        .need = request_needs(root),
        .max_tokens = json_integer_value(mt),
        .bad_param =
            bad_limit(tree_limit_bad(mct), tree_limit_bad(json_object_get(root, "max_tokens"))),
        .model = lx_json_str(root, "model"),
    };
}
