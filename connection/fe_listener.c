/*
 * fe_listener.c: the listener thread of a child process.
 *
 * Owns the pollset.  It holds the listening sockets and every connection
 * that waits for the network (keep-alive, write completion, wait-io,
 * lingering close).  One loop iteration: poll; accept on ready listeners;
 * hand ready connections to the workers; expire the timeout queues;
 * enable or disable accepting; publish the counters to the scoreboard.
 *
 * Workers add their own connections to the pollset and timeout queues
 * (fe_conn_park, under tq_mutex); only this thread removes them, so an
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
#include "policy/fe_connstate.h"
#include "policy/fe_idlemem.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_main.h"
#include "ap_mpm.h"

#include <apr_atomic.h>
#include <apr_strings.h>

#include <poll.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Poll at least this often while something needs re-checking. */
#define FE_RECHECK_INTERVAL apr_time_from_msec(100)
/* Accept at most this many connections per readiness event. */
#define FE_ACCEPT_BATCH 16
/* Header deadline: longest wait for a new connection's request head. */
#define FE_HEAD_DEADLINE_SECS 20


static void fe_unpark_locked(fe_child_t *ch, fe_conn_t *cs);
static void fe_to_worker(fe_child_t *ch, fe_conn_t *cs);
static void fe_trim_idle(fe_child_t *ch, apr_time_t now);
static int fe_backlog_stuck_since(fe_child_t *ch, apr_time_t *since,
                                  apr_time_t now);

static void fe_tqset_init(fe_tqset_t *set, int cap, apr_pool_t *p)
{
    set->qs = apr_pcalloc(p, cap * sizeof *set->qs);
    set->n = 0;
    set->cap = cap;
}

/* Pre-condition: tq_mutex held (or single-threaded setup). */
fe_tq_t *fe_tqset_get(fe_tqset_t *set, apr_interval_time_t timeout)
{
    int i;

    for (i = 0; i < set->n; i++) {
        if (set->qs[i].timeout == timeout) {
            return &set->qs[i];
        }
    }
    if (set->n == set->cap) {
        return &set->qs[set->n - 1];   /* cannot happen: sized per vhost */
    }
    fe_tq_init(&set->qs[set->n], timeout);
    return &set->qs[set->n++];
}

static int fe_count_servers(void)
{
    server_rec *s;
    int n = 0;

    for (s = ap_server_conf; s != NULL; s = s->next) {
        n++;
    }
    return n;
}

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
                     "apr_pollset_create() failed for %u descriptors: "
                     "check the open files limit (ulimit -n)", size);
    }
    return rv;
}

static apr_status_t fe_setup_listen_pfds(fe_child_t *ch)
{
    ap_listen_rec *lr;
    int i = 0;

    for (lr = fe_g.buckets[ch->bucket]; lr; lr = lr->next) {
        ch->nlisten++;
    }
    ch->listen_pfds = apr_pcalloc(ch->pruntime,
                                  ch->nlisten * sizeof *ch->listen_pfds);
    for (lr = fe_g.buckets[ch->bucket]; lr; lr = lr->next, i++) {
        apr_pollfd_t *pfd = &ch->listen_pfds[i];
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

/* The runtime pool's allocator is locked: workers destroy transaction
 * pools (its children) while the listener creates them, and every
 * connection's pool and bucket allocator take their memory from it
 * (fe_pool_get()).  Its free list is capped at MaxMemFree per child. */
static apr_status_t fe_create_runtime_pool(fe_child_t *ch)
{
    apr_allocator_t *a;
    apr_thread_mutex_t *m;
    apr_status_t rv;

    rv = apr_allocator_create(&a);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_pool_create_ex(&ch->pruntime, ap_server_conf->process->pconf,
                            NULL, a);
    if (rv != APR_SUCCESS) {
        apr_allocator_destroy(a);
        return rv;
    }
    apr_allocator_owner_set(a, ch->pruntime);
    apr_allocator_max_free_set(a, ap_max_mem_free);
    apr_pool_tag(ch->pruntime, "pruntime");
    rv = apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT, ch->pruntime);
    if (rv == APR_SUCCESS) {
        apr_allocator_mutex_set(a, m);
    }
    return rv;
}

apr_status_t fe_listener_setup(fe_child_t *ch)
{
    int tpc = fe_g.lim.threads_per_child;
    int nserv = fe_count_servers();
    apr_status_t rv;

    ch->hold_pipe[0] = ch->hold_pipe[1] = -1;
    ch->ka_ep = ch->ka_kick = ch->ka_all = -1;
    rv = fe_create_runtime_pool(ch);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10132)
                     "could not create the child's runtime pool");
        return rv;
    }
    fe_hold_setup(ch);       /* optional: without it nobody holds */
    /* Lingering connections do not count against the accept limit, so leave
     * room for as many again; every connection is in at most one place
     * (pollset, queue or worker), so the queue never overflows. */
    ch->hard_cap = fe_child_conn_cap(tpc, fe_g.lim.worker_factor);
    ch->fresh_cap = fe_child_fresh_cap(tpc, fe_g.lim.worker_factor);
    rv = fe_queue_create(&ch->queue, ch->hard_cap + ch->fresh_cap + 16,
                         ch->pruntime);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&ch->tq_mutex, APR_THREAD_MUTEX_DEFAULT,
                                     ch->pruntime);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_mutex_create(&ch->pool_mutex,
                                     APR_THREAD_MUTEX_DEFAULT, ch->pruntime);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10133)
                     "could not create the worker queue or its mutexes");
        return rv;
    }
    fe_tqset_init(&ch->ka_qs, nserv + 1, ch->pruntime);
    fe_tqset_init(&ch->io_qs, nserv + 1, ch->pruntime);
    fe_tq_init(&ch->linger_q, apr_time_from_sec(FE_LINGER_SECS));
    fe_tq_init(&ch->short_linger_q, apr_time_from_sec(FE_SHORT_LINGER_SECS));
    /* A new connection waits here until its request head is in, holding
     * no worker: up to Timeout, and at most FE_HEAD_DEADLINE_SECS
     * (mod_reqtimeout's default header timeout) from accept, so a flood of
     * silent or trickling (slowloris) connections costs descriptors, not
     * workers. */
    fe_tq_init(&ch->fresh_q, ap_server_conf->timeout
                             < apr_time_from_sec(FE_HEAD_DEADLINE_SECS)
                             ? ap_server_conf->timeout
                             : apr_time_from_sec(FE_HEAD_DEADLINE_SECS));
    ch->next_wakeup = FE_TQ_NEVER;
    ch->poll_until = FE_TQ_NEVER;
    ch->max_pools = tpc;
    ch->pools = apr_pcalloc(ch->pruntime, ch->max_pools * sizeof *ch->pools);

    rv = fe_create_pollset(ch, ch->hard_cap + ch->fresh_cap + 64);
    if (rv == APR_SUCCESS) {
        rv = fe_setup_listen_pfds(ch);
    }
    if (rv == APR_SUCCESS && fe_g.lim.ka_poll) {
        /* FastEventKeepAlivePoll on; without it (or when it fails) the
         * pollset serves.  A slot per connection the child can hold (see
         * the queue's capacity). */
        fe_ka_setup(ch, ch->hard_cap + ch->fresh_cap + 16);
    }
    return rv;
}

void fe_listener_wakeup(fe_child_t *ch)
{
    if (ch->pollset != NULL && ch->wakeable) {
        apr_pollset_wakeup(ch->pollset);
    }
}

/* ------------------------------------------------------------ accepting */

/* @loud: a capacity pause (counted, logged); else a quiet deferral to a
 * sibling (fe_balance). */
static void fe_set_accepting(fe_child_t *ch, int on, int loud)
{
    int i;

    if (ch->listeners_closed) {
        return;
    }
    if (on == !ch->listeners_disabled) {
        if (!on && loud && ch->quiet_pause) {
            /* a deferral became a capacity pause: show and count it */
            ch->quiet_pause = 0;
            fe_sb_set_accepting(ch, 0);
            fe_metrics_paused(ch->metrics, 0, 1);
        }
        return;
    }
    ch->quiet_pause = !on && !loud;
    for (i = 0; i < ch->nlisten; i++) {
        if (on) {
            apr_pollset_add(ch->pollset, &ch->listen_pfds[i]);
        }
        else {
            apr_pollset_remove(ch->pollset, &ch->listen_pfds[i]);
        }
    }
    ch->listeners_disabled = !on;
    /* A deferral leaves the scoreboard's "accepting" alone: the parent
     * counts this child's idle workers (it has room to spare through its
     * siblings), and no sibling defers to a child with no room anyway. */
    if (loud || on) {
        fe_sb_set_accepting(ch, on);
    }
    fe_metrics_paused(ch->metrics, on, loud);
    /* A pause for capacity while running (not the stop, not a deferral to
     * a sibling) is worth an admin's attention, once a minute per child;
     * the resume that follows is logged with it. */
    if (!ch->listener_may_exit
        && (on ? ch->pause_logged
               : loud && ch->loop_now - ch->pause_logged_at
                         >= apr_time_from_sec(60))) {
        ch->pause_logged = !on;
        ch->pause_logged_at = on ? ch->pause_logged_at : ch->loop_now;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10134)
                     "%s accepting connections: %u open, %u lingering, "
                     "%u without a whole request head, %u of %d workers "
                     "stuck in long requests; a child takes connections "
                     "while fewer than (workers not stuck) x "
                     "(AsyncRequestWorkerFactor %g + 1) with a request are "
                     "open, at most %u, and %u without%s",
                     on ? "resumed" : "paused",
                     apr_atomic_read32(&ch->conns),
                     apr_atomic_read32(&ch->lingering), ch->fresh_count,
                     ch->stuck, ch->nstarted, fe_g.lim.worker_factor,
                     ch->hard_cap, ch->fresh_cap,
                     on ? "" : " (other children or the "
                     "kernel's backlog take new connections meanwhile; "
                     "if this repeats, raise MaxRequestWorkers or "
                     "AsyncRequestWorkerFactor)");
    }
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
    int fd, tid = ch->worker_tids[i];
    ssize_t n;

    if (tid <= 0) {
        return 0;
    }
    apr_snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    line[n] = '\0';
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

    if (now - ch->stuck_checked < FE_STUCK_RECOUNT
        && now >= ch->stuck_checked) {
        return ch->stuck;
    }
    for (i = 0; i < ch->nworkers; i++) {
        apr_time_t since = ch->busy_since[i];

        n += since != 0 && now - since > FE_STUCK_AFTER
             && !fe_worker_running(ch, i);
    }
    ch->stuck = n;
    ch->stuck_checked = now;
    return n;
}

/* Is there nothing at all to read on this socket yet (or only EOF)? */
static int fe_really_silent(fe_conn_t *cs)
{
    apr_os_sock_t fd = -1;
    char c;

    apr_os_sock_get(&fd, cs->sock);
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

    apr_thread_mutex_lock(ch->tq_mutex);
    for (n = ch->fresh_q.head; n != NULL && looked < FE_EVICT_LOOK;
         n = n->next, looked++) {
        fe_conn_t *cand = (fe_conn_t *)((char *)n - offsetof(fe_conn_t, tq));

        if (n->stamp + FE_EVICT_AFTER > ch->loop_now) {
            break;                       /* the rest are younger still */
        }
        errno = 0;
        if (fe_really_silent(cand)) {
            cs = cand;
            fe_unpark_locked(ch, cs);
            cs->kill = FE_KILL_CLOSE;
            ch->evicted++;
            break;
        }
    }
    apr_thread_mutex_unlock(ch->tq_mutex);
    if (cs == NULL) {
        return 0;
    }
    fe_to_worker(ch, cs);
    return 1;
}

/* 1 when this generation already runs as many accepting-capable
 * processes as MaxRequestWorkers allows (per listener bucket): the
 * parent will not add one for connections waiting in the backlog. */
static int fe_no_more_processes(fe_child_t *ch)
{
    process_score *own = ap_get_scoreboard_process(ch->slot);
    int i, n = 0;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        process_score *ps = ap_get_scoreboard_process(i);

        if (i % fe_g.num_buckets == ch->bucket && ps->pid != 0
            && !ps->quiescing && ps->generation == own->generation) {
            n++;
        }
    }
    return n >= fe_g.lim.active_daemons_limit / fe_g.num_buckets;
}

static int fe_may_accept(fe_child_t *ch)
{
    apr_time_t now = apr_time_now();
    unsigned int stuck = fe_stuck_workers(ch, now);
    fe_accept_facts_t f;

    if ((unsigned int)ch->nstarted <= stuck) {
        return 0;     /* no worker free soon (or none started yet) */
    }
    if (stuck > 0
        && fe_queue_length(ch->queue) >= fe_work_idlers(ch) + 1) {
        return 0;     /* work already waits here without a worker */
    }
    /* New connections without a whole request head hold no worker: they
     * count against the fresh cap only; at that cap the one silent
     * longest makes room. */
    if (ch->fresh_count >= ch->fresh_cap && !fe_evict_fresh(ch)) {
        return 0;
    }
    f.conns = apr_atomic_read32(&ch->conns);
    f.conns -= f.conns > ch->fresh_count ? ch->fresh_count : f.conns;
    f.lingering = apr_atomic_read32(&ch->lingering);
    /* The workers really running: in a slot taken over from a draining
     * process some start only as its threads leave their rows. */
    f.threads = ch->nstarted - stuck;
    f.factor = fe_g.lim.worker_factor;
    f.hard_cap = ch->hard_cap;
    f.disabled = ch->listeners_disabled;
    if (fe_accept_allowed(&f)) {
        ch->overflow_since = 0;
        return 1;
    }
    /* At the limit: still take what waits in the backlog when every
     * process is full, the parent cannot start another, and this one's
     * workers are mostly idle (idle keep-alive connections cost a
     * descriptor, not a worker). */
    if (!fe_no_more_processes(ch)) {
        ch->overflow_since = 0;
        return 0;
    }
    return fe_accept_overflow(&f, fe_work_idlers(ch),
                              fe_backlog_stuck_since(ch, &ch->overflow_since,
                                                     now));
}

/* Sibling rows are read at most this often. */
#define FE_BALANCE_EVERY apr_time_from_msec(10)

/* The largest number of workers without a connection among the siblings
 * that accept now: same bucket, same generation, not stopping. */
static unsigned int fe_sibling_room(fe_child_t *ch)
{
    process_score *own = ap_get_scoreboard_process(ch->slot);
    unsigned int best = 0, tpc = (unsigned int)ch->nworkers;
    int i;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        process_score *ps;
        unsigned int active;

        if (i == ch->slot || i % fe_g.num_buckets != ch->bucket) {
            continue;
        }
        ps = ap_get_scoreboard_process(i);
        if (ps->pid == 0 || ps->quiescing || ps->not_accepting
            || ps->generation != own->generation) {
            continue;
        }
        active = ps->connections > ps->lingering_close
                 ? ps->connections - ps->lingering_close : 0;
        if (active < tpc && tpc - active > best) {
            best = tpc - active;
        }
    }
    return best;
}

/* While deferring: 1 once a listening socket of ours has had a
 * connection waiting for FE_BACKLOG_STUCK (checked every
 * FE_BALANCE_EVERY with a zero-timeout poll: the sockets are out of our
 * pollset meanwhile). */
#define FE_BACKLOG_STUCK apr_time_from_msec(100)

static int fe_backlog_stuck_since(fe_child_t *ch, apr_time_t *since,
                                  apr_time_t now)
{
    struct pollfd pfd[8];
    int i, n = ch->nlisten < 8 ? ch->nlisten : 8;

    for (i = 0; i < n; i++) {
        apr_os_sock_t fd = -1;

        apr_os_sock_get(&fd, ch->listen_pfds[i].desc.s);
        pfd[i].fd = fd;
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
    return now - *since >= FE_BACKLOG_STUCK;
}

/* 1 when this child leaves new connections to a sibling now (a quiet
 * pause, re-checked every FE_RECHECK_INTERVAL at most), so connections
 * spread over the children and each can keep a worker (fe_hold). */
static int fe_balance(fe_child_t *ch, apr_time_t now)
{
    unsigned int conns = apr_atomic_read32(&ch->conns);
    unsigned int skip = apr_atomic_read32(&ch->lingering) + ch->fresh_count;

    if (fe_g.lim.server_limit < 2 || ch->listener_may_exit
        || now < ch->defer_off_until) {
        ch->backlog_since = 0;
        return ch->deferring = 0;
    }
    /* The siblings' rows, and while deferring our backlog (a system
     * call), are looked at every FE_BALANCE_EVERY, not on every pass. */
    if (now - ch->sibling_at >= FE_BALANCE_EVERY || now < ch->sibling_at) {
        ch->sibling_room = fe_sibling_room(ch);
        ch->sibling_at = now;
        if (ch->deferring
            && fe_backlog_stuck_since(ch, &ch->backlog_since, now)) {
            /* Connections wait in the backlog and the sibling does not
             * take them (not listening yet, stopping, stuck): accept
             * again, and do not defer for a second. */
            ch->defer_off_until = now + apr_time_from_sec(1);
            ch->backlog_since = 0;
            return ch->deferring = 0;
        }
    }
    /* Both rooms against ThreadsPerChild, as fe_sibling_room() measures
     * the siblings' (a child still starting workers after a takeover
     * would otherwise look fuller to itself than to the others, and two
     * children could defer to each other). */
    ch->deferring = fe_accept_defer(conns > skip ? conns - skip : 0,
                                    (unsigned int)ch->nworkers,
                                    ch->sibling_room, ch->deferring);
    if (!ch->deferring) {
        ch->backlog_since = 0;
    }
    return ch->deferring;
}

static void fe_close_listeners(fe_child_t *ch)
{
    fe_set_accepting(ch, 0, 1);
    ap_close_listeners_ex(fe_g.buckets[ch->bucket]);
    ch->listeners_closed = 1;
    ch->dying = 1;
    fe_sb_set_quiescing(ch);
    fe_sb_all_workers(ch, SERVER_GRACEFUL);
    fe_hold_stop_all(ch);
    fe_ka_listener_takes_over(ch);
    fe_queue_interrupt_all(ch->queue);
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
    cs->pub.state = CONN_STATE_PROCESSING;
    cs->resume_state = CONN_STATE_PROCESSING;
    cs->pfd.desc_type = APR_POLL_SOCKET;
    cs->pfd.desc.s = sock;
    cs->pfd.reqevents = APR_POLLIN | APR_POLLHUP | APR_POLLERR;
    cs->pfd.client_data = cs;
    fe_conn_track(cs);                  /* counted until its pool clears */
    return cs;
}

/* A new connection waits in the pollset until its request head is in
 * (fe_headbuf.c); a worker sets it up only then.  If it cannot be parked
 * it goes straight to a worker, as a blocking read would take it. */
static void fe_park_fresh(fe_child_t *ch, fe_conn_t *cs)
{
    apr_status_t rv;

    apr_thread_mutex_lock(ch->tq_mutex);
    fe_tq_append(&ch->fresh_q, &cs->tq, ch->loop_now);
    cs->in_pollset = 1;
    rv = apr_pollset_add(ch->pollset, &cs->pfd);
    if (rv == APR_SUCCESS) {
        ch->fresh_count++;
        if (fe_tq_next_expiry(&ch->fresh_q) < ch->next_wakeup) {
            ch->next_wakeup = fe_tq_next_expiry(&ch->fresh_q);
        }
    }
    else {
        fe_tq_remove(&cs->tq);
        cs->in_pollset = 0;
    }
    apr_thread_mutex_unlock(ch->tq_mutex);
    if (rv != APR_SUCCESS) {
        fe_to_worker(ch, cs);
    }
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
        apr_thread_mutex_lock(ch->tq_mutex);
        fe_unpark_locked(ch, cs);
        apr_thread_mutex_unlock(ch->tq_mutex);
    }
    if (r == FE_HEAD_CLOSE) {
        cs->kill = FE_KILL_CLOSE;
    }
    fe_to_worker(ch, cs);
}

static void fe_accept_one(fe_child_t *ch, ap_listen_rec *lr, int *more)
{
    apr_pool_t *p = fe_pool_get(ch);
    void *csd = NULL;
    apr_status_t rv;

    *more = 0;
    if (p == NULL) {
        ch->resource_shortage = 1;
        fe_child_signal_stop(ch, 1);
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
                     apr_atomic_read32(&ch->conns));
        ch->resource_shortage = 1;
        fe_pool_put(ch, p);
        fe_child_signal_stop(ch, 1);
        return;
    }
    if (csd == NULL) {
        fe_pool_put(ch, p);     /* EAGAIN: another process took it */
        return;
    }
    apr_atomic_inc32(&ch->conns);
    fe_metrics_accepted(ch->metrics);
    if (fe_head_wanted(lr)) {
        /* With TCP_DEFER_ACCEPT (AcceptFilter data) the head is often in
         * already: then it never touches the pollset. */
        fe_fresh_input(ch, fe_conn_alloc(ch, p, csd, 1), 0);
    }
    else {
        fe_to_worker(ch, fe_conn_alloc(ch, p, csd, 0));  /* as stock */
    }
    if (ch->conns_this_child > 0 && --ch->conns_this_child == 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->s, FELOGNO(10136)
                     "MaxConnectionsPerChild %d reached: this child stops "
                     "gracefully and will be replaced",
                     ap_max_requests_per_child);
        fe_child_signal_stop(ch, 1);
        return;
    }
    *more = 1;
}

static void fe_on_listener_ready(fe_child_t *ch, ap_listen_rec *lr)
{
    int i, more = 1;

    for (i = 0; i < FE_ACCEPT_BATCH && more; i++) {
        if (ch->listener_may_exit || ch->listeners_disabled) {
            return;
        }
        if (!fe_may_accept(ch)) {
            fe_set_accepting(ch, 0, 1);
            return;
        }
        if (fe_balance(ch, ch->loop_now)) {
            fe_set_accepting(ch, 0, 0);  /* a burst: leave the rest */
            return;
        }
        fe_accept_one(ch, lr, &more);
    }
}

/* ------------------------------------------------------------ dispatch */

/* Pre-condition: tq_mutex held, cs parked and its wait already taken out
 * of the pollset or ka_ep (a worker's claim: the one-shot did it).  The
 * bookkeeping of leaving the timeout queue. */
void fe_unpark_claimed_locked(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->tq.q == &ch->fresh_q) {
        ch->fresh_count--;
    }
    fe_tq_remove(&cs->tq);
    if (cs->pub.state == CONN_STATE_WRITE_COMPLETION) {
        ch->wc_count--;
    }
    else if (cs->pub.state == CONN_STATE_ASYNC_WAITIO) {
        ch->waitio_count--;
    }
    cs->ka_parked = 0;
    cs->in_pollset = 0;
}

/* Pre-condition: tq_mutex held and cs parked.  Post: cs in neither the
 * pollset (or ka_ep) nor a timeout queue; the caller pushes it to a
 * worker. */
static void fe_unpark_locked(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->ka_parked) {
        fe_ka_disarm(ch, cs);
    }
    else {
        apr_pollset_remove(ch->pollset, &cs->pfd);   /* NOTFOUND is fine */
    }
    fe_unpark_claimed_locked(ch, cs);
}

/* Hand out the ready connections of ka_ep: in a stopping child, whose
 * workers wait in the queue (fe_kapoll.c), and before timeouts expire. */
static void fe_ka_dispatch(fe_child_t *ch)
{
    fe_conn_t *batch[FE_KA_BATCH];
    int n, i;

    do {
        n = fe_ka_harvest(ch, batch, FE_KA_BATCH);
        for (i = 0; i < n; i++) {
            fe_to_worker(ch, batch[i]);
        }
    } while (n == FE_KA_BATCH);
}

static void fe_to_worker(fe_child_t *ch, fe_conn_t *cs)
{
    cs->ready_at = ch->loop_now;
    if (fe_work_push(ch, cs) != APR_SUCCESS) {
        /* Only after fe_queue_term(): the child is exiting now. */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->s, FELOGNO(10137)
                     "dropping a ready connection: the child is exiting");
        return;
    }
    fe_hold_check(ch);
}

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
    apr_thread_mutex_lock(ch->tq_mutex);
    fe_unpark_locked(ch, cs);
    apr_thread_mutex_unlock(ch->tq_mutex);
    fe_conn_close(cs);                   /* clears its pool: cheap here */
    return 1;
}

static void fe_on_conn_ready(fe_child_t *ch, fe_conn_t *cs)
{
    apr_thread_mutex_lock(ch->tq_mutex);
    if (!cs->in_pollset) {
        apr_thread_mutex_unlock(ch->tq_mutex);
        return;
    }
    if (cs->fresh && cs->head_wait) {
        /* parked fresh connections are the listener's alone */
        apr_thread_mutex_unlock(ch->tq_mutex);
        fe_fresh_input(ch, cs, 1);
        return;
    }
    if (cs->pub.state == CONN_STATE_LINGER_NORMAL
        || cs->pub.state == CONN_STATE_LINGER_SHORT) {
        apr_thread_mutex_unlock(ch->tq_mutex);
        if (fe_linger_here(ch, cs)) {
            return;
        }
        apr_thread_mutex_lock(ch->tq_mutex);
    }
    fe_unpark_locked(ch, cs);
    apr_thread_mutex_unlock(ch->tq_mutex);
    cs->pub.state = cs->resume_state;
    fe_to_worker(ch, cs);
}

/* ------------------------------------------------------------ timeouts */

/* A due connection parked in ka_ep whose request came in time but that
 * no worker has claimed yet (every worker busy, or one holds its event
 * and waits for tq_mutex): 1 when it has input waiting.  Only looked at
 * when a timeout expires. */
static int fe_ready_unclaimed(fe_conn_t *cs)
{
    char c;

    return cs->ka_parked
           && recv(fe_sock_fd(cs->sock), &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Pre-condition: tq_mutex held.  Moves due entries of q onto *kill with
 * the given kill order (none for fe_ready_unclaimed() ones, which are
 * run in their resume state). */
static unsigned int fe_expire_q(fe_child_t *ch, fe_tq_t *q, apr_time_t now,
                                int all, int order, fe_conn_t **kill)
{
    unsigned int count = 0;
    fe_tq_node_t *n = fe_tq_expire(q, now, all, &count);

    while (n != NULL) {
        fe_tq_node_t *next = n->next;
        fe_conn_t *cs = (fe_conn_t *)((char *)n - offsetof(fe_conn_t, tq));
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
    if (ch->dying && q->timeout > FE_DYING_KA_GRACE) {
        return now + (q->timeout - FE_DYING_KA_GRACE);
    }
    return now;
}

/*
 * Connections closed at the header deadline with part of a request head
 * in: slow clients, or a slowloris attack.  They never held a worker; the
 * admin hears of them at most once a minute per child, with the count.
 */
#define FE_SLOW_LOG_EVERY apr_time_from_sec(60)

static void fe_log_slow_heads(fe_child_t *ch, apr_time_t now)
{
    if ((ch->slow_heads == 0 && ch->evicted == 0)
        || (ch->slow_logged_at != 0
            && now - ch->slow_logged_at < FE_SLOW_LOG_EVERY)) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10139)
                 "closed %u connection(s) that had sent only part of a "
                 "request head %" APR_TIME_T_FMT " s after connecting, and "
                 "%u silent or incomplete one(s) to make room at the cap "
                 "of %u such connections (slow clients, or a slowloris or "
                 "silent-connection flood; none held a worker); the header "
                 "deadline is min(Timeout, %d s)",
                 ch->slow_heads, apr_time_sec(ch->fresh_q.timeout),
                 ch->evicted, ch->fresh_cap, FE_HEAD_DEADLINE_SECS);
    ch->slow_heads = 0;
    ch->evicted = 0;
    ch->slow_logged_at = now;
}

/* Expire what is due, then plan the next wakeup.  Kill orders are handed
 * to workers outside the lock. */
static void fe_process_timeouts(fe_child_t *ch, apr_time_t now)
{
    fe_conn_t *kill = NULL;
    apr_time_t next = FE_TQ_NEVER;
    unsigned int ka = 0, io = 0, linger = 0;
    int i;

    /* Ready connections of ka_ep that no worker took yet go to the queue
     * first, so that no timeout below kills one whose request is in. */
    if (ch->ka_ep >= 0 && !ch->ka_listener) {
        fe_ka_dispatch(ch);
    }
    apr_thread_mutex_lock(ch->tq_mutex);
    if (ch->dying) {
        ch->linger_q.timeout = ch->short_linger_q.timeout;
    }
    for (i = 0; i < ch->ka_qs.n; i++) {
        fe_tq_t *q = &ch->ka_qs.qs[i];

        ka += fe_expire_q(ch, q, fe_ka_clock(ch, q, now), 0, FE_KILL_SHORT,
                          &kill);
        next = fe_earlier(next, &ch->ka_qs.qs[i]);
    }
    for (i = 0; i < ch->io_qs.n; i++) {
        io += fe_expire_q(ch, &ch->io_qs.qs[i], now, 0, FE_KILL_LINGER,
                          &kill);
        next = fe_earlier(next, &ch->io_qs.qs[i]);
    }
    io += fe_expire_q(ch, &ch->fresh_q, fe_ka_clock(ch, &ch->fresh_q, now),
                      0, FE_KILL_CLOSE, &kill);
    next = fe_earlier(next, &ch->fresh_q);
    linger += fe_expire_q(ch, &ch->linger_q, now, 0, FE_KILL_CLOSE, &kill);
    linger += fe_expire_q(ch, &ch->short_linger_q, now, 0, FE_KILL_CLOSE,
                          &kill);
    next = fe_earlier(next, &ch->linger_q);
    ch->next_wakeup = fe_earlier(next, &ch->short_linger_q);
    apr_thread_mutex_unlock(ch->tq_mutex);
    if (ka + io + linger) {
        fe_metrics_timeouts(ch->metrics, ka, io, linger);
    }

    while (kill != NULL) {
        fe_conn_t *cs = kill;

        kill = (fe_conn_t *)cs->tq.next;
        cs->tq.next = NULL;
        ch->slow_heads += cs->fresh && cs->head_len > 0;
        fe_to_worker(ch, cs);
    }
    fe_log_slow_heads(ch, now);
    fe_trim_idle(ch, now);
}

/*
 * Idle keep-alive connections give back the whole free pages of their
 * pool's and bucket allocator's nodes (fe_idlemem.h) once they have waited
 * FE_IDLE_TRIM_AFTER: about a third of what an idle connection keeps
 * resident.  Each is visited once per idle period (fe_tq_settle()).  The
 * connections stay parked meanwhile, and parked connections are the
 * listener's alone, so the madvise() calls run outside tq_mutex, in
 * batches.  A burst of connections going idle at once is spread over
 * passes of FE_TRIM_PER_PASS.  The listener wakes when the next one is
 * due (next_wakeup).
 */
#define FE_TRIM_BATCH    64
#define FE_TRIM_PER_PASS 256

/* Put trimmed keep-alive connections back in the keep-alive poll set (a
 * request that came meanwhile is reported at once); one that cannot be
 * armed again waits in the pollset, or, failing that, is closed.  They
 * were parked all along, and parked connections only leave through the
 * listener: they still are. */
static void fe_ka_rearm(fe_child_t *ch, fe_conn_t **batch, int n)
{
    fe_conn_t *lost[FE_TRIM_BATCH];
    apr_status_t rv = APR_SUCCESS;
    int i, nlost = 0;

    apr_thread_mutex_lock(ch->tq_mutex);
    for (i = 0; i < n; i++) {
        fe_conn_t *cs = batch[i];

        if (!cs->ka_parked || fe_ka_arm(ch, cs) == 0) {
            continue;
        }
        cs->ka_parked = 0;
        rv = apr_pollset_add(ch->pollset, &cs->pfd);
        if (rv != APR_SUCCESS) {
            fe_unpark_locked(ch, cs);
            lost[nlost++] = cs;
        }
    }
    apr_thread_mutex_unlock(ch->tq_mutex);
    for (i = 0; i < nlost; i++) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->s,
                     FELOGNO(10202) "could not watch an idle keep-alive "
                     "connection again: closing it (%u open)",
                     apr_atomic_read32(&ch->conns));
        fe_conn_close(lost[i]);
    }
}

static void fe_trim_idle(fe_child_t *ch, apr_time_t now)
{
    fe_conn_t *batch[FE_TRIM_BATCH];
    apr_time_t upto = now - FE_IDLE_TRIM_AFTER;
    apr_size_t bytes = 0;
    unsigned int total = 0, trimmed = 0;
    int n, i;

    do {
        n = 0;
        apr_thread_mutex_lock(ch->tq_mutex);
        for (i = 0; i < ch->ka_qs.n && n < FE_TRIM_BATCH; i++) {
            fe_tq_node_t *t;

            while (n < FE_TRIM_BATCH
                   && (t = fe_tq_settle(&ch->ka_qs.qs[i], upto)) != NULL) {
                batch[n++] = (fe_conn_t *)((char *)t
                                           - offsetof(fe_conn_t, tq));
            }
        }
        if (n < FE_TRIM_BATCH || total + n >= FE_TRIM_PER_PASS) {
            for (i = 0; i < ch->ka_qs.n; i++) {
                apr_time_t st = fe_tq_unsettled_stamp(&ch->ka_qs.qs[i]);

                if (st != FE_TQ_NEVER
                    && st + FE_IDLE_TRIM_AFTER < ch->next_wakeup) {
                    ch->next_wakeup = st + FE_IDLE_TRIM_AFTER;
                }
            }
        }
        /* Out of the keep-alive poll set meanwhile, so that no worker
         * takes one while its memory is trimmed. */
        for (i = 0; i < n; i++) {
            if (batch[i]->ka_parked) {
                fe_ka_disarm(ch, batch[i]);
            }
        }
        apr_thread_mutex_unlock(ch->tq_mutex);
        for (i = 0; i < n; i++) {
            fe_conn_t *cs = batch[i];

            /* HTTP/1 only: an HTTP/2 session's memory may still be
             * touched by its streams' threads. */
            if (cs->c != NULL && cs->c->master == NULL
                && strcmp(ap_get_protocol(cs->c), AP_PROTOCOL_HTTP1) == 0) {
                bytes += fe_idlemem_trim_pool(cs->p);
                bytes += fe_idlemem_trim_block(cs->ba);
                trimmed++;
            }
        }
        if (ch->ka_ep >= 0) {
            fe_ka_rearm(ch, batch, n);
        }
        total += n;
    } while (n == FE_TRIM_BATCH && total < FE_TRIM_PER_PASS);
    fe_metrics_idle_trim(ch->metrics, trimmed, bytes);
}

/* ------------------------------------------------------------ the loop */

static apr_interval_time_t fe_poll_timeout(fe_child_t *ch, apr_time_t now)
{
    apr_time_t tick = fe_metrics_next_tick(ch);
    apr_time_t place = fe_cpu_next_check(ch);

    /* Keep mod_status's connection counts true on a quiet child too:
     * while they lag, look again within a second. */
    if (ch->published_conns != apr_atomic_read32(&ch->conns)
        && now + apr_time_from_sec(1) < tick) {
        tick = now + apr_time_from_sec(1);
    }
    if (place < tick) {
        tick = place;
    }
    apr_time_t next = fe_timers_plan(ch, tick < ch->next_wakeup
                                         ? tick : ch->next_wakeup);
    apr_interval_time_t t;

    if (next == FE_TQ_NEVER) {
        t = -1;
    }
    else {
        t = next > now ? next - now : 0;
        /* Round up to whole milliseconds: epoll cannot wait less. */
        t = (t + 999) / 1000 * 1000;
    }
    if (!ch->wakeable || ch->listeners_disabled || ch->listener_may_exit) {
        if (t < 0 || t > FE_RECHECK_INTERVAL) {
            t = FE_RECHECK_INTERVAL;
        }
    }
    return t;
}

static ap_listen_rec *fe_listener_of(fe_child_t *ch, void *client_data)
{
    int i;

    for (i = 0; i < ch->nlisten; i++) {
        if (ch->listen_pfds[i].client_data == client_data) {
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

        if (out[i].client_data == &ch->ka_pfd) {
            fe_ka_dispatch(ch);
            continue;
        }
        lr = fe_listener_of(ch, out[i].client_data);
        if (lr != NULL) {
            fe_on_listener_ready(ch, lr);
        }
        else {
            fe_on_conn_ready(ch, out[i].client_data);
        }
    }
}

/* Leave when stopping and, unless it is ungraceful, the last connection
 * is gone.  Returns 1 to leave the loop. */
static int fe_check_exit(fe_child_t *ch, apr_time_t now)
{
    if (!ch->listener_may_exit) {
        return 0;
    }
    if (!ch->listeners_closed) {
        fe_close_listeners(ch);
        fe_process_timeouts(ch, now);   /* starts the keep-alive grace */
    }
    return ch->ungraceful || apr_atomic_read32(&ch->conns) == 0;
}

void *APR_THREAD_FUNC fe_listener_thread(apr_thread_t *thd, void *data)
{
    fe_child_t *ch = data;
    apr_time_t now = apr_time_now();

    fe_sb_set_accepting(ch, 1);
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
                         "apr_pollset_poll() failed: this child stops "
                         "gracefully");
            ch->resource_shortage = 1;
            fe_child_signal_stop(ch, 1);
        }
        /* Before handling events: accepted and ready connections are
         * stamped with it (timeouts, hand-off latency). */
        now = apr_time_now();
        ch->loop_now = now;
        if (rv == APR_SUCCESS) {
            fe_handle_events(ch, out, n);
        }
        fe_timers_dispatch(ch, now);
        if (now >= ch->next_wakeup || ch->dying) {
            fe_process_timeouts(ch, now);
        }
        if (!ch->listener_may_exit) {
            int may = fe_may_accept(ch);

            fe_set_accepting(ch, may && !fe_balance(ch, now), !may);
        }
        fe_sb_publish(ch, fe_sb_keepalive_count(ch));
        fe_metrics_tick(ch, now);
        fe_cpu_tick(ch, now);
    }
    fe_sb_publish(ch, 0);
    fe_work_term(ch);
    ch->listener_done = 1;
    return NULL;
}
