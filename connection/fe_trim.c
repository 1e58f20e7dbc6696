/*
 * fe_trim.c: idle keep-alive connections give back the free pages of
 * their memory (policy/fe_idlemem.h has the arithmetic).
 *
 * Owns: the listener's pass over the keep-alive queues that finds the
 * connections idle for FE_IDLE_TRIM_AFTER and trims each once per idle
 * period.
 *
 * Must not: touch a connection a worker may take meanwhile (it is out of
 * the keep-alive set while its memory is trimmed), or hold park.mutex
 * across the madvise() calls.
 */
#include "mpm_fastevent.h"
#include "connection/fe_conn.h"
#include "connection/fe_park.h"
#include "connection/fe_trim.h"
#include "policy/fe_idlemem.h"
#include "scoreboard/fe_metrics.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_atomic.h>

APLOG_USE_MODULE(mpm_fastevent);

/*
 * Idle keep-alive connections give back the whole free pages of their
 * pool's and bucket allocator's nodes (fe_idlemem.h) once they have waited
 * FE_IDLE_TRIM_AFTER: about a third of what an idle connection keeps
 * resident.  Each is visited once per idle period (fe_tq_settle()).  The
 * connections stay parked meanwhile, and parked connections are the
 * listener's alone, so the madvise() calls run outside park.mutex, in
 * batches.  A burst of connections going idle at once is spread over
 * passes of FE_TRIM_PER_PASS.  The listener wakes when the next one is
 * due (next_wakeup).
 */
#define FE_TRIM_BATCH    64

#define FE_TRIM_PER_PASS 256

/* Put trimmed keep-alive connections back in the keep-alive poll set (a
 * request that came meanwhile is reported at once); one that cannot be
 * armed again waits in the pollset, or, failing that, is closed.  They
 * were parked all along, and parked connections only leave through the
 * listener: they still are. */
static void fe_trim_rearm(fe_child_t *ch, fe_conn_t **batch, int n)
{
    fe_conn_t *lost[FE_TRIM_BATCH];
    apr_status_t rv = APR_SUCCESS;
    int i, nlost = 0;

    apr_thread_mutex_lock(ch->park.mutex);
    for (i = 0; i < n; i++) {
        apr_status_t one = fe_park_rearm_locked(ch, batch[i]);

        if (one != APR_SUCCESS) {
            rv = one;
            lost[nlost++] = batch[i];
        }
    }
    apr_thread_mutex_unlock(ch->park.mutex);
    for (i = 0; i < nlost; i++) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->s,
                     FELOGNO(10202) "could not watch an idle keep-alive "
                     "connection again: closing it (%u open)",
                     apr_atomic_read32(&ch->count.conns));
        fe_conn_close(lost[i]);
    }
}

void fe_trim_idle(fe_child_t *ch, apr_time_t now)
{
    fe_conn_t *batch[FE_TRIM_BATCH];
    apr_time_t upto = now - FE_IDLE_TRIM_AFTER;
    apr_size_t bytes = 0;
    unsigned int total = 0, trimmed = 0;
    int n, i;

    do {
        n = 0;
        apr_thread_mutex_lock(ch->park.mutex);
        for (i = 0; i < ch->park.ka_qs.n && n < FE_TRIM_BATCH; i++) {
            fe_tq_node_t *t;

            while (n < FE_TRIM_BATCH
                   && (t = fe_tq_settle(&ch->park.ka_qs.qs[i], upto)) != NULL) {
                batch[n++] = fe_conn_of_tq(t);
            }
        }
        if (n < FE_TRIM_BATCH || total + n >= FE_TRIM_PER_PASS) {
            for (i = 0; i < ch->park.ka_qs.n; i++) {
                apr_time_t st = fe_tq_unsettled_stamp(&ch->park.ka_qs.qs[i]);

                if (st != FE_TQ_NEVER
                    && st + FE_IDLE_TRIM_AFTER < ch->park.next_wakeup) {
                    ch->park.next_wakeup = st + FE_IDLE_TRIM_AFTER;
                }
            }
        }
        /* Out of the keep-alive poll set meanwhile, so that no worker
         * takes one while its memory is trimmed. */
        for (i = 0; i < n; i++) {
            fe_park_ka_disarm_locked(ch, batch[i]);
        }
        apr_thread_mutex_unlock(ch->park.mutex);
        for (i = 0; i < n; i++) {
            fe_conn_t *cs = batch[i];

            /* HTTP/1 only: an HTTP/2 session's memory may still be
             * touched by its streams' threads. */
            if (cs->c != NULL && cs->c->master == NULL
                && strcmp(ap_get_protocol(cs->c), AP_PROTOCOL_HTTP1) == 0) {
                bytes += fe_idlemem_trim_pool(cs->p);
                bytes += fe_idlemem_trim_block(cs->ba);
                trimmed++;
            }
        }
        if (ch->ka.ep >= 0) {
            fe_trim_rearm(ch, batch, n);
        }
        total += n;
    } while (n == FE_TRIM_BATCH && total < FE_TRIM_PER_PASS);
    fe_metrics_idle_trim(ch->metrics, trimmed, bytes);
}
