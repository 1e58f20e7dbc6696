/*
 * fe_child.c: a child process of mpm_fastevent.
 *
 * Owns: the order of a child's start (privileges, signal mask, child_init,
 * threads), its main thread (which waits on the pipe of death), and the
 * stop sequence (fe_child_signal_stop, then joining the threads).
 *
 * Must not: touch connections (fe_conn.c) or the pollset (fe_listener.c).
 */
#include "mpm_fastevent.h"
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

fe_child_t *fe_this_child;

static volatile sig_atomic_t fe_sigterm_seen;

static void fe_on_sigterm(int sig)
{
    fe_sigterm_seen = 1;
}

static void fe_clean_exit(fe_child_t *ch, int code) __attribute__((noreturn));
static void fe_clean_exit(fe_child_t *ch, int code)
{
    fe_g.retained->mpm->mpm_state = AP_MPMQ_STOPPING;
    if (ch && !ch->stopping_hooks_ran) {
        ch->stopping_hooks_ran = 1;
        ap_run_child_stopping(ch->pchild, 0);
    }
    if (ch && ch->pchild) {
        apr_pool_destroy(ch->pchild);
    }
    exit(code);
}

/*
 * Start stopping.  Idempotent, and it can only escalate (graceful ->
 * ungraceful).  Graceful: the listener closes the listening sockets,
 * finishes what is in flight and closes idle connections.  Ungraceful:
 * in-flight sockets are shut down and the workers leave at once.
 */
void fe_child_signal_stop(fe_child_t *ch, int graceful)
{
    int i;

    fe_g.retained->mpm->mpm_state = AP_MPMQ_STOPPING;
    if (!ch->listener_may_exit) {
        ch->listener_may_exit = 1;
    }
    if (!graceful && !ch->ungraceful) {
        ch->ungraceful = 1;
        ch->workers_may_exit = 1;
        /* Pairs with the fence in fe_worker_thread() (busy_fd, then the
         * flag): a worker handed a connection just now either sees the
         * flag or has its descriptor seen below. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        fe_work_term(ch);
        /* Make in-flight I/O fail now.  shutdown(), not close(): the
         * descriptor stays allocated, so it cannot be reused under the
         * worker's feet. */
        for (i = 0; i < ch->nworkers; i++) {
            int fd = ch->busy_fd[i];

            if (fd >= 0) {
                shutdown(fd, SHUT_RDWR);
            }
        }
    }
    fe_hold_stop_all(ch);
    fe_listener_wakeup(ch);
    if (!ch->stopping_hooks_ran) {
        ch->stopping_hooks_ran = 1;
        ap_run_child_stopping(ch->pchild, graceful);
    }
}

static apr_status_t fe_create_thread(fe_child_t *ch, apr_thread_t **t,
                                     apr_thread_start_t fn, void *arg)
{
    apr_status_t rv = ap_thread_create(t, ch->attr, fn, arg, ch->pruntime);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ALERT, rv, ch->s, FELOGNO(10120)
                     "apr_thread_create() failed: unable to start a "
                     "thread; lower ThreadsPerChild or raise the thread "
                     "limit (ulimit -u, systemd TasksMax)");
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

    for (i = 0; i < ch->nworkers && ch->nstarted < ch->nworkers; i++) {
        fe_worker_arg_t *arg;

        if (ch->workers[i] != NULL || !fe_sb_row_free(ch->slot, i)) {
            continue;
        }
        arg = apr_palloc(ch->pruntime, sizeof *arg);
        arg->ch = ch;
        arg->tid = i;
        fe_sb_worker(ch->slot, i, SERVER_STARTING);
        apr_atomic_inc32(&ch->workers_alive);
        rv = fe_create_thread(ch, &ch->workers[i], fe_worker_thread, arg);
        if (rv != APR_SUCCESS) {
            apr_atomic_dec32(&ch->workers_alive);
            ch->workers[i] = NULL;
            fe_sb_worker(ch->slot, i, SERVER_DEAD);
            return rv;
        }
        ch->nstarted++;
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
                         "ThreadStackSize %" APR_SIZE_T_FMT " was refused; "
                         "using the default stack size",
                         ap_thread_stacksize);
        }
    }
    rv = fe_start_pending_workers(ch);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return fe_create_thread(ch, &ch->listener, fe_listener_thread, ch);
}

/*
 * While stopping gracefully, a worker leaves once the child has more
 * workers than open connections (keeping one for the listener's last
 * hand-offs), so a draining process frees scoreboard rows, and threads,
 * as its connections finish.
 */
int fe_worker_may_leave(fe_child_t *ch)
{
    for (;;) {
        apr_uint32_t alive = apr_atomic_read32(&ch->workers_alive);
        apr_uint32_t conns = apr_atomic_read32(&ch->conns);

        if (!ch->dying || alive <= 1 || alive <= conns) {
            return 0;
        }
        if (apr_atomic_cas32(&ch->workers_alive, alive - 1, alive)
            == alive) {
            return 1;
        }
    }
}

static void fe_join_threads(fe_child_t *ch)
{
    apr_status_t rv;
    int i;

    if (ch->listener) {
        apr_thread_join(&rv, ch->listener);
    }
    for (i = 0; i < ch->nworkers; i++) {
        if (ch->workers[i]) {
            apr_thread_join(&rv, ch->workers[i]);
        }
    }
}

/*
 * Main thread: until the listener has finished, watch our bucket's pipe of
 * death (a byte from the parent: '!' graceful, '$' now) and SIGTERM.  It
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
    while (!ch->listener_done) {
        struct pollfd pfd;
        int n;

        /* One byte stops one child: once stopping, leave the rest of
         * the bytes to our siblings and listen for SIGTERM only. */
        pfd.fd = ch->listener_may_exit ? -1 : fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, 200);
        if (ch->nstarted < ch->nworkers && !ch->listener_may_exit) {
            fe_start_pending_workers(ch);
        }
        if (fe_sigterm_seen) {
            fe_child_signal_stop(ch, 0);
        }
        if (n <= 0 || pfd.fd < 0) {
            continue;
        }
        switch (ap_mpm_podx_check(pod)) {
        case AP_MPM_PODX_GRACEFUL:
            fe_child_signal_stop(ch, 1);
            break;
        case AP_MPM_PODX_RESTART:
            fe_child_signal_stop(ch, 0);
            break;
        default:
            if (pfd.revents & (POLLHUP | POLLERR)) {
                fe_child_signal_stop(ch, 1);   /* the parent is gone */
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
    ch->nworkers = fe_g.lim.threads_per_child;
    ch->workers = apr_pcalloc(pchild, ch->nworkers * sizeof *ch->workers);
    ch->busy_fd = apr_palloc(pchild, ch->nworkers * sizeof *ch->busy_fd);
    memset((void *)ch->busy_fd, 0xff, ch->nworkers * sizeof *ch->busy_fd);
    ch->busy_since = apr_pcalloc(pchild,
                                 ch->nworkers * sizeof *ch->busy_since);
    ch->worker_tids = apr_pcalloc(pchild,
                                  ch->nworkers * sizeof *ch->worker_tids);
    ch->conns_this_child = ap_max_requests_per_child > 0
                           ? ap_max_requests_per_child : -1;
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

void fe_child_main(int slot, int bucket)
{
    fe_child_t *ch;
    apr_status_t rv;

    fe_g.retained->mpm->mpm_state = AP_MPMQ_STARTING;
    ap_fatal_signal_child_setup(ap_server_conf);

    ch = fe_child_create(slot, bucket);
    fe_this_child = ch;
    if (!fe_g.one_process) {
        rv = ap_thread_main_create(&ch->main_thread, ch->pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, ch->s, FELOGNO(10122)
                         "ap_thread_main_create() failed");
            fe_clean_exit(ch, APEXIT_CHILDFATAL);
        }
        fe_close_other_buckets(ch);
    }
    ap_reopen_scoreboard(ch->pchild, NULL, 0);
    /* Before a ChrootDir hides /proc, and before any thread starts:
     * threads that modules start in child_init inherit the place. */
    fe_cpu_start(ch);
    /* Threads inherit the policy of the thread that starts them. */
    fe_sched_start(ch);
    if (ap_run_drop_privileges(ch->pchild, ap_server_conf)) {
        fe_clean_exit(ch, APEXIT_CHILDFATAL);
    }
    /* Block the asynchronous signals in this thread and every thread
     * started after it, before modules start theirs in child_init. */
    apr_setup_signal_thread();
    /* Modules may register timed callbacks from child_init on. */
    if (fe_timers_setup(ch) != APR_SUCCESS) {
        fe_clean_exit(ch, APEXIT_CHILDSICK);
    }
    ap_run_child_init(ch->pchild, ap_server_conf);

    if (fe_listener_setup(ch) != APR_SUCCESS) {
        fe_clean_exit(ch, APEXIT_CHILDSICK);
    }
    ch->metrics = fe_metrics_attach(slot);
    fe_metrics_cpu(ch->metrics, fe_cpu_placed(ch));
    if (fe_start_threads(ch) != APR_SUCCESS) {
        fe_child_signal_stop(ch, 0);
        fe_join_threads(ch);
        fe_clean_exit(ch, APEXIT_CHILDSICK);
    }
    fe_g.retained->mpm->mpm_state = AP_MPMQ_RUNNING;

    if (fe_g.one_process) {
        apr_signal_thread(fe_one_process_signal);
        fe_child_signal_stop(ch, 0);
    }
    else {
        fe_main_thread_loop(ch);
    }
    fe_join_threads(ch);
    if (fe_g.one_process) {
        fe_note_child_stopped(0, 0, 0);
    }
    fe_clean_exit(ch, ch->resource_shortage ? APEXIT_CHILDSICK : 0);
}
