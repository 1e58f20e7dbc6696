/* test_head.c: when a new connection's buffered bytes are a whole request
 * head (fe_head.c). */
#include <string.h>

#include "fe_test.h"
#include "policy/fe_head.h"

static int ready(const char *s)
{
    return fe_head_ready(s, strlen(s), FE_HEAD_CAP);
}

/* Every proper prefix of a complete head is not ready; the whole is. */
static void check_prefixes(const char *s)
{
    size_t n = strlen(s), i;

    for (i = 0; i < n; i++) {
        if (fe_head_ready(s, i, FE_HEAD_CAP)) {
            fprintf(stderr, "  ready after %zu of %zu bytes of %s\n", i, n, s);
        }
        CU_ASSERT_FALSE(fe_head_ready(s, i, FE_HEAD_CAP));
    }
    CU_ASSERT_TRUE(fe_head_ready(s, n, FE_HEAD_CAP));
}

static void test_http1_heads(void)
{
    check_prefixes("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    check_prefixes("GET / HTTP/1.0\r\n\r\n");
    check_prefixes("GET / HTTP/1.1\nHost: a\n\n");          /* bare LF */
    check_prefixes("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n");
    check_prefixes("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"); /* leading */
    check_prefixes("get / http/1.1\r\nhost: a\r\n\r\n");    /* lower case */
    /* a body or a pipelined request after the head changes nothing */
    CU_ASSERT_TRUE(ready("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
    CU_ASSERT_TRUE(ready("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n"));
}

static void test_trickle(void)
{
    /* slowloris: header lines keep coming, the empty line never does */
    CU_ASSERT_FALSE(ready("GET / HTTP/1.1\r\nHost: a\r\nX-a: b\r\nX-c: d\r\n"));
    CU_ASSERT_FALSE(ready("GET / HTTP/1.1\r\nX-a: b\r\n\r"));
    CU_ASSERT_FALSE(ready("GET / HTTP/1.1\r\nX-a: \r\r\n"));
    CU_ASSERT_FALSE(ready("GET / HTT"));
    CU_ASSERT_FALSE(ready("\r\n\r\n"));              /* only blank lines */
}

static void test_not_http1(void)
{
    /* HTTP/0.9 (or garbage) has no headers: ready at the end of line */
    check_prefixes("GET /\r\n");
    CU_ASSERT_TRUE(ready("\x01\x02garbage\n"));
    CU_ASSERT_FALSE(ready("\x01\x02garbage"));
    /* the HTTP/2 preface is ready at its empty line */
    check_prefixes("PRI * HTTP/2.0\r\n\r\n");
}

static void test_tls(void)
{
    char rec[5 + 300];

    memset(rec, 0xab, sizeof rec);
    rec[0] = FE_HEAD_TLS_HANDSHAKE;
    rec[1] = 3;
    rec[2] = 1;
    rec[3] = 300 >> 8;
    rec[4] = 300 & 0xff;
    CU_ASSERT_FALSE(fe_head_ready(rec, 1, FE_HEAD_CAP));
    CU_ASSERT_FALSE(fe_head_ready(rec, 4, FE_HEAD_CAP));
    CU_ASSERT_FALSE(fe_head_ready(rec, sizeof rec - 1, FE_HEAD_CAP));
    CU_ASSERT_TRUE(fe_head_ready(rec, sizeof rec, FE_HEAD_CAP));
    /* a record larger than the buffer: ready when the buffer is full,
     * not before (a record header that promises 16 KiB and stops there
     * waits for the deadline, without a worker) */
    rec[3] = (char)0xff;
    CU_ASSERT_FALSE(fe_head_ready(rec, 5, 1000));
    CU_ASSERT_TRUE(fe_head_ready(rec, 1000, 1000));
    CU_ASSERT_FALSE(fe_head_ready(rec, 5, 70000));
}

static void test_cap(void)
{
    static char big[FE_HEAD_CAP];

    memset(big, 'a', sizeof big);
    CU_ASSERT_FALSE(fe_head_ready(big, sizeof big - 1, sizeof big));
    CU_ASSERT_TRUE(fe_head_ready(big, sizeof big, sizeof big));
    CU_ASSERT_FALSE(fe_head_ready(big, 0, sizeof big));
}

static void test_grow(void)
{
    FE_ASSERT_EQ_U64(fe_head_grow(0, 10, FE_HEAD_CAP), 512);
    FE_ASSERT_EQ_U64(fe_head_grow(512, 513, FE_HEAD_CAP), 1024);
    FE_ASSERT_EQ_U64(fe_head_grow(512, 5000, FE_HEAD_CAP), 8192);
    FE_ASSERT_EQ_U64(fe_head_grow(8192, 9000, FE_HEAD_CAP), FE_HEAD_CAP);
    FE_ASSERT_EQ_U64(fe_head_grow(0, 100000, FE_HEAD_CAP), FE_HEAD_CAP);
    FE_ASSERT_EQ_U64(fe_head_grow(0, 10, 100), 100);     /* tiny limit */
    FE_ASSERT_EQ_U64(fe_head_grow(1024, 700, FE_HEAD_CAP), 1024);
}

static void test_scan(void)
{
    fe_head_info_t hi;
    static const char post[] = "POST /x HTTP/1.1\r\nHost: a\r\n"
                               "content-LENGTH:  12 \r\n\r\nhello world!";
    static const char chunked[] = "POST / HTTP/1.1\r\nTransfer-Encoding: "
                                  "chunked\r\nContent-Length: 5\r\n\r\n";
    static const char expect[] = "PUT / HTTP/1.1\r\nExpect: 100-continue\r\n"
                                 "Content-Length: 5\r\n\r\n";
    static const char twice_same[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                                     "Content-Length: 5\r\n\r\n";
    static const char twice_other[] = "POST / HTTP/1.1\r\nContent-Length: 5"
                                      "\r\nContent-Length: 6\r\n\r\n";
    static const char folded[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                                 " 7\r\n\r\n";
    static const char list[] = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n";
    static const char lf[] = "\r\nPOST / HTTP/1.0\nContent-Length:3\n\nabc";

    FE_ASSERT_EQ_INT(fe_head_scan(post, sizeof post - 1, &hi), 1);
    FE_ASSERT_EQ_U64(hi.head_end, sizeof post - 1 - 12);
    FE_ASSERT_EQ_INT(hi.length, 12);
    FE_ASSERT_EQ_INT(hi.chunked + hi.expect, 0);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 100), sizeof post - 1);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 12), sizeof post - 1);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 11), hi.head_end);   /* too big */
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 0), hi.head_end);    /* off */
    FE_ASSERT_EQ_INT(fe_request_ready(post, sizeof post - 1, 100), 1);
    FE_ASSERT_EQ_INT(fe_request_ready(post, sizeof post - 2, 100), 0);
    FE_ASSERT_EQ_INT(fe_request_ready(post, sizeof post - 2, 11), 1);
    FE_ASSERT_EQ_INT(fe_request_ready(post, hi.head_end - 1, 100), 0);
    /* incomplete heads are not scanned */
    FE_ASSERT_EQ_INT(fe_head_scan(post, hi.head_end - 1, &hi), 0);
    FE_ASSERT_EQ_INT(fe_head_scan("GET /\r\n\r\n", 9, &hi), 0);  /* 0.9 */

    FE_ASSERT_EQ_INT(fe_head_scan(chunked, sizeof chunked - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.chunked, 1);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 100), sizeof chunked - 1);
    FE_ASSERT_EQ_INT(fe_head_scan(expect, sizeof expect - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.expect, 1);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 100), sizeof expect - 1);
    FE_ASSERT_EQ_INT(fe_head_scan(twice_same, sizeof twice_same - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.length, 5);
    FE_ASSERT_EQ_INT(fe_head_scan(twice_other, sizeof twice_other - 1, &hi),
                     1);
    FE_ASSERT_EQ_INT(hi.length, -1);
    FE_ASSERT_EQ_INT(fe_head_scan(folded, sizeof folded - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.length, -1);
    FE_ASSERT_EQ_INT(fe_head_scan(list, sizeof list - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.length, -1);
    FE_ASSERT_EQ_U64(fe_request_need(&hi, 100), sizeof list - 1);
    FE_ASSERT_EQ_INT(fe_head_scan(lf, sizeof lf - 1, &hi), 1);
    FE_ASSERT_EQ_INT(hi.length, 3);
    FE_ASSERT_EQ_U64(hi.head_end, sizeof lf - 1 - 3);
    FE_ASSERT_EQ_INT(fe_request_ready(lf, sizeof lf - 1, 100), 1);
    /* TLS: the first record, whole; one that claims 16 KiB waits */
    FE_ASSERT_EQ_INT(fe_request_ready("\x16\x03\x01\x40\x00", 5, 100), 0);
    FE_ASSERT_EQ_INT(fe_request_ready("\x16\x03\x01\x00\x01x", 6, 100), 1);
}

static const fe_test_case_t cases[] = {
    {"HTTP/1 heads are ready exactly at their empty line", test_http1_heads},
    {"trickled heads are not ready", test_trickle},
    {"HTTP/0.9, garbage and the h2 preface", test_not_http1},
    {"TLS: the first record", test_tls},
    {"framing fields: Content-Length, chunked, Expect", test_scan},
    {"a full buffer is ready", test_cap},
    {"buffer growth", test_grow},
    {NULL, NULL}
};

int main(int argc, char **argv)
{
    return fe_test_main("head", cases, argc, argv);
}
