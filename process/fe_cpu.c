/*
 * fe_cpu.c: keep each child process on one CPU when a generation has at
 * least as many children as CPUs (FastEventCPUAffinity auto; the rule and
 * the reasons are in fe_place.h), and run its threads under SCHED_BATCH
 * (FastEventSchedBatch, at the end of this file).
 *
 * Owns: this process's CPU mask and scheduling policy.  A child looks at
 * the scoreboard's process rows when it starts, before child_init, so that
 * the threads modules start (mod_http2's workers) inherit its place, and
 * then at most once a second from the child's main thread.  When its place
 * changed it sets the mask of every thread of the process
 * (/proc/self/task).
 *
 * Must not: block, or take CPUs the process was not given: the CPUs are
 * those the process had when it started (taskset, cpusets, systemd's
 * CPUAffinity= all narrow them).
 */
#include "mpm_fastevent.h"
#include "policy/fe_place.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <dirent.h>
#include <sched.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

/* The main thread looks at the scoreboard this often.  Siblings that
 * start at the same time appear in it one after the other, and a child
 * moves only on an answer two looks in a row gave (fe_cpu_check()). */
#define FE_CPU_EVERY apr_time_from_sec(1)

#if defined(__linux__) && defined(CPU_SET)

struct fe_cpu {
    cpu_set_t all;            /* the CPUs this process started with */
    int ncpus;
    int *ids;                 /* their numbers, ascending */
    unsigned char *live;      /* per slot: a running child of ours */
    int task_fd;              /* /proc/self/task, opened before a chroot */
    int placed;               /* CPU number, or FE_PLACE_ANY */
    int pending;              /* last check's answer, not yet applied */
    apr_time_t checked_at;
};

/* Give every thread of the process @a set, pass after pass until a pass
 * finds no thread it had not seen: a thread started meanwhile by one not
 * yet done may have inherited the old mask.  Returns 0 or an errno. */
static int fe_cpu_apply(struct fe_cpu *c, const cpu_set_t *set)
{
    int pass, err = 0, seen = -1;

    for (pass = 0; pass < 4; pass++) {
        int fd = dup(c->task_fd), n = 0;
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (d == NULL) {
            err = errno ? errno : EBADF;
            if (fd >= 0) {
                close(fd);
            }
            return err;
        }
        rewinddir(d);
        while ((de = readdir(d)) != NULL) {
            pid_t tid = (pid_t)atoi(de->d_name);

            if (tid <= 0) {
                continue;
            }
            n++;
            if (sched_setaffinity(tid, sizeof *set, set) != 0
                && errno != ESRCH) {
                err = errno;
            }
        }
        closedir(d);
        if (err != 0 || n == seen) {
            break;
        }
        seen = n;
    }
    return err;
}

/* Where this child belongs now, from the scoreboard; sets *count. */
static int fe_cpu_wanted(fe_child_t *ch, int *count)
{
    struct fe_cpu *c = ch->cpu;
    int n = fe_g.lim.server_limit, rank, idx;

    fe_sb_live_processes(fe_g.retained->mpm->my_generation, c->live, n);
    rank = fe_place_rank(c->live, n, ch->slot, count);
    idx = fe_place_cpu(c->ncpus, *count, rank);
    return idx == FE_PLACE_ANY ? FE_PLACE_ANY : c->ids[idx];
}

/* @a settled: apply only an answer the previous check gave too, so a
 * scoreboard caught between two states moves nobody. */
static void fe_cpu_check(fe_child_t *ch, int settled)
{
    struct fe_cpu *c = ch->cpu;
    int count, cpu = fe_cpu_wanted(ch, &count), err;
    cpu_set_t one;

    if (cpu == c->placed || (settled && cpu != c->pending)) {
        c->pending = cpu;
        return;
    }
    c->pending = cpu;
    if (cpu != FE_PLACE_ANY) {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
    }
    err = fe_cpu_apply(c, cpu == FE_PLACE_ANY ? &c->all : &one);
    if (err != 0) {
        int back = fe_cpu_apply(c, &c->all);

        ap_log_error(APLOG_MARK, APLOG_WARNING, err, ch->s, FELOGNO(10191)
                     "could not set the CPU affinity of this process's "
                     "threads (slot %d); %s, and it places itself no more. "
                     "FastEventCPUAffinity off turns placement off",
                     ch->slot, back == 0 ? "it runs on every CPU it was given"
                     : "some threads may stay where they were");
        close(c->task_fd);
        ch->cpu = NULL;
        fe_metrics_cpu(ch->metrics, FE_PLACE_ANY);
        return;
    }
    c->placed = cpu;
    fe_metrics_cpu(ch->metrics, cpu);
    if (cpu == FE_PLACE_ANY) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10193)
                     "slot %d runs on all %d CPUs again: %d children of "
                     "this generation (FastEventCPUAffinity auto)", ch->slot,
                     c->ncpus, count);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10190)
                     "slot %d placed on CPU %d: %d children of this "
                     "generation on %d CPUs (FastEventCPUAffinity auto)",
                     ch->slot, cpu, count, c->ncpus);
    }
}

/* In the child, before privileges are dropped (a ChrootDir hides /proc)
 * and before any thread is started. */
void fe_cpu_start(fe_child_t *ch)
{
    struct fe_cpu *c;
    int i, k;

    if (!fe_g.lim.cpu_affinity || fe_g.one_process) {
        return;
    }
    c = apr_pcalloc(ch->pchild, sizeof *c);
    if (sched_getaffinity(0, sizeof c->all, &c->all) != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, ch->s, FELOGNO(10192)
                     "sched_getaffinity() failed: CPU placement is off");
        return;
    }
    c->ncpus = CPU_COUNT(&c->all);
    if (c->ncpus < 2) {
        return;
    }
    c->task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->task_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, errno, ch->s, FELOGNO(10194)
                     "cannot open /proc/self/task, so the threads of a "
                     "child cannot be placed on CPUs: placement is off "
                     "(mount /proc, or set FastEventCPUAffinity off to "
                     "silence this)");
        return;
    }
    c->ids = apr_palloc(ch->pchild, c->ncpus * sizeof *c->ids);
    for (i = 0, k = 0; i < CPU_SETSIZE && k < c->ncpus; i++) {
        if (CPU_ISSET(i, &c->all)) {
            c->ids[k++] = i;
        }
    }
    c->ncpus = k;
    c->live = apr_pcalloc(ch->pchild, fe_g.lim.server_limit);
    c->placed = c->pending = FE_PLACE_ANY;
    c->checked_at = apr_time_now();
    ch->cpu = c;
    fe_cpu_check(ch, 0);
}

void fe_cpu_tick(fe_child_t *ch, apr_time_t now)
{
    struct fe_cpu *c = ch->cpu;

    if (c == NULL || ch->stop.dying) {
        return;
    }
    if (now - c->checked_at < FE_CPU_EVERY && now >= c->checked_at) {
        return;
    }
    c->checked_at = now;
    fe_cpu_check(ch, 1);
}

int fe_cpu_placed(const fe_child_t *ch)
{
    return ch->cpu != NULL ? ch->cpu->placed : FE_PLACE_ANY;
}


#else  /* no sched_setaffinity(): every child runs anywhere */

void fe_cpu_start(fe_child_t *ch)
{
}

void fe_cpu_tick(fe_child_t *ch, apr_time_t now)
{
}

int fe_cpu_placed(const fe_child_t *ch)
{
    return FE_PLACE_ANY;
}


#endif

/*
 * FastEventSchedBatch: every thread of a child under Linux's SCHED_BATCH.
 *
 * Under the default policy a woken thread preempts the one running on its
 * CPU.  Inside a child that is the listener cutting into a worker for each
 * readable connection, or a worker waking the listener and being cut off
 * itself, and on a child kept on one CPU nothing but switches between the
 * child's own threads come of it.  A woken SCHED_BATCH thread waits until
 * the running one blocks or its time slice ends, so the listener takes in
 * everything that became ready meanwhile in one pass.  Fairness, priority
 * and nice are unchanged, and on an idle CPU a woken thread runs at once.
 *
 * Called in the child before any thread is started: threads inherit the
 * policy of the thread that creates them, mod_http2's workers included.
 * A policy someone else set (systemd's CPUSchedulingPolicy=, chrt) is left
 * as it is.
 */
#if defined(__linux__) && defined(SCHED_BATCH)

void fe_sched_start(fe_child_t *ch)
{
    struct sched_param sp;
    int policy;

    if (!fe_g.lim.sched_batch || fe_g.one_process) {
        return;
    }
    policy = sched_getscheduler(0);
    if (policy != SCHED_OTHER) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, policy < 0 ? errno : 0, ch->s,
                     FELOGNO(10195) "slot %d keeps its scheduling policy "
                     "(%d, not SCHED_OTHER): FastEventSchedBatch changes "
                     "only the default one", ch->slot, policy);
        return;
    }
    memset(&sp, 0, sizeof sp);
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, errno, ch->s, FELOGNO(10196)
                     "could not put slot %d under SCHED_BATCH: its threads "
                     "keep the default policy, which costs throughput "
                     "under load (FastEventSchedBatch off silences this)",
                     ch->slot);
    }
}

#else

void fe_sched_start(fe_child_t *ch)
{
}

#endif
