/* rss.h - samples another process's resident memory (VmRSS from
 * /proc/PID/status) for --rss-pid: the main thread calls lb_rss_sample every
 * 100 ms during the run and keeps the maximum and the last value. */
#ifndef LB_RSS_H
#define LB_RSS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    long pid;
    char path[64];
    uint64_t max_kb, last_kb, samples;
    bool gone; /* the process went away (or its status became unreadable) */
} lb_rss_t;

/* Checks that PID's status is readable and takes a first sample; -1 if not. */
int lb_rss_init(lb_rss_t *r, long pid);
void lb_rss_sample(lb_rss_t *r);

#endif
