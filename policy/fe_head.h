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
 *    ClientHello) is complete;
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

/** Capacity to grow a buffer of capacity @a cap_now to
 *  to so that @a need bytes fit: doubling from at least 512, never above
 *  @a limit (and at least @a need when need <= limit). */
size_t fe_head_grow(size_t cap_now, size_t need, size_t limit);

#endif /* FE_HEAD_H */
