/*
 * fe_spawn.c: the parent's process-count policy, one decision per tick
 * (the rules are listed in fe_spawn.h).
 *
 * Owns: the arithmetic from scoreboard counts to "spawn n / retire one /
 * warn", and the exponential spawn rate with its hold-off countdown.
 *
 * Must not: include httpd headers, read the clock, log, fork, or keep any
 * state of its own.  The rate and hold-off live in the caller's retained
 * data and travel through fe_spawn_in_t / fe_spawn_plan_t, so the same
 * input always yields the same plan and nothing else is touched.
 */
#include <stddef.h>

#include "policy/fe_spawn.h"

/* Rates at or above this mean the server is struggling to keep up. */
#define FE_SPAWN_BUSY_RATE 8

static int at_least(int v, int lo)
{
    return v < lo ? lo : v;
}

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;

    return m < c ? m : c;
}

/*
 * Copy *in into *s with nonsense repaired: counts below 0 become 0, the
 * rate and its cap become at least 1 with rate <= max_rate, and a total
 * below the active count (impossible: total includes active) is raised.
 */
static void sanitize(const fe_spawn_in_t *in, fe_spawn_in_t *s)
{
    *s = *in;
    s->idle_threads = at_least(s->idle_threads, 0);
    s->busy_threads = at_least(s->busy_threads, 0);
    s->free_slots = at_least(s->free_slots, 0);
    s->active_daemons = at_least(s->active_daemons, 0);
    s->total_daemons = at_least(s->total_daemons, s->active_daemons);
    s->active_daemons_limit = at_least(s->active_daemons_limit, 0);
    s->min_spare = at_least(s->min_spare, 0);
    s->max_spare = at_least(s->max_spare, 0);
    s->max_workers = at_least(s->max_workers, 0);
    s->hold_off = at_least(s->hold_off, 0);
    s->max_rate = at_least(s->max_rate, 1);
    s->conns = at_least(s->conns, 0);
    s->conns_per_daemon = at_least(s->conns_per_daemon, 0);
    s->rate = at_least(s->rate, 1);
    if (s->rate > s->max_rate) {
        s->rate = s->max_rate;
    }
}

/*
 * Too many idle threads.  (The connection guard: see fe_spawn.h.)  A
 * stopping process keeps its scoreboard slot
 * until it has drained, so retiring while another is still stopping could
 * eat the headroom between active_daemons_limit and ServerLimit that new
 * processes need; it is allowed only when that headroom is ample.  The
 * active_daemons > 0 test only matters for nonsense input.
 */
static int fe_others_hold(const fe_spawn_in_t *s)
{
    /* unsigned 64-bit: at most (2^31)^2 x 3 < 2^64 (fuzz_spawn found the
     * signed overflow) */
    unsigned long long room;

    if (s->conns_per_daemon <= 0) {
        return 1;
    }
    room = (unsigned long long)(s->active_daemons > 0 ? s->active_daemons - 1
                                                      : 0)
           * (unsigned long long)s->conns_per_daemon * 3u;
    return (unsigned long long)s->conns * 4u <= room;
}

static void plan_retire(const fe_spawn_in_t *s, fe_spawn_plan_t *plan)
{
    plan->retire_one = s->active_daemons > 0
                       && (s->active_daemons == s->total_daemons
                           || s->free_slots > s->active_daemons_limit)
                       && fe_others_hold(s);
    plan->rate = 1;
}

/*
 * Too few idle threads and room to grow.  At the cap fe_spawn.h says: rate
 * back to 1, hold_off + 1, then the usual "hold_off > 0: decrement it".
 * The increment and the decrement cancel, so at the cap hold_off is left
 * as it is (no overflow at INT_MAX) and the rate is not doubled: a pending
 * hold-off does not run down while the server sits at the cap.  The BUSY
 * test sees the reset rate, so the cap itself never warns BUSY.
 */
static void plan_spawn(const fe_spawn_in_t *s, fe_spawn_plan_t *plan)
{
    int room = s->active_daemons_limit - s->active_daemons;
    int n = min3(s->free_slots, s->rate, room);
    int rate = s->rate, hold_off = s->hold_off;

    if (n <= 0) {
        n = 0;
        rate = 1;
    }
    else if (hold_off > 0) {
        hold_off--;
    }
    else {
        rate = (rate > s->max_rate / 2) ? s->max_rate : rate * 2;
    }
    if (s->rate >= FE_SPAWN_BUSY_RATE && n > 0) {
        plan->warn = FE_SPAWN_WARN_BUSY;
    }
    plan->spawn = n;
    plan->rate = rate;
    plan->hold_off = hold_off;
}

/*
 * Short of connection room (fe_spawn.h): the active processes' accept
 * limits add up to less than 8/7 of the connections they hold, below the
 * process cap.  How many more processes bring the room back above that:
 * the smallest a with conns x 8 <= a x conns_per_daemon x 7, less the
 * active ones; 0 when there is room or no limit is known.  64-bit, and
 * divided rather than multiplied: active x conns_per_daemon x 7 can pass
 * 2^64 on nonsense input.
 */
static int fe_room_needed(const fe_spawn_in_t *s)
{
    unsigned long long want, per7, a;

    if (s->conns_per_daemon <= 0 || s->active_daemons <= 0
        || s->active_daemons >= s->active_daemons_limit) {
        return 0;
    }
    want = (unsigned long long)s->conns * 8u;
    per7 = (unsigned long long)s->conns_per_daemon * 7u;
    a = (want + per7 - 1) / per7;           /* no product of two counts */
    if (a <= (unsigned long long)s->active_daemons) {
        return 0;
    }
    a -= (unsigned long long)s->active_daemons;
    return a > (unsigned long long)s->active_daemons_limit
           ? s->active_daemons_limit : (int)a;
}

/* Spawn for connection room: no warning (not a shortage of workers), the
 * rate left at 1, at most max_rate a tick, nothing without a free slot. */
static void plan_room(const fe_spawn_in_t *s, int needed,
                      fe_spawn_plan_t *plan)
{
    int n = min3(needed, s->free_slots,
                 s->active_daemons_limit - s->active_daemons);

    plan->spawn = n < s->max_rate ? n : s->max_rate;
    if (plan->spawn < 0) {
        plan->spawn = 0;
    }
}

/* Too few idle threads: find out why before spawning. */
static void plan_short(const fe_spawn_in_t *s, fe_spawn_plan_t *plan)
{
    if (s->busy_threads >= s->max_workers) {
        plan->warn = s->idle_threads == 0 ? FE_SPAWN_WARN_MAXWORKERS
                                          : FE_SPAWN_WARN_NEAR_MAX;
        plan->rate = 1;
    }
    else if (s->free_slots == 0) {
        plan->warn = FE_SPAWN_WARN_SB_FULL;
        plan->rate = 1;
    }
    else {
        plan_spawn(s, plan);
    }
}

void fe_spawn_keep_bucket(fe_spawn_plan_t *plan, int bucket_daemons,
                          int free_slots, int room)
{
    if (plan == NULL) {
        return;
    }
    if (bucket_daemons <= 1) {
        plan->retire_one = 0;
    }
    if (bucket_daemons <= 0 && plan->spawn <= 0 && free_slots > 0
        && room > 0) {
        plan->spawn = 1;
    }
}

void fe_spawn_decide(const fe_spawn_in_t *in, fe_spawn_plan_t *plan)
{
    static const fe_spawn_in_t zero;
    fe_spawn_in_t s;
    int needed;

    if (plan == NULL) {
        return;
    }
    sanitize(in != NULL ? in : &zero, &s);
    plan->spawn = 0;
    plan->retire_one = 0;
    plan->rate = 1;             /* the comfortable band resets the rate */
    plan->hold_off = s.hold_off;
    plan->warn = FE_SPAWN_WARN_NONE;

    needed = fe_room_needed(&s);
    if (needed > 0 && s.idle_threads >= s.min_spare) {
        plan_room(&s, needed, plan);
    }
    else if (s.idle_threads > s.max_spare) {
        plan_retire(&s, plan);
    }
    else if (s.idle_threads < s.min_spare) {
        plan_short(&s, plan);
    }
}
