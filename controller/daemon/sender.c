/*
 * sender.c — batching, numbering, checking and publishing results, and
 * keeping every message until the broker acknowledged it.  See sender.h.
 *
 * The outgoing queue is one FIFO of messages in publish order.  A message
 * is QUEUED (waiting for the connection or the window) or IN_FLIGHT with
 * the tag of its latest publish; an acknowledgement removes it.  When the
 * connection drops, every in-flight message becomes QUEUED again and is
 * published again, in order, after the reconnect.
 */
#include "sender.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"
#include "result_msg.h"
#include "spool.h"
#include "topic.h"
#include "util.h"

typedef struct out_msg {
    struct out_msg *next;
    uint64_t tag;          /* 0 while QUEUED */
    spool_stream *st;      /* its journal, or NULL (not spooled) */
    int64_t rec;           /* its record there */
    int64_t seq;           /* result seq, or −1 */
    char *topic;
    char *payload;
    size_t len;
    void *correlation;
    size_t correlation_len;
    int retained;
    int cbor;              /* its payload is CBOR, not JSON */
} out_msg;

struct sender_run {
    sender *s;
    char *run_id;
    spool_stream *st;
    char *result_topic, *event_topic;
    result_enc enc;        /* its result messages' encoding and fixed parts */
    size_t n_cols;
    int64_t seq;           /* next seq */
    uint64_t rows;         /* rows handed in */
    char *buf;             /* rows of the open batch, comma-separated */
    size_t len, cap;
    size_t batch;          /* rows in the open batch */
    double first_at;       /* when the open batch got its first row */
    int held;              /* its share cannot pay for sending it early */
    int closed;
    /* The run's share of the spool (max_rows 0: none, unbounded). */
    uint64_t max_rows;
    size_t msg_max, row_max;     /* a result record at most: rows aside,
                                  * and per row */
    size_t res_budget, res_spent;
    size_t ev_budget, ev_spent;
    uint64_t withheld;           /* events not sent */
    sender_run *next_run;
};

struct sender {
    mqtt_client *mq;
    spool *sp;             /* NULL: memory only */
    spool_stream *misc;    /* the daemon's own journal */
    int sync_failed;
    int misc_failed;       /* the last answer could not be journaled */
    /* Messages of runs that could not be journaled yet (and every run
     * message after them), in order: not published until they are. */
    out_msg *held_head, *held_tail;
    size_t held;
    int spool_errno;       /* why, while there are held messages */
    double held_since;     /* monotonic s */
    sender_limits lim;
    out_msg *head, *tail;
    out_msg *next_send;    /* first QUEUED message, or NULL */
    size_t count, bytes, in_flight;
    uint64_t next_tag;
    uint64_t since_requeue;  /* the first tag published since the last
                              * requeue: an older one's ack or failure
                              * is about a message sent again already */
    sender_run *runs;
    /* A run just started whose first row the next sync waits for (one
     * sync for its acceptance and its first row), until then at most. */
    sender_run *awaited;
    double awaited_until;
};

sender *sender__new(mqtt_client *mq, const sender_limits *lim)
{
    sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->mq = mq;
    s->lim = *lim;
    if (s->lim.batch_rows == 0)
        s->lim.batch_rows = 500;
    if (s->lim.window == 0)
        s->lim.window = 4096;
    s->next_tag = 1;
    return s;
}

static void msg_free(out_msg *m)
{
    free(m->topic);
    free(m->payload);
    free(m->correlation);
    free(m);
}

void sender__free(sender **sp)
{
    sender *s = *sp;
    if (s == NULL)
        return;
    while (s->head) {
        out_msg *m = s->head;
        s->head = m->next;
        msg_free(m);
    }
    while (s->held_head) {
        out_msg *m = s->held_head;
        s->held_head = m->next;
        spool__pending(m->st, -1);
        msg_free(m);
    }
    while (s->runs) {
        sender_run *r = s->runs;
        sender__run_free(&r);
    }
    free(s);
    *sp = NULL;
}

/* rec for a message kept in memory only: on disk elsewhere already (a
 * replayed record), or an answer a restart can give again. */
#define NOT_JOURNALED (-2)

/* m is journaled (or not spooled at all): it goes out in turn. */
static void push(sender *s, out_msg *m)
{
    m->next = NULL;
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    if (s->next_send == NULL)
        s->next_send = m;
    s->count++;
}

/* m, a run's message, cannot be journaled now (or one before it could
 * not): it waits, and no run message is published after it, until the
 * spool takes it (sender__retry). */
static void hold(sender *s, out_msg *m, int err)
{
    if (s->held_head == NULL) {
        s->spool_errno = err;
        s->held_since = util__now();
        fprintf(stderr, "twinctl serve: cannot write to the spool %s: %s; "
                "runs are paused (their messages wait in memory, none is "
                "sent before it is journaled) until it can be written "
                "again, tried every second\n",
                spool__dir(s->sp), strerror(err));
    }
    m->next = NULL;
    if (s->held_tail)
        s->held_tail->next = m;
    else
        s->held_head = m;
    s->held_tail = m;
    s->held++;
    spool__pending(m->st, 1);
}

/* The spool record flags of m. */
static int flags_of(const out_msg *m)
{
    return (m->retained ? SPOOL_RETAINED : 0) | (m->cbor ? SPOOL_CBOR : 0);
}

/* Take ownership of payload.  st: the journal to write it to first (NULL:
 * the daemon's own); rec ≥ 0: it is there already (after a restart);
 * NOT_JOURNALED: keep it in memory only.  flags: SPOOL_RETAINED,
 * SPOOL_CBOR (its content type).  A run's message that cannot be
 * journaled is held (see hold); an answer of the daemon's that cannot is
 * sent from memory, and the log says so. */
static int enqueue_rec(sender *s, spool_stream *st, int64_t seq, int64_t rec,
                       const char *topic, char *payload, size_t len,
                       int flags, const void *corr, size_t corr_len)
{
    const char *problem = topic__publish_problem(topic, strlen(topic));
    if (problem != NULL) {
        /* Never journaled, or (a record from before a restart) marked
         * done: a publish there would cost the connection every time. */
        char shown[72];
        topic__excerpt(topic, strlen(topic), shown, sizeof shown);
        fprintf(stderr, "twinctl serve: a message to '%s' dropped: %s\n",
                shown, problem);
        if (rec >= 0)
            spool__acked(st, rec);
        free(payload);
        return -1;
    }
    out_msg *m = calloc(1, sizeof *m);
    if (m == NULL) {
        free(payload);
        return -1;
    }
    m->rec = -1;
    m->seq = seq;
    m->topic = strdup(topic);
    m->payload = payload;
    m->len = len;
    m->retained = (flags & SPOOL_RETAINED) != 0;
    m->cbor = (flags & SPOOL_CBOR) != 0;
    if (corr) {
        m->correlation = malloc(corr_len ? corr_len : 1);
        if (m->correlation)
            memcpy(m->correlation, corr, corr_len);
        m->correlation_len = corr_len;
    }
    if (m->topic == NULL || (corr && m->correlation == NULL)) {
        msg_free(m);
        return -1;
    }
    int held = 0, err = 0;
    if (s->sp != NULL && rec != NOT_JOURNALED) {
        m->st = st ? st : s->misc;
        if (rec >= 0)
            m->rec = rec;
        else if (st != NULL && s->held_head != NULL)
            held = 1; /* behind what waits for the spool */
        else if (m->st == NULL ||
                 (m->rec = spool__append(m->st, seq, flags_of(m), topic,
                                         corr, corr_len, payload, len)) < 0) {
            err = m->st ? errno : ENOMEM;
            held = st != NULL;
        }
        if (m->rec < 0 && !held) {
            /* The daemon's own answer: sent from memory. */
            if (!s->misc_failed)
                fprintf(stderr, "twinctl serve: cannot write the daemon's "
                        "answers to the spool %s: %s; they are sent from "
                        "memory (a crash before the broker took one loses "
                        "it, and its requester asks again)\n",
                        spool__dir(s->sp), strerror(err));
            s->misc_failed = 1;
            m->st = NULL;
        } else if (st == NULL && m->rec >= 0) {
            s->misc_failed = 0;
        }
    }
    s->bytes += len + strlen(topic) + sizeof *m;
    if (held) {
        hold(s, m, err);
        return 0;
    }
    push(s, m);
    /* With a spool, the owner pumps once per pass of its loop, so that one
     * sync covers every message of the pass (a group commit); without,
     * publish at once. */
    if (s->sp == NULL)
        sender__pump(s);
    return 0;
}

int sender__retry(sender *s)
{
    while (s->held_head) {
        out_msg *m = s->held_head;
        int64_t rec = spool__append(m->st, m->seq, flags_of(m), m->topic,
                                    m->correlation, m->correlation_len,
                                    m->payload, m->len);
        if (rec < 0) {
            s->spool_errno = errno;
            return -1;
        }
        m->rec = rec;
        spool__pending(m->st, -1);
        s->held_head = m->next;
        if (s->held_head == NULL)
            s->held_tail = NULL;
        s->held--;
        push(s, m);
    }
    if (s->spool_errno != 0) {
        fprintf(stderr, "twinctl serve: the spool %s can be written again "
                "after %.1f s; runs go on\n", spool__dir(s->sp),
                util__now() - s->held_since);
        s->spool_errno = 0;
    }
    return 0;
}

int sender__spool_error(const sender *s)
{
    return s->held_head != NULL ? (s->spool_errno ? s->spool_errno : EIO)
                                : 0;
}

static int enqueue(sender *s, const char *topic, char *payload, size_t len,
                   int retained, const void *corr, size_t corr_len)
{
    return enqueue_rec(s, NULL, -1, -1, topic, payload, len,
                       retained ? SPOOL_RETAINED : 0, corr, corr_len);
}

/* A NUL-terminated copy of len bytes (payloads are handed to paho as
 * strings too). */
static char *copy_of(const char *payload, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, payload, len);
        copy[len] = '\0';
    }
    return copy;
}

int sender__publish(sender *s, const char *topic, const char *payload,
                    size_t len, int retained, const void *correlation,
                    size_t correlation_len)
{
    char *copy = copy_of(payload, len);
    if (copy == NULL)
        return -1;
    return enqueue(s, topic, copy, len, retained, correlation,
                   correlation_len);
}

static void acked(sender *s, uint64_t tag);

/* Still waiting for the awaited run's first row (sender__await_first_row). */
static int awaiting(sender *s)
{
    const sender_run *r = s->awaited;
    if (r == NULL)
        return 0;
    if (r->rows > 0 || r->closed || util__now() >= s->awaited_until) {
        s->awaited = NULL;
        return 0;
    }
    return 1;
}

void sender__await_first_row(sender_run *r, double seconds)
{
    sender *s = r->s;
    if (s->sp == NULL || r->rows > 0)
        return; /* no sync to share */
    if (s->awaited == NULL)
        s->awaited_until = util__now() + seconds;
    s->awaited = r;
}

void sender__pump(sender *s)
{
    if (s->next_send == NULL || !mqtt__is_connected(s->mq) || awaiting(s))
        return;
    /* Group commit: whatever was appended is on disk before it leaves. */
    if (s->sp != NULL && spool__sync(s->sp) != 0 && !s->sync_failed) {
        s->sync_failed = 1;
        fprintf(stderr, "twinctl serve: syncing the spool failed; sending "
                "anyway, but a crash now could lose these messages\n");
    }
    while (s->next_send && s->in_flight < s->lim.window &&
           mqtt__is_connected(s->mq)) {
        out_msg *m = s->next_send;
        mqtt_publish p = {.topic = m->topic, .payload = m->payload,
                          .len = m->len, .qos = 1, .retained = m->retained,
                          .correlation = m->correlation,
                          .correlation_len = m->correlation_len,
                          .content_type = m->cbor ? RESULT_CONTENT_CBOR
                                                  : RESULT_CONTENT_JSON,
                          .tag = s->next_tag};
        int rc = mqtt__publish(s->mq, &p);
        if (rc == -2) {
            /* Refused for good: an error of this message only. */
            fprintf(stderr, "twinctl serve: the MQTT client refused a "
                    "message (%zu bytes); dropped\n", m->len);
            s->next_send = m->next;
            m->tag = s->next_tag++;
            s->in_flight++;
            acked(s, m->tag);
            continue;
        }
        if (rc != 0)
            break; /* paho refused: try again on the next pump */
        m->tag = s->next_tag++;
        s->in_flight++;
        s->next_send = m->next;
    }
}

static void requeue_all(sender *s)
{
    for (out_msg *m = s->head; m; m = m->next)
        m->tag = 0;
    s->in_flight = 0;
    s->next_send = s->head;
    s->since_requeue = s->next_tag;
}

static void acked(sender *s, uint64_t tag)
{
    if (tag < s->since_requeue)
        return; /* from before a requeue: already sent again */
    out_msg *prev = NULL, *m = s->head;
    while (m && m->tag != tag) {
        if (m == s->next_send)
            return; /* a tag from before a requeue: already sent again */
        prev = m;
        m = m->next;
    }
    if (m == NULL || tag == 0)
        return;
    if (prev)
        prev->next = m->next;
    else
        s->head = m->next;
    if (s->tail == m)
        s->tail = prev;
    s->count--;
    s->bytes -= m->len + strlen(m->topic) + sizeof *m;
    s->in_flight--;
    spool__acked(m->st, m->rec);
    msg_free(m);
}

void sender__on_mqtt(sender *s, const mqtt_event *ev)
{
    switch (ev->kind) {
    case MQTT_EV_PUBACK:
        acked(s, ev->tag);
        break;
    case MQTT_EV_PUBFAIL:
        /* A dropped connection fails every publish paho still held, one
         * event each, some after the reconnect: only the first of them
         * sends again, not each one the whole window. */
        if (ev->tag < s->since_requeue)
            return;
        requeue_all(s);
        break;
    case MQTT_EV_LOST:
        /* Everything not acknowledged goes again, in order. */
        requeue_all(s);
        break;
    case MQTT_EV_CONNECTED:
        requeue_all(s);
        break;
    default:
        return;
    }
    sender__pump(s);
}

int sender__full(const sender *s)
{
    /* Memory, or a spool that cannot be written: the spool's bound is
     * kept by admission (every run reserves its share before it starts),
     * but the disk under it can still fill or fail. */
    return s->bytes >= s->lim.buffer_bytes || s->held_head != NULL;
}

void sender__use_spool(sender *s, spool *sp)
{
    s->sp = sp;
    s->misc = sp ? spool__stream(sp, NULL) : NULL;
}

int sender__publish_on(sender *s, spool_stream *st, const char *topic,
                       const char *payload, size_t len,
                       const void *correlation, size_t correlation_len)
{
    char *copy = copy_of(payload, len);
    if (copy == NULL)
        return -1;
    return enqueue_rec(s, st, -1, -1, topic, copy, len, 0, correlation,
                       correlation_len);
}

int sender__publish_copy(sender *s, const char *topic, const char *payload,
                         size_t len, int flags, const void *correlation,
                         size_t correlation_len)
{
    char *copy = copy_of(payload, len);
    if (copy == NULL)
        return -1;
    return enqueue_rec(s, NULL, -1, NOT_JOURNALED, topic, copy, len,
                       flags, correlation, correlation_len);
}

int sender__adopt(sender *s, spool_stream *st, const spool_record *r)
{
    char *copy = copy_of(r->payload, r->len);
    if (copy == NULL)
        return -1;
    return enqueue_rec(s, st, r->seq, st ? r->index : -1, r->topic, copy,
                       r->len, (r->retained ? SPOOL_RETAINED : 0) |
                                   (r->cbor ? SPOOL_CBOR : 0),
                       r->correlation, r->correlation_len);
}

size_t sender__queued(const sender *s)
{
    return s->count + s->held;
}

size_t sender__queued_bytes(const sender *s)
{
    return s->bytes;
}

/* ---- result streams ------------------------------------------------------ */

/* Partial batches a batch run may send early on its share (beside one
 * per full batch), and a paced run beside one per batch_delay. */
#define EARLY_BATCHES 16
/* A real-time factor event, run id aside, and a nonfinite event, column
 * name aside (sim.c writes its message into 512 bytes). */
#define RTF_EVENT_MAX 320
#define NONFINITE_EVENT_MAX 1024

/* The journal bytes of n rows in full batches (the last one partial). */
static double rows_bound(size_t batch_rows, size_t msg_max, size_t row_max,
                         double n)
{
    return ceil(n / (double)batch_rows) * (double)msg_max +
           n * (double)row_max;
}

typedef struct share {
    size_t msg_max, row_max, res_budget, ev_budget, total;
} share;

static size_t clamp(double bytes)
{
    return bytes >= (double)(SIZE_MAX / 4) ? SIZE_MAX / 4 : (size_t)bytes;
}

static int share_of(const sender *s, const sender_run_spec *sp,
                    const result_enc *enc, share *out)
{
    memset(out, 0, sizeof *out);
    if (sp->max_rows == 0)
        return 0;
    size_t n = json_array_size(sp->columns);
    double rows = (double)sp->max_rows, B = (double)s->lim.batch_rows;
    out->msg_max = SENDER_RECORD_OVERHEAD + strlen(sp->result_topic) +
                   result_enc__overhead(enc);
    out->row_max = result_enc__row_max(enc);
    double early = s->lim.batch_delay <= 0 ? rows
                   : sp->paced_seconds > 0
                       ? ceil(sp->paced_seconds / s->lim.batch_delay)
                       : ceil(rows / B);
    early = fmin(rows, early + EARLY_BATCHES);
    double res = rows_bound(s->lim.batch_rows, out->msg_max, out->row_max,
                            rows) + early * (double)out->msg_max;
    size_t ev_over = SENDER_RECORD_OVERHEAD + strlen(sp->event_topic);
    double ev = (double)sp->event_bytes;
    for (size_t i = 0; i < n; i++)
        ev += (double)(ev_over + NONFINITE_EVENT_MAX +
                       2 * strlen(json_string_value(
                               json_array_get(sp->columns, i))
                               ? json_string_value(
                                     json_array_get(sp->columns, i))
                               : ""));
    if (sp->paced_seconds > 0)
        ev += (ceil(sp->paced_seconds) + 2) *
              (double)(ev_over + RTF_EVENT_MAX + strlen(sp->run_id));
    out->res_budget = clamp(res);
    out->ev_budget = clamp(ev);
    out->total = clamp(res + ev + (double)(ev_over + SENDER_WITHHELD_EVENT));
    return 0;
}

size_t sender__run_bound(const sender *s, const sender_run_spec *spec)
{
    result_enc enc;
    share sh;
    if (spec->max_rows == 0 ||
        result_enc__init(&enc, spec->cbor, spec->run_id, spec->columns) != 0)
        return 0;
    share_of(s, spec, &enc, &sh);
    result_enc__free(&enc);
    return sh.total;
}

sender_run *sender__run_new(sender *s, const sender_run_spec *spec,
                            spool_stream *st)
{
    sender_run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->s = s;
    r->n_cols = json_array_size(spec->columns);
    r->st = st;
    r->run_id = strdup(spec->run_id);
    r->result_topic = strdup(spec->result_topic);
    r->event_topic = strdup(spec->event_topic);
    if (result_enc__init(&r->enc, spec->cbor, spec->run_id,
                         spec->columns) != 0 ||
        !r->run_id || !r->result_topic || !r->event_topic) {
        sender__run_free(&r);
        return NULL;
    }
    share sh;
    share_of(s, spec, &r->enc, &sh);
    r->max_rows = spec->max_rows;
    r->msg_max = sh.msg_max;
    r->row_max = sh.row_max;
    r->res_budget = sh.res_budget;
    r->ev_budget = sh.ev_budget;
    r->next_run = s->runs;
    s->runs = r;
    return r;
}

static int reserve(sender_run *r, size_t more)
{
    if (r->len + more <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + more)
        cap *= 2;
    char *buf = realloc(r->buf, cap);
    if (buf == NULL)
        return -1;
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* Send the open batch.  Unless forced (a full batch, the run's end), only
 * when the run's share can pay for it and for its rows still to come in
 * full batches; else it waits (held) for more rows. */
static void flush(sender_run *r, int forced)
{
    if (r->batch == 0)
        return;
    size_t rec = SENDER_RECORD_OVERHEAD + strlen(r->result_topic) +
                 result_enc__overhead(&r->enc) + r->len;
    if (!forced && r->max_rows > 0 &&
        (double)(r->res_spent + rec) +
                rows_bound(r->s->lim.batch_rows, r->msg_max, r->row_max,
                           (double)(r->max_rows - r->rows)) >
            (double)r->res_budget) {
        r->held = 1;
        return;
    }
    size_t len;
    char *msg = result_enc__message(&r->enc, r->seq, r->buf, r->len, &len);
    if (msg == NULL)
        return; /* kept: the next flush tries again */
    if (enqueue_rec(r->s, r->st, r->seq, -1, r->result_topic, msg, len,
                    r->enc.cbor ? SPOOL_CBOR : 0, NULL, 0) != 0)
        return;
    r->res_spent += rec;
    r->held = 0;
    r->seq++;
    r->len = 0;
    r->batch = 0;
}

int sender__row(sender_run *r, const double *values, size_t n, double now)
{
    /* The check before sending: a row is exactly as wide as the columns,
     * and no more rows come than the run said it would make. */
    if (n != r->n_cols)
        return -1;
    if (r->max_rows > 0 && r->rows >= r->max_rows)
        return -2;
    if (reserve(r, result_enc__row_max(&r->enc)) != 0)
        return -1;
    r->len += result_enc__row(&r->enc, r->buf + r->len, r->batch == 0,
                              values);
    if (r->batch++ == 0)
        r->first_at = now;
    r->rows++;
    r->held = 0; /* a row more: its share may pay now */
    /* The first row of a run leaves at once: a receiver sees it started. */
    if (r->batch >= r->s->lim.batch_rows)
        flush(r, 1);
    else if (r->rows == 1)
        flush(r, 0);
    return 0;
}

static int event_out(sender_run *r, json_t *event, int forced)
{
    json_t *msg = json_pack("{s:s, s:s}", "contract", "twin.event/1", "run",
                            r->run_id);
    json_object_update(msg, event);
    json_decref(event);
    char *text = json_out__dumps(msg);
    json_decref(msg);
    if (text == NULL)
        return -1;
    size_t len = strlen(text);
    size_t rec = SENDER_RECORD_OVERHEAD + strlen(r->event_topic) + len;
    if (!forced && r->max_rows > 0 && r->ev_spent + rec > r->ev_budget) {
        free(text);
        r->withheld++;
        return 1;
    }
    r->ev_spent += rec;
    return enqueue_rec(r->s, r->st, -1, -1, r->event_topic, text, len, 0,
                       NULL, 0);
}

int sender__event(sender_run *r, json_t *event)
{
    return event_out(r, event, 0);
}

uint64_t sender__run_withheld(const sender_run *r)
{
    return r->withheld;
}

void sender__flush_due(sender *s, double now)
{
    for (sender_run *r = s->runs; r; r = r->next_run)
        if (r->batch > 0 && !r->held &&
            now - r->first_at >= s->lim.batch_delay)
            flush(r, 0);
}

double sender__next_due(const sender *s)
{
    double due = s->awaited ? s->awaited_until : INFINITY;
    for (const sender_run *r = s->runs; r; r = r->next_run)
        if (r->batch > 0 && !r->held &&
            r->first_at + s->lim.batch_delay < due)
            due = r->first_at + s->lim.batch_delay;
    return due;
}

void sender__run_flush(sender_run *r)
{
    flush(r, 0);
}

void sender__run_close(sender_run *r)
{
    flush(r, 1);
    if (r->withheld == 0 || r->closed)
        return;
    r->closed = 1;
    char msg[512];
    snprintf(msg, sizeof msg, "%llu events of this run were not sent: they "
             "passed its share of the spool for events (%zu bytes; "
             "limits.event_bytes sets it)", (unsigned long long)r->withheld,
             r->ev_budget);
    event_out(r, json_pack("{s:s, s:n, s:s, s:s}", "kind", "log", "t",
                           "level", "warning", "message", msg), 1);
}

int64_t sender__run_last_seq(const sender_run *r)
{
    return r->seq - 1;
}

uint64_t sender__run_rows(const sender_run *r)
{
    return r->rows;
}

void sender__run_free(sender_run **rp)
{
    sender_run *r = *rp;
    if (r == NULL)
        return;
    if (r->s && r->s->awaited == r)
        r->s->awaited = NULL;
    if (r->s) {
        sender_run **link = &r->s->runs;
        while (*link && *link != r)
            link = &(*link)->next_run;
        if (*link)
            *link = r->next_run;
    }
    free(r->run_id);
    free(r->result_topic);
    free(r->event_topic);
    result_enc__free(&r->enc);
    free(r->buf);
    free(r);
    *rp = NULL;
}
