/*
 * fe_connstate.c: the pure decisions of the connection state machine
 * (fe_conn_after_hooks, fe_conn_after_flush) and the accept capacity rule.
 *
 * Must not: include httpd headers, read clocks, lock, or do I/O.
 */
#include "policy/fe_connstate.h"

#include <limits.h>
#include <string.h>

int fe_conn_after_hooks(int rc_ok, int state, int aborted, int *bad)
{
    int out;
    int unexpected = 0;

    switch (state) {
    case FE_CS_PROCESSING:
        out = FE_CS_LINGER;          /* no hook took the connection over */
        break;
    case FE_CS_KEEPALIVE:
        out = FE_CS_WRITE_COMPLETION; /* flush before keeping alive */
        break;
    case FE_CS_WRITE_COMPLETION:
    case FE_CS_ASYNC_WAITIO:
    case FE_CS_SUSPENDED:
    case FE_CS_LINGER:
        out = state;
        break;
    default:
        out = FE_CS_LINGER;
        unexpected = 1;
        break;
    }
    if (!rc_ok) {
        unexpected = 1;
        out = FE_CS_LINGER;
    }
    /* An aborted connection cannot be written to or kept; a suspended one
     * belongs to the module that suspended it, which will close it. */
    if (aborted && out != FE_CS_SUSPENDED) {
        out = FE_CS_LINGER;
    }
    if (bad) {
        *bad = unexpected;
    }
    return out;
}

fe_next_e fe_conn_after_flush(const fe_flush_facts_t *f)
{
    if (f->aborted) {
        return FE_NEXT_LINGER;
    }
    if (f->pending_output) {
        return FE_NEXT_WAIT_WRITE;
    }
    if (f->want_read) {
        return FE_NEXT_WAIT_READ;
    }
    if (!f->keepalive) {
        return FE_NEXT_LINGER;
    }
    if (f->pending_input || f->clogging) {
        return FE_NEXT_PROCESS;
    }
    /* Even when the child is stopping: this response promised keep-alive,
     * so closing now would fail the client's next request.  The listener
     * closes it after a short idle grace, and a request arriving first is
     * answered with "Connection: close". */
    return FE_NEXT_KEEPALIVE;
}

unsigned int fe_accept_limit(unsigned int threads, double factor)
{
    double limit;

    if (threads < 1) {
        threads = 1;
    }
    if (!(factor >= 1.0)) {          /* also catches NaN */
        factor = 1.0;
    }
    /* The epsilon keeps decimal factors from rounding down one too far
     * (25 x (1.3 + 1) must be 57, not 56.999...). */
    limit = (double)threads * (factor + 1.0) + 1e-6;
    if (limit > 4.0e9) {
        return 4000000000u;
    }
    return limit < 1.0 ? 1u : (unsigned int)limit;
}

int fe_accept_allowed(const fe_accept_facts_t *f)
{
    unsigned int limit = fe_accept_limit(f->threads, f->factor);
    unsigned int active;

    if (f->conns >= f->hard_cap) {
        return 0;
    }
    active = f->conns > f->lingering ? f->conns - f->lingering : 0;
    if (f->disabled) {
        limit -= limit / 8;
        if (limit < 1) {
            limit = 1;
        }
    }
    return active < limit;
}

int fe_accept_overflow(const fe_accept_facts_t *f, unsigned int idle,
                       int backlog_stuck)
{
    unsigned long twice = 2ul * fe_accept_limit(f->threads, f->factor);

    return backlog_stuck && f->threads > 0
           && idle >= (f->threads + 1) / 2
           && f->conns < twice && f->conns < f->hard_cap;
}

unsigned int fe_child_conn_cap(unsigned int threads, double factor)
{
    unsigned long cap = 2ul * fe_accept_limit(threads, factor) + threads + 16;

    return cap > 4000000000ul ? 4000000000u : (unsigned int)cap;
}

unsigned int fe_child_fresh_cap(unsigned int threads, double factor)
{
    unsigned long cap = (unsigned long)FE_FRESH_PER_CAP
                        * fe_child_conn_cap(threads, factor);

    return cap > 4000000000ul ? 4000000000u : (unsigned int)cap;
}

unsigned long fe_nofile_need(unsigned int threads, double factor,
                             unsigned int listeners, unsigned int reserve)
{
    return (unsigned long)fe_child_conn_cap(threads, factor)
           + fe_child_fresh_cap(threads, factor) + listeners + reserve;
}

unsigned int fe_hold_reserve(unsigned int threads)
{
    return threads / 16;
}

int fe_hold_allowed(const fe_hold_facts_t *f)
{
    if (f->stopping || f->conns > f->threads || f->waiting >= f->idle) {
        return 0;
    }
    return f->idle - f->waiting > fe_hold_reserve(f->threads);
}

unsigned int fe_hold_recall(unsigned int holders, unsigned int idle,
                            unsigned int waiting, unsigned int recalls)
{
    unsigned int missing, callable;

    if (waiting <= idle) {
        return 0;
    }
    missing = waiting - idle;
    if (missing <= recalls || holders <= recalls) {
        return 0;
    }
    missing -= recalls;
    callable = holders - recalls;
    return missing < callable ? missing : callable;
}

unsigned int fe_pace_stale(const volatile apr_time_t *busy_since,
                           unsigned int n, apr_time_t now)
{
    unsigned int i, stale = 0;

    for (i = 0; i < n; i++) {
        apr_time_t since = busy_since[i];

        stale += since != 0 && since <= now && now - since >= FE_PACE_STALE;
    }
    return stale;
}

void fe_pace_judge_init(fe_pace_judge_t *j)
{
    j->on = 1;
    j->retry_at = 0;
    j->backoff = FE_PACE_RETRY;
}

int fe_pace_judge(fe_pace_judge_t *j, apr_uint64_t wall,
                  apr_uint64_t blocked, apr_time_t now)
{
    if (!j->on) {
        /* Runs measured while unpaced say nothing (fe_connstate.h). */
        if (now >= j->retry_at) {
            j->on = 1;
        }
        return j->on;
    }
    if (wall == 0) {
        return 1;
    }
    if (blocked > wall) {
        blocked = wall;       /* clocks read one after the other */
    }
    /* Compared as a product: no rounding.  Kept below 2^62. */
    while (wall > (APR_UINT64_C(1) << 60)) {
        wall >>= 1;
        blocked >>= 1;
    }
    if (blocked * 2 <= wall) {
        j->backoff = FE_PACE_RETRY;   /* paced and passed */
        return 1;
    }
    j->on = 0;
    j->retry_at = now + j->backoff;
    j->backoff = j->backoff >= FE_PACE_RETRY_MAX / 2 ? FE_PACE_RETRY_MAX
                 : j->backoff * 2;
    return 0;
}

unsigned int fe_pace_wakeups(unsigned int width, unsigned int alive,
                             unsigned int idle, unsigned int holders,
                             unsigned int stale)
{
    unsigned int off = idle + holders + stale;
    unsigned int running = alive > off ? alive - off : 0;

    if (width == 0) {
        return UINT_MAX;
    }
    return running < width ? width - running : 0;
}

int fe_client_done(int http11, int opt_close, int opt_ka, int has_body)
{
    if (has_body) {
        return 0;
    }
    return opt_close || (!http11 && !opt_ka);
}

int fe_accept_defer(unsigned int active, unsigned int threads,
                    unsigned int sibling_room, int deferring)
{
    unsigned int room = active < threads ? threads - active : 0;
    unsigned int keep = deferring ? threads / 4 : threads / 8;

    if (threads == 0 || room > keep) {
        return 0;
    }
    /* With no room at all, any sibling with a free worker serves a new
     * connection sooner than this child, where it would wait in the
     * queue (a tunnel or a slow request holds every worker here). */
    return sibling_room >= room + (room == 0 ? 1 : 2);
}

int fe_write_hold_ok(apr_size_t held, apr_size_t len)
{
    return held < FE_WRITE_HOLD_MAX && len < FE_WRITE_HOLD_MAX - held;
}

int fe_write_now_fits(apr_size_t len, apr_size_t queued, apr_size_t limit)
{
    if (limit == 0 || len > FE_WRITE_NOW_MAX || queued > limit / 2) {
        return 0;
    }
    return len <= limit / 2 - queued;
}

int fe_backend_may_start(unsigned int busy, unsigned int places, int mixed,
                         unsigned int ahead)
{
    return !mixed || (ahead == 0 && busy < places);
}

unsigned int fe_backend_others(apr_uint32_t stamp, apr_uint32_t count,
                               apr_uint32_t prev, apr_uint32_t now_sec)
{
    if (now_sec == stamp) {
        return count > prev ? count : prev;
    }
    return now_sec == stamp + 1 ? count : 0;
}

int fe_sec_recent(apr_uint32_t stamp, apr_uint32_t now_sec,
                  apr_uint32_t window)
{
    return stamp != 0 && now_sec - stamp < window;
}

unsigned int fe_backend_places(unsigned int threads, int reserve)
{
    unsigned long n;

    if (reserve <= 0) {
        return threads;
    }
    if (reserve > 100) {
        reserve = 100;
    }
    n = (unsigned long)threads * (unsigned long)(100 - reserve) / 100u;
    return n < 1 ? 1u : (unsigned int)n;
}

int fe_task_state_running(const char *stat_line)
{
    const char *close = stat_line != NULL ? strrchr(stat_line, ')') : NULL;

    if (close == NULL || close[1] != ' ') {
        return 0;
    }
    return close[2] == 'R' && (close[3] == ' ' || close[3] == '\0');
}
