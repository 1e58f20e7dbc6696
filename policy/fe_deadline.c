/*
 * fe_deadline.c: the header deadline of a new connection (fe_deadline.h).
 *
 * Owns: reading mod_reqtimeout's header stage from a RequestReadTimeout
 * argument string (the syntax of its documentation: stage=timeout
 * [-maxtimeout][,MinRate=rate], stages separated by blanks, names without
 * regard to case), and the deadline arithmetic.
 *
 * Must not: include httpd headers, read the clock, keep state.
 */
#include "policy/fe_deadline.h"

#include <apr_strings.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* per_byte is kept in 1/1024 microseconds, so that a rate of 500 bytes a
 * second (2000 us a byte) and rates above 10^6 (under 1 us) both count. */
#define FE_DEADLINE_FRAC 1024

void fe_deadline_fixed(fe_deadline_t *d, apr_interval_time_t timeout)
{
    d->timeout = timeout > 0 ? timeout : 0;
    d->max = d->timeout;
    d->per_byte = 0;
}

/* max < 0: none given; with a MinRate the extensions then have no cap
 * (mod_reqtimeout's "header=10,MinRate=500"). */
static void fe_deadline_set(fe_deadline_t *d, long timeout, long max,
                            long rate)
{
    d->timeout = apr_time_from_sec(timeout);
    if (max < 0) {
        d->max = rate > 0 ? d->timeout + FE_DEADLINE_NO_MAX : d->timeout;
    }
    else {
        d->max = apr_time_from_sec(max > timeout ? max : timeout);
    }
    d->per_byte = rate > 0 && d->max > d->timeout
                  ? (apr_interval_time_t)APR_USEC_PER_SEC * FE_DEADLINE_FRAC
                    / rate
                  : 0;
}

void fe_deadline_reqtimeout_default(fe_deadline_t *d)
{
    fe_deadline_set(d, FE_DEADLINE_RT_TIMEOUT, FE_DEADLINE_RT_MAX,
                    FE_DEADLINE_RT_MIN_RATE);
}

void fe_deadline_reqtimeout_body(fe_deadline_t *d)
{
    fe_deadline_set(d, FE_DEADLINE_RT_BODY, -1, FE_DEADLINE_RT_MIN_RATE);
}

/* A whole number in [0, limit] at *s, which is moved past it; -1 if none. */
static long fe_number(const char **s, long limit)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)**s)) {
        return -1;
    }
    errno = 0;
    v = strtol(*s, &end, 10);
    if (errno != 0 || v > limit) {
        return -1;
    }
    *s = end;
    return v;
}

/* One stage's value: "timeout[-max][,MinRate=rate]". */
static const char *fe_stage(const char *v, long *timeout, long *max,
                            long *rate, apr_pool_t *p)
{
    const char *s = v;

    *timeout = fe_number(&s, 100000);
    *max = -1;
    *rate = 0;
    if (*timeout < 0) {
        return apr_psprintf(p, "'%s': a number of seconds must come first",
                            v);
    }
    if (*s == '-') {
        s++;
        *max = fe_number(&s, 100000);
        if (*max < *timeout) {   /* also when not a number (-1) */
            return apr_psprintf(p, "'%s': the maximum must be a number not "
                                "below the timeout", v);
        }
    }
    if (*s == ',') {
        s++;
        if (strncasecmp(s, "minrate=", 8) != 0) {
            return apr_psprintf(p, "'%s': only MinRate= may follow the "
                                "comma", v);
        }
        s += 8;
        *rate = fe_number(&s, LONG_MAX);
        if (*rate <= 0) {
            return apr_psprintf(p, "'%s': MinRate must be a positive "
                                "number of bytes a second", v);
        }
    }
    if (*s != '\0') {
        return apr_psprintf(p, "'%s': unexpected '%s'", v, s);
    }
    return NULL;
}

const char *fe_deadline_parse(const char *args, const char *stage,
                              fe_deadline_t *d, int *off, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, args != NULL ? args : ""), *last = NULL;
    size_t n = strlen(stage);
    char *word;

    for (word = apr_strtok(copy, " \t", &last); word != NULL;
         word = apr_strtok(NULL, " \t", &last)) {
        long timeout, max, rate;
        const char *err;

        if (strncasecmp(word, stage, n) != 0 || word[n] != '=') {
            continue;                /* another stage */
        }
        err = fe_stage(word + n + 1, &timeout, &max, &rate, p);
        if (err != NULL) {
            return apr_pstrcat(p, "RequestReadTimeout ", stage, "=", err,
                               NULL);
        }
        if (timeout == 0) {
            *off = 1;
            continue;
        }
        *off = 0;
        fe_deadline_set(d, timeout, max, rate);
    }
    return NULL;
}

apr_time_t fe_deadline_at(const fe_deadline_t *d, apr_time_t start,
                          apr_size_t bytes)
{
    apr_interval_time_t extra = d->max - d->timeout, grow;

    if (d->per_byte > 0 && bytes > 0 && extra > 0) {
        /* bytes x per_byte / FRAC, without overflowing: past the cap it
         * does not matter by how much. */
        if (bytes > (apr_size_t)(extra / d->per_byte + 1) * FE_DEADLINE_FRAC) {
            grow = extra;
        }
        else {
            grow = (apr_interval_time_t)bytes * d->per_byte
                   / FE_DEADLINE_FRAC;
            grow = grow < extra ? grow : extra;
        }
    }
    else {
        grow = 0;
    }
    return start + d->timeout + grow;
}

apr_time_t fe_intake_due(const fe_deadline_t *head, const fe_deadline_t *body,
                         int body_idle, const fe_intake_clock_t *ic)
{
    if (ic->head_end == 0) {
        return fe_deadline_at(head, ic->accepted, ic->bytes);
    }
    if (body_idle) {
        return ic->last_read + body->timeout;
    }
    return fe_deadline_at(body, ic->head_done,
                          ic->bytes > ic->head_end ? ic->bytes - ic->head_end
                                                   : 0);
}
