/*
 * fe_writenow.c: small responses are written before the handler returns.
 *
 * With an async MPM the core output filter does not write a response
 * smaller than its write threshold when it passes by: it sets it aside
 * (copying file buckets into a pool of the connection, the
 * "deferred_write" pool it creates for that) and leaves the write to the
 * MPM's write completion.  That pool stays with the connection: a third
 * 8 KiB memory node that an idle keep-alive connection keeps resident
 * next to its own pool and bucket allocator.
 *
 * This connection filter (just above the network filters) holds the
 * in-memory pieces of a response that come before its end (the response
 * head, up to FE_WRITE_NOW_MAX bytes) and, when the end (EOS) arrives and
 * the whole response is small enough to fit in the socket's send buffer
 * without blocking (fe_write_now_fits()), passes it on with a FLUSH: the
 * core writes it at once and sets nothing aside.  Everything else passes
 * as before: larger responses, streamed ones, pipelined requests (the
 * core coalesces their responses), FLUSH and other metadata (they release
 * what is held first), TLS and HTTP/2 connections (the filter removes
 * itself).  While it holds something, c->data_in_output_filters is set,
 * and fe_writenow_release() (called by write completion) passes it on, so
 * the MPM never waits on data the core cannot see.
 *
 * Owns: the hold, the decision to flush, the send-buffer probe.
 * Must not: delay data past the end of a request (EOR releases), hold
 * anything but heap/immortal buckets (transient ones are set aside into
 * the bucket allocator first), or block: the flush is only added when
 * the send buffer has room.
 */

#include "mpm_fastevent.h"
#include "fe_connstate.h"
#include "http_protocol.h"
#include "http_ssl.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

typedef struct fe_writenow {
    apr_bucket_brigade *held;
    apr_size_t held_len;
    int sndbuf;                  /* SO_SNDBUF when first needed; -1: unknown */
} fe_writenow_t;

static ap_filter_rec_t *fe_writenow_handle;

/* Bytes not yet sent (or not yet acknowledged) in the socket's send
 * queue; (apr_size_t)-1 when unknown. */
static apr_size_t fe_unsent(int fd)
{
    int n = 0;

    if (ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0) {
        return (apr_size_t)-1;
    }
    return (apr_size_t)n;
}

static int fe_fits(conn_rec *c, fe_writenow_t *wn, apr_size_t len)
{
    fe_conn_t *cs = fe_conn_from_c(c);
    apr_os_sock_t fd;
    apr_size_t unsent;

    if (cs == NULL || cs->sock == NULL
        || apr_os_sock_get(&fd, cs->sock) != APR_SUCCESS) {
        return 0;
    }
    if (wn->sndbuf == 0) {
        int v = 0;
        socklen_t l = sizeof v;

        wn->sndbuf = getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l) == 0
                     && v > 0 ? v : -1;
    }
    if (wn->sndbuf < 0 || (unsent = fe_unsent(fd)) == (apr_size_t)-1) {
        return 0;
    }
    return fe_write_now_fits(len, unsent, (apr_size_t)wn->sndbuf);
}

/* What a brigade is, for the hold: its data length, whether it ends with
 * EOS, and whether it may be held (only heap, immortal or transient data,
 * no metadata but the EOS). */
typedef struct fe_bb_facts {
    apr_size_t len;
    int eos;
    int holdable;
    int lengths_known;
} fe_bb_facts_t;

static void fe_bb_facts(apr_bucket_brigade *bb, fe_bb_facts_t *f)
{
    apr_bucket *b;

    f->len = 0;
    f->eos = 0;
    f->holdable = 1;
    f->lengths_known = 1;
    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_EOS(b) && APR_BUCKET_NEXT(b)
                                    == APR_BRIGADE_SENTINEL(bb)) {
            f->eos = 1;
            continue;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            f->holdable = 0;
            f->lengths_known = 0;    /* FLUSH, EOR, EOC...: pass as is */
            return;
        }
        if (b->length == (apr_size_t)-1) {
            f->holdable = 0;
            f->lengths_known = 0;
            return;
        }
        if (!APR_BUCKET_IS_HEAP(b) && !APR_BUCKET_IS_IMMORTAL(b)
            && !APR_BUCKET_IS_TRANSIENT(b)) {
            f->holdable = 0;
        }
        f->len = f->len > (apr_size_t)-1 - b->length ? (apr_size_t)-1
                                                     : f->len + b->length;
    }
}

/* Pass what is held (before @a bb, if any). */
static apr_status_t fe_release(ap_filter_t *f, fe_writenow_t *wn,
                               apr_bucket_brigade *bb)
{
    if (wn->held != NULL && !APR_BRIGADE_EMPTY(wn->held)) {
        /* Ours no more: the core sets the flag again if it keeps any. */
        f->c->data_in_output_filters = 0;
        if (bb != NULL) {
            APR_BRIGADE_PREPEND(bb, wn->held);
        }
        else {
            bb = wn->held;
        }
        wn->held_len = 0;
    }
    if (bb == NULL) {
        return APR_SUCCESS;
    }
    return ap_pass_brigade(f->next, bb);
}

static apr_status_t fe_writenow_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    conn_rec *c = f->c;
    fe_writenow_t *wn = f->ctx;
    fe_bb_facts_t facts;
    apr_bucket *b;

    if (wn == NULL) {
        if (ap_ssl_conn_is_ssl(c)) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        f->ctx = wn = apr_pcalloc(c->pool, sizeof *wn);
    }
    if (APR_BRIGADE_EMPTY(bb)) {
        return fe_release(f, wn, bb);
    }
    fe_bb_facts(bb, &facts);
    if (!facts.eos && facts.holdable && !c->data_in_input_filters
        && fe_write_hold_ok(wn->held_len, facts.len)) {
        /* The head (or an early piece) of a response: keep it for the
         * end.  Transient data is copied into the bucket allocator. */
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_TRANSIENT(b)
                && apr_bucket_setaside(b, c->pool) != APR_SUCCESS) {
                return fe_release(f, wn, bb);
            }
        }
        if (wn->held == NULL) {
            wn->held = apr_brigade_create(c->pool, c->bucket_alloc);
        }
        APR_BRIGADE_CONCAT(wn->held, bb);
        wn->held_len += facts.len;
        c->data_in_output_filters = 1;      /* fe_writenow_release() */
        return APR_SUCCESS;
    }
    if (facts.eos && facts.lengths_known && !c->data_in_input_filters
        && fe_write_hold_ok(wn->held_len, facts.len)
        && fe_fits(c, wn, wn->held_len + facts.len)) {
        /* A whole small response: written now, nothing set aside. */
        APR_BUCKET_INSERT_BEFORE(APR_BRIGADE_LAST(bb),
                                 apr_bucket_flush_create(c->bucket_alloc));
    }
    return fe_release(f, wn, bb);
}

/* Pre-connection, for the HTTP/1 connections this MPM runs. */
void fe_writenow_add(conn_rec *c)
{
    ap_add_output_filter_handle(fe_writenow_handle, NULL, NULL, c);
}

/* Write completion and protocol switches: pass on whatever is held. */
apr_status_t fe_writenow_release(conn_rec *c)
{
    ap_filter_t *f;

    for (f = c->output_filters; f != NULL; f = f->next) {
        if (f->frec == fe_writenow_handle) {
            fe_writenow_t *wn = f->ctx;

            if (wn == NULL || wn->held == NULL
                || APR_BRIGADE_EMPTY(wn->held)) {
                return APR_SUCCESS;
            }
            return fe_release(f, wn, NULL);
        }
    }
    return APR_SUCCESS;
}

/* A protocol switch (h2c, h2 with prior knowledge, websockets): the
 * filter gets out of the way after passing on what it holds. */
void fe_writenow_remove(conn_rec *c)
{
    ap_filter_t *f;

    for (f = c->output_filters; f != NULL; f = f->next) {
        if (f->frec == fe_writenow_handle) {
            if (f->ctx != NULL) {
                fe_release(f, f->ctx, NULL);
            }
            ap_remove_output_filter(f);
            return;
        }
    }
}

void fe_writenow_register(void)
{
    fe_writenow_handle = ap_register_output_filter("FE_WRITE_NOW",
                             fe_writenow_filter, NULL, AP_FTYPE_CONNECTION);
}
