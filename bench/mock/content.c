/* content.c - what the mock says: token pieces and the choice of tool to call. */
#include <string.h>

#include <event2/buffer.h>

#include "call.h"

void mock_tokens(struct evbuffer *out, long from, long to)
{
    for (long i = from; i < to; i++)
        evbuffer_add_printf(out, "tok%ld ", i);
}

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *mock_pick_tool(json_t *json, bool anthropic)
{
    json_t *tools = json_object_get(json, "tools");
    json_t *choice = json_object_get(json, "tool_choice");
    json_t *first;
    const char *name;

    if (!json_is_array(tools) || json_array_size(tools) == 0)
        return NULL;
    if (json_is_string(choice) && strcmp(json_string_value(choice), "none") == 0)
        return NULL;
    if (json_is_object(choice)) {
        const char *type = str_field(choice, "type");
        if (type != NULL && strcmp(type, "none") == 0)
            return NULL;
        if (anthropic && type != NULL && strcmp(type, "tool") == 0 &&
            (name = str_field(choice, "name")) != NULL)
            return name;
        if (!anthropic && (name = str_field(json_object_get(choice, "function"), "name")) != NULL)
            return name;
    }
    first = json_array_get(tools, 0);
    if (!anthropic && (name = str_field(json_object_get(first, "function"), "name")) != NULL)
        return name;
    name = str_field(first, "name");
    return name ? name : "tool";
}
