/*
 * fe_conn.c: connections, as the worker threads run them.
 *
 * A worker pops a connection and runs it through httpd's states with one
 * handler per state, until it has to wait for the network: then it parks
 * it (fe_conn_park: timeout queue + pollset, for the listener to watch)
 * and pops the next one.  The decisions are fe_connstate.c's (pure); this
 * file does the I/O and calls the hooks.
 *
 * Ownership: a connection is in exactly one place at a time: the worker
 * queue, a worker, or parked (pollset + timeout queue).  After
 * fe_conn_park() or fe_conn_close() returns, the worker must not touch cs
 * again: the listener may already have handed it to another worker.
 *
 * Must not: block in the listener's place (only workers run this code),
 * or decide policy (fe_connstate.c does).
 */
#include "mpm_fastevent.h"
#include "policy/fe_connstate.h"
#include "policy/fe_head.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_vhost.h"
#include "http_request.h"
#include "ap_mpm.h"

#include <apr_atomic.h>
#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

/* Wake the listener for an earlier deadline only when it is earlier than
 * planned by more than this: saves wakeups on busy servers. */
#define FE_WAKEUP_FUDGE apr_time_from_msec(100)

/* Read this much per call while draining a lingering connection. */
#define FE_LINGER_BUF 4096

typedef struct fe_worker {
    fe_child_t *ch;
    apr_thread_t *thd;
    int tid;
} fe_worker_t;

fe_conn_t *fe_conn_from_c(conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &mpm_fastevent_module);
}

/* ------------------------------------------------------------ pools */

/*
 * Transaction pools have no allocator of their own: they use pruntime's,
 * which is locked and keeps at most MaxMemFree of free memory for the
 * whole child (fe_create_runtime_pool()).  The memory a request frees (its
 * pool, the bucket allocator's 8000-byte read buffers) thus goes back to
 * one free list and serves the next request of any connection.  With an
 * allocator per connection, every idle keep-alive connection kept its last
 * request's nodes: about 20 KiB each, on top of the two nodes it needs
 * (its pool and its bucket allocator, 8 KiB each).
 *
 * Listener thread only (it accepts).
 */
apr_pool_t *fe_pool_get(fe_child_t *ch)
{
    apr_pool_t *p = NULL;

    apr_thread_mutex_lock(ch->pool_mutex);
    if (ch->npools > 0) {
        p = ch->pools[--ch->npools];
    }
    apr_thread_mutex_unlock(ch->pool_mutex);
    if (p != NULL) {
        return p;
    }
    if (apr_pool_create_ex(&p, ch->pruntime, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(p, "transaction");
    return p;
}

/* Clear (running the connection's cleanups) and keep up to max_pools. */
void fe_pool_put(fe_child_t *ch, apr_pool_t *p)
{
    int kept = 0;

    apr_pool_clear(p);
    apr_thread_mutex_lock(ch->pool_mutex);
    if (ch->npools < ch->max_pools && !ch->dying) {
        ch->pools[ch->npools++] = p;
        kept = 1;
    }
    apr_thread_mutex_unlock(ch->pool_mutex);
    if (!kept) {
        apr_pool_destroy(p);
    }
}

/* ------------------------------------------------------------ suspend */

/* Every time a connection leaves a worker: the hooks, and no scoreboard
 * handle, so late writes cannot land in a row now serving another. */
static void fe_notify_suspend(fe_conn_t *cs)
{
    if (!cs->suspended) {
        ap_run_suspend_connection(cs->c, cs->r);
        cs->c->sbh = NULL;
        cs->suspended = 1;
    }
}

static void fe_notify_resume(fe_conn_t *cs, fe_worker_t *w)
{
    conn_rec *c = cs->c;

    c->current_thread = w->thd;
    c->id = (long)w->ch->slot * fe_g.lim.thread_limit + w->tid;
    ap_update_sb_handle(cs->sbh, w->ch->slot, w->tid);
    if (cs->suspended) {
        cs->suspended = 0;
        c->sbh = cs->sbh;
        ap_run_resume_connection(c, cs->r);
    }
}

/* ------------------------------------------------------------ close */

static apr_status_t fe_conn_cleanup(void *data)
{
    fe_conn_t *cs = data;
    fe_child_t *ch = cs->child;

    fe_ka_release(ch, cs);
    if (cs->lingering) {
        apr_atomic_dec32(&ch->lingering);
    }
    if (cs->async_suspended) {
        apr_atomic_dec32(&ch->suspended);
    }
    apr_atomic_dec32(&ch->conns);
    fe_sb_publish_conns(ch);
    if (ch->listeners_disabled || ch->listener_may_exit) {
        fe_listener_wakeup(ch);   /* room to accept, or the last one */
    }
    if (ch->dying) {
        fe_queue_interrupt_one(ch->queue);   /* a worker may leave now */
    }
    return APR_SUCCESS;
}

/* From accept on, the connection counts in ch->conns until its pool is
 * cleared. */
void fe_conn_track(fe_conn_t *cs)
{
    apr_pool_cleanup_register(cs->p, cs, fe_conn_cleanup,
                              apr_pool_cleanup_null);
}

/* Close the socket and recycle the pool (which runs fe_conn_cleanup). */
void fe_conn_close(fe_conn_t *cs)
{
    fe_child_t *ch = cs->child;

    apr_socket_close(cs->sock);
    fe_pool_put(ch, cs->p);
}

/* ------------------------------------------------------------ parking */

static apr_int16_t fe_events_for(int sense)
{
    return sense == CONN_SENSE_WANT_WRITE
           ? APR_POLLOUT | APR_POLLHUP | APR_POLLERR
           : APR_POLLIN | APR_POLLHUP | APR_POLLERR;
}

/* Pre-condition: tq_mutex held. */
static fe_tq_t *fe_queue_for(fe_child_t *ch, fe_conn_t *cs, int state)
{
    switch (state) {
    case CONN_STATE_KEEPALIVE:
        return fe_tqset_get(&ch->ka_qs, cs->ka_timeout);
    case CONN_STATE_LINGER_SHORT:
        return &ch->short_linger_q;
    case CONN_STATE_LINGER_NORMAL:
        return &ch->linger_q;
    default:
        return fe_tqset_get(&ch->io_qs, cs->io_timeout);
    }
}

/*
 * Hand cs to the listener until its socket is ready for @sense (a
 * CONN_SENSE_* value) or its queue's timeout passes; then a worker runs
 * it again in @resume.  @stamp is the time the wait counts from.
 * Returns 0 when parked (cs is no longer ours), else -1 after closing it.
 */
static int fe_park(fe_conn_t *cs, int state, int sense, int resume,
                   apr_time_t stamp)
{
    fe_child_t *ch = cs->child;
    apr_status_t rv;
    int wake = 0;
    fe_tq_t *q;

    fe_notify_suspend(cs);
    cs->pub.state = state;
    cs->pub.sense = CONN_SENSE_DEFAULT;
    cs->resume_state = resume;
    cs->pfd.reqevents = fe_events_for(sense);

    apr_thread_mutex_lock(ch->tq_mutex);
    q = fe_queue_for(ch, cs, state);
    fe_tq_append(q, &cs->tq, stamp);
    cs->in_pollset = 1;
    /* Idle keep-alive connections go to the set idle workers watch
     * (fe_kapoll.c).  Other waits stay with the listener: they are
     * rarer, and measured no faster there (HTTP/2's ASYNC_WAITIO). */
    if (state == CONN_STATE_KEEPALIVE && ch->ka_ep >= 0
        && fe_ka_arm(ch, cs) == 0) {
        cs->ka_parked = 1;       /* workers may take it from here on */
        fe_sb_publish_keepalive(ch);
        rv = APR_SUCCESS;
    }
    else {
        rv = apr_pollset_add(ch->pollset, &cs->pfd);
    }
    if (rv != APR_SUCCESS) {
        fe_tq_remove(&cs->tq);
        cs->in_pollset = 0;
    }
    else {
        apr_time_t due = fe_tq_next_expiry(q);   /* head's, <= ours */

        if (state == CONN_STATE_KEEPALIVE
            && stamp + FE_IDLE_TRIM_AFTER < due) {
            due = stamp + FE_IDLE_TRIM_AFTER;     /* fe_trim_idle() */
        }
        ch->wc_count += state == CONN_STATE_WRITE_COMPLETION;
        ch->waitio_count += state == CONN_STATE_ASYNC_WAITIO;
        if (due != FE_TQ_NEVER && due + FE_WAKEUP_FUDGE < ch->next_wakeup) {
            ch->next_wakeup = due;
            wake = 1;
        }
    }
    apr_thread_mutex_unlock(ch->tq_mutex);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->s, FELOGNO(10140)
                     "apr_pollset_add() failed: closing the connection "
                     "(%u open)", apr_atomic_read32(&ch->conns));
        fe_conn_close(cs);
        return -1;
    }
    if (wake) {
        fe_listener_wakeup(ch);
    }
    return 0;
}

/* ------------------------------------------------------------ holds */

/* Longest keep-alive hold: past this the client is thinking, not
 * answering, and the connection is parked with the listener. */
#define FE_HOLD_MAX_MS 50

static apr_status_t fe_hold_cleanup(void *data)
{
    fe_child_t *ch = data;

    if (ch->hold_pipe[0] >= 0) {
        close(ch->hold_pipe[0]);
        close(ch->hold_pipe[1]);
        ch->hold_pipe[0] = ch->hold_pipe[1] = -1;
    }
    return APR_SUCCESS;
}

/* The call-back pipe; without it (no descriptors left) nobody holds.
 * Pre: hold_pipe is { -1, -1 } (fe_listener_setup()). */
apr_status_t fe_hold_setup(fe_child_t *ch)
{
    int i;

    if (pipe(ch->hold_pipe) != 0) {       /* leaves them -1 on failure */
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->s, FELOGNO(10142)
                     "no pipe for keep-alive holds: every idle keep-alive "
                     "connection goes to the listener (raise the "
                     "descriptor limit)");
        return rv;
    }
    for (i = 0; i < 2; i++) {
        fcntl(ch->hold_pipe[i], F_SETFL,
              fcntl(ch->hold_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(ch->hold_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    apr_pool_cleanup_register(ch->pruntime, ch, fe_hold_cleanup,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* The child stops: every holder gives its connection back now, and
 * nobody holds again (fe_hold_allowed sees the stop).  The byte is never
 * read: the pipe stays readable for good. */
void fe_hold_stop_all(fe_child_t *ch)
{
    char b = 0;

    if (ch->hold_pipe[1] >= 0
        && apr_atomic_cas32(&ch->hold_stop, 1, 0) == 0
        && write(ch->hold_pipe[1], &b, 1) < 0) {
        /* cannot fail with an empty pipe; nothing to do if it did */
    }
}

/* After any push to the worker queue: when more entries wait than idle
 * workers will take, call back as many holders as are missing (one byte
 * each in the pipe), minus the calls still on their way. */
void fe_hold_check(fe_child_t *ch)
{
    /* A read-modify-write, not a plain load: a full barrier after the
     * caller's push (see fe_hold()). */
    unsigned int holders = apr_atomic_add32(&ch->holders, 0);
    unsigned int n;

    if (holders == 0 || ch->hold_stop) {
        return;
    }
    n = fe_hold_recall(holders, fe_work_idlers(ch),
                       fe_queue_waiting(ch->queue),
                       apr_atomic_read32(&ch->hold_calls));
    if (n > 0) {
        char bytes[64] = { 0 };
        ssize_t put;

        if (n > sizeof bytes) {
            n = sizeof bytes;
        }
        apr_atomic_add32(&ch->hold_calls, n);
        put = write(ch->hold_pipe[1], bytes, n);
        if (put < (ssize_t)n) {
            apr_atomic_sub32(&ch->hold_calls, n - (put > 0 ? put : 0));
        }
    }
}

/* A holder woke on the pipe: 1 when it must give its connection back
 * (the child stops, or it took one call-back byte); 0 when another holder
 * took the byte first. */
static int fe_hold_called(fe_child_t *ch)
{
    char b;

    if (ch->hold_stop || ch->dying || ch->workers_may_exit) {
        return 1;
    }
    if (read(ch->hold_pipe[0], &b, 1) == 1) {
        if (ch->hold_stop && write(ch->hold_pipe[1], &b, 1) < 0) {
            /* we took the stop byte: it goes back for the others */
        }
        apr_atomic_dec32(&ch->hold_calls);
        fe_metrics_hold(ch->metrics, FE_HOLD_PREEMPT);
        return 1;
    }
    return 0;
}

/*
 * Wait on cs itself for its next request, as long as this worker is not
 * needed elsewhere.  Returns 1 when the socket became readable (or closed:
 * the hooks find out), 0 when the caller should park it.  The worker's
 * row shows K meanwhile, and it does not count as stuck.
 */
static int fe_hold(fe_conn_t *cs, apr_time_t idle_since)
{
    fe_child_t *ch = cs->child;
    fe_hold_facts_t f;
    struct pollfd pfd[3];
    apr_interval_time_t wait = cs->ka_timeout;
    apr_time_t until;
    unsigned int lingering;
    int hit = 0;

    if (ch->hold_pipe[0] < 0) {
        return 0;
    }
    /* Count ourselves first, then look at the queue: a pusher does the
     * opposite (push, then fe_hold_check() reads holders), and the atomic
     * read-modify-writes on both sides order these, so one of us sees
     * the other -- no entry is left waiting for a holder nobody calls. */
    apr_atomic_inc32(&ch->holders);
    f.threads = ch->nstarted;
    f.idle = fe_work_idlers(ch);
    f.waiting = fe_queue_waiting(ch->queue);
    f.conns = apr_atomic_read32(&ch->conns);
    lingering = apr_atomic_read32(&ch->lingering);
    f.conns = f.conns > lingering ? f.conns - lingering : 0;
    f.stopping = ch->hold_stop || ch->dying || ch->workers_may_exit;
    if (!fe_hold_allowed(&f)) {
        apr_atomic_dec32(&ch->holders);
        return 0;
    }
    if (wait > apr_time_from_msec(FE_HOLD_MAX_MS)) {
        wait = apr_time_from_msec(FE_HOLD_MAX_MS);
    }
    until = idle_since + wait;
    pfd[0].fd = fe_sock_fd(cs->sock);
    pfd[0].events = POLLIN;
    pfd[1].fd = ch->hold_pipe[0];
    pfd[1].events = POLLIN;
    /* A connection ready in ka_ep while no worker waits there: this
     * holder is the one idle worker left, so it goes. */
    pfd[2].fd = ch->ka_ep;       /* -1 when off: poll() skips it */
    pfd[2].events = POLLIN;
    ch->busy_since[cs->tid] = 0;
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
            if (apr_atomic_read32(&ch->ka_waiters) == 0) {
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
    apr_atomic_dec32(&ch->holders);
    ch->busy_since[cs->tid] = apr_time_now();
    fe_metrics_hold(ch->metrics, hit ? FE_HOLD_HIT : FE_HOLD_MISS);
    return hit;
}

/* ------------------------------------------------------------ states */

static int fe_conn_setup(fe_conn_t *cs, fe_worker_t *w)
{
    fe_child_t *ch = w->ch;
    long id = (long)ch->slot * fe_g.lim.thread_limit + w->tid;
    conn_rec *c;
    int rc;

    cs->fresh = 0;
    cs->ba = apr_bucket_alloc_create(cs->p);
    ap_create_sb_handle(&cs->sbh, cs->p, ch->slot, w->tid);
    c = ap_run_create_connection(cs->p, ch->s, cs->sock, id, cs->sbh,
                                 cs->ba);
    if (c == NULL) {
        fe_conn_close(cs);
        return -1;
    }
    cs->c = c;
    c->current_thread = w->thd;
    c->cs = &cs->pub;
    ap_set_module_config(c->conn_config, &mpm_fastevent_module, cs);
    cs->pfd.desc_type = APR_POLL_SOCKET;
    cs->pfd.desc.s = cs->sock;
    cs->pfd.client_data = cs;

    ap_update_vhost_given_ip(c);
    cs->ka_timeout = c->base_server->keep_alive_timeout;
    cs->io_timeout = c->base_server->timeout;
    rc = ap_pre_connection(c, cs->sock);
    cs->pub.sense = CONN_SENSE_DEFAULT;
    cs->pub.state = (rc == OK || rc == DONE) && !c->aborted
                    ? CONN_STATE_PROCESSING : CONN_STATE_LINGER;
    return 0;
}

static void fe_on_processing(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    int rc, bad = 0;

    rc = ap_run_process_connection(c);
    cs->pub.state = fe_conn_after_hooks(rc == OK || rc == DONE,
                                        cs->pub.state, c->aborted, &bad);
    if (bad) {
        ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, FELOGNO(10141)
                      "process_connection returned %d with an unexpected "
                      "connection state: closing", rc);
    }
}

/* Flush without blocking: call the last (network) output filter with no
 * brigade, as 2.4 has no ap_run_output_pending(). */
static apr_status_t fe_flush(conn_rec *c)
{
    apr_status_t rv = fe_writenow_release(c);   /* a held head, if any */
    ap_filter_t *f = c->output_filters;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    while (f->next != NULL) {
        f = f->next;
    }
    return f->frec->filter_func.out_func(f, NULL);
}

/* Returns 0 when cs left this worker (parked or closed). */
static int fe_on_write_completion(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    fe_flush_facts_t f;
    apr_status_t rv;

    ap_update_child_status(c->sbh, SERVER_BUSY_WRITE, NULL);
    rv = fe_flush(c);
    f.aborted = c->aborted || rv != APR_SUCCESS;
    f.pending_output = c->data_in_output_filters;
    f.pending_input = c->data_in_input_filters;
    f.want_read = cs->pub.sense == CONN_SENSE_WANT_READ;
    f.clogging = c->clogging_input_filters;
    f.keepalive = c->keepalive == AP_CONN_KEEPALIVE;

    switch (fe_conn_after_flush(&f)) {
    case FE_NEXT_WAIT_WRITE:
        fe_park(cs, CONN_STATE_WRITE_COMPLETION, CONN_SENSE_WANT_WRITE,
                CONN_STATE_WRITE_COMPLETION, apr_time_now());
        return 0;
    case FE_NEXT_WAIT_READ:
        fe_park(cs, CONN_STATE_WRITE_COMPLETION, CONN_SENSE_WANT_READ,
                CONN_STATE_PROCESSING, apr_time_now());
        return 0;
    case FE_NEXT_PROCESS:
        cs->pub.state = CONN_STATE_PROCESSING;
        return 1;
    case FE_NEXT_KEEPALIVE: {
        apr_time_t idle_since = apr_time_now();

        ap_update_child_status(c->sbh, SERVER_BUSY_KEEPALIVE, NULL);
        if (fe_hold(cs, idle_since)) {
            cs->pub.state = CONN_STATE_PROCESSING;
            return 1;
        }
        fe_park(cs, CONN_STATE_KEEPALIVE, CONN_SENSE_WANT_READ,
                CONN_STATE_PROCESSING, idle_since);
        return 0;
    }
    default:
        cs->pub.state = CONN_STATE_LINGER;
        return 1;
    }
}

/* 1 when a read finds nothing to read yet (EAGAIN); 0 when something
 * came (it is discarded: lingering goes on) or the client closed. */
static int fe_nothing_pending(fe_conn_t *cs)
{
    char buf[256];
    apr_size_t len = sizeof buf;

    return APR_STATUS_IS_EAGAIN(apr_socket_recv(cs->sock, buf, &len));
}

/* Start the lingering close; returns 0 when cs was closed. */
static int fe_linger_start(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    fe_child_t *ch = cs->child;
    int short_linger;

    if (!cs->lingering) {
        cs->lingering = 1;
        apr_atomic_inc32(&ch->lingering);
        fe_sb_publish_conns(ch);
    }
    /* The flush in ap_start_lingering_close() may block: briefly. */
    apr_socket_timeout_set(cs->sock,
                           apr_time_from_sec(FE_SHORT_LINGER_SECS));
    if (ap_start_lingering_close(c)) {
        fe_conn_close(cs);
        return 0;
    }
    apr_socket_timeout_set(cs->sock, 0);
    apr_socket_opt_set(cs->sock, APR_INCOMPLETE_READ, 0);
    if (cs->client_done && fe_nothing_pending(cs)) {
        /* The client said nothing follows and nothing did: no reset to
         * fear (RFC 9112 9.6), close without waiting for its FIN. */
        fe_conn_close(cs);
        return 0;
    }
    short_linger = ch->dying
                   || apr_table_get(c->notes, "short-lingering-close");
    cs->pub.state = short_linger ? CONN_STATE_LINGER_SHORT
                                 : CONN_STATE_LINGER_NORMAL;
    cs->linger_since = apr_time_now();
    return 1;
}

/* Read and discard, without blocking (the socket's timeout is 0 once
 * lingering), at most @rounds buffers of what a lingering connection
 * still sends.  Worker or listener (fe_linger_here), whoever owns cs. */
int fe_linger_discard(fe_conn_t *cs, int rounds)
{
    char buf[FE_LINGER_BUF];

    while (rounds-- > 0) {
        apr_size_t len = sizeof buf;
        apr_status_t rv = apr_socket_recv(cs->sock, buf, &len);

        if (APR_STATUS_IS_EAGAIN(rv)) {
            return FE_DRAIN_WAIT;
        }
        if (rv != APR_SUCCESS || len == 0) {
            return FE_DRAIN_EOF;
        }
    }
    return FE_DRAIN_MORE;
}

/* Drain until the client closes; park when it would block (or keeps
 * sending).  Always leaves the worker. */
static void fe_linger_drain(fe_conn_t *cs)
{
    if (fe_linger_discard(cs, 16) == FE_DRAIN_EOF) {
        fe_conn_close(cs);           /* EOF or error: done */
        return;
    }
    fe_park(cs, cs->pub.state, CONN_SENSE_WANT_READ, cs->pub.state,
            cs->linger_since);
}

/* A connection the listener timed out: turn the kill order into a state. */
static int fe_apply_kill(fe_conn_t *cs)
{
    int order = cs->kill;

    cs->kill = FE_KILL_NONE;
    if (order == FE_KILL_CLOSE) {
        fe_conn_close(cs);
        return 0;
    }
    if (cs->pub.state == CONN_STATE_LINGER_NORMAL
        || cs->pub.state == CONN_STATE_LINGER_SHORT) {
        fe_conn_close(cs);           /* already lingering: just close */
        return 0;
    }
    if (order == FE_KILL_SHORT) {
        apr_table_setn(cs->c->notes, "short-lingering-close", "1");
    }
    cs->pub.state = CONN_STATE_LINGER;
    return 1;
}

/*
 * A new connection the listener gave up on (header deadline, or evicted
 * at the cap of such connections) before its head was complete.  When
 * part of an HTTP/1 head came, tell the client, as the core does when
 * mod_reqtimeout ends a head: 408, then a half-close and a drain of what
 * is already in, so the close does not reset the answer away.  One
 * non-blocking send, best effort; silence for a stopping child, nothing
 * received, TLS or binary input.
 */
static void fe_fresh_refuse(fe_conn_t *cs)
{
    static const char body[] = "The request head did not arrive in time.\n";
    char buf[256], junk[4096];
    int fd, n, i;

    if (cs->head_len == 0 || cs->child->dying
        || !fe_head_answerable(cs->head, cs->head_len)
        || (fd = fe_sock_fd(cs->sock)) < 0) {
        return;
    }
    n = apr_snprintf(buf, sizeof buf, "HTTP/1.1 408 Request Timeout\r\n"
                     "Connection: close\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n"
                     "Content-Length: %" APR_SIZE_T_FMT "\r\n\r\n%s",
                     sizeof body - 1, body);
    if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
        return;
    }
    shutdown(fd, SHUT_WR);
    for (i = 0; i < 16; i++) {
        if (recv(fd, junk, sizeof junk, MSG_DONTWAIT) <= 0) {
            break;
        }
    }
}

/* Run cs until it leaves this worker. */
static void fe_conn_run(fe_conn_t *cs, fe_worker_t *w)
{
    cs->tid = w->tid;
    if (cs->fresh) {
        if (cs->kill) {
            fe_fresh_refuse(cs);
            fe_conn_close(cs);
            return;
        }
        if (fe_conn_setup(cs, w) < 0) {
            return;
        }
    }
    else {
        fe_notify_resume(cs, w);
    }
    if (cs->kill && !fe_apply_kill(cs)) {
        return;
    }
    for (;;) {
        switch (cs->pub.state) {
        case CONN_STATE_PROCESSING:
            fe_on_processing(cs);
            break;
        case CONN_STATE_WRITE_COMPLETION:
            if (!fe_on_write_completion(cs)) {
                return;
            }
            break;
        case CONN_STATE_ASYNC_WAITIO:
            fe_park(cs, CONN_STATE_ASYNC_WAITIO, cs->pub.sense,
                    CONN_STATE_PROCESSING, apr_time_now());
            return;
        case CONN_STATE_SUSPENDED:
            fe_notify_suspend(cs);
            fe_conn_suspend(cs);
            return;
        case CONN_STATE_LINGER:
            if (!fe_linger_start(cs)) {
                return;
            }
            break;
        case CONN_STATE_LINGER_NORMAL:
        case CONN_STATE_LINGER_SHORT:
            fe_linger_drain(cs);
            return;
        default:          /* KEEPALIVE from a resumed park, HANDLER... */
            cs->pub.state = CONN_STATE_LINGER;
            break;
        }
    }
}

/* ------------------------------------------------------------ workers */

void *APR_THREAD_FUNC fe_worker_thread(apr_thread_t *thd, void *data)
{
    fe_worker_arg_t *arg = data;
    fe_worker_t w;
    fe_child_t *ch;

    w.ch = arg->ch;
    w.tid = arg->tid;
    w.thd = thd;
    ch = w.ch;
    int counted = 1;          /* in ch->workers_alive */

    fe_sb_worker_start(ch->slot, w.tid);
#ifdef __linux__
    ch->worker_tids[w.tid] = (int)syscall(SYS_gettid);
#endif
    while (!ch->workers_may_exit) {
        void *item = NULL;
        fe_qnode_t *node = NULL;
        apr_status_t rv;

        if (ch->dying && fe_worker_may_leave(ch)) {
            counted = 0;
            break;
        }
        fe_sb_worker(ch->slot, w.tid,
                     ch->dying ? SERVER_GRACEFUL : SERVER_READY);
        rv = fe_work_next(ch, &item, &node);
        if (rv == APR_EOF) {
            break;
        }
        if (rv != APR_SUCCESS) {
            continue;
        }
        if (node == NULL) {
            ch->busy_fd[w.tid] = fe_sock_fd(((fe_conn_t *)item)->sock);
        }
        /* Pairs with the fence in fe_child_signal_stop(): either the stop
         * sees this descriptor and shuts it down, or we see the stop.  (An
         * entry handed over just before fe_queue_term() reaches us here.)
         * The process is exiting: the entry is dropped, not run. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (ch->workers_may_exit) {
            ch->busy_fd[w.tid] = -1;
            break;
        }
        if (node != NULL) {
            fe_sb_worker(ch->slot, w.tid, SERVER_BUSY_WRITE);
            fe_timer_run(ch, node);
            continue;
        }
        ch->busy_since[w.tid] = apr_time_now();
        if (((fe_conn_t *)item)->ready_at) {
            fe_metrics_handoff(ch->metrics, ch->busy_since[w.tid]
                                            - ((fe_conn_t *)item)->ready_at);
        }
        fe_conn_run(item, &w);
        ch->busy_since[w.tid] = 0;
        ch->busy_fd[w.tid] = -1;
    }
    if (counted) {
        apr_atomic_dec32(&ch->workers_alive);
    }
    /* A stopping child's row goes back to the slot (a new child may be
     * waiting for it); otherwise the thread leaves for an error. */
    fe_sb_worker(ch->slot, w.tid, ch->dying || ch->listener_may_exit
                                  ? SERVER_DEAD : SERVER_GRACEFUL);
    return NULL;
}

/* ------------------------------------------------------------ hooks */

static apr_status_t fe_forget_request(void *data)
{
    fe_conn_t *cs = data;

    cs->r = NULL;
    return APR_SUCCESS;
}

void fe_pre_read_request_hook(request_rec *r, conn_rec *c)
{
    fe_conn_t *cs = fe_conn_from_c(c);

    if (cs != NULL) {
        cs->r = r;
        cs->client_done = 0;
        apr_pool_cleanup_register(r->pool, cs, fe_forget_request,
                                  apr_pool_cleanup_null);
    }
}

/* fe_client_done() for this request's headers. */
static int fe_request_ends_input(request_rec *r)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    int has_body;

    has_body = apr_table_get(r->headers_in, "Transfer-Encoding") != NULL
               || (cl != NULL && strspn(cl, "0 \t") != strlen(cl));
    return fe_client_done(r->proto_num >= HTTP_VERSION(1, 1),
                          conn && ap_find_token(r->pool, conn, "close"),
                          conn && ap_find_token(r->pool, conn, "keep-alive"),
                          has_body);
}

/* KeepAliveTimeout of the vhost that served the request, when it set one
 * (else the connection's base server's), as stock event does. */
int fe_post_read_request(request_rec *r)
{
    fe_conn_t *cs = fe_conn_from_c(r->connection);

    if (cs != NULL) {
        cs->ka_timeout = r->server->keep_alive_timeout_set
                         ? r->server->keep_alive_timeout
                         : r->connection->base_server->keep_alive_timeout;
        cs->io_timeout = r->server->timeout;
        cs->client_done = fe_request_ends_input(r);
    }
    return DECLINED;
}

/* Secondary connections (HTTP/2 streams) are copies of their master: give
 * each its own state, or HTTP/1 code on the stream would write into the
 * master connection's state. */
int fe_pre_connection(conn_rec *c, void *csd)
{
    fe_conn_t *mcs, *cs;

    if (c->master == NULL) {
        fe_writenow_add(c, fe_conn_from_c(c));
        return OK;
    }
    if (c->cs != NULL && c->cs != c->master->cs) {
        return OK;
    }
    mcs = fe_conn_from_c(c->master);
    cs = apr_pcalloc(c->pool, sizeof *cs);
    if (mcs != NULL) {
        *cs = *mcs;
        memset(&cs->tq, 0, sizeof cs->tq);
        cs->in_pollset = 0;
        cs->ka_parked = 0;
        cs->ka_reg = 0;
        cs->ka_slot = 0;
        cs->lingering = 0;
        cs->async_suspended = 0;
        cs->suspended = 0;
        cs->head = NULL;
        cs->head_len = cs->head_cap = 0;
        cs->wn = NULL;               /* FE_WRITE_NOW is the master's */
    }
    cs->c = c;
    cs->r = NULL;
    cs->pub.state = CONN_STATE_PROCESSING;
    cs->pub.sense = CONN_SENSE_DEFAULT;
    c->cs = &cs->pub;
    ap_set_module_config(c->conn_config, &mpm_fastevent_module, cs);
    return OK;
}

int fe_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                       const char *protocol)
{
    fe_conn_t *cs = fe_conn_from_c(c);

    if (c->master == NULL) {
        fe_writenow_off(c);
    }
    if (r == NULL && s != NULL && cs != NULL) {
        cs->ka_timeout = s->keep_alive_timeout;
        cs->io_timeout = s->timeout;
    }
    return DECLINED;
}
