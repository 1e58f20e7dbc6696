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
 * This connection filter (just above the network filters) is armed for
 * each ordinary HTTP/1 request (fixups: not CONNECT, no Upgrade, no TLS).
 * While armed it holds the in-memory pieces of the response that come
 * before its end (the response head) as long as they stay below
 * FE_WRITE_HOLD_MAX, which the core would not have written either; when
 * the end (EOS) arrives with a whole response of at most FE_WRITE_NOW_MAX
 * that fits in the socket's send buffer without blocking
 * (fe_write_now_fits(), from the kernel's own counts), it passes it on
 * with a FLUSH: the core writes it at once and sets nothing aside.  The
 * files of a whole response of that size are read rather than
 * memory-mapped (fe_read_small_files()).
 * Everything else passes as before: larger or streamed responses,
 * pipelined requests (the core coalesces their responses), FLUSH and
 * other metadata (they release what is held first), tunnels (CONNECT,
 * Upgrade), outgoing (proxy backend) connections, TLS, and protocols
 * switched to.  While it holds something c->data_in_output_filters is
 * set, and fe_writenow_release() (called by write completion) passes it
 * on, so the MPM never waits on data the core cannot see.
 *
 * Owns: the arming, the hold, the decision to flush, the send-buffer
 * probe, reading small files instead of mapping them.
 * Must not: delay data past the end of a request (EOS and EOR release and
 * disarm), hold anything but heap/immortal buckets (transient ones are
 * copied into the bucket allocator first), or block: the FLUSH is only
 * added when the send buffer has room.
 */

#include "mpm_fastevent.h"
#include "connection/fe_writenow.h"
#include "policy/fe_connstate.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <linux/sock_diag.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

struct fe_writenow {
    apr_bucket_brigade *held;
    apr_size_t held_len;
    int armed;                   /* an ordinary HTTP/1 response is due */
    int off;                     /* TLS, or another protocol: pass all */
    int lowat;                   /* TCP_NOTSENT_LOWAT; 0: not read yet */
};

static ap_filter_rec_t *fe_writenow_handle;

/*
 * Whether @a len more bytes can be written to the connection's socket
 * without blocking, from the kernel's own counts: the send buffer and the
 * bytes the send queue uses (SO_MEMINFO, overhead included), and
 * TCP_NOTSENT_LOWAT if set lower.  No when anything is unknown.
 */
static int fe_fits(conn_rec *c, fe_writenow_t *wn, apr_size_t len)
{
#if defined(SO_MEMINFO) && defined(__linux__)
    fe_conn_t *cs = fe_conn_from_c(c);
    apr_uint32_t mem[SK_MEMINFO_VARS];
    socklen_t l = sizeof mem;
    apr_size_t limit;
    int fd;

    if (cs == NULL || cs->sock == NULL || (fd = fe_sock_fd(cs->sock)) < 0) {
        return 0;
    }
    if (wn->lowat == 0) {
        int v = 0;
        socklen_t vl = sizeof v;

        wn->lowat = getsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &vl)
                    == 0 && v > 0 ? v : -1;    /* -1: no limit known */
    }
    memset(mem, 0, sizeof mem);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &l) != 0
        || l < (socklen_t)((SK_MEMINFO_WMEM_QUEUED + 1) * sizeof mem[0])) {
        return 0;
    }
    limit = mem[SK_MEMINFO_SNDBUF];
    if (wn->lowat > 0 && (apr_size_t)wn->lowat < limit) {
        limit = (apr_size_t)wn->lowat;
    }
    return fe_write_now_fits(len, mem[SK_MEMINFO_WMEM_QUEUED], limit);
#else
    (void)c;
    (void)wn;
    (void)len;
    return 0;
#endif
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
        if (APR_BUCKET_IS_METADATA(b) || b->length == (apr_size_t)-1) {
            /* FLUSH, EOR, EOC...; a pipe or a socket: pass as is */
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

/* The files of a whole response of at most FE_WRITE_NOW_MAX are read,
 * not mapped, whether the core writes them now or write completion does
 * later: the core would map each (EnableMMAP), fault its page in, copy it
 * into the socket and unmap it.  Mapping and unmapping take the process's
 * address-space lock for writing, and in a threaded process the unmap
 * interrupts every CPU that runs one of its threads.  One read into a
 * bucket buffer from the free list costs less.  With EnableSendfile the
 * core sends such files before it would read them. */
static void fe_read_small_files(apr_bucket_brigade *bb)
{
#if APR_HAS_MMAP
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
         b = APR_BUCKET_NEXT(b)) {
        if (APR_BUCKET_IS_FILE(b)) {
            apr_bucket_file_enable_mmap(b, 0);
        }
    }
#else
    (void)bb;
#endif
}

/* Pass what is held (before @a bb, if any). */
static apr_status_t fe_release(ap_filter_t *f, fe_writenow_t *wn,
                               apr_bucket_brigade *bb)
{
    apr_status_t rv;

    if (wn->held != NULL && !APR_BRIGADE_EMPTY(wn->held)) {
        /* Ours no more: the core sets the flag again if it keeps any. */
        f->c->data_in_output_filters = 0;
        wn->held_len = 0;
        if (bb != NULL) {
            APR_BRIGADE_PREPEND(bb, wn->held);
        }
        else {
            rv = ap_pass_brigade(f->next, wn->held);
            apr_brigade_cleanup(wn->held);    /* whatever a failure left */
            return rv;
        }
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

    if (wn->off || !wn->armed || APR_BRIGADE_EMPTY(bb)) {
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
    if (facts.eos) {
        int small = facts.lengths_known
                    && facts.len <= FE_WRITE_NOW_MAX - wn->held_len;

        wn->armed = 0;                      /* the response is complete */
        if (small) {
            /* Read when written, now or by write completion. */
            fe_read_small_files(bb);
        }
        if (small && !c->data_in_input_filters
            && fe_fits(c, wn, wn->held_len + facts.len)) {
            /* A whole small response: written now, nothing set aside. */
            APR_BUCKET_INSERT_BEFORE(APR_BRIGADE_LAST(bb),
                                     apr_bucket_flush_create(
                                         c->bucket_alloc));
        }
    }
    else if (!facts.lengths_known) {
        wn->armed = 0;                      /* EOR, FLUSH...: done */
    }
    return fe_release(f, wn, bb);
}

/* Arm the filter for an ordinary HTTP/1 request.  Not for CONNECT or
 * Upgrade (the connection may become a tunnel), nor TLS. */
static int fe_writenow_fixups(request_rec *r)
{
    conn_rec *c = r->connection;
    fe_conn_t *cs;

    if (r->main != NULL || (cs = fe_conn_from_c(c)) == NULL
        || cs->wn == NULL || cs->wn->off) {
        return DECLINED;
    }
    if (ap_ssl_conn_is_ssl(c)) {
        cs->wn->off = 1;
        return DECLINED;
    }
    cs->wn->armed = r->method_number != M_CONNECT && r->proto_num < 2000
                    && apr_table_get(r->headers_in, "Upgrade") == NULL;
    return DECLINED;
}

/* Pre-connection, for the client connections this MPM runs. */
void fe_writenow_add(conn_rec *c, fe_conn_t *cs)
{
    if (c->outgoing || cs == NULL) {
        return;
    }
    cs->wn = apr_pcalloc(c->pool, sizeof *cs->wn);
    ap_add_output_filter_handle(fe_writenow_handle, cs->wn, NULL, c);
}

/* Write completion: pass on whatever is held. */
apr_status_t fe_writenow_release(conn_rec *c)
{
    fe_conn_t *cs = fe_conn_from_c(c);
    ap_filter_t *f;

    if (cs == NULL || cs->wn == NULL || cs->wn->held == NULL
        || APR_BRIGADE_EMPTY(cs->wn->held)) {
        return APR_SUCCESS;
    }
    for (f = c->output_filters; f != NULL; f = f->next) {
        if (f->frec == fe_writenow_handle) {
            return fe_release(f, cs->wn, NULL);
        }
    }
    return APR_SUCCESS;
}

/* A protocol switch (h2c, h2 with prior knowledge): pass on what is held
 * and let everything through from now on (the filter stays in the chain:
 * a request's chain may still point at it). */
void fe_writenow_off(conn_rec *c)
{
    fe_conn_t *cs = fe_conn_from_c(c);

    if (cs != NULL && cs->wn != NULL) {
        fe_writenow_release(c);
        cs->wn->off = 1;
        cs->wn->armed = 0;
    }
}

void fe_writenow_register(void)
{
    fe_writenow_handle = ap_register_output_filter("FE_WRITE_NOW",
                             fe_writenow_filter, NULL, AP_FTYPE_CONNECTION);
    ap_hook_fixups(fe_writenow_fixups, NULL, NULL, APR_HOOK_REALLY_LAST);
}
