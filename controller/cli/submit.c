/*
 * submit.c — the state of one `twinctl submit` exchange (submit.h) and
 * the helpers every part of it uses: what is said on stderr
 * (the progress line cleared first), topic levels, and freeing it all.
 * The exchange itself is submit_exchange.c's, following a run
 * submit_run.c's, the command's options cmd_submit.c's.
 */
#include "submit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Clear the progress line before anything else goes to stderr. */
void submit__unprogress(submit *s)
{
    if (s->drawn) {
        fprintf(stderr, "\r%70s\r", "");
        s->drawn = 0;
    }
}

void submit__say(submit *s, const char *fmt, ...)
{
    va_list ap;
    submit__unprogress(s);
    fprintf(stderr, "twinctl submit: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *submit__printf(const char *fmt, ...)
{
    char *out;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

/* The topic level after the prefix: the controller's id.  Returns a
 * pointer into topic and its length. */
const char *submit__topic_controller(const submit *s, const char *topic,
                                     size_t *len)
{
    const char *c = topic + strlen(s->prefix) + 1;
    const char *slash = strchr(c, '/');
    *len = slash ? (size_t)(slash - c) : strlen(c);
    return c;
}

int submit__from_cid(const submit *s, const char *topic)
{
    size_t len;
    const char *c = submit__topic_controller(s, topic, &len);
    return s->cid == NULL ||
           (strlen(s->cid) == len && strncmp(s->cid, c, len) == 0);
}

void submit__free(submit *s)
{
    repair__free(&s->rep);
    collect__free(&s->col);
    for (size_t i = 0; i < s->n_sets; i++) {
        free(s->sets[i].id);
        free(s->sets[i].filter);
    }
    free(s->sets);
    json_decref(s->final);
    free(s->cid);
    free(s->t_request);
    free(s->f_response);
    free(s->f_result);
    free(s->f_event);
    free(s->f_repair);
    free(s->payload);
    free(s->scenario);
    json_decref(s->req);
}
