/*
 * fe_conn.c: connections, as the worker threads run them.
 *
 * A worker takes a connection and runs it through httpd's states with one
 * handler per state, until it has to wait for the network: then it parks
 * it (fe_park.c: a timeout queue, and the pollset or the keep-alive set)
 * and takes the next one.  The decisions are policy/fe_connstate.c's
 * (pure); this file does the I/O and calls the hooks.  It also owns a
 * connection's memory (the recycled transaction pools), its count from
 * accept to close, and the connection and request hooks the MPM adds.
 *
 * Ownership: a connection is in exactly one place at a time: the worker
 * queue, a worker, or parked.  After fe_conn_wait() or fe_conn_close()
 * returns, the worker must not touch cs again: the listener may already
 * have handed it to another worker.
 *
 * Must not: block in the listener's place (only workers run this code,
 * except fe_conn_close() and fe_linger_discard()), or decide policy
 * (fe_connstate.c does).
 */
#include "mpm_fastevent.h"
#include "connection/fe_conn.h"
#include "connection/fe_intake.h"
#include "connection/fe_listener.h"
#include "connection/fe_park.h"
#include "connection/fe_timer.h"
#include "connection/fe_writenow.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_vhost.h"
#include "http_request.h"
#include "ap_mpm.h"

#include <apr_atomic.h>
#include <apr_strings.h>

#include <string.h>
#include <sys/socket.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Read this much per call while draining a lingering connection. */
#define FE_LINGER_BUF 4096

/* ------------------------------------------------------------ pools */

/*
 * Transaction pools have no allocator of their own: they use pruntime's,
 * which is locked and keeps at most MaxMemFree of free memory for the
 * whole child (process/fe_child.c).  The memory a request frees (its
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

    apr_thread_mutex_lock(ch->pools.mutex);
    if (ch->pools.n > 0) {
        p = ch->pools.stack[--ch->pools.n];
    }
    apr_thread_mutex_unlock(ch->pools.mutex);
    if (p != NULL) {
        return p;
    }
    if (apr_pool_create_ex(&p, ch->pruntime, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_tag(p, "transaction");
    return p;
}

/* Clear (running the connection's cleanups) and keep up to pools.max. */
void fe_pool_put(fe_child_t *ch, apr_pool_t *p)
{
    int kept = 0;

    apr_pool_clear(p);
    apr_thread_mutex_lock(ch->pools.mutex);
    if (ch->pools.n < ch->pools.max && !ch->stop.dying) {
        ch->pools.stack[ch->pools.n++] = p;
        kept = 1;
    }
    apr_thread_mutex_unlock(ch->pools.mutex);
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
    fe_sb_handle_move(cs->sbh, w->ch->slot, w->tid);
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

    fe_park_release_slot(ch, cs);
    if (cs->lingering) {
        apr_atomic_dec32(&ch->count.lingering);
    }
    if (cs->async_suspended) {
        apr_atomic_dec32(&ch->count.suspended);
    }
    apr_atomic_dec32(&ch->count.conns);
    fe_sb_publish_conns(ch);
    if (ch->acc.disabled || ch->stop.listener_may_exit) {
        fe_listener_wakeup(ch);   /* room to accept, or the last one */
    }
    if (ch->stop.dying) {
        fe_work_interrupt_one(ch);           /* a worker may leave now */
    }
    return APR_SUCCESS;
}

/* From accept on, the connection counts in ch->count.conns until its pool is
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

/* ------------------------------------------------------------ waiting */

/*
 * cs leaves this worker to wait for the network (fe_park(): @a sense in
 * @a state, then run again in @a resume; the wait counts from @a stamp).
 * When it cannot be parked it is closed.  Either way the caller must not
 * touch cs again.
 */
static void fe_conn_wait(fe_conn_t *cs, int state, int sense, int resume,
                         apr_time_t stamp)
{
    fe_child_t *ch = cs->child;
    apr_status_t rv;

    fe_notify_suspend(cs);
    rv = fe_park(cs, state, sense, resume, stamp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->s, FELOGNO(10140)
                     "apr_pollset_add() failed: closing the connection "
                     "(%u open)", apr_atomic_read32(&ch->count.conns));
        fe_conn_close(cs);
    }
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
    fe_sb_handle_create(&cs->sbh, cs->p, ch->slot, w->tid);
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

/* A request read without blocking (fe_intake.c: TLS): 1 when it is in
 * and the core may run it; 0 when cs left this worker (parked to wait
 * for the client, or closed); -1 when it goes on in another state (a
 * short lingering close: the client left or the handshake failed). */
static int fe_on_intake(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    int sense;

    switch (fe_intake_step(cs)) {
    case FE_INTAKE_GO:
        return 1;
    case FE_INTAKE_CLOSE:
        cs->pub.state = CONN_STATE_LINGER;
        apr_table_setn(c->notes, "short-lingering-close", "1");
        return -1;
    default:
        break;
    }
    /* The handshake may have left output behind (the server's flight):
     * the client waits for it before it sends more. */
    if (c->data_in_output_filters && fe_flush(c) != APR_SUCCESS) {
        cs->intake = 0;
        cs->pub.state = CONN_STATE_LINGER;
        return -1;
    }
    sense = c->data_in_output_filters
            || cs->pub.sense == CONN_SENSE_WANT_WRITE
            ? CONN_SENSE_WANT_WRITE : CONN_SENSE_WANT_READ;
    fe_notify_suspend(cs);
    if (fe_park_intake(cs, sense) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, cs->child->s, FELOGNO(10221)
                     "apr_pollset_add() failed for a connection whose "
                     "request is still coming: closing it (%u open)",
                     apr_atomic_read32(&cs->child->count.conns));
        fe_conn_close(cs);
    }
    return 0;
}

/* Returns 0 when cs left this worker (parked or closed). */
static int fe_on_write_completion(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    fe_flush_facts_t f;
    apr_status_t rv;

    fe_sb_conn_status(c, SERVER_BUSY_WRITE);
    rv = fe_flush(c);
    f.aborted = c->aborted || rv != APR_SUCCESS;
    f.pending_output = c->data_in_output_filters;
    f.pending_input = c->data_in_input_filters;
    f.want_read = cs->pub.sense == CONN_SENSE_WANT_READ;
    f.clogging = c->clogging_input_filters;
    f.keepalive = c->keepalive == AP_CONN_KEEPALIVE;

    switch (fe_conn_after_flush(&f)) {
    case FE_NEXT_WAIT_WRITE:
        fe_conn_wait(cs, CONN_STATE_WRITE_COMPLETION, CONN_SENSE_WANT_WRITE,
                     CONN_STATE_WRITE_COMPLETION, apr_time_now());
        return 0;
    case FE_NEXT_WAIT_READ:
        fe_conn_wait(cs, CONN_STATE_WRITE_COMPLETION, CONN_SENSE_WANT_READ,
                     CONN_STATE_PROCESSING, apr_time_now());
        return 0;
    case FE_NEXT_PROCESS:
        cs->pub.state = CONN_STATE_PROCESSING;
        return 1;
    case FE_NEXT_KEEPALIVE: {
        apr_time_t idle_since = apr_time_now();

        cs->intake_next = cs->intake_f != NULL;   /* TLS: fe_intake */

        /* A worker holding a keep-alive connection is idle, and shows so
         * ('_'), as under stock event: the parent counts it as spare, and
         * it is given back the moment work waits.  TLS connections are
         * not held by default (FastEventKeepAliveHold auto): there the
         * hold bought no CPU and cost the tail (docs/performance.md). */
        fe_sb_conn_status(c, SERVER_READY);
        if (fe_hold_mode_allows(fe_g.lim.ka_hold, cs->intake_f != NULL)
            && fe_hold_wait(cs->child, fe_sock_fd(cs->sock), cs->ka_timeout,
                            idle_since, cs->tid)) {
            cs->pub.state = CONN_STATE_PROCESSING;
            return 1;
        }
        fe_conn_wait(cs, CONN_STATE_KEEPALIVE, CONN_SENSE_WANT_READ,
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
        apr_atomic_inc32(&ch->count.lingering);
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
    short_linger = ch->stop.dying
                   || apr_table_get(c->notes, "short-lingering-close");
    cs->pub.state = short_linger ? CONN_STATE_LINGER_SHORT
                                 : CONN_STATE_LINGER_NORMAL;
    cs->linger_since = apr_time_now();
    return 1;
}

/* Read and discard, without blocking (the socket's timeout is 0 once
 * lingering), at most @rounds buffers of what a lingering connection
 * still sends.  Worker or listener (fe_linger_here), whoever owns cs. */
fe_drain_e fe_linger_discard(fe_conn_t *cs, int rounds)
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
    fe_conn_wait(cs, cs->pub.state, CONN_SENSE_WANT_READ, cs->pub.state,
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
    if (order == FE_KILL_LATE) {
        /* A request fe_intake was reading ran out of time with part of
         * it in: the core reads that, then a timeout, and answers 408. */
        cs->head_late = 1;
        cs->intake = 0;
        cs->pub.state = CONN_STATE_PROCESSING;
        return 1;
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

/* Run cs until it leaves this worker. */
void fe_conn_run(fe_conn_t *cs, fe_worker_t *w)
{
    cs->tid = w->tid;
    if (cs->fresh) {
        if (cs->kill == FE_KILL_LATE) {
            /* Part of a head came by the header deadline: the core reads
             * it, then a timeout (fe_headbuf.c), and answers as it does
             * when mod_reqtimeout ends a head (408). */
            cs->head_late = 1;
            cs->kill = FE_KILL_NONE;
        }
        else if (cs->kill) {
            fe_conn_close(cs);       /* nothing came, or evicted: silence */
            return;
        }
        if (fe_conn_setup(cs, w) < 0) {
            return;
        }
        if (cs->pub.state == CONN_STATE_PROCESSING && !cs->head_late
            && fe_intake_wanted(cs->c)) {
            fe_intake_start(cs);     /* TLS: the worker must never wait */
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
            if (cs->intake_next) {
                cs->intake_next = 0;
                fe_intake_next(cs);
            }
            if (cs->intake) {
                int go = fe_on_intake(cs);

                if (go == 0) {
                    return;
                }
                if (go < 0) {
                    break;
                }
            }
            fe_on_processing(cs);
            break;
        case CONN_STATE_WRITE_COMPLETION:
            if (!fe_on_write_completion(cs)) {
                return;
            }
            break;
        case CONN_STATE_ASYNC_WAITIO:
            fe_conn_wait(cs, CONN_STATE_ASYNC_WAITIO, cs->pub.sense,
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

/* The first request of a connection whose head the listener collected
 * began when its request line was in (cs->line_at), not when a worker
 * read it from the buffer: its %t and %D count from there, as they do
 * under stock event, whose worker reads the line as it comes. */
static void fe_request_began(fe_conn_t *cs, request_rec *r)
{
    if (cs->line_at != 0 && r->connection->keepalives == 0) {
        r->request_time = cs->line_at;
    }
}

/* log_transaction, first: also for a head that failed (a 408 at the
 * header deadline), which post_read_request never saw. */
int fe_log_transaction(request_rec *r)
{
    fe_conn_t *cs = fe_conn_from_c(r->connection);

    if (cs != NULL && r->main == NULL) {
        fe_request_began(cs, r);
        cs->line_at = 0;
    }
    return DECLINED;
}

/* KeepAliveTimeout of the vhost that served the request, when it set one
 * (else the connection's base server's), as stock event does. */
int fe_post_read_request(request_rec *r)
{
    fe_conn_t *cs = fe_conn_from_c(r->connection);

    if (cs != NULL) {
        fe_request_began(cs, r);
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
        cs->head_late = 0;
        cs->in_fresh = 0;
        cs->line_at = 0;
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
