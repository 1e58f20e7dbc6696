/*
 * fe_cpu.c: keep each child process on one CPU when a generation has at
 * least as many children as CPUs (FastEventCPUAffinity auto; the rule and
 * the reasons are in fe_place.h), and run its threads under SCHED_BATCH
 * (FastEventSchedBatch, at the end of this file).
 *
 * Owns: this process's CPU mask and scheduling policy.  A child looks at
 * the scoreboard's process rows when it starts, before child_init, so that
 * the threads modules start (mod_http2's workers) inherit its place, and
 * then at most once a second from the child's main thread.  When its place
 * changed it sets the mask of every thread of the process
 * (/proc/self/task).
 *
 * Must not: block, or take CPUs the process was not given: the CPUs are
 * those the process had when it started (taskset, cpusets, systemd's
 * CPUAffinity= all narrow them).
 */
#include "mpm_fastevent.h"
#include "policy/fe_config.h"
#include "policy/fe_place.h"
#include "policy/fe_sched.h"
#include "process/fe_cpu.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"
#include "http_main.h"

#include <apr_strings.h>

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <dirent.h>
#include <sched.h>
#endif

APLOG_USE_MODULE(mpm_fastevent);

/* The main thread looks at the scoreboard this often.  Siblings that
 * start at the same time appear in it one after the other, and a child
 * moves only on an answer two looks in a row gave (fe_cpu_check()). */
#define FE_CPU_EVERY apr_time_from_sec(1)

apr_ssize_t fe_proc_read(const char *path, char *buf, apr_size_t size)
{
    ssize_t n;
    int fd;

    if (size == 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return -1;
    }
    n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    return n;
}

#if defined(__linux__) && defined(CPU_SET)

struct fe_cpu {
    cpu_set_t all;            /* the CPUs this process started with */
    int ncpus;
    int *ids;                 /* their numbers, ascending */
    unsigned char *live;      /* per slot: a running child of ours */
    int task_fd;              /* /proc/self/task, opened before a chroot */
    int placed;               /* CPU number, or FE_PLACE_ANY */
    int pending;              /* last check's answer, not yet applied */
    apr_time_t checked_at;
};

/* Call @a fn on every thread of the process (listed in @a task_fd, an
 * open /proc/self/task), pass after pass until a pass finds no thread it
 * had not seen: a thread started meanwhile by one not yet done may have
 * inherited the old setting.  Returns 0 or the first errno fn gave (a
 * thread that exited meanwhile, ESRCH, does not count). */
static int fe_each_thread(int task_fd, int (*fn)(pid_t, const void *),
                          const void *arg)
{
    int pass, err = 0, seen = -1;

    for (pass = 0; pass < 4; pass++) {
        int fd = dup(task_fd), n = 0;
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (d == NULL) {
            err = errno ? errno : EBADF;
            if (fd >= 0) {
                close(fd);
            }
            return err;
        }
        rewinddir(d);
        while ((de = readdir(d)) != NULL) {
            pid_t tid = (pid_t)atoi(de->d_name);

            if (tid <= 0) {
                continue;
            }
            n++;
            if (fn(tid, arg) != 0 && errno != ESRCH) {
                err = errno;
            }
        }
        closedir(d);
        if (err != 0 || n == seen) {
            break;
        }
        seen = n;
    }
    return err;
}

static int fe_set_affinity(pid_t tid, const void *set)
{
    return sched_setaffinity(tid, sizeof(cpu_set_t), set);
}

/* Give every thread of the process @a set.  Returns 0 or an errno. */
static int fe_cpu_apply(struct fe_cpu *c, const cpu_set_t *set)
{
    return fe_each_thread(c->task_fd, fe_set_affinity, set);
}

/* Where this child belongs now, from the scoreboard; sets *count. */
static int fe_cpu_wanted(fe_child_t *ch, int *count)
{
    struct fe_cpu *c = ch->cpu;
    int n = fe_g.lim.server_limit, rank, idx;

    fe_sb_live_processes(fe_g.retained->mpm->my_generation, c->live, n);
    rank = fe_place_rank(c->live, n, ch->slot, count);
    idx = fe_place_cpu(c->ncpus, *count, rank);
    return idx == FE_PLACE_ANY ? FE_PLACE_ANY : c->ids[idx];
}

/* @a settled: apply only an answer the previous check gave too, so a
 * scoreboard caught between two states moves nobody. */
static void fe_cpu_check(fe_child_t *ch, int settled)
{
    struct fe_cpu *c = ch->cpu;
    int count, cpu = fe_cpu_wanted(ch, &count), err;
    cpu_set_t one;

    if (cpu == c->placed || (settled && cpu != c->pending)) {
        c->pending = cpu;
        return;
    }
    c->pending = cpu;
    if (cpu != FE_PLACE_ANY) {
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
    }
    err = fe_cpu_apply(c, cpu == FE_PLACE_ANY ? &c->all : &one);
    if (err != 0) {
        int back = fe_cpu_apply(c, &c->all);

        ap_log_error(APLOG_MARK, APLOG_WARNING, err, ch->s, FELOGNO(10191)
                     "could not set the CPU affinity of this process's "
                     "threads (slot %d); %s, and it places itself no more. "
                     "FastEventCPUAffinity off turns placement off",
                     ch->slot, back == 0 ? "it runs on every CPU it was given"
                     : "some threads may stay where they were");
        close(c->task_fd);
        ch->cpu = NULL;
        fe_metrics_cpu(ch->metrics, FE_PLACE_ANY);
        return;
    }
    c->placed = cpu;
    fe_metrics_cpu(ch->metrics, cpu);
    if (cpu == FE_PLACE_ANY) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10193)
                     "slot %d runs on all %d CPUs again: %d children of "
                     "this generation (FastEventCPUAffinity auto)", ch->slot,
                     c->ncpus, count);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->s, FELOGNO(10190)
                     "slot %d placed on CPU %d: %d children of this "
                     "generation on %d CPUs (FastEventCPUAffinity auto)",
                     ch->slot, cpu, count, c->ncpus);
    }
}

/* The CPUs this process started with, for fe_cpu_width() when it is
 * not placed (0: unknown). */
static int fe_cpu_started_with;

/* In the child, before privileges are dropped (a ChrootDir hides /proc)
 * and before any thread is started. */
void fe_cpu_start(fe_child_t *ch)
{
    struct fe_cpu *c;
    cpu_set_t all;
    int i, k;

    if (sched_getaffinity(0, sizeof all, &all) == 0) {
        fe_cpu_started_with = CPU_COUNT(&all);
    }
    if (!fe_g.lim.cpu_affinity || fe_g.one_process) {
        return;
    }
    c = apr_pcalloc(ch->pchild, sizeof *c);
    if (sched_getaffinity(0, sizeof c->all, &c->all) != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, ch->s, FELOGNO(10192)
                     "sched_getaffinity() failed: CPU placement is off");
        return;
    }
    c->ncpus = CPU_COUNT(&c->all);
    if (c->ncpus < 2) {
        return;
    }
    c->task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->task_fd < 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, errno, ch->s, FELOGNO(10194)
                     "cannot open /proc/self/task, so the threads of a "
                     "child cannot be placed on CPUs: placement is off "
                     "(mount /proc, or set FastEventCPUAffinity off to "
                     "silence this)");
        return;
    }
    c->ids = apr_palloc(ch->pchild, c->ncpus * sizeof *c->ids);
    for (i = 0, k = 0; i < CPU_SETSIZE && k < c->ncpus; i++) {
        if (CPU_ISSET(i, &c->all)) {
            c->ids[k++] = i;
        }
    }
    c->ncpus = k;
    c->live = apr_pcalloc(ch->pchild, fe_g.lim.server_limit);
    c->placed = c->pending = FE_PLACE_ANY;
    c->checked_at = apr_time_now();
    ch->cpu = c;
    fe_cpu_check(ch, 0);
}

void fe_cpu_tick(fe_child_t *ch, apr_time_t now)
{
    struct fe_cpu *c = ch->cpu;

    if (c == NULL || ch->stop.dying) {
        return;
    }
    if (now - c->checked_at < FE_CPU_EVERY && now >= c->checked_at) {
        return;
    }
    c->checked_at = now;
    fe_cpu_check(ch, 1);
}

int fe_cpu_placed(const fe_child_t *ch)
{
    return ch->cpu != NULL ? ch->cpu->placed : FE_PLACE_ANY;
}

int fe_cpu_width(const fe_child_t *ch)
{
    if (ch->cpu != NULL) {
        return ch->cpu->placed != FE_PLACE_ANY ? 1 : ch->cpu->ncpus;
    }
    return fe_cpu_started_with;
}


#else  /* no sched_setaffinity(): every child runs anywhere */

void fe_cpu_start(fe_child_t *ch)
{
}

void fe_cpu_tick(fe_child_t *ch, apr_time_t now)
{
}

int fe_cpu_placed(const fe_child_t *ch)
{
    return FE_PLACE_ANY;
}

int fe_cpu_width(const fe_child_t *ch)
{
    return 0;
}


#endif

/*
 * FastEventSchedBatch: every thread of a child under Linux's SCHED_BATCH.
 *
 * Under the default policy a woken thread preempts the one running on its
 * CPU.  Inside a child that is the listener cutting into a worker for each
 * readable connection, or a worker waking the listener and being cut off
 * itself, and on a child kept on one CPU nothing but switches between the
 * child's own threads come of it.  A woken SCHED_BATCH thread waits until
 * the running one blocks or its time slice ends, so the listener takes in
 * everything that became ready meanwhile in one pass.  Fairness, priority
 * and nice are unchanged, and on an idle CPU a woken thread runs at once.
 *
 * The cost: when another program (PHP-FPM, a database, a load generator)
 * runs on the CPU, the server's woken thread waits out that program's
 * whole slice, and those waits make the latency tail.  So by default
 * (auto) the parent measures once a second how much of the server's CPUs
 * other programs use (fe_sched_parent_tick(): /proc/stat against the
 * server's own processes), decides with the pure rule of
 * policy/fe_sched.c, and tells the children through the metrics segment;
 * each child's main thread then moves all its threads to SCHED_BATCH or
 * back (fe_sched_tick()).  on and off fix the policy.
 *
 * A child starts under SCHED_BATCH (the parent's last word, for auto)
 * before any thread is started: threads inherit the policy of the thread
 * that creates them, mod_http2's workers included.  A policy someone else
 * set (systemd's CPUSchedulingPolicy=, chrt) is left as it is.
 */
#if defined(__linux__) && defined(SCHED_BATCH)

static struct {
    int managed;              /* this child follows the parent's word */
    int batch;                /* what its own threads run under now */
    int task_fd;              /* /proc/self/task, opened before a chroot */
    int sorting;              /* task_fd is open: threads can be sorted */
    apr_time_t sorted_at;     /* the last pass over the threads */
} fe_sched;

/* SCHED_BATCH is for the MPM's own threads: the child's main thread, the
 * listener and the workers.  Threads that modules start (mod_http2's
 * workers) inherit the policy of whichever thread created them, and get
 * the default one back: between them and the connection's thread every
 * stream changes hands twice, and under SCHED_BATCH each hand-off waits
 * out the running thread's slice (h2tls, server alone on one CPU: p99
 * 1.68x event's with mod_http2's workers under SCHED_BATCH, 1.06x without;
 * docs/performance.md). */
static int fe_sched_ours(const fe_child_t *ch, pid_t tid)
{
    int i;

    if (tid == getpid() || tid == ch->listener_tid) {
        return 1;
    }
    for (i = 0; i < ch->wk.n; i++) {
        if (ch->wk.tids[i] == tid) {
            return 1;
        }
    }
    return 0;
}

typedef struct fe_sched_want {
    const fe_child_t *ch;
    int batch;
} fe_sched_want_t;

/* One thread to the policy it should have; a policy someone else set
 * (neither the default nor SCHED_BATCH) is left alone. */
static int fe_set_policy(pid_t tid, const void *arg)
{
    const fe_sched_want_t *w = arg;
    int want = w->batch && fe_sched_ours(w->ch, tid) ? SCHED_BATCH
                                                     : SCHED_OTHER;
    int now = sched_getscheduler(tid);
    struct sched_param sp;

    if (now < 0) {
        return -1;
    }
    if (now == want || (now != SCHED_OTHER && now != SCHED_BATCH)) {
        return 0;
    }
    memset(&sp, 0, sizeof sp);
    return sched_setscheduler(tid, want, &sp);
}

/* Every thread of this process to the policy @a batch gives it.  Returns
 * 0 or an errno. */
static int fe_sched_apply(const fe_child_t *ch, int batch)
{
    fe_sched_want_t w;

    w.ch = ch;
    w.batch = batch;
    return fe_each_thread(fe_sched.task_fd, fe_set_policy, &w);
}

void fe_sched_start(fe_child_t *ch)
{
    struct sched_param sp;
    int policy, want = fe_metrics_sched_word(ch->slot);

    if (fe_g.lim.sched_batch == FE_SCHED_BATCH_OFF || fe_g.one_process) {
        return;
    }
    policy = sched_getscheduler(0);
    if (policy != SCHED_OTHER) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, policy < 0 ? errno : 0, ch->s,
                     FELOGNO(10195) "slot %d keeps its scheduling policy "
                     "(%d, not SCHED_OTHER): FastEventSchedBatch changes "
                     "only the default one", ch->slot, policy);
        return;
    }
    fe_sched.task_fd = open("/proc/self/task",
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fe_sched.sorting = fe_sched.task_fd >= 0;
    if (fe_g.lim.sched_batch == FE_SCHED_BATCH_AUTO) {
        fe_sched.managed = fe_sched.sorting;
        if (want == 2) {
            return;                  /* the parent said: default policy */
        }
    }
    memset(&sp, 0, sizeof sp);
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, errno, ch->s, FELOGNO(10196)
                     "could not put slot %d under SCHED_BATCH: its threads "
                     "keep the default policy, which costs throughput "
                     "under load (FastEventSchedBatch off silences this)",
                     ch->slot);
        fe_sched.managed = 0;
        return;
    }
    fe_sched.batch = 1;
}

void fe_sched_tick(fe_child_t *ch)
{
    int want = fe_metrics_sched_want(ch->metrics), err;
    apr_time_t now = apr_time_now();

    fe_metrics_sched_now(ch->metrics, fe_sched.batch);
    /* Once a second while under SCHED_BATCH (the first time as soon as
     * the threads run): threads that modules started meanwhile go back to
     * the default policy. */
    if (fe_sched.batch && fe_sched.sorting
        && (now - fe_sched.sorted_at >= apr_time_from_sec(1)
            || now < fe_sched.sorted_at)) {
        fe_sched.sorted_at = now;
        (void)fe_sched_apply(ch, 1);
    }
    if (!fe_sched.managed || want == 0
        || (want == FE_SCHED_WANT_BATCH) == fe_sched.batch) {
        return;
    }
    err = fe_sched_apply(ch, want == FE_SCHED_WANT_BATCH);
    if (err != 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, err, ch->s, FELOGNO(10197)
                     "could not move the threads of slot %d %s SCHED_BATCH; "
                     "it stops following FastEventSchedBatch auto",
                     ch->slot, want == FE_SCHED_WANT_BATCH ? "to" : "off");
        fe_sched.managed = 0;
        return;
    }
    fe_sched.batch = want == FE_SCHED_WANT_BATCH;
    fe_metrics_sched_now(ch->metrics, fe_sched.batch);
}

/* ------------------------------------------------- the parent's measure */

/* The first measurement after the server starts covers this much: until
 * the parent's first word the children run as if alone (SCHED_BATCH, on
 * one CPU), which beside busy programs cost the first second's requests
 * up to 400 ms.  At 250 jiffies a second it still sees 60 per CPU. */
#define FE_SCHED_FIRST apr_time_from_msec(250)

static struct {
    int ready;                /* a first sample was taken */
    int told;                 /* the children had a first word */
    cpu_set_t mask;           /* the CPUs the server may use */
    unsigned long long busy, total, server;
    fe_sched_state_t st;
    apr_time_t at;
} fe_probe;

/* Busy and all jiffies of the CPUs in fe_probe.mask, from /proc/stat. */
static int fe_read_cpus(unsigned long long *busy, unsigned long long *total)
{
    char line[512];
    FILE *f = fopen("/proc/stat", "r");
    int found = 0;

    *busy = *total = 0;
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long v[8] = { 0 }, all = 0;
        int cpu, i;

        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9'
            || sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu %llu",
                      &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                      &v[7]) < 9
            || cpu < 0 || cpu >= CPU_SETSIZE
            || !CPU_ISSET(cpu, &fe_probe.mask)) {
            continue;
        }
        for (i = 0; i < 8; i++) {
            all += v[i];             /* user..steal; guest is in user */
        }
        *total += all;
        *busy += all - v[3] - v[4];  /* less idle and iowait */
        found++;
    }
    fclose(f);
    return found;
}

/* utime + stime of process @a pid, in jiffies; 0 if it is gone. */
static unsigned long long fe_proc_jiffies(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;

    apr_snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (fe_proc_read(path, buf, sizeof buf) < 0) {
        return 0;
    }
    p = strrchr(buf, ')');
    /* after the name: state, then fields 4..13, then utime and stime */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                            "%*u %llu %llu", &ut, &st) != 2) {
        return 0;
    }
    return ut + st;
}

void fe_sched_parent_tick(const pid_t *pids, int n, apr_time_t now)
{
    unsigned long long busy, total, server;
    int i, foreign, want;

    if (fe_g.lim.sched_batch != FE_SCHED_BATCH_AUTO || fe_g.one_process) {
        return;
    }
    if (!fe_probe.ready) {
        if (sched_getaffinity(0, sizeof fe_probe.mask, &fe_probe.mask) != 0) {
            return;
        }
        fe_sched_init(&fe_probe.st);
    }
    else if (now - fe_probe.at < (fe_probe.told ? FE_CPU_EVERY
                                                : FE_SCHED_FIRST)
             && now >= fe_probe.at) {
        return;
    }
    server = fe_proc_jiffies(getpid());
    for (i = 0; i < n; i++) {
        server += pids[i] > 0 ? fe_proc_jiffies(pids[i]) : 0;
    }
    if (!fe_read_cpus(&busy, &total)) {
        return;
    }
    if (fe_probe.ready && server >= fe_probe.server) {
        foreign = fe_sched_foreign(busy - fe_probe.busy,
                                   total - fe_probe.total,
                                   server - fe_probe.server);
        int was = fe_probe.st.batch;

        want = fe_sched_next(&fe_probe.st, foreign);
        fe_metrics_sched_publish(want ? FE_SCHED_WANT_BATCH
                                      : FE_SCHED_WANT_SHARED, foreign);
        fe_probe.told = 1;
        if (want != was) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, ap_server_conf,
                         FELOGNO(10198) "other programs use %d%% of the "
                         "server's CPUs: the children %s (FastEventSchedBatch "
                         "auto)", foreign,
                         want ? "run under SCHED_BATCH again"
                              : "leave SCHED_BATCH, so that a woken server "
                                "thread need not wait out their time slices");
        }
    }
    /* else a child exited (its jiffies left the sum): start over */
    fe_probe.ready = 1;
    fe_probe.busy = busy;
    fe_probe.total = total;
    fe_probe.server = server;
    fe_probe.at = now;
}

#else

void fe_sched_start(fe_child_t *ch)
{
}

void fe_sched_tick(fe_child_t *ch)
{
}

void fe_sched_parent_tick(const pid_t *pids, int n, apr_time_t now)
{
}

#endif
