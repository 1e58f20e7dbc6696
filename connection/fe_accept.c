/*
 * fe_accept.c: taking new connections, on the listener thread.
 *
 * Owns: this child's listening sockets in the pollset, and whether they
 * are there (accepting, a capacity pause, or a quiet deferral to a sibling
 * with more room); the accept capacity as the workers' state makes it
 * (stuck workers, the fresh cap and its eviction, the overflow when every
 * process is full); accepting itself (accept(), MaxConnectionsPerChild);
 * a new connection's first steps: the listener collects its request head
 * (fe_headbuf.c) while it waits in the fresh queue, holding no worker.
 * The decisions are policy/fe_connstate.c's (pure); this file counts and
 * acts.
 *
 * Must not: block (accept and the head reads are non-blocking), or run
 * connection hooks: a connection leaves for a worker (fe_park_dispatch).
 */
#include "mpm_fastevent.h"
#include "connection/fe_accept.h"
#include "connection/fe_conn.h"
#include "connection/fe_headbuf.h"
#include "connection/fe_park.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "process/fe_child.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"

#include <apr_atomic.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Whether the listening sockets are in the pollset, and why not. */
typedef enum fe_accepting {
    FE_ACCEPT_ON,             /**< accepting */
    FE_ACCEPT_DEFER,          /**< a quiet deferral to a sibling with
                                   more room (fe_balance) */
    FE_ACCEPT_PAUSE           /**< a pause for capacity: counted, shown
                                   in the scoreboard, logged */
} fe_accepting_e;


/* Accept at most this many connections per readiness event. */
#define FE_ACCEPT_BATCH 16

apr_status_t fe_accept_setup(fe_child_t *ch)
{
    ap_listen_rec *lr;
    int i = 0;

    for (lr = fe_g.buckets[ch->bucket]; lr; lr = lr->next) {
        ch->acc.n++;
    }
    ch->acc.pfds = apr_pcalloc(ch->pruntime,
                                  ch->acc.n * sizeof *ch->acc.pfds);
    for (lr = fe_g.buckets[ch->bucket]; lr; lr = lr->next, i++) {
        apr_pollfd_t *pfd = &ch->acc.pfds[i];
        apr_status_t rv;

        pfd->desc_type = APR_POLL_SOCKET;
        pfd->desc.s = lr->sd;
        pfd->reqevents = APR_POLLIN;
        pfd->client_data = lr;
        lr->accept_func = ap_unixd_accept;   /* EAGAIN -> no socket */
        apr_socket_opt_set(lr->sd, APR_SO_NONBLOCK, 1);
        rv = apr_pollset_add(ch->pollset, pfd);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10131)
                         "apr_pollset_add() failed for a listening socket");
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* Log a pause for capacity while running (not the stop, not a deferral
 * to a sibling): worth an admin's attention, once a minute per child; the
 * resume that follows is logged with it. */
static void fe_log_pause(fe_child_t *ch, fe_accepting_e how)
{
    int on = how == FE_ACCEPT_ON;

    if (ch->stop.listener_may_exit
        || !(on ? ch->acc.pause_logged
                : how == FE_ACCEPT_PAUSE
                  && ch->loop_now - ch->acc.pause_logged_at
                     >= apr_time_from_sec(60))) {
        return;
    }
    ch->acc.pause_logged = !on;
    ch->acc.pause_logged_at = on ? ch->acc.pause_logged_at : ch->loop_now;
    if (on) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10134)
                     "Accepting new connections again: %u active conns "
                     "(%u lingering/0 clogged/%u suspended), %u idle "
                     "workers (%u without a whole request head)",
                     apr_atomic_read32(&ch->count.conns),
                     apr_atomic_read32(&ch->count.lingering),
                     apr_atomic_read32(&ch->count.suspended),
                     fe_work_idlers(ch), ch->park.fresh_count);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10210)
                 "Too many open connections (%u), not accepting new conns in "
                 "this process: %u lingering, %u without a whole request "
                 "head, %u of %d workers stuck in long requests; a child "
                 "takes connections while fewer than (workers not stuck) x "
                 "(AsyncRequestWorkerFactor %g + 1) with a request are open, "
                 "at most %u, and %u without (other children or the kernel's "
                 "backlog take new connections meanwhile; if this repeats, "
                 "raise MaxRequestWorkers or AsyncRequestWorkerFactor)",
                 apr_atomic_read32(&ch->count.conns),
                 apr_atomic_read32(&ch->count.lingering),
                 ch->park.fresh_count, ch->acc.stuck, ch->wk.started,
                 fe_g.lim.worker_factor, ch->acc.hard_cap,
                 ch->acc.fresh_cap);
}

static void fe_set_accepting(fe_child_t *ch, fe_accepting_e how)
{
    int i, on = how == FE_ACCEPT_ON;

    if (ch->acc.closed) {
        return;
    }
    if (on == !ch->acc.disabled) {
        if (how == FE_ACCEPT_PAUSE && ch->acc.quiet_pause) {
            /* a deferral became a capacity pause: show and count it */
            ch->acc.quiet_pause = 0;
            fe_sb_set_accepting(ch, FE_SB_NOT_ACCEPTING);
            fe_metrics_paused(ch->metrics);
        }
        return;
    }
    ch->acc.quiet_pause = how == FE_ACCEPT_DEFER;
    for (i = 0; i < ch->acc.n; i++) {
        if (on) {
            apr_pollset_add(ch->pollset, &ch->acc.pfds[i]);
        }
        else {
            apr_pollset_remove(ch->pollset, &ch->acc.pfds[i]);
        }
    }
    ch->acc.disabled = !on;
    /* A deferral leaves the scoreboard's "accepting" alone: the parent
     * counts this child's idle workers (it has room to spare through its
     * siblings), and no sibling defers to a child with no room anyway. */
    if (how == FE_ACCEPT_ON) {
        fe_sb_set_accepting(ch, FE_SB_ACCEPTING);
        fe_metrics_resumed(ch->metrics);
    }
    else if (how == FE_ACCEPT_PAUSE) {
        fe_sb_set_accepting(ch, FE_SB_NOT_ACCEPTING);
        fe_metrics_paused(ch->metrics);
    }
    fe_log_pause(ch, how);
}

/*
 * Workers that have run one item for more than FE_STUCK_AFTER (a long
 * download, a slow backend, a client trickling its request head) cannot
 * take a new connection soon, so they do not count toward what this child
 * may accept; and while any are stuck, a child whose ready connections
 * already outnumber its idle workers takes no more: they would wait
 * behind the stuck ones while other children have workers free.  Counted
 * at most every FE_STUCK_RECOUNT.
 *
 * A worker that is running, or ready to run and waiting for a CPU, is not
 * stuck: it is busy with work of its own and frees itself as soon as it
 * gets CPU time.  On a machine whose CPUs are all busy, requests of a few
 * microseconds' CPU can take 100 ms of wall time; counting those workers
 * as stuck paused every child with a fraction of its connections while
 * hundreds waited in the kernel's backlog (docs/performance.md,
 * Anomalies).  Linux: the state letter of the thread's /proc stat line,
 * read only for workers already past FE_STUCK_AFTER; elsewhere, or when
 * it cannot be read, the worker counts as stuck.
 */
#define FE_STUCK_AFTER   apr_time_from_msec(100)

#define FE_STUCK_RECOUNT apr_time_from_msec(50)

static int fe_worker_running(fe_child_t *ch, int i)
{
#ifdef __linux__
    char path[64], line[512];
    int tid = ch->wk.tids[i];

    if (tid <= 0) {
        return 0;
    }
    apr_snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    if (fe_proc_read(path, line, sizeof line) < 0) {
        return 0;
    }
    return fe_task_state_running(line);
#else
    (void)ch;
    (void)i;
    return 0;
#endif
}

static unsigned int fe_stuck_workers(fe_child_t *ch, apr_time_t now)
{
    unsigned int n = 0;
    int i;

    if (now - ch->acc.stuck_checked < FE_STUCK_RECOUNT
        && now >= ch->acc.stuck_checked) {
        return ch->acc.stuck;
    }
    for (i = 0; i < ch->wk.n; i++) {
        apr_time_t since = ch->wk.busy_since[i];

        n += since != 0 && now - since > FE_STUCK_AFTER
             && !fe_worker_running(ch, i);
    }
    ch->acc.stuck = n;
    ch->acc.stuck_checked = now;
    return n;
}

/* Is there nothing at all to read on this socket yet (or only EOF)? */
static int fe_really_silent(fe_conn_t *cs)
{
    int fd = fe_sock_fd(cs->sock);
    char c;

    return fd >= 0 && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0
           && (errno == EAGAIN || errno == EWOULDBLOCK || errno == 0);
}

/*
 * At the fresh cap, make room by closing the new connection that has
 * waited longest for its request head, for FE_EVICT_AFTER at least (a
 * client may take a moment between connect() and its first write).  The
 * oldest may have bytes in the socket not yet seen by the listener, and
 * closing it would reset the client: so the few oldest are checked with a
 * non-blocking peek and only one with nothing to read is closed.  Returns
 * 1 when one was evicted.  Runs only at the cap.
 */
#define FE_EVICT_LOOK 8

/* A client may take a moment between connect() and its first write. */
#define FE_EVICT_AFTER apr_time_from_msec(250)

static int fe_evict_fresh(fe_child_t *ch)
{
    fe_conn_t *cs = NULL;
    fe_tq_node_t *n;
    int looked = 0;

    apr_thread_mutex_lock(ch->park.mutex);
    for (n = ch->park.fresh_q.head; n != NULL && looked < FE_EVICT_LOOK;
         n = n->next, looked++) {
        fe_conn_t *cand = fe_conn_of_tq(n);

        if (n->stamp + FE_EVICT_AFTER > ch->loop_now) {
            break;                       /* the rest are younger still */
        }
        errno = 0;
        if (fe_really_silent(cand)) {
            cs = cand;
            fe_unpark_locked(ch, cs);
            cs->kill = FE_KILL_CLOSE;
            ch->acc.evicted++;
            break;
        }
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    if (cs == NULL) {
        return 0;
    }
    fe_park_dispatch(ch, cs);
    return 1;
}

/* 1 once a listening socket of ours has had a connection waiting for
 * @a stuck (a zero-timeout poll: the sockets are out of our pollset while
 * we pause or defer, and are looked at on the listener's passes).
 * FE_BACKLOG_STUCK at the accept limit (fe_accept_overflow());
 * FE_DEFER_STUCK while deferring, looked at every FE_BALANCE_EVERY: a
 * sibling that listens takes a connection within microseconds, so one
 * still there two looks later is not being taken (the sibling's row was
 * stale: it paused, or deferred to us in turn). */
#define FE_BACKLOG_STUCK apr_time_from_msec(100)
#define FE_DEFER_STUCK   apr_time_from_msec(20)

static int fe_backlog_stuck_since(fe_child_t *ch, apr_time_t *since,
                                  apr_time_t now, apr_time_t stuck)
{
    struct pollfd pfd[8];
    int i, n = ch->acc.n < 8 ? ch->acc.n : 8;

    for (i = 0; i < n; i++) {
        pfd[i].fd = fe_sock_fd(ch->acc.pfds[i].desc.s);
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    if (n == 0 || poll(pfd, (nfds_t)n, 0) <= 0) {
        *since = 0;
        return 0;
    }
    if (*since == 0) {
        *since = now;
        return 0;
    }
    return now - *since >= stuck;
}

/* 1 when this generation already runs as many accepting-capable
 * processes as MaxRequestWorkers allows (per listener bucket): the
 * parent will not add one for connections waiting in the backlog. */
static int fe_no_more_processes(fe_child_t *ch)
{
    return fe_sb_bucket_processes(ch)
           >= fe_g.lim.active_daemons_limit / fe_g.num_buckets;
}

static int fe_may_accept(fe_child_t *ch)
{
    apr_time_t now = apr_time_now();
    unsigned int stuck = fe_stuck_workers(ch, now);
    unsigned int waiting;
    fe_accept_facts_t f;

    if ((unsigned int)ch->wk.started <= stuck) {
        return 0;     /* no worker free soon (or none started yet) */
    }
    if (stuck > 0
        && fe_work_length(ch) >= fe_work_idlers(ch) + 1) {
        return 0;     /* work already waits here without a worker */
    }
    /* New connections without a whole request head hold no worker: they
     * count against the fresh cap only; at that cap the one silent
     * longest makes room. */
    if (ch->park.fresh_count >= ch->acc.fresh_cap && !fe_evict_fresh(ch)) {
        return 0;
    }
    f.conns = apr_atomic_read32(&ch->count.conns);
    f.conns -= f.conns > ch->park.fresh_count ? ch->park.fresh_count
                                              : f.conns;
    /* A stuck worker's own connection counts with it, out of both sides
     * of the rule: with 9 of 10 workers in websocket tunnels the free one
     * still takes (AsyncRequestWorkerFactor + 1) connections. */
    f.conns -= f.conns > stuck ? stuck : f.conns;
    /* So do proxied requests waiting for a place (fe_backend.c): they
     * hold no worker and take one only when a stuck one leaves; counting
     * them would stop this child from taking the very requests the
     * reserve keeps its workers for.  The hard cap still bounds them. */
    waiting = apr_atomic_read32(&ch->backend.waiting);
    f.conns -= f.conns > waiting ? waiting : f.conns;
    f.lingering = apr_atomic_read32(&ch->count.lingering);
    /* The workers really running: in a slot taken over from a draining
     * process some start only as its threads leave their rows. */
    f.threads = ch->wk.started - stuck;
    f.factor = fe_g.lim.worker_factor;
    f.hard_cap = ch->acc.hard_cap;
    f.disabled = ch->acc.disabled;
    if (fe_accept_allowed(&f)) {
        ch->acc.overflow_since = 0;
        return 1;
    }
    /* At the limit: still take what waits in the backlog when every
     * process is full, the parent cannot start another, and this one's
     * workers are mostly idle (idle keep-alive connections cost a
     * descriptor, not a worker). */
    if (!fe_no_more_processes(ch)) {
        ch->acc.overflow_since = 0;
        return 0;
    }
    return fe_accept_overflow(&f, fe_work_idlers(ch),
                              fe_backlog_stuck_since(ch,
                                                     &ch->acc.overflow_since,
                                                     now, FE_BACKLOG_STUCK));
}

/* 1 when this child leaves new connections to a sibling now (a quiet
 * pause, re-checked every FE_BALANCE_EVERY), so connections
 * spread over the children and each can keep a worker (fe_hold). */
static int fe_balance(fe_child_t *ch, apr_time_t now)
{
    unsigned int conns = apr_atomic_read32(&ch->count.conns);
    /* New connections still without a request head count: a burst of
     * them (wrk or a proxy opening its pool, TLS handshakes still under
     * way) would otherwise all land in the child that woke first, and
     * the siblings' rows count them too (fe_sb_sibling_room()). */
    unsigned int skip = apr_atomic_read32(&ch->count.lingering)
                        + apr_atomic_read32(&ch->count.suspended);

    if (fe_g.lim.server_limit < 2 || ch->stop.listener_may_exit
        || now < ch->acc.defer_off_until) {
        ch->acc.backlog_since = 0;
        return ch->acc.deferring = 0;
    }
    /* The siblings' rows, and while deferring our backlog (a system
     * call), are looked at every FE_BALANCE_EVERY, not on every pass. */
    if (now - ch->acc.sibling_at >= FE_BALANCE_EVERY
        || now < ch->acc.sibling_at) {
        ch->acc.sibling_room = fe_sb_sibling_room(ch);
        ch->acc.sibling_at = now;
        if (ch->acc.deferring
            && fe_backlog_stuck_since(ch, &ch->acc.backlog_since, now,
                                      FE_DEFER_STUCK)) {
            /* Connections wait in the backlog and the sibling does not
             * take them (not listening yet, stopping, stuck): accept
             * again, and do not defer for a second. */
            ch->acc.defer_off_until = now + apr_time_from_sec(1);
            ch->acc.backlog_since = 0;
            return ch->acc.deferring = 0;
        }
    }
    /* Both rooms against ThreadsPerChild, as fe_sb_sibling_room() measures
     * the siblings' (a child still starting workers after a takeover
     * would otherwise look fuller to itself than to the others, and two
     * children could defer to each other). */
    ch->acc.deferring = fe_accept_defer(conns > skip ? conns - skip : 0,
                                        (unsigned int)ch->wk.n,
                                        ch->acc.sibling_room,
                                        ch->acc.deferring);
    if (!ch->acc.deferring) {
        ch->acc.backlog_since = 0;
    }
    return ch->acc.deferring;
}

void fe_accept_close(fe_child_t *ch)
{
    fe_set_accepting(ch, FE_ACCEPT_PAUSE);
    ap_close_listeners_ex(fe_g.buckets[ch->bucket]);
    ch->acc.closed = 1;
}

static fe_conn_t *fe_conn_alloc(fe_child_t *ch, apr_pool_t *p,
                                apr_socket_t *sock, int head_wait)
{
    fe_conn_t *cs = apr_pcalloc(p, sizeof *cs);

    cs->p = p;
    cs->sock = sock;
    cs->child = ch;
    cs->fresh = 1;
    cs->head_wait = head_wait != 0;
    cs->accepted_at = ch->loop_now;
    cs->pub.state = CONN_STATE_PROCESSING;
    cs->resume_state = CONN_STATE_PROCESSING;
    cs->pfd.desc_type = APR_POLL_SOCKET;
    cs->pfd.desc.s = sock;
    cs->pfd.reqevents = APR_POLLIN | APR_POLLHUP | APR_POLLERR;
    cs->pfd.client_data = cs;
    fe_conn_track(cs);                  /* counted until its pool clears */
    return cs;
}

/*
 * A new connection sent something, or was just accepted (@a parked 0):
 * collect its head; hand it to a worker once the head is complete, or
 * with a close order when the client went away without a byte.  An
 * incomplete head waits (again) in the fresh queue, holding no worker.
 */
static void fe_fresh_input(fe_child_t *ch, fe_conn_t *cs, int parked)
{
    int r = fe_head_read(cs);

    if (r == FE_HEAD_WAIT) {
        if (!parked) {
            fe_park_fresh(ch, cs);
        }
        return;
    }
    if (parked) {
        apr_thread_mutex_lock(ch->park.mutex);
        fe_unpark_locked(ch, cs);
        apr_thread_mutex_unlock(ch->park.mutex);
    }
    if (r == FE_HEAD_CLOSE) {
        cs->kill = FE_KILL_CLOSE;
    }
    fe_park_dispatch(ch, cs);
}

static void fe_accept_one(fe_child_t *ch, ap_listen_rec *lr, int *more)
{
    apr_pool_t *p = fe_pool_get(ch);
    void *csd = NULL;
    apr_status_t rv;

    *more = 0;
    if (p == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, APR_ENOMEM, ch->s, FELOGNO(10211)
                     "Failed to create transaction pool: out of memory with "
                     "%u connections open; this child stops gracefully",
                     apr_atomic_read32(&ch->count.conns));
        ch->stop.resource_shortage = 1;
        fe_child_signal_stop(ch, FE_STOP_GRACEFUL);
        return;
    }
    rv = lr->accept_func(&csd, lr, p);
    if (rv == APR_EGENERAL) {
        /* EMFILE/ENFILE/ENOBUFS...: ap_unixd_accept logged the cause. */
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, ch->s, FELOGNO(10135)
                     "accept() failed for lack of resources with %u "
                     "connections open: this child stops gracefully; raise "
                     "the open files limit (ulimit -n / LimitNOFILE=) or "
                     "lower AsyncRequestWorkerFactor",
                     apr_atomic_read32(&ch->count.conns));
        ch->stop.resource_shortage = 1;
        fe_pool_put(ch, p);
        fe_child_signal_stop(ch, 1);
        return;
    }
    if (csd == NULL) {
        fe_pool_put(ch, p);     /* EAGAIN: another process took it */
        return;
    }
    apr_atomic_inc32(&ch->count.conns);
    fe_metrics_accepted(ch->metrics);
    if (fe_head_wanted(lr)) {
        /* With TCP_DEFER_ACCEPT (AcceptFilter data) the head is often in
         * already: then it never touches the pollset. */
        fe_fresh_input(ch, fe_conn_alloc(ch, p, csd, 1), 0);
    }
    else {
        fe_park_dispatch(ch, fe_conn_alloc(ch, p, csd, 0));  /* as stock */
    }
    if (ch->acc.conns_left > 0 && --ch->acc.conns_left == 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->s, FELOGNO(10136)
                     "MaxConnectionsPerChild %d reached: this child stops "
                     "gracefully and will be replaced",
                     ap_max_requests_per_child);
        fe_child_signal_stop(ch, FE_STOP_GRACEFUL);
        return;
    }
    *more = 1;
}

void fe_accept_ready(fe_child_t *ch, ap_listen_rec *lr)
{
    int i, more = 1;

    for (i = 0; i < FE_ACCEPT_BATCH && more; i++) {
        if (ch->stop.listener_may_exit || ch->acc.disabled) {
            return;
        }
        if (!fe_may_accept(ch)) {
            fe_set_accepting(ch, FE_ACCEPT_PAUSE);
            return;
        }
        if (fe_balance(ch, ch->loop_now)) {
            /* a burst: leave the rest to a sibling */
            fe_set_accepting(ch, FE_ACCEPT_DEFER);
            return;
        }
        fe_accept_one(ch, lr, &more);
    }
}

/*
 * Connections closed at the header deadline with part of a request head
 * in: slow clients, or a slowloris attack.  They never held a worker; the
 * admin hears of them at most once a minute per child, with the count.
 */
#define FE_SLOW_LOG_EVERY apr_time_from_sec(60)

void fe_accept_log_slow(fe_child_t *ch, apr_time_t now)
{
    if ((ch->acc.slow_heads == 0 && ch->acc.evicted == 0)
        || (ch->acc.slow_logged_at != 0
            && now - ch->acc.slow_logged_at < FE_SLOW_LOG_EVERY)) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10139)
                 "ended %u connection(s) that had sent only part of a "
                 "request head by the header deadline (%" APR_TIME_T_FMT
                 " s after connecting, up to %" APR_TIME_T_FMT " s while "
                 "bytes keep coming: RequestReadTimeout header=, or Timeout "
                 "without mod_reqtimeout), and closed %u silent or "
                 "incomplete one(s) to make room at the cap of %u such "
                 "connections (slow clients, or a slowloris or "
                 "silent-connection flood; none held a worker)",
                 ch->acc.slow_heads, apr_time_sec(fe_g.head_deadline.timeout),
                 apr_time_sec(fe_g.head_deadline.max), ch->acc.evicted,
                 ch->acc.fresh_cap);
    ch->acc.slow_heads = 0;
    ch->acc.evicted = 0;
    ch->acc.slow_logged_at = now;
}

void fe_accept_update(fe_child_t *ch, apr_time_t now)
{
    if (!fe_may_accept(ch)) {
        fe_set_accepting(ch, FE_ACCEPT_PAUSE);
    }
    else {
        fe_set_accepting(ch, fe_balance(ch, now) ? FE_ACCEPT_DEFER
                                                 : FE_ACCEPT_ON);
    }
}

void fe_accept_fresh_ready(fe_child_t *ch, fe_conn_t *cs)
{
    fe_fresh_input(ch, cs, 1);
}
