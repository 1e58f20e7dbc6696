/*
 * fe_listener.c: the listener thread of a child process.
 *
 * Owns the pollset.  It holds the listening sockets and every connection
 * that waits for the network (keep-alive, write completion, wait-io,
 * lingering close; fe_park.c puts them there).  One loop iteration: poll;
 * accept on ready listeners (fe_accept.c); hand ready connections to the
 * workers; expire the timeout queues; enable or disable accepting;
 * publish the counters to the scoreboard.
 *
 * Workers add their own connections to the pollset and timeout queues
 * (fe_park(), under park.mutex); only this thread removes them, so an
 * event returned by poll always refers to a connection that is still
 * parked.
 *
 * Must not: block (its socket I/O is non-blocking: accept, reading new
 * connections' request heads, draining lingering closes), or run
 * connection hooks: a connection that must be closed after a timeout is
 * handed to a worker with a kill order.  The one pool it clears is that
 * of a lingering connection that reached EOF (its cleanups only).
 */
#include "mpm_fastevent.h"
#include "connection/fe_accept.h"
#include "connection/fe_conn.h"
#include "connection/fe_headbuf.h"
#include "connection/fe_listener.h"
#include "connection/fe_park.h"
#include "connection/fe_timer.h"
#include "connection/fe_trim.h"
#include "fdqueue/fe_kaset.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "process/fe_child.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"

#include <apr_atomic.h>

#include <sys/socket.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

/* Poll at least this often while something needs re-checking. */
#define FE_RECHECK_INTERVAL apr_time_from_msec(100)

static apr_status_t fe_create_pollset(fe_child_t *ch, apr_uint32_t size)
{
    apr_uint32_t flags = APR_POLLSET_THREADSAFE | APR_POLLSET_NOCOPY;
    apr_status_t rv;

    rv = apr_pollset_create(&ch->pollset, size, ch->pruntime,
                            flags | APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        ch->wakeable = 1;
        return rv;
    }
    rv = apr_pollset_create(&ch->pollset, size, ch->pruntime, flags);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10130)
                     "apr_pollset_create with Thread Safety failed: "
                     "apr_pollset_create() for %u descriptors; check the "
                     "open files limit (ulimit -n)", size);
    }
    return rv;
}

apr_status_t fe_listener_setup(fe_child_t *ch)
{
    apr_status_t rv;

    rv = fe_create_pollset(ch, ch->acc.hard_cap + ch->acc.fresh_cap + 64);
    if (rv == APR_SUCCESS) {
        rv = fe_accept_setup(ch);
    }
    return rv;
}

void fe_listener_wakeup(fe_child_t *ch)
{
    if (ch->pollset != NULL && ch->wakeable) {
        apr_pollset_wakeup(ch->pollset);
    }
}

/* ------------------------------------------------------------ dispatch */

/*
 * A parked lingering close became readable: drain it here (a few reads
 * at most) and close it at EOF, instead of handing it to a worker for a
 * read or two.  Returns 1 when it was handled (closed, or still parked
 * waiting for more); 0 when the client keeps sending and a worker should
 * drain it.  Parked connections are the listener's alone, so no lock is
 * held while reading.
 */
#define FE_LINGER_READS 4

static int fe_linger_here(fe_child_t *ch, fe_conn_t *cs)
{
    switch (fe_linger_discard(cs, FE_LINGER_READS)) {
    case FE_DRAIN_WAIT:
        return 1;                        /* wait for more, still parked */
    case FE_DRAIN_MORE:
        return 0;
    default:
        break;                           /* EOF or error: done */
    }
    apr_thread_mutex_lock(ch->park.mutex);
    fe_unpark_locked(ch, cs);
    apr_thread_mutex_unlock(ch->park.mutex);
    fe_conn_close(cs);                   /* clears its pool: cheap here */
    return 1;
}

static void fe_on_conn_ready(fe_child_t *ch, fe_conn_t *cs)
{
    apr_thread_mutex_lock(ch->park.mutex);
    if (!cs->in_pollset) {
        apr_thread_mutex_unlock(ch->park.mutex);
        return;
    }
    if (cs->fresh && cs->head_wait) {
        /* parked fresh connections are the listener's alone */
        apr_thread_mutex_unlock(ch->park.mutex);
        fe_accept_fresh_ready(ch, cs);
        return;
    }
    if (cs->pub.state == CONN_STATE_LINGER_NORMAL
        || cs->pub.state == CONN_STATE_LINGER_SHORT) {
        apr_thread_mutex_unlock(ch->park.mutex);
        if (fe_linger_here(ch, cs)) {
            return;
        }
        apr_thread_mutex_lock(ch->park.mutex);
    }
    fe_unpark_locked(ch, cs);
    apr_thread_mutex_unlock(ch->park.mutex);
    cs->pub.state = cs->resume_state;
    fe_park_dispatch(ch, cs);
}

/* ------------------------------------------------------------ timeouts */

/* A due connection parked in the keep-alive set whose request came in
 * time but that no worker has claimed yet (every worker busy, or one
 * holds its event and waits for park.mutex): 1 when it has input
 * waiting.  Only looked at when a timeout expires. */
static int fe_ready_unclaimed(fe_conn_t *cs)
{
    char c;

    return cs->ka_parked
           && recv(fe_sock_fd(cs->sock), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Pre-condition: park.mutex held.  Moves due entries of q onto *kill
 * with the given kill order (none for fe_ready_unclaimed() ones, which
 * are run in their resume state). */
static unsigned int fe_expire_q(fe_child_t *ch, fe_tq_t *q, apr_time_t now,
                                fe_kill_e order, fe_conn_t **kill)
{
    unsigned int count = 0;
    fe_tq_node_t *n = fe_tq_expire(q, now, 0, &count);

    while (n != NULL) {
        fe_tq_node_t *next = n->next;
        fe_conn_t *cs = fe_conn_of_tq(n);
        int ready = fe_ready_unclaimed(cs);      /* before the disarm */

        fe_unpark_locked(ch, cs);
        if (ready) {
            cs->pub.state = cs->resume_state;   /* served, not killed */
            count--;
        }
        else {
            cs->kill = order;
        }
        cs->tq.next = (fe_tq_node_t *)*kill;   /* reuse the link */
        *kill = cs;
        n = next;
    }
    return count;
}

/* Pre-condition: park.mutex held.  The due entries of @a q, a queue of
 * new connections waiting for their request head: one whose deadline
 * grew with the bytes it sent (mod_reqtimeout's MinRate) waits on in
 * park.fresh_more; the others go onto *kill, to be closed (nothing sent)
 * or answered by the core (part of a head: FE_KILL_LATE).  @a now is the
 * clock (fe_ka_clock() once stopping). */
static unsigned int fe_expire_fresh(fe_child_t *ch, fe_tq_t *q,
                                    apr_time_t now, fe_conn_t **kill)
{
    unsigned int count = 0;
    fe_tq_node_t *n = fe_tq_expire(q, now, 0, NULL);

    while (n != NULL) {
        fe_tq_node_t *next = n->next;
        fe_conn_t *cs = fe_conn_of_tq(n);

        n->next = NULL;
        if (!fe_park_fresh_extend_locked(ch, cs, now)) {
            fe_unpark_locked(ch, cs);
            cs->kill = fe_head_partial(cs) ? FE_KILL_LATE : FE_KILL_CLOSE;
            cs->tq.next = (fe_tq_node_t *)*kill;   /* reuse the link */
            *kill = cs;
            count++;
        }
        n = next;
    }
    return count;
}

static apr_time_t fe_earlier(apr_time_t t, const fe_tq_t *q)
{
    apr_time_t e = fe_tq_next_expiry(q);

    return e < t ? e : t;
}

/*
 * When the child is stopping, idle keep-alive connections are closed once
 * they have been idle for FE_DYING_KA_GRACE (or their KeepAliveTimeout if
 * shorter), not at once: closing a connection the client is just reusing
 * makes its request fail, while a request arriving within the grace is
 * answered with "Connection: close" (the MPM state is STOPPING), which
 * every client handles cleanly.
 */
#define FE_DYING_KA_GRACE apr_time_from_sec(1)

static apr_time_t fe_ka_clock(const fe_child_t *ch, const fe_tq_t *q,
                              apr_time_t now)
{
    if (ch->stop.dying && q->timeout > FE_DYING_KA_GRACE) {
        return now + (q->timeout - FE_DYING_KA_GRACE);
    }
    return now;
}

/* Expire what is due, then plan the next wakeup.  Kill orders are handed
 * to workers outside the lock. */
static void fe_process_timeouts(fe_child_t *ch, apr_time_t now)
{
    fe_conn_t *kill = NULL;
    apr_time_t next = FE_TQ_NEVER;
    unsigned int ka = 0, io = 0, linger = 0;
    int i;

    /* Ready connections of the keep-alive set that no worker took yet go
     * to the queue first, so that no timeout below kills one whose
     * request is in. */
    if (ch->ka.ep >= 0 && !ch->ka.listener) {
        fe_park_ka_dispatch(ch);
    }
    apr_thread_mutex_lock(ch->park.mutex);
    if (ch->stop.dying) {
        ch->park.linger_q.timeout = ch->park.short_linger_q.timeout;
    }
    for (i = 0; i < ch->park.ka_qs.n; i++) {
        fe_tq_t *q = &ch->park.ka_qs.qs[i];

        ka += fe_expire_q(ch, q, fe_ka_clock(ch, q, now), FE_KILL_SHORT,
                          &kill);
        next = fe_earlier(next, &ch->park.ka_qs.qs[i]);
    }
    for (i = 0; i < ch->park.io_qs.n; i++) {
        io += fe_expire_q(ch, &ch->park.io_qs.qs[i], now, FE_KILL_LINGER,
                          &kill);
        next = fe_earlier(next, &ch->park.io_qs.qs[i]);
    }
    io += fe_expire_fresh(ch, &ch->park.fresh_q,
                          fe_ka_clock(ch, &ch->park.fresh_q, now), &kill);
    for (i = 0; i < ch->park.fresh_more.n; i++) {
        fe_tq_t *q = &ch->park.fresh_more.qs[i];

        io += fe_expire_fresh(ch, q, fe_ka_clock(ch, q, now), &kill);
    }
    /* Only now: an expired wait that goes on moved to another fresh_more
     * queue, maybe one this pass had already looked at. */
    next = fe_earlier(next, &ch->park.fresh_q);
    for (i = 0; i < ch->park.fresh_more.n; i++) {
        next = fe_earlier(next, &ch->park.fresh_more.qs[i]);
    }
    linger += fe_expire_q(ch, &ch->park.linger_q, now, FE_KILL_CLOSE, &kill);
    linger += fe_expire_q(ch, &ch->park.short_linger_q, now, FE_KILL_CLOSE,
                          &kill);
    next = fe_earlier(next, &ch->park.linger_q);
    ch->park.next_wakeup = fe_earlier(next, &ch->park.short_linger_q);
    apr_thread_mutex_unlock(ch->park.mutex);
    if (ka + io + linger) {
        fe_metrics_timeouts(ch->metrics, ka, io, linger);
    }

    while (kill != NULL) {
        fe_conn_t *cs = kill;

        kill = (fe_conn_t *)cs->tq.next;
        cs->tq.next = NULL;
        ch->acc.slow_heads += cs->kill == FE_KILL_LATE;
        fe_park_dispatch(ch, cs);
    }
    fe_accept_log_slow(ch, now);
    fe_trim_idle(ch, now);
}

/* ------------------------------------------------------------ the loop */

static apr_interval_time_t fe_poll_timeout(fe_child_t *ch, apr_time_t now)
{
    apr_time_t tick = fe_metrics_next_tick(ch), next;
    apr_interval_time_t t;

    /* Keep mod_status's connection counts true on a quiet child too:
     * while they lag, look again within a second. */
    if (ch->count.published != apr_atomic_read32(&ch->count.conns)
        && now + apr_time_from_sec(1) < tick) {
        tick = now + apr_time_from_sec(1);
    }
    next = fe_timers_plan(ch, tick < ch->park.next_wakeup
                              ? tick : ch->park.next_wakeup);
    if (next == FE_TQ_NEVER) {
        t = -1;
    }
    else {
        t = next > now ? next - now : 0;
        /* Round up to whole milliseconds: epoll cannot wait less. */
        t = (t + 999) / 1000 * 1000;
    }
    /* Connections left in the queue by pacing: count the running
     * workers again by the time one may be stale. */
    if (fe_work_pace_pending(ch) && (t < 0 || t > FE_PACE_STALE)) {
        t = FE_PACE_STALE;
    }
    if (!ch->wakeable || ch->acc.disabled || ch->stop.listener_may_exit) {
        if (t < 0 || t > FE_RECHECK_INTERVAL) {
            t = FE_RECHECK_INTERVAL;
        }
    }
    /* Deferring to a sibling (a quiet pause, not a capacity one):
     * nothing else may wake this thread (held keep-alive connections
     * never do), and the sibling's room was read from its row up to
     * FE_BALANCE_EVERY ago. */
    if (ch->acc.disabled && ch->acc.quiet_pause
        && (t < 0 || t > FE_BALANCE_EVERY)) {
        t = FE_BALANCE_EVERY;
    }
    return t;
}

static ap_listen_rec *fe_listener_of(fe_child_t *ch, void *client_data)
{
    int i;

    for (i = 0; i < ch->acc.n; i++) {
        if (ch->acc.pfds[i].client_data == client_data) {
            return client_data;
        }
    }
    return NULL;
}

static void fe_handle_events(fe_child_t *ch, const apr_pollfd_t *out,
                             apr_int32_t n)
{
    apr_int32_t i;

    for (i = 0; i < n; i++) {
        ap_listen_rec *lr;

        if (out[i].client_data == &ch->ka.pfd) {
            fe_park_ka_dispatch(ch);
            continue;
        }
        lr = fe_listener_of(ch, out[i].client_data);
        if (lr != NULL) {
            fe_accept_ready(ch, lr);
        }
        else {
            fe_on_conn_ready(ch, out[i].client_data);
        }
    }
}

/* The child stops: no more accepts, holds or waits in the keep-alive
 * set; the listener watches that set from now on, so a request arriving
 * on an idle connection during the stop is still answered. */
static void fe_listener_begin_stop(fe_child_t *ch)
{
    fe_accept_close(ch);
    ch->stop.dying = 1;
    fe_sb_set_quiescing(ch);
    fe_sb_all_workers(ch, SERVER_GRACEFUL);
    fe_hold_stop_all(ch);
    if (ch->ka.ep >= 0 && !ch->ka.listener) {
        if (apr_pollset_add(ch->pollset, &ch->ka.pfd) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->s, FELOGNO(10201)
                         "could not watch the keep-alive poll set while "
                         "stopping: idle keep-alive connections are closed "
                         "at the end of their grace without being read");
        }
        fe_kaset_leave(ch);
    }
    fe_work_interrupt_all(ch);
}

/* Leave when stopping and, unless it is ungraceful, the last connection
 * is gone.  Returns 1 to leave the loop. */
static int fe_check_exit(fe_child_t *ch, apr_time_t now)
{
    if (!ch->stop.listener_may_exit) {
        return 0;
    }
    if (!ch->acc.closed) {
        fe_listener_begin_stop(ch);
        fe_process_timeouts(ch, now);   /* starts the keep-alive grace */
    }
    return ch->stop.ungraceful || apr_atomic_read32(&ch->count.conns) == 0;
}

void *APR_THREAD_FUNC fe_listener_thread(apr_thread_t *thd, void *data)
{
    fe_child_t *ch = data;
    apr_time_t now = apr_time_now();

#ifdef __linux__
    ch->listener_tid = (int)syscall(SYS_gettid);
#endif
    fe_sb_set_accepting(ch, FE_SB_ACCEPTING);
    ch->loop_now = now;
    while (!fe_check_exit(ch, now)) {
        const apr_pollfd_t *out = NULL;
        apr_int32_t n = 0;
        apr_status_t rv;

        rv = apr_pollset_poll(ch->pollset, fe_poll_timeout(ch, now), &n,
                              &out);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10138)
                         "apr_pollset_poll failed.  Attempting to shutdown "
                         "process gracefully (this child stops gracefully "
                         "and the parent starts another)");
            ch->stop.resource_shortage = 1;
            fe_child_signal_stop(ch, FE_STOP_GRACEFUL);
        }
        /* Before handling events: accepted and ready connections are
         * stamped with it (timeouts, hand-off latency). */
        now = apr_time_now();
        ch->loop_now = now;
        fe_work_pace(ch, now);
        if (rv == APR_SUCCESS) {
            fe_handle_events(ch, out, n);
        }
        fe_timers_dispatch(ch, now);
        if (now >= ch->park.next_wakeup || ch->stop.dying) {
            fe_process_timeouts(ch, now);
        }
        if (!ch->stop.listener_may_exit) {
            fe_accept_update(ch, now);
        }
        fe_sb_publish(ch, fe_tqset_count(&ch->park.ka_qs));
        fe_metrics_tick(ch, now);
    }
    fe_sb_publish(ch, 0);
    fe_work_term(ch);
    ch->stop.listener_done = 1;
    return NULL;
}
