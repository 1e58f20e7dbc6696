/*
 * fe_kapoll.c: idle keep-alive connections wake an idle worker directly.
 *
 * Owns: a second epoll instance per child (Linux) holding the idle
 * keep-alive connections, armed one-shot; the slot table that names them
 * in it; the worker's wait for its next entry (fe_work_next) and the
 * wrappers around the worker queue that wake such waiters (fe_work_*).
 *
 * Must not: run a connection, or touch a connection's timeout queue except
 * to claim it, under tq_mutex.
 *
 * Why: with more keep-alive connections than workers, every request cost
 * the listener a wakeup (its pollset reported the connection readable),
 * an epoll_ctl(DEL), a hand-off that woke a worker and, after the
 * response, an epoll_ctl(ADD): about 2.6 context switches and an epoll
 * item created and freed per request.  Here idle workers wait in
 * epoll_wait() on the keep-alive set themselves, and the kernel wakes
 * exactly one of them per ready connection (epoll's waiters are
 * exclusive): one wakeup per request, none when a worker that just
 * finished finds another connection ready.  A connection stays registered
 * across requests: parking re-arms it with one epoll_ctl(MOD), and
 * EPOLLONESHOT disarms it when a wait returns it, so each readiness goes
 * to one worker.
 *
 * What the listener hands out (new connections, timers, other waits) still
 * goes through the worker queue (fe_fdqueue.c); while workers wait here
 * rather than in the queue, a push also writes the kick eventfd (in the
 * set, edge-triggered: one waiter per write).  When the child starts
 * stopping, the "all" eventfd (level-triggered, never read) wakes every
 * waiter for good: from then on workers wait in the queue, and the
 * listener watches the keep-alive set instead (fe_ka_listener_takes_over),
 * so a request that arrives on an idle connection during the stop is
 * still answered.
 *
 * Safety: a worker takes its event outside tq_mutex, so by the time it
 * locks, the listener may have timed the connection out and closed it.
 * The event therefore carries a tag of the slot table (fe_kaslot.h), never
 * a pointer: under tq_mutex the claim succeeds only if that very arm is
 * still the slot's latest, and slots outlive connections, so a stale
 * event never touches freed memory.
 *
 * Elsewhere (no epoll), or when setup fails, ka_ep stays -1: keep-alive
 * connections go to the listener's pollset and workers wait in the queue.
 */
#include "mpm_fastevent.h"
#include "http_log.h"

#include <apr_atomic.h>
#include <errno.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

#define FE_KA_KICK ((apr_uint64_t)-1)
#define FE_KA_ALL  ((apr_uint64_t)-2)

/* A worker waiting in the set looks at the queue again at least this
 * often: a safety net only (every push kicks a waiter), and at 10 s
 * idle workers cost next to nothing. */
#define FE_KA_WAIT_MS 10000

#ifdef __linux__

static apr_status_t fe_ka_cleanup(void *data)
{
    fe_child_t *ch = data;

    if (ch->ka_ep >= 0) {
        close(ch->ka_ep);
        ch->ka_ep = -1;
    }
    if (ch->ka_kick >= 0) {
        close(ch->ka_kick);
        ch->ka_kick = -1;
    }
    if (ch->ka_all >= 0) {
        close(ch->ka_all);
        ch->ka_all = -1;
    }
    return APR_SUCCESS;
}

static int fe_ka_watch(int ep, int fd, apr_uint32_t events, apr_uint64_t tag)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

apr_status_t fe_ka_setup(fe_child_t *ch, unsigned int nslots)
{
    apr_file_t *f = NULL;
    apr_status_t rv = APR_SUCCESS;

    ch->ka_ep = epoll_create1(EPOLL_CLOEXEC);
    ch->ka_kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ch->ka_all = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    apr_pool_cleanup_register(ch->pruntime, ch, fe_ka_cleanup,
                              apr_pool_cleanup_null);
    if (ch->ka_ep < 0 || ch->ka_kick < 0 || ch->ka_all < 0
        || fe_ka_watch(ch->ka_ep, ch->ka_kick, EPOLLIN | EPOLLET,
                       FE_KA_KICK) != 0
        || fe_ka_watch(ch->ka_ep, ch->ka_all, EPOLLIN, FE_KA_ALL) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS) {
        /* For the listener, once the child stops (not watched before). */
        rv = apr_os_file_put(&f, &ch->ka_ep, APR_FOPEN_READ, ch->pruntime);
        ch->ka_pfd.p = ch->pruntime;
        ch->ka_pfd.desc_type = APR_POLL_FILE;
        ch->ka_pfd.desc.f = f;
        ch->ka_pfd.reqevents = APR_POLLIN;
        ch->ka_pfd.client_data = &ch->ka_pfd;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->s, FELOGNO(10200)
                     "could not set up the keep-alive poll set (epoll or "
                     "eventfd): idle keep-alive connections are watched by "
                     "the listener alone, which is slower with many of "
                     "them; raise the descriptor limit");
        fe_ka_cleanup(ch);
        return rv;
    }
    fe_kaslots_init(&ch->ka_slots, nslots, ch->pruntime);
    return APR_SUCCESS;
}

/* Pre-condition: tq_mutex held, cs being parked.  0 when armed; -1 when
 * the caller must use the listener's pollset (no slot left, or epoll
 * refused). */
int fe_ka_arm(fe_child_t *ch, fe_conn_t *cs)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = fe_kaslots_arm(&ch->ka_slots, &cs->ka_slot, cs);
    if (ev.data.u64 == 0) {
        return -1;               /* no slot left */
    }
    if (cs->ka_reg) {
        if (epoll_ctl(ch->ka_ep, EPOLL_CTL_MOD, fe_sock_fd(cs->sock),
                      &ev) == 0) {
            return 0;
        }
        cs->ka_reg = 0;          /* gone (ENOENT): register afresh */
    }
    if (epoll_ctl(ch->ka_ep, EPOLL_CTL_ADD, fe_sock_fd(cs->sock), &ev) != 0) {
        return -1;
    }
    cs->ka_reg = 1;
    return 0;
}

/* Pre-condition: tq_mutex held.  Drops the registration; an event already
 * taken by a worker becomes stale. */
void fe_ka_disarm(fe_child_t *ch, fe_conn_t *cs)
{
    struct epoll_event ev;      /* kernels before 2.6.9 want one */

    fe_kaslots_disarm(&ch->ka_slots, cs->ka_slot);
    if (cs->ka_reg) {
        epoll_ctl(ch->ka_ep, EPOLL_CTL_DEL, fe_sock_fd(cs->sock), &ev);
        cs->ka_reg = 0;
    }
}

/* The connection is closing (its pool is being cleared; not parked): give
 * its slot back.  Takes tq_mutex. */
void fe_ka_release(fe_child_t *ch, fe_conn_t *cs)
{
    if (cs->ka_slot == 0) {
        return;
    }
    apr_thread_mutex_lock(ch->tq_mutex);
    fe_kaslots_release(&ch->ka_slots, &cs->ka_slot);
    apr_thread_mutex_unlock(ch->tq_mutex);
}

/* Pre-condition: tq_mutex held.  The connection an event names, unparked
 * and ready to run, or NULL when the event is stale. */
static fe_conn_t *fe_ka_claim_locked(fe_child_t *ch, apr_uint64_t tag)
{
    fe_conn_t *cs = fe_kaslots_claim(&ch->ka_slots, tag);

    if (cs == NULL || !cs->ka_parked) {
        return NULL;             /* stale (the second cannot happen) */
    }
    fe_unpark_claimed_locked(ch, cs);    /* stays registered, disarmed */
    fe_sb_publish_keepalive(ch);
    cs->pub.state = cs->resume_state;
    return cs;
}

/* Listener: the "all" eventfd, which is level-triggered, keeps the set
 * readable, so once every worker has left the set it is read back to
 * zero (or the listener's pollset would report the set for ever).  A
 * worker announces itself in ka_waiters before it checks ka_listener, so
 * none can enter after this saw zero. */
static void fe_ka_all_seen(fe_child_t *ch)
{
    apr_uint64_t v;

    if (apr_atomic_add32(&ch->ka_waiters, 0) == 0
        && read(ch->ka_all, &v, sizeof v) < 0) {
        /* EAGAIN: already read */
    }
}

/* Listener, once the child stops: hand out what is ready. */
int fe_ka_harvest(fe_child_t *ch, fe_conn_t **out, int max)
{
    struct epoll_event ev[FE_KA_BATCH];
    int n, i, kept = 0;

    if (max > FE_KA_BATCH) {
        max = FE_KA_BATCH;
    }
    do {
        n = epoll_wait(ch->ka_ep, ev, max, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        return 0;
    }
    apr_thread_mutex_lock(ch->tq_mutex);
    for (i = 0; i < n; i++) {
        if (ev[i].data.u64 == FE_KA_ALL) {
            fe_ka_all_seen(ch);
        }
        else if (ev[i].data.u64 != FE_KA_KICK
                 && (out[kept] = fe_ka_claim_locked(ch, ev[i].data.u64))
                    != NULL) {
            kept++;
        }
    }
    apr_thread_mutex_unlock(ch->tq_mutex);
    return kept;
}

/* Wake one worker waiting in the set, if any.  The atomic read-modify-
 * write orders it after the caller's push, as fe_work_next() announces
 * itself before it looks at the queue again: one of the two sees the
 * other. */
static void fe_ka_kick(fe_child_t *ch)
{
    apr_uint64_t one = 1;

    if (apr_atomic_add32(&ch->ka_waiters, 0) > 0
        && write(ch->ka_kick, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so a wakeup is pending anyway */
    }
}

/* Every waiter leaves the set for good and waits in the queue from then
 * on (the "all" eventfd stays readable until fe_ka_all_seen()). */
static void fe_ka_leave_set(fe_child_t *ch)
{
    apr_uint64_t one = 1;

    ch->ka_listener = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);     /* see fe_ka_all_seen() */
    if (write(ch->ka_all, &one, sizeof one) < 0) {
        /* EAGAIN: already written */
    }
}

/* From the moment the child stops: the listener watches the keep-alive
 * set, the workers the queue. */
void fe_ka_listener_takes_over(fe_child_t *ch)
{
    if (ch->ka_ep < 0 || ch->ka_listener) {
        return;
    }
    if (apr_pollset_add(ch->pollset, &ch->ka_pfd) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->s, FELOGNO(10201)
                     "could not watch the keep-alive poll set while "
                     "stopping: idle keep-alive connections are closed at "
                     "the end of their grace without being read");
    }
    fe_ka_leave_set(ch);
}

/* epoll_wait() on the set failed (it cannot, short of a kernel or memory
 * problem): the worker waits in the queue from now on; said once per
 * child. */
static void fe_ka_wait_failed(fe_child_t *ch, int err)
{
    static volatile apr_uint32_t said;

    if (apr_atomic_cas32(&said, 1, 0) == 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(err), ch->s,
                     FELOGNO(10203) "epoll_wait() on the keep-alive poll "
                     "set failed: workers that see this wait in the worker "
                     "queue instead, and idle keep-alive connections wait "
                     "for the next worker that finishes");
    }
}

#else /* no epoll */

apr_status_t fe_ka_setup(fe_child_t *ch, unsigned int nslots)
{
    ch->ka_ep = ch->ka_kick = ch->ka_all = -1;
    return APR_ENOTIMPL;
}

int fe_ka_arm(fe_child_t *ch, fe_conn_t *cs)
{
    return -1;
}

void fe_ka_disarm(fe_child_t *ch, fe_conn_t *cs)
{
}

void fe_ka_release(fe_child_t *ch, fe_conn_t *cs)
{
}

int fe_ka_harvest(fe_child_t *ch, fe_conn_t **out, int max)
{
    return 0;
}

static void fe_ka_kick(fe_child_t *ch)
{
}

void fe_ka_listener_takes_over(fe_child_t *ch)
{
}

#endif

/* ------------------------------------------------------- the work queue */

/* Ungraceful stop: the queue ends, and waiters in the set wake to see it. */
void fe_work_term(fe_child_t *ch)
{
    fe_queue_term(ch->queue);
#ifdef __linux__
    if (ch->ka_ep >= 0) {
        fe_ka_leave_set(ch);
    }
#endif
}

apr_status_t fe_work_push(fe_child_t *ch, void *item)
{
    apr_status_t rv = fe_queue_push(ch->queue, item);

    if (rv == APR_SUCCESS && ch->ka_ep >= 0) {
        fe_ka_kick(ch);
    }
    return rv;
}

apr_status_t fe_work_push_urgent(fe_child_t *ch, fe_qnode_t *node)
{
    apr_status_t rv = fe_queue_push_urgent(ch->queue, node);

    if (rv == APR_SUCCESS && ch->ka_ep >= 0) {
        fe_ka_kick(ch);
    }
    return rv;
}

/* Idle workers: those waiting in the queue and those waiting in the set. */
unsigned int fe_work_idlers(fe_child_t *ch)
{
    return fe_queue_idlers(ch->queue) + apr_atomic_read32(&ch->ka_waiters);
}

/*
 * A worker's next entry: what the queue holds, else the first idle
 * keep-alive connection to become ready, else (once the child stops) a
 * wait in the queue alone.  APR_EINTR asks the caller to look at the
 * child's state and call again; APR_EOF: the queue is terminated.
 */
apr_status_t fe_work_next(fe_child_t *ch, void **item, fe_qnode_t **node)
{
#ifdef __linux__
    while (ch->ka_ep >= 0 && !ch->ka_listener) {
        struct epoll_event ev;
        fe_conn_t *cs;
        apr_status_t rv;
        int n;

        rv = fe_queue_trypop(ch->queue, item, node);
        if (rv == APR_EAGAIN) {
            apr_atomic_inc32(&ch->ka_waiters);
            /* A sequentially consistent load: ordered after the increment
             * on weakly ordered CPUs too (see fe_ka_all_seen()). */
            if (__atomic_load_n(&ch->ka_listener, __ATOMIC_SEQ_CST)) {
                apr_atomic_dec32(&ch->ka_waiters);
                return APR_EINTR;
            }
            rv = fe_queue_trypop(ch->queue, item, node);   /* see kick */
            if (rv == APR_EAGAIN) {
                n = epoll_wait(ch->ka_ep, &ev, 1, FE_KA_WAIT_MS);
            }
            apr_atomic_dec32(&ch->ka_waiters);
        }
        if (rv != APR_EAGAIN) {
            /* More waiting than we take: pass the wakeup on. */
            if (rv == APR_SUCCESS && fe_queue_waiting(ch->queue) > 0) {
                fe_ka_kick(ch);
            }
            return rv;
        }
        if (n <= 0) {
            if (n == 0 || errno == EINTR) {
                return APR_EINTR;
            }
            fe_ka_wait_failed(ch, errno);
            break;               /* this worker waits in the queue now */
        }
        if (ev.data.u64 == FE_KA_ALL) {
            /* The child stops: the caller looks whether this worker may
             * leave, then waits in the queue. */
            return APR_EINTR;
        }
        if (ev.data.u64 == FE_KA_KICK) {
            continue;            /* the queue has something */
        }
        apr_thread_mutex_lock(ch->tq_mutex);
        cs = fe_ka_claim_locked(ch, ev.data.u64);
        apr_thread_mutex_unlock(ch->tq_mutex);
        if (cs != NULL) {
            cs->ready_at = 0;    /* no hand-off to measure */
            *item = cs;
            *node = NULL;
            return APR_SUCCESS;
        }
    }
#endif
    return fe_queue_pop(ch->queue, item, node);
}
