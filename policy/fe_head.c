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
    (void)cap;            /* a record larger than cap: ready when full */
    return len >= need;
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

/* Case-insensitive: does the field line [p, end) have the name @a name
 * (followed by its colon)?  Returns the value's start, or NULL. */
static const char *fe_field_value(const char *p, const char *end,
                                  const char *name)
{
    size_t n = strlen(name), i;

    if ((size_t)(end - p) <= n || p[n] != ':') {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char ch = p[i];

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != name[i]) {
            return NULL;
        }
    }
    return p + n + 1;
}

/* A Content-Length value in [p, end): digits with optional blanks
 * around; -1 when malformed or too large. */
static long long fe_length_value(const char *p, const char *end)
{
    long long v = 0;
    int digits = 0;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (1LL << 50)) {
            return -1;
        }
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) {
        p++;
    }
    return digits > 0 && p == end ? v : -1;
}

int fe_head_scan(const char *buf, size_t len, fe_head_info_t *hi)
{
    const char *p = buf, *end = buf + len, *eol;
    int lengths = 0, bad = 0;

    hi->head_end = 0;
    hi->length = -1;
    hi->chunked = hi->expect = 0;
    while (p < end && (*p == '\r' || *p == '\n')) {
        p++;
    }
    eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (eol == NULL || !fe_has_http_version(p, eol)) {
        return 0;
    }
    for (p = eol + 1; p < end; p = eol + 1) {
        const char *v;

        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            return 0;
        }
        if (eol == p || (eol == p + 1 && *p == '\r')) {
            hi->head_end = (size_t)(eol + 1 - buf);
            hi->length = bad || lengths == 0 ? -1 : hi->length;
            return 1;
        }
        if (*p == ' ' || *p == '\t') {
            bad = 1;                 /* obs-fold: leave it to the core */
        }
        else if ((v = fe_field_value(p, eol, "content-length")) != NULL) {
            long long n = fe_length_value(v, eol);

            bad |= n < 0 || (lengths > 0 && n != hi->length);
            hi->length = n;
            lengths++;
        }
        else if (fe_field_value(p, eol, "transfer-encoding") != NULL) {
            hi->chunked = 1;
        }
        else if (fe_field_value(p, eol, "expect") != NULL) {
            hi->expect = 1;
        }
    }
    return 0;
}

size_t fe_request_need(const fe_head_info_t *hi, size_t body_limit)
{
    if (hi->length > 0 && (unsigned long long)hi->length <= body_limit
        && !hi->chunked && !hi->expect) {
        return hi->head_end + (size_t)hi->length;
    }
    return hi->head_end;
}

int fe_request_ready(const char *buf, size_t len, size_t body_limit)
{
    fe_head_info_t hi;

    if (len > 0 && (unsigned char)buf[0] == FE_HEAD_TLS_HANDSHAKE) {
        return fe_head_ready(buf, len, FE_HEAD_CAP);
    }
    /* Only a head within the cap counts: one that is not complete there
     * was handed over at the cap already. */
    if (!fe_head_scan(buf, len < FE_HEAD_CAP ? len : FE_HEAD_CAP, &hi)) {
        return fe_head_ready(buf, len, FE_HEAD_CAP);
    }
    return len >= fe_request_need(&hi, body_limit);
}
