/*
 * fuzz_head.c: libFuzzer harness for fe_head.[ch], the rule that decides
 * when the bytes a new connection sent are a whole request head.  The
 * listener runs it on untrusted input.
 *
 * Input: two bytes choose a cap (up to 4 KiB + 255, so the cap is hit),
 * the rest is what the client sent.
 *
 * Invariants (abort() on violation), from fe_head.h:
 *  - no read outside the buffer (the input is copied into an exact-size
 *    heap block, so ASan sees any overrun);
 *  - monotonic: once ready for a prefix, ready for every longer prefix
 *    (more bytes never make the listener take a head back);
 *  - ready at the cap, never for an empty buffer;
 *  - an HTTP/1 head (request line with "HTTP/") followed by an empty line
 *    within the cap is ready;
 *  - fe_head_grow() fits the need up to the limit, never exceeds the
 *    limit, and never shrinks a buffer.
 */
#include "policy/fe_head.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap, n, i;
    char *buf;
    int was = 0;

    if (size < 2) {
        return 0;
    }
    cap = 1 + (((size_t)data[0] << 8 | data[1]) & 0x10ff);
    data += 2;
    size -= 2;
    n = size < cap ? size : cap;
    buf = malloc(n ? n : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, n);
    FZ_CHECK(!fe_head_ready(buf, 0, cap), "ready when empty");
    for (i = 1; i <= n; i++) {
        char *exact = malloc(i);
        int now;

        memcpy(exact, buf, i);
        now = fe_head_ready(exact, i, cap);
        free(exact);
        FZ_CHECK(!was || now, "not monotonic: ready at %zu bytes, not at %zu",
                 i - 1, i);
        FZ_CHECK(i < cap || now, "not ready at the cap %zu", cap);
        was = now;
    }
    free(buf);

    {
        /* The framing scan: the head ends inside the buffer, after the
         * request line; a request needs at least its head and at most
         * its head plus the body limit; readiness with a body limit is
         * monotonic too. */
        size_t limit = size > 0 ? (size_t)data[0] << 4 : 0, k;
        int was_req = 0;

        for (k = 1; k <= size && k <= 4096; k++) {
            char *exact = malloc(k);
            fe_head_info_t hi;
            int now;

            memcpy(exact, data, k);
            if (fe_head_scan(exact, k, &hi)) {
                size_t need = fe_request_need(&hi, limit);

                FZ_CHECK(hi.head_end > 0 && hi.head_end <= k,
                         "head_end %zu of %zu", hi.head_end, k);
                FZ_CHECK(need >= hi.head_end && need <= hi.head_end + limit,
                         "need %zu, head %zu, limit %zu", need,
                         hi.head_end, limit);
                FZ_CHECK(hi.length >= -1, "length %lld", hi.length);
            }
            now = fe_request_ready(exact, k, limit);
            free(exact);
            FZ_CHECK(!was_req || now, "request readiness not monotonic at "
                     "%zu bytes", k);
            was_req = now;
        }
    }
    {
        static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

        FZ_CHECK(fe_head_ready(head, sizeof head - 1, cap),
                 "a complete head is not ready (cap %zu)", cap);
    }
    {
        size_t cur = size & 0x7fff, need = (size * 7) & 0xffff;
        size_t lim = 1 + (cap << 2);
        size_t got = fe_head_grow(cur, need, lim);

        FZ_CHECK(got <= lim && (need > lim || got >= need)
                 && (cur > lim || got >= cur || got == lim),
                 "grow(%zu, %zu, %zu) = %zu", cur, need, lim, got);
    }
    return 0;
}
