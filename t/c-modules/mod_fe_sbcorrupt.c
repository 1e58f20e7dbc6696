/*
 * mod_fe_sbcorrupt.c: TEST ONLY.  A handler that plays a compromised child
 * process: it writes hostile values into the shared scoreboard (its own
 * process row, its worker rows and a free slot), including the pid of a
 * decoy process given in the query string.  t/restarts/run.py then checks
 * that the parent neither signals the decoy nor misbehaves (the class of
 * bug behind CVE-2019-0211).  Never load this outside the test suite.
 *
 *   <Location /sbcorrupt> SetHandler fe-sbcorrupt </Location>
 *   GET /sbcorrupt?<decoy pid>
 */
#include <stdlib.h>
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "ap_mpm.h"
#include "scoreboard.h"

module AP_MODULE_DECLARE_DATA fe_sbcorrupt_module;

static int fe_sbcorrupt_handler(request_rec *r)
{
    pid_t decoy = r->args ? (pid_t)atoi(r->args) : 0;
    int slots = 0, threads = 0, slot, t;
    process_score *ps;

    if (r->handler == NULL || strcmp(r->handler, "fe-sbcorrupt") != 0) {
        return DECLINED;
    }
    if (decoy <= 1) {
        return HTTP_BAD_REQUEST;
    }
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &slots);
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads);
    for (slot = 0; slot < slots; slot++) {
        if (ap_scoreboard_image->parent[slot].pid == getpid()) {
            break;
        }
    }
    if (slot == slots) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ps = &ap_scoreboard_image->parent[slot];
    ps->pid = decoy;
    ps->generation = 0x7fffffff;
    ps->quiescing = 1;
    ps->not_accepting = 1;
    ps->connections = 0xffffffffu;
    for (t = 0; t < threads; t++) {
        worker_score *ws = &ap_scoreboard_image->servers[slot][t];

        ws->pid = decoy;
        ws->generation = -7;
        ws->status = 200;            /* not a valid status */
    }
    for (t = 0; t < slots; t++) {    /* and a slot nobody holds */
        if (ap_scoreboard_image->parent[t].pid == 0) {
            ap_scoreboard_image->parent[t].pid = decoy;
            ap_scoreboard_image->parent[t].generation = 12345;
            break;
        }
    }
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "corrupted slot %d with pid %d\n", slot, (int)decoy);
    return OK;
}

static void fe_sbcorrupt_hooks(apr_pool_t *p)
{
    ap_hook_handler(fe_sbcorrupt_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(fe_sbcorrupt) = {
    STANDARD20_MODULE_STUFF,
    NULL, NULL, NULL, NULL, NULL,
    fe_sbcorrupt_hooks
};
