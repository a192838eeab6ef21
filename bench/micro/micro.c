/* micro.c - the shared helpers of the micro-benchmarks (see micro.h). */
#include "micro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 64

typedef struct {
    char name[96];
    char unit[24];
    char unit2[24];
    double median, p10, p90, p99, median2;
} row_t;

static row_t rows[MAX_ROWS];
static int nrows;

int micro_args(int argc, char **argv, micro_opts_t *o, const char *usage)
{
    int k = 1;
    *o = (micro_opts_t){0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            o->json = true;
        } else if (!strcmp(argv[i], "--quick")) {
            o->quick = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s\n", usage);
            exit(0);
        } else {
            argv[k++] = argv[i];
        }
    }
    argv[k] = NULL;
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void micro_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double micro_pct(const double *s, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double r = p / 100.0 * (double)(n - 1) + 0.5;
    size_t i = r < 0 ? 0 : (size_t)r;
    return s[i >= n ? n - 1 : i];
}

void micro_row(const char *name, const char *unit, double median, double p10, double p90,
               double p99, const char *unit2, double median2)
{
    if (nrows == MAX_ROWS)
        return;
    row_t *r = &rows[nrows++];
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->unit2, sizeof r->unit2, "%s", unit2 ? unit2 : "");
    r->median = median;
    r->p10 = p10;
    r->p90 = p90;
    r->p99 = p99;
    r->median2 = median2;
}

/* Row names and units are this directory's own ASCII; quotes and
 * backslashes are escaped all the same. */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static void json_num(const char *key, double v)
{
    printf(",\"%s\":", key);
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

void micro_json(const micro_opts_t *o, const char *bench)
{
    if (!o->json)
        return;
    printf("{\"bench\":");
    json_str(bench);
    printf(",\"quick\":%s,\"rows\":[", o->quick ? "true" : "false");
    for (int i = 0; i < nrows; i++) {
        const row_t *r = &rows[i];
        printf("%s{\"case\":", i ? "," : "");
        json_str(r->name);
        printf(",\"unit\":");
        json_str(r->unit);
        json_num("median", r->median);
        json_num("p10", r->p10);
        json_num("p90", r->p90);
        json_num("p99", r->p99);
        printf(",\"unit2\":");
        if (r->unit2[0])
            json_str(r->unit2);
        else
            printf("null");
        json_num("median2", r->unit2[0] ? r->median2 : NAN);
        printf("}");
    }
    printf("]}\n");
    fflush(stdout);
}
