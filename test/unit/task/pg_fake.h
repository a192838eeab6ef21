/* pg_fake.h - a fake of the lx_pg_* calls the task runner makes: each
 * query waits in a FIFO until the test answers it (test-only; owns copies
 * of the SQL and parameters until answered). */
#ifndef LX_TEST_TASK_PG_FAKE_H
#define LX_TEST_TASK_PG_FAKE_H

#include "db/pg.h"

#define FAKE_MAX 256

typedef struct {
    char *sql;
    char *params[16];
    int nparams;
    lx_pg_cb cb;
    void *arg;
} fake_query_t;

void fake_reset(void);
int fake_pending(void);
fake_query_t *fake_peek(void);
/* Answers the oldest query: rows (row-major values, NULL = SQL NULL), an
 * UPDATE's affected count, or a failure. */
void fake_answer_rows(int ntuples, int nfields, const char *const *vals);
void fake_answer_affected(long n);
void fake_answer_error(void);

#endif
