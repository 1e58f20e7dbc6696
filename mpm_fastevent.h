/**
 * @file mpm_fastevent.h
 * @brief Private types shared by the httpd glue of mpm_fastevent.
 *
 * Never installed.  Three structs hold all mutable state:
 *  - fe_retained_t survives restarts and module reloads (ap_retained_data);
 *  - fe_globals_t is rebuilt by every configuration cycle (pre_config);
 *  - fe_child_t exists in a child process only.
 *
 * Threads of a child process:
 *
 *      main thread ── reads the pipe of death, starts/joins the others
 *      listener ───── owns the pollset: listening sockets and every parked
 *                     connection (keep-alive, write completion, wait-io,
 *                     lingering close); accepts; expires timeout queues;
 *                     pushes ready connections to the worker queue
 *      workers ────── pop a connection, run it (fe_conn_run) until it must
 *                     wait for the network, then park it and pop again
 *
 * Pool tree (child):
 *
 *      pconf ─┬─ pchild     child_init, drop_privileges, threads' attr
 *             ├─ ptimers    timed callbacks (timer_mutex)
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
#include "ap_listen.h"
#include "mpm_common.h"
#include "scoreboard.h"
#include "unixd.h"
#include "ap_mpm.h"

#include <apr_poll.h>
#include <apr_portable.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "policy/fe_config.h"
#include "fdqueue/fe_fdqueue.h"
#include "policy/fe_tq.h"
#include "policy/fe_timerq.h"
#include "policy/fe_kaslot.h"

/** Our log tags: FE + five digits, registry in docs/log-tags.md. */
#define FELOGNO(n) "FE" #n ": "

#define FE_RETAINED_KEY "mpm_fastevent_retained"
#define FE_MPM_NAME "fastevent"

/* Lingering close limits, as stock event: 30 s normally, 2 s when short. */
#define FE_LINGER_SECS        30
#define FE_SHORT_LINGER_SECS  2

/* An idle keep-alive connection gives back the free pages of its memory
 * nodes once it has waited this long (fe_idlemem.h, fe_trim_idle()).
 * Connections that come back sooner never pay for the page faults. */
#define FE_IDLE_TRIM_AFTER    apr_time_from_sec(1)

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
    ap_listen_rec **buckets;      /**< listeners per bucket */
    ap_pod_t **pods;              /**< pipe of death per bucket */
} fe_globals_t;

extern fe_globals_t fe_g;
extern module AP_MODULE_DECLARE_DATA mpm_fastevent_module
    __attribute__((visibility("default")));

/** Orders the listener gives a worker with a timed-out connection. */
enum {
    FE_KILL_NONE = 0,
    FE_KILL_SHORT,            /**< keep-alive over: short lingering close */
    FE_KILL_LINGER,           /**< I/O timeout: lingering close */
    FE_KILL_CLOSE             /**< lingering over: close the socket */
};

/** Per-connection state; c->cs points at pub. */
typedef struct fe_writenow fe_writenow_t;

typedef struct fe_conn {
    conn_state_t pub;             /**< state/sense seen by the core */
    conn_rec *c;
    request_rec *r;               /**< current request, for suspend hooks */
    apr_pool_t *p;                /**< ptrans */
    apr_socket_t *sock;
    apr_bucket_alloc_t *ba;
    ap_sb_handle_t *sbh;
    apr_pollfd_t pfd;             /**< NOCOPY: lives as long as the conn */
    fe_tq_node_t tq;              /**< timeout queue link (tq_mutex) */
    fe_writenow_t *wn;            /**< FE_WRITE_NOW filter state */
    struct fe_child *child;
    apr_interval_time_t ka_timeout;  /**< KeepAliveTimeout to apply */
    apr_interval_time_t io_timeout;  /**< Timeout to apply */
    apr_time_t linger_since;      /**< start of the lingering close */
    int resume_state;             /**< state to run when the wait ends */
    int tid;                      /**< worker running it (while run) */
    apr_time_t ready_at;          /**< when it was queued for a worker */
    int kill;                     /**< listener asks: close (linger short) */
    char *head;                   /**< bytes the listener read (fresh) */
    apr_size_t head_len, head_cap;
    unsigned int in_pollset:1;    /**< parked: pollset or ka_ep (tq_mutex) */
    unsigned char ka_parked;      /**< parked armed in ka_ep (tq_mutex) */
    unsigned char ka_reg;         /**< registered in ka_ep (tq_mutex) */
    apr_uint32_t ka_slot;         /**< fe_kaslot.h id, 0: none */
    unsigned int suspended:1;     /**< suspend hooks ran, sbh cleared */
    unsigned int lingering:1;     /**< counted in child->lingering */
    unsigned int fresh:1;         /**< accepted, not yet set up */
    unsigned int async_suspended:1;  /**< CONN_STATE_SUSPENDED */
    unsigned int head_wait:1;     /**< fresh: listener collects its head */
    unsigned int client_done:1;   /**< request said: nothing follows */
} fe_conn_t;

typedef struct fe_metrics fe_metrics_t;

/** A set of timeout queues, one per distinct timeout value. */
typedef struct fe_tqset {
    fe_tq_t *qs;
    int n, cap;
} fe_tqset_t;

/** The child process (one per process, fe_child.c). */
typedef struct fe_child {
    pid_t pid;
    int slot;
    int bucket;
    apr_pool_t *pchild;
    apr_pool_t *pruntime;
    server_rec *s;
    apr_thread_t *main_thread;
    apr_thread_t *listener;
    apr_thread_t **workers;
    int nworkers;                 /**< ThreadsPerChild */
    int nstarted;                 /**< worker threads created so far */
    volatile apr_uint32_t workers_alive;
    apr_threadattr_t *attr;

    fe_queue_t *queue;            /**< listener -> workers */
    apr_pollset_t *pollset;
    int wakeable;                 /**< pollset has APR_POLLSET_WAKEABLE */
    apr_pollfd_t *listen_pfds;
    int nlisten;
    int listeners_disabled;       /**< written by the listener only */
    int listeners_closed;         /**< listener thread only */
    int deferring;                /**< listener: leaving accepts to a
                                       sibling (fe_accept_defer) */
    int quiet_pause;              /**< listeners off for a deferral only */
    unsigned int sibling_room;    /**< listener: cached, see fe_balance */
    apr_time_t sibling_at;        /**< listener: when it was read */
    apr_time_t backlog_since;     /**< listener: deferring with a
                                       connection waiting since */
    apr_time_t overflow_since;    /**< listener: at the accept limit with
                                       a connection waiting since */
    apr_time_t defer_off_until;   /**< listener: no deferral before */

    /* Timeout queues and their pollset entries: guarded by tq_mutex. */
    apr_thread_mutex_t *tq_mutex;
    fe_tqset_t ka_qs;             /**< keep-alive, per KeepAliveTimeout */
    fe_tqset_t io_qs;             /**< write completion + wait-io, Timeout */
    fe_tq_t linger_q;
    fe_tq_t short_linger_q;
    fe_tq_t fresh_q;              /**< accepted, nothing received yet */
    volatile apr_uint32_t backend_busy;  /**< workers in proxy handlers */
    apr_time_t backend_logged;        /**< last FE10180 (rate limit) */
    unsigned int fresh_count;     /**< in fresh_q (tq_mutex) */
    unsigned int wc_count, waitio_count;   /**< tq_mutex */
    volatile apr_time_t next_wakeup;  /**< when the listener plans to wake */

    /* Recycled transaction pools: a capped stack, guarded by pool_mutex. */
    apr_thread_mutex_t *pool_mutex;
    apr_pool_t **pools;
    int npools, max_pools;

    volatile apr_uint32_t conns;      /**< open connections */
    volatile apr_uint32_t lingering;  /**< in lingering close */
    volatile apr_uint32_t suspended;  /**< CONN_STATE_SUSPENDED */
    unsigned int hard_cap;            /**< connections with a request */
    unsigned int fresh_cap;           /**< and without (fresh_q) */
    int conns_this_child;             /**< listener thread only */

    volatile int dying;               /**< graceful stop under way */
    volatile int ungraceful;          /**< stop now */
    volatile int listener_may_exit;
    volatile int workers_may_exit;
    volatile int resource_shortage;
    volatile int stopping_hooks_ran;
    volatile int listener_done;       /**< the listener thread has left */
    volatile int *busy_fd;            /**< per worker: socket in use, -1 */
    volatile apr_time_t *busy_since;  /**< per worker: start of the item
                                           it runs, 0 when idle */
    volatile int *worker_tids;        /**< per worker: its kernel thread
                                           id (Linux), 0 when unknown */
    unsigned int stuck;               /**< listener: workers busy > 100 ms
                                           and not running */
    apr_time_t stuck_checked;         /**< listener: when stuck was counted */
    apr_time_t loop_now;              /**< listener: this iteration's time */
    int pause_logged;                 /**< listener: FE10134 pause logged */
    apr_uint32_t published_conns;     /**< listener: last ps->connections */
    apr_time_t pause_logged_at;
    unsigned int slow_heads;          /**< listener: closed mid-head */
    unsigned int evicted;             /**< listener: at the fresh cap */
    apr_time_t slow_logged_at;        /**< listener: last FE10139 */
    fe_metrics_t *metrics;            /**< our slot of the metrics segment */
    apr_uint32_t rate_base;           /**< listener: accepts a second ago */
    apr_time_t rate_since;
    apr_time_t gauges_at;             /**< listener: queue gauge refreshed */

    /* Timed callbacks (fe_timer.c), guarded by timer_mutex. */
    apr_pool_t *ptimers;
    apr_thread_mutex_t *timer_mutex;
    fe_timerq_t timers;
    fe_timer_t *timer_free;           /**< recycled, linked via baton */
    fe_tq_t suspended_q;              /**< SUSPENDED conns (tq_mutex) */
    volatile apr_time_t poll_until;   /**< listener's planned wakeup */

    /* Keep-alive holds (fe_conn.c): workers waiting on their own
     * connection for its next request; preempted through hold_pipe. */
    int hold_pipe[2];                 /**< holders poll [0]; -1: no holds */
    volatile apr_uint32_t holders;    /**< workers holding now */
    volatile apr_uint32_t hold_stop;  /**< stopping: no more holds */
    volatile apr_uint32_t hold_calls; /**< call-back bytes not yet taken */

    /* Keep-alive poll set (fe_kapoll.c): idle keep-alive connections,
     * armed one-shot, and the idle workers waiting on them.  ka_ep is -1
     * without epoll.  Slots and arming: tq_mutex. */
    int ka_ep;
    int ka_kick;                      /**< eventfd: the queue has work */
    int ka_all;                       /**< eventfd: stop waiting here */
    apr_pollfd_t ka_pfd;              /**< ka_ep, for the listener */
    fe_kaslots_t ka_slots;            /**< names in ka_ep (fe_kaslot.h) */
    volatile apr_uint32_t ka_waiters; /**< workers in epoll_wait on ka_ep */
    volatile int ka_listener;         /**< stopping: the listener watches
                                           ka_ep, workers the queue */

    struct fe_cpu *cpu;               /**< CPU placement (fe_cpu.c); NULL:
                                           off, one CPU, or failed */
} fe_child_t;

/** Start argument of a worker thread. */
typedef struct fe_worker_arg {
    fe_child_t *ch;
    int tid;
} fe_worker_arg_t;

/* fe_parent.c */
int fe_mpm_run(apr_pool_t *pconf, apr_pool_t *plog, server_rec *s);
void fe_note_child_stopped(int slot, pid_t pid, ap_generation_t gen);

/* fe_child.c */
void fe_child_main(int slot, int bucket) __attribute__((noreturn));
void fe_child_signal_stop(fe_child_t *ch, int graceful);
int fe_worker_may_leave(fe_child_t *ch);
extern fe_child_t *fe_this_child;

/* fe_listener.c */
void *APR_THREAD_FUNC fe_listener_thread(apr_thread_t *thd, void *data);
apr_status_t fe_listener_setup(fe_child_t *ch);
void fe_listener_wakeup(fe_child_t *ch);
void fe_unpark_claimed_locked(fe_child_t *ch, fe_conn_t *cs);

/* fe_kapoll.c */
#define FE_KA_BATCH 64
apr_status_t fe_ka_setup(fe_child_t *ch, unsigned int nslots);
int fe_ka_arm(fe_child_t *ch, fe_conn_t *cs);
void fe_ka_disarm(fe_child_t *ch, fe_conn_t *cs);
void fe_ka_release(fe_child_t *ch, fe_conn_t *cs);
int fe_ka_harvest(fe_child_t *ch, fe_conn_t **out, int max);
void fe_ka_listener_takes_over(fe_child_t *ch);
apr_status_t fe_work_push(fe_child_t *ch, void *item);
apr_status_t fe_work_push_urgent(fe_child_t *ch, fe_qnode_t *node);
unsigned int fe_work_idlers(fe_child_t *ch);
void fe_work_term(fe_child_t *ch);
apr_status_t fe_work_next(fe_child_t *ch, void **item, fe_qnode_t **node);

/** The descriptor of a socket, -1 if it has none. */
static inline int fe_sock_fd(apr_socket_t *sock)
{
    apr_os_sock_t fd = -1;

    apr_os_sock_get(&fd, sock);
    return fd;
}

/* fe_conn.c */
void *APR_THREAD_FUNC fe_worker_thread(apr_thread_t *thd, void *data);
void fe_conn_track(fe_conn_t *cs);
void fe_conn_close(fe_conn_t *cs);
enum { FE_DRAIN_EOF, FE_DRAIN_WAIT, FE_DRAIN_MORE };
int fe_linger_discard(fe_conn_t *cs, int rounds);
fe_conn_t *fe_conn_from_c(conn_rec *c);
int fe_pre_connection(conn_rec *c, void *csd);
int fe_post_read_request(request_rec *r);
void fe_pre_read_request_hook(request_rec *r, conn_rec *c);
int fe_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                       const char *protocol);
apr_pool_t *fe_pool_get(fe_child_t *ch);
apr_status_t fe_hold_setup(fe_child_t *ch);
void fe_hold_check(fe_child_t *ch);
void fe_hold_stop_all(fe_child_t *ch);
void fe_pool_put(fe_child_t *ch, apr_pool_t *p);
fe_tq_t *fe_tqset_get(fe_tqset_t *set, apr_interval_time_t timeout);

/* fe_metrics.c */
void fe_metrics_init(server_rec *s);
fe_metrics_t *fe_metrics_attach(int slot);
void fe_metrics_accepted(fe_metrics_t *m);
void fe_metrics_paused(fe_metrics_t *m, int accepting, int counted);
void fe_metrics_timeouts(fe_metrics_t *m, unsigned int ka, unsigned int io,
                         unsigned int linger);
void fe_metrics_tick(fe_child_t *ch, apr_time_t now);
apr_time_t fe_metrics_next_tick(fe_child_t *ch);
void fe_metrics_handoff(fe_metrics_t *m, apr_interval_time_t waited);
void fe_metrics_register_hooks(void);
enum { FE_HOLD_HIT, FE_HOLD_MISS, FE_HOLD_PREEMPT };
void fe_metrics_hold(fe_metrics_t *m, int outcome);
unsigned int fe_metrics_holders(int slot);
void fe_metrics_cpu(fe_metrics_t *m, int cpu);
void fe_metrics_idle_trim(fe_metrics_t *m, unsigned int conns,
                          apr_size_t bytes);

/* fe_cpu.c: each child on one CPU when there are enough (fe_place.h). */
void fe_cpu_start(fe_child_t *ch);
void fe_sched_start(fe_child_t *ch);
void fe_cpu_tick(fe_child_t *ch, apr_time_t now);
int fe_cpu_placed(const fe_child_t *ch);
apr_time_t fe_cpu_next_check(const fe_child_t *ch);

/* fe_writenow.c: small responses written before the handler returns. */
void fe_writenow_register(void);
void fe_writenow_add(conn_rec *c, fe_conn_t *cs);
apr_status_t fe_writenow_release(conn_rec *c);
void fe_writenow_off(conn_rec *c);

/* fe_headbuf.c: the listener collects new connections' request heads. */
enum { FE_HEAD_CLOSE = -1, FE_HEAD_WAIT = 0, FE_HEAD_GO = 1 };
int fe_head_wanted(const ap_listen_rec *lr);
int fe_head_read(fe_conn_t *cs);
void fe_headbuf_register_hooks(void);

/* fe_backend.c */
void fe_backend_register_hooks(void);

/* fe_fdlimit.c */
void fe_check_nofile(server_rec *s, int preflight);

/* fe_timer.c */
apr_status_t fe_timers_setup(fe_child_t *ch);
apr_status_t fe_register_timed_callback(apr_time_t t,
                                        ap_mpm_callback_fn_t *fn,
                                        void *baton);
void fe_timers_dispatch(fe_child_t *ch, apr_time_t now);
apr_time_t fe_timers_plan(fe_child_t *ch, apr_time_t other);
void fe_timer_run(fe_child_t *ch, fe_qnode_t *node);
void fe_conn_suspend(fe_conn_t *cs);

/* fe_sb.c: worker rows and the process counters.  (The parent's slot
 * bookkeeping in fe_parent.c writes pid/generation/quiescing itself.) */
void fe_sb_worker(int slot, int thread, int status);
void fe_sb_worker_start(int slot, int thread);
void fe_sb_all_workers(fe_child_t *ch, int status);
void fe_sb_publish(fe_child_t *ch, unsigned int keep_alive);
void fe_sb_publish_conns(fe_child_t *ch);
void fe_sb_publish_keepalive(fe_child_t *ch);
unsigned int fe_sb_keepalive_count(const fe_child_t *ch);
void fe_sb_set_accepting(fe_child_t *ch, int accepting);
void fe_sb_set_quiescing(fe_child_t *ch);
int fe_sb_row_free(int slot, int thread);

#endif /* MPM_FASTEVENT_H */
