/*
 * fe_worker.c: a worker thread's loop.
 *
 * Owns: taking the next entry (fdqueue/fe_work.h), claiming a keep-alive
 * connection the keep-alive set reported, running a timer or a connection
 * (fe_conn_run), the worker's own scoreboard row and wk.* entries, and the
 * decision that a worker of a stopping child leaves.
 *
 * Must not: hold anything across entries: each entry leaves this worker
 * (parked, closed, or handed to a module) before the next is taken.
 */
#include "mpm_fastevent.h"
#include "connection/fe_conn.h"
#include "connection/fe_park.h"
#include "connection/fe_timer.h"
#include "connection/fe_worker.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"

#include <apr_atomic.h>
#ifdef __linux__
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);


/*
 * While stopping gracefully, a worker leaves once the child has more
 * workers than open connections (keeping one for the listener's last
 * hand-offs), so a draining process frees scoreboard rows, and threads,
 * as its connections finish.
 */
static int fe_worker_may_leave(fe_child_t *ch)
{
    for (;;) {
        apr_uint32_t alive = apr_atomic_read32(&ch->wk.alive);
        apr_uint32_t conns = apr_atomic_read32(&ch->count.conns);

        if (!ch->stop.dying || alive <= 1 || alive <= conns) {
            return 0;
        }
        if (apr_atomic_cas32(&ch->wk.alive, alive - 1, alive)
            == alive) {
            return 1;
        }
    }
}

#if defined(__linux__)
/* This thread's time on a CPU and waiting for one, in microseconds, from
 * the kernel's schedstat line ("<run ns> <wait ns> <slices>"); 0 when
 * unreadable (no /proc, a ChrootDir, no descriptor left). */
static int fe_worker_sched_times(apr_uint64_t *run_us, apr_uint64_t *wait_us)
{
    char buf[96], *end;

    if (fe_proc_read("/proc/thread-self/schedstat", buf, sizeof buf) < 0) {
        return 0;
    }
    *run_us = strtoull(buf, &end, 10) / 1000;
    if (end == buf) {
        return 0;
    }
    *wait_us = strtoull(end, &end, 10) / 1000;
    return 1;
}
#endif

/* Run @a cs; while the child paces, every FE_PACE_SAMPLE_EVERY-th run
 * (per worker, counted in @a *runs) is measured: of its wall time, how
 * much did the thread spend neither on a CPU nor waiting for one, that
 * is blocked (policy/fe_connstate.h, fe_pace_judge())? */
static void fe_worker_run(fe_child_t *ch, fe_conn_t *cs, fe_worker_t *w,
                          unsigned int *runs)
{
#if defined(__linux__)
    apr_uint64_t run0, wait0, run1, wait1, wall, used;
    apr_time_t t0;
    int known;

    if (ch->wk.pace_sampling && ++*runs % FE_PACE_SAMPLE_EVERY == 0) {
        known = fe_worker_sched_times(&run0, &wait0);
        t0 = apr_time_now();
        fe_conn_run(cs, w);
        wall = (apr_uint64_t)(apr_time_now() - t0);
        /* Unreadable counts as blocked: a child that cannot measure its
         * runs stops pacing. */
        used = 0;
        if (known && fe_worker_sched_times(&run1, &wait1)) {
            used = (run1 - run0) + (wait1 - wait0);
        }
        apr_atomic_add64(&ch->wk.sampled_us, wall);
        apr_atomic_add64(&ch->wk.blocked_us, wall > used ? wall - used : 0);
        apr_atomic_inc32(&ch->wk.runs_sampled);
        return;
    }
#else
    (void)ch;
    (void)runs;
#endif
    fe_conn_run(cs, w);
}

/* The next entry; a keep-alive event that went stale meanwhile (the
 * listener timed the connection out) is skipped. */
static apr_status_t fe_worker_take(fe_child_t *ch, fe_work_t *wk)
{
    for (;;) {
        apr_status_t rv = fe_work_next(ch, wk);

        if (rv != APR_SUCCESS || wk->tag == 0) {
            return rv;
        }
        wk->item = fe_park_claim(ch, wk->tag);
        if (wk->item != NULL) {
            return APR_SUCCESS;
        }
    }
}
void *APR_THREAD_FUNC fe_worker_thread(apr_thread_t *thd, void *data)
{
    fe_worker_arg_t *arg = data;
    fe_child_t *ch = arg->ch;
    fe_worker_t w;
    int counted = 1;          /* in ch->wk.alive */
    unsigned int runs = 0;    /* connection runs, for fe_worker_run() */

    w.ch = ch;
    w.tid = arg->tid;
    w.thd = thd;
    fe_sb_worker_start(ch->slot, w.tid);
#ifdef __linux__
    ch->wk.tids[w.tid] = (int)syscall(SYS_gettid);
#endif
    while (!ch->stop.workers_may_exit) {
        fe_conn_t *cs;
        fe_work_t wk;
        apr_status_t rv;

        if (ch->stop.dying && fe_worker_may_leave(ch)) {
            counted = 0;
            break;
        }
        fe_sb_worker(ch->slot, w.tid,
                     ch->stop.dying ? SERVER_GRACEFUL : SERVER_READY);
        rv = fe_worker_take(ch, &wk);
        if (rv == APR_EOF) {
            break;
        }
        if (rv != APR_SUCCESS) {
            continue;
        }
        cs = wk.item;
        if (cs != NULL) {
            ch->wk.busy_fd[w.tid] = fe_sock_fd(cs->sock);
        }
        /* Pairs with the fence in fe_child_signal_stop(): either the stop
         * sees this descriptor and shuts it down, or we see the stop.  (An
         * entry handed over just before the queue's termination reaches us
         * here.)  The process is exiting: the entry is dropped, not run. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (ch->stop.workers_may_exit) {
            ch->wk.busy_fd[w.tid] = -1;
            break;
        }
        if (wk.node != NULL) {
            fe_sb_worker(ch->slot, w.tid, SERVER_BUSY_WRITE);
            fe_timer_run(ch, wk.node);
            continue;
        }
        ch->wk.busy_since[w.tid] = apr_time_now();
        if (cs->ready_at) {
            fe_metrics_handoff(ch->metrics,
                               ch->wk.busy_since[w.tid] - cs->ready_at);
        }
        fe_worker_run(ch, cs, &w, &runs);
        ch->wk.busy_since[w.tid] = 0;
        ch->wk.busy_fd[w.tid] = -1;
    }
    if (counted) {
        apr_atomic_dec32(&ch->wk.alive);
    }
    /* A stopping child's row goes back to the slot (a new child may be
     * waiting for it); otherwise the thread leaves for an error. */
    fe_sb_worker(ch->slot, w.tid,
                 ch->stop.dying || ch->stop.listener_may_exit
                 ? SERVER_DEAD : SERVER_GRACEFUL);
    return NULL;
}
