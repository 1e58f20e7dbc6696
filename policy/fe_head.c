/*
 * fe_head.c: when is a new connection's buffered input a whole request
 * head?  See fe_head.h for the rules.  Pure: tested by t/unit/test_head.c
 * and fuzz/fuzz_head.c.
 */
#include <string.h>

#include "policy/fe_head.h"

/* Case-insensitive "HTTP/" inside [p, end). */
static int fe_has_http_version(const char *p, const char *end)
{
    static const char tag[] = "HTTP/";
    size_t n = sizeof tag - 1, i;

    for (; (size_t)(end - p) >= n; p++) {
        for (i = 0; i < n; i++) {
            char ch = p[i];

            if (ch >= 'a' && ch <= 'z') {
                ch = (char)(ch - 'a' + 'A');
            }
            if (ch != tag[i]) {
                break;
            }
        }
        if (i == n) {
            return 1;
        }
    }
    return 0;
}

static int fe_tls_record_ready(const unsigned char *b, size_t len,
                               size_t cap)
{
    size_t need;

    if (len < 5) {
        return 0;
    }
    need = 5 + ((size_t)b[3] << 8 | b[4]);
    return len >= need || need > cap;
}

int fe_head_ready(const char *buf, size_t len, size_t cap)
{
    const char *p = buf, *end = buf + len, *eol;

    if (len == 0) {
        return 0;
    }
    if (len >= cap) {
        return 1;
    }
    if ((unsigned char)buf[0] == FE_HEAD_TLS_HANDSHAKE) {
        return fe_tls_record_ready((const unsigned char *)buf, len, cap);
    }
    /* Blank lines before the request line are skipped by the core. */
    while (p < end && (*p == '\r' || *p == '\n')) {
        p++;
    }
    eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (eol == NULL) {
        return 0;                   /* request line not complete yet */
    }
    if (!fe_has_http_version(p, eol)) {
        return 1;                   /* HTTP/0.9 or not HTTP: no headers */
    }
    /* The head ends at an empty line: "\n" then optionally "\r", "\n". */
    for (p = eol; p < end; ) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        if (nl == NULL || nl + 1 >= end) {
            return 0;
        }
        if (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < end && nl[2] == '\n')) {
            return 1;
        }
        p = nl + 1;
    }
    return 0;
}

size_t fe_head_grow(size_t cap_now, size_t need, size_t limit)
{
    size_t cap = cap_now < 512 ? 512 : cap_now;

    while (cap < need && cap < limit) {
        cap = cap > limit / 2 ? limit : cap * 2;
    }
    return cap > limit ? limit : cap;
}
