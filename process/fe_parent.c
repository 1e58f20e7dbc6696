/*
 * fe_parent.c: the parent (master) process of mpm_fastevent.
 *
 * Owns: the mpm hook (one call per generation), forking children into
 * scoreboard slots, reaping them, the idle-thread maintenance (the policy
 * itself is fe_spawn.c), and the stop/restart flows.
 *
 * Trust: the parent never acts on what children wrote into shared memory.
 * Which pid lives in which slot, its generation and bucket are kept in a
 * parent-private table (fe_slot_t, retained across restarts); only pids
 * from that table are ever signalled or waited for.  Scoreboard values are
 * read only as counts for the spawn policy, range-checked.
 *
 * Must not: block signals, or run any connection code.
 */
#include "mpm_fastevent.h"
#include "policy/fe_connstate.h"
#include "policy/fe_spawn.h"
#include "process/fe_child.h"
#include "process/fe_cpu.h"
#include "process/fe_fdlimit.h"
#include "process/fe_parent.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "http_log.h"
#include "http_main.h"
#include "ap_mpm.h"

#include <apr_signal.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

APLOG_USE_MODULE(mpm_fastevent);

/* Parent-private record of one scoreboard slot. */
typedef struct fe_slot {
    pid_t pid;                /* 0: free */
    ap_generation_t gen;
    int bucket;
    int quiescing;            /* counted out of active_daemons already */
} fe_slot_t;

/*
 * A ghost is a process of an older generation that is still draining
 * after its slot was handed to a new child (fe_takeover_slot): the two
 * share the slot's worker rows, the new child starting threads only in
 * rows the ghost has released (SERVER_DEAD).  So however many graceful
 * restarts come while old processes finish long requests, a new
 * generation always finds room.  Ghosts are reaped and signalled from
 * this private table like any child.
 */
typedef struct fe_ghost {
    pid_t pid;                /* 0: entry free */
    ap_generation_t gen;
    int slot;
} fe_ghost_t;

static fe_slot_t *slots;      /* retained: userdata of ap_pglobal */
static fe_ghost_t *ghosts;    /* retained likewise */
static int ghost_cap;
static int remaining_to_start;
/* Why the generation ends with a shutdown: a child exited with a fatal
 * status (logged by the core), or no child ever initialised (logged). */
enum { FE_FATAL_NONE, FE_FATAL_CHILD, FE_FATAL_NEVER_READY };
static int child_fatal;

#define FE_SLOTS_KEY "mpm_fastevent_slots"
#define FE_GHOSTS_KEY "mpm_fastevent_ghosts"

static fe_slot_t *fe_slots_get(int server_limit)
{
    fe_slot_t *t = ap_retained_data_get(FE_SLOTS_KEY);

    if (t == NULL) {
        t = ap_retained_data_create(FE_SLOTS_KEY,
                                    server_limit * sizeof *t);
    }
    return t;
}

static void fe_ghosts_get(int server_limit)
{
    ghost_cap = server_limit * FE_GHOSTS_PER_SLOT;
    ghosts = ap_retained_data_get(FE_GHOSTS_KEY);
    if (ghosts == NULL) {
        ghosts = ap_retained_data_create(FE_GHOSTS_KEY,
                                         ghost_cap * sizeof *ghosts);
    }
}

static int fe_ghost_of_pid(pid_t pid)
{
    int i;

    for (i = 0; i < ghost_cap && pid > 0; i++) {
        if (ghosts[i].pid == pid) {
            return i;
        }
    }
    return -1;
}

/* Is the row's writer a live ghost of this slot?  (Worker rows are
 * written by children, so this only decides which rows to mark dead,
 * never a kill.) */
static int fe_row_held_by_ghost(int slot, pid_t pid)
{
    int i;

    for (i = 0; i < ghost_cap && pid > 0; i++) {
        if (ghosts[i].pid == pid && ghosts[i].slot == slot) {
            return 1;
        }
    }
    return 0;
}

/* Mark dead the worker rows of @a slot that @a pid wrote. */
static void fe_rows_dead_of(int slot, pid_t pid)
{
    int i;

    for (i = 0; i < fe_g.lim.thread_limit; i++) {
        if (fe_sb_row_pid(slot, i) == pid) {
            fe_sb_row_dead(slot, i);
        }
    }
}

/* Mark dead every worker row of @a slot not held by a live ghost. */
static void fe_rows_dead_unheld(int slot)
{
    int i;

    for (i = 0; i < fe_g.lim.thread_limit; i++) {
        if (!fe_row_held_by_ghost(slot, fe_sb_row_pid(slot, i))) {
            fe_sb_row_dead(slot, i);
        }
    }
}

static void fe_ghost_stopped(int g)
{
    fe_metrics_ghost_gone(ghosts[g].pid);
    fe_rows_dead_of(ghosts[g].slot, ghosts[g].pid);
    ap_run_child_status(ap_server_conf, ghosts[g].pid, ghosts[g].gen,
                        ghosts[g].slot, MPM_CHILD_EXITED);
    ghosts[g].pid = 0;
    fe_g.retained->ghost_count--;
}

static int fe_slot_of_pid(pid_t pid)
{
    int i;

    for (i = 0; i < fe_g.retained->max_daemon_used; i++) {
        if (slots[i].pid == pid && pid > 0) {
            return i;
        }
    }
    return -1;
}

static void fe_note_child_started(int slot, pid_t pid)
{
    fe_retained_t *rt = fe_g.retained;

    slots[slot].pid = pid;
    slots[slot].gen = rt->mpm->my_generation;
    slots[slot].quiescing = 0;
    fe_sb_process_claim(slot, pid, rt->mpm->my_generation);
    rt->total_daemons++;
    rt->active_daemons++;
    ap_run_child_status(ap_server_conf, pid, rt->mpm->my_generation, slot,
                        MPM_CHILD_STARTED);
}

static void fe_note_child_stopped(int slot, pid_t pid, ap_generation_t gen)
{
    fe_retained_t *rt = fe_g.retained;

    if (slot < 0 || slot >= fe_g.lim.server_limit) {
        ap_run_child_status(ap_server_conf, pid, gen, -1, MPM_CHILD_EXITED);
        return;
    }
    fe_rows_dead_unheld(slot);
    ap_run_child_status(ap_server_conf, pid, slots[slot].gen, slot,
                        MPM_CHILD_EXITED);
    if (!slots[slot].quiescing) {
        rt->active_daemons--;
    }
    rt->total_daemons--;
    fe_sb_process_release(slot);
    slots[slot].pid = 0;
    slots[slot].quiescing = 0;
}

static int fe_make_child(server_rec *s, int slot, int bucket)
{
    fe_retained_t *rt = fe_g.retained;
    pid_t pid;

    if (slots[slot].pid != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10101)
                     "BUG: Scoreboard slot %d should be empty but is in use "
                     "by pid %" APR_PID_T_FMT " (not forking into it)", slot,
                     slots[slot].pid);
        return -1;
    }
    if (rt->max_daemon_used < slot + 1) {
        rt->max_daemon_used = slot + 1;
    }
    slots[slot].bucket = bucket;
    if (fe_g.one_process) {
        int code;

        fe_note_child_started(slot, getpid());
        code = fe_child_main(slot, 0);
        fe_note_child_stopped(slot, 0, 0);
        exit(code);
    }
    pid = fork();
    if (pid == -1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, FELOGNO(10102)
                     "fork: Unable to fork new process: check the process "
                     "limit (ulimit -u, systemd TasksMax=) and memory");
        apr_sleep(apr_time_from_sec(1));
        return -1;
    }
    if (pid == 0) {
        ap_thread_current_after_fork();
        /* The parent's SIGTERM handler would only set a flag here. */
        apr_signal(SIGTERM, SIG_DFL);
        exit(fe_child_main(slot, bucket));
    }
    fe_note_child_started(slot, pid);
    return 0;
}

/* Turn the old-generation process in @a slot into a ghost, freeing the
 * slot for a new child.  Returns 0, or -1 when the ghost table is full. */
static int fe_takeover_slot(int slot)
{
    fe_retained_t *rt = fe_g.retained;
    int g;

    for (g = 0; g < ghost_cap && ghosts[g].pid != 0; g++) {
        continue;
    }
    if (g == ghost_cap) {
        return -1;
    }
    ghosts[g].pid = slots[slot].pid;
    ghosts[g].gen = slots[slot].gen;
    ghosts[g].slot = slot;
    rt->ghost_count++;
    if (!slots[slot].quiescing) {
        rt->active_daemons--;
    }
    rt->total_daemons--;
    slots[slot].pid = 0;
    slots[slot].quiescing = 0;
    return 0;
}

/* Fork up to n children into free slots, then into slots of draining
 * old-generation processes; returns how many started. */
static int fe_start_children(server_rec *s, int n, int bucket_only)
{
    ap_generation_t gen = fe_g.retained->mpm->my_generation;
    int i, pass, started = 0;

    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < fe_g.lim.server_limit && started < n; i++) {
            int bucket = i % fe_g.num_buckets;

            if (bucket_only >= 0 && bucket != bucket_only) {
                continue;
            }
            if (slots[i].pid != 0 && (pass == 0 || slots[i].gen == gen
                                      || fe_takeover_slot(i) < 0)) {
                continue;
            }
            if (fe_make_child(s, i, bucket) < 0) {
                return started;
            }
            started++;
        }
    }
    return started;
}

/* ------------------------------------------------------------ maintenance */

/* Count one bucket's threads for the spawn policy (scoreboard = hints);
 * returns how many processes of this generation serve it, not stopping. */
static int fe_count_bucket(int bucket, fe_spawn_in_t *in)
{
    fe_retained_t *rt = fe_g.retained;
    ap_generation_t gen = rt->mpm->my_generation;
    apr_uint64_t conns = 0;
    int i, serving = 0;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        fe_sb_view_t v;
        int usable;

        if (i % fe_g.num_buckets != bucket) {
            continue;
        }
        if (slots[i].pid == 0 || slots[i].gen != gen) {
            in->free_slots++;        /* free, or ours to take over */
        }
        if (slots[i].pid == 0) {
            continue;
        }
        fe_sb_process_view(i, fe_g.lim.threads_per_child, &v);
        rt->had_ready_child |= v.started > 0;
        if (v.quiescing && !slots[i].quiescing) {
            slots[i].quiescing = 1;      /* the child began stopping */
            rt->active_daemons--;
        }
        usable = !slots[i].quiescing && !v.not_accepting
                 && slots[i].gen == gen;
        if (!slots[i].quiescing && slots[i].gen == gen) {
            serving++;
            conns += v.connections > v.lingering
                     ? v.connections - v.lingering : 0;
        }
        in->busy_threads += v.busy;
        if (usable) {
            in->idle_threads += v.idle;   /* holders show '_': spare */
        }
    }
    in->conns = conns > INT_MAX ? INT_MAX : (int)conns;
    return serving;
}

/* The spawn policy's warnings.  Each starts with stock event's phrase
 * (AH00484, AH10159, AH03490, AH00486) word for word, which admins' log
 * watchers look for; our numbers follow. */
static void fe_warn_spawn(server_rec *s, const fe_spawn_plan_t *plan,
                          const fe_spawn_in_t *in)
{
    fe_retained_t *rt = fe_g.retained;
    int stopping = rt->total_daemons - rt->active_daemons + rt->ghost_count;

    switch (plan->warn) {
    case FE_SPAWN_WARN_MAXWORKERS:
        if (!rt->maxworkers_reported) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10050)
                         "server reached MaxRequestWorkers setting, "
                         "consider raising the MaxRequestWorkers setting "
                         "(MaxRequestWorkers %d: %d threads running, %d of "
                         "them idle, in %d processes; raise ServerLimit "
                         "with it)",
                         fe_g.lim.max_workers, in->busy_threads,
                         in->idle_threads, rt->active_daemons);
            rt->maxworkers_reported = 1;
        }
        break;
    case FE_SPAWN_WARN_NEAR_MAX:
        if (!rt->maxworkers_reported) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10051)
                         "server is within MinSpareThreads of "
                         "MaxRequestWorkers, consider raising the "
                         "MaxRequestWorkers setting (MaxRequestWorkers %d, "
                         "MinSpareThreads %d: %d threads running, %d of them "
                         "idle, in %d processes)",
                         fe_g.lim.max_workers, fe_g.lim.min_spare_threads,
                         in->busy_threads, in->idle_threads,
                         rt->active_daemons);
            rt->maxworkers_reported = 1;
        }
        break;
    case FE_SPAWN_WARN_SB_FULL:
        if (!rt->sb_full_reported) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10052)
                         "scoreboard is full, not at MaxRequestWorkers.  "
                         "Increase ServerLimit: all %d ServerLimit slots are "
                         "taken (%d processes still stopping) while below "
                         "MaxRequestWorkers; raise ServerLimit above "
                         "MaxRequestWorkers / ThreadsPerChild = %d",
                         fe_g.lim.server_limit, stopping,
                         fe_g.lim.active_daemons_limit);
            rt->sb_full_reported = 1;
        }
        break;
    case FE_SPAWN_WARN_BUSY:
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, FELOGNO(10053)
                     "server seems busy, (you may need to increase "
                     "StartServers, ThreadsPerChild or Min/MaxSpareThreads), "
                     "spawning %d children, there are around %d idle "
                     "threads, %d active children, and %d children that are "
                     "shutting down", plan->spawn, in->idle_threads,
                     rt->active_daemons, stopping);
        break;
    default:
        break;
    }
}

/* The parent looks at the scoreboard this often when it is not spawning:
 * a load that arrives on an idle server gets its first new process within
 * a quarter second (stock event: up to a second), while connections wait
 * in the kernel's backlog. */
#define FE_IDLE_TICK    apr_time_from_msec(250)
#define FE_RETIRE_EVERY apr_time_from_sec(1)

/* One maintenance tick for one bucket; returns processes spawned. */
static int fe_maintain_bucket(server_rec *s, int bucket)
{
    fe_retained_t *rt = fe_g.retained;
    int nb = fe_g.num_buckets;
    fe_spawn_in_t in = { 0 };
    fe_spawn_plan_t plan;
    int serving;

    if (apr_time_now() < rt->backoff_until) {
        return 0;          /* crash loop: no policy, no rate growth */
    }
    serving = fe_count_bucket(bucket, &in);
    in.active_daemons = rt->active_daemons;
    in.total_daemons = rt->total_daemons;
    in.active_daemons_limit = fe_g.lim.active_daemons_limit;
    in.min_spare = fe_g.lim.min_spare_threads / nb;
    in.max_spare = fe_g.lim.max_spare_threads / nb;
    in.max_workers = fe_g.lim.max_workers / nb;
    in.max_rate = FE_SPAWN_MAX_RATE / nb;
    in.rate = rt->spawn_rate[bucket];
    in.hold_off = rt->hold_off;
    in.conns_per_daemon = (int)fe_accept_limit(fe_g.lim.threads_per_child,
                                               fe_g.lim.worker_factor);
    fe_spawn_decide(&in, &plan);
    fe_spawn_keep_bucket(&plan, serving, in.free_slots,
                         fe_g.lim.active_daemons_limit - rt->active_daemons);

    rt->spawn_rate[bucket] = plan.rate;
    rt->hold_off = plan.hold_off;
    fe_warn_spawn(s, &plan, &in);
    /* Ticks come every 250 ms, but spare processes retire at most one a
     * second, as with stock event's one-second tick. */
    if (plan.retire_one
        && apr_time_now() - rt->last_retire >= FE_RETIRE_EVERY) {
        rt->last_retire = apr_time_now();
        ap_mpm_podx_signal(fe_g.pods[bucket], AP_MPM_PODX_GRACEFUL);
    }
    if (plan.spawn > 0) {
        return fe_start_children(s, plan.spawn, bucket);
    }
    return 0;
}

/*
 * A child exited for lack of resources (or a module made it exit sick in
 * child_init) and, across every bucket just counted, no child of this
 * server has ever got a worker running: nothing will work, so the server
 * stops instead of respawning for ever (as stock event does).  Once any
 * child has run, sick exits are taken as transient.
 */
static void fe_check_sick(server_rec *s)
{
    fe_retained_t *rt = fe_g.retained;

    if (!rt->sick_child_detected) {
        return;
    }
    rt->sick_child_detected = 0;
    if (rt->had_ready_child) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ALERT, 0, s, FELOGNO(10117)
                 "A resource shortage or other unrecoverable failure was "
                 "encountered before any child process initialized "
                 "successfully... httpd is exiting!  (The lines above say "
                 "why the children exited: a module's child_init, memory, "
                 "threads or descriptors.)");
    rt->mpm->shutdown_pending = 1;
    child_fatal = FE_FATAL_NEVER_READY;
}

static void fe_update_max_daemon_used(void)
{
    int i, top = 0;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        if (slots[i].pid != 0) {
            top = i + 1;
        }
    }
    fe_g.retained->max_daemon_used = top;
}

/* ------------------------------------------------------------ reaping */

/* A signal death in a row of others means a crash loop: back off. */
static void fe_note_signal_death(server_rec *s, int slot, int signum)
{
    fe_retained_t *rt = fe_g.retained;
    apr_interval_time_t delay;

    rt->signal_deaths++;
    rt->last_death = apr_time_now();
    if (rt->signal_deaths < 3) {
        remaining_to_start++;            /* replace it right away */
        return;
    }
    delay = apr_time_from_sec(1) << (rt->signal_deaths - 3 > 5
                                     ? 5 : rt->signal_deaths - 3);
    rt->backoff_until = apr_time_now() + delay;
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10103)
                 "%d children in a row died from a signal (last: slot %d, "
                 "signal %d): waiting %" APR_TIME_T_FMT " s before "
                 "starting more; see the error log above for the cause",
                 rt->signal_deaths, slot, signum, apr_time_sec(delay));
}

/* The core logs crashes (SIGSEGV...) but not a child killed by SIGKILL,
 * SIGTERM or SIGHUP from outside (the OOM killer, an admin): say so. */
static void fe_log_killed(server_rec *s, pid_t pid, int slot,
                          apr_exit_why_e why, int signum)
{
    if (!APR_PROC_CHECK_SIGNALED(why)
        || (signum != SIGKILL && signum != SIGTERM && signum != SIGHUP)) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, FELOGNO(10115)
                 "child pid %" APR_PID_T_FMT " (slot %d) was killed by "
                 "signal %d (%s) from outside the server; its slot is "
                 "freed and a replacement starts (check the kernel log for "
                 "the OOM killer)", pid, slot, signum,
                 apr_signal_description_get(signum));
}

static void fe_child_exited(server_rec *s, apr_proc_t *proc,
                            apr_exit_why_e why, int status)
{
    fe_retained_t *rt = fe_g.retained;
    int slot = fe_slot_of_pid(proc->pid);
    int rc = ap_process_child_status(proc, why, status);

    int ghost = slot < 0 ? fe_ghost_of_pid(proc->pid) : -1;
    int old = ghost >= 0 || (slot >= 0
                             && slots[slot].gen != rt->mpm->my_generation);

    if (rc == APEXIT_CHILDFATAL && !old) {
        rt->mpm->shutdown_pending = 1;
        child_fatal = FE_FATAL_CHILD;
    }
    else if (rc == APEXIT_CHILDFATAL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, FELOGNO(10118)
                     "Ignoring fatal error in child of previous generation "
                     "(pid %" APR_PID_T_FMT "): the current generation goes "
                     "on", proc->pid);
    }
    if (rc == APEXIT_CHILDSICK || (rc == APEXIT_CHILDFATAL && old)) {
        rt->sick_child_detected = 1;    /* looked at by fe_check_sick() */
    }
    if (ghost >= 0) {
        fe_ghost_stopped(ghost);
        return;
    }
    if (slot < 0) {
        if (apr_proc_other_child_alert(proc, APR_OC_REASON_DEATH, status)
            != APR_SUCCESS && rt->mpm->was_graceful) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, FELOGNO(10104)
                         "long lost child came home! (pid %" APR_PID_T_FMT
                         "): reaped a process that is not one of ours",
                         proc->pid);
        }
        return;
    }
    fe_note_child_stopped(slot, proc->pid, slots[slot].gen);
    fe_log_killed(s, proc->pid, slot, why, status);
    if (rc == APEXIT_CHILDSICK) {
        rt->spawn_rate[slot % fe_g.num_buckets] = 1;
    }
    else if (APR_PROC_CHECK_SIGNALED(why)) {
        fe_note_signal_death(s, slot, status);
    }
}

/* Wait up to tick for a child to exit; run the monitor hook ~every 10 s. */
static void fe_wait(apr_proc_t *proc, apr_exit_why_e *why, int *status,
                    apr_interval_time_t tick, apr_pool_t *p, server_rec *s)
{
    static apr_time_t last_monitor;
    apr_time_t now = apr_time_now();
    apr_status_t rv;

    if (now - last_monitor >= apr_time_from_sec(10) || now < last_monitor) {
        last_monitor = now;
        ap_run_monitor(p, s);
    }
    rv = apr_proc_wait_all_procs(proc, status, why, APR_NOWAIT, p);
    fe_sb_global_tick();
    if (APR_STATUS_IS_CHILD_DONE(rv)) {
        return;
    }
    proc->pid = -1;
    apr_sleep(tick);
}

/* What fe_reclaim() does to a child still there, and when (seconds since
 * it began): stock event's schedule, and its log lines word for word. */
typedef enum fe_reclaim_step {
    FE_RECLAIM_WAIT,          /* nothing due this round: reap only */
    FE_RECLAIM_TERM_QUIET,    /* the first SIGTERM, not logged */
    FE_RECLAIM_TERM,          /* SIGTERM again, logged per child */
    FE_RECLAIM_KILL,          /* SIGKILL, logged per child */
    FE_RECLAIM_GIVE_UP        /* stop waiting, logged per child */
} fe_reclaim_step_e;

static const struct {
    int at;
    fe_reclaim_step_e step;
} fe_reclaim_plan[] = {
    { 0, FE_RECLAIM_TERM_QUIET }, { 3, FE_RECLAIM_TERM },
    { 5, FE_RECLAIM_TERM }, { 7, FE_RECLAIM_TERM },
    { 9, FE_RECLAIM_KILL }, { 10, FE_RECLAIM_GIVE_UP }
};

/* Apply @a step to child @a pid, which has not exited yet. */
static void fe_reclaim_one(server_rec *s, pid_t pid, fe_reclaim_step_e step)
{
    switch (step) {
    case FE_RECLAIM_TERM:
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, FELOGNO(10116)
                     "child process %" APR_PID_T_FMT " still did not exit, "
                     "sending a SIGTERM", pid);
        /* fall through */
    case FE_RECLAIM_TERM_QUIET:
        kill(pid, SIGTERM);
        break;
    case FE_RECLAIM_KILL:
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10105)
                     "child process %" APR_PID_T_FMT " still did not exit, "
                     "sending a SIGKILL (9 s after the first SIGTERM: a "
                     "handler or module does not let it stop; its "
                     "connections are cut)", pid);
        kill(pid, SIGKILL);
        break;
    case FE_RECLAIM_GIVE_UP:
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, FELOGNO(10106)
                     "could not make child process %" APR_PID_T_FMT " exit, "
                     "attempting to continue anyway (10 s after the first "
                     "SIGTERM; look for it in state D: ps -o pid,stat,wchan)",
                     pid);
        break;
    default:
        break;
    }
}

/* Reap what has exited of the children in our tables, and apply @a step
 * to the others.  Returns how many are left. */
static int fe_reclaim_round(server_rec *s, fe_reclaim_step_e step)
{
    int i, left = 0;

    for (i = 0; i < fe_g.lim.server_limit + ghost_cap; i++) {
        int is_ghost = i >= fe_g.lim.server_limit;
        int g = i - fe_g.lim.server_limit;
        apr_proc_t proc;
        apr_exit_why_e why;
        int status;

        proc.pid = is_ghost ? ghosts[g].pid : slots[i].pid;
        if (proc.pid == 0) {
            continue;
        }
        if (apr_proc_wait(&proc, &status, &why, APR_NOWAIT)
            == APR_CHILD_DONE) {
            if (is_ghost) {
                fe_ghost_stopped(g);
            }
            else {
                fe_note_child_stopped(i, proc.pid, slots[i].gen);
            }
            continue;
        }
        left++;
        fe_reclaim_one(s, proc.pid, step);
    }
    return left;
}

/* Signal and wait for every child we forked, escalating to SIGKILL. */
static void fe_reclaim(server_rec *s)
{
    const size_t nplan = sizeof fe_reclaim_plan / sizeof fe_reclaim_plan[0];
    apr_time_t start = apr_time_now();
    fe_reclaim_step_e step;
    size_t next = 0;
    int round = 0;

    for (;;) {
        int elapsed = (int)apr_time_sec(apr_time_now() - start);

        step = FE_RECLAIM_WAIT;
        if (next < nplan && elapsed >= fe_reclaim_plan[next].at) {
            step = fe_reclaim_plan[next++].step;
        }
        if (fe_reclaim_round(s, step) == 0 || step == FE_RECLAIM_GIVE_UP) {
            break;
        }
        apr_sleep(apr_time_from_msec(round++ < 10 ? 20 : 100));
    }
    apr_proc_other_child_refresh_all(APR_OC_REASON_RESTART);
}

static void fe_pods_killpg(int mode)
{
    int i;

    for (i = 0; i < fe_g.num_buckets; i++) {
        ap_mpm_podx_killpg(fe_g.pods[i], fe_g.lim.server_limit, mode);
    }
}

/* ------------------------------------------------------------ main loop */

/* FastEventSchedBatch auto: the server's processes, for the measure. */
static void fe_parent_sched_tick(void)
{
    static pid_t *pids;
    static int cap;
    int n = fe_g.lim.server_limit, i, k = 0;

    if (fe_g.lim.sched_batch != FE_SCHED_BATCH_AUTO) {
        return;
    }
    if (cap < n + ghost_cap) {
        pid_t *more = realloc(pids, (size_t)(n + ghost_cap) * sizeof *pids);

        if (more == NULL) {
            return;                  /* no measure this time */
        }
        pids = more;
        cap = n + ghost_cap;
    }
    for (i = 0; i < n; i++) {
        if (slots[i].pid > 0) {
            pids[k++] = slots[i].pid;
        }
    }
    for (i = 0; i < ghost_cap; i++) {
        if (ghosts[i].pid > 0) {
            pids[k++] = ghosts[i].pid;
        }
    }
    fe_sched_parent_tick(pids, k, apr_time_now());
}

static void fe_server_main_loop(server_rec *s, apr_pool_t *pconf)
{
    fe_retained_t *rt = fe_g.retained;
    apr_interval_time_t tick = FE_IDLE_TICK;

    while (!rt->mpm->restart_pending && !rt->mpm->shutdown_pending) {
        apr_proc_t proc;
        apr_exit_why_e why;
        int status, b, spawned = 0;

        fe_wait(&proc, &why, &status, tick, pconf, s);
        if (proc.pid != -1) {
            fe_child_exited(s, &proc, why, status);
            continue;
        }
        /* A streak of crashes ends once no child died for 10 s. */
        if (rt->signal_deaths
            && apr_time_now() - rt->last_death > apr_time_from_sec(10)) {
            rt->signal_deaths = 0;
        }
        if (remaining_to_start > 0 && apr_time_now() >= rt->backoff_until) {
            remaining_to_start -= fe_start_children(s, remaining_to_start,
                                                    -1);
            if (remaining_to_start < 0 || rt->total_daemons
                >= fe_g.lim.active_daemons_limit) {
                remaining_to_start = 0;
            }
            continue;
        }
        for (b = 0; b < fe_g.num_buckets; b++) {
            spawned += fe_maintain_bucket(s, b);
        }
        fe_check_sick(s);
        fe_update_max_daemon_used();
        fe_parent_sched_tick();
        /* While growing, look again soon: connections may be waiting in
         * the kernel's backlog for a process to accept them. */
        tick = spawned ? apr_time_from_msec(100) : FE_IDLE_TICK;
    }
}

static int fe_graceful_stop(server_rec *s, apr_pool_t *pconf)
{
    fe_retained_t *rt = fe_g.retained;
    apr_time_t cutoff = 0;

    ap_close_listeners();
    fe_pods_killpg(AP_MPM_PODX_GRACEFUL);
    ap_remove_pid(pconf, ap_pid_fname);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10107)
                 "caught SIGWINCH, shutting down gracefully%s",
                 ap_graceful_shutdown_timeout ? "" :
                 " (no GracefulShutdownTimeout: waiting for every request)");
    if (ap_graceful_shutdown_timeout) {
        cutoff = apr_time_now()
                 + apr_time_from_sec(ap_graceful_shutdown_timeout);
    }
    rt->mpm->shutdown_pending = 0;
    while (!rt->mpm->shutdown_pending
           && rt->total_daemons + rt->ghost_count > 0) {
        apr_proc_t proc;
        apr_exit_why_e why;
        int status;

        if (cutoff && apr_time_now() > cutoff) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, FELOGNO(10108)
                         "GracefulShutdownTimeout %d s passed with %d "
                         "children still busy: stopping them now",
                         ap_graceful_shutdown_timeout, rt->total_daemons);
            break;
        }
        fe_wait(&proc, &why, &status, apr_time_from_msec(100), pconf, s);
        if (proc.pid != -1) {
            int slot = fe_slot_of_pid(proc.pid);

            ap_process_child_status(&proc, why, status);
            if (slot >= 0) {
                fe_note_child_stopped(slot, proc.pid, slots[slot].gen);
            }
            else if (fe_ghost_of_pid(proc.pid) >= 0) {
                fe_ghost_stopped(fe_ghost_of_pid(proc.pid));
            }
            else {
                apr_proc_other_child_alert(&proc, APR_OC_REASON_DEATH,
                                           status);
            }
        }
    }
    fe_pods_killpg(AP_MPM_PODX_RESTART);
    fe_reclaim(s);
    return DONE;
}

static int fe_finish_generation(server_rec *s, apr_pool_t *pconf);

/* The core forgets every pending signal when it clears pconf between
 * generations (the cleanup ap_unixd_mpm_set_signals registers), so a stop
 * asked for while a restart is under way (the reclaim of a SIGHUP takes
 * up to 10 s) would be lost and the server would run on.  The restart
 * looks once more before it hands over: a stop that came in is done now.
 * During an ungraceful restart is_ungraceful is held at 0, so that the
 * handlers leave it 0 for a SIGWINCH and set it for a SIGTERM. */
static int fe_stop_during_restart(server_rec *s, apr_pool_t *pconf,
                                  int ungraceful_restart)
{
    fe_retained_t *rt = fe_g.retained;

    if (!rt->mpm->shutdown_pending) {
        if (ungraceful_restart) {
            rt->mpm->is_ungraceful = 1;   /* the scoreboard is made anew */
        }
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10230)
                 "a stop signal came during the restart: stopping instead "
                 "of starting the next generation");
    return fe_finish_generation(s, pconf);
}

static int fe_finish_generation(server_rec *s, apr_pool_t *pconf)
{
    fe_retained_t *rt = fe_g.retained;

    if (rt->mpm->shutdown_pending && rt->mpm->is_ungraceful) {
        fe_pods_killpg(AP_MPM_PODX_RESTART);
        fe_reclaim(s);
        ap_remove_pid(pconf, ap_pid_fname);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10109)
                     "caught SIGTERM, shutting down");
        return DONE;
    }
    if (rt->mpm->shutdown_pending) {
        return fe_graceful_stop(s, pconf);
    }
    /* A restart: the next generation starts when we return OK. */
    rt->mpm->my_generation++;
    fe_sb_set_generation(rt->mpm->my_generation);
    rt->maxworkers_reported = 0;
    rt->sb_full_reported = 0;
    if (!rt->mpm->is_ungraceful) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10110)
                     AP_SIG_GRACEFUL_STRING " received.  Doing graceful "
                     "restart");
        fe_pods_killpg(AP_MPM_PODX_GRACEFUL);
        return fe_stop_during_restart(s, pconf, 0);
    }
    rt->mpm->is_ungraceful = 0;
    fe_pods_killpg(AP_MPM_PODX_RESTART);
    fe_reclaim(s);
    /* Said once the old children are gone, as event does. */
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10111)
                 "SIGHUP received.  Attempting to restart");
    return fe_stop_during_restart(s, pconf, 1);
}

int fe_mpm_run(apr_pool_t *pconf, apr_pool_t *plog, server_rec *s)
{
    fe_retained_t *rt = fe_g.retained;
    int start;

    child_fatal = FE_FATAL_NONE;
    remaining_to_start = 0;
    ap_log_pid(pconf, ap_pid_fname);
    if (!rt->mpm->was_graceful) {
        if (fe_sb_create(s->process->pool) != OK) {
            rt->mpm->mpm_state = AP_MPMQ_STOPPING;
            return !OK;
        }
        fe_sb_set_generation(rt->mpm->my_generation);
    }
    fe_check_nofile(s, FE_NOFILE_GENERATION);
    fe_metrics_init(s);
    slots = fe_slots_get(fe_g.lim.server_limit);
    fe_ghosts_get(fe_g.lim.server_limit);
    ap_unixd_mpm_set_signals(pconf, fe_g.one_process);

    start = fe_g.lim.start_servers;
    if (start < fe_g.num_buckets) {
        start = fe_g.num_buckets;
    }
    if (start > fe_g.lim.active_daemons_limit) {
        start = fe_g.lim.active_daemons_limit;
    }
    /* Cold start or graceful restart alike, the new generation starts at
     * once in the free slots; old children keep theirs until they exit. */
    remaining_to_start = start - fe_start_children(s, start, -1);

    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10112)
                 "%s configured -- resuming normal operations",
                 ap_get_server_description());
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, FELOGNO(10113)
                 "Server built: %s", ap_get_server_built());
    ap_log_command_line(plog, s);
    ap_log_mpm_common(s);
    if (fe_g.buckets_asked > fe_g.num_buckets) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, FELOGNO(10119)
                     "ListenCoresBucketsRatio asks for %d listener buckets, "
                     "but at most %d processes may run (MaxRequestWorkers "
                     "%d / ThreadsPerChild %d), and a bucket without a "
                     "process would leave its share of new connections "
                     "unaccepted: using %d buckets.  Raise MaxRequestWorkers "
                     "(and ServerLimit) to %d x ThreadsPerChild to use them "
                     "all", fe_g.buckets_asked, fe_g.num_buckets,
                     fe_g.lim.max_workers, fe_g.lim.threads_per_child,
                     fe_g.num_buckets, fe_g.buckets_asked);
    }

    rt->mpm->mpm_state = AP_MPMQ_RUNNING;
    fe_server_main_loop(s, pconf);
    rt->mpm->mpm_state = AP_MPMQ_STOPPING;
    if (child_fatal != FE_FATAL_NONE) {
        fe_pods_killpg(AP_MPM_PODX_RESTART);
        fe_reclaim(s);
        ap_remove_pid(pconf, ap_pid_fname);
        if (child_fatal == FE_FATAL_CHILD) {
            ap_log_error(APLOG_MARK, APLOG_ALERT, 0, s, FELOGNO(10114)
                         "a child process could not start (fatal error, "
                         "see above): shutting down");
        }
        return DONE;
    }
    return fe_finish_generation(s, pconf);
}
