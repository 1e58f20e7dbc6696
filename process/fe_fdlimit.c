/*
 * fe_fdlimit.c: the open-files limit (RLIMIT_NOFILE) against what the
 * configuration needs.
 *
 * Every child may hold fe_child_conn_cap() sockets (ThreadsPerChild x
 * (AsyncRequestWorkerFactor + 1), twice over for lingering connections,
 * plus one per worker) and fe_child_fresh_cap() new ones that have not
 * sent a whole request head, besides its listeners, logs and pipes.  When the
 * soft limit is lower, the parent raises it as far as the hard limit
 * allows (children inherit it) and says so; when even the hard limit is
 * too low, it warns with the numbers and the ways to raise it.  Runs in the
 * parent, on the preflight pass (the console) and when each generation
 * starts (the error log).
 *
 * Must not: lower a limit, or fail the start (a low limit still serves,
 * just fewer connections).
 */
#include "mpm_fastevent.h"
#include "process/fe_fdlimit.h"
#include "policy/fe_connstate.h"
#include "http_log.h"
#include "http_main.h"

#include <sys/resource.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Logs, the pipe of death, the pollset and its wakeup pipe, module files. */
#define FE_NOFILE_RESERVE 64

static unsigned int fe_max_listeners(void)
{
    unsigned int best = 0;
    ap_listen_rec *lr;
    int b;

    if (fe_g.buckets == NULL) {           /* before open_logs: configured */
        for (lr = ap_listeners; lr != NULL; lr = lr->next) {
            best++;
        }
        return best;
    }
    for (b = 0; b < fe_g.num_buckets; b++) {
        unsigned int n = 0;

        for (lr = fe_g.buckets[b]; lr != NULL; lr = lr->next) {
            n++;
        }
        best = n > best ? n : best;
    }
    return best;
}

void fe_check_nofile(server_rec *s, fe_nofile_when_e when)
{
    const fe_limits_t *l = &fe_g.lim;
    unsigned int cap = fe_child_conn_cap(l->threads_per_child,
                                         l->worker_factor);
    unsigned int fresh = fe_child_fresh_cap(l->threads_per_child,
                                            l->worker_factor);
    unsigned long need = fe_nofile_need(l->threads_per_child,
                                        l->worker_factor, fe_max_listeners(),
                                        FE_NOFILE_RESERVE);
    int preflight = when == FE_NOFILE_PREFLIGHT;
    int flags = preflight ? APLOG_STARTUP : 0;
    server_rec *ls = preflight ? NULL : s;
    struct rlimit rl;
    rlim_t was;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0
        || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return;
    }
    was = rl.rlim_cur;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) {
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE | flags, 0, ls,
                         FELOGNO(10160) "raised the open files limit from "
                         "%lu to %lu: each child may hold %u connections "
                         "(ThreadsPerChild %d x (AsyncRequestWorkerFactor "
                         "%g + 1), doubled for lingering closes, + %d) "
                         "and %u new ones waiting for their request head, "
                         "plus %u listeners and %d for logs and pipes",
                         (unsigned long)was, need, cap,
                         l->threads_per_child, l->worker_factor,
                         l->threads_per_child + 16, fresh,
                         fe_max_listeners(),
                         FE_NOFILE_RESERVE);
            return;
        }
    }
    rl.rlim_cur = rl.rlim_max;       /* as far as we may go */
    setrlimit(RLIMIT_NOFILE, &rl);
    ap_log_error(APLOG_MARK, APLOG_WARNING | flags, 0, ls, FELOGNO(10161)
                 "the open files limit is %lu (hard limit %lu) but each "
                 "child may need %lu: %u connections (ThreadsPerChild %d x "
                 "(AsyncRequestWorkerFactor %g + 1), doubled for lingering "
                 "closes, + %d), %u new ones waiting for their request "
                 "head, listeners, logs and pipes.  Accepting "
                 "will fail with \"Too many open files\" (FE10135) before "
                 "that.  Raise it to %lu: 'ulimit -n %lu' before starting, "
                 "LimitNOFILE=%lu in the systemd unit, or "
                 "APACHE_ULIMIT_MAX_FILES in /etc/apache2/envvars on "
                 "Debian; or lower ThreadsPerChild or "
                 "AsyncRequestWorkerFactor",
                 (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max,
                 need, cap, l->threads_per_child, l->worker_factor,
                 l->threads_per_child + 16, fresh, need, need, need);
}
