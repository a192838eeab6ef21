/* metrics_proc.c - process_* figures from /proc/self (metrics_proc.h). */
#include "obs/metrics_proc.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Entries of an fd directory; mine: it is the reading thread's own table,
 * which holds the directory's descriptor while we read it. */
static long count_dir(const char *path, bool mine)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return mine ? n - 1 : n;
}

static void gauge(lx_buf_t *b, const char *name, const char *type, const char *help, double v)
{
    lx_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, v);
}

/* Seconds since the epoch at boot (/proc/stat btime), 0 if unknown. */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return 0;
    char line[256];
    long long bt = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

void lx_metrics_process(lx_buf_t *b, const pid_t *tables, int ntables, int mine)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold anything */
    unsigned long long utime, stime, start, vsize;
    long long threads, rss;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    /* fields 3.. after the name: state ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime cutime cstime priority nice threads
     * itrealvalue starttime vsize rss */
    if (p && tck > 0 &&
        sscanf(p + 1,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %lld "
               "%*d %llu %llu %lld",
               &utime, &stime, &threads, &start, &vsize, &rss) == 6) {
        gauge(b, "process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.",
              (double)(utime + stime) / (double)tck);
        gauge(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
              (double)rss * (double)page);
        gauge(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
              (double)vsize);
        gauge(b, "process_threads", "gauge", "Number of OS threads in the process.",
              (double)threads);
        long long bt = boot_time();
        if (bt > 0)
            gauge(b, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.",
                  (double)bt + (double)start / (double)tck);
    }
    long fds = 0;
    if (ntables <= 0) {
        fds = count_dir("/proc/self/fd", true);
    } else {
        for (int i = 0; i < ntables && fds >= 0; i++) {
            snprintf(buf, sizeof buf, "/proc/self/task/%d/fd", (int)tables[i]);
            long c = count_dir(buf, i == mine);
            fds = c < 0 ? -1 : fds + c;
        }
    }
    if (fds >= 0)
        gauge(b, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        gauge(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
              (double)rl.rlim_cur);
}
