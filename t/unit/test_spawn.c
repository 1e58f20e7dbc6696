/*
 * test_spawn.c: unit tests of fe_spawn_decide(), the parent's per-tick
 * process-count policy: each branch of fe_spawn.h, the exponential rate
 * fed back across ticks, the hold-off, and repair of nonsense input.
 */
#include <limits.h>
#include <string.h>

#include "policy/fe_spawn.h"
#include "fe_test.h"

/*
 * A calm server with Debian-like numbers: 6 of 16 slots used, room for
 * 6 accepting processes (150 / 25), 60 idle workers (between
 * MinSpareThreads 25 and MaxSpareThreads 75).
 */
static fe_spawn_in_t calm(void)
{
    fe_spawn_in_t in;

    memset(&in, 0, sizeof(in));
    in.idle_threads = 60;
    in.busy_threads = 40;
    in.free_slots = 12;
    in.active_daemons = 4;
    in.total_daemons = 4;
    in.active_daemons_limit = 6;
    in.min_spare = 25;
    in.max_spare = 75;
    in.max_workers = 150;
    in.max_rate = FE_SPAWN_MAX_RATE;
    in.rate = 1;
    in.hold_off = 0;
    return in;
}

/* A server short of idle workers with plenty of room to grow. */
static fe_spawn_in_t short_of_idle(void)
{
    fe_spawn_in_t in = calm();

    in.idle_threads = 5;
    in.busy_threads = 95;
    in.free_slots = 1000;
    in.active_daemons_limit = 1000;
    in.max_workers = 100000;
    return in;
}

static fe_spawn_plan_t decide(const fe_spawn_in_t *in)
{
    fe_spawn_plan_t plan;

    memset(&plan, 0x5a, sizeof(plan));  /* every field must be written */
    fe_spawn_decide(in, &plan);
    return plan;
}

/* ------------------------------------------------------- comfortable */

static void test_comfortable_band(void)
{
    static const int idle[] = {25, 60, 75};
    fe_spawn_in_t in = calm();
    fe_spawn_plan_t plan;
    size_t i;

    for (i = 0; i < sizeof(idle) / sizeof(idle[0]); i++) {
        in.idle_threads = idle[i];
        in.rate = 16;
        in.hold_off = 3;
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, 0);
        FE_ASSERT_EQ_INT(plan.retire_one, 0);
        FE_ASSERT_EQ_INT(plan.rate, 1);
        FE_ASSERT_EQ_INT(plan.hold_off, 3);
        FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
    }
}

/* ------------------------------------------------------------ retire */

typedef struct retire_case {
    const char *name;
    int active, total, free_slots, limit;
    int want_retire;
} retire_case_t;

static const retire_case_t retire_cases[] = {
    {"nothing stopping", 4, 4, 12, 6, 1},
    {"one stopping, free 6 == limit 6", 4, 5, 6, 6, 0},
    {"one stopping, free 7 > limit 6", 4, 5, 7, 6, 1},
    {"one stopping, free 2 of 16", 6, 14, 2, 6, 0},
    {"no process at all (nonsense)", 0, 0, 16, 6, 0},
    {NULL, 0, 0, 0, 0, 0}
};

static void test_retire(void)
{
    const retire_case_t *c;

    for (c = retire_cases; c->name != NULL; c++) {
        fe_spawn_in_t in = calm();
        fe_spawn_plan_t plan;

        in.idle_threads = 76;   /* MaxSpareThreads 75 + 1 */
        in.active_daemons = c->active;
        in.total_daemons = c->total;
        in.free_slots = c->free_slots;
        in.active_daemons_limit = c->limit;
        in.rate = 8;
        in.hold_off = 2;
        plan = decide(&in);
        if (plan.retire_one != c->want_retire) {
            fprintf(stderr, "  case \"%s\"\n", c->name);
        }
        FE_ASSERT_EQ_INT(plan.retire_one, c->want_retire);
        FE_ASSERT_EQ_INT(plan.spawn, 0);
        FE_ASSERT_EQ_INT(plan.rate, 1);
        FE_ASSERT_EQ_INT(plan.hold_off, 2);
        FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
    }
}

/* ------------------------------------------------- short of idle: why */

typedef struct short_case {
    const char *name;
    int idle, busy, max_workers, free_slots;
    int want_warn, want_spawn;
} short_case_t;

static const short_case_t short_cases[] = {
    {"every worker busy", 0, 150, 150, 10, FE_SPAWN_WARN_MAXWORKERS, 0},
    {"at MaxRequestWorkers, some idle", 10, 150, 150, 10,
     FE_SPAWN_WARN_NEAR_MAX, 0},
    {"at MaxRequestWorkers, one idle", 1, 150, 150, 10,
     FE_SPAWN_WARN_NEAR_MAX, 0},
    {"above MaxRequestWorkers (old generation)", 0, 175, 150, 10,
     FE_SPAWN_WARN_MAXWORKERS, 0},
    {"scoreboard full below MaxRequestWorkers", 5, 100, 150, 0,
     FE_SPAWN_WARN_SB_FULL, 0},
    {"MaxRequestWorkers wins over a full scoreboard", 0, 150, 150, 0,
     FE_SPAWN_WARN_MAXWORKERS, 0},
    {"one below MaxRequestWorkers spawns", 5, 149, 150, 10,
     FE_SPAWN_WARN_NONE, 4},
    {NULL, 0, 0, 0, 0, 0, 0}
};

static void test_short_of_idle(void)
{
    const short_case_t *c;

    for (c = short_cases; c->name != NULL; c++) {
        fe_spawn_in_t in = calm();
        fe_spawn_plan_t plan;

        in.idle_threads = c->idle;
        in.busy_threads = c->busy;
        in.max_workers = c->max_workers;
        in.free_slots = c->free_slots;
        in.active_daemons = 2;
        in.total_daemons = 2;
        in.rate = 4;
        plan = decide(&in);
        if (plan.warn != c->want_warn || plan.spawn != c->want_spawn) {
            fprintf(stderr, "  case \"%s\"\n", c->name);
        }
        FE_ASSERT_EQ_INT(plan.warn, c->want_warn);
        FE_ASSERT_EQ_INT(plan.spawn, c->want_spawn);
        FE_ASSERT_EQ_INT(plan.retire_one, 0);
        /* a warning resets the rate; spawning 4 doubles it */
        FE_ASSERT_EQ_INT(plan.rate, c->want_spawn ? 8 : 1);
    }
}

/* -------------------------------------------- how many to spawn */

typedef struct count_case {
    int free_slots, rate, active, limit;
    int want_spawn;
} count_case_t;

/* spawn = min(free_slots, rate, limit - active) */
static const count_case_t count_cases[] = {
    {2, 8, 0, 100, 2},          /* free slots bind */
    {100, 4, 0, 100, 4},        /* rate binds */
    {100, 16, 97, 100, 3},      /* room below the cap binds */
    {1, 1, 0, 1, 1},
    {5, 5, 0, 5, 5},
    {-1, 0, 0, 0, -1}
};

static void test_spawn_count(void)
{
    const count_case_t *c;

    for (c = count_cases; c->free_slots >= 0; c++) {
        fe_spawn_in_t in = short_of_idle();
        fe_spawn_plan_t plan;

        in.free_slots = c->free_slots;
        in.rate = c->rate;
        in.active_daemons = c->active;
        in.total_daemons = c->active;
        in.active_daemons_limit = c->limit;
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, c->want_spawn);
        FE_ASSERT_EQ_INT(plan.retire_one, 0);
    }
}

/* --------------------------------------- exponential rate over ticks */

static void test_doubling_sequence(void)
{
    static const int want_spawn[] = {1, 2, 4, 8, 16, 32, 32, 32};
    static const int want_rate[] = {2, 4, 8, 16, 32, 32, 32, 32};
    static const int want_warn[] = {0, 0, 0, FE_SPAWN_WARN_BUSY,
                                    FE_SPAWN_WARN_BUSY, FE_SPAWN_WARN_BUSY,
                                    FE_SPAWN_WARN_BUSY, FE_SPAWN_WARN_BUSY};
    fe_spawn_in_t in = short_of_idle();
    fe_spawn_plan_t plan;
    size_t i;

    for (i = 0; i < sizeof(want_spawn) / sizeof(want_spawn[0]); i++) {
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, want_spawn[i]);
        FE_ASSERT_EQ_INT(plan.rate, want_rate[i]);
        FE_ASSERT_EQ_INT(plan.warn, want_warn[i]);
        FE_ASSERT_EQ_INT(plan.hold_off, 0);
        in.rate = plan.rate;
        in.hold_off = plan.hold_off;
        in.active_daemons += plan.spawn;
        in.total_daemons += plan.spawn;
        in.free_slots -= plan.spawn;
    }
    /* the comfortable band brings the rate back to 1 */
    in.idle_threads = 50;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.rate, 1);
}

/* A cap that is not a power of two is reached, not overshot. */
static void test_rate_cap_not_power_of_two(void)
{
    fe_spawn_in_t in = short_of_idle();
    fe_spawn_plan_t plan;

    in.max_rate = 10;           /* e.g. FE_SPAWN_MAX_RATE / 3 buckets */
    in.rate = 8;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 8);
    FE_ASSERT_EQ_INT(plan.rate, 10);
    in.rate = plan.rate;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 10);
    FE_ASSERT_EQ_INT(plan.rate, 10);
}

/* BUSY exactly from rate 8 on, whatever was actually spawned. */
static void test_busy_threshold(void)
{
    fe_spawn_in_t in = short_of_idle();
    fe_spawn_plan_t plan;

    in.rate = 7;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
    in.rate = 8;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_BUSY);
    in.free_slots = 1;          /* spawning fewer than the rate */
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 1);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_BUSY);
}

/* ------------------------------------------------------------ hold-off */

/* A pending hold-off counts down one per spawning tick, rate frozen. */
static void test_hold_off_countdown(void)
{
    static const int want_rate[] = {1, 1, 1, 2, 4};
    static const int want_hold[] = {2, 1, 0, 0, 0};
    fe_spawn_in_t in = short_of_idle();
    fe_spawn_plan_t plan;
    size_t i;

    in.hold_off = 3;
    for (i = 0; i < sizeof(want_rate) / sizeof(want_rate[0]); i++) {
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, in.rate);
        FE_ASSERT_EQ_INT(plan.rate, want_rate[i]);
        FE_ASSERT_EQ_INT(plan.hold_off, want_hold[i]);
        in.rate = plan.rate;
        in.hold_off = plan.hold_off;
    }
}

/*
 * At the cap (active_daemons == active_daemons_limit, free slots left for
 * stopping processes): no spawn, rate back to 1 and no BUSY warning even
 * from a high rate; hold_off + 1 then - 1, so the countdown pauses.
 */
static void test_hold_off_at_cap(void)
{
    static const int hold[] = {0, 1, 5};
    fe_spawn_in_t in = short_of_idle();
    fe_spawn_plan_t plan;
    size_t i;

    in.active_daemons = 6;
    in.total_daemons = 8;
    in.active_daemons_limit = 6;
    in.free_slots = 8;
    for (i = 0; i < sizeof(hold) / sizeof(hold[0]); i++) {
        in.rate = 16;
        in.hold_off = hold[i];
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, 0);
        FE_ASSERT_EQ_INT(plan.rate, 1);
        FE_ASSERT_EQ_INT(plan.hold_off, hold[i]);
        FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
        FE_ASSERT_EQ_INT(plan.retire_one, 0);
    }

    /* over the cap (a lower limit after a restart): same, never < 0 */
    in.active_daemons = 9;
    in.total_daemons = 9;
    in.rate = 4;
    in.hold_off = 0;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.rate, 1);
    FE_ASSERT_EQ_INT(plan.hold_off, 0);
}

/* ------------------------------------------------------ nonsense input */

static void test_nonsense_rates(void)
{
    typedef struct {
        int rate, max_rate, want_spawn, want_rate;
    } rate_case_t;
    static const rate_case_t rc[] = {
        {0, 32, 1, 2},          /* rate < 1 -> 1 */
        {-7, 32, 1, 2},
        {100, 32, 32, 32},      /* rate > max_rate -> max_rate */
        {4, 0, 1, 1},           /* max_rate < 1 -> 1, rate -> 1 */
        {INT_MAX, INT_MAX, 996, INT_MAX},   /* no overflow doubling */
        {INT_MAX / 2 + 1, INT_MAX, 996, INT_MAX},
    };
    size_t i;

    for (i = 0; i < sizeof(rc) / sizeof(rc[0]); i++) {
        fe_spawn_in_t in = short_of_idle();
        fe_spawn_plan_t plan;

        in.rate = rc[i].rate;
        in.max_rate = rc[i].max_rate;
        plan = decide(&in);
        FE_ASSERT_EQ_INT(plan.spawn, rc[i].want_spawn);
        FE_ASSERT_EQ_INT(plan.rate, rc[i].want_rate);
    }
}

static void test_nonsense_counts(void)
{
    fe_spawn_in_t in;
    fe_spawn_plan_t plan;

    /* everything negative: repaired to zeros, comfortable band */
    memset(&in, 0xff, sizeof(in));      /* every field -1 */
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.retire_one, 0);
    FE_ASSERT_EQ_INT(plan.rate, 1);
    FE_ASSERT_EQ_INT(plan.hold_off, 0);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);

    /* negative free slots count as none: the scoreboard is full */
    in = short_of_idle();
    in.free_slots = -3;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_SB_FULL);

    /* total below active is read as "nothing stopping" */
    in = calm();
    in.idle_threads = 100;
    in.active_daemons = 4;
    in.total_daemons = 1;
    in.free_slots = 0;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.retire_one, 1);

    /* extreme hold_off at the cap does not overflow */
    in = short_of_idle();
    in.active_daemons = in.active_daemons_limit;
    in.hold_off = INT_MAX;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.hold_off, INT_MAX);

    /* NULL input reads as all zeros; NULL plan is ignored */
    plan = decide(NULL);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.rate, 1);
    fe_spawn_decide(&in, NULL);
}

/* No side effects: input untouched, same input gives the same plan. */
static void test_pure(void)
{
    fe_spawn_in_t in = short_of_idle(), copy;
    fe_spawn_plan_t a, b;

    in.rate = -5;               /* would be repaired in a copy only */
    in.hold_off = 2;
    copy = in;
    a = decide(&in);
    b = decide(&in);
    CU_ASSERT_TRUE(memcmp(&in, &copy, sizeof(in)) == 0);
    CU_ASSERT_TRUE(memcmp(&a, &b, sizeof(a)) == 0);
}

/* Idle threads with many keep-alive connections: keep the processes that
 * hold them. */
static void test_retire_guard(void)
{
    static const struct { int active, conns, per, want; } rows[] = {
        {4, 0, 75, 1},       /* nothing held */
        {4, 168, 75, 1},     /* 168 x 4 <= 3 x 75 x 3 = 675 */
        {4, 169, 75, 0},     /* 676 > 675 */
        {16, 1000, 75, 0},   /* ka1000: 16 x 75 = 1200 would be tight */
        {16, 800, 75, 1},    /* 3200 <= 15 x 225 = 3375 */
        {1, 1, 75, 0},       /* the last process never "has room" */
        {4, 5000, 0, 1},     /* no guard */
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fe_spawn_in_t in = calm();
        fe_spawn_plan_t plan;

        in.idle_threads = 76;
        in.active_daemons = in.total_daemons = rows[i].active;
        in.free_slots = 12;
        in.active_daemons_limit = 16;
        in.conns = rows[i].conns;
        in.conns_per_daemon = rows[i].per;
        in.rate = 4;
        plan = decide(&in);
        if (plan.retire_one != rows[i].want) {
            fprintf(stderr, "  row %zu\n", i);
        }
        FE_ASSERT_EQ_INT(plan.retire_one, rows[i].want);
        FE_ASSERT_EQ_INT(plan.spawn, 0);
        FE_ASSERT_EQ_INT(plan.rate, 1);
    }
}

/* ------------------------------------------------------ connection room */

/* The bench's ka1000: 16 processes allowed, 75 connections each, 1000
 * keep-alive clients, workers mostly idle (more than MaxSpareThreads). */
static fe_spawn_in_t ka1000(int active, int conns)
{
    fe_spawn_in_t in = calm();

    in.idle_threads = active * 25 - 10;     /* >= MinSpareThreads from 2 */
    in.busy_threads = 10;
    in.active_daemons = in.total_daemons = active;
    in.active_daemons_limit = 16;
    in.free_slots = 16 - active;
    in.min_spare = 25;
    in.max_spare = 250;
    in.max_workers = 400;
    in.conns = conns;
    in.conns_per_daemon = 75;
    return in;
}

/* Idle workers everywhere, yet the processes' accept limits are nearly
 * used: spawn what brings the room back, no warning, no retire. */
static void test_room_spawn(void)
{
    static const struct { int active, conns, want; } rows[] = {
        {12, 1000, 4},      /* 8000 / 525 -> 16 processes */
        {14, 1000, 2},
        {15, 1000, 1},      /* 15 x 525 = 7875 < 8000 */
        {16, 1000, 0},      /* the cap: the accept overflow's business */
        {14, 918, 0},       /* 7344 <= 14 x 525 = 7350 */
        {14, 919, 1},       /* 7352 > 7350 */
        {2, 1000, 14},      /* capped by free slots and the limit */
        {4, 0, 0},          /* nothing held */
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fe_spawn_in_t in = ka1000(rows[i].active, rows[i].conns);
        fe_spawn_plan_t plan = decide(&in);

        if (plan.spawn != rows[i].want) {
            fprintf(stderr, "  row %zu\n", i);
        }
        FE_ASSERT_EQ_INT(plan.spawn, rows[i].want);
        FE_ASSERT_EQ_INT(plan.retire_one, 0);
        FE_ASSERT_EQ_INT(plan.rate, 1);
        FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
        FE_ASSERT_EQ_INT(plan.hold_off, in.hold_off);
    }
}

/* The room spawn is bounded by free slots (none: nothing, and no
 * ServerLimit warning, which is about workers) and by max_rate. */
static void test_room_bounds(void)
{
    fe_spawn_in_t in = ka1000(2, 1000);
    fe_spawn_plan_t plan;

    in.free_slots = 0;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    FE_ASSERT_EQ_INT(plan.warn, FE_SPAWN_WARN_NONE);
    in.free_slots = 14;
    in.max_rate = 4;
    in.rate = 2;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 4);
    FE_ASSERT_EQ_INT(plan.rate, 1);
    in.conns_per_daemon = 0;            /* no limit known: idle rules */
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);
    /* nonsense that would overflow a 64-bit product */
    in = ka1000(2, INT_MAX);
    in.active_daemons = in.total_daemons = INT_MAX - 1;
    in.active_daemons_limit = INT_MAX;
    in.conns_per_daemon = INT_MAX;
    in.free_slots = INT_MAX;
    in.idle_threads = 100;
    plan = decide(&in);
    FE_ASSERT_EQ_INT(plan.spawn, 0);    /* 8 x conns < active x per x 7 */
}

/* Spawn for room and retire for idle never undo each other: whatever a
 * tick retires, the next would not spawn back, and after a room spawn
 * the next tick neither spawns nor retires. */
static void test_room_no_flapping(void)
{
    int active, conns;

    for (active = 1; active <= 16; active++) {
        for (conns = 0; conns <= 1400; conns += 7) {
            fe_spawn_in_t in = ka1000(active, conns);
            fe_spawn_plan_t plan = decide(&in), next;

            in.idle_threads = 300;      /* always "too many idle" */
            plan = decide(&in);
            if (plan.retire_one) {
                in.active_daemons = in.total_daemons = active - 1;
                in.free_slots++;
                next = decide(&in);
                FE_ASSERT_EQ_INT(next.spawn, 0);
            }
            else if (plan.spawn > 0) {
                in.active_daemons += plan.spawn;
                in.total_daemons = in.active_daemons;
                in.free_slots -= plan.spawn;
                next = decide(&in);
                FE_ASSERT_EQ_INT(next.spawn, 0);
                FE_ASSERT_EQ_INT(next.retire_one, 0);
            }
        }
    }
}

/* Each listener bucket keeps a process: a retire that would leave it
 * none is dropped, and an empty bucket gets one when a slot and the
 * process limit allow; with two or more processes nothing changes. */
static void test_keep_bucket(void)
{
    static const struct {
        int spawn, retire, bucket_daemons, free_slots, room;
        int want_spawn, want_retire;
    } rows[] = {
        /* spawn retire daemons free room -> spawn retire */
        { 0, 1, 1, 4, 4,   0, 0 },     /* the last one stays */
        { 0, 1, 2, 4, 4,   0, 1 },     /* one of two may go */
        { 0, 0, 0, 4, 4,   1, 0 },     /* empty: start one */
        { 0, 1, 0, 4, 4,   1, 0 },     /* empty and "retire": start one */
        { 3, 0, 0, 4, 4,   3, 0 },     /* a spawn is planned already */
        { 0, 0, 0, 0, 4,   0, 0 },     /* no free slot */
        { 0, 0, 0, 4, 0,   0, 0 },     /* at the process limit */
        { 0, 0, -5, 4, 4,  1, 0 },     /* nonsense count: as empty */
        { 0, 0, 3, 4, 4,   0, 0 },     /* nothing to do */
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fe_spawn_plan_t plan = {0};

        plan.spawn = rows[i].spawn;
        plan.retire_one = rows[i].retire;
        fe_spawn_keep_bucket(&plan, rows[i].bucket_daemons,
                             rows[i].free_slots, rows[i].room);
        FE_ASSERT_EQ_INT(plan.spawn, rows[i].want_spawn);
        FE_ASSERT_EQ_INT(plan.retire_one, rows[i].want_retire);
    }
    fe_spawn_keep_bucket(NULL, 0, 1, 1);     /* no crash */
}

static const fe_test_case_t cases[] = {
    {"comfortable band: nothing, rate 1", test_comfortable_band},
    {"retire one, unless processes are stopping", test_retire},
    {"no retire while the others could not hold the connections",
     test_retire_guard},
    {"short of idle: MaxRequestWorkers, scoreboard", test_short_of_idle},
    {"spawn = min(free, rate, room)", test_spawn_count},
    {"short of connection room: spawn, idle or not", test_room_spawn},
    {"connection room: slots, max_rate, no limit, overflow",
     test_room_bounds},
    {"room spawn and idle retire do not flap", test_room_no_flapping},
    {"rate doubles 1..max_rate over ticks", test_doubling_sequence},
    {"rate cap that is not a power of two", test_rate_cap_not_power_of_two},
    {"BUSY warning from rate 8", test_busy_threshold},
    {"hold_off counts down while spawning", test_hold_off_countdown},
    {"at the cap: rate 1, hold_off paused", test_hold_off_at_cap},
    {"nonsense rates are repaired", test_nonsense_rates},
    {"nonsense counts are repaired", test_nonsense_counts},
    {"no side effects", test_pure},
    {"every listener bucket keeps a process", test_keep_bucket},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("spawn", cases, argc, argv);
}
