/*
 * bench/oload.c -- open-loop (fixed-rate) HTTP/1.1 load generator for
 * bench/run.  Compiled by bench/run at bench time:
 *
 *     cc -O2 -pthread -o oload bench/oload.c -lssl -lcrypto
 *
 * Request i is scheduled at t0 + i / rate, whatever happened to the ones
 * before it (no coordinated omission): its latency is measured from that
 * scheduled time to the last byte of its response.  A request that starts
 * late (the client had no free connection, or no CPU) is counted as late
 * and its wait is part of its latency.
 *
 *   -k  keep-alive: a pool of -c connections opened (and for TLS
 *       handshaken) before t0; a due request goes on the connection idle
 *       longest; when none is idle a new one is opened for it (up to -C),
 *       so its latency includes connect() and the handshake.  A connection
 *       the server closes (MaxKeepAliveRequests) is replaced at once, in
 *       the background.
 *   -n  new connection per request ("Connection: close"): latency starts
 *       at the scheduled connect() and includes the TLS handshake; at most
 *       -C connections at once.
 *
 * A request fails on a connect/TLS/read/write error, a status other than
 * 200, or no complete response within -t ms; a failed request counts as
 * taking -t ms in the percentiles.  Requests never started before the end
 * (schedule end + -t) are "unsent" and count as failed too.
 * TLS sessions are never resumed: every new connection is a full handshake.
 * -T threads (default 2) share the schedule: thread k sends requests
 * k, k + T, k + 2T, ... on its own connections (-c and -C are split).
 *
 * -S N (default 10) lists the N slowest measured requests in the JSON
 * ("slowest": latency ms, scheduled time ms after the measured part
 * began, and how many requests its connection had completed before it:
 * 0 is the first request of a new connection).
 *
 * Prints one JSON object on stdout.  Bounded: it stops by itself at the end
 * of the schedule + timeout + 1 s, and never holds more than -C sockets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum { C_CONNECTING, C_HANDSHAKE, C_SENDING, C_READING, C_IDLE };

enum { F_CONNECT, F_TLS, F_IO, F_STATUS, F_TIMEOUT, F_PARSE, F_NKIND };
static const char *fail_names[F_NKIND] = {
    "connect", "tls", "io", "status", "timeout", "parse"
};

struct worker;

struct conn {
    int fd;
    SSL *ssl;
    int state;
    int events;              /* epoll interest */
    long req;                /* request index, -1 when none */
    uint64_t begin_ns;       /* connect() or send start, for the timeout */
    size_t sent;
    char head[4096];
    size_t hlen;
    int head_done;
    long long body_left;
    int close_after;
    int status;
    int nreq;                /* requests completed on this connection */
    int retried;             /* the current request was retried once */
    struct conn *next_idle;
    int slot;                /* index in w->all[] */
    struct worker *w;
};

/* options */
static const char *opt_host = "127.0.0.1";
static int opt_port;
static const char *opt_path = "/1k.bin";
static double opt_rate;
static double opt_dur = 10, opt_warm;
static int opt_ka = 1, opt_tls, opt_conns = 50, opt_max = 256;
static int opt_timeout_ms = 2000;

static int opt_threads = 2;
static int opt_slowest = 10;

/* shared, read-only once the threads run (each thread writes only the
 * lat_us[] and done_flag[] entries of its own requests) */
static SSL_CTX *ctx;
static struct sockaddr_in addr;
static char reqbuf[512];
static size_t reqlen;
static uint64_t t0;
static long nreq_total, nreq_warm;
static uint32_t *lat_us;         /* per measured request; UINT32_MAX = failed */
static uint16_t *conn_nth;       /* per measured request: requests its
                                    connection completed before it */
static unsigned char *done_flag;

/* one per thread */
struct worker {
    int id;
    int ep;
    int conns, max;              /* this thread's share of -c and -C */
    struct conn **all;           /* every open connection */
    int nall, nall_max;
    struct conn *idle_head, *idle_tail;
    int nidle;
    long n_ok, n_fail[F_NKIND], n_late1, n_late10, n_started, n_opened,
        n_retry, n_reconnect;
    char first_err[256];
    char tls_info[128];
    pthread_t th;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sched_of(long i)
{
    return t0 + (uint64_t)((double)i * 1e9 / opt_rate);
}

static void note_err(struct worker *w, const char *what, int err)
{
    if (!w->first_err[0]) {
        snprintf(w->first_err, sizeof w->first_err, "%s: %s", what,
                 err ? strerror(err) : "-");
    }
}

/* Request @a req goes out on @a c now. */
static void note_conn(const struct conn *c, long req)
{
    if (req >= nreq_warm && req < nreq_total) {
        conn_nth[req - nreq_warm] = c->nreq > UINT16_MAX ? UINT16_MAX
                                                         : (uint16_t)c->nreq;
    }
}

static void finish(struct worker *w, long req, int ok, int kind)
{
    uint64_t t;

    if (req < 0 || done_flag[req]) {
        return;
    }
    done_flag[req] = 1;
    if (ok) {
        if (req >= nreq_warm) {
            w->n_ok++;
            t = (now_ns() - sched_of(req)) / 1000;
            lat_us[req - nreq_warm] = t >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)t;
        }
    }
    else if (req >= nreq_warm) {
        w->n_fail[kind]++;
        lat_us[req - nreq_warm] = UINT32_MAX;
    }
}

static void set_events(struct conn *c, int ev)
{
    struct epoll_event e;

    if (c->events == ev) {
        return;
    }
    memset(&e, 0, sizeof e);
    e.events = (uint32_t)ev;
    e.data.ptr = c;
    epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void idle_remove(struct conn *c)
{
    struct worker *w = c->w;
    struct conn **pp = &w->idle_head, *prev = NULL;

    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->next_idle;
    }
    if (*pp == c) {
        *pp = c->next_idle;
        if (w->idle_tail == c) {
            w->idle_tail = prev;
        }
        w->nidle--;
    }
    c->next_idle = NULL;
}

static void idle_push(struct conn *c)
{
    struct worker *w = c->w;

    c->next_idle = NULL;
    if (w->idle_tail) {
        w->idle_tail->next_idle = c;
    }
    else {
        w->idle_head = c;
    }
    w->idle_tail = c;
    w->nidle++;
}

static struct conn *idle_pop(struct worker *w)
{
    struct conn *c = w->idle_head;

    if (c) {
        w->idle_head = c->next_idle;
        if (!w->idle_head) {
            w->idle_tail = NULL;
        }
        c->next_idle = NULL;
        w->nidle--;
    }
    return c;
}

static void conn_free(struct conn *c)
{
    struct worker *w = c->w;

    if (c->state == C_IDLE) {
        idle_remove(c);
    }
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) {
        SSL_set_quiet_shutdown(c->ssl, 0);
        SSL_shutdown(c->ssl);      /* one close_notify, no wait */
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    close(c->fd);
    w->all[c->slot] = w->all[w->nall - 1];
    w->all[c->slot]->slot = c->slot;
    w->nall--;
    free(c);
}

#define OPEN_FAILED ((struct conn *)-1)

/* A new connection for request @a req (-1: a pool connection).  NULL when
 * at the limit; OPEN_FAILED when connect() failed at once (the request,
 * if any, is failed). */
static struct conn *conn_open(struct worker *w, long req)
{
    struct conn *c;
    struct epoll_event e;
    int fd, one = 1, rc;

    if (w->nall >= w->max) {
        return NULL;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_err(w, "socket", errno);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->w = w;
    c->fd = fd;
    c->req = req;
    note_conn(c, req);
    c->begin_ns = now_ns();
    c->slot = w->nall;
    w->all[w->nall++] = c;
    w->n_opened++;
    if (w->nall > w->nall_max) {
        w->nall_max = w->nall;
    }
    c->state = C_CONNECTING;
    rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (rc < 0 && errno != EINPROGRESS) {
        note_err(w, "connect", errno);
        finish(w, req, 0, F_CONNECT);
        conn_free(c);           /* never added to epoll: the DEL just fails */
        return OPEN_FAILED;
    }
    c->events = EPOLLOUT;
    memset(&e, 0, sizeof e);
    e.events = EPOLLOUT;
    e.data.ptr = c;
    epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e);
    return c;
}

static void begin_request(struct conn *c, long req)
{
    c->req = req;
    note_conn(c, req);
    c->begin_ns = now_ns();
    c->sent = 0;
    c->hlen = 0;
    c->head_done = 0;
    c->body_left = 0;
    c->close_after = 0;
    c->status = 0;
    c->retried = 0;
}

static void on_writable(struct conn *c);
static void conn_fail(struct conn *c, int kind, const char *what, int err);

/* Start request @a req; 0 when no connection could take it now. */
static int start_request(struct worker *w, long req)
{
    struct conn *c;

    if (opt_ka) {
        c = idle_pop(w);
        if (c) {
            begin_request(c, req);
            c->state = C_SENDING;
            on_writable(c);         /* a small request: written at once */
            return 1;
        }
    }
    c = conn_open(w, req);
    if (c == NULL) {
        return 0;
    }
    if (c != OPEN_FAILED) {
        begin_request(c, req);
    }
    return 1;
}

static void tls_note(struct worker *w, SSL *s)
{
    if (!w->tls_info[0]) {
        const unsigned char *alpn = NULL;
        unsigned int alen = 0;

        SSL_get0_alpn_selected(s, &alpn, &alen);
        snprintf(w->tls_info, sizeof w->tls_info, "%s %s alpn=%.*s%s",
                 SSL_get_version(s), SSL_get_cipher_name(s), (int)alen,
                 alen ? (const char *)alpn : "",
                 SSL_session_reused(s) ? " resumed" : "");
    }
}

/* The connection became usable (TCP connected, TLS done). */
static void conn_ready(struct conn *c)
{
    if (c->req >= 0) {
        c->state = C_SENDING;
        set_events(c, EPOLLOUT);
    }
    else {
        c->state = C_IDLE;
        idle_push(c);
        set_events(c, EPOLLIN);
    }
}

static void do_handshake(struct conn *c)
{
    int rc = SSL_connect(c->ssl), e;

    if (rc == 1) {
        tls_note(c->w, c->ssl);
        conn_ready(c);
        return;
    }
    e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        set_events(c, EPOLLIN);
    }
    else if (e == SSL_ERROR_WANT_WRITE) {
        set_events(c, EPOLLOUT);
    }
    else {
        unsigned long le = ERR_get_error();
        char buf[160];

        ERR_error_string_n(le, buf, sizeof buf);
        if (!c->w->first_err[0]) {
            snprintf(c->w->first_err, sizeof c->w->first_err, "tls: %s", buf);
        }
        ERR_clear_error();
        conn_fail(c, F_TLS, "tls", 0);
    }
}

static void replace_if_needed(struct worker *w)
{
    /* keep-alive: keep the pool at -c connections */
    while (opt_ka && w->nall < w->conns) {
        struct conn *n = conn_open(w, -1);

        if (n == NULL || n == OPEN_FAILED) {
            break;
        }
        w->n_reconnect++;
    }
}

static void conn_fail(struct conn *c, int kind, const char *what, int err)
{
    struct worker *w = c->w;
    long req = c->req;

    if (what && kind != F_TIMEOUT) {
        note_err(w, what, err);
    }
    /* A request sent on a reused keep-alive connection that the server had
     * closed meanwhile: retry it once on a new connection, as browsers do. */
    if (opt_ka && req >= 0 && kind == F_IO && c->nreq > 0 && !c->retried
        && c->hlen == 0) {
        conn_free(c);
        w->n_retry++;
        c = conn_open(w, req);
        if (c && c != OPEN_FAILED) {
            begin_request(c, req);
            c->retried = 1;
            return;
        }
        if (c == NULL) {
            finish(w, req, 0, F_CONNECT);
        }
        return;
    }
    finish(w, req, 0, kind);
    conn_free(c);
    replace_if_needed(w);
}

static ssize_t io_read(struct conn *c, char *buf, size_t n, int *want)
{
    if (c->ssl) {
        int rc = SSL_read(c->ssl, buf, (int)n), e;

        if (rc > 0) {
            return rc;
        }
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) {
            *want = EPOLLIN;
            return -2;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            *want = EPOLLOUT;
            return -2;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            return 0;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            ERR_clear_error();
            return errno == 0 ? 0 : -1;   /* EOF without close_notify */
        }
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
    else {
        ssize_t r = read(c->fd, buf, n);

        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *want = EPOLLIN;
            return -2;
        }
        return r;
    }
}

static ssize_t io_write(struct conn *c, const char *buf, size_t n, int *want)
{
    if (c->ssl) {
        int rc = SSL_write(c->ssl, buf, (int)n), e;

        if (rc > 0) {
            return rc;
        }
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) {
            *want = EPOLLIN;
            return -2;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            *want = EPOLLOUT;
            return -2;
        }
        ERR_clear_error();
        errno = EPIPE;
        return -1;
    }
    else {
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);

        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *want = EPOLLOUT;
            return -2;
        }
        return r;
    }
}

/* Parse the response head in c->head; 1 when complete, -1 on garbage. */
static int parse_head(struct conn *c, size_t *head_len)
{
    char *end = memmem(c->head, c->hlen, "\r\n\r\n", 4), *p, *line;
    long long clen = -1;

    if (!end) {
        return c->hlen >= sizeof c->head - 1 ? -1 : 0;
    }
    *end = '\0';
    *head_len = (size_t)(end - c->head) + 4;
    if (strncmp(c->head, "HTTP/1.", 7) != 0 || strlen(c->head) < 12) {
        return -1;
    }
    c->status = atoi(c->head + 9);
    line = strstr(c->head, "\r\n");
    while (line) {
        line += 2;
        p = strstr(line, "\r\n");
        if (p) {
            *p = '\0';
        }
        if (strncasecmp(line, "content-length:", 15) == 0) {
            clen = atoll(line + 15);
        }
        else if (strncasecmp(line, "connection:", 11) == 0
                 && strcasestr(line + 11, "close")) {
            c->close_after = 1;
        }
        line = p;
    }
    if (clen < 0) {
        return -1;              /* a static file always has one */
    }
    c->body_left = clen;
    c->head_done = 1;
    return 1;
}

static void response_done(struct conn *c)
{
    struct worker *w = c->w;
    int ok = c->status == 200;

    finish(w, c->req, ok, F_STATUS);
    if (!ok) {
        char what[32];

        snprintf(what, sizeof what, "status %d", c->status);
        note_err(w, what, 0);
    }
    c->req = -1;
    c->nreq++;
    if (!opt_ka || c->close_after) {
        conn_free(c);
        replace_if_needed(w);
        return;
    }
    c->state = C_IDLE;
    idle_push(c);
    set_events(c, EPOLLIN);
}

static void on_readable(struct conn *c)
{
    char buf[16384];
    int want = 0;

    for (;;) {
        ssize_t r = io_read(c, buf, sizeof buf, &want);
        size_t off = 0;

        if (r == -2) {
            set_events(c, want);
            return;
        }
        if (r <= 0) {
            if (c->state == C_IDLE) {       /* the server closed an idle one */
                struct worker *w = c->w;

                conn_free(c);
                replace_if_needed(w);
            }
            else {
                conn_fail(c, F_IO, r == 0 ? "eof before response" : "read",
                          r == 0 ? 0 : errno);
            }
            return;
        }
        if (c->state != C_READING) {
            continue;                       /* nothing expected: drop it */
        }
        if (!c->head_done) {
            size_t take = (size_t)r, hl = 0;
            int pr;

            if (take > sizeof c->head - 1 - c->hlen) {
                take = sizeof c->head - 1 - c->hlen;
            }
            memcpy(c->head + c->hlen, buf, take);
            c->hlen += take;
            c->head[c->hlen] = '\0';
            pr = parse_head(c, &hl);
            if (pr < 0) {
                conn_fail(c, F_PARSE, "bad response head", 0);
                return;
            }
            if (pr == 0) {
                continue;
            }
            /* bytes of this read past the head belong to the body */
            off = hl - (c->hlen - take);
        }
        c->body_left -= (long long)((size_t)r - off);
        if (c->body_left <= 0) {
            response_done(c);
            return;
        }
    }
}

static void on_writable(struct conn *c)
{
    int want = 0;

    while (c->sent < reqlen) {
        ssize_t w = io_write(c, reqbuf + c->sent, reqlen - c->sent, &want);

        if (w == -2) {
            set_events(c, want);
            return;
        }
        if (w < 0) {
            conn_fail(c, F_IO, "write", errno);
            return;
        }
        c->sent += (size_t)w;
    }
    c->state = C_READING;
    set_events(c, EPOLLIN);
}

static void on_event(struct conn *c, uint32_t ev)
{
    switch (c->state) {
    case C_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;

        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_fail(c, F_CONNECT, "connect", err);
            return;
        }
        if (opt_tls) {
            c->ssl = SSL_new(ctx);
            SSL_set_fd(c->ssl, c->fd);
            c->state = C_HANDSHAKE;
            do_handshake(c);
        }
        else {
            conn_ready(c);
            if (c->state == C_SENDING) {
                on_writable(c);
            }
        }
        return;
    }
    case C_HANDSHAKE:
        do_handshake(c);
        return;
    case C_SENDING:
        on_writable(c);
        return;
    case C_READING:
    case C_IDLE:
        if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            on_readable(c);
        }
        else if (c->ssl && (ev & EPOLLOUT)) {
            on_readable(c);                 /* SSL_read wanted a write */
        }
        return;
    }
}

static int wait_events(int ep, struct epoll_event *evs, int n, int64_t timeout_ns)
{
    static int no_pwait2;
    struct timespec ts;
    int rc;

    if (timeout_ns < 0) {
        timeout_ns = 0;
    }
    if (!no_pwait2) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        rc = epoll_pwait2(ep, evs, n, &ts, NULL);
        if (rc >= 0 || errno != ENOSYS) {
            return rc;
        }
        no_pwait2 = 1;
    }
    return epoll_wait(ep, evs, n, (int)((timeout_ns + 999999) / 1000000));
}

static void dispatch(struct worker *w, int64_t timeout_ns)
{
    struct epoll_event evs[256];
    int n = wait_events(w->ep, evs, 256, timeout_ns), k;

    for (k = 0; k < n; k++) {
        on_event(evs[k].data.ptr, evs[k].events);
    }
}

/* keep-alive: open this thread's pool (not measured), at most 5 s */
static void open_pool(struct worker *w)
{
    uint64_t start = now_ns();

    replace_if_needed(w);
    while (opt_ka && w->nidle < w->conns && now_ns() - start < 5000000000ull) {
        dispatch(w, 10000000);
        replace_if_needed(w);
    }
    w->n_opened = 0;
    w->n_reconnect = 0;
}

/* One thread: requests id, id + T, id + 2T, ... */
static void *run_worker(void *arg)
{
    struct worker *w = arg;
    uint64_t sched_end = sched_of(nreq_total), last_scan = 0, t;
    uint64_t hard_end = sched_end + (uint64_t)opt_timeout_ms * 1000000ull
                        + 1000000000ull;
    long next = w->id, i;

    (void)sched_end;
    for (;;) {
        int64_t wait;

        t = now_ns();
        /* start every request of ours that is due, in schedule order */
        while (next < nreq_total && sched_of(next) <= t) {
            if (!start_request(w, next)) {
                break;                      /* no connection free: backlog */
            }
            if (t - sched_of(next) > 1000000 && next >= nreq_warm) {
                w->n_late1++;
                if (t - sched_of(next) > 10000000) {
                    w->n_late10++;
                }
            }
            w->n_started++;
            next += opt_threads;
        }
        /* timeouts, every 5 ms (a fresh clock: the requests just started
         * began after t) */
        t = now_ns();
        if (t - last_scan > 5000000) {
            last_scan = t;
            for (i = 0; i < w->nall; i++) {
                struct conn *c = w->all[i];

                if (c->req >= 0 && t > c->begin_ns
                    && t - c->begin_ns > (uint64_t)opt_timeout_ms * 1000000ull) {
                    conn_fail(c, F_TIMEOUT, NULL, 0);
                    i = -1;                 /* all[] changed: rescan */
                }
            }
        }
        if (next >= nreq_total) {
            int busy = 0;

            for (i = 0; i < w->nall; i++) {
                busy += w->all[i]->req >= 0;
            }
            if (!busy) {
                break;
            }
        }
        if (t >= hard_end) {
            break;
        }
        if (next < nreq_total && (w->nidle > 0 || w->nall < w->max)) {
            wait = sched_of(next) > t ? (int64_t)(sched_of(next) - t) : 0;
        }
        else {
            wait = 5000000;
        }
        if (wait > 5000000) {
            wait = 5000000;
        }
        dispatch(w, wait);
    }
    /* still in flight at the hard end: timeouts */
    for (i = 0; i < w->nall; i++) {
        if (w->all[i]->req >= 0) {
            finish(w, w->all[i]->req, 0, F_TIMEOUT);
        }
    }
    while (w->nall > 0) {
        conn_free(w->all[w->nall - 1]);
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, long n, double p)
{
    long k;

    if (n <= 0) {
        return -1;
    }
    /* nearest rank */
    k = (long)(p / 100.0 * (double)n + 0.999999) - 1;
    if (k < 0) {
        k = 0;
    }
    if (k >= n) {
        k = n - 1;
    }
    return v[k] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: oload -p PORT -r RATE [-d SECONDS] [-w WARMUP] [-k|-n] [-s]\n"
            "             [-c CONNS] [-C MAXCONNS] [-T THREADS] [-t TIMEOUT_MS]\n"
            "             [-u PATH] [-h HOST] [-S SLOWEST]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const double points[] = {
        0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97, 98, 99, 99.5,
        99.7, 99.8, 99.9, 99.95, 99.97, 99.99, 99.995, 99.999, 100
    };
    struct worker *ws, tot;
    struct rusage ru;
    uint64_t tstart;
    long nmeas, i, unsent, nfail;
    uint32_t *sorted;
    long *slow, nslow = 0;
    double dt;
    int opt, k, f;
    const char *tls_info = "", *first_err = "";

    while ((opt = getopt(argc, argv, "p:r:d:w:knsc:C:T:t:u:h:S:")) != -1) {
        switch (opt) {
        case 'p': opt_port = atoi(optarg); break;
        case 'r': opt_rate = atof(optarg); break;
        case 'd': opt_dur = atof(optarg); break;
        case 'w': opt_warm = atof(optarg); break;
        case 'k': opt_ka = 1; break;
        case 'n': opt_ka = 0; break;
        case 's': opt_tls = 1; break;
        case 'c': opt_conns = atoi(optarg); break;
        case 'C': opt_max = atoi(optarg); break;
        case 'T': opt_threads = atoi(optarg); break;
        case 't': opt_timeout_ms = atoi(optarg); break;
        case 'u': opt_path = optarg; break;
        case 'h': opt_host = optarg; break;
        case 'S': opt_slowest = atoi(optarg); break;
        default: usage();
        }
    }
    if (opt_port <= 0 || opt_rate <= 0 || opt_dur <= 0 || opt_max < 1
        || opt_rate > 1e6 || opt_dur + opt_warm > 600 || opt_max > 20000
        || opt_threads < 1 || opt_threads > 16 || opt_timeout_ms < 1) {
        usage();
    }
    if (!opt_ka) {
        opt_conns = 0;
    }
    if (opt_conns > opt_max) {
        opt_conns = opt_max;
    }
    signal(SIGPIPE, SIG_IGN);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &addr.sin_addr) != 1) {
        usage();
    }
    reqlen = (size_t)snprintf(reqbuf, sizeof reqbuf,
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                              "User-Agent: fe-oload\r\n%s\r\n",
                              opt_path, opt_host, opt_port,
                              opt_ka ? "" : "Connection: close\r\n");
    if (opt_tls) {
        static const unsigned char alpn[] = "\x08http/1.1";

        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) {
            fprintf(stderr, "oload: SSL_CTX_new failed\n");
            return 1;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    }
    nreq_warm = (long)(opt_warm * opt_rate);
    nmeas = (long)(opt_dur * opt_rate);
    nreq_total = nreq_warm + nmeas;
    lat_us = malloc((size_t)(nmeas ? nmeas : 1) * sizeof *lat_us);
    conn_nth = calloc((size_t)(nmeas ? nmeas : 1), sizeof *conn_nth);
    done_flag = calloc((size_t)nreq_total + 1, 1);
    ws = calloc((size_t)opt_threads, sizeof *ws);
    if (opt_slowest < 0 || opt_slowest > 1000) {
        usage();
    }
    slow = calloc((size_t)opt_slowest + 1, sizeof *slow);
    if (!lat_us || !conn_nth || !done_flag || !ws || !slow) {
        fprintf(stderr, "oload: out of memory\n");
        return 1;
    }
    for (i = 0; i < nmeas; i++) {
        lat_us[i] = UINT32_MAX;
    }
    for (k = 0; k < opt_threads; k++) {
        struct worker *w = &ws[k];

        w->id = k;
        w->conns = opt_conns / opt_threads + (k < opt_conns % opt_threads);
        w->max = opt_max / opt_threads + (k < opt_max % opt_threads);
        if (w->max < 1) {
            w->max = 1;
        }
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->all = calloc((size_t)w->max, sizeof *w->all);
        if (w->ep < 0 || !w->all) {
            fprintf(stderr, "oload: out of memory\n");
            return 1;
        }
        open_pool(w);
    }

    tstart = now_ns();
    t0 = tstart + 1000000;
    for (k = 0; k < opt_threads; k++) {
        if (pthread_create(&ws[k].th, NULL, run_worker, &ws[k]) != 0) {
            fprintf(stderr, "oload: pthread_create failed\n");
            return 1;
        }
    }
    for (k = 0; k < opt_threads; k++) {
        pthread_join(ws[k].th, NULL);
    }
    dt = (double)(now_ns() - t0) / 1e9;

    memset(&tot, 0, sizeof tot);
    for (k = 0; k < opt_threads; k++) {
        struct worker *w = &ws[k];

        tot.n_ok += w->n_ok;
        for (f = 0; f < F_NKIND; f++) {
            tot.n_fail[f] += w->n_fail[f];
        }
        tot.n_late1 += w->n_late1;
        tot.n_late10 += w->n_late10;
        tot.n_opened += w->n_opened;
        tot.n_retry += w->n_retry;
        tot.n_reconnect += w->n_reconnect;
        tot.nall_max += w->nall_max;
        if (!tls_info[0] && w->tls_info[0]) {
            tls_info = w->tls_info;
        }
        if (!first_err[0] && w->first_err[0]) {
            first_err = w->first_err;
        }
    }
    /* never started before the end: unsent */
    unsent = 0;
    for (i = nreq_warm; i < nreq_total; i++) {
        if (!done_flag[i]) {
            done_flag[i] = 1;
            unsent++;
        }
    }
    /* percentiles: a failed request counts as the timeout */
    sorted = lat_us;
    for (i = 0; i < nmeas; i++) {
        if (sorted[i] == UINT32_MAX) {
            sorted[i] = (uint32_t)opt_timeout_ms * 1000u;
        }
    }
    /* the slowest, before the sort loses which request was which:
     * slow[] stays sorted, slowest first */
    for (i = 0; i < nmeas && opt_slowest > 0; i++) {
        long j;

        if (nslow == opt_slowest && lat_us[i] <= lat_us[slow[nslow - 1]]) {
            continue;
        }
        j = nslow < opt_slowest ? nslow++ : nslow - 1;
        while (j > 0 && lat_us[slow[j - 1]] < lat_us[i]) {
            slow[j] = slow[j - 1];
            j--;
        }
        slow[j] = i;
    }
    printf("{\"slowest\": [");
    for (i = 0; i < nslow; i++) {
        printf("%s[%.3f, %.3f, %u]", i ? ", " : "", lat_us[slow[i]] / 1000.0,
               (double)(sched_of(nreq_warm + slow[i]) - sched_of(nreq_warm))
               / 1e6, (unsigned int)conn_nth[slow[i]]);
    }
    printf("], ");
    qsort(sorted, (size_t)nmeas, sizeof *sorted, cmp_u32);
    getrusage(RUSAGE_SELF, &ru);
    nfail = unsent;
    for (f = 0; f < F_NKIND; f++) {
        nfail += tot.n_fail[f];
    }
    printf("\"rate\": %.1f, \"duration_s\": %.3f, \"warmup_s\": %.3f, "
           "\"mode\": \"%s\", \"tls\": %d, \"threads\": %d, \"scheduled\": %ld, "
           "\"ok\": %ld, \"failed\": %ld, \"unsent\": %ld, ",
           opt_rate, opt_dur, opt_warm, opt_ka ? "keepalive" : "close",
           opt_tls, opt_threads, nmeas, tot.n_ok, nfail, unsent);
    for (f = 0; f < F_NKIND; f++) {
        printf("\"fail_%s\": %ld, ", fail_names[f], tot.n_fail[f]);
    }
    printf("\"late\": %ld, \"late_10ms\": %ld, \"achieved_rps\": %.1f, "
           "\"conns_opened\": %ld, \"conns_max\": %d, \"reconnects\": %ld, "
           "\"retries\": %ld, \"client_cpu_s\": %.3f, \"wall_s\": %.3f, ",
           tot.n_late1, tot.n_late10, opt_dur > 0 ? tot.n_ok / opt_dur : 0.0,
           tot.n_opened, tot.nall_max, tot.n_reconnect, tot.n_retry,
           ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
           + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6, dt);
    printf("\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"p999_ms\": %.3f, \"max_ms\": %.3f, \"lat_pcts\": [",
           pct_ms(sorted, nmeas, 50), pct_ms(sorted, nmeas, 90),
           pct_ms(sorted, nmeas, 99), pct_ms(sorted, nmeas, 99.9),
           pct_ms(sorted, nmeas, 100));
    for (f = 0; f < (int)(sizeof points / sizeof points[0]); f++) {
        printf("%s[%g, %.3f]", f ? ", " : "", points[f],
               points[f] == 0 ? (nmeas ? sorted[0] / 1000.0 : -1)
               : pct_ms(sorted, nmeas, points[f]));
    }
    printf("], \"tls_info\": \"%s\", \"first_error\": \"", tls_info);
    for (i = 0; first_err[i]; i++) {
        putchar(first_err[i] == '"' || first_err[i] == '\\' ? '\'' : first_err[i]);
    }
    printf("\"}\n");
    return 0;
}
