/*
 * fuzz_spawn.c: libFuzzer harness for fe_spawn.[ch], the parent's
 * process-count policy (one fe_spawn_decide() per tick).  The input is a
 * sequence of scoreboard snapshots; the rate and hold-off travel from one
 * plan to the next input as the parent's retained data does, with the
 * snapshot fields fuzzed (nonsense values included: the policy "never
 * fails, tolerates nonsense input").
 *
 * Invariants (abort() on violation), from fe_spawn.h, on the input as
 * the header says it is read (negative counts as 0, total below active as
 * active, rate and max_rate at least 1, rate at most max_rate):
 *  - 0 <= spawn <= min(free_slots, rate, active_daemons_limit -
 *    active_daemons) (0 when that is negative), with max_rate for rate
 *    when the spawn is for connection room; retire_one is 0 or 1 and
 *    only with idle > max_spare and an active process; never both;
 *  - "short of room" is conns x 8 > active x conns_per_daemon x 7 with
 *    conns_per_daemon > 0 and 0 < active < active_daemons_limit: then,
 *    with idle >= min_spare, a spawn (free slot permitting), never a
 *    retire, rate 1, no warning; a room spawn never overshoots (with
 *    one process fewer than planned there would still be too little
 *    room); and a retire never leaves the server short of room;
 *  - 1 <= new rate <= max_rate; hold_off never grows and drops by at most
 *    one per tick; warn is a FE_SPAWN_WARN_* value;
 *  - idle within [min_spare, max_spare] and not short of room: no
 *    action, rate 1, no warning, hold_off unchanged;
 *  - MAXWORKERS / NEAR_MAX only with idle < min_spare and busy >=
 *    max_workers (MAXWORKERS exactly when idle is 0 then); SB_FULL only
 *    with no free slot; BUSY only while spawning at a rate >= 8;
 *  - deterministic, and a NULL input decides like an all-zero one.
 */
#include "policy/fe_spawn.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int at_least(int v, int lo)
{
    return v < lo ? lo : v;
}

/* Short of connection room with @a extra more active processes (the
 * header's rule, restated here in 64-bit arithmetic). */
static int fz_short_of_room(const fe_spawn_in_t *s, int extra)
{
    long long a = (long long)s->active_daemons + extra;

    return s->conns_per_daemon > 0 && a > 0
           && a < s->active_daemons_limit
           && (unsigned __int128)s->conns * 8
              > (unsigned __int128)a * (unsigned)s->conns_per_daemon * 7;
}

static void check_plan(const fe_spawn_in_t *in, const fe_spawn_plan_t *p)
{
    fe_spawn_in_t s = *in;
    fe_spawn_plan_t again;
    long long room, cap;
    int short_room;

    s.idle_threads = at_least(s.idle_threads, 0);
    s.busy_threads = at_least(s.busy_threads, 0);
    s.free_slots = at_least(s.free_slots, 0);
    s.active_daemons = at_least(s.active_daemons, 0);
    s.total_daemons = at_least(s.total_daemons, s.active_daemons);
    s.active_daemons_limit = at_least(s.active_daemons_limit, 0);
    s.min_spare = at_least(s.min_spare, 0);
    s.max_spare = at_least(s.max_spare, 0);
    s.max_workers = at_least(s.max_workers, 0);
    s.hold_off = at_least(s.hold_off, 0);
    s.max_rate = at_least(s.max_rate, 1);
    s.rate = at_least(s.rate, 1);
    if (s.rate > s.max_rate) {
        s.rate = s.max_rate;
    }

#define PCHECK(cond, what) FZ_CHECK(cond, "%s: idle %d busy %d free %d "    \
    "active %d total %d adl %d min_spare %d max_spare %d max_workers %d "   \
    "max_rate %d rate %d hold_off %d -> spawn %d retire %d rate %d "        \
    "hold_off %d warn %d", what, in->idle_threads, in->busy_threads,        \
    in->free_slots, in->active_daemons, in->total_daemons,                  \
    in->active_daemons_limit, in->min_spare, in->max_spare,                 \
    in->max_workers, in->max_rate, in->rate, in->hold_off, p->spawn,        \
    p->retire_one, p->rate, p->hold_off, p->warn)

    s.conns = at_least(s.conns, 0);
    s.conns_per_daemon = at_least(s.conns_per_daemon, 0);
    short_room = fz_short_of_room(&s, 0);
    room = (long long)s.active_daemons_limit - s.active_daemons;
    cap = s.free_slots;
    if ((short_room && s.idle_threads >= s.min_spare ? s.max_rate : s.rate)
        < cap) {
        cap = short_room && s.idle_threads >= s.min_spare ? s.max_rate
                                                          : s.rate;
    }
    if (room < cap) {
        cap = room;
    }
    if (cap < 0) {
        cap = 0;
    }
    PCHECK(p->spawn >= 0 && p->spawn <= cap, "spawn out of bounds");
    PCHECK(p->retire_one == 0 || p->retire_one == 1, "retire_one not 0/1");
    PCHECK(!p->retire_one || (s.idle_threads > s.max_spare
                              && s.active_daemons > 0),
           "retire without too many idle threads / an active process");
    PCHECK(!(p->retire_one && p->spawn > 0), "both spawn and retire");
    PCHECK(!p->retire_one || s.conns_per_daemon <= 0
           || (unsigned long long)(s.conns > 0 ? s.conns : 0) * 4u
              <= (unsigned long long)(s.active_daemons - 1)
                 * (unsigned long long)s.conns_per_daemon * 3u,
           "retire while the other processes could not hold the "
           "connections");
    PCHECK(p->rate >= 1 && p->rate <= s.max_rate, "rate out of [1, max]");
    PCHECK(p->hold_off == s.hold_off || p->hold_off == s.hold_off - 1,
           "hold_off grew or dropped by more than one");
    PCHECK(p->warn >= FE_SPAWN_WARN_NONE && p->warn <= FE_SPAWN_WARN_BUSY,
           "unknown warning");
    if (s.idle_threads >= s.min_spare && s.idle_threads <= s.max_spare
        && !short_room) {
        PCHECK(p->spawn == 0 && !p->retire_one && p->rate == 1
               && p->warn == FE_SPAWN_WARN_NONE && p->hold_off == s.hold_off,
               "action in the comfortable band");
    }
    if (s.idle_threads >= s.min_spare && short_room) {
        PCHECK(!p->retire_one && p->rate == 1
               && p->warn == FE_SPAWN_WARN_NONE && p->hold_off == s.hold_off
               && (p->spawn > 0) == (s.free_slots > 0),
               "short of room: spawn if a slot is free, nothing else");
        PCHECK(p->spawn == 0 || fz_short_of_room(&s, p->spawn - 1),
               "room spawn overshoots");
    }
    if (p->retire_one) {
        PCHECK(!fz_short_of_room(&s, -1), "retire leaves too little room");
    }
    if (p->spawn > 0) {
        PCHECK((s.idle_threads < s.min_spare
                && s.busy_threads < s.max_workers)
               || (s.idle_threads >= s.min_spare && short_room),
               "spawn without need");
    }
    if (p->warn == FE_SPAWN_WARN_MAXWORKERS
        || p->warn == FE_SPAWN_WARN_NEAR_MAX) {
        PCHECK(s.idle_threads < s.min_spare
               && s.busy_threads >= s.max_workers
               && (p->warn == FE_SPAWN_WARN_MAXWORKERS)
                  == (s.idle_threads == 0), "MAXWORKERS/NEAR_MAX misplaced");
    }
    if (p->warn == FE_SPAWN_WARN_SB_FULL) {
        PCHECK(s.free_slots == 0 && s.idle_threads < s.min_spare,
               "SB_FULL with free slots");
    }
    if (p->warn == FE_SPAWN_WARN_BUSY) {
        PCHECK(p->spawn > 0 && s.rate >= 8, "BUSY without spawning fast");
    }
    if (s.idle_threads > s.max_spare && !short_room) {
        PCHECK(p->rate == 1 && p->spawn == 0, "retire band resets the rate");
    }
    fe_spawn_decide(in, &again);
    PCHECK(memcmp(&again, p, sizeof(again)) == 0, "not deterministic");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader_t r;
    fe_spawn_in_t in;
    fe_spawn_plan_t plan, zero_plan, null_plan;
    int ticks = 0;

    /* a NULL input is an all-zero one; a NULL plan is ignored */
    memset(&in, 0, sizeof(in));
    fe_spawn_decide(&in, &zero_plan);
    fe_spawn_decide(NULL, &null_plan);
    FZ_CHECK(memcmp(&zero_plan, &null_plan, sizeof(plan)) == 0,
             "NULL input differs from an all-zero input");
    fe_spawn_decide(&in, NULL);

    fz_init(&r, data, size);
    in.rate = 1;
    in.hold_off = 0;
    in.max_rate = FE_SPAWN_MAX_RATE;
    while (!fz_empty(&r) && ticks++ < 256) {
        uint8_t sel = fz_u8(&r);

        in.idle_threads = fz_int(&r);
        in.busy_threads = fz_int(&r);
        in.free_slots = fz_int(&r);
        in.active_daemons = fz_int(&r);
        in.total_daemons = (sel & 1) || in.active_daemons > 1000000
                           ? fz_int(&r)
                           : in.active_daemons + (fz_u8(&r) & 3);
        in.active_daemons_limit = fz_int(&r);
        in.min_spare = fz_int(&r);
        in.max_spare = fz_int(&r);
        in.max_workers = fz_int(&r);
        if (sel & 8) {                  /* the retire guard */
            in.conns = fz_int(&r);
            in.conns_per_daemon = fz_int(&r);
        }
        else {
            in.conns = in.conns_per_daemon = 0;
        }
        if (sel & 2) {                  /* nonsense retained data */
            in.max_rate = fz_int(&r);
            in.rate = fz_int(&r);
            in.hold_off = fz_int(&r);
        }
        memset(&plan, 0x5a, sizeof(plan));
        fe_spawn_decide(&in, &plan);
        check_plan(&in, &plan);
        /* the retained data for the next tick */
        in.rate = plan.rate;
        in.hold_off = plan.hold_off;
        if ((sel & 4) && in.hold_off < 1000) {
            in.hold_off += fz_u8(&r) % 4;   /* crash backoff adds hold-off */
        }
    }
    return 0;
}
