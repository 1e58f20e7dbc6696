/**
 * @file mpm_fastevent.h
 * @brief The types every part of mpm_fastevent's httpd glue shares.
 *
 * Never installed.  Only types, the log tag macro and a few inlines live
 * here; what a part lets others call is declared in that part's own
 * header (process/fe_child.h, connection/fe_park.h, fdqueue/fe_work.h,
 * scoreboard/fe_sb.h...).  docs/ARCHITECTURE.md has the map.
 *
 * Three structs hold all mutable state:
 *  - fe_retained_t survives restarts and module reloads (ap_retained_data);
 *  - fe_globals_t is rebuilt by every configuration cycle (pre_config);
 *  - fe_child_t exists in a child process only, one sub-struct per part.
 *
 * Threads of a child process:
 *
 *      main thread ── reads the pipe of death, starts/joins the others,
 *                     keeps the process on its CPU (process/)
 *      listener ───── owns the pollset: listening sockets and every parked
 *                     connection (keep-alive, write completion, wait-io,
 *                     lingering close); accepts; expires timeout queues;
 *                     hands ready connections to the workers (connection/)
 *      workers ────── take the next connection or timer (fdqueue/), run
 *                     it (fe_conn_run) until it must wait for the network,
 *                     then park it and take the next
 *
 * Pool tree (child):
 *
 *      pconf ─┬─ pchild     child_init, drop_privileges, threads' attr
 *             ├─ timers     timed callbacks (timers.mutex)
 *             └─ pruntime   queue, pollset, mutexes, threads; its
 *                 │         allocator is locked, because workers destroy
 *                 │         its children while the listener creates them
 *                 └─ ptrans...  one per connection, on pruntime's
 *                               allocator (free list: MaxMemFree per
 *                               child), recycled (destroyed before
 *                               pruntime)
 */
#ifndef MPM_FASTEVENT_H
#define MPM_FASTEVENT_H

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "util_filter.h"
#include "ap_listen.h"
#include "mpm_common.h"
#include "scoreboard.h"
#include "unixd.h"
#include "ap_mpm.h"

#include <apr_poll.h>
#include <apr_portable.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include <stddef.h>

#include "policy/fe_config.h"
#include "policy/fe_connstate.h"
#include "policy/fe_deadline.h"
#include "policy/fe_kaslot.h"
#include "policy/fe_timerq.h"
#include "policy/fe_tq.h"
#include "fdqueue/fe_fdqueue.h"

/** Our log tags: FE + five digits, registry in docs/log-tags.md. */
#define FELOGNO(n) "FE" #n ": "

#define FE_RETAINED_KEY "mpm_fastevent_retained"
#define FE_MPM_NAME "fastevent"

/** Old-generation processes that may drain in one scoreboard slot while
 *  newer ones use it (process/fe_parent.c), on average per slot. */
#define FE_GHOSTS_PER_SLOT 8

/** The struct of @a type whose @a member @a ptr points at. */
#define FE_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/** State that survives restarts (and the module being reloaded). */
typedef struct fe_retained {
    ap_unixd_mpm_retained_data *mpm;  /**< shared with the core */
    int first_server_limit;   /**< ServerLimit of the first start */
    int first_thread_limit;   /**< ThreadLimit of the first start */
    int max_daemon_used;      /**< highest slot in use + 1 */
    int total_daemons;        /**< children holding a slot */
    int ghost_count;          /**< draining children that gave theirs up */
    int active_daemons;       /**< live children not stopping */
    int *spawn_rate;          /**< per bucket, from ap_pglobal */
    int spawn_rate_len;
    int hold_off;             /**< ticks before the rate may double */
    int maxworkers_reported;  /**< MaxRequestWorkers warning given */
    int sb_full_reported;     /**< scoreboard-full warning given */
    int signal_deaths;        /**< children killed by a signal in a row */
    int sick_child_detected;  /**< a child exited sick since the last tick */
    int had_ready_child;      /**< a child ever had a worker running */
    apr_time_t backoff_until; /**< do not fork before this time */
    apr_time_t last_death;    /**< when a child last died from a signal */
    apr_time_t last_retire;   /**< when a spare process was last retired */
} fe_retained_t;

/** State of one configuration cycle (reset in pre_config). */
typedef struct fe_globals {
    fe_retained_t *retained;
    fe_limits_t lim;              /**< the sizing directives, checked */
    int one_process;              /**< -X or -DONE_PROCESS */
    int foreground;               /**< -DFOREGROUND or -X */
    int no_detach;                /**< -DNO_DETACH */
    int num_buckets;              /**< listener buckets */
    int buckets_asked;            /**< as many as ListenCoresBucketsRatio
                                       asked for (more than num_buckets when
                                       the process limit is lower) */
    ap_listen_rec **buckets;      /**< listeners per bucket */
    ap_pod_t **pods;              /**< pipe of death per bucket */
    fe_deadline_t head_deadline;  /**< new connections' request heads
                                       (connection/fe_headbuf.c) */
    fe_deadline_t body_deadline;  /**< their bodies, read without a worker */
    int body_idle;                /**< body_deadline.timeout counts from
                                       the last read (no mod_reqtimeout) */
} fe_globals_t;

extern fe_globals_t fe_g;
extern module AP_MODULE_DECLARE_DATA mpm_fastevent_module
    __attribute__((visibility("default")));

/* ------------------------------------------------------------ connection */

/** Orders the listener gives a worker with a timed-out connection. */
typedef enum fe_kill {
    FE_KILL_NONE = 0,
    FE_KILL_SHORT,            /**< keep-alive over: short lingering close */
    FE_KILL_LINGER,           /**< I/O timeout: lingering close */
    FE_KILL_CLOSE,            /**< lingering over: close the socket */
    FE_KILL_LATE              /**< new, header deadline passed with part
                                   of a head in: the core answers it */
} fe_kill_e;

typedef struct fe_writenow fe_writenow_t;
typedef struct fe_child fe_child_t;

/** Per-connection state; c->cs points at pub.  A connection is in one
 *  place at a time: the worker queue, a worker, or parked (pollset or
 *  keep-alive set, and a timeout queue).  Fields marked (park.mutex) are
 *  guarded by it; the rest belong to whoever holds the connection. */
typedef struct fe_conn {
    conn_state_t pub;             /**< state/sense seen by the core */
    conn_rec *c;
    request_rec *r;               /**< current request, for suspend hooks */
    apr_pool_t *p;                /**< ptrans */
    apr_socket_t *sock;
    apr_bucket_alloc_t *ba;
    ap_sb_handle_t *sbh;
    apr_pollfd_t pfd;             /**< NOCOPY: lives as long as the conn */
    fe_tq_node_t tq;              /**< timeout queue link (park.mutex) */
    fe_writenow_t *wn;            /**< FE_WRITE_NOW filter state */
    fe_child_t *child;
    apr_interval_time_t ka_timeout;  /**< KeepAliveTimeout to apply */
    apr_interval_time_t io_timeout;  /**< Timeout to apply */
    apr_time_t linger_since;      /**< start of the lingering close */
    int resume_state;             /**< state to run when the wait ends */
    int tid;                      /**< worker running it (while run) */
    apr_time_t ready_at;          /**< when it was queued for a worker */
    fe_kill_e kill;               /**< listener asks: close (linger short) */
    char *head;                   /**< bytes read without a worker: the
                                       listener's (fresh), then for TLS the
                                       decrypted ones (fe_intake.c) */
    apr_size_t head_len, head_cap;
    apr_size_t head_off;          /**< served to the core so far (TLS) */
    apr_size_t head_end;          /**< bytes of the request head, once
                                       complete; 0 before */
    apr_time_t head_done;         /**< when the head was complete */
    apr_time_t last_read;         /**< when bytes last came */
    ap_filter_t *intake_f;        /**< FE_INTAKE input filter (TLS) */
    apr_bucket_brigade *intake_bb;   /**< fe_intake's reads */
    char *raw;                    /**< TLS: the listener's bytes, for the
                                       core's first read */
    apr_size_t raw_len;
    apr_size_t body_counted;      /**< our part of child->count.bodies */
    apr_time_t accepted_at;       /**< listener: when it was accepted */
    apr_time_t line_at;           /**< listener: when the first request
                                       line was in; the request's time */
    unsigned int in_pollset:1;    /**< parked: pollset or ka set (park.mutex) */
    unsigned char ka_parked;      /**< armed in the ka set (park.mutex) */
    unsigned char ka_reg;         /**< registered in the ka set (park.mutex) */
    apr_uint32_t ka_slot;         /**< fe_kaslot.h id, 0: none */
    unsigned int suspended:1;     /**< suspend hooks ran, sbh cleared */
    unsigned int lingering:1;     /**< counted in count.lingering */
    unsigned int fresh:1;         /**< accepted, not yet set up */
    unsigned int async_suspended:1;  /**< CONN_STATE_SUSPENDED */
    unsigned int head_wait:1;     /**< fresh: listener collects its head */
    unsigned int head_late:1;     /**< the header deadline passed: the
                                       core's next read times out */
    unsigned int in_fresh:1;      /**< counted in park.fresh_count
                                       (park.mutex) */
    unsigned int client_done:1;   /**< request said: nothing follows */
    unsigned int intake:1;        /**< a worker reads its request without
                                       blocking (fe_intake.c) */
    unsigned int intake_next:1;   /**< TLS keep-alive: read the next
                                       request the same way */
} fe_conn_t;

/** The connection of a timeout-queue link. */
static inline fe_conn_t *fe_conn_of_tq(fe_tq_node_t *n)
{
    return FE_CONTAINER_OF(n, fe_conn_t, tq);
}

/** Our state of a connection the core runs, NULL for one we do not. */
static inline fe_conn_t *fe_conn_from_c(conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &mpm_fastevent_module);
}

/** The descriptor of a socket, -1 if it has none. */
static inline int fe_sock_fd(apr_socket_t *sock)
{
    apr_os_sock_t fd = -1;

    apr_os_sock_get(&fd, sock);
    return fd;
}

/* ------------------------------------------------------------ child */

typedef struct fe_metrics fe_metrics_t;

/** Worker threads and what each runs now (process/fe_child.c starts
 *  them; each worker writes its own entries). */
typedef struct fe_workers {
    apr_thread_t **threads;
    int n;                            /**< ThreadsPerChild */
    int started;                      /**< threads created so far */
    volatile apr_uint32_t alive;      /**< threads not yet left */
    volatile int *busy_fd;            /**< per worker: socket in use, -1 */
    volatile apr_time_t *busy_since;  /**< per worker: start of the item
                                           it runs, 0 when idle */
    volatile int *tids;               /**< per worker: its kernel thread
                                           id (Linux), 0 when unknown */
    unsigned int pace_allow;          /**< listener's: wakeups left */
    volatile int pace_sampling;       /**< listener's word: workers
                                           measure runs (pacing is on) */
    volatile apr_uint64_t sampled_us; /**< workers': wall time of the
                                           runs measured for pacing */
    volatile apr_uint64_t blocked_us; /**< ... spent blocked */
    volatile apr_uint32_t runs_sampled;  /**< ... how many runs */
    apr_uint32_t pace_seen_runs;      /**< listener's: the counters at */
    apr_uint64_t pace_seen_sampled;   /**<   its last judgement */
    apr_uint64_t pace_seen_blocked;
    fe_pace_judge_t pace;             /**< listener's: pacing on or off */
    int pace_proxied;                 /**< listener's: a proxied request
                                           came within
                                           FE_PACE_PROXY_QUIET */
} fe_workers_t;

/** Accepting new connections: the listener thread's, except the caps
 *  (set at start, read by all). */
typedef struct fe_accept_state {
    apr_pollfd_t *pfds;               /**< our bucket's listening sockets */
    int n;
    int disabled;                     /**< out of the pollset now */
    int closed;                       /**< closed for good (stopping) */
    int deferring;                    /**< leaving accepts to a sibling
                                           (fe_accept_defer) */
    int quiet_pause;                  /**< disabled for a deferral only */
    unsigned int sibling_room;        /**< cached, see fe_balance */
    apr_time_t sibling_at;            /**< when it was read */
    apr_time_t backlog_since;         /**< deferring with a connection
                                           waiting since */
    apr_time_t overflow_since;        /**< at the accept limit with a
                                           connection waiting since */
    apr_time_t defer_off_until;       /**< no deferral before */
    unsigned int hard_cap;            /**< connections with a request */
    unsigned int fresh_cap;           /**< and without (park.fresh_q) */
    int conns_left;                   /**< MaxConnectionsPerChild; -1 */
    unsigned int stuck;               /**< workers busy > 100 ms, not
                                           running */
    apr_time_t stuck_checked;         /**< when stuck was counted */
    int pause_logged;                 /**< FE10134 pause logged */
    apr_time_t pause_logged_at;
    unsigned int slow_heads;          /**< closed mid-head */
    unsigned int evicted;             /**< closed at the fresh cap */
    apr_time_t slow_logged_at;        /**< last FE10139 */
} fe_accept_state_t;

/** Where waiting connections are (connection/fe_park.c): the timeout
 *  queues and their counts, guarded by mutex. */
typedef struct fe_parking {
    apr_thread_mutex_t *mutex;
    fe_tqset_t ka_qs;                 /**< keep-alive, per KeepAliveTimeout */
    fe_tqset_t io_qs;                 /**< write completion + wait-io */
    fe_tq_t linger_q;
    fe_tq_t short_linger_q;
    fe_tq_t fresh_q;                  /**< accepted, no whole head yet */
    fe_tqset_t fresh_more;            /**< the same, past the deadline's
                                           first term (MinRate), per
                                           remaining wait */
    fe_tq_t suspended_q;              /**< SUSPENDED conns, no timeout */
    fe_kaslots_t ka_slots;            /**< names in the ka set */
    unsigned int fresh_count;         /**< in fresh_q */
    unsigned int wc_count, waitio_count;
    volatile apr_time_t next_wakeup;  /**< when the listener plans to wake */
} fe_parking_t;

/** Keep-alive holds (fdqueue/fe_hold.c): workers waiting on their own
 *  connection for its next request, called back through pipe. */
typedef struct fe_holds {
    int pipe[2];                      /**< holders poll [0]; -1: no holds */
    volatile apr_uint32_t holders;    /**< workers holding now */
    volatile apr_uint32_t stop;       /**< stopping: no more holds */
    volatile apr_uint32_t calls;      /**< call-back bytes not yet taken */
} fe_holds_t;

/** The keep-alive poll set (fdqueue/fe_kaset.c): idle keep-alive
 *  connections armed one-shot, and the idle workers waiting on them.
 *  ep is -1 when off or without epoll. */
typedef struct fe_kaset {
    int ep;
    int kick;                         /**< eventfd: the queue has work */
    int all;                          /**< eventfd: stop waiting here */
    apr_pollfd_t pfd;                 /**< ep, for the listener */
    volatile apr_uint32_t waiters;    /**< workers in epoll_wait on ep */
    volatile int listener;            /**< stopping: the listener watches
                                           ep, workers the queue */
} fe_kaset_t;

/** Timed callbacks (connection/fe_timer.c), guarded by mutex. */
typedef struct fe_timers {
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    fe_timerq_t heap;
    fe_timer_t *free;                 /**< recycled, linked via baton */
    volatile apr_time_t poll_until;   /**< listener's planned wakeup */
} fe_timers_t;

/** The stop flags: set by the stop sequence (process/fe_child.c), read
 *  by every thread. */
typedef struct fe_stop_flags {
    volatile int dying;               /**< graceful stop under way */
    volatile int ungraceful;          /**< stop now */
    volatile int listener_may_exit;
    volatile int workers_may_exit;
    volatile int resource_shortage;   /**< exit with APEXIT_CHILDSICK */
    volatile int hooks_ran;           /**< child_stopping hooks ran */
    volatile int listener_done;       /**< the listener thread has left */
} fe_stop_flags_t;

/** Connection counters, atomics: any thread. */
typedef struct fe_conn_counts {
    volatile apr_uint32_t conns;      /**< open connections */
    volatile apr_uint32_t lingering;  /**< in lingering close */
    volatile apr_uint32_t suspended;  /**< CONN_STATE_SUSPENDED */
    volatile apr_uint32_t bodies;     /**< bytes of request buffers beyond
                                           the head cap (bodies read
                                           without a worker) */
    apr_uint32_t published;           /**< listener: last ps->connections */
} fe_conn_counts_t;

/** Recycled transaction pools: a capped stack, guarded by mutex. */
typedef struct fe_pool_stack {
    apr_thread_mutex_t *mutex;
    apr_pool_t **stack;
    int n, max;
} fe_pool_stack_t;

struct fe_backend_req;

/** Workers inside proxy handlers, and the proxied requests waiting in
 *  line for a place (connection/fe_backend.c). */
typedef struct fe_backend_use {
    apr_thread_mutex_t *mutex;        /**< busy, the line, pump_armed;
                                           NULL: no reserve */
    apr_uint32_t busy;                /**< places taken */
    struct fe_backend_req *head, *tail; /**< the line, oldest first */
    int pump_armed;                   /**< a line timer is registered */
    volatile apr_uint32_t waiting;    /**< length of the line (read
                                           without the mutex) */
    volatile apr_uint32_t others_sec;   /**< second of others_count */
    volatile apr_uint32_t others_count; /**< requests not proxied in it */
    volatile apr_uint32_t others_prev;  /**< ... in the second before */
    volatile apr_uint32_t proxied_sec;  /**< last second with a proxied
                                             request (pacing) */
    apr_time_t logged;                /**< last FE10180 (rate limit) */
} fe_backend_use_t;

/** A child process (one per process, process/fe_child.c). */
struct fe_child {
    pid_t pid;
    int slot;
    int bucket;
    apr_pool_t *pchild;
    apr_pool_t *pruntime;
    server_rec *s;
    apr_thread_t *main_thread;
    apr_thread_t *listener;
    apr_threadattr_t *attr;
    struct fe_cpu *cpu;               /**< CPU placement (process/fe_cpu.c);
                                           NULL: off, one CPU, or failed */
    fe_metrics_t *metrics;            /**< our slot of the metrics segment */

    fe_workers_t wk;
    fe_queue_t *queue;                /**< listener -> workers */
    fe_holds_t hold;
    fe_kaset_t ka;
    fe_parking_t park;
    fe_timers_t timers;
    fe_accept_state_t acc;
    fe_conn_counts_t count;
    fe_pool_stack_t pools;
    fe_backend_use_t backend;
    fe_stop_flags_t stop;

    /* The listener thread's own. */
    apr_pollset_t *pollset;
    int wakeable;                     /**< pollset has APR_POLLSET_WAKEABLE */
    apr_time_t loop_now;              /**< this iteration's time */
    volatile int listener_tid;        /**< its kernel thread id (Linux),
                                           0 when unknown */
    apr_time_t gauges_at;             /**< queue gauge refreshed */
    apr_uint32_t rate_base;           /**< accepts a second ago */
    apr_time_t rate_since;
    int ghost;                        /**< a newer process took our slot */
};

/** The child this process runs, NULL in the parent. */
extern fe_child_t *fe_this_child;

#endif /* MPM_FASTEVENT_H */
