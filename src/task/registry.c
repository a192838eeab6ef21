/* registry.c - executors by task type: filled by the main thread before the
 * workers start, read-only afterwards (no lock needed). Also the process's
 * instance id. */
#include "core/crypto.h"
#include "task/internal.h"

#include <stdio.h>

#define MAX_EXECUTORS 32

static const lx_task_executor_t *table[MAX_EXECUTORS];
static int count;
static char instance[20];

int lx_task_register(const lx_task_executor_t *ex)
{
    if (ex == NULL || ex->type == NULL || ex->submit == NULL || ex->poll == NULL ||
        count >= MAX_EXECUTORS || lx_task_executor(ex->type) != NULL)
        return LX_ERROR;
    table[count++] = ex;
    return LX_OK;
}

const lx_task_executor_t *lx_task_executor(const char *type)
{
    for (int i = 0; type && i < count; i++)
        if (strcmp(table[i]->type, type) == 0)
            return table[i];
    return NULL;
}

int lx_task_type_index(const char *type)
{
    for (int i = 0; type && i < count; i++)
        if (strcmp(table[i]->type, type) == 0)
            return i;
    return -1;
}

int lx_task_type_count(void)
{
    return count;
}

const char *lx_task_type_at(int i)
{
    return i >= 0 && i < count ? table[i]->type : NULL;
}

void lx_task_registry_reset(void)
{
    count = 0;
}

/* The types this process runs, as a Postgres text[] literal ("{a,b}"):
 * type names are [a-z0-9._] (checked at claim time by the runner). */
int lx_task_types_literal(char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '{';
    for (int i = 0; i < count; i++) {
        int w = snprintf(out + n, cap - n, "%s\"%s\"", i ? "," : "", table[i]->type);
        if (w < 0 || (size_t)w >= cap - n)
            return LX_ERROR;
        n += (size_t)w;
    }
    if (n + 2 > cap)
        return LX_ERROR;
    out[n++] = '}';
    out[n] = '\0';
    return count;
}

const char *lx_task_instance_id(void)
{
    if (instance[0] == '\0') {
        unsigned char b[8];
        lx_random_bytes(b, sizeof b);
        instance[0] = 'i';
        for (int i = 0; i < 8; i++)
            snprintf(instance + 1 + 2 * i, 3, "%02x", b[i]);
    }
    return instance;
}
