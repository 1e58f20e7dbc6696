/*
 * fe_sched.c: when the children run under SCHED_BATCH (fe_sched.h).
 *
 * Must not: read the clock or /proc (process/fe_cpu.c does), or flap:
 * off at the first busy sample, on again only after a quiet stretch.
 */
#include "policy/fe_sched.h"

void fe_sched_init(fe_sched_state_t *st)
{
    st->batch = 1;
    st->quiet = 0;
}

int fe_sched_foreign(unsigned long long d_busy, unsigned long long d_total,
                     unsigned long long d_server)
{
    unsigned long long other;

    if (d_total == 0 || d_busy > d_total) {
        return 0;
    }
    other = d_busy > d_server ? d_busy - d_server : 0;
    return (int)((double)other * 100.0 / (double)d_total);
}

int fe_sched_next(fe_sched_state_t *st, int foreign)
{
    if (foreign >= FE_SCHED_FOREIGN_HIGH) {
        st->batch = 0;
        st->quiet = 0;
    }
    else if (!st->batch) {
        st->quiet = foreign < FE_SCHED_FOREIGN_LOW ? st->quiet + 1 : 0;
        if (st->quiet >= FE_SCHED_QUIET_SAMPLES) {
            st->batch = 1;
            st->quiet = 0;
        }
    }
    return st->batch;
}
