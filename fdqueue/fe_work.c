/*
 * fe_work.c: the hand-off between the listener and the workers.
 *
 * Owns: the child's worker queue (fe_fdqueue.h) as the rest of the child
 * sees it: every push, every wait for the next entry, the idle-worker
 * count, the interrupts and the termination; and the keep-alive holds,
 * the workers that wait on their own connection for its next request and
 * are called back the moment work waits without an idle worker.  So every
 * push is followed by the hold check here, and nowhere else.
 *
 * An idle worker waits in one of two places: blocked in the queue, or
 * (FastEventKeepAlivePoll on) in the keep-alive poll set (fe_kaset.c),
 * where a ready keep-alive connection wakes it directly; a push then
 * kicks one waiter there.  A holder waits on its own connection and the
 * call-back pipe.  fe_work_idlers() counts the first two.
 *
 * Must not: run or park connections (connection/), or block the pusher:
 * pushes never wait, whoever calls them.
 */
#include "mpm_fastevent.h"
#include "connection/fe_backend.h"
#include "fdqueue/fe_kaset.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "http_log.h"

#include <apr_atomic.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

APLOG_USE_MODULE(mpm_fastevent);

static void fe_hold_check(fe_child_t *ch);

/* ------------------------------------------------------------ setup */

static apr_status_t fe_hold_cleanup(void *data)
{
    fe_child_t *ch = data;

    if (ch->hold.pipe[0] >= 0) {
        close(ch->hold.pipe[0]);
        close(ch->hold.pipe[1]);
        ch->hold.pipe[0] = ch->hold.pipe[1] = -1;
    }
    return APR_SUCCESS;
}

/* The call-back pipe; without it (no descriptors left) nobody holds. */
static void fe_hold_setup(fe_child_t *ch)
{
    int i;

    if (pipe(ch->hold.pipe) != 0) {
        ch->hold.pipe[0] = ch->hold.pipe[1] = -1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(errno),
                     ch->s, FELOGNO(10142) "no pipe for keep-alive holds: "
                     "every idle keep-alive connection goes to the "
                     "listener (raise the descriptor limit)");
        return;
    }
    for (i = 0; i < 2; i++) {
        fcntl(ch->hold.pipe[i], F_SETFL,
              fcntl(ch->hold.pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(ch->hold.pipe[i], F_SETFD, FD_CLOEXEC);
    }
    apr_pool_cleanup_register(ch->pruntime, ch, fe_hold_cleanup,
                              apr_pool_cleanup_null);
}

apr_status_t fe_work_setup(fe_child_t *ch, unsigned int capacity)
{
    apr_status_t rv = fe_queue_create(&ch->queue, capacity, ch->pruntime);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    fe_hold_setup(ch);           /* optional: without it nobody holds */
    ch->ka.ep = ch->ka.kick = ch->ka.all = -1;
    if (fe_g.lim.ka_poll) {
        /* FastEventKeepAlivePoll on; without it (or when it fails) the
         * listener's pollset serves. */
        fe_kaset_setup(ch);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ pushes */

/* After a push: an idle worker waiting in the keep-alive set, or a
 * holder, takes it when none waits in the queue. */
static apr_status_t fe_work_pushed(fe_child_t *ch, apr_status_t rv)
{
    if (rv == APR_SUCCESS) {
        fe_kaset_kick(ch);
        fe_hold_check(ch);
    }
    return rv;
}

apr_status_t fe_work_push(fe_child_t *ch, void *item)
{
    return fe_work_pushed(ch, fe_queue_push(ch->queue, item));
}

apr_status_t fe_work_push_urgent(fe_child_t *ch, fe_qnode_t *node)
{
    return fe_work_pushed(ch, fe_queue_push_urgent(ch->queue, node));
}

/* Pacing applies while the runs measured say the work stays on the CPU
 * (fe_pace_judge()), while other programs use the server's CPUs (the
 * parent's measurement for FastEventSchedBatch auto: alone on its CPUs,
 * a child has nobody to leave room for, and one worker at a time per CPU
 * would share the CPU per child instead of per connection), while no
 * request went to a backend lately (FE_PACE_PROXY_QUIET), and while
 * nothing else takes from the queue behind its back or holds workers
 * outside it: not with the keep-alive set (its waiters are kicked, not
 * handed entries), not while workers hold keep-alive connections (they
 * never look at the queue), and not while the child stops. */
static int fe_work_paced(fe_child_t *ch)
{
    return fe_cpu_width(ch) > 0 && ch->wk.pace.on && !ch->wk.pace_proxied
           && fe_metrics_sched_want(ch->metrics) == FE_SCHED_WANT_SHARED
           && ch->ka.ep < 0 && !ch->stop.dying
           && apr_atomic_read32(&ch->hold.holders) == 0;
}

/* Listener: judge the runs the workers measured since the last time,
 * once there are enough of them (fe_pace_judge()), and tell the workers
 * whether to measure. */
static void fe_work_pace_judge(fe_child_t *ch, apr_time_t now)
{
    apr_uint32_t runs = apr_atomic_read32(&ch->wk.runs_sampled);
    apr_uint64_t sampled = 0, blocked = 0;

    ch->wk.pace_proxied = fe_backend_proxying(ch, now);
    if (runs - ch->wk.pace_seen_runs >= FE_PACE_MIN_SAMPLES) {
        sampled = apr_atomic_read64(&ch->wk.sampled_us);
        blocked = apr_atomic_read64(&ch->wk.blocked_us);
        fe_pace_judge(&ch->wk.pace, sampled - ch->wk.pace_seen_sampled,
                      blocked - ch->wk.pace_seen_blocked, now);
        ch->wk.pace_seen_runs = runs;
        ch->wk.pace_seen_sampled = sampled;
        ch->wk.pace_seen_blocked = blocked;
    }
    else {
        fe_pace_judge(&ch->wk.pace, 0, 0, now);
    }
    ch->wk.pace_sampling = fe_work_paced(ch);
}

int fe_work_pacing(fe_child_t *ch)
{
    return fe_work_paced(ch);
}

apr_status_t fe_work_push_ready(fe_child_t *ch, void *item)
{
    if (!fe_work_paced(ch) || ch->wk.pace_allow > 0) {
        if (ch->wk.pace_allow > 0) {
            ch->wk.pace_allow--;
        }
        return fe_work_push(ch, item);
    }
    return fe_work_pushed(ch, fe_queue_push_lazy(ch->queue, item));
}

void fe_work_pace(fe_child_t *ch, apr_time_t now)
{
    unsigned int allow;

    fe_work_pace_judge(ch, now);
    if (!fe_work_paced(ch)) {
        /* Connections left waiting by pacing go now. */
        ch->wk.pace_allow = 0;
        if (fe_queue_items_waiting(ch->queue) > 0
            && fe_queue_idlers(ch->queue) > 0) {
            fe_queue_release(ch->queue, UINT_MAX);
        }
        return;
    }
    allow = fe_pace_wakeups((unsigned int)fe_cpu_width(ch),
                            apr_atomic_read32(&ch->wk.alive),
                            fe_queue_idlers(ch->queue), 0,
                            fe_pace_stale(ch->wk.busy_since,
                                          (unsigned int)ch->wk.started,
                                          now));
    if (allow > 0 && fe_queue_items_waiting(ch->queue) > 0) {
        allow -= fe_queue_release(ch->queue, allow);
    }
    ch->wk.pace_allow = allow;
}

int fe_work_pace_pending(fe_child_t *ch)
{
    /* Only lazy pushes leave entries beside idle workers. */
    return fe_queue_items_waiting(ch->queue) > 0
           && fe_queue_idlers(ch->queue) > 0;
}

unsigned int fe_work_idlers(fe_child_t *ch)
{
    return fe_queue_idlers(ch->queue) + apr_atomic_read32(&ch->ka.waiters);
}

unsigned int fe_work_waiting(fe_child_t *ch)
{
    return fe_queue_waiting(ch->queue);
}

unsigned int fe_work_length(fe_child_t *ch)
{
    return fe_queue_length(ch->queue);
}

void fe_work_interrupt_all(fe_child_t *ch)
{
    fe_queue_interrupt_all(ch->queue);
}

void fe_work_interrupt_one(fe_child_t *ch)
{
    fe_queue_interrupt_one(ch->queue);
}

void fe_work_term(fe_child_t *ch)
{
    fe_queue_term(ch->queue);
    fe_kaset_leave(ch);
}

/* ------------------------------------------------------------ taking */

/* The keep-alive set's turn of fe_work_next(): APR_EAGAIN when the
 * caller should wait in the queue instead (the set failed). */
static apr_status_t fe_work_next_in_set(fe_child_t *ch, fe_work_t *w)
{
    while (!ch->ka.listener) {
        fe_kaset_wake_e wake = FE_KASET_KICKED;
        apr_status_t rv;

        rv = fe_queue_trypop(ch->queue, &w->item, &w->node);
        if (rv == APR_EAGAIN) {
            apr_atomic_inc32(&ch->ka.waiters);
            /* A sequentially consistent load: ordered after the increment
             * on weakly ordered CPUs too (see fe_kaset_all_seen()). */
            if (__atomic_load_n(&ch->ka.listener, __ATOMIC_SEQ_CST)) {
                apr_atomic_dec32(&ch->ka.waiters);
                return APR_EINTR;
            }
            rv = fe_queue_trypop(ch->queue, &w->item, &w->node); /* kick */
            if (rv == APR_EAGAIN) {
                wake = fe_kaset_wait(ch, &w->tag);
            }
            apr_atomic_dec32(&ch->ka.waiters);
        }
        if (rv != APR_EAGAIN) {
            /* More waiting than we take: pass the wakeup on. */
            if (rv == APR_SUCCESS && fe_queue_waiting(ch->queue) > 0) {
                fe_kaset_kick(ch);
            }
            return rv;
        }
        switch (wake) {
        case FE_KASET_READY:
            return APR_SUCCESS;
        case FE_KASET_KICKED:
            continue;            /* the queue has something */
        case FE_KASET_FAILED:
            return APR_EAGAIN;   /* this worker waits in the queue now */
        default:
            /* Timeout, signal, or the child stops: the caller looks
             * whether this worker may leave, then calls again. */
            return APR_EINTR;
        }
    }
    return APR_EAGAIN;
}

apr_status_t fe_work_next(fe_child_t *ch, fe_work_t *w)
{
    apr_status_t rv;

    w->item = NULL;
    w->node = NULL;
    w->tag = 0;
    if (ch->ka.ep >= 0) {
        rv = fe_work_next_in_set(ch, w);
        if (rv != APR_EAGAIN) {
            return rv;
        }
    }
    return fe_queue_pop(ch->queue, &w->item, &w->node);
}

/* ------------------------------------------------------------ holds */

/* Longest keep-alive hold: past this the client is thinking, not
 * answering, and the connection is parked with the listener. */
#define FE_HOLD_MAX_MS 50

/* The child stops: every holder gives its connection back now, and
 * nobody holds again (fe_hold_allowed sees the stop).  The byte is never
 * read: the pipe stays readable for good. */
void fe_hold_stop_all(fe_child_t *ch)
{
    char b = 0;

    if (ch->hold.pipe[1] >= 0
        && apr_atomic_cas32(&ch->hold.stop, 1, 0) == 0
        && write(ch->hold.pipe[1], &b, 1) < 0) {
        /* cannot fail with an empty pipe; nothing to do if it did */
    }
}

/* After every push to the worker queue: when more entries wait than idle
 * workers will take, call back as many holders as are missing (one byte
 * each in the pipe), minus the calls still on their way. */
static void fe_hold_check(fe_child_t *ch)
{
    /* A read-modify-write, not a plain load: a full barrier after the
     * caller's push (see fe_hold()). */
    unsigned int holders = apr_atomic_add32(&ch->hold.holders, 0);
    unsigned int n;

    if (holders == 0 || ch->hold.stop) {
        return;
    }
    n = fe_hold_recall(holders, fe_work_idlers(ch),
                       fe_queue_waiting(ch->queue),
                       apr_atomic_read32(&ch->hold.calls));
    if (n > 0) {
        char bytes[64] = { 0 };
        ssize_t put;

        if (n > sizeof bytes) {
            n = sizeof bytes;
        }
        apr_atomic_add32(&ch->hold.calls, n);
        put = write(ch->hold.pipe[1], bytes, n);
        if (put < (ssize_t)n) {
            apr_atomic_sub32(&ch->hold.calls, n - (put > 0 ? put : 0));
        }
    }
}

/* A holder woke on the pipe: 1 when it must give its connection back
 * (the child stops, or it took one call-back byte); 0 when another holder
 * took the byte first. */
static int fe_hold_called(fe_child_t *ch)
{
    char b;

    if (ch->hold.stop || ch->stop.dying || ch->stop.workers_may_exit) {
        return 1;
    }
    if (read(ch->hold.pipe[0], &b, 1) == 1) {
        if (ch->hold.stop && write(ch->hold.pipe[1], &b, 1) < 0) {
            /* we took the stop byte: it goes back for the others */
        }
        apr_atomic_dec32(&ch->hold.calls);
        fe_metrics_hold(ch->metrics, FE_HOLD_PREEMPT);
        return 1;
    }
    return 0;
}

int fe_hold_wait(fe_child_t *ch, int fd, apr_interval_time_t wait,
                 apr_time_t idle_since, int tid)
{
    fe_hold_facts_t f;
    struct pollfd pfd[3];
    apr_time_t until;
    unsigned int lingering;
    int hit = 0;

    if (ch->hold.pipe[0] < 0) {
        return 0;
    }
    /* Count ourselves first, then look at the queue: a pusher does the
     * opposite (push, then fe_hold_check() reads holders), and the atomic
     * read-modify-writes on both sides order these, so one of us sees
     * the other -- no entry is left waiting for a holder nobody calls. */
    apr_atomic_inc32(&ch->hold.holders);
    f.threads = ch->wk.started;
    f.idle = fe_work_idlers(ch);
    f.waiting = fe_queue_waiting(ch->queue);
    f.conns = apr_atomic_read32(&ch->count.conns);
    lingering = apr_atomic_read32(&ch->count.lingering);
    f.conns = f.conns > lingering ? f.conns - lingering : 0;
    f.stopping = ch->hold.stop || ch->stop.dying || ch->stop.workers_may_exit;
    if (!fe_hold_allowed(&f)) {
        apr_atomic_dec32(&ch->hold.holders);
        return 0;
    }
    if (wait > apr_time_from_msec(FE_HOLD_MAX_MS)) {
        wait = apr_time_from_msec(FE_HOLD_MAX_MS);
    }
    until = idle_since + wait;
    pfd[0].fd = fd;
    pfd[0].events = POLLIN;
    pfd[1].fd = ch->hold.pipe[0];
    pfd[1].events = POLLIN;
    /* A connection ready in the ka set while no worker waits there: this
     * holder is the one idle worker left, so it goes. */
    pfd[2].fd = ch->ka.ep;       /* -1 when off: poll() skips it */
    pfd[2].events = POLLIN;
    ch->wk.busy_since[tid] = 0;
    for (;;) {
        apr_time_t now = apr_time_now();
        int n;

        if (now >= until) {
            break;
        }
        n = poll(pfd, 3, (int)((until - now + 999) / 1000));
        if (n > 0 && pfd[0].revents != 0) {
            hit = 1;
            break;
        }
        if (n > 0 && pfd[2].revents != 0) {
            if (apr_atomic_read32(&ch->ka.waiters) == 0) {
                fe_metrics_hold(ch->metrics, FE_HOLD_PREEMPT);
                break;
            }
            pfd[2].fd = -1;      /* a waiter takes it: not our business */
        }
        if (n > 0 && pfd[1].revents != 0 && fe_hold_called(ch)) {
            break;
        }
        if (n < 0 && errno != EINTR) {
            break;
        }
    }
    apr_atomic_dec32(&ch->hold.holders);
    ch->wk.busy_since[tid] = apr_time_now();
    fe_metrics_hold(ch->metrics, hit ? FE_HOLD_HIT : FE_HOLD_MISS);
    return hit;
}
