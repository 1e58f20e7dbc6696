/*
 * fe_metrics.c: live MPM metrics, and the section they add to mod_status.
 *
 * Each child owns one fe_metrics_t in a shared segment the parent creates
 * once (it survives restarts, like the scoreboard).  The listener and the
 * workers of that child are its only writers: plain stores from the
 * listener, atomic increments from workers; no locks on the hot path.
 * Any child's status handler reads every slot and prints per-process rows
 * and totals: an HTML table on /server-status, FastEvent* lines on ?auto.
 *
 * A slot's numbers count only while its pid matches the scoreboard's
 * process row.  After a takeover (process/fe_parent.c: a new child starts
 * in the slot of an old-generation process that is still draining) the
 * old process moves its numbers to an entry of the ghost area, after the
 * slots, with the counts it can no longer write into the process row
 * (connections, keep-alive, lingering, write completion): the status
 * page lists it there, so every process that runs is shown with its own
 * pid and connections, even when there are more than ServerLimit of
 * them for a while.
 *
 * Must not: block, allocate on the hot path, or trust the segment's
 * contents beyond printing them.
 */
#include "mpm_fastevent.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "policy/fe_hist.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "mod_status.h"

#include <apr_atomic.h>
#include <stddef.h>
#include <apr_shm.h>
#include <apr_strings.h>

APLOG_USE_MODULE(mpm_fastevent);

/* The layout is part of the key: a restart that loads a different build
 * of the module gets a segment of its own instead of the old one's. */
#define FE_METRICS_KEY_FMT "mpm_fastevent_metrics_%" APR_SIZE_T_FMT "_%" \
                           APR_SIZE_T_FMT

/* One per scoreboard slot. */
struct fe_metrics {
    volatile pid_t pid;                  /* the writer */
    volatile apr_uint32_t accepts;       /* connections accepted */
    volatile apr_uint32_t accepts_per_sec;
    volatile apr_uint32_t pauses;        /* accepting paused, times */
    volatile apr_uint32_t ka_timeouts;   /* keep-alive connections closed */
    volatile apr_uint32_t io_timeouts;   /* Timeout in write/wait-io */
    volatile apr_uint32_t linger_timeouts;
    volatile apr_uint32_t queue_depth;   /* ready, waiting for a worker */
    volatile apr_uint32_t stuck;         /* workers busy > 500 ms */
    volatile apr_uint32_t accepting;
    volatile apr_uint32_t holders;       /* workers holding (gauge) */
    volatile apr_uint32_t cpu_plus1;     /* placed on CPU n-1; 0: any */
    /* FastEventSchedBatch auto: the parent's word to every slot, and what
     * the child runs under. */
    volatile apr_uint32_t sched_want;    /* 1 SCHED_BATCH, 2 default, 0 ? */
    volatile apr_uint32_t foreign_pct;   /* others' share of our CPUs */
    volatile apr_uint32_t sched_batch;   /* child: 1 under SCHED_BATCH */
    volatile apr_uint32_t pacing;        /* wakeups paced to the CPUs now */
    /* Ghost entries only: the slot shared with a newer process, and the
     * process row's counts. */
    volatile apr_uint32_t ghost_slot;
    volatile apr_uint32_t conns, keep_alive, lingering, write_completion;
    /* Counted per request: 64-bit, a busy child wraps 32 bits in a day. */
    volatile apr_uint64_t hold_hits;     /* next request came while held */
    volatile apr_uint64_t hold_misses;   /* hold ran out: parked */
    volatile apr_uint64_t hold_preempts; /* holders called back */
    volatile apr_uint64_t idle_trims;    /* idle connections trimmed */
    volatile apr_uint64_t idle_trim_kib; /* KiB they gave back */
    volatile apr_uint64_t proxy_waits;   /* proxied requests that waited */
    volatile apr_uint64_t proxy_waiting; /* in line now (listener) */
    volatile apr_uint64_t handoff[FE_HIST_BUCKETS]; /* ready -> worker, us */
};

/* The 64-bit counters take atomic operations: keep them 8-byte aligned
 * in every slot of the array. */
_Static_assert(offsetof(struct fe_metrics, hold_hits) % 8 == 0
               && sizeof(struct fe_metrics) % 8 == 0,
               "fe_metrics: 64-bit counters must stay 8-byte aligned");

/* One for the whole server, after the ghost entries: what every child
 * decides from the others' traffic too. */
typedef struct fe_metrics_site {
    /* The last second (apr_time_sec) in which a child served
     * FE_BACKEND_MIXED requests that were not proxied (fe_backend.c). */
    volatile apr_uint32_t others_sec;
    /* The last second in which a child handed a request to mod_proxy: a
     * child started since then knows it serves a proxying server before
     * its own first proxied request (pacing, CPU placement). */
    volatile apr_uint32_t proxied_sec;
} fe_metrics_site_t;

typedef struct fe_metrics_seg {
    fe_metrics_t *slots;          /* n slots, then nghost ghost entries */
    fe_metrics_site_t *site;      /* after them */
    int n;
    int nghost;
} fe_metrics_seg_t;

/* The child's own copy of seg->site, set when it attaches. */
static fe_metrics_site_t *fe_site;

static const char *fe_metrics_key(char *buf, apr_size_t len)
{
    apr_snprintf(buf, len, FE_METRICS_KEY_FMT, sizeof(fe_metrics_t),
                 sizeof(fe_metrics_site_t));
    return buf;
}

static fe_metrics_seg_t *fe_metrics_seg(void)
{
    char key[64];

    return ap_retained_data_get(fe_metrics_key(key, sizeof key));
}

/* Parent, every generation: create the segment the first time. */
void fe_metrics_init(server_rec *s)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    char key[64];
    apr_size_t size;
    apr_shm_t *shm;
    apr_status_t rv;

    if (seg != NULL) {
        return;
    }
    seg = ap_retained_data_create(fe_metrics_key(key, sizeof key),
                                  sizeof *seg);
    size = (apr_size_t)fe_g.lim.server_limit * (1 + FE_GHOSTS_PER_SLOT)
           * sizeof(fe_metrics_t) + sizeof(fe_metrics_site_t);
    rv = apr_shm_create(&shm, size, NULL, ap_pglobal);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, FELOGNO(10170)
                     "could not create the shared memory for the live "
                     "metrics (%" APR_SIZE_T_FMT " bytes): the FastEvent "
                     "section of server-status stays empty", size);
        return;
    }
    seg->slots = apr_shm_baseaddr_get(shm);
    seg->n = fe_g.lim.server_limit;
    seg->nghost = fe_g.lim.server_limit * FE_GHOSTS_PER_SLOT;
    seg->site = (fe_metrics_site_t *)(seg->slots + seg->n + seg->nghost);
    memset(seg->slots, 0, size);
}

/* Child, when it finds its slot taken over: a ghost entry of its own,
 * zeroed but for its pid and slot and what @a m counted so far; NULL when
 * the ghost area is full (it then reports nothing). */
fe_metrics_t *fe_metrics_ghost(fe_metrics_t *m, int slot)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    pid_t me = getpid();
    int i;

    if (seg == NULL || seg->slots == NULL) {
        return NULL;
    }
    for (i = 0; i < seg->nghost; i++) {
        fe_metrics_t *g = &seg->slots[seg->n + i];

        if (apr_atomic_cas32((volatile apr_uint32_t *)&g->pid,
                             (apr_uint32_t)me, 0) == 0) {
            if (m != NULL && m->pid == me) {
                memcpy((void *)g, (const void *)m, sizeof *g);
            }
            else {
                memset((void *)g, 0, sizeof *g);
            }
            g->pid = me;
            g->ghost_slot = (apr_uint32_t)slot;
            return g;
        }
    }
    return NULL;
}

/* Listener of a ghost: the counts the process row no longer takes. */
void fe_metrics_ghost_counts(fe_metrics_t *m, unsigned int conns,
                             unsigned int keep_alive, unsigned int lingering,
                             unsigned int write_completion)
{
    if (m != NULL) {
        m->conns = conns;
        m->keep_alive = keep_alive;
        m->lingering = lingering;
        m->write_completion = write_completion;
    }
}

/* Parent: the ghost @a pid was reaped. */
void fe_metrics_ghost_gone(pid_t pid)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    int i;

    if (seg == NULL || seg->slots == NULL || pid <= 0) {
        return;
    }
    for (i = 0; i < seg->nghost; i++) {
        if (seg->slots[seg->n + i].pid == pid) {
            seg->slots[seg->n + i].pid = 0;
        }
    }
}

/* Child: claim our slot. */
fe_metrics_t *fe_metrics_attach(int slot)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    fe_metrics_t *m;

    if (seg == NULL || seg->slots == NULL || slot >= seg->n) {
        return NULL;
    }
    m = &seg->slots[slot];
    {
        apr_uint32_t want = m->sched_want, foreign = m->foreign_pct;

        memset((void *)m, 0, sizeof *m);
        m->sched_want = want;            /* the parent's, not ours */
        m->foreign_pct = foreign;
    }
    m->accepting = 1;                    /* the listener starts accepting */
    m->pid = getpid();
    fe_site = seg->site;
    return m;
}

void fe_metrics_site_others(apr_uint32_t sec)
{
    if (fe_site != NULL) {
        fe_site->others_sec = sec;
    }
}

apr_uint32_t fe_metrics_site_others_sec(void)
{
    return fe_site != NULL ? fe_site->others_sec : 0;
}

void fe_metrics_site_proxied(apr_uint32_t sec)
{
    if (fe_site != NULL && fe_site->proxied_sec != sec) {
        fe_site->proxied_sec = sec;
    }
}

apr_uint32_t fe_metrics_site_proxied_sec(void)
{
    const fe_metrics_seg_t *seg;

    if (fe_site != NULL) {
        return fe_site->proxied_sec;
    }
    seg = fe_metrics_seg();          /* a child before it attached */
    return seg != NULL && seg->site != NULL ? seg->site->proxied_sec : 0;
}

void fe_metrics_sched_publish(int want, int foreign)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    int i;

    if (seg == NULL || seg->slots == NULL) {
        return;
    }
    for (i = 0; i < seg->n + seg->nghost; i++) {
        seg->slots[i].sched_want = (apr_uint32_t)want;
        seg->slots[i].foreign_pct = (apr_uint32_t)foreign;
    }
}

int fe_metrics_sched_want(const fe_metrics_t *m)
{
    return m != NULL ? (int)m->sched_want : 0;
}

int fe_metrics_sched_word(int slot)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();

    if (seg == NULL || seg->slots == NULL || slot < 0 || slot >= seg->n) {
        return 0;
    }
    return (int)seg->slots[slot].sched_want;
}

void fe_metrics_sched_now(fe_metrics_t *m, int batch)
{
    if (m != NULL && m->pid == getpid()) {
        m->sched_batch = batch != 0;
    }
}

void fe_metrics_accepted(fe_metrics_t *m)
{
    if (m != NULL) {
        m->accepts++;                    /* the listener is the writer */
    }
}

/* A pause for capacity; a deferral to a sibling is neither shown nor
 * counted (the listener does not call this for one). */
void fe_metrics_paused(fe_metrics_t *m)
{
    if (m != NULL) {
        m->accepting = 0;
        m->pauses++;
    }
}

void fe_metrics_resumed(fe_metrics_t *m)
{
    if (m != NULL) {
        m->accepting = 1;
    }
}

void fe_metrics_timeouts(fe_metrics_t *m, unsigned int ka, unsigned int io,
                         unsigned int linger)
{
    if (m != NULL) {
        m->ka_timeouts += ka;
        m->io_timeouts += io;
        m->linger_timeouts += linger;
    }
}

/* Listener, each loop: gauges, and the accept rate once a second. */
void fe_metrics_tick(fe_child_t *ch, apr_time_t now)
{
    fe_metrics_t *m = ch->metrics;

    if (m == NULL) {
        return;
    }
    /* The queue gauge takes the queue's lock: not on every iteration. */
    if (now - ch->gauges_at >= apr_time_from_msec(50) || now < ch->gauges_at) {
        m->holders = apr_atomic_read32(&ch->hold.holders);
        m->queue_depth = fe_queue_length(ch->queue);
        m->stuck = ch->acc.stuck;
        apr_atomic_set64(&m->proxy_waiting,
                         apr_atomic_read32(&ch->backend.waiting));
        ch->gauges_at = now;
    }
    if (now - ch->rate_since >= apr_time_from_sec(1) || now < ch->rate_since) {
        m->accepts_per_sec = m->accepts - ch->rate_base;
        ch->rate_base = m->accepts;
        ch->rate_since = now;
    }
}

/* Listener: when the accept rate must be recomputed (a window with
 * accepts in it must be closed even if nothing else wakes us). */
apr_time_t fe_metrics_next_tick(fe_child_t *ch)
{
    fe_metrics_t *m = ch->metrics;

    if (m == NULL || (m->accepts == ch->rate_base && !m->accepts_per_sec)) {
        return (apr_time_t)APR_INT64_MAX;
    }
    return ch->rate_since + apr_time_from_sec(1);
}

/* Worker: how long a ready connection waited for it. */
void fe_metrics_handoff(fe_metrics_t *m, apr_interval_time_t waited)
{
    if (m != NULL) {
        apr_atomic_inc64(&m->handoff[fe_hist_bucket(waited > 0 ? waited
                                                               : 0)]);
    }
}

/* Worker (hits, misses) or any thread (preemptions): keep-alive holds. */
void fe_metrics_hold(fe_metrics_t *m, fe_hold_outcome_e outcome)
{
    if (m != NULL) {
        apr_atomic_inc64(outcome == FE_HOLD_HIT ? &m->hold_hits
                         : outcome == FE_HOLD_MISS ? &m->hold_misses
                         : &m->hold_preempts);
    }
}

/* Child's main thread, every tick: whether the child paces its wakeups
 * (published there, not by the listener, which may sleep long when
 * idle). */
void fe_metrics_pacing(fe_metrics_t *m, int on)
{
    if (m != NULL && m->pid == getpid()) {
        m->pacing = on != 0;
    }
}

/* Child: its place (fe_cpu.c), a CPU number or FE_PLACE_ANY. */
void fe_metrics_cpu(fe_metrics_t *m, int cpu)
{
    /* Not after a takeover: the slot's row is the new child's then. */
    if (m != NULL && m->pid == getpid()) {
        m->cpu_plus1 = cpu >= 0 ? (apr_uint32_t)cpu + 1 : 0;
    }
}

/* Listener: @conns idle connections gave back @bytes (fe_idlemem.h). */
void fe_metrics_idle_trim(fe_metrics_t *m, unsigned int conns,
                          apr_size_t bytes)
{
    if (m != NULL && conns > 0) {
        apr_atomic_add64(&m->idle_trims, conns);
        apr_atomic_add64(&m->idle_trim_kib, bytes / 1024);
    }
}

void fe_metrics_proxy_waited(fe_metrics_t *m)
{
    if (m != NULL) {
        apr_atomic_inc64(&m->proxy_waits);
    }
}

/* ------------------------------------------------------------ reporting */

typedef struct fe_totals {
    apr_uint64_t accepts, rate, pauses, ka, io, linger, queue, stuck;
    apr_uint64_t holders;
    apr_uint64_t hits, misses, preempts, trims, trim_kib;
    apr_uint64_t proxy_waits, proxy_waiting;
    int procs, paused, placed, batch, foreign, pacing;
    apr_uint64_t handoff[FE_HIST_BUCKETS];
} fe_totals_t;

static int fe_metrics_live(const fe_metrics_t *m, int slot)
{
    return m->pid != 0 && fe_sb_process_pid(slot) == m->pid;
}

static void fe_add(fe_totals_t *t, const fe_metrics_t *m)
{
    int b;

    t->accepts += m->accepts;
    t->rate += m->accepts_per_sec;
    t->pauses += m->pauses;
    t->ka += m->ka_timeouts;
    t->io += m->io_timeouts;
    t->linger += m->linger_timeouts;
    t->queue += m->queue_depth;
    t->stuck += m->stuck;
    t->holders += m->holders;
    t->hits += apr_atomic_read64((volatile apr_uint64_t *)&m->hold_hits);
    t->misses += apr_atomic_read64((volatile apr_uint64_t *)&m->hold_misses);
    t->preempts += apr_atomic_read64(
                       (volatile apr_uint64_t *)&m->hold_preempts);
    t->trims += apr_atomic_read64((volatile apr_uint64_t *)&m->idle_trims);
    t->trim_kib += apr_atomic_read64(
                       (volatile apr_uint64_t *)&m->idle_trim_kib);
    t->proxy_waits += apr_atomic_read64(
                          (volatile apr_uint64_t *)&m->proxy_waits);
    t->proxy_waiting += apr_atomic_read64(
                            (volatile apr_uint64_t *)&m->proxy_waiting);
    t->procs++;
    t->paused += !m->accepting;
    t->placed += m->cpu_plus1 != 0;
    t->batch += m->sched_batch != 0;
    t->pacing += m->pacing != 0;
    t->foreign = (int)m->foreign_pct;
    for (b = 0; b < FE_HIST_BUCKETS; b++) {
        t->handoff[b] += apr_atomic_read64(
                             (volatile apr_uint64_t *)&m->handoff[b]);
    }
}

static void fe_print_auto(request_rec *r, const fe_totals_t *t)
{
    ap_rprintf(r, "FastEventProcesses: %d\n", t->procs);
    ap_rprintf(r, "FastEventProcessesNotAccepting: %d\n", t->paused);
    ap_rprintf(r, "FastEventProcessesOnOneCPU: %d\n", t->placed);
    ap_rprintf(r, "FastEventProcessesSchedBatch: %d\n", t->batch);
    ap_rprintf(r, "FastEventForeignCPUPercent: %d\n", t->foreign);
    ap_rprintf(r, "FastEventProcessesPacing: %d\n", t->pacing);
    ap_rprintf(r, "FastEventAccepts: %" APR_UINT64_T_FMT "\n", t->accepts);
    ap_rprintf(r, "FastEventAcceptsPerSec: %" APR_UINT64_T_FMT "\n",
               t->rate);
    ap_rprintf(r, "FastEventAcceptPauses: %" APR_UINT64_T_FMT "\n",
               t->pauses);
    ap_rprintf(r, "FastEventQueueDepth: %" APR_UINT64_T_FMT "\n", t->queue);
    ap_rprintf(r, "FastEventStuckWorkers: %" APR_UINT64_T_FMT "\n",
               t->stuck);
    ap_rprintf(r, "FastEventHandoffP50us: %" APR_UINT64_T_FMT "\n",
               fe_hist_percentile(t->handoff, 50));
    ap_rprintf(r, "FastEventHandoffP99us: %" APR_UINT64_T_FMT "\n",
               fe_hist_percentile(t->handoff, 99));
    ap_rprintf(r, "FastEventTimeoutsKeepAlive: %" APR_UINT64_T_FMT "\n",
               t->ka);
    ap_rprintf(r, "FastEventTimeoutsIO: %" APR_UINT64_T_FMT "\n", t->io);
    ap_rprintf(r, "FastEventTimeoutsLinger: %" APR_UINT64_T_FMT "\n",
               t->linger);
    ap_rprintf(r, "FastEventHoldingWorkers: %" APR_UINT64_T_FMT "\n",
               t->holders);
    ap_rprintf(r, "FastEventHoldHits: %" APR_UINT64_T_FMT "\n", t->hits);
    ap_rprintf(r, "FastEventHoldMisses: %" APR_UINT64_T_FMT "\n",
               t->misses);
    ap_rprintf(r, "FastEventHoldPreemptions: %" APR_UINT64_T_FMT "\n",
               t->preempts);
    ap_rprintf(r, "FastEventIdleTrims: %" APR_UINT64_T_FMT "\n", t->trims);
    ap_rprintf(r, "FastEventIdleTrimmedKiB: %" APR_UINT64_T_FMT "\n",
               t->trim_kib);
    ap_rprintf(r, "FastEventProxyWaiting: %" APR_UINT64_T_FMT "\n",
               t->proxy_waiting);
    ap_rprintf(r, "FastEventProxyWaits: %" APR_UINT64_T_FMT "\n",
               t->proxy_waits);
}

static void fe_print_row(request_rec *r, const char *name, const char *cpu,
                         const fe_totals_t *t)
{
    ap_rprintf(r, "<tr><td>%s</td><td>%s</td>"
               "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
               APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT " / %"
               APR_UINT64_T_FMT "</td>"
               "<td>%" APR_UINT64_T_FMT " / %" APR_UINT64_T_FMT "</td></tr>\n",
               name, cpu, t->accepts, t->rate,
               t->pauses, t->queue, t->stuck,
               fe_hist_percentile(t->handoff, 50),
               fe_hist_percentile(t->handoff, 99), t->ka, t->io, t->linger,
               t->hits, t->misses, t->preempts, t->proxy_waiting,
               t->proxy_waits);
}

/* The old-generation processes still draining in slots a newer process
 * took over: a table (HTML) or FastEventShared* lines (?auto). */
static void fe_print_ghosts(request_rec *r, const fe_metrics_seg_t *seg,
                            int html)
{
    apr_uint64_t conns = 0, procs = 0;
    int i;

    for (i = 0; i < seg->nghost; i++) {
        const fe_metrics_t *g = &seg->slots[seg->n + i];

        if (g->pid == 0) {
            continue;
        }
        if (html && procs == 0) {
            ap_rputs("<p>Older-generation processes still draining in "
                     "scoreboard slots that newer processes use (not in the "
                     "table of async connections above):</p>\n"
                     "<table border=\"1\"><tr><th>PID</th><th>slot shared "
                     "with</th><th>connections</th><th>keep-alive</th>"
                     "<th>writing</th><th>closing</th></tr>\n", r);
        }
        if (html) {
            ap_rprintf(r, "<tr><td>%" APR_PID_T_FMT "</td><td>%u (pid %"
                       APR_PID_T_FMT ")</td><td>%u</td><td>%u</td><td>%u"
                       "</td><td>%u</td></tr>\n", g->pid, g->ghost_slot,
                       g->ghost_slot < (apr_uint32_t)seg->n
                       ? fe_sb_process_pid((int)g->ghost_slot) : 0,
                       g->conns, g->keep_alive, g->write_completion,
                       g->lingering);
        }
        procs++;
        conns += g->conns;
    }
    if (html && procs > 0) {
        ap_rprintf(r, "</table>\n<p>%" APR_UINT64_T_FMT " processes more "
                   "than the rows above (ServerLimit %d)</p>\n", procs,
                   fe_g.lim.server_limit);
    }
    else if (!html) {
        ap_rprintf(r, "FastEventSharedSlotProcesses: %" APR_UINT64_T_FMT
                   "\n", procs);
        ap_rprintf(r, "FastEventSharedSlotConnections: %" APR_UINT64_T_FMT
                   "\n", conns);
    }
}

static int fe_status_hook(request_rec *r, int flags)
{
    fe_metrics_seg_t *seg = fe_metrics_seg();
    fe_totals_t total;
    int i, html = !(flags & AP_STATUS_SHORT);

    if (seg == NULL || seg->slots == NULL) {
        return OK;
    }
    memset(&total, 0, sizeof total);
    if (html) {
        ap_rputs("<hr /><h2>mpm_fastevent</h2>\n<table border=\"1\"><tr>"
                 "<th>PID</th><th>on CPU</th><th>accepted</th>"
                 "<th>accepts/s</th><th>accept pauses</th><th>queue</th>"
                 "<th>stuck workers</th>"
                 "<th>hand-off p50 / p99 (&micro;s)</th>"
                 "<th>timeouts keep-alive / I/O / linger</th>"
                 "<th>keep-alive holds hit / missed / preempted</th>"
                 "<th>proxied requests waiting / waited</th></tr>\n",
                 r);
    }
    for (i = 0; i < seg->n && i < fe_g.lim.server_limit; i++) {
        const fe_metrics_t *m = &seg->slots[i];
        fe_totals_t one;

        if (!fe_metrics_live(m, i)) {
            continue;
        }
        memset(&one, 0, sizeof one);
        fe_add(&one, m);
        fe_add(&total, m);
        if (html) {
            fe_print_row(r, apr_psprintf(r->pool, "%" APR_PID_T_FMT,
                                         m->pid),
                         m->cpu_plus1 ? apr_psprintf(r->pool, "%u",
                                                     m->cpu_plus1 - 1)
                                      : "any", &one);
        }
    }
    if (html) {
        fe_print_row(r, "<b>total</b>",
                     apr_psprintf(r->pool, "%d on one", total.placed),
                     &total);
        ap_rputs("</table>\n", r);
    }
    else {
        fe_print_auto(r, &total);
    }
    fe_print_ghosts(r, seg, html);
    return OK;
}

void fe_metrics_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, fe_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
