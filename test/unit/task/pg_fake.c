/* pg_fake.c - the lx_pg_* functions src/task/runner.c (and src/ai/allow_parallel.c) use, as a fake:
 * queries queue up in order and the test answers them (pg_fake.h), so the
 * runner's claim, lease and transition logic runs without a database. */
#include "pg_fake.h"

#include <stdlib.h>
#include <string.h>

struct lx_pg_result {
    bool ok;
    int ntuples, nfields;
    const char *const *vals; /* row-major, NULL = SQL NULL */
    long affected;
};

static fake_query_t queue[FAKE_MAX];
static int head, tail;

void fake_reset(void)
{
    while (head < tail) {
        fake_query_t *q = &queue[head++];
        for (int i = 0; i < q->nparams; i++)
            free(q->params[i]);
        free(q->sql);
    }
    head = tail = 0;
}

int fake_pending(void)
{
    return tail - head;
}

fake_query_t *fake_peek(void)
{
    return head < tail ? &queue[head] : NULL;
}

static void pop_answer(lx_pg_result_t *r)
{
    fake_query_t q = queue[head++];
    q.cb(r, q.arg);
    for (int i = 0; i < q.nparams; i++)
        free(q.params[i]);
    free(q.sql);
}

void fake_answer_rows(int ntuples, int nfields, const char *const *vals)
{
    lx_pg_result_t r = {true, ntuples, nfields, vals, ntuples};
    pop_answer(&r);
}

void fake_answer_affected(long n)
{
    lx_pg_result_t r = {true, 0, 0, NULL, n};
    pop_answer(&r);
}

void fake_answer_error(void)
{
    lx_pg_result_t r = {false, 0, 0, NULL, 0};
    pop_answer(&r);
}

int lx_pg_query(lx_pg_t *pg, const char *sql, int nparams, const char *const *params,
                unsigned flags, lx_pg_cb cb, void *arg)
{
    if (tail >= FAKE_MAX)
        return LX_ERROR;
    fake_query_t *q = &queue[tail++];
    q->sql = strdup(sql);
    q->nparams = nparams;
    for (int i = 0; i < nparams && i < 16; i++)
        q->params[i] = params[i] ? strdup(params[i]) : NULL;
    q->cb = cb;
    q->arg = arg;
    return LX_OK;
}

bool lx_pg_down(const lx_pg_t *pg)
{
    return false;
}

bool lx_pg_ok(const lx_pg_result_t *res)
{
    return res->ok;
}

const char *lx_pg_error(const lx_pg_result_t *res)
{
    return res->ok ? NULL : "fake failure";
}

int lx_pg_ntuples(const lx_pg_result_t *res)
{
    return res->ntuples;
}

const char *lx_pg_value(const lx_pg_result_t *res, int row, int col)
{
    const char *v = res->vals[row * res->nfields + col];
    return v ? v : "";
}

bool lx_pg_isnull(const lx_pg_result_t *res, int row, int col)
{
    return res->vals[row * res->nfields + col] == NULL;
}

long lx_pg_affected(const lx_pg_result_t *res)
{
    return res->affected;
}

int lx_pg_prepare(lx_pg_t *pg, const char *name, const char *sql, int nparams)
{
    (void)pg, (void)name, (void)sql, (void)nparams;
    return LX_OK;
}
