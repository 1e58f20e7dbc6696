/*
 * fe_headbuf.c: the listener collects a new connection's request head.
 *
 * A worker that reads a request head the client trickles in (slowloris)
 * is lost to everyone else until the client finishes or Timeout passes.
 * So on HTTP listeners the listener thread reads what a new connection
 * sends, without blocking, into a buffer in the connection's pool, and
 * hands the connection to a worker only when fe_head_ready() (fe_head.c)
 * says the head is complete.  Meanwhile the connection waits in the
 * fresh queue until the header deadline: what mod_reqtimeout's header
 * stage would allow (RequestReadTimeout header=, default 20-40,MinRate=500,
 * growing with the bytes received), or Timeout without it
 * (fe_head_deadline_config(), policy/fe_deadline.c).
 *
 * The worker's core input filter then reads the buffered bytes before
 * the socket: the insert_network_bucket hook below puts them in front of
 * the socket bucket when the core sets up its input brigade.  They are
 * raw network bytes, so TLS works the same (mod_ssl reads them through
 * the core filter); for TLS the listener waits for the first record only.
 *
 * A head that missed its deadline goes to a worker all the same, with a
 * bucket that answers the core's next read with APR_TIMEUP in place of
 * the socket: the core then takes the path a mod_reqtimeout timeout takes
 * (the 408 through ErrorDocument, the access log line, the lingering
 * close), as it would under stock event.  A connection that sent nothing
 * is closed without a word, as under stock event.
 *
 * Listeners of other protocols (Listen ... <protocol>, e.g. a module
 * whose server speaks first) get the stock behaviour: a worker at once.
 *
 * Must not: block (the listener runs fe_head_read), or keep bytes for a
 * connection whose conn_rec already read from the socket.
 */
#include "mpm_fastevent.h"
#include "connection/fe_headbuf.h"
#include "policy/fe_deadline.h"
#include "policy/fe_head.h"
#include "http_config.h"
#include "util_cfgtree.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"

#include <apr_atomic.h>
#include <apr_buckets.h>
#include <apr_strings.h>
#include <errno.h>
#include <sys/socket.h>

APLOG_USE_MODULE(mpm_fastevent);

int fe_head_wanted(const ap_listen_rec *lr)
{
    const char *proto = lr->protocol;

    return proto == NULL || strcasecmp(proto, "http") == 0
           || strcasecmp(proto, "https") == 0;
}

/* Bodies read without a worker take at most this much memory per child
 * in all; past it, a request goes to a worker with its head alone and
 * its body streams as under stock event. */
#define FE_BODY_BUDGET (16u * 1024 * 1024)

/* The body limit for cs now: FastEventBodyBuffer, or 0 once the child's
 * budget cannot hold another (cs's own part already counts). */
static apr_size_t fe_body_limit(const fe_conn_t *cs)
{
    apr_size_t limit = (apr_size_t)fe_g.lim.body_buffer;
    apr_uint32_t used = apr_atomic_read32(&cs->child->count.bodies);

    if (limit == 0 || cs->body_counted >= limit) {
        return limit;
    }
    return used + (limit - cs->body_counted) <= FE_BODY_BUDGET ? limit : 0;
}

/* Bytes of the request to buffer in all: up to the head cap while the
 * head is incomplete, then the head and the body fe_request_need() names
 * (FastEventBodyBuffer). */
apr_size_t fe_head_want(const fe_conn_t *cs)
{
    fe_head_info_t hi;
    apr_size_t n = cs->head_len < FE_HEAD_CAP ? cs->head_len : FE_HEAD_CAP;

    if (cs->head_end == 0 || !fe_head_scan(cs->head, n, &hi)) {
        return FE_HEAD_CAP;
    }
    return fe_request_need(&hi, fe_body_limit(cs));
}

static apr_status_t fe_body_uncount(void *data)
{
    fe_conn_t *cs = data;

    apr_atomic_sub32(&cs->child->count.bodies, (apr_uint32_t)cs->body_counted);
    cs->body_counted = 0;
    return APR_SUCCESS;
}

/* Count a buffer of @a cap bytes against the child's budget: what it has
 * beyond the head cap, until cs's pool is cleared. */
static void fe_body_count(fe_conn_t *cs, apr_size_t cap)
{
    apr_size_t beyond = cap > FE_HEAD_CAP ? cap - FE_HEAD_CAP : 0;

    if (beyond <= cs->body_counted) {
        return;
    }
    if (cs->body_counted == 0) {
        apr_pool_cleanup_register(cs->p, cs, fe_body_uncount,
                                  apr_pool_cleanup_null);
    }
    apr_atomic_add32(&cs->child->count.bodies,
                     (apr_uint32_t)(beyond - cs->body_counted));
    cs->body_counted = beyond;
}

void fe_head_append(fe_conn_t *cs, const char *data, apr_size_t n,
                    apr_time_t now)
{
    if (cs->head_len + n > cs->head_cap) {
        apr_size_t cap = fe_head_grow(cs->head_cap, cs->head_len + n,
                                      FE_HEAD_CAP
                                      + (apr_size_t)fe_g.lim.body_buffer);
        char *nb;

        if (cap < cs->head_len + n) {
            cap = cs->head_len + n;  /* never: the caller reads less */
        }
        fe_body_count(cs, cap);
        nb = apr_palloc(cs->p, cap);
        if (cs->head_len > 0) {
            memcpy(nb, cs->head + cs->head_off, cs->head_len - cs->head_off);
        }
        cs->head_len -= cs->head_off;
        cs->head_off = 0;
        cs->head = nb;
        cs->head_cap = cap;
    }
    memcpy(cs->head + cs->head_len, data, n);
    if (cs->line_at == 0 && memchr(data, '\n', n) != NULL) {
        cs->line_at = now;           /* the request line is in */
    }
    cs->head_len += n;
    cs->last_read = now;
    fe_head_find_end(cs, now);
}

void fe_head_find_end(fe_conn_t *cs, apr_time_t now)
{
    if (cs->head_end == 0 && cs->head_len > 0
        && (unsigned char)cs->head[0] != FE_HEAD_TLS_HANDSHAKE) {
        fe_head_info_t hi;
        apr_size_t len = cs->head_len < FE_HEAD_CAP ? cs->head_len
                                                    : FE_HEAD_CAP;

        if (fe_head_scan(cs->head, len, &hi)) {
            cs->head_end = hi.head_end;
            cs->head_done = now;
        }
    }
}

int fe_head_partial(const fe_conn_t *cs)
{
    if (cs->head_len <= cs->head_off) {
        return 0;
    }
    /* The listener's bytes of a TLS connection are a handshake: nothing
     * the core could answer. */
    return !cs->fresh || (unsigned char)cs->head[0] != FE_HEAD_TLS_HANDSHAKE;
}

int fe_head_complete(const fe_conn_t *cs)
{
    return fe_request_ready(cs->head, cs->head_len, fe_body_limit(cs));
}

/* Listener thread, cs parked or just accepted (not yet any worker's). */
fe_head_read_e fe_head_read(fe_conn_t *cs)
{
    char buf[FE_HEAD_CAP];
    int fd = fe_sock_fd(cs->sock);
    apr_size_t want = fe_head_want(cs), room;
    ssize_t n;

    if (fd < 0) {
        return FE_HEAD_CLOSE;
    }
    room = want > cs->head_len ? want - cs->head_len : 0;
    if (room > sizeof buf) {
        room = sizeof buf;
    }
    if (room == 0) {
        return FE_HEAD_GO;
    }
    do {
        n = recv(fd, buf, room, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return FE_HEAD_WAIT;
        }
        return FE_HEAD_CLOSE;        /* reset: nothing to answer */
    }
    if (n == 0) {
        /* EOF: a partial head is the worker's to answer (400). */
        return cs->head_len > 0 ? FE_HEAD_GO : FE_HEAD_CLOSE;
    }
    fe_head_append(cs, buf, (apr_size_t)n, cs->child->loop_now);
    return fe_head_complete(cs) ? FE_HEAD_GO : FE_HEAD_WAIT;
}

/* The bucket that stands for "the header deadline passed": every read
 * answers APR_TIMEUP, as mod_reqtimeout's filter does when its time is up.
 * It holds no data and nothing to free. */
static apr_status_t fe_timeup_read(apr_bucket *b, const char **str,
                                   apr_size_t *len, apr_read_type_e block)
{
    *str = NULL;
    *len = 0;
    return APR_TIMEUP;
}

static const apr_bucket_type_t fe_timeup_type = {
    "FE_TIMEUP", 5, APR_BUCKET_DATA,
    apr_bucket_destroy_noop,
    fe_timeup_read,
    apr_bucket_setaside_notimpl,
    apr_bucket_split_notimpl,
    apr_bucket_copy_notimpl
};

static apr_bucket *fe_timeup_create(apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof *b, list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->type = &fe_timeup_type;
    b->length = (apr_size_t)-1;
    b->start = -1;
    b->data = NULL;
    return b;
}

/* insert_network_bucket: the core sets up its input brigade (once per
 * connection, at its first read).  Buffered bytes go first; after them
 * the socket, or, for a head that missed its deadline, the timeout. */
static apr_status_t fe_head_insert(conn_rec *c, apr_bucket_brigade *bb,
                                   apr_socket_t *sock)
{
    fe_conn_t *cs;
    apr_bucket *b;

    if (c->master != NULL || (cs = fe_conn_from_c(c)) == NULL
        || cs->c != c || cs->sock != sock) {
        return AP_DECLINED;
    }
    if (cs->intake_f != NULL) {
        /* TLS (fe_intake.c): only the listener's raw bytes go here; the
         * decrypted ones are FE_INTAKE's, above mod_ssl. */
        if (cs->raw_len == 0) {
            return AP_DECLINED;
        }
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(cs->raw,
                                                           cs->raw_len, cs->p,
                                                           c->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_socket_create(sock,
                                                             c->bucket_alloc));
        cs->raw = NULL;
        cs->raw_len = 0;
        return APR_SUCCESS;
    }
    if (cs->head_len == 0 && !cs->head_late) {
        return AP_DECLINED;
    }
    if (cs->head_len > 0) {
        b = apr_bucket_pool_create(cs->head, cs->head_len, cs->p,
                                   c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    APR_BRIGADE_INSERT_TAIL(bb, cs->head_late
                                ? fe_timeup_create(c->bucket_alloc)
                                : apr_bucket_socket_create(sock,
                                                           c->bucket_alloc));
    cs->head = NULL;
    cs->head_len = cs->head_cap = cs->head_end = 0;
    return APR_SUCCESS;
}

/* ------------------------------------------------- the header deadline */

/* Is a module loaded, named as <IfModule> names it: by its source file
 * ("mod_reqtimeout.c") or by its symbol ("reqtimeout_module")? */
static int fe_module_loaded(const char *name)
{
    size_t n = strlen(name), suffix = sizeof "_module" - 1;
    module *m;

    if (n <= suffix || strcmp(name + n - suffix, "_module") != 0) {
        return ap_find_linked_module(name) != NULL;
    }
    for (m = ap_top_module; m != NULL; m = m->next) {
        const char *sn = ap_find_module_short_name(m->module_index);

        if (sn != NULL && strlen(sn) == n - suffix
            && strncmp(sn, name, n - suffix) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Is the <IfModule> / <IfDefine> section @a d in effect?  Other sections
 * are taken as in effect. */
static int fe_section_on(const ap_directive_t *d, apr_pool_t *p)
{
    const char *arg = d->args, *end;
    char *name;
    int not, on;

    if (arg == NULL) {
        return 1;
    }
    not = *arg == '!';
    arg += not;
    end = strchr(arg, '>');
    name = apr_pstrmemdup(p, arg, end ? (apr_size_t)(end - arg)
                                               : strlen(arg));
    if (strcasecmp(d->directive, "<IfDefine") == 0) {
        on = ap_exists_config_define(name);
    }
    else if (strcasecmp(d->directive, "<IfModule") == 0) {
        on = fe_module_loaded(name);
    }
    else {
        return 1;
    }
    return not ? !on : on;
}

/* The server-level RequestReadTimeout directives in @a d and the
 * sections it holds, in order, applied to @a dl; the last wins, as in
 * mod_reqtimeout.  <VirtualHost> and per-directory sections are not the
 * main server's. */
static void fe_walk_reqtimeout(const ap_directive_t *d, const char *stage,
                               fe_deadline_t *dl, int *off, server_rec *s,
                               apr_pool_t *p)
{
    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "RequestReadTimeout") == 0) {
            const char *err = fe_deadline_parse(d->args, stage, dl, off, p);

            if (err != NULL) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             FELOGNO(10212) "%s (%s line %d): fastevent "
                             "keeps the %s deadline it had", err,
                             d->filename, d->line_num, stage);
            }
        }
        else if (d->first_child != NULL && d->directive[0] == '<'
                 && strcasecmp(d->directive, "<VirtualHost") != 0
                 && fe_section_on(d, p)) {
            fe_walk_reqtimeout(d->first_child, stage, dl, off, s, p);
        }
    }
}

void fe_head_deadline_config(server_rec *s, apr_pool_t *ptemp)
{
    int off = 0, body_off = 0;

    /* Without the module: Timeout for the whole head, and for a body
     * Timeout between two reads, as the core's blocking reads would. */
    fe_g.body_idle = 1;
    fe_deadline_fixed(&fe_g.body_deadline, s->timeout);
    if (!fe_module_loaded("reqtimeout_module")) {
        fe_deadline_fixed(&fe_g.head_deadline, s->timeout);
        return;
    }
    fe_deadline_reqtimeout_default(&fe_g.head_deadline);
    fe_walk_reqtimeout(ap_conftree, "header", &fe_g.head_deadline, &off, s,
                       ptemp);
    if (off) {
        fe_deadline_fixed(&fe_g.head_deadline, s->timeout);
    }
    fe_deadline_reqtimeout_body(&fe_g.body_deadline);
    fe_walk_reqtimeout(ap_conftree, "body", &fe_g.body_deadline, &body_off, s,
                       ptemp);
    fe_g.body_idle = body_off;
    if (body_off) {
        fe_deadline_fixed(&fe_g.body_deadline, s->timeout);
    }
}

void fe_headbuf_register_hooks(void)
{
    ap_hook_insert_network_bucket(fe_head_insert, NULL, NULL,
                                  APR_HOOK_FIRST);
}
