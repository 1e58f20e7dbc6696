/*
 * fe_intake.c: a worker reads a TLS connection's handshake, request head
 * and small body without ever waiting on the client.
 *
 * On plain HTTP the listener reads a new connection's head (and a body
 * up to FastEventBodyBuffer) itself, with recv() (fe_headbuf.c).  TLS
 * needs crypto, which stays off the listener: it waits only for the first
 * record, then a worker sets the connection up (mod_ssl's pre_connection)
 * and runs fe_intake_step(): non-blocking reads through the connection's
 * input filters below FE_INTAKE (mod_ssl, mod_reqtimeout, the core).
 * mod_ssl drives the handshake inside those reads and answers EAGAIN when
 * it needs more from the client (ssl_io_filter_handshake(): WANT_READ ->
 * APR_EAGAIN), so the worker parks the connection (fe_park_intake(): the
 * listener's pollset, a fresh_more queue until fe_park_due()) and takes
 * other work; the next readable event brings it back to any worker, as
 * mod_ssl keeps its whole state in the connection.  Decrypted bytes go
 * into cs->head until fe_request_ready() says the request is in.
 *
 * FE_INTAKE, a connection input filter above mod_ssl (AP_FTYPE_CONNECTION
 * + 3 < mod_ssl's + 5), then serves those bytes to the core's reads in
 * every mode before it passes reads through; after them, a request whose
 * deadline passed gets APR_TIMEUP, so the core answers 408 as under
 * mod_reqtimeout.  HTTP/2 (ALPN) goes to mod_http2 as soon as the
 * handshake chose it, with whatever it sent already.
 *
 * Must not: block, or run on the listener; lose, reorder or repeat a byte
 * between the socket and the core.
 */
#include "mpm_fastevent.h"
#include "connection/fe_headbuf.h"
#include "connection/fe_intake.h"
#include "policy/fe_head.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_ssl.h"

#include <apr_buckets.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Bytes asked for per read, and reads per turn on a worker: a client
 * that sends fast gets the next turn at once (its socket stays ready). */
#define FE_INTAKE_READ   8192
#define FE_INTAKE_ROUNDS 64

static ap_filter_rec_t *fe_intake_frec;

int fe_intake_wanted(conn_rec *c)
{
    return c->master == NULL && ap_ssl_conn_is_ssl(c);
}

void fe_intake_start(fe_conn_t *cs)
{
    conn_rec *c = cs->c;

    cs->intake_f = ap_add_input_filter_handle(fe_intake_frec, cs, NULL, c);
    cs->intake_bb = apr_brigade_create(c->pool, c->bucket_alloc);
    cs->intake = 1;
    cs->line_at = 0;       /* the listener saw a handshake, not a line */
    /* The listener's bytes (the ClientHello) go to the core's first read
     * (fe_head_insert()); cs->head is for the decrypted request. */
    cs->raw = cs->head;
    cs->raw_len = cs->head_len;
    cs->head = NULL;
    cs->head_len = cs->head_cap = cs->head_off = cs->head_end = 0;
}

void fe_intake_next(fe_conn_t *cs)
{
    /* The next request's clock starts now; bytes a pipelining client
     * sent with the last one stay in front. */
    cs->accepted_at = cs->last_read = apr_time_now();
    cs->line_at = 0;
    cs->head_done = 0;
    cs->head_late = 0;
    cs->head_end = 0;
    if (cs->head_off > 0) {
        apr_size_t left = cs->head_len - cs->head_off;

        memmove(cs->head, cs->head + cs->head_off, left);
        cs->head_len = left;
        cs->head_off = 0;
        fe_head_find_end(cs, cs->accepted_at);
    }
    cs->intake = 1;
}

/* Append what a read brought; 1 at the end of the input. */
static int fe_intake_take(fe_conn_t *cs, apr_bucket_brigade *bb,
                          apr_time_t now)
{
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        if (APR_BUCKET_IS_EOS(b)) {
            return 1;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            continue;
        }
        if (apr_bucket_read(b, &data, &len, APR_NONBLOCK_READ)
            != APR_SUCCESS) {
            return 1;
        }
        if (len > 0) {
            fe_head_append(cs, data, len, now);
        }
    }
    return 0;
}

static fe_intake_e fe_intake_end(fe_conn_t *cs)
{
    cs->intake = 0;
    return fe_head_partial(cs) ? FE_INTAKE_GO : FE_INTAKE_CLOSE;
}

fe_intake_e fe_intake_step(fe_conn_t *cs)
{
    conn_rec *c = cs->c;
    apr_bucket_brigade *bb = cs->intake_bb;
    int i;

    for (i = 0; i < FE_INTAKE_ROUNDS; i++) {
        apr_size_t want = fe_head_want(cs);
        apr_status_t rv;
        int eof;

        /* ALPN chose another protocol (h2): its module reads for itself */
        if (strcmp(ap_get_protocol(c), AP_PROTOCOL_HTTP1) != 0
            || (cs->head_len > 0 && fe_head_complete(cs))) {
            cs->intake = 0;
            return FE_INTAKE_GO;
        }
        want = want > cs->head_len ? want - cs->head_len : 1;
        rv = ap_get_brigade(cs->intake_f->next, bb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ,
                            want < FE_INTAKE_READ ? want : FE_INTAKE_READ);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            apr_brigade_cleanup(bb);
            return FE_INTAKE_WAIT;
        }
        if (rv == APR_TIMEUP) {
            /* mod_reqtimeout's own limit passed (it logged AH01382) */
            apr_brigade_cleanup(bb);
            cs->head_late = 1;
            return fe_intake_end(cs);
        }
        if (rv != APR_SUCCESS || c->aborted) {
            apr_brigade_cleanup(bb);
            ap_log_cerror(APLOG_MARK, APLOG_DEBUG, rv, c, FELOGNO(10220)
                          "TLS connection ended before its request was "
                          "in (%" APR_SIZE_T_FMT " bytes of it)",
                          cs->head_len);
            return fe_intake_end(cs);
        }
        eof = fe_intake_take(cs, bb, apr_time_now());
        apr_brigade_cleanup(bb);
        if (eof) {
            return fe_intake_end(cs);
        }
    }
    return FE_INTAKE_WAIT;           /* more is coming: next turn */
}

/* ------------------------------------------------------------ the filter */

static void fe_intake_emit(apr_bucket_brigade *bb, const char *p,
                           apr_size_t n)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(p, n, NULL,
                                                       bb->bucket_alloc));
}

static void fe_intake_consume(fe_conn_t *cs, apr_size_t n)
{
    cs->head_off += n;
    if (cs->head_off >= cs->head_len) {
        cs->head_off = cs->head_len = 0;   /* all served: the buffer is */
        cs->head_end = 0;                  /* free for what comes next  */
    }
}

/* The rest of a line the buffer holds only the start of, from below. */
static apr_status_t fe_intake_line_rest(ap_filter_t *f,
                                        apr_bucket_brigade *bb,
                                        apr_read_type_e block,
                                        apr_off_t readbytes)
{
    apr_status_t rv = ap_get_brigade(f->next, bb, AP_MODE_GETLINE, block,
                                     readbytes);

    return APR_STATUS_IS_EAGAIN(rv) ? APR_SUCCESS : rv;
}

static apr_status_t fe_intake_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                     ap_input_mode_t mode,
                                     apr_read_type_e block,
                                     apr_off_t readbytes)
{
    fe_conn_t *cs = f->ctx;
    apr_size_t left = cs->head_len - cs->head_off, n;
    const char *p = cs->head + cs->head_off, *nl;

    if (cs->intake || mode == AP_MODE_INIT) {
        return ap_get_brigade(f->next, bb, mode, block, readbytes);
    }
    if (left == 0) {
        return cs->head_late ? APR_TIMEUP
                             : ap_get_brigade(f->next, bb, mode, block,
                                              readbytes);
    }
    n = readbytes > 0 && (apr_size_t)readbytes < left
        ? (apr_size_t)readbytes : left;
    switch (mode) {
    case AP_MODE_GETLINE:
        nl = memchr(p, '\n', left);
        n = nl != NULL ? (apr_size_t)(nl - p) + 1 : left;
        fe_intake_emit(bb, p, n);
        fe_intake_consume(cs, n);
        if (nl == NULL && !cs->head_late) {
            return fe_intake_line_rest(f, bb, block, readbytes);
        }
        return APR_SUCCESS;
    case AP_MODE_SPECULATIVE:
        fe_intake_emit(bb, p, n);
        return APR_SUCCESS;
    case AP_MODE_EXHAUSTIVE:
        fe_intake_emit(bb, p, left);
        fe_intake_consume(cs, left);
        return APR_SUCCESS;
    case AP_MODE_EATCRLF:
        for (n = 0; n < left && (p[n] == '\r' || p[n] == '\n'); n++) {
        }
        fe_intake_consume(cs, n);
        return APR_SUCCESS;
    default:                         /* AP_MODE_READBYTES */
        fe_intake_emit(bb, p, n);
        fe_intake_consume(cs, n);
        return APR_SUCCESS;
    }
}

void fe_intake_register_hooks(void)
{
    fe_intake_frec = ap_register_input_filter("FE_INTAKE", fe_intake_filter,
                                              NULL, AP_FTYPE_CONNECTION + 3);
}
