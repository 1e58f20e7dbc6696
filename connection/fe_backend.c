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
 * proxied requests use every worker, as under stock
 * event (rule: fe_backend_may_start(), policy/fe_connstate.c).  A
 * proxied request that must give way is SUSPENDED (it holds no worker)
 * and waits in the child's line, first come first served: the place a
 * finishing proxied request frees goes to the oldest waiting one at once
 * (a timed callback due now), and a newcomer does not overtake the line.
 * A timer every FE_BACKEND_RETRY looks at the line while it is not empty
 * (the server may have stopped serving other requests; a request may
 * have waited too long: after max(Timeout, 60 s) it gets 503 with
 * Retry-After).  The retry completes the request the way mod_dialup does,
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

/* How often the line is looked at while requests wait in it. */
#define FE_BACKEND_RETRY apr_time_from_msec(20)
/* A waiting request holds no worker, only its connection, so it may wait
 * as long as a backend could take to answer: Timeout, and at least this. */
#define FE_BACKEND_MIN_WAIT apr_time_from_sec(60)
/* Requests one look at the line lets go at most (then it looks again at
 * once). */
#define FE_BACKEND_BATCH 32

typedef struct fe_backend_req {
    fe_child_t *ch;
    request_rec *r;
    struct fe_backend_req *next;  /* in the line */
    int queued;                   /* in the line */
    int granted;                  /* holds one of the child's places */
    int released;                 /* its release cleanup is registered */
    int expired;                  /* waited too long: 503 */
    apr_time_t waiting_since;     /* joined the line */
    apr_time_t limit;             /* ... and may wait this long */
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

apr_status_t fe_backend_setup(fe_child_t *ch)
{
    if (fe_g.lim.proxy_reserve <= 0) {
        return APR_SUCCESS;
    }
    return apr_thread_mutex_create(&ch->backend.mutex,
                                   APR_THREAD_MUTEX_DEFAULT, ch->pchild);
}

/* Under the mutex: take @a br out of the line wherever it is (at its
 * head, where the line is served from, at once). */
static void fe_line_remove(fe_child_t *ch, fe_backend_req_t *br)
{
    fe_backend_req_t **pp, *prev = NULL;

    for (pp = &ch->backend.head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
        if (*pp == br) {
            *pp = br->next;
            if (ch->backend.tail == br) {
                ch->backend.tail = prev;
            }
            br->next = NULL;
            br->queued = 0;
            apr_atomic_dec32(&ch->backend.waiting);
            return;
        }
    }
}

/* Under the mutex: @a br joins the line, at its end, or at its head when
 * it is put back.  Returns 1 when the line's timer must be registered
 * (fe_line_arm(), after unlocking). */
static int fe_line_join(fe_child_t *ch, fe_backend_req_t *br, int at_head)
{
    if (at_head) {
        br->next = ch->backend.head;
        ch->backend.head = br;
        if (ch->backend.tail == NULL) {
            ch->backend.tail = br;
        }
    }
    else {
        br->next = NULL;
        if (ch->backend.tail != NULL) {
            ch->backend.tail->next = br;
        }
        else {
            ch->backend.head = br;
        }
        ch->backend.tail = br;
    }
    br->queued = 1;
    apr_atomic_inc32(&ch->backend.waiting);
    if (ch->backend.pump_armed) {
        return 0;
    }
    ch->backend.pump_armed = 1;
    return 1;
}

static void fe_backend_retry(void *baton);
static void fe_backend_pump(void *baton);
static int fe_backend_mixed(fe_child_t *ch);

/* Register the line's timer, due in @a after.  When that fails (out of
 * memory), the next request to join the line tries again. */
static apr_status_t fe_line_arm(fe_child_t *ch, apr_interval_time_t after)
{
    apr_status_t rv = ap_mpm_register_timed_callback(after, fe_backend_pump,
                                                     ch);

    if (rv != APR_SUCCESS) {
        apr_thread_mutex_lock(ch->backend.mutex);
        ch->backend.pump_armed = 0;
        apr_thread_mutex_unlock(ch->backend.mutex);
    }
    return rv;
}

/* A request let go from the line (a place granted, or expired): run its
 * handler again on a worker, now.  When that cannot be registered (out
 * of memory), it goes back to the head of the line for the next look. */
static void fe_backend_wake(fe_child_t *ch, fe_backend_req_t *br)
{
    int arm;

    if (ap_mpm_register_timed_callback(0, fe_backend_retry, br->r)
        == APR_SUCCESS) {
        return;
    }
    apr_thread_mutex_lock(ch->backend.mutex);
    if (br->granted) {
        br->granted = 0;
        ch->backend.busy--;
    }
    arm = fe_line_join(ch, br, 1);
    apr_thread_mutex_unlock(ch->backend.mutex);
    if (arm) {
        (void)fe_line_arm(ch, FE_BACKEND_RETRY);
    }
}

/* Under the mutex: let go the requests at the head of the line that may
 * start now (or waited too long), at most @a max, into @a out. */
static int fe_line_take(fe_child_t *ch, apr_time_t now, int mixed,
                        fe_backend_req_t **out, int max)
{
    int n = 0;

    while (n < max && ch->backend.head != NULL) {
        fe_backend_req_t *br = ch->backend.head;

        if (now - br->waiting_since > br->limit) {
            br->expired = 1;
        }
        else if (fe_backend_may_start(ch->backend.busy, fe_places(), mixed,
                                      0)) {
            br->granted = 1;
            ch->backend.busy++;
        }
        else {
            break;
        }
        fe_line_remove(ch, br);
        out[n++] = br;
    }
    return n;
}

/* A place is free again: the request that held it finished (its pool
 * goes), or one that was granted a place went before using it.  The
 * oldest waiting request gets it at once. */
static void fe_backend_free_place(fe_child_t *ch)
{
    fe_backend_req_t *next[1];
    int n = 0;
    int mixed = apr_atomic_read32(&ch->backend.waiting) > 0
                ? fe_backend_mixed(ch) : 1;

    apr_thread_mutex_lock(ch->backend.mutex);
    ch->backend.busy--;
    if (ch->backend.head != NULL) {
        n = fe_line_take(ch, apr_time_now(), mixed, next, 1);
    }
    apr_thread_mutex_unlock(ch->backend.mutex);
    if (n > 0) {
        fe_backend_wake(ch, next[0]);
    }
}

/* Pool cleanup of a request that holds a place (its release). */
static apr_status_t fe_backend_release(void *data)
{
    fe_backend_req_t *br = data;

    br->granted = 0;
    fe_backend_free_place(br->ch);
    return APR_SUCCESS;
}

/* Pool cleanup of a request that joined the line: its pool went before it
 * started (the connection closed, the child exits).  It leaves the line,
 * or gives back the place granted to it. */
static apr_status_t fe_backend_leave(void *data)
{
    fe_backend_req_t *br = data;
    fe_child_t *ch = br->ch;
    int gave_place = 0;

    apr_thread_mutex_lock(ch->backend.mutex);
    if (br->queued) {
        fe_line_remove(ch, br);
    }
    else if (br->granted && !br->released) {
        br->granted = 0;
        gave_place = 1;
    }
    apr_thread_mutex_unlock(ch->backend.mutex);
    if (gave_place) {
        fe_backend_free_place(ch);
    }
    return APR_SUCCESS;
}

/* Timed callback, on a worker, every FE_BACKEND_RETRY while the line is
 * not empty: let go whoever may start now (the server may have stopped
 * serving other requests) and whoever waited too long. */
static void fe_backend_pump(void *baton)
{
    fe_child_t *ch = baton;
    fe_backend_req_t *out[FE_BACKEND_BATCH];
    int i, n, mixed = fe_backend_mixed(ch), again;

    apr_thread_mutex_lock(ch->backend.mutex);
    n = fe_line_take(ch, apr_time_now(), mixed, out, FE_BACKEND_BATCH);
    again = ch->backend.head != NULL;
    ch->backend.pump_armed = again;
    apr_thread_mutex_unlock(ch->backend.mutex);
    for (i = 0; i < n; i++) {
        fe_backend_wake(ch, out[i]);
    }
    if (again) {
        /* a full batch went: more may go, look again at once */
        (void)fe_line_arm(ch, n == FE_BACKEND_BATCH ? 0 : FE_BACKEND_RETRY);
    }
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
        fe_metrics_site_proxied(now);
    }
}

/* This child's word or the server's: a child the parent started while
 * its siblings proxy (a burst, a restart) does not pace for the
 * seconds until its own first proxied request. */
int fe_backend_proxying(fe_child_t *ch, apr_time_t now)
{
    apr_uint32_t sec = (apr_uint32_t)apr_time_sec(now);

    return fe_sec_recent(apr_atomic_read32(&ch->backend.proxied_sec), sec,
                         FE_PACE_PROXY_QUIET)
           || fe_sec_recent(fe_metrics_site_proxied_sec(), sec,
                            FE_PACE_PROXY_QUIET);
}

/* A request that waited max(Timeout, 60 s) in the line: logged (at most
 * once a second per child), then answered 503 with Retry-After. */
static void fe_backend_refuse(fe_backend_req_t *br)
{
    fe_child_t *ch = br->ch;
    apr_time_t now = apr_time_now();

    if (now - ch->backend.logged >= apr_time_from_sec(1)) {
        ch->backend.logged = now;
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, br->r, FELOGNO(10180)
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
}

/* A place for @a br now, or a place at the end of the line.  Returns 1
 * when it holds a place (it may run now), 0 when it waits in the line. */
static int fe_backend_take_place(fe_child_t *ch, fe_backend_req_t *br)
{
    request_rec *r = br->r;
    int mixed = fe_backend_mixed(ch), arm, ours;

    apr_thread_mutex_lock(ch->backend.mutex);
    if (fe_backend_may_start(ch->backend.busy, fe_places(), mixed,
                             apr_atomic_read32(&ch->backend.waiting))) {
        br->granted = 1;
        ch->backend.busy++;
        apr_thread_mutex_unlock(ch->backend.mutex);
        return 1;
    }
    if (br->waiting_since == 0) {
        br->waiting_since = apr_time_now();
        br->limit = r->server->timeout > FE_BACKEND_MIN_WAIT
                    ? r->server->timeout : FE_BACKEND_MIN_WAIT;
        apr_pool_cleanup_register(r->pool, br, fe_backend_leave,
                                  apr_pool_cleanup_null);
        fe_metrics_proxy_waited(ch->metrics);
    }
    arm = fe_line_join(ch, br, 0);       /* the first to wait arms */
    apr_thread_mutex_unlock(ch->backend.mutex);
    if (!arm || fe_line_arm(ch, FE_BACKEND_RETRY) == APR_SUCCESS) {
        return 0;
    }
    /* Cannot wait (out of memory): run it now, unless a freed place let
     * it go meanwhile, whose callback runs it. */
    apr_thread_mutex_lock(ch->backend.mutex);
    ours = br->queued;
    if (ours) {
        fe_line_remove(ch, br);
        br->granted = 1;
        ch->backend.busy++;
    }
    apr_thread_mutex_unlock(ch->backend.mutex);
    return ours;
}

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
    if (ch->backend.mutex == NULL) {
        return DECLINED;      /* FastEventProxyReserve off: no line */
    }
    br = ap_get_module_config(r->request_config, &mpm_fastevent_module);
    if (br == NULL) {
        br = apr_pcalloc(r->pool, sizeof *br);
        br->ch = ch;
        br->r = r;
        ap_set_module_config(r->request_config, &mpm_fastevent_module, br);
    }
    if (br->expired) {
        fe_backend_refuse(br);
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!br->granted && !fe_backend_take_place(ch, br)) {
        return SUSPENDED;                /* waits in the line */
    }
    if (!br->released) {
        br->released = 1;
        apr_pool_cleanup_register(r->pool, br, fe_backend_release,
                                  apr_pool_cleanup_null);
    }
    return DECLINED;                     /* go on to mod_proxy */
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
