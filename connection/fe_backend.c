/*
 * fe_backend.c: a slow or saturated backend must not take every worker.
 *
 * A request handed to mod_proxy (PHP-FPM through mod_proxy_fcgi, an
 * upstream through mod_proxy_http) blocks its worker until the backend
 * answers.  When the backend is saturated, such requests could occupy
 * every worker of every child, and static files, /server-status and
 * everything else would wait behind them.  So while other requests keep
 * coming (at least FE_BACKEND_MIXED a second in any child), at most
 * (100 - FastEventProxyReserve) percent of a child's workers (75 % by
 * default) may be inside a proxy handler; a server that only proxies lets
 * proxied requests use every worker, as under stock event (rule:
 * fe_backend_may_start(), policy/fe_connstate.c).  A
 * proxied request that must give way is SUSPENDED (it holds no worker)
 * and retried from a timed callback every FE_BACKEND_RETRY, on a worker,
 * until it may start; after max(Timeout, 60 s) it gets 503 with
 * Retry-After.  The retry completes the request the way mod_dialup does,
 * and fe_timer.c hands the connection back to the MPM.
 * FastEventProxyReserve off turns all of this off.  Either way, a proxied
 * request keeps the child from pacing its wakeups for a while
 * (FE_PACE_PROXY_QUIET): its worker waits on the backend.
 *
 * Only HTTP/1 connections the MPM owns are paced: HTTP/2 streams run in
 * mod_http2's own threads.
 *
 * Must not: hold a worker while waiting, or count a request twice.
 */
#include "mpm_fastevent.h"
#include "connection/fe_backend.h"
#include "policy/fe_connstate.h"
#include "scoreboard/fe_metrics.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"

#include <apr_atomic.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mpm_fastevent);

#define FE_BACKEND_RETRY apr_time_from_msec(20)
/* A waiting request holds no worker, only its connection, so it may wait
 * as long as a backend could take to answer: Timeout, and at least this. */
#define FE_BACKEND_MIN_WAIT apr_time_from_sec(60)

typedef struct fe_backend_req {
    fe_child_t *ch;
    int counted;                  /* holds one of the child's places */
    int waiting;                  /* counted in ch->backend.waiting */
    apr_time_t waiting_since;     /* first refused */
} fe_backend_req_t;

static int fe_is_proxied(request_rec *r)
{
    return r->handler != NULL
           && (strncmp(r->handler, "proxy:", 6) == 0
               || strcmp(r->handler, "proxy-server") == 0);
}

/* Workers of this child that may be inside proxy handlers while other
 * work waits. */
static unsigned int fe_places(void)
{
    return fe_backend_places((unsigned int)fe_g.lim.threads_per_child,
                             fe_g.lim.proxy_reserve);
}

static apr_status_t fe_backend_release(void *data)
{
    fe_child_t *ch = data;

    apr_atomic_dec32(&ch->backend.busy);
    return APR_SUCCESS;
}

/* The request no longer waits for a place: it got one, an answer, or its
 * pool went (the connection closed while it waited). */
static apr_status_t fe_backend_unwait(void *data)
{
    fe_backend_req_t *br = data;

    if (br->waiting) {
        br->waiting = 0;
        apr_atomic_dec32(&br->ch->backend.waiting);
    }
    return APR_SUCCESS;
}

/* Count a request that is not proxied in this second's counter.  Racing
 * workers may lose a count at the turn of a second: the rate is a hint.
 * Every request runs this, so once the second has FE_BACKEND_MIXED the
 * shared counter is only read. */
static void fe_backend_count_other(fe_child_t *ch)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t stamp = apr_atomic_read32(&ch->backend.others_sec);

    if (stamp == now
        && apr_atomic_read32(&ch->backend.others_count) >= FE_BACKEND_MIXED) {
        return;
    }
    if (stamp != now) {
        apr_uint32_t last = apr_atomic_xchg32(&ch->backend.others_count, 0);

        apr_atomic_set32(&ch->backend.others_prev,
                         now == stamp + 1 ? last : 0);
        apr_atomic_set32(&ch->backend.others_sec, now);
    }
    if (apr_atomic_inc32(&ch->backend.others_count) + 1 == FE_BACKEND_MIXED) {
        fe_metrics_site_others(now);      /* once a second at most */
    }
}

/* The server serves other requests too: keep the reserve for them.  The
 * other children's count matters as much as this one's: the listeners of
 * a server share its listening sockets, and one of them can take every
 * static request for seconds while another takes proxied ones; that one,
 * counting only its own, let the proxied requests take all its workers,
 * and the next static request it took waited for a backend to answer
 * (t/dropin proxy: 3 s, 6 s backend). */
static int fe_backend_mixed(fe_child_t *ch)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());

    return fe_backend_others(apr_atomic_read32(&ch->backend.others_sec),
                             apr_atomic_read32(&ch->backend.others_count),
                             apr_atomic_read32(&ch->backend.others_prev),
                             now) >= FE_BACKEND_MIXED
           || fe_sec_recent(fe_metrics_site_others_sec(), now, 2);
}

/* A proxied request in this second: the child does not pace its wakeups
 * for a while (FE_PACE_PROXY_QUIET, fdqueue/fe_work.c).  Stored once a
 * second, not by every request. */
static void fe_backend_note_proxied(fe_child_t *ch)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());

    if (apr_atomic_read32(&ch->backend.proxied_sec) != now) {
        apr_atomic_set32(&ch->backend.proxied_sec, now);
    }
}

int fe_backend_proxying(fe_child_t *ch, apr_time_t now)
{
    return fe_sec_recent(apr_atomic_read32(&ch->backend.proxied_sec),
                         (apr_uint32_t)apr_time_sec(now),
                         FE_PACE_PROXY_QUIET);
}

static void fe_backend_retry(void *baton);

/* Handler hook, first: take a place or wait for one without a worker. */
static int fe_backend_handler(request_rec *r)
{
    fe_child_t *ch = fe_this_child;
    fe_conn_t *cs = fe_conn_from_c(r->connection);
    fe_backend_req_t *br;

    if (ch == NULL || r->main != NULL || r->connection->master != NULL
        || cs == NULL || cs->fresh) {
        return DECLINED;
    }
    if (!fe_is_proxied(r)) {
        if (fe_g.lim.proxy_reserve > 0) {
            fe_backend_count_other(ch);
        }
        return DECLINED;
    }
    fe_backend_note_proxied(ch);
    if (fe_g.lim.proxy_reserve <= 0) {
        return DECLINED;
    }
    br = ap_get_module_config(r->request_config, &mpm_fastevent_module);
    if (br == NULL) {
        br = apr_pcalloc(r->pool, sizeof *br);
        ap_set_module_config(r->request_config, &mpm_fastevent_module, br);
    }
    if (br->counted) {
        return DECLINED;
    }
    /* inc32 returns the workers inside before this one */
    if (fe_backend_may_start(apr_atomic_inc32(&ch->backend.busy),
                             fe_places(), fe_backend_mixed(ch))) {
        br->counted = 1;
        fe_backend_unwait(br);
        apr_pool_cleanup_register(r->pool, ch, fe_backend_release,
                                  apr_pool_cleanup_null);
        return DECLINED;                 /* go on to mod_proxy */
    }
    apr_atomic_dec32(&ch->backend.busy);
    if (br->waiting_since == 0) {
        br->waiting_since = apr_time_now();
        br->ch = ch;
        br->waiting = 1;
        apr_atomic_inc32(&ch->backend.waiting);
        apr_pool_cleanup_register(r->pool, br, fe_backend_unwait,
                                  apr_pool_cleanup_null);
    }
    else if (apr_time_now() - br->waiting_since
             > (r->server->timeout > FE_BACKEND_MIN_WAIT
                ? r->server->timeout : FE_BACKEND_MIN_WAIT)) {
        apr_time_t now = apr_time_now();

        if (now - ch->backend.logged >= apr_time_from_sec(1)) {
            ch->backend.logged = now;    /* at most once a second */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, FELOGNO(10180)
                          "backend saturated: no place for a proxied "
                          "request within %" APR_TIME_T_FMT " s (%u of "
                          "ThreadsPerChild %d workers already wait on "
                          "backends while other requests come: "
                          "FastEventProxyReserve %d%%); answering 503.  "
                          "Raise the backend's capacity (pm.max_children) "
                          "or lower its response time",
                          apr_time_sec(now - br->waiting_since),
                          fe_places(), fe_g.lim.threads_per_child,
                          fe_g.lim.proxy_reserve);
        }
        fe_backend_unwait(br);
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (ap_mpm_register_timed_callback(FE_BACKEND_RETRY, fe_backend_retry,
                                       r) != APR_SUCCESS) {
        fe_backend_unwait(br);
        return DECLINED;                 /* cannot wait: run it now */
    }
    return SUSPENDED;
}

/* Timed callback, on a worker: run the handler again; when it completes,
 * finish the request as the core would have. */
static void fe_backend_retry(void *baton)
{
    request_rec *r = baton;
    int status;

    apr_thread_mutex_lock(r->invoke_mtx);   /* the first round has ended */
    status = ap_invoke_handler(r);
    apr_thread_mutex_unlock(r->invoke_mtx);
    if (status == SUSPENDED) {
        return;                          /* waits again */
    }
    ap_die(status, r);
    ap_process_request_after_handler(r);
}

void fe_backend_register_hooks(void)
{
    ap_hook_handler(fe_backend_handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
