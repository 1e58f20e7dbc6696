/* test_deadline.c: the header deadline, as mod_reqtimeout's header stage
 * would allow it (fe_deadline.c). */
#include <string.h>

#include "fe_test.h"
#include "policy/fe_deadline.h"

#define S(x) apr_time_from_sec(x)

/* Debian's reqtimeout.conf: 20 s, one more per 500 bytes, at most 40 s. */
static void test_default(void)
{
    fe_deadline_t d;

    fe_deadline_reqtimeout_default(&d);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, 0), 1000 + S(20));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, 500), 1000 + S(21));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, 250), 1000 + S(20) + S(1) / 2);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, 10000), 1000 + S(40));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, 9999), 1000 + S(40) - 2000);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 1000, (apr_size_t)-1), 1000 + S(40));
}

static void test_fixed(void)
{
    fe_deadline_t d;

    fe_deadline_fixed(&d, S(300));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 0), S(300));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 1 << 20), S(300));
    fe_deadline_fixed(&d, -5);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 7, 0), 7);
}

/* The argument strings of RequestReadTimeout, as its documentation
 * writes them. */
static void test_parse(void)
{
    static const struct {
        const char *args;
        int off;                      /* -1: untouched */
        long timeout, max;            /* seconds; -1: untouched, max -2:
                                         no cap */
        apr_size_t bytes_for_1s;      /* 0: no extension */
    } rows[] = {
        {"header=20-40,MinRate=500", 0, 20, 40, 500},
        {"header=20-40,minrate=500 body=20,MinRate=500", 0, 20, 40, 500},
        {"handshake=5 header=10 body=30", 0, 10, 10, 0},
        {"HEADER=2-4,MINRATE=100", 0, 2, 4, 100},
        {"body=10", -1, -1, -1, 0},
        {"header=0", 1, -1, -1, 0},
        {"header=10,MinRate=1000", 0, 10, -2, 1000},   /* no cap */
        {"header=3-3", 0, 3, 3, 0},
        {"  header=7-9,MinRate=1  ", 0, 7, 9, 1},
    };
    size_t i;

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fe_deadline_t d, before;
        int off = -1;
        const char *err;

        fe_deadline_fixed(&d, S(99));
        before = d;
        err = fe_deadline_parse(rows[i].args, "header", &d, &off,
                                fe_test_pool);
        CU_ASSERT_PTR_NULL(err);
        FE_ASSERT_EQ_INT(off, rows[i].off);
        if (rows[i].timeout < 0) {
            FE_ASSERT_EQ_U64(d.timeout, before.timeout);
            continue;
        }
        FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 0), S(rows[i].timeout));
        if (rows[i].bytes_for_1s > 0) {
            FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, rows[i].bytes_for_1s),
                             S(rows[i].timeout + 1));
        }
        FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 1000000),
                         rows[i].max == -2
                         ? S(rows[i].timeout + 1000000 / rows[i].bytes_for_1s)
                         : S(rows[i].max));
    }
}

static void test_parse_errors(void)
{
    static const char *const bad[] = {
        "header=", "header=abc", "header=20-10", "header=20-x",
        "header=20,MaxRate=5", "header=20,MinRate=0", "header=20,MinRate=",
        "header=20x", "header=-5", "header=20-40,MinRate=500,",
    };
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fe_deadline_t d;
        int off = 7;
        const char *err;

        fe_deadline_fixed(&d, S(99));
        err = fe_deadline_parse(bad[i], "header", &d, &off, fe_test_pool);
        CU_ASSERT_PTR_NOT_NULL(err);
        if (err != NULL) {
            CU_ASSERT_PTR_NOT_NULL(strstr(err, "RequestReadTimeout header="));
        }
        FE_ASSERT_EQ_U64(d.timeout, S(99));    /* untouched */
        FE_ASSERT_EQ_INT(off, 7);
    }
}

/* The body stage: read the same way, its own name; default 20 s growing
 * with MinRate 500 without a cap. */
static void test_body(void)
{
    fe_deadline_t d;
    int off = -1;

    fe_deadline_reqtimeout_body(&d);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 0), S(20));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 100000), S(220));
    CU_ASSERT_PTR_NULL(fe_deadline_parse("header=20-40,MinRate=500 "
                                         "body=10,MinRate=500", "body", &d,
                                         &off, fe_test_pool));
    FE_ASSERT_EQ_INT(off, 0);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 5000), S(20));
    CU_ASSERT_PTR_NULL(fe_deadline_parse("body=5-8,MinRate=100", "body", &d,
                                         &off, fe_test_pool));
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 0, 100000), S(8));
    CU_ASSERT_PTR_NULL(fe_deadline_parse("body=0", "body", &d, &off,
                                         fe_test_pool));
    FE_ASSERT_EQ_INT(off, 1);
    /* header= does not touch the body stage, nor bodyx= */
    off = -1;
    CU_ASSERT_PTR_NULL(fe_deadline_parse("header=1 bodyx=3", "body", &d,
                                         &off, fe_test_pool));
    FE_ASSERT_EQ_INT(off, -1);
    {
        const char *err = fe_deadline_parse("body=x", "body", &d, &off,
                                            fe_test_pool);

        CU_ASSERT_PTR_NOT_NULL_FATAL(err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "RequestReadTimeout body="));
    }
    /* no cap: no overflow either, the extension stops at NO_MAX */
    fe_deadline_reqtimeout_body(&d);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 5, (apr_size_t)-1),
                     5 + S(20) + FE_DEADLINE_NO_MAX);
    FE_ASSERT_EQ_U64(fe_deadline_at(&d, 5, (apr_size_t)1 << 40),
                     5 + S(20) + FE_DEADLINE_NO_MAX);
}

/* Head phase from accept, then the body phase: rate-based from the
 * head's completion, or idle from the last read. */
static void test_intake_due(void)
{
    fe_deadline_t head, body;
    fe_intake_clock_t ic = { S(100), 300, 0, 0, S(101) };

    fe_deadline_reqtimeout_default(&head);
    fe_deadline_reqtimeout_body(&body);
    FE_ASSERT_EQ_U64(fe_intake_due(&head, &body, 0, &ic),
                     S(120) + S(300) / 500);
    ic.head_end = 200;
    ic.head_done = S(102);
    ic.bytes = 200 + 1000;
    FE_ASSERT_EQ_U64(fe_intake_due(&head, &body, 0, &ic), S(102 + 20 + 2));
    ic.bytes = 100;      /* fewer than the head: no negative body */
    FE_ASSERT_EQ_U64(fe_intake_due(&head, &body, 0, &ic), S(122));
    fe_deadline_fixed(&body, S(10));
    ic.last_read = S(150);
    FE_ASSERT_EQ_U64(fe_intake_due(&head, &body, 1, &ic), S(160));
}

static const fe_test_case_t cases[] = {
    {"mod_reqtimeout's default header stage", test_default},
    {"fixed deadline (Timeout)", test_fixed},
    {"RequestReadTimeout arguments", test_parse},
    {"bad arguments are refused, nothing changed", test_parse_errors},
    {"the body stage", test_body},
    {"a request read without a worker: head, then body", test_intake_due},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("deadline", cases, argc, argv);
}
