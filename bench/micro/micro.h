/* micro.h - what the micro-benchmarks share: a monotonic clock in ns, a
 * seeded random generator, percentiles, the command line (--json, --quick)
 * and the machine-readable last line.
 *
 * Every benchmark prints its own tables for people; with --json it also
 * prints, as its very last line, one JSON object that bench/micro/run
 * collects:
 *   {"bench":"bench-sse","rows":[{"case":..,"unit":..,"median":..,"p10":..,
 *    "p90":..,"p99":..,"unit2":..,"median2":..}, ...]}
 * A percentile a benchmark does not compute is null; unit2/median2 is a
 * second figure of the same row (events/s next to MB/s, say). */
#ifndef LX_BENCH_MICRO_H
#define LX_BENCH_MICRO_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct {
    bool json;  /* print the JSON last line */
    bool quick; /* fewer repetitions: a smoke run, not a measurement */
} micro_opts_t;

/* Reads --json and --quick out of argv (removing them; returns the new
 * argc). Exits with a usage line on -h/--help. */
int micro_args(int argc, char **argv, micro_opts_t *o, const char *usage);

static inline double micro_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* CPU time of the calling thread: time spent preempted by other processes
 * on a shared machine is not in it (their effect on the caches is). A
 * system call, not a vDSO read: for spans of milliseconds, not per op. */
static inline double micro_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* splitmix64: deterministic corpora from a seed. */
static inline uint64_t micro_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline unsigned micro_below(uint64_t *s, unsigned n)
{
    return (unsigned)(micro_rand(s) % n);
}

/* Sorts v ascending; then micro_pct reads the p-th percentile (nearest
 * rank, p in 0..100). */
void micro_sort(double *v, size_t n);
double micro_pct(const double *sorted, size_t n, double p);

/* One row of the JSON line (NAN for a figure not computed; unit2 may be
 * NULL). At most 64 rows per benchmark. */
void micro_row(const char *name, const char *unit, double median, double p10, double p90,
               double p99, const char *unit2, double median2);
/* Prints the JSON line of the rows recorded so far if o->json. */
void micro_json(const micro_opts_t *o, const char *bench);

#endif
