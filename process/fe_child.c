/*
 * fe_child.c: a child process of mpm_fastevent.
 *
 * Owns: the order of a child's start (privileges, CPU and scheduling,
 * signal mask, child_init, the child's runtime, threads), its main thread
 * (which waits on the pipe of death, starts workers held back by a
 * draining process, and keeps the child on its CPU), and the stop
 * sequence (fe_child_signal_stop, then joining the threads).
 *
 * The runtime is set up here, in dependency order: the runtime pool, the
 * accept caps, the pools stack, the hand-off (fdqueue/fe_work.c), the
 * parking (connection/fe_park.c), then the listener's pollset.
 *
 * Must not: touch connections (connection/fe_conn.c) or the pollset
 * (connection/fe_listener.c).
 */
#include "mpm_fastevent.h"
#include "connection/fe_listener.h"
#include "connection/fe_park.h"
#include "connection/fe_timer.h"
#include "connection/fe_backend.h"
#include "connection/fe_worker.h"
#include "fdqueue/fe_work.h"
#include "policy/fe_connstate.h"
#include "process/fe_child.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_mpm.h"

#include <apr_atomic.h>
#include <apr_signal.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

APLOG_USE_MODULE(mpm_fastevent);

static volatile sig_atomic_t fe_sigterm_seen;

static void fe_on_sigterm(int sig)
{
    fe_sigterm_seen = 1;
}

/* The end of a child: the child_stopping hooks if they did not run yet,
 * then pchild (child_init's cleanups).  Returns @a code, the exit code. */
static int fe_child_finish(fe_child_t *ch, int code)
{
    fe_g.retained->mpm->mpm_state = AP_MPMQ_STOPPING;
    if (!ch->stop.hooks_ran) {
        ch->stop.hooks_ran = 1;
        ap_run_child_stopping(ch->pchild, 0);
    }
    apr_pool_destroy(ch->pchild);
    return code;
}

/*
 * Start stopping.  Idempotent, and it can only escalate (graceful ->
 * ungraceful).  Graceful: the listener closes the listening sockets,
 * finishes what is in flight and closes idle connections.  Ungraceful:
 * in-flight sockets are shut down and the workers leave at once.
 */
void fe_child_signal_stop(fe_child_t *ch, fe_stop_e how)
{
    int graceful = how == FE_STOP_GRACEFUL;
    int i;

    fe_g.retained->mpm->mpm_state = AP_MPMQ_STOPPING;
    if (!ch->stop.listener_may_exit) {
        ch->stop.listener_may_exit = 1;
    }
    if (!graceful && !ch->stop.ungraceful) {
        ch->stop.ungraceful = 1;
        ch->stop.workers_may_exit = 1;
        /* Pairs with the fence in fe_worker_thread() (busy_fd, then the
         * flag): a worker handed a connection just now either sees the
         * flag or has its descriptor seen below. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        fe_work_term(ch);
        /* Make in-flight I/O fail now.  shutdown(), not close(): the
         * descriptor stays allocated, so it cannot be reused under the
         * worker's feet. */
        for (i = 0; i < ch->wk.n; i++) {
            int fd = ch->wk.busy_fd[i];

            if (fd >= 0) {
                shutdown(fd, SHUT_RDWR);
            }
        }
    }
    fe_hold_stop_all(ch);
    fe_listener_wakeup(ch);
    if (!ch->stop.hooks_ran) {
        ch->stop.hooks_ran = 1;
        ap_run_child_stopping(ch->pchild, graceful);
    }
}

/* @a what: "worker" or "listener". */
static apr_status_t fe_create_thread(fe_child_t *ch, apr_thread_t **t,
                                     const char *what,
                                     apr_thread_start_t fn, void *arg)
{
    apr_status_t rv = ap_thread_create(t, ch->attr, fn, arg, ch->pruntime);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ALERT, rv, ch->s, FELOGNO(10120)
                     "ap_thread_create: unable to create %s thread: lower "
                     "ThreadsPerChild or raise the thread limit (ulimit -u, "
                     "systemd TasksMax)", what);
    }
    return rv;
}

/* Start workers in the rows no other process uses.  In a slot taken over
 * from a draining old-generation process (fe_parent.c), the rest start
 * later, as that process's threads leave their rows; the main thread
 * calls this again until all are running. */
static apr_status_t fe_start_pending_workers(fe_child_t *ch)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < ch->wk.n && ch->wk.started < ch->wk.n; i++) {
        fe_worker_arg_t *arg;

        if (ch->wk.threads[i] != NULL || !fe_sb_row_free(ch->slot, i)) {
            continue;
        }
        arg = apr_palloc(ch->pruntime, sizeof *arg);
        arg->ch = ch;
        arg->tid = i;
        fe_sb_worker(ch->slot, i, SERVER_STARTING);
        apr_atomic_inc32(&ch->wk.alive);
        rv = fe_create_thread(ch, &ch->wk.threads[i], "worker",
                              fe_worker_thread, arg);
        if (rv != APR_SUCCESS) {
            apr_atomic_dec32(&ch->wk.alive);
            ch->wk.threads[i] = NULL;
            fe_sb_worker(ch->slot, i, SERVER_DEAD);
            return rv;
        }
        ch->wk.started++;
    }
    return APR_SUCCESS;
}

static apr_status_t fe_start_threads(fe_child_t *ch)
{
    apr_status_t rv;

    apr_threadattr_create(&ch->attr, ch->pchild);
    apr_threadattr_detach_set(ch->attr, 0);
    if (ap_thread_stacksize != 0) {
        rv = apr_threadattr_stacksize_set(ch->attr, ap_thread_stacksize);
        if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->s, FELOGNO(10121)
                         "WARNING: ThreadStackSize of %" APR_SIZE_T_FMT
                         " is inappropriate, using default (the system "
                         "refused it)", ap_thread_stacksize);
        }
    }
    rv = fe_start_pending_workers(ch);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return fe_create_thread(ch, &ch->listener, "listener",
                            fe_listener_thread, ch);
}

static void fe_join_threads(fe_child_t *ch)
{
    apr_status_t rv;
    int i;

    if (ch->listener) {
        apr_thread_join(&rv, ch->listener);
    }
    for (i = 0; i < ch->wk.n; i++) {
        if (ch->wk.threads[i]) {
            apr_thread_join(&rv, ch->wk.threads[i]);
        }
    }
}

/*
 * Main thread: until the listener has finished, watch our bucket's pipe of
 * death (a byte from the parent: '!' graceful, '$' now) and SIGTERM, and
 * look at the child's CPU placement (at most once a second).  It
 * polls with a short timeout rather than blocking in read(), so a stop
 * that began gracefully can still be escalated, and no wakeup is lost
 * between checking a flag and blocking.
 */
static void fe_main_thread_loop(fe_child_t *ch)
{
    ap_pod_t *pod = fe_g.pods[ch->bucket];
    apr_os_file_t fd = -1;

    apr_os_file_get(&fd, pod->pod_in);
    apr_signal(SIGTERM, fe_on_sigterm);
    apr_signal_unblock(SIGTERM);
    while (!ch->stop.listener_done) {
        struct pollfd pfd;
        int n;

        /* One byte stops one child: once stopping, leave the rest of
         * the bytes to our siblings and listen for SIGTERM only. */
        pfd.fd = ch->stop.listener_may_exit ? -1 : fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, 200);
        if (ch->wk.started < ch->wk.n && !ch->stop.listener_may_exit) {
            fe_start_pending_workers(ch);
        }
        if (fe_sigterm_seen) {
            fe_child_signal_stop(ch, FE_STOP_NOW);
        }
        fe_cpu_tick(ch, apr_time_now());
        fe_sched_tick(ch);
        fe_metrics_pacing(ch->metrics, fe_work_pacing(ch));
        if (n <= 0 || pfd.fd < 0) {
            continue;
        }
        switch (ap_mpm_podx_check(pod)) {
        case AP_MPM_PODX_GRACEFUL:
            fe_child_signal_stop(ch, FE_STOP_GRACEFUL);
            break;
        case AP_MPM_PODX_RESTART:
            fe_child_signal_stop(ch, FE_STOP_NOW);
            break;
        default:
            if (pfd.revents & (POLLHUP | POLLERR)) {
                /* the parent is gone */
                fe_child_signal_stop(ch, FE_STOP_GRACEFUL);
            }
            break;
        }
    }
}

static int fe_one_process_signal(int signum)
{
    return signum == SIGTERM || signum == SIGINT || signum == SIGWINCH;
}

static fe_child_t *fe_child_create(int slot, int bucket)
{
    fe_child_t *ch;
    apr_pool_t *pchild;

    apr_pool_create(&pchild, ap_server_conf->process->pconf);
    apr_pool_tag(pchild, "pchild");
    ch = apr_pcalloc(pchild, sizeof *ch);
    ch->pid = getpid();
    ch->slot = slot;
    ch->bucket = bucket;
    ch->pchild = pchild;
    ch->s = ap_server_conf;
    ch->wk.n = fe_g.lim.threads_per_child;
    ch->wk.threads = apr_pcalloc(pchild, ch->wk.n * sizeof *ch->wk.threads);
    ch->wk.busy_fd = apr_palloc(pchild, ch->wk.n * sizeof *ch->wk.busy_fd);
    memset((void *)ch->wk.busy_fd, 0xff, ch->wk.n * sizeof *ch->wk.busy_fd);
    ch->wk.busy_since = apr_pcalloc(pchild,
                                    ch->wk.n * sizeof *ch->wk.busy_since);
    fe_pace_judge_init(&ch->wk.pace);
    ch->wk.tids = apr_pcalloc(pchild, ch->wk.n * sizeof *ch->wk.tids);
    ch->acc.conns_left = ap_max_requests_per_child > 0
                         ? ap_max_requests_per_child : -1;
    ch->hold.pipe[0] = ch->hold.pipe[1] = -1;
    ch->ka.ep = ch->ka.kick = ch->ka.all = -1;
    return ch;
}

/* Close the listeners and pipes of the other buckets. */
static void fe_close_other_buckets(fe_child_t *ch)
{
    int i;

    for (i = 0; i < fe_g.num_buckets; i++) {
        if (i != ch->bucket) {
            ap_close_listeners_ex(fe_g.buckets[i]);
            ap_mpm_podx_close(fe_g.pods[i]);
        }
    }
}

/* The runtime pool's allocator is locked: workers destroy transaction
 * pools (its children) while the listener creates them, and every
 * connection's pool and bucket allocator take their memory from it
 * (fe_pool_get()).  Its free list is capped at MaxMemFree per child. */
static apr_status_t fe_create_runtime_pool(fe_child_t *ch)
{
    apr_allocator_t *a;
    apr_thread_mutex_t *m;
    apr_status_t rv;

    rv = apr_allocator_create(&a);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_pool_create_ex(&ch->pruntime, ap_server_conf->process->pconf,
                            NULL, a);
    if (rv != APR_SUCCESS) {
        apr_allocator_destroy(a);
        return rv;
    }
    apr_allocator_owner_set(a, ch->pruntime);
    apr_allocator_max_free_set(a, ap_max_mem_free);
    apr_pool_tag(ch->pruntime, "pruntime");
    rv = apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT, ch->pruntime);
    if (rv == APR_SUCCESS) {
        apr_allocator_mutex_set(a, m);
    }
    return rv;
}

/* The child's runtime, in the order the parts need each other.  Lingering
 * connections do not count against the accept limit, so the caps leave
 * room for as many again; every connection is in at most one place
 * (parked, queued or on a worker), so the queue never overflows. */
static apr_status_t fe_child_runtime(fe_child_t *ch)
{
    int tpc = fe_g.lim.threads_per_child;
    apr_status_t rv;

    rv = fe_create_runtime_pool(ch);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10132)
                     "could not create the child's runtime pool");
        return rv;
    }
    ch->acc.hard_cap = fe_child_conn_cap(tpc, fe_g.lim.worker_factor);
    ch->acc.fresh_cap = fe_child_fresh_cap(tpc, fe_g.lim.worker_factor);
    ch->pools.max = tpc;
    ch->pools.stack = apr_pcalloc(ch->pruntime,
                                  ch->pools.max * sizeof *ch->pools.stack);
    rv = apr_thread_mutex_create(&ch->pools.mutex, APR_THREAD_MUTEX_DEFAULT,
                                 ch->pruntime);
    if (rv == APR_SUCCESS) {
        rv = fe_work_setup(ch, ch->acc.hard_cap + ch->acc.fresh_cap + 16);
    }
    if (rv == APR_SUCCESS) {
        rv = fe_park_setup(ch);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, ch->s, FELOGNO(10133)
                     "could not create the worker queue or its mutexes");
        return rv;
    }
    return fe_listener_setup(ch);
}

/* The child's start up to running threads; 0, or the exit code. */
static int fe_child_start(fe_child_t *ch)
{
    apr_status_t rv;

    if (!fe_g.one_process) {
        rv = ap_thread_main_create(&ch->main_thread, ch->pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, ch->s, FELOGNO(10122)
                         "ap_thread_main_create() failed");
            return APEXIT_CHILDFATAL;
        }
        fe_close_other_buckets(ch);
    }
    fe_sb_reopen(ch->pchild);
    /* Before a ChrootDir hides /proc, and before any thread starts:
     * threads that modules start in child_init inherit the place. */
    fe_cpu_start(ch);
    /* Threads inherit the policy of the thread that starts them. */
    fe_sched_start(ch);
    if (ap_run_drop_privileges(ch->pchild, ap_server_conf)) {
        return APEXIT_CHILDFATAL;
    }
    /* Block the asynchronous signals in this thread and every thread
     * started after it, before modules start theirs in child_init. */
    apr_setup_signal_thread();
    /* Modules may register timed callbacks from child_init on. */
    if (fe_timers_setup(ch) != APR_SUCCESS
        || fe_backend_setup(ch) != APR_SUCCESS) {
        return APEXIT_CHILDSICK;
    }
    ap_run_child_init(ch->pchild, ap_server_conf);

    if (fe_child_runtime(ch) != APR_SUCCESS) {
        return APEXIT_CHILDSICK;
    }
    ch->metrics = fe_metrics_attach(ch->slot);
    fe_metrics_cpu(ch->metrics, fe_cpu_placed(ch));
    if (fe_start_threads(ch) != APR_SUCCESS) {
        fe_child_signal_stop(ch, FE_STOP_NOW);
        fe_join_threads(ch);
        return APEXIT_CHILDSICK;
    }
    return 0;
}

int fe_child_main(int slot, int bucket)
{
    fe_child_t *ch;
    int code;

    fe_g.retained->mpm->mpm_state = AP_MPMQ_STARTING;
    ap_fatal_signal_child_setup(ap_server_conf);

    ch = fe_child_create(slot, bucket);
    fe_this_child = ch;
    code = fe_child_start(ch);
    if (code != 0) {
        return fe_child_finish(ch, code);
    }
    fe_g.retained->mpm->mpm_state = AP_MPMQ_RUNNING;
    if (fe_g.one_process) {
        apr_signal_thread(fe_one_process_signal);
        fe_child_signal_stop(ch, FE_STOP_NOW);
    }
    else {
        fe_main_thread_loop(ch);
    }
    fe_join_threads(ch);
    return fe_child_finish(ch, ch->stop.resource_shortage ? APEXIT_CHILDSICK
                                                          : 0);
}
