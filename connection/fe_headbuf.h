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

/** Parent, at check_config: the header deadline of new connections, from
 *  mod_reqtimeout's header stage (main server) or Timeout, in fe_g. */
void fe_head_deadline_config(server_rec *s, apr_pool_t *ptemp);

/** The insert_network_bucket hook that hands the bytes to the core. */
void fe_headbuf_register_hooks(void);

#endif /* FE_HEADBUF_H */
