/**
 * @file fe_conn.h
 * @brief Connections as the workers run them (connection/fe_conn.c): the
 *        state handlers, a connection's memory and count, and the hooks
 *        the MPM adds to the core's connection and request processing.
 */
#ifndef FE_CONN_H
#define FE_CONN_H

#include "mpm_fastevent.h"

/** The worker running a connection (connection/fe_worker.c). */
typedef struct fe_worker {
    fe_child_t *ch;
    apr_thread_t *thd;
    int tid;                  /**< its index: scoreboard row, wk.* entries */
} fe_worker_t;

/** Run @a cs on worker @a w until it leaves the worker (parked, handed to
 *  a module, or closed). */
void fe_conn_run(fe_conn_t *cs, fe_worker_t *w);

/** Listener: a transaction pool for a new connection (recycled, or new
 *  on pruntime's allocator); NULL when out of memory. */
apr_pool_t *fe_pool_get(fe_child_t *ch);
/** Clear @a p (running the connection's cleanups) and keep it for reuse
 *  (up to ThreadsPerChild of them), or destroy it. */
void fe_pool_put(fe_child_t *ch, apr_pool_t *p);

/** From accept on, the connection counts in count.conns until its pool
 *  is cleared. */
void fe_conn_track(fe_conn_t *cs);
/** Close the socket and recycle the pool (any thread that owns cs). */
void fe_conn_close(fe_conn_t *cs);

/** What fe_linger_discard() found. */
typedef enum fe_drain {
    FE_DRAIN_EOF,             /**< the client closed (or an error) */
    FE_DRAIN_WAIT,            /**< nothing more to read now */
    FE_DRAIN_MORE             /**< the client keeps sending */
} fe_drain_e;

/** Read and discard, without blocking, at most @a rounds buffers of what
 *  a lingering connection still sends (worker or listener, whoever owns
 *  cs). */
fe_drain_e fe_linger_discard(fe_conn_t *cs, int rounds);

/* Hooks (registered in mod_mpm_fastevent.c). */
int fe_pre_connection(conn_rec *c, void *csd);
void fe_pre_read_request_hook(request_rec *r, conn_rec *c);
int fe_post_read_request(request_rec *r);
int fe_log_transaction(request_rec *r);
int fe_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                       const char *protocol);

#endif /* FE_CONN_H */
