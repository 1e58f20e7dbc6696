/**
 * @file fe_sched.h
 * @brief FastEventSchedBatch auto: SCHED_BATCH while the server has its
 *        CPUs to itself, the default policy while other programs use them.
 *        (Pure: no httpd, no clock, no I/O.)
 *
 * Under SCHED_BATCH a woken server thread does not preempt the thread
 * running on its CPU.  Between the server's own threads that saves
 * switches (docs/performance.md); but a PHP-FPM worker, a database or a
 * load generator on the same CPU then runs out its whole time slice
 * before the server's thread gets the CPU, and every such wait lands in
 * the latency tail (issue 22: p99 up to twice stock event's).  So the
 * parent measures, once a second, how much of the CPUs the server may run
 * on other programs used (fe_sched_foreign()), and the children run under
 * SCHED_BATCH only while that stays low (fe_sched_next()).
 */
#ifndef FE_SCHED_H
#define FE_SCHED_H

/** Other programs at or above this share of the server's CPUs (percent,
 *  one sample) turn SCHED_BATCH off at once... */
#define FE_SCHED_FOREIGN_HIGH 10
/** ... and below this one for FE_SCHED_QUIET_SAMPLES samples in a row
 *  turn it back on. */
#define FE_SCHED_FOREIGN_LOW  5
#define FE_SCHED_QUIET_SAMPLES 10

/** Where the decision stands. */
typedef struct fe_sched_state {
    int batch;               /**< 1: SCHED_BATCH wanted now */
    int quiet;               /**< quiet samples in a row while off */
} fe_sched_state_t;

/** Start: batch on (a server starts before its neighbours load it, and
 *  the first sample comes a second later). */
void fe_sched_init(fe_sched_state_t *st);

/**
 * Percent (0..100) of the CPUs' capacity other programs used over one
 * interval: @a d_busy and @a d_total are the busy and all jiffies of
 * those CPUs (from /proc/stat), @a d_server the jiffies of the server's
 * processes (parent and children).  0 when nothing can be said (no time
 * passed, or the counters went backwards).
 */
int fe_sched_foreign(unsigned long long d_busy, unsigned long long d_total,
                     unsigned long long d_server);

/** The next decision after a sample of @a foreign percent. */
int fe_sched_next(fe_sched_state_t *st, int foreign);

#endif /* FE_SCHED_H */
