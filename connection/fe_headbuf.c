/*
 * fe_headbuf.c: the listener collects a new connection's request head.
 *
 * A worker that reads a request head the client trickles in (slowloris)
 * is lost to everyone else until the client finishes or Timeout passes.
 * So on HTTP listeners the listener thread reads what a new connection
 * sends, without blocking, into a buffer in the connection's pool, and
 * hands the connection to a worker only when fe_head_ready() (fe_head.c)
 * says the head is complete.  Meanwhile the connection waits in the
 * fresh queue, whose deadline (min(Timeout, 20 s) from accept) is also
 * the header deadline.
 *
 * The worker's core input filter then reads the buffered bytes before
 * the socket: the insert_network_bucket hook below puts them in front of
 * the socket bucket when the core sets up its input brigade.  They are
 * raw network bytes, so TLS works the same (mod_ssl reads them through
 * the core filter); for TLS the listener waits for the first record only.
 *
 * Listeners of other protocols (Listen ... <protocol>, e.g. a module
 * whose server speaks first) get the stock behaviour: a worker at once.
 *
 * Must not: block (the listener runs fe_head_read), or keep bytes for a
 * connection whose conn_rec already read from the socket.
 */
#include "mpm_fastevent.h"
#include "connection/fe_headbuf.h"
#include "policy/fe_head.h"
#include "http_core.h"
#include "http_log.h"

#include <apr_buckets.h>
#include <apr_strings.h>
#include <errno.h>
#include <sys/socket.h>

APLOG_USE_MODULE(mpm_fastevent);

int fe_head_wanted(const ap_listen_rec *lr)
{
    const char *proto = lr->protocol;

    return proto == NULL || strcasecmp(proto, "http") == 0
           || strcasecmp(proto, "https") == 0;
}

/* Listener thread, cs parked or just accepted (not yet any worker's). */
fe_head_read_e fe_head_read(fe_conn_t *cs)
{
    char buf[FE_HEAD_CAP];
    int fd = fe_sock_fd(cs->sock);
    apr_size_t room = FE_HEAD_CAP - cs->head_len;
    ssize_t n;

    if (fd < 0) {
        return FE_HEAD_CLOSE;
    }
    do {
        n = recv(fd, buf, room, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return FE_HEAD_WAIT;
        }
        return FE_HEAD_CLOSE;        /* reset: nothing to answer */
    }
    if (n == 0) {
        /* EOF: a partial head is the worker's to answer (400). */
        return cs->head_len > 0 ? FE_HEAD_GO : FE_HEAD_CLOSE;
    }
    if (cs->head_len + (apr_size_t)n > cs->head_cap) {
        apr_size_t cap = fe_head_grow(cs->head_cap, cs->head_len + n,
                                      FE_HEAD_CAP);
        char *nb = apr_palloc(cs->p, cap);

        if (cs->head_len > 0) {
            memcpy(nb, cs->head, cs->head_len);
        }
        cs->head = nb;
        cs->head_cap = cap;
    }
    memcpy(cs->head + cs->head_len, buf, (apr_size_t)n);
    cs->head_len += (apr_size_t)n;
    return fe_head_ready(cs->head, cs->head_len, FE_HEAD_CAP)
           ? FE_HEAD_GO : FE_HEAD_WAIT;
}

/* insert_network_bucket: the core sets up its input brigade (once per
 * connection, at its first read).  Buffered bytes go first. */
static apr_status_t fe_head_insert(conn_rec *c, apr_bucket_brigade *bb,
                                   apr_socket_t *sock)
{
    fe_conn_t *cs;
    apr_bucket *b;

    if (c->master != NULL || (cs = fe_conn_from_c(c)) == NULL
        || cs->head_len == 0 || cs->c != c || cs->sock != sock) {
        return AP_DECLINED;
    }
    b = apr_bucket_pool_create(cs->head, cs->head_len, cs->p,
                               c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, b);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_socket_create(sock,
                                                         c->bucket_alloc));
    cs->head = NULL;
    cs->head_len = cs->head_cap = 0;
    return APR_SUCCESS;
}

void fe_headbuf_register_hooks(void)
{
    ap_hook_insert_network_bucket(fe_head_insert, NULL, NULL,
                                  APR_HOOK_FIRST);
}
