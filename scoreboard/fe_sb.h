/**
 * @file fe_sb.h
 * @brief Every read and write mpm_fastevent makes of httpd's shared
 *        scoreboard (scoreboard/fe_sb.c).
 *
 * The scoreboard is what mod_status shows and what the parent counts to
 * decide how many processes to run.  Children write their own rows; the
 * parent writes the process rows it hands out.  Nothing read here is
 * trusted beyond counting: the parent signals and reaps only the pids of
 * its own table (process/fe_parent.c).
 */
#ifndef FE_SB_H
#define FE_SB_H

#include "mpm_fastevent.h"

/* ------------------------------------------------------------ parent */

/** Create the shared scoreboard (the pre_mpm hook); OK or an error. */
int fe_sb_create(apr_pool_t *p);

/** The generation children of this configuration start in. */
void fe_sb_set_generation(ap_generation_t gen);

/** The parent's periodic update of the global counters. */
void fe_sb_global_tick(void);

/** A child was forked into @a slot: its process row. */
void fe_sb_process_claim(int slot, pid_t pid, ap_generation_t gen);

/** The process of @a slot is gone: its row is free again. */
void fe_sb_process_release(int slot);

/** The pid that wrote worker row @a thread of @a slot (a hint only). */
pid_t fe_sb_row_pid(int slot, int thread);

/** Mark worker row @a thread of @a slot dead (its thread is gone). */
void fe_sb_row_dead(int slot, int thread);

/** One process row as the spawn policy counts it. */
typedef struct fe_sb_view {
    int quiescing;            /**< the child began stopping */
    int not_accepting;
    apr_uint32_t connections; /**< open, lingering ones included */
    apr_uint32_t lingering;
    int idle;                 /**< rows DEAD, STARTING or READY */
    int busy;                 /**< rows READY up to (not) GRACEFUL */
    int started;              /**< rows past STARTING: workers that ran */
} fe_sb_view_t;

/** Read @a slot's process row and its first @a threads worker rows
 *  (statuses out of range are skipped). */
void fe_sb_process_view(int slot, int threads, fe_sb_view_t *v);

/* ------------------------------------------------------------ children */

/** Attach to the scoreboard the parent created. */
void fe_sb_reopen(apr_pool_t *p);

/** The pid in @a slot's process row (0: none). */
pid_t fe_sb_process_pid(int slot);

/** Rows this child may start a worker in: those no other process uses. */
int fe_sb_row_free(int slot, int thread);

void fe_sb_worker(int slot, int thread, int status);
void fe_sb_worker_start(int slot, int thread);
/** Every row a thread of this child runs in (not a ghost's rows). */
void fe_sb_all_workers(fe_child_t *ch, int status);

/** Connection handles: a row to write a connection's status into. */
void fe_sb_handle_create(ap_sb_handle_t **sbh, apr_pool_t *p, int slot,
                         int thread);
void fe_sb_handle_move(ap_sb_handle_t *sbh, int slot, int thread);
void fe_sb_conn_status(conn_rec *c, int status);

/** The process row's counters, from the listener on every pass. */
void fe_sb_publish(fe_child_t *ch, unsigned int keep_alive);
/** The connection counters, from any thread when one changes. */
void fe_sb_publish_conns(fe_child_t *ch);
/** Pre-condition: park.mutex held.  The keep-alive count. */
void fe_sb_publish_keepalive(fe_child_t *ch);

/** Whether the process row says the child takes connections. */
typedef enum fe_sb_accepting {
    FE_SB_NOT_ACCEPTING = 0,
    FE_SB_ACCEPTING = 1
} fe_sb_accepting_e;

void fe_sb_set_accepting(fe_child_t *ch, fe_sb_accepting_e accepting);
void fe_sb_set_quiescing(fe_child_t *ch);

/** Processes of this generation and this child's listener bucket that
 *  are not stopping (this one included). */
int fe_sb_bucket_processes(fe_child_t *ch);

/** The largest number of workers without a connection among the siblings
 *  that accept now: same bucket, same generation, not stopping. */
unsigned int fe_sb_sibling_room(fe_child_t *ch);

/** Which of the first @a n slots hold a running, not stopping child of
 *  generation @a gen: live[i] is 1 or 0. */
void fe_sb_live_processes(ap_generation_t gen, unsigned char *live, int n);

#endif /* FE_SB_H */
