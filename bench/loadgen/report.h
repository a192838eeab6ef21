/* report.h - the results of a run: the human summary (stdout, or stderr when
 * the JSON goes to stdout) and the JSON document (--json). */
#ifndef LB_REPORT_H
#define LB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "opts.h"
#include "rss.h"
#include "stats.h"
#include "target.h"

typedef struct {
    const lb_opts_t *opts;
    const lb_target_t *target;
    const lb_stats_t *stats; /* merged over the workers */
    unsigned threads;
    double measured_s; /* the measured window: warm-up end to run end */
    double warmup_s;
    bool interrupted;    /* stopped by a signal */
    const lb_rss_t *rss; /* NULL without --rss-pid */
} lb_report_t;

void lb_report_human(FILE *f, const lb_report_t *r);
/* Writes the JSON to path ("-": stdout). 0, or -1 with a message. */
int lb_report_json(const char *path, const lb_report_t *r);
/* "850us", "12.3ms", "1.23s". */
void lb_fmt_us(char *buf, size_t cap, uint64_t us);

#endif
