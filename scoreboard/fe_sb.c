/*
 * fe_sb.c: every write mpm_fastevent makes to the shared scoreboard that
 * mod_status reads.  Worker rows are written by their own worker thread
 * (status) or by the listener when the child starts stopping (all rows
 * GRACEFUL); the process row's counters by the listener; pid, generation
 * and the reaping reset by the parent (fe_parent.c, through the core's
 * helpers).
 *
 * Must not: be called with a slot/thread outside the scoreboard; decide
 * anything (callers pass what to write).
 */
#include "mpm_fastevent.h"
#include "ap_mpm.h"

#include <apr_atomic.h>

APLOG_USE_MODULE(mpm_fastevent);

void fe_sb_worker(int slot, int thread, int status)
{
    ap_update_child_status_from_indexes(slot, thread, status, NULL);
}

/* A worker's own row: pid, thread id and generation, then STARTING.  The
 * core moves ps->generation forward on the STARTING -> READY change. */
void fe_sb_worker_start(int slot, int thread)
{
    worker_score *ws = ap_get_scoreboard_worker_from_indexes(slot, thread);
    int gen = 0;

    ap_mpm_query(AP_MPMQ_GENERATION, &gen);
    ws->pid = getpid();
    ws->tid = apr_os_thread_current();
    ws->generation = gen;
    ap_update_child_status_from_indexes(slot, thread, SERVER_STARTING, NULL);
}

/* Every row a thread of this child runs in (not a ghost's rows). */
void fe_sb_all_workers(fe_child_t *ch, int status)
{
    int i;

    for (i = 0; i < ch->nworkers; i++) {
        if (ch->workers[i] != NULL) {
            ap_update_child_status_from_indexes(ch->slot, i, status, NULL);
        }
    }
}

/* The process row is ours while the parent has our pid in it: after a
 * takeover (fe_parent.c) a draining child must leave the row alone. */
static process_score *fe_sb_own_row(fe_child_t *ch)
{
    process_score *ps = ap_get_scoreboard_process(ch->slot);

    return ps->pid == ch->pid ? ps : NULL;
}

/* The connection counters kept in atomics; any thread, whenever one
 * changes.  Workers take idle keep-alive connections without the
 * listener (fe_kapoll.c), so its passes alone would leave the row stale
 * for seconds -- and siblings balance accepts on it (fe_sibling_room),
 * the parent spawns on it, mod_status prints it. */
void fe_sb_publish_conns(fe_child_t *ch)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->connections = apr_atomic_read32(&ch->conns);
        ps->lingering_close = apr_atomic_read32(&ch->lingering);
        ps->suspended = apr_atomic_read32(&ch->suspended);
    }
}

/* Idle keep-alive connections: the sum of the keep-alive queues (read
 * under tq_mutex for an exact figure). */
unsigned int fe_sb_keepalive_count(const fe_child_t *ch)
{
    unsigned int n = 0;
    int i;

    for (i = 0; i < ch->ka_qs.n; i++) {
        n += ch->ka_qs.qs[i].count;
    }
    return n;
}

/* Pre-condition: tq_mutex held.  The keep-alive count, after a worker
 * parked or took an idle keep-alive connection. */
void fe_sb_publish_keepalive(fe_child_t *ch)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->keep_alive = fe_sb_keepalive_count(ch);
    }
}

/* The counters mod_status prints in its "Async connections" table and as
 * ConnsAsync* in ?auto, on every pass of the listener. */
void fe_sb_publish(fe_child_t *ch, unsigned int keep_alive)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps == NULL) {
        return;
    }
    ch->published_conns = apr_atomic_read32(&ch->conns);
    ps->connections = ch->published_conns;
    ps->lingering_close = apr_atomic_read32(&ch->lingering);
    ps->suspended = apr_atomic_read32(&ch->suspended);
    ps->keep_alive = keep_alive;
    ps->write_completion = ch->wc_count;
    ps->wait_io = ch->waitio_count;
}

void fe_sb_set_accepting(fe_child_t *ch, int accepting)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->not_accepting = !accepting;
    }
}

void fe_sb_set_quiescing(fe_child_t *ch)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->quiescing = 1;
    }
}

/* Rows this child may start a worker in: those no other process uses. */
int fe_sb_row_free(int slot, int thread)
{
    return ap_get_scoreboard_worker_from_indexes(slot, thread)->status
           == SERVER_DEAD;
}
