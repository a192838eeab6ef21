/* rss.c - VmRSS sampling of another process (see rss.h). */
#include "rss.h"

#include <stdio.h>
#include <string.h>

static int read_rss(const char *path, uint64_t *kb)
{
    char line[256];
    FILE *f = fopen(path, "r");
    int rc = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long v;
        if (strncmp(line, "VmRSS:", 6) == 0 && sscanf(line + 6, "%llu", &v) == 1) {
            *kb = v;
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

int lb_rss_init(lb_rss_t *r, long pid)
{
    memset(r, 0, sizeof(*r));
    r->pid = pid;
    snprintf(r->path, sizeof(r->path), "/proc/%ld/status", pid);
    lb_rss_sample(r);
    return r->samples ? 0 : -1;
}

void lb_rss_sample(lb_rss_t *r)
{
    uint64_t kb;

    if (r->gone)
        return;
    if (read_rss(r->path, &kb) < 0) {
        r->gone = true;
        return;
    }
    r->last_kb = kb;
    if (kb > r->max_kb)
        r->max_kb = kb;
    r->samples++;
}
