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

/* Listener thread, cs parked or just accepted (not yet any worker's). */
fe_head_read_e fe_head_read(fe_conn_t *cs)
{
    char buf[FE_HEAD_CAP];
    int fd = fe_sock_fd(cs->sock);
    apr_size_t room = FE_HEAD_CAP - cs->head_len;
    ssize_t n;

    if (fd < 0) {
        return FE_HEAD_CLOSE;
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
    if (cs->head_len + (apr_size_t)n > cs->head_cap) {
        apr_size_t cap = fe_head_grow(cs->head_cap, cs->head_len + n,
                                      FE_HEAD_CAP);
        char *nb = apr_palloc(cs->p, cap);

        if (cs->head_len > 0) {
            memcpy(nb, cs->head, cs->head_len);
        }
        cs->head = nb;
        cs->head_cap = cap;
    }
    memcpy(cs->head + cs->head_len, buf, (apr_size_t)n);
    if (cs->line_at == 0 && memchr(buf, '\n', (apr_size_t)n) != NULL) {
        cs->line_at = cs->child->loop_now;   /* the request line is in */
    }
    cs->head_len += (apr_size_t)n;
    return fe_head_ready(cs->head, cs->head_len, FE_HEAD_CAP)
           ? FE_HEAD_GO : FE_HEAD_WAIT;
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
        || (cs->head_len == 0 && !cs->head_late) || cs->c != c
        || cs->sock != sock) {
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
    cs->head_len = cs->head_cap = 0;
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
static void fe_walk_reqtimeout(const ap_directive_t *d, fe_deadline_t *dl,
                               int *off, server_rec *s, apr_pool_t *p)
{
    for (; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "RequestReadTimeout") == 0) {
            const char *err = fe_deadline_parse(d->args, dl, off, p);

            if (err != NULL) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             FELOGNO(10212) "%s (%s line %d): the listener "
                             "keeps the header deadline it had", err,
                             d->filename, d->line_num);
            }
        }
        else if (d->first_child != NULL && d->directive[0] == '<'
                 && strcasecmp(d->directive, "<VirtualHost") != 0
                 && fe_section_on(d, p)) {
            fe_walk_reqtimeout(d->first_child, dl, off, s, p);
        }
    }
}

void fe_head_deadline_config(server_rec *s, apr_pool_t *ptemp)
{
    int off = 0;

    if (!fe_module_loaded("reqtimeout_module")) {
        fe_deadline_fixed(&fe_g.head_deadline, s->timeout);
        return;
    }
    fe_deadline_reqtimeout_default(&fe_g.head_deadline);
    fe_walk_reqtimeout(ap_conftree, &fe_g.head_deadline, &off, s, ptemp);
    if (off) {
        fe_deadline_fixed(&fe_g.head_deadline, s->timeout);
    }
}

void fe_headbuf_register_hooks(void)
{
    ap_hook_insert_network_bucket(fe_head_insert, NULL, NULL,
                                  APR_HOOK_FIRST);
}
