/*
 * mod_mpm_fastevent.c: the module declaration of mpm_fastevent, a
 * drop-in replacement for httpd's event MPM.
 *
 * This file owns the module struct, the directive table, the hook
 * registration and the hooks that only configure: pre_config (retained
 * data, run modes, detaching), check_config (clamping through fe_config),
 * open_logs (listeners, buckets, pipes of death) and the query hooks.  The
 * work is done elsewhere: process/ (the parent and a child process),
 * connection/ (the listener and the workers running connections),
 * fdqueue/ (the hand-off between them), scoreboard/ (what mod_status
 * reads), policy/ (the pure decisions); docs/ARCHITECTURE.md has the map.
 *
 * Must not: keep state in statics other than fe_g and fe_this_child (the
 * module is unloaded and reloaded on every restart, so state that must
 * survive lives in fe_retained_t), or store pointers into this .so in
 * retained memory.
 *
 * The file name matters: httpd records module->name from __FILE__, and
 * tools (Apache::Test's info.t, mod_info) expect mod_mpm_<name>.c.
 */
#include <stddef.h>

#include "mpm_fastevent.h"
#include "connection/fe_backend.h"
#include "connection/fe_conn.h"
#include "connection/fe_headbuf.h"
#include "connection/fe_intake.h"
#include "connection/fe_timer.h"
#include "connection/fe_writenow.h"
#include "policy/fe_connstate.h"
#include "process/fe_fdlimit.h"
#include "process/fe_parent.h"
#include "scoreboard/fe_metrics.h"
#include "http_log.h"
#include "http_core.h"
#include "http_main.h"
#include "http_protocol.h"
#include "ap_mpm.h"
#include "ap_mmn.h"

#include <apr_strings.h>

fe_globals_t fe_g;
fe_child_t *fe_this_child;

/* The pure state machine mirrors httpd's enums; keep them in step. */
_Static_assert((int)CONN_STATE_KEEPALIVE == (int)FE_CS_KEEPALIVE, "conn_state_e");
_Static_assert((int)CONN_STATE_PROCESSING == (int)FE_CS_PROCESSING, "conn_state_e");
_Static_assert((int)CONN_STATE_WRITE_COMPLETION == (int)FE_CS_WRITE_COMPLETION,
               "conn_state_e");
_Static_assert((int)CONN_STATE_SUSPENDED == (int)FE_CS_SUSPENDED, "conn_state_e");
_Static_assert((int)CONN_STATE_LINGER == (int)FE_CS_LINGER, "conn_state_e");
_Static_assert((int)CONN_STATE_LINGER_SHORT == (int)FE_CS_LINGER_SHORT, "conn_state_e");
_Static_assert((int)CONN_STATE_ASYNC_WAITIO == (int)FE_CS_ASYNC_WAITIO, "conn_state_e");
_Static_assert((int)CONN_STATE_NUM == (int)FE_CS_NUM, "conn_state_e");
_Static_assert((int)CONN_SENSE_WANT_READ == (int)FE_SENSE_WANT_READ, "conn_sense_e");

/* ------------------------------------------------------------ directives */

/* One handler for every integer sizing directive: cmd->info is the
 * offset of the field in fe_limits_t. */
static const char *fe_cmd_int(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int *field = (int *)((char *)&fe_g.lim + (size_t)cmd->info);

    if (err != NULL) {
        return err;
    }
    if (strcasecmp(cmd->directive->directive, "MaxClients") == 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, NULL, FELOGNO(10070)
                     "MaxClients is deprecated, use MaxRequestWorkers "
                     "instead (same meaning)");
    }
    return fe_parse_int(cmd->directive->directive, arg, field, cmd->pool);
}

static const char *fe_cmd_factor(cmd_parms *cmd, void *dummy,
                                 const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    return fe_parse_factor(arg, &fe_g.lim.worker_factor, cmd->pool);
}

/* One handler for the directives whose value a policy/fe_config.c parser
 * reads into an int field: cmd->info names both. */
typedef struct fe_int_cmd {
    const char *(*parse)(const char *arg, int *out, apr_pool_t *p);
    size_t offset;                      /* of the field in fe_limits_t */
} fe_int_cmd_t;

static const fe_int_cmd_t fe_reserve_cmd = {
    fe_parse_reserve, offsetof(fe_limits_t, proxy_reserve) };
static const fe_int_cmd_t fe_sched_cmd = {
    fe_parse_sched, offsetof(fe_limits_t, sched_batch) };
static const fe_int_cmd_t fe_hold_cmd = {
    fe_parse_hold, offsetof(fe_limits_t, ka_hold) };
static const fe_int_cmd_t fe_affinity_cmd = {
    fe_parse_affinity, offsetof(fe_limits_t, cpu_affinity) };

static const char *fe_cmd_parsed(cmd_parms *cmd, void *dummy,
                                 const char *arg)
{
    const fe_int_cmd_t *how = cmd->info;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    return how->parse(arg, (int *)((char *)&fe_g.lim + how->offset),
                      cmd->pool);
}

static const char *fe_cmd_body_buffer(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    return fe_parse_size(arg, &fe_g.lim.body_buffer, cmd->pool);
}

/* One handler for the On|Off directives: cmd->info is the offset of the
 * field in fe_limits_t. */
static const char *fe_cmd_flag(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err != NULL) {
        return err;
    }
    *(int *)((char *)&fe_g.lim + (size_t)cmd->info) = on;
    return NULL;
}

#define FE_INT_CMD(name, field, help) \
    AP_INIT_TAKE1(name, fe_cmd_int, \
                  (void *)offsetof(fe_limits_t, field), RSRC_CONF, help)

static const command_rec fe_cmds[] = {
    LISTEN_COMMANDS,
    FE_INT_CMD("StartServers", start_servers,
               "Number of child processes launched at server startup"),
    FE_INT_CMD("MinSpareThreads", min_spare_threads,
               "Minimum number of idle threads, to handle request spikes"),
    FE_INT_CMD("MaxSpareThreads", max_spare_threads,
               "Maximum number of idle threads"),
    FE_INT_CMD("MaxRequestWorkers", max_workers,
               "Maximum number of threads alive at the same time"),
    FE_INT_CMD("MaxClients", max_workers,
               "Deprecated name of MaxRequestWorkers"),
    FE_INT_CMD("ThreadsPerChild", threads_per_child,
               "Number of worker threads in each child process"),
    FE_INT_CMD("ServerLimit", server_limit,
               "Upper limit on the configurable number of processes"),
    FE_INT_CMD("ThreadLimit", thread_limit,
               "Upper limit on the configurable ThreadsPerChild"),
    AP_INIT_TAKE1("AsyncRequestWorkerFactor", fe_cmd_factor, NULL, RSRC_CONF,
                  "How many connections per worker thread a child may hold "
                  "(a real number, e.g. 1.5)"),
    AP_INIT_TAKE1("FastEventCPUAffinity", fe_cmd_parsed,
                  (void *)&fe_affinity_cmd, RSRC_CONF,
                  "auto: with at least as many child processes as CPUs, "
                  "keep each child on one CPU; off: let the kernel place "
                  "them"),
    AP_INIT_FLAG("FastEventKeepAlivePoll", fe_cmd_flag,
                 (void *)offsetof(fe_limits_t, ka_poll), RSRC_CONF,
                 "on: idle workers wait on the idle keep-alive connections "
                 "themselves (less CPU with many connections; see "
                 "docs/directives.md for the trade-off); off (default): "
                 "the listener watches them"),
    AP_INIT_TAKE1("FastEventSchedBatch", fe_cmd_parsed,
                  (void *)&fe_sched_cmd, RSRC_CONF,
                  "auto (default, Linux): children run under SCHED_BATCH "
                  "while other programs leave their CPUs alone, under the "
                  "default policy while they do not; on: always "
                  "SCHED_BATCH (a woken server thread waits for its CPU's "
                  "running thread); off: the kernel's default policy"),
    AP_INIT_TAKE1("FastEventProxyReserve", fe_cmd_parsed,
                  (void *)&fe_reserve_cmd, RSRC_CONF,
                  "Percentage of each child's workers kept from proxy "
                  "handlers while other requests wait for a worker (default "
                  "25%); off: proxied requests may take every worker, as "
                  "under stock event"),
    AP_INIT_TAKE1("FastEventKeepAliveHold", fe_cmd_parsed,
                  (void *)&fe_hold_cmd, RSRC_CONF,
                  "auto (default): after a keep-alive response on plain "
                  "HTTP, a spare worker waits up to 50 ms on the "
                  "connection for its next request; on: over TLS too (a "
                  "little less CPU, a longer tail when the CPU is busy); "
                  "off: never"),
    AP_INIT_TAKE1("FastEventBodyBuffer", fe_cmd_body_buffer, NULL, RSRC_CONF,
                  "Request bodies of at most this size (default 128K; off: "
                  "none) are read before a worker runs the request, without "
                  "a worker waiting on the client"),
    AP_GRACEFUL_SHUTDOWN_TIMEOUT_COMMAND,
    { NULL }
};

/* ------------------------------------------------------------ config hooks */

static int fe_preflight(void)
{
    return fe_g.retained->mpm->module_loads == 1;
}

/* Pure code reports through this; the first pass logs to the console. */
static void fe_diag(void *baton, int level, int tag, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (fe_preflight()) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | level, 0, NULL,
                     "FE%05d: %s", tag, msg);
    }
    else {
        ap_log_error(APLOG_MARK, level, 0, ap_server_conf, "FE%05d: %s",
                     tag, msg);
    }
}

static int fe_detach(apr_pool_t *pconf)
{
    apr_status_t rv;

    if (fe_g.one_process || fe_g.foreground) {
        return OK;
    }
    ap_fatal_signal_setup(ap_server_conf, pconf);
    rv = apr_proc_detach(fe_g.no_detach ? APR_PROC_DETACH_FOREGROUND
                                        : APR_PROC_DETACH_DAEMONIZE);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, NULL, FELOGNO(10071)
                     "apr_proc_detach failed: cannot become a daemon; run "
                     "with -DFOREGROUND to stay attached");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int fe_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    fe_retained_t *rt = ap_retained_data_get(FE_RETAINED_KEY);
    int debug = ap_exists_config_define("DEBUG");

    memset(&fe_g, 0, sizeof fe_g);
    if (rt == NULL) {
        rt = ap_retained_data_create(FE_RETAINED_KEY, sizeof *rt);
        rt->mpm = ap_unixd_mpm_get_retained_data();
    }
    if (rt->mpm->baton != rt) {
        rt->mpm->was_graceful = 0;
        rt->mpm->baton = rt;
    }
    ++rt->mpm->module_loads;
    rt->mpm->mpm_state = AP_MPMQ_STARTING;
    fe_g.retained = rt;
    fe_g.one_process = debug || ap_exists_config_define("ONE_PROCESS");
    fe_g.foreground = debug || ap_exists_config_define("FOREGROUND");
    fe_g.no_detach = ap_exists_config_define("NO_DETACH");

    /* Detach on the second load only: the first is the preflight pass,
     * whose errors must still reach the console. */
    if (rt->mpm->module_loads == 2 && fe_detach(pconf) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_listen_pre_config();
    fe_limits_defaults(&fe_g.lim);
    ap_extended_status = 0;
    return OK;
}

static int fe_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    fe_retained_t *rt = fe_g.retained;

    fe_limits_check(&fe_g.lim, rt->first_server_limit,
                    rt->first_thread_limit, fe_diag, NULL);
    if (!rt->first_server_limit) {
        rt->first_server_limit = fe_g.lim.server_limit;
    }
    if (!rt->first_thread_limit) {
        rt->first_thread_limit = fe_g.lim.thread_limit;
    }
    if (fe_preflight()) {
        fe_check_nofile(s, FE_NOFILE_PREFLIGHT);   /* -t included */
    }
    fe_head_deadline_config(s, ptemp);
    return OK;
}

/* Grow the per-bucket spawn rates (retained, so from ap_pglobal). */
static void fe_size_spawn_rates(fe_retained_t *rt, int num_buckets)
{
    int i, *rates;

    if (rt->spawn_rate_len >= num_buckets) {
        return;
    }
    rates = apr_pcalloc(ap_pglobal, num_buckets * sizeof *rates);
    for (i = 0; i < num_buckets; i++) {
        rates[i] = i < rt->spawn_rate_len ? rt->spawn_rate[i] : 1;
    }
    rt->spawn_rate = rates;
    rt->spawn_rate_len = num_buckets;
}

/*
 * Every listener bucket needs a process to accept its connections: the
 * kernel shares new connections out over every bucket's socket
 * (SO_REUSEPORT), and those a bucket without a process gets are never
 * accepted.  With more buckets than processes may run (MaxRequestWorkers /
 * ThreadsPerChild), the extra buckets' sockets are closed before any child
 * starts (the parent says so, FE10075).  Returns the buckets kept.
 */
static int fe_fit_buckets(int num_buckets)
{
    int limit = fe_g.lim.active_daemons_limit, i;

    fe_g.buckets_asked = num_buckets;
    if (limit < 1 || num_buckets <= limit) {
        return num_buckets;
    }
    for (i = limit; i < num_buckets; i++) {
        ap_close_listeners_ex(fe_g.buckets[i]);
    }
    ap_num_listen_buckets = limit;
    return limit;
}

static int fe_open_logs(apr_pool_t *pconf, apr_pool_t *plog,
                        apr_pool_t *ptemp, server_rec *s)
{
    fe_retained_t *rt = fe_g.retained;
    int level = fe_preflight() ? APLOG_STARTUP : 0;
    int i, num_buckets = 0;
    apr_status_t rv;

    if (ap_setup_listeners(ap_server_conf) < 1) {
        ap_log_error(APLOG_MARK, APLOG_ALERT | level, 0,
                     level ? NULL : s, FELOGNO(10072)
                     "no listening sockets available, shutting down: "
                     "check the Listen directives and that no other "
                     "server holds the ports");
        return !OK;
    }
    if (fe_g.one_process) {
        num_buckets = 1;
    }
    else if (rt->mpm->was_graceful) {
        num_buckets = rt->mpm->num_buckets;  /* children keep their bucket */
    }
    rv = ap_duplicate_listeners(pconf, ap_server_conf, &fe_g.buckets,
                                &num_buckets);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT | level, rv, level ? NULL : s,
                     FELOGNO(10073) "could not duplicate listeners into "
                     "%d buckets (ListenCoresBucketsRatio): lower or remove "
                     "ListenCoresBucketsRatio, or raise the open files "
                     "limit",
                     num_buckets);
        return !OK;
    }
    num_buckets = fe_fit_buckets(num_buckets);
    fe_g.pods = apr_palloc(pconf, num_buckets * sizeof *fe_g.pods);
    for (i = 0; i < num_buckets; i++) {
        rv = ap_mpm_podx_open(pconf, &fe_g.pods[i]);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT | level, rv,
                         level ? NULL : s, FELOGNO(10074)
                         "could not open pipe-of-death: the open files "
                         "limit (ulimit -n) may be too low");
            return !OK;
        }
    }
    fe_g.num_buckets = num_buckets;
    rt->mpm->num_buckets = num_buckets;
    if (rt->mpm->max_buckets < num_buckets) {
        rt->mpm->max_buckets = num_buckets;
    }
    fe_size_spawn_rates(rt, num_buckets);
    return OK;
}

/* ------------------------------------------------------------ queries */

static int fe_query(int code, int *result, apr_status_t *rv)
{
    /* -V asks IS_THREADED/IS_FORKED before any pre_config: answer those
     * without touching fe_g.retained. */
    const fe_limits_t *l = &fe_g.lim;
    fe_retained_t *rt = fe_g.retained;

    *rv = APR_SUCCESS;
    switch (code) {
    case AP_MPMQ_IS_THREADED:  *result = AP_MPMQ_STATIC;  return OK;
    case AP_MPMQ_IS_FORKED:    *result = AP_MPMQ_DYNAMIC; return OK;
    case AP_MPMQ_IS_ASYNC:     *result = 1;               return OK;
    case AP_MPMQ_CAN_WAITIO:   *result = 1;               return OK;
    case AP_MPMQ_HARD_LIMIT_DAEMONS: *result = l->server_limit;  return OK;
    case AP_MPMQ_HARD_LIMIT_THREADS: *result = l->thread_limit;  return OK;
    case AP_MPMQ_MAX_THREADS:  *result = l->threads_per_child;  return OK;
    case AP_MPMQ_MIN_SPARE_DAEMONS: *result = 0;              return OK;
    case AP_MPMQ_MIN_SPARE_THREADS: *result = l->min_spare_threads; return OK;
    case AP_MPMQ_MAX_SPARE_DAEMONS: *result = 0;              return OK;
    case AP_MPMQ_MAX_SPARE_THREADS: *result = l->max_spare_threads; return OK;
    case AP_MPMQ_MAX_REQUESTS_DAEMON:
        *result = ap_max_requests_per_child;
        return OK;
    case AP_MPMQ_MAX_DAEMONS:  *result = l->active_daemons_limit; return OK;
    case AP_MPMQ_MAX_DAEMON_USED:
        *result = rt ? rt->max_daemon_used : 0;
        return OK;
    case AP_MPMQ_MPM_STATE:
        *result = rt ? rt->mpm->mpm_state : AP_MPMQ_STARTING;
        return OK;
    case AP_MPMQ_GENERATION:
        *result = rt ? (int)rt->mpm->my_generation : 0;
        return OK;
    default:
        *rv = APR_ENOTIMPL;
        return OK;
    }
}

static const char *fe_get_name(void)
{
    return FE_MPM_NAME;
}

/* ------------------------------------------------------------ registration */

static void fe_register_hooks(apr_pool_t *p)
{
    /* Before core.c's open_logs, which redirects stderr to the ErrorLog:
     * listener errors must still reach the console. */
    static const char *const core_succ[] = { "core.c", NULL };

    ap_hook_open_logs(fe_open_logs, NULL, core_succ, APR_HOOK_REALLY_FIRST);
    /* First, so modules that query the MPM in pre_config see our state. */
    ap_hook_pre_config(fe_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_check_config(fe_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_mpm(fe_mpm_run, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_mpm_query(fe_query, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_mpm_get_name(fe_get_name, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_mpm_register_timed_callback(fe_register_timed_callback, NULL,
                                        NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_read_request(fe_pre_read_request_hook, NULL, NULL,
                             APR_HOOK_MIDDLE);
    /* First: the request's time is set before modules read it. */
    ap_hook_post_read_request(fe_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(fe_log_transaction, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    /* Secondary (HTTP/2 stream) connections get their own state before
     * any other module looks at them. */
    ap_hook_pre_connection(fe_pre_connection, NULL, NULL,
                           APR_HOOK_REALLY_FIRST);
    ap_hook_protocol_switch(fe_protocol_switch, NULL, NULL,
                            APR_HOOK_REALLY_FIRST);
    fe_metrics_register_hooks();
    fe_backend_register_hooks();
    fe_headbuf_register_hooks();
    fe_intake_register_hooks();
    fe_writenow_register();
}

/* The only symbol this .so exports (built with -fvisibility=hidden). */
__attribute__((visibility("default")))
AP_DECLARE_MODULE(mpm_fastevent) = {
    MPM20_MODULE_STUFF,
    NULL,                       /* hook to run before apache parses args */
    NULL,                       /* create per-directory config structure */
    NULL,                       /* merge per-directory config structures */
    NULL,                       /* create per-server config structure */
    NULL,                       /* merge per-server config structures */
    fe_cmds,                    /* command apr_table_t */
    fe_register_hooks,          /* register hooks */
    AP_MODULE_FLAG_NONE         /* flags */
};
