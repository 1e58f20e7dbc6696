/**
 * @file fe_metrics.h
 * @brief Live MPM metrics in a shared segment, and the mpm_fastevent
 *        section they add to mod_status (scoreboard/fe_metrics.c).
 *
 * Each child writes its own slot (the listener with plain stores, workers
 * with atomic increments); the status handler of any child reads them all.
 * Every function accepts a NULL @a m (no segment): it does nothing then.
 */
#ifndef FE_METRICS_H
#define FE_METRICS_H

#include "mpm_fastevent.h"

/** Parent, every generation: create the segment the first time. */
void fe_metrics_init(server_rec *s);
/** Child: claim the slot of @a slot; NULL when there is no segment. */
fe_metrics_t *fe_metrics_attach(int slot);
/** The mod_status section (status_hook). */
void fe_metrics_register_hooks(void);

void fe_metrics_accepted(fe_metrics_t *m);
/** Accepting paused for capacity (counted and shown), or resumed. */
void fe_metrics_paused(fe_metrics_t *m);
void fe_metrics_resumed(fe_metrics_t *m);
void fe_metrics_timeouts(fe_metrics_t *m, unsigned int ka, unsigned int io,
                         unsigned int linger);
/** Listener, each pass: gauges, and the accept rate once a second. */
void fe_metrics_tick(fe_child_t *ch, apr_time_t now);
/** Listener: when the accept rate must be recomputed. */
apr_time_t fe_metrics_next_tick(fe_child_t *ch);
/** Worker: how long a ready connection waited for it. */
void fe_metrics_handoff(fe_metrics_t *m, apr_interval_time_t waited);

/** What became of a keep-alive hold (fdqueue/fe_hold.c). */
typedef enum fe_hold_outcome {
    FE_HOLD_HIT,          /**< the next request came while held */
    FE_HOLD_MISS,         /**< the hold ran out: parked */
    FE_HOLD_PREEMPT       /**< the holder was called back */
} fe_hold_outcome_e;

void fe_metrics_hold(fe_metrics_t *m, fe_hold_outcome_e outcome);
/** Child's main thread: it paces its wakeups now (1) or not (0). */
void fe_metrics_pacing(fe_metrics_t *m, int on);
/** Child (fe_backend.c): in second @a sec (apr_time_sec) it served
 *  FE_BACKEND_MIXED requests that were not proxied.  One word for the
 *  whole server, so that every child keeps its reserve for them: a child
 *  whose listener happened to take none of them sees them too. */
void fe_metrics_site_others(apr_uint32_t sec);
/** The last such second of any child, 0 when none (or no segment). */
apr_uint32_t fe_metrics_site_others_sec(void);
/** Child (fe_backend.c): in second @a sec it handed a request to
 *  mod_proxy.  One word for the whole server, so that a child started
 *  later knows before its own first proxied request. */
void fe_metrics_site_proxied(apr_uint32_t sec);
/** The last such second of any child, 0 when none (or no segment); a
 *  child may ask before it attached its slot. */
apr_uint32_t fe_metrics_site_proxied_sec(void);
/** Child (fe_backend.c): a proxied request joined the line for a place
 *  (counted once per request; the line's length is a gauge the listener
 *  publishes). */
void fe_metrics_proxy_waited(fe_metrics_t *m);
/** Child: the CPU it runs on, or FE_PLACE_ANY. */
void fe_metrics_cpu(fe_metrics_t *m, int cpu);

/** Parent (FastEventSchedBatch auto): tell every child whether to run
 *  under SCHED_BATCH (@a want 1) or the default policy (2), and the share
 *  of the server's CPUs other programs use (percent, for the status). */
void fe_metrics_sched_publish(int want, int foreign);

/** The parent's word: other programs leave the server's CPUs alone
 *  (SCHED_BATCH), or they use them; 0 before the first measurement and
 *  when FastEventSchedBatch is not auto (nothing is measured). */
#define FE_SCHED_WANT_BATCH 1
#define FE_SCHED_WANT_SHARED 2

/** Child: the parent's word (1, 2, or 0 before the first). */
int fe_metrics_sched_want(const fe_metrics_t *m);

/** The parent's word for @a slot, before the child attached its slot. */
int fe_metrics_sched_word(int slot);

/** Child: it runs under SCHED_BATCH (1) or not (0) now. */
void fe_metrics_sched_now(fe_metrics_t *m, int batch);
/** Child, when a newer process took its slot over: an entry of the ghost
 *  area to report in from now on (NULL when full). */
fe_metrics_t *fe_metrics_ghost(fe_metrics_t *m, int slot);
/** Listener of such a child: the counts its process row no longer takes. */
void fe_metrics_ghost_counts(fe_metrics_t *m, unsigned int conns,
                             unsigned int keep_alive, unsigned int lingering,
                             unsigned int write_completion);
/** Parent: the old process @a pid is gone. */
void fe_metrics_ghost_gone(pid_t pid);

/** Listener: @a conns idle connections gave back @a bytes. */
void fe_metrics_idle_trim(fe_metrics_t *m, unsigned int conns,
                          apr_size_t bytes);

#endif /* FE_METRICS_H */
