/*
 * fe_sb.c: every read and write mpm_fastevent makes of the shared
 * scoreboard that mod_status reads (fe_sb.h).
 *
 * Writers: a worker writes its own row; the listener writes all of its
 * child's rows when the child starts stopping (GRACEFUL) and the process
 * row's counters on every pass; any thread publishes the connection
 * counters when one changes; the parent writes pid, generation and the
 * reaping reset of the process rows, and marks the rows of a reaped
 * process dead.  Readers: the parent (the spawn policy's counts), the
 * listener (siblings' room, the number of processes of its bucket), the
 * main thread (CPU placement), the status handler (which rows are live).
 *
 * Must not: be called with a slot/thread outside the scoreboard; decide
 * anything (callers pass what to write, and decide from what is read).
 */
#include "mpm_fastevent.h"
#include "scoreboard/fe_metrics.h"
#include "scoreboard/fe_sb.h"
#include "policy/fe_tq.h"
#include "ap_mpm.h"

#include <apr_atomic.h>

APLOG_USE_MODULE(mpm_fastevent);

/* ------------------------------------------------------------ parent */

int fe_sb_create(apr_pool_t *p)
{
    return ap_run_pre_mpm(p, SB_SHARED);
}

void fe_sb_set_generation(ap_generation_t gen)
{
    ap_scoreboard_image->global->running_generation = gen;
}

void fe_sb_global_tick(void)
{
    ap_update_global_status();
}

void fe_sb_process_claim(int slot, pid_t pid, ap_generation_t gen)
{
    process_score *ps = ap_get_scoreboard_process(slot);

    ps->pid = pid;
    ps->generation = gen;
    ps->quiescing = 0;
    ps->not_accepting = 0;
}

void fe_sb_process_release(int slot)
{
    process_score *ps = ap_get_scoreboard_process(slot);

    ps->pid = 0;
    ps->quiescing = 0;
    ps->not_accepting = 0;
}

/* ws->pid is written by children: callers use it to decide which rows
 * to mark dead, never whom to signal. */
pid_t fe_sb_row_pid(int slot, int thread)
{
    return ap_get_scoreboard_worker_from_indexes(slot, thread)->pid;
}

void fe_sb_row_dead(int slot, int thread)
{
    ap_update_child_status_from_indexes(slot, thread, SERVER_DEAD, NULL);
}

static int fe_status_valid(int status)
{
    return status >= SERVER_DEAD && status < SERVER_NUM_STATUS;
}

void fe_sb_process_view(int slot, int threads, fe_sb_view_t *v)
{
    process_score *ps = ap_get_scoreboard_process(slot);
    int j;

    v->quiescing = ps->quiescing != 0;
    v->not_accepting = ps->not_accepting != 0;
    v->connections = ps->connections;
    v->lingering = ps->lingering_close;
    v->idle = v->busy = v->started = 0;
    for (j = 0; j < threads; j++) {
        int st = ap_get_scoreboard_worker_from_indexes(slot, j)->status;

        if (!fe_status_valid(st)) {
            continue;
        }
        v->idle += st <= SERVER_READY;
        v->busy += st >= SERVER_READY && st < SERVER_GRACEFUL;
        v->started += st > SERVER_STARTING;
    }
}

/* ------------------------------------------------------------ children */

void fe_sb_reopen(apr_pool_t *p)
{
    ap_reopen_scoreboard(p, NULL, 0);
}

pid_t fe_sb_process_pid(int slot)
{
    return ap_get_scoreboard_process(slot)->pid;
}

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

void fe_sb_all_workers(fe_child_t *ch, int status)
{
    int i;

    for (i = 0; i < ch->wk.n; i++) {
        if (ch->wk.threads[i] != NULL) {
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
 * listener (fdqueue/fe_kaset.c), so its passes alone would leave the row stale
 * for seconds -- and siblings balance accepts on it (fe_sibling_room),
 * the parent spawns on it, mod_status prints it. */
void fe_sb_publish_conns(fe_child_t *ch)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->connections = apr_atomic_read32(&ch->count.conns);
        ps->lingering_close = apr_atomic_read32(&ch->count.lingering);
        ps->suspended = apr_atomic_read32(&ch->count.suspended);
    }
}

/* Pre-condition: park.mutex held.  The keep-alive count, after a worker
 * parked or took an idle keep-alive connection. */
void fe_sb_publish_keepalive(fe_child_t *ch)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps != NULL) {
        ps->keep_alive = fe_tqset_count(&ch->park.ka_qs);
    }
}

/* The counters mod_status prints in its "Async connections" table and as
 * ConnsAsync* in ?auto, on every pass of the listener. */
void fe_sb_publish(fe_child_t *ch, unsigned int keep_alive)
{
    process_score *ps = fe_sb_own_row(ch);

    if (ps == NULL) {
        /* A newer process took our slot over: we report as a ghost. */
        if (!ch->ghost) {
            ch->ghost = 1;
            ch->metrics = fe_metrics_ghost(ch->metrics, ch->slot);
        }
        fe_metrics_ghost_counts(ch->metrics,
                                apr_atomic_read32(&ch->count.conns),
                                keep_alive, apr_atomic_read32(
                                    &ch->count.lingering),
                                ch->park.wc_count);
        return;
    }
    ch->count.published = apr_atomic_read32(&ch->count.conns);
    ps->connections = ch->count.published;
    ps->lingering_close = apr_atomic_read32(&ch->count.lingering);
    ps->suspended = apr_atomic_read32(&ch->count.suspended);
    ps->keep_alive = keep_alive;
    ps->write_completion = ch->park.wc_count;
    ps->wait_io = ch->park.waitio_count;
}

void fe_sb_set_accepting(fe_child_t *ch, fe_sb_accepting_e accepting)
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

int fe_sb_row_free(int slot, int thread)
{
    return ap_get_scoreboard_worker_from_indexes(slot, thread)->status
           == SERVER_DEAD;
}

void fe_sb_handle_create(ap_sb_handle_t **sbh, apr_pool_t *p, int slot,
                         int thread)
{
    ap_create_sb_handle(sbh, p, slot, thread);
}

void fe_sb_handle_move(ap_sb_handle_t *sbh, int slot, int thread)
{
    ap_update_sb_handle(sbh, slot, thread);
}

void fe_sb_conn_status(conn_rec *c, int status)
{
    ap_update_child_status(c->sbh, status, NULL);
}

/* ------------------------------------------------------------ siblings */

/* Same bucket, same generation as @a own, not stopping. */
static int fe_sb_sibling(const fe_child_t *ch, int i,
                         const process_score *own, const process_score *ps)
{
    return i % fe_g.num_buckets == ch->bucket && ps->pid != 0
           && !ps->quiescing && ps->generation == own->generation;
}

int fe_sb_bucket_processes(fe_child_t *ch)
{
    process_score *own = ap_get_scoreboard_process(ch->slot);
    int i, n = 0;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        n += fe_sb_sibling(ch, i, own, ap_get_scoreboard_process(i));
    }
    return n;
}

unsigned int fe_sb_sibling_room(fe_child_t *ch)
{
    process_score *own = ap_get_scoreboard_process(ch->slot);
    unsigned int best = 0, tpc = (unsigned int)ch->wk.n;
    int i;

    for (i = 0; i < fe_g.lim.server_limit; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        unsigned int active;

        if (i == ch->slot || !fe_sb_sibling(ch, i, own, ps)
            || ps->not_accepting) {
            continue;
        }
        /* Lingering and suspended connections (a proxied request
         * waiting for its place, fe_backend.c) hold no worker. */
        active = ps->connections > ps->lingering_close + ps->suspended
                 ? ps->connections - ps->lingering_close - ps->suspended
                 : 0;
        if (active < tpc && tpc - active > best) {
            best = tpc - active;
        }
    }
    return best;
}

void fe_sb_live_processes(ap_generation_t gen, unsigned char *live, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        process_score *ps = ap_get_scoreboard_process(i);

        live[i] = ps->pid != 0 && !ps->quiescing && ps->generation == gen;
    }
}
