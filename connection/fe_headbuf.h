/**
 * @file fe_headbuf.h
 * @brief The listener collects new connections' request heads
 *        (connection/fe_headbuf.c).
 */
#ifndef FE_HEADBUF_H
#define FE_HEADBUF_H

#include "mpm_fastevent.h"

/** What fe_head_read() found. */
typedef enum fe_head_read {
    FE_HEAD_CLOSE = -1,       /**< the client left without a head */
    FE_HEAD_WAIT = 0,         /**< more to come: keep waiting */
    FE_HEAD_GO = 1            /**< a whole head (or a partial one at EOF):
                                   a worker runs it */
} fe_head_read_e;

/** Whether the listener collects heads on this listener (HTTP ones). */
int fe_head_wanted(const ap_listen_rec *lr);

/** Listener: read what a new connection sent, without blocking. */
fe_head_read_e fe_head_read(fe_conn_t *cs);

/** Add @a n bytes that came at @a now to cs's buffer (cs->head), growing
 *  it up to the head cap plus FastEventBodyBuffer; notes when the head
 *  is complete.  Whoever holds cs (listener, or a worker in fe_intake). */
void fe_head_append(fe_conn_t *cs, const char *data, apr_size_t n,
                    apr_time_t now);

/** Note where cs's request head ends (cs->head_end, at @a now), once
 *  the buffer holds all of it. */
void fe_head_find_end(fe_conn_t *cs, apr_time_t now);

/** How many bytes cs's request needs buffered in all (fe_request_need(),
 *  or the head cap while the head is incomplete). */
apr_size_t fe_head_want(const fe_conn_t *cs);

/** 1 when cs's buffer holds part of a request the core can answer when
 *  its time is up (a 408): HTTP bytes, not a TLS handshake. */
int fe_head_partial(const fe_conn_t *cs);

/** 1 when cs's buffer holds what fe_request_ready() asks for. */
int fe_head_complete(const fe_conn_t *cs);

/** Parent, at check_config: the header deadline of new connections, from
 *  mod_reqtimeout's header stage (main server) or Timeout, in fe_g. */
void fe_head_deadline_config(server_rec *s, apr_pool_t *ptemp);

/** The insert_network_bucket hook that hands the bytes to the core. */
void fe_headbuf_register_hooks(void);

#endif /* FE_HEADBUF_H */
