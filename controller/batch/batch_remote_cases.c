/*
 * batch_remote_cases.c — the state of `twinctl batch --broker`
 * (batch_remote_cases.h): the controllers of the group as far as we know
 * them, the cases in flight, and what happens to a case whatever noticed
 * it — ended, lost (sent again, the same request), renewed (sent again
 * under a new id) — with what the operator is told and why the batch
 * stalls.  Below both halves of the executor: batch_remote.c sends the
 * cases and runs the loop, batch_remote_answers.c takes what comes back.
 */
#include "batch_remote_cases.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
void batch_remote_cases__note(remote *m, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    if (m->obs == NULL || m->obs->note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    m->obs->note(m->obs->ctx, m->t, text);
}

void batch_remote_cases__stall(remote *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->why, m->why_len, fmt, ap);
    va_end(ap);
    m->t->stalled = 1;
}

/* ---- controllers -------------------------------------------------------- */

ctl *batch_remote_cases__find_ctl(remote *m, const char *id, size_t len,
                                  int make)
{
    for (size_t i = 0; i < m->n_ctls; i++)
        if (strlen(m->ctls[i]->id) == len &&
            strncmp(m->ctls[i]->id, id, len) == 0)
            return m->ctls[i];
    if (!make)
        return NULL;
    ctl **more = realloc(m->ctls, (m->n_ctls + 1) * sizeof *more);
    ctl *c = calloc(1, sizeof *c);
    if (more != NULL)
        m->ctls = more;
    if (more == NULL || c == NULL || (c->id = strndup(id, len)) == NULL) {
        free(c);
        return NULL;
    }
    c->heard = -INFINITY;
    m->ctls[m->n_ctls++] = c;
    return c;
}

/* ---- the cases in flight ------------------------------------------------ */

/* The case in flight of this index, if any. */
rcase *batch_remote_cases__find(const remote *m, size_t index)
{
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i]->index == index)
            return m->live[i];
    return NULL;
}

/* The case an id of ours names ("b<hash>-<case id>[.n]"), if it is in
 * flight; *current: the id is its request id now. */
rcase *batch_remote_cases__of_id(const remote *m, const char *id,
                                 size_t len, int *current)
{
    size_t tl = strlen(m->tag);
    if (len <= tl || strncmp(id, m->tag, tl) != 0)
        return NULL;
    char *end;
    unsigned long long index = strtoull(id + tl, &end, 10);
    if (end == id + tl || index >= m->b->n_cases)
        return NULL;
    rcase *rc = batch_remote_cases__find(m, (size_t)index);
    if (rc == NULL)
        return NULL;
    const char *name = batch__case_name(m->r, rc->index);
    size_t nl = strlen(name);
    if (len < tl + nl || strncmp(id + tl, name, nl) != 0 ||
        (len > tl + nl && id[tl + nl] != '.'))
        return NULL;
    *current = strlen(rc->id) == len && strncmp(rc->id, id, len) == 0;
    return rc;
}

/* Its subscriptions undone. */
void batch_remote_cases__drop_topics(remote *m, rcase *rc)
{
    if (rc->n_topics > 0 && m->mq != NULL)
        mqtt__unsubscribe(m->mq, (const char *const *)rc->topics,
                          rc->n_topics);
    for (size_t i = 0; i < rc->n_topics; i++)
        free(rc->topics[i]);
    rc->n_topics = 0;
    rc->subscribed = 0;
}

/* The request id from the case's id and its suffix, into req and text. */
int batch_remote_cases__set_id(remote *m, rcase *rc)
{
    const char *name = batch__case_name(m->r, rc->index);
    if (rc->fresh)
        snprintf(rc->id, sizeof rc->id, "%s%s.%u", m->tag, name, rc->fresh);
    else
        snprintf(rc->id, sizeof rc->id, "%s%s", m->tag, name);
    free(rc->text);
    rc->text = NULL;
    if (json_object_set_new(rc->req, "id", json_string(rc->id)) != 0)
        return -1;
    rc->text = json_dumps(rc->req, JSON_COMPACT);
    return rc->text ? 0 : -1;
}

/* With --rows: forget the rows collected so far. */
void batch_remote_cases__drop_rows(rcase *rc)
{
    if (rc->rows) {
        rows_out__close(&rc->rows, NULL, 0);
        unlink(rc->tmp);
    }
    free(rc->tmp);
    rc->tmp = NULL;
    repair__free(&rc->rep);
    collect__free(&rc->col);
    json_decref(rc->final);
    rc->final = NULL;
}

/* ---- a case's end ------------------------------------------------------- */

void batch_remote_cases__take(remote *m, rcase *rc)
{
    for (size_t i = 0; i < m->n_live; i++)
        if (m->live[i] == rc) {
            m->live[i] = m->live[--m->n_live];
            break;
        }
    batch_remote_cases__drop_topics(m, rc);
    batch_remote_cases__drop_rows(rc);
    json_decref(rc->req);
    free(rc->text);
    free(rc);
}

/* The case ended with rec (stolen), answered by c (or NULL). */
void batch_remote_cases__end(remote *m, rcase *rc, ctl *c, json_t *rec)
{
    if (rec != NULL) {
        if (c != NULL)
            json_object_set_new(rec, "controller", json_string(c->id));
        json_object_set_new(rec, "request", json_string(rc->id));
        json_object_set_new(rec, "sent", json_integer(rc->sends));
    }
    if (c != NULL)
        c->done++;
    size_t index = rc->index;
    batch_remote_cases__take(m, rc);
    batch__case_end(m->r, index, rec);
}

/* ---- losing a case, and sending it again -------------------------------- */

/* Lost once more because of why: 0, or -1 when that was once too many
 * and the case has ended, failed. */
static int count_loss(remote *m, rcase *rc, const char *why)
{
    if (++rc->lost <= m->max_lost)
        return 0;
    char msg[1024];
    snprintf(msg, sizeof msg, "lost %u times, the last time because %s; "
             "not sent again (run the batch again with --retry-failed)",
             rc->lost, why);
    batch_remote_cases__end(
        m, rc, NULL,
        batch__record_new(m->r, rc->index, "failed", "internal", msg));
    return -1;
}

void batch_remote_cases__renew(remote *m, rcase *rc, const char *why)
{
    if (why != NULL && count_loss(m, rc, why) != 0)
        return;
    batch_remote_cases__drop_topics(m, rc);
    batch_remote_cases__drop_rows(rc);
    rc->fresh++;
    if (batch_remote_cases__set_id(m, rc) != 0)
        batch_remote_cases__stall(m, "out of memory");
    rc->bound = NULL;
    rc->target = NULL;
    rc->state = R_QUEUED;
    rc->not_before = util__now();
}

/* Lost: sent again, the same request, to a controller that answers. */
void batch_remote_cases__lose(remote *m, rcase *rc, const char *why)
{
    if (count_loss(m, rc, why) != 0)
        return;
    rc->bound = NULL;
    rc->target = NULL;
    if (m->o->rows)
        batch_remote_cases__drop_rows(rc);
    m->resent++;
    batch_remote_cases__note(m, "case %s: %s; sending it again",
                             batch__case_name(m->r, rc->index), why);
    rc->state = R_QUEUED;
    rc->not_before = util__now();
}

/* A controller went offline: the cases it held are lost, and those sent
 * to the pool and not yet answered may have gone to it. */
void batch_remote_cases__controller_gone(remote *m, ctl *c)
{
    char why[300];
    snprintf(why, sizeof why, "%s went offline", c->id);
    batch_remote_cases__note(m, "%s went offline (its last will)", c->id);
    for (size_t i = m->n_live; i-- > 0;) {
        rcase *rc = m->live[i];
        if (rc->bound == c || (rc->bound == NULL && rc->target == c &&
                               rc->state != R_QUEUED))
            batch_remote_cases__lose(m, rc, why);
        else if (rc->bound == NULL && rc->target == NULL &&
                 rc->state == R_SENT) {
            /* It may have gone to c: the same request to one that
             * answers (which, if it had it, answers from memory). */
            rc->state = R_QUEUED;
            rc->not_before = util__now();
        }
    }
}
