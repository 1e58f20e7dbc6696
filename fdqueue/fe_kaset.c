/*
 * fe_kaset.c: the keep-alive poll set, where idle workers wait on idle
 * keep-alive connections themselves (FastEventKeepAlivePoll on).
 *
 * Owns: a second epoll instance per child (Linux) and its two eventfds;
 * the registration of a connection's socket in it, armed one-shot; a
 * worker's wait in it; the listener's non-blocking harvest of it once the
 * child stops.  Events carry tags of connection/fe_park.c's slot table,
 * never pointers: this file never sees a connection.
 *
 * Must not: name or claim connections (fe_park.c does, under park.mutex),
 * or touch the worker queue (fe_work.c does).
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
 * goes through the worker queue; while workers wait here rather than in
 * the queue, a push also writes the kick eventfd (in the set,
 * edge-triggered: one waiter per write).  When the child starts stopping,
 * the "all" eventfd (level-triggered, never read by workers) wakes every
 * waiter for good: from then on workers wait in the queue, and the
 * listener watches the keep-alive set instead, so a request that arrives
 * on an idle connection during the stop is still answered.
 *
 * Elsewhere (no epoll), or when setup fails, ka.ep stays -1: keep-alive
 * connections go to the listener's pollset and workers wait in the queue.
 */
#include "mpm_fastevent.h"
#include "fdqueue/fe_kaset.h"
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

static apr_status_t fe_kaset_cleanup(void *data)
{
    fe_child_t *ch = data;

    if (ch->ka.ep >= 0) {
        close(ch->ka.ep);
        ch->ka.ep = -1;
    }
    if (ch->ka.kick >= 0) {
        close(ch->ka.kick);
        ch->ka.kick = -1;
    }
    if (ch->ka.all >= 0) {
        close(ch->ka.all);
        ch->ka.all = -1;
    }
    return APR_SUCCESS;
}

static int fe_kaset_watch(int ep, int fd, apr_uint32_t events,
                          apr_uint64_t tag)
{
    struct epoll_event ev;

    ev.events = events;
    ev.data.u64 = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

apr_status_t fe_kaset_setup(fe_child_t *ch)
{
    apr_file_t *f = NULL;
    apr_status_t rv = APR_SUCCESS;

    ch->ka.ep = epoll_create1(EPOLL_CLOEXEC);
    ch->ka.kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ch->ka.all = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    apr_pool_cleanup_register(ch->pruntime, ch, fe_kaset_cleanup,
                              apr_pool_cleanup_null);
    if (ch->ka.ep < 0 || ch->ka.kick < 0 || ch->ka.all < 0
        || fe_kaset_watch(ch->ka.ep, ch->ka.kick, EPOLLIN | EPOLLET,
                          FE_KA_KICK) != 0
        || fe_kaset_watch(ch->ka.ep, ch->ka.all, EPOLLIN, FE_KA_ALL) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS) {
        /* For the listener, once the child stops (not watched before). */
        rv = apr_os_file_put(&f, &ch->ka.ep, APR_FOPEN_READ, ch->pruntime);
        ch->ka.pfd.p = ch->pruntime;
        ch->ka.pfd.desc_type = APR_POLL_FILE;
        ch->ka.pfd.desc.f = f;
        ch->ka.pfd.reqevents = APR_POLLIN;
        ch->ka.pfd.client_data = &ch->ka.pfd;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->s, FELOGNO(10200)
                     "could not set up the keep-alive poll set (epoll or "
                     "eventfd): idle keep-alive connections are watched by "
                     "the listener alone, which is slower with many of "
                     "them; raise the descriptor limit");
        fe_kaset_cleanup(ch);
    }
    return rv;
}

int fe_kaset_arm(fe_child_t *ch, int fd, apr_uint64_t tag,
                 unsigned char *reg)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = tag;
    if (*reg) {
        if (epoll_ctl(ch->ka.ep, EPOLL_CTL_MOD, fd, &ev) == 0) {
            return 0;
        }
        *reg = 0;                /* gone (ENOENT): register afresh */
    }
    if (epoll_ctl(ch->ka.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return -1;
    }
    *reg = 1;
    return 0;
}

void fe_kaset_disarm(fe_child_t *ch, int fd, unsigned char *reg)
{
    struct epoll_event ev;      /* kernels before 2.6.9 want one */

    if (*reg) {
        epoll_ctl(ch->ka.ep, EPOLL_CTL_DEL, fd, &ev);
        *reg = 0;
    }
}

/* Listener: the "all" eventfd, which is level-triggered, keeps the set
 * readable, so once every worker has left the set it is read back to
 * zero (or the listener's pollset would report the set for ever).  A
 * worker announces itself in ka.waiters before it checks ka.listener, so
 * none can enter after this saw zero. */
static void fe_kaset_all_seen(fe_child_t *ch)
{
    apr_uint64_t v;

    if (apr_atomic_add32(&ch->ka.waiters, 0) == 0
        && read(ch->ka.all, &v, sizeof v) < 0) {
        /* EAGAIN: already read */
    }
}

int fe_kaset_harvest(fe_child_t *ch, apr_uint64_t *tags, int max)
{
    struct epoll_event ev[FE_KASET_BATCH];
    int n, i, kept = 0;

    if (max > FE_KASET_BATCH) {
        max = FE_KASET_BATCH;
    }
    do {
        n = epoll_wait(ch->ka.ep, ev, max, 0);
    } while (n < 0 && errno == EINTR);
    for (i = 0; i < n; i++) {
        if (ev[i].data.u64 == FE_KA_ALL) {
            fe_kaset_all_seen(ch);
        }
        else if (ev[i].data.u64 != FE_KA_KICK) {
            tags[kept++] = ev[i].data.u64;
        }
    }
    return kept;
}

/* The atomic read-modify-write orders it after the caller's push, as
 * fe_kaset_wait()'s caller announces itself before it looks at the queue
 * again: one of the two sees the other. */
void fe_kaset_kick(fe_child_t *ch)
{
    apr_uint64_t one = 1;

    if (ch->ka.ep >= 0 && apr_atomic_add32(&ch->ka.waiters, 0) > 0
        && write(ch->ka.kick, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so a wakeup is pending anyway */
    }
}

void fe_kaset_leave(fe_child_t *ch)
{
    apr_uint64_t one = 1;

    if (ch->ka.ep < 0) {
        return;
    }
    ch->ka.listener = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);     /* see fe_kaset_all_seen() */
    if (write(ch->ka.all, &one, sizeof one) < 0) {
        /* EAGAIN: already written */
    }
}

/* epoll_wait() on the set failed (it cannot, short of a kernel or memory
 * problem): the worker waits in the queue from now on; said once per
 * child. */
static void fe_kaset_wait_failed(fe_child_t *ch, int err)
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

fe_kaset_wake_e fe_kaset_wait(fe_child_t *ch, apr_uint64_t *tag)
{
    struct epoll_event ev;
    int n = epoll_wait(ch->ka.ep, &ev, 1, FE_KA_WAIT_MS);

    if (n <= 0) {
        if (n == 0 || errno == EINTR) {
            return FE_KASET_AGAIN;
        }
        fe_kaset_wait_failed(ch, errno);
        return FE_KASET_FAILED;
    }
    if (ev.data.u64 == FE_KA_ALL) {
        return FE_KASET_STOPPING;
    }
    if (ev.data.u64 == FE_KA_KICK) {
        return FE_KASET_KICKED;
    }
    *tag = ev.data.u64;
    return FE_KASET_READY;
}

#else /* no epoll */

apr_status_t fe_kaset_setup(fe_child_t *ch)
{
    ch->ka.ep = ch->ka.kick = ch->ka.all = -1;
    return APR_ENOTIMPL;
}

int fe_kaset_arm(fe_child_t *ch, int fd, apr_uint64_t tag,
                 unsigned char *reg)
{
    return -1;
}

void fe_kaset_disarm(fe_child_t *ch, int fd, unsigned char *reg)
{
}

int fe_kaset_harvest(fe_child_t *ch, apr_uint64_t *tags, int max)
{
    return 0;
}

void fe_kaset_kick(fe_child_t *ch)
{
}

void fe_kaset_leave(fe_child_t *ch)
{
}

fe_kaset_wake_e fe_kaset_wait(fe_child_t *ch, apr_uint64_t *tag)
{
    return FE_KASET_FAILED;
}

#endif
