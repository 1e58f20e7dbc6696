/**
 * @file fe_connstate.h
 * @brief Pure decisions of the connection state machine and the accept
 *        capacity rule.
 *
 * No httpd headers: the connection states are mirrored as FE_CS_* with
 * httpd's numeric values (conn_state_e in httpd.h); mod_mpm_fastevent.c
 * checks the mirror with static assertions.  The handlers in fe_conn.c do
 * the I/O; these functions only decide, so the unit tests can drive every
 * combination.
 */
#ifndef FE_CONNSTATE_H
#define FE_CONNSTATE_H

#include <apr.h>
#include <apr_time.h>

/* Mirror of httpd's conn_state_e (httpd.h, MMN 20120211:137 and later). */
enum {
    FE_CS_KEEPALIVE = 0,
    FE_CS_PROCESSING = 1,
    FE_CS_HANDLER = 2,
    FE_CS_WRITE_COMPLETION = 3,
    FE_CS_SUSPENDED = 4,
    FE_CS_LINGER = 5,
    FE_CS_LINGER_NORMAL = 6,
    FE_CS_LINGER_SHORT = 7,
    FE_CS_ASYNC_WAITIO = 8,
    FE_CS_NUM = 9
};

/* Mirror of httpd's conn_sense_e. */
enum {
    FE_SENSE_DEFAULT = 0,
    FE_SENSE_WANT_READ = 1,
    FE_SENSE_WANT_WRITE = 2
};

/**
 * Normalise the state a process_connection round left behind.
 * @param rc_ok     the hook returned OK or DONE
 * @param state     c->cs->state after the hooks
 * @param aborted   c->aborted
 * @param bad       set to 1 when the state or rc was unexpected (the caller
 *                  logs it), else 0; may be NULL
 * @return one of FE_CS_WRITE_COMPLETION, FE_CS_ASYNC_WAITIO,
 *         FE_CS_SUSPENDED or FE_CS_LINGER.
 * Rules: a hook that left PROCESSING did not take the connection over, so
 * it is closed (LINGER); KEEPALIVE from a hook means "flush, then keep
 * alive" (WRITE_COMPLETION); any other state, a failing rc, or an aborted
 * connection lingers -- except that an aborted SUSPENDED connection stays
 * with the module that suspended it (closing it under the module would be
 * unsafe; the module closes it).
 */
int fe_conn_after_hooks(int rc_ok, int state, int aborted, int *bad);

/** What the worker does with a connection after a flush attempt. */
typedef enum fe_next {
    FE_NEXT_WAIT_WRITE,  /**< output remains: wait for POLLOUT (Timeout) */
    FE_NEXT_WAIT_READ,   /**< module asked to read: wait for POLLIN (Timeout) */
    FE_NEXT_PROCESS,     /**< pipelined input or clogging filter: run hooks */
    FE_NEXT_KEEPALIVE,   /**< idle: wait for the next request (KeepAliveTimeout) */
    FE_NEXT_LINGER       /**< close (with lingering) */
} fe_next_e;

/** Facts gathered after flushing in WRITE_COMPLETION. */
typedef struct fe_flush_facts {
    int aborted;         /**< c->aborted or the flush failed */
    int pending_output;  /**< c->data_in_output_filters */
    int pending_input;   /**< c->data_in_input_filters (pipelined request) */
    int want_read;       /**< cs->sense == CONN_SENSE_WANT_READ */
    int clogging;        /**< c->clogging_input_filters */
    int keepalive;       /**< c->keepalive == AP_CONN_KEEPALIVE */
} fe_flush_facts_t;

/**
 * Decide the next step of a WRITE_COMPLETION connection.  Order: an
 * aborted connection lingers; remaining output waits for writability; a
 * read request from a module (mod_http2 compat mode) waits for
 * readability; a connection without keep-alive lingers; pipelined input
 * or a clogging input filter goes back to the hooks; else keep-alive --
 * also in a stopping child, because the response just sent promised
 * keep-alive (the listener closes such connections after a short grace).
 */
fe_next_e fe_conn_after_flush(const fe_flush_facts_t *f);

/** Inputs of the accept rule, all counts of this child process. */
typedef struct fe_accept_facts {
    unsigned int conns;      /**< open connections, lingering included */
    unsigned int lingering;  /**< connections in lingering close */
    unsigned int threads;    /**< ThreadsPerChild */
    double factor;           /**< AsyncRequestWorkerFactor (>= 1) */
    unsigned int hard_cap;   /**< absolute cap (queue capacity) */
    int disabled;            /**< listeners are disabled right now */
} fe_accept_facts_t;

/**
 * Non-lingering connections one child may hold:
 * ThreadsPerChild x (AsyncRequestWorkerFactor + 1), rounded down, >= 1.
 * This is the documented maximum of stock event's formula (every worker
 * idle); unlike event it does not shrink as workers get busy, because a
 * ready connection waits in our queue for the next free worker instead of
 * being dropped.
 */
unsigned int fe_accept_limit(unsigned int threads, double factor);

/**
 * 1 when the child may accept another connection.  With hysteresis: once
 * disabled, accepting resumes only when the non-lingering count falls
 * below limit - limit/8, so the listeners do not flap on every close.
 */
int fe_accept_allowed(const fe_accept_facts_t *f);

/**
 * 1 when a child paused by fe_accept_allowed() should take one more
 * connection anyway: connections have waited in the kernel's backlog past
 * a deadline (@a backlog_stuck; the caller also checks that the parent
 * cannot add a process), and at least half its @a idle workers have
 * nothing to do, so the limit -- meant for workers that cannot keep up --
 * only leaves clients waiting.  Never beyond twice the accept limit (the
 * room kept for lingering closes), nor at the hard cap.
 */
int fe_accept_overflow(const fe_accept_facts_t *f, unsigned int idle,
                       int backlog_stuck);

/**
 * Most connections one child can hold at once, lingering ones included:
 * twice the accept limit (lingering connections do not count against it)
 * plus one per worker and a little slack.  Sizes the worker queue and the
 * pollset, so a ready connection always fits.
 */
unsigned int fe_child_conn_cap(unsigned int threads, double factor);

/** New connections per fe_child_conn_cap() one child may hold besides
 *  while they have not sent a whole request head. */
#define FE_FRESH_PER_CAP 3

/**
 * New connections that have not sent a whole request head yet, which one
 * child may hold besides fe_child_conn_cap(): the listener holds them, no
 * worker, so they cost a descriptor and a pool each, and a flood of
 * silent or trickling clients must not crowd out real ones.
 * FE_FRESH_PER_CAP x fe_child_conn_cap().
 */
unsigned int fe_child_fresh_cap(unsigned int threads, double factor);

/**
 * Open files one child needs at most: fe_child_conn_cap() plus
 * fe_child_fresh_cap() sockets, the listening sockets, and @a reserve for
 * logs, pipes, the pollset and module files.
 */
unsigned long fe_nofile_need(unsigned int threads, double factor,
                             unsigned int listeners, unsigned int reserve);

/*
 * Keep-alive hold.  After a keep-alive response a worker may wait on the
 * connection itself for a short while (poll on the socket), as the worker
 * MPM does, instead of parking it with the listener: when the next
 * request comes quickly that saves the pollset add/remove, the listener's
 * wakeup and the queue hand-off.  A holding worker is spare capacity on
 * loan: it only holds while enough other workers are idle, and as many
 * holders as are missing are called back as soon as work waits in the
 * queue without an idle worker to take it (fe_hold_recall()).
 */

/** Facts for the decision to hold, all of this child process. */
typedef struct fe_hold_facts {
    unsigned int threads;    /**< worker threads running */
    unsigned int idle;       /**< workers blocked in the queue */
    unsigned int waiting;    /**< queue entries no worker took yet */
    unsigned int conns;      /**< open connections, not lingering */
    int stopping;            /**< graceful or ungraceful stop under way */
} fe_hold_facts_t;

/** Idle workers a child keeps free of holds: ThreadsPerChild / 16. */
unsigned int fe_hold_reserve(unsigned int threads);

/** 1 when a worker may hold its keep-alive connection now: not stopping,
 *  no more open connections than workers (past that, holds would only be
 *  called back again and again), and more idle workers than the queue's
 *  waiting entries plus the reserve.  A call-back under way does not stop
 *  it: a call-back byte that no holder took yet (they all got their
 *  request first) is taken by the next holder, which gives its
 *  connection back at once. */
int fe_hold_allowed(const fe_hold_facts_t *f);

/** How many holders to call back now: the entries waiting beyond the
 *  idle workers, less the call-backs already on their way, and at most
 *  the holders not already called. */
unsigned int fe_hold_recall(unsigned int holders, unsigned int idle,
                            unsigned int waiting, unsigned int recalls);

/**
 * Wakeups paced to the CPUs.  A ready connection handed to an idle worker
 * wakes it; when the listener wakes one per ready connection, a burst
 * makes as many threads runnable as there were connections, and the
 * kernel, not arrival order, decides which request goes next, while
 * everything else on those CPUs (a load generator, PHP-FPM) waits behind
 * all of them.  So the listener wakes workers only while fewer are
 * running than the child has CPUs; the other ready connections wait in
 * the worker queue, in order, for a running worker to take next
 * (fdqueue/fe_work.c).
 *
 * A worker counts as running from its wakeup until it waits again, except
 * while it holds a keep-alive connection and once it has spent
 * FE_PACE_STALE on one connection: it may be blocked then (a backend, a
 * disk, a slow client), and another one is woken.
 */
#define FE_PACE_STALE apr_time_from_msec(2)

/**
 * Pacing is only for connections that run on the CPU.  A worker that
 * blocks (on a backend behind mod_proxy, a disk) is not running, but the
 * listener cannot tell it from one that is, and every connection behind
 * it would wait up to FE_PACE_STALE.  So while a child paces, its workers
 * measure every FE_PACE_SAMPLE_EVERY-th connection run: its wall time,
 * and the thread's time on a CPU and waiting for one (the kernel's
 * schedstat); the rest it was blocked.  Every FE_PACE_MIN_SAMPLES runs
 * measured, fe_pace_judge() turns pacing off when they were blocked for
 * more than half their time, and it stays off for a while
 * (FE_PACE_RETRY, doubled each time up to FE_PACE_RETRY_MAX while pacing
 * keeps failing the test) before it is tried again.
 *
 * Runs are judged only while paced.  Unpaced, with dozens of workers
 * runnable at once, they also block on each other's locks (a holder
 * preempted, the others asleep behind it: measured up to 87 % of their
 * time over HTTPS, against 0-28 % paced), which would keep pacing off
 * exactly where it helps.  A child starts paced; where schedstat cannot
 * be read (no /proc) it does not pace.
 */
#define FE_PACE_SAMPLE_EVERY 8
#define FE_PACE_MIN_SAMPLES 32
/**
 * A request handed to mod_proxy blocks its worker on the backend, and a
 * backend on the same CPUs (PHP-FPM) is the very program pacing leaves
 * room for; yet the judgement above does not always see it: beside busy
 * CPUs, the TLS work and the wait for a CPU around each backend call kept
 * the sampled runs under half blocked, and one worker at a time per
 * child let 10-39 ready connections wait beside 47 idle workers
 * (bench tls_fpm50, shared+hog: p99 0.2-0.66 s against event's 0.03).  So
 * a child does not pace for FE_PACE_PROXY_QUIET seconds after a proxied
 * request (connection/fe_backend.c).
 */
#define FE_PACE_PROXY_QUIET 10
#define FE_PACE_RETRY apr_time_from_sec(10)
#define FE_PACE_RETRY_MAX apr_time_from_sec(320)

typedef struct fe_pace_judge {
    int on;                      /**< pacing now */
    apr_time_t retry_at;         /**< when off: try again from then */
    apr_interval_time_t backoff; /**< the next time off lasts this long */
} fe_pace_judge_t;

/** A child's first judgement: on, off for FE_PACE_RETRY if it fails. */
void fe_pace_judge_init(fe_pace_judge_t *j);

/** Listener: judge the runs measured since the last call, @a wall time
 *  and the part @a blocked (any unit; @a wall 0: none were), at @a now.
 *  Returns j->on. */
int fe_pace_judge(fe_pace_judge_t *j, apr_uint64_t wall,
                  apr_uint64_t blocked, apr_time_t now);

/** How many of the @a n workers whose current connection started at
 *  @a busy_since (0: none) have spent FE_PACE_STALE or more on it at
 *  @a now (a start after @a now, read from another thread's clock, is
 *  not stale). */
unsigned int fe_pace_stale(const volatile apr_time_t *busy_since,
                           unsigned int n, apr_time_t now);

/** How many idle workers the listener may wake now for ready
 *  connections: @a width (the CPUs the child runs on; 0: no pacing, as
 *  many as it likes) minus the running ones, which are the @a alive
 *  workers that are not @a idle, not @a holders and not @a stale; 0 when
 *  none is left. */
unsigned int fe_pace_wakeups(unsigned int width, unsigned int alive,
                             unsigned int idle, unsigned int holders,
                             unsigned int stale);

/**
 * Balance between the children of a listener bucket: 1 when this child
 * should leave new connections to a sibling for now.  It does when its
 * room (workers minus connections with a request, 0 if more connections)
 * is down to ThreadsPerChild / 8 while an accepting sibling has at least
 * two more (one more when this child has no room at all: a new connection
 * would wait here for a worker); once deferring, it goes on until its room exceeds
 * ThreadsPerChild / 4 (hysteresis) or the siblings lost theirs.  Never
 * defers when no sibling has more room, so the children as a whole never
 * stop accepting for it, and two children cannot defer to each other.
 * @param active        this child's connections with a request, not
 *                      lingering
 * @param threads       this child's workers
 * @param sibling_room  the largest room among the accepting siblings, 0
 *                      if none
 * @param deferring     this child defers now
 */
int fe_accept_defer(unsigned int active, unsigned int threads,
                    unsigned int sibling_room, int deferring);

/**
 * 1 when the client said it will send nothing after this request, so the
 * lingering close may end at once if nothing arrived (RFC 9112 9.6: the
 * reset a full close risks comes only from data the client still sends).
 * True when the request has no body and either carries the "close"
 * connection option, or is HTTP/1.0 (or older) without "keep-alive".
 * Any body, even a fully read one, keeps the full lingering close.
 * @param http11      request version is HTTP/1.1 or later
 * @param opt_close   Connection: has the "close" token
 * @param opt_ka      Connection: has the "keep-alive" token
 * @param has_body    Content-Length > 0 or Transfer-Encoding present
 */
int fe_client_done(int http11, int opt_close, int opt_ka, int has_body);

/**
 * Small responses written at once (fe_writenow.c).  The pieces of a
 * response that come before its end (EOS) are held back while they stay
 * below FE_WRITE_HOLD_MAX in all (the core output filter writes a pass of
 * 4 KiB or more at once; below that it keeps the data anyway), and a
 * whole response of at most FE_WRITE_NOW_MAX is then written before the
 * handler returns, instead of being set aside for write completion.
 */
#define FE_WRITE_HOLD_MAX 4096
#define FE_WRITE_NOW_MAX  8192

/** 1 when @a held bytes already held plus @a len more stay below
 *  FE_WRITE_HOLD_MAX (no overflow). */
int fe_write_hold_ok(apr_size_t held, apr_size_t len);

/**
 * 1 when a complete response of @a len bytes may be written at once with
 * a blocking flush because the write cannot block: it is at most
 * FE_WRITE_NOW_MAX, and together with the @a queued bytes the socket's
 * send queue already uses (the kernel's count, overhead included) it
 * takes at most half of @a limit, the send buffer (or, when lower, the
 * TCP_NOTSENT_LOWAT the write also waits for).  0 when @a limit is
 * unknown (0).
 */
int fe_write_now_fits(apr_size_t len, apr_size_t queued, apr_size_t limit);

/**
 * Backend pacing (connection/fe_backend.c).  A request for a proxy handler
 * may start now unless the reserve is on, the server serves other
 * requests too (@a mixed: FE_BACKEND_MIXED of them within the last second
 * in some child, see fe_backend_others()), and either the child's workers
 * already inside proxy handlers (@a busy, this one not counted) reached
 * @a places or @a ahead proxied requests already wait in line for a place
 * (first come, first served: a newcomer must not take the place a waiting
 * request was about to get).  So the next other request finds a worker
 * free instead of waiting for a backend to answer.  A server that only
 * proxies uses all its workers, as stock event does.  (A rule that also
 * gave way while connections waited in the queue for a worker made a
 * server that only proxies suspend its own proxied requests for one
 * retry, 20 ms, to let the next proxied request in: 2-3 % of the requests
 * of bench tls_fpm50 took 20-30 ms in the server, against a few per
 * thousand under event.  A line without an order, each waiting request
 * retrying every 20 ms, let newcomers overtake one for 680 ms.)
 */
int fe_backend_may_start(unsigned int busy, unsigned int places, int mixed,
                         unsigned int ahead);

/** Requests that are not proxied, per second, from which a child keeps
 *  its reserve even when nothing waits yet (a health check a second or
 *  slower does not count). */
#define FE_BACKEND_MIXED 2

/**
 * Requests that were not proxied within about the last second, from a
 * per-second counter: @a count of second @a stamp, @a prev of the second
 * before it, now second @a now_sec.
 */
unsigned int fe_backend_others(apr_uint32_t stamp, apr_uint32_t count,
                               apr_uint32_t prev, apr_uint32_t now_sec);

/** Whether second @a stamp (apr_time_sec; 0: never) is one of the last
 *  @a window seconds up to second @a now_sec: with a window of 2, this
 *  second or the one before (as fe_backend_others() counts).  A stamp
 *  after now (the clock went back) is not recent. */
int fe_sec_recent(apr_uint32_t stamp, apr_uint32_t now_sec,
                  apr_uint32_t window);

/** Workers of a child that may be inside proxy handlers while other work
 *  waits: ThreadsPerChild less @a reserve percent, at least 1; all of them
 *  with a reserve of 0 (off). */
unsigned int fe_backend_places(unsigned int threads, int reserve);

/**
 * Whether a Linux /proc/PID/task/TID/stat line says the thread is running
 * or runnable (state R).  The state letter follows the last ')' (the
 * command name in parentheses may itself hold ')' and spaces).  0 for
 * any other state and for a line that cannot be parsed.
 */
int fe_task_state_running(const char *stat_line);

#endif /* FE_CONNSTATE_H */
