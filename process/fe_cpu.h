/**
 * @file fe_cpu.h
 * @brief Each child on one CPU when there are enough children
 *        (FastEventCPUAffinity), its threads under SCHED_BATCH
 *        (FastEventSchedBatch): process/fe_cpu.c.
 */
#ifndef FE_CPU_H
#define FE_CPU_H

#include "mpm_fastevent.h"

/** Child, before privileges are dropped and before any thread starts:
 *  find the CPUs and take this child's place. */
void fe_cpu_start(fe_child_t *ch);
/** Main thread: look again (at most once a second) and move if the
 *  place changed. */
void fe_cpu_tick(fe_child_t *ch, apr_time_t now);
/** Read the small file @a path (a /proc entry) into @a buf, NUL-
 *  terminated: its length, or -1 when it cannot be read (gone, no /proc,
 *  no descriptor left). */
apr_ssize_t fe_proc_read(const char *path, char *buf, apr_size_t size);
/** The CPU this child runs on, or FE_PLACE_ANY. */
int fe_cpu_placed(const fe_child_t *ch);
/** How many CPUs this child's threads may run on now: 1 when placed,
 *  else those the process started with; 0 when unknown. */
int fe_cpu_width(const fe_child_t *ch);
/** Child, before any thread starts: SCHED_BATCH for all its threads. */
void fe_sched_start(fe_child_t *ch);

/** Child's main thread, about once a second: follow the parent's word
 *  (FastEventSchedBatch auto), moving every thread of the child. */
void fe_sched_tick(fe_child_t *ch);

/** Parent's main loop: measure, at most once a second, the share of the
 *  server's CPUs other programs used, and tell the children (auto).
 *  @a pids: the server's children. */
void fe_sched_parent_tick(const pid_t *pids, int n, apr_time_t now);

#endif /* FE_CPU_H */
