/* metrics_proc.h - the standard process_* families of the Prometheus
 * client libraries, read from /proc at scrape time. Owns nothing; writes
 * into the caller's buffer. */
#ifndef LX_OBS_METRICS_PROC_H
#define LX_OBS_METRICS_PROC_H

#include "core/buf.h"

#include <sys/types.h>

/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_threads, process_start_time_seconds,
 * process_open_fds and process_max_fds. Threads with an open-file table of
 * their own (workers that unshare it) hide their descriptors from
 * /proc/self/fd: tables lists one thread id per table (the main thread's
 * included); its fd directories are counted and added. mine: the index in
 * tables of the calling thread's own table (its directory's descriptor is
 * not counted there), -1 if none. ntables 0: count /proc/self/fd alone. A
 * figure /proc does not give is left out. */
void lx_metrics_process(lx_buf_t *b, const pid_t *tables, int ntables, int mine);

#endif
