/**
 * @file fe_accept.h
 * @brief Taking new connections, on the listener thread
 *        (connection/fe_accept.c).
 */
#ifndef FE_ACCEPT_H
#define FE_ACCEPT_H

#include "mpm_fastevent.h"

/** This child's bucket of listening sockets, into the pollset. */
apr_status_t fe_accept_setup(fe_child_t *ch);

/** A listening socket is readable: accept what the capacity allows. */
void fe_accept_ready(fe_child_t *ch, ap_listen_rec *lr);

/** Each pass of the listener: accept, pause for capacity, or defer to a
 *  sibling with more room. */
void fe_accept_update(fe_child_t *ch, apr_time_t now);

/** Sibling rows are read at most this often, and a child that defers to
 *  a sibling looks again at least this often (the listener's poll
 *  timeout): the connections it leaves in the backlog wait for the sibling
 *  at most FE_DEFER_STUCK (fe_accept.c). */
#define FE_BALANCE_EVERY apr_time_from_msec(10)

/** The child stops: the listening sockets are closed for good. */
void fe_accept_close(fe_child_t *ch);

/** A parked new connection became readable: read its head on. */
void fe_accept_fresh_ready(fe_child_t *ch, fe_conn_t *cs);

/** Say (at most once a minute) how many new connections were closed at
 *  the header deadline or evicted at the fresh cap. */
void fe_accept_log_slow(fe_child_t *ch, apr_time_t now);

#endif /* FE_ACCEPT_H */
