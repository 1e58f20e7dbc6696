/**
 * @file fe_head.h
 * @brief Has a new connection sent enough for a worker to run it without
 *        waiting on the client?  (Pure: no httpd, no clock, no I/O.)
 *
 * The listener reads what a new connection sends into a buffer and hands
 * the connection to a worker only when fe_head_ready() says so; until
 * then it holds no worker, so clients that trickle their request head
 * (slowloris) cost a descriptor and a small buffer, not a thread.  The
 * worker then reads the buffered bytes first (fe_headbuf.c).
 *
 * Ready means:
 *  - HTTP/1: the request head is complete: after the request line (blank
 *    lines before it are skipped, as the core does) comes an empty line
 *    ("\n\n" or "\n\r\n");
 *  - a request line without "HTTP/" (HTTP/0.9, or not HTTP at all): the
 *    line is complete, so the worker answers or rejects it at once;
 *  - TLS (first byte 0x16, a handshake record): the first record (the
 *    ClientHello) is complete, or fills the buffer; the worker then runs
 *    the handshake without ever blocking (connection/fe_intake.c);
 *  - the HTTP/2 preface ("PRI * HTTP/2.0\r\n\r\n...") is an HTTP/1-shaped
 *    head and is ready at its empty line;
 *  - the buffer is full (@a cap bytes): the worker reads the rest itself.
 */
#ifndef FE_HEAD_H
#define FE_HEAD_H

#include <stddef.h>

/** First byte of a TLS handshake record. */
#define FE_HEAD_TLS_HANDSHAKE 0x16

/** Largest head the listener buffers (a larger one goes to a worker as
 *  is, who reads the rest from the socket). */
#define FE_HEAD_CAP 16384

/** 1 when the @a len bytes in @a buf (at most @a cap are ever buffered)
 *  are enough to hand the connection to a worker, else 0. */
int fe_head_ready(const char *buf, size_t len, size_t cap);

/** What a complete HTTP/1 request head says about the body after it. */
typedef struct fe_head_info {
    size_t head_end;       /**< bytes of the head, its empty line included */
    long long length;      /**< Content-Length; -1 when absent, malformed,
                                repeated with other values, or folded */
    int chunked;           /**< a Transfer-Encoding field is present */
    int expect;            /**< an Expect field is present (100-continue) */
} fe_head_info_t;

/**
 * 1 when @a buf starts with a whole HTTP/1 request head (a request line
 * with "HTTP/" and an empty line after the fields), with *@a hi filled
 * from its framing fields (Content-Length, Transfer-Encoding, Expect;
 * names in any case, values with optional blanks around them); else 0.
 */
int fe_head_scan(const char *buf, size_t len, fe_head_info_t *hi);

/**
 * Bytes the request of @a hi needs in the buffer before a worker runs it:
 * the head and its whole body when the body is read without a worker
 * (a usable Content-Length from 1 to @a body_limit, no Transfer-Encoding,
 * no Expect: the client of an Expect waits for the handler's "100
 * Continue" before it sends the body), else the head alone.
 */
size_t fe_request_need(const fe_head_info_t *hi, size_t body_limit);

/**
 * 1 when a new connection's @a len buffered bytes are enough for a
 * worker to run its first request without waiting on the client: what
 * fe_head_ready() asks of the head (with cap FE_HEAD_CAP), and for an
 * HTTP/1 head the body fe_request_need() names.
 */
int fe_request_ready(const char *buf, size_t len, size_t body_limit);

/** Capacity to grow a buffer of capacity @a cap_now to
 *  to so that @a need bytes fit: doubling from at least 512, never above
 *  @a limit (and at least @a need when need <= limit). */
size_t fe_head_grow(size_t cap_now, size_t need, size_t limit);

#endif /* FE_HEAD_H */
