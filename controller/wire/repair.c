/*
 * repair.c — one run's missing results asked for again: status, then
 * replay of the missing ranges, in bounded rounds (see repair.h).
 *
 * A round is one `status` of the run and, when seqs are missing up to the
 * last_seq it learns, `replay` of the missing ranges (ranges close to each
 * other asked as one, at most REPAIR_RANGES of them, the last one reaching
 * to the end), in requests of at most REPAIR_CHUNK seqs, each sent when the
 * one before was answered: a controller does nothing else while it replays
 * (about 2 000 messages/s here), so a short request keeps it answering
 * others, and what arrived meanwhile (another receiver's replays) is not
 * asked for again.  The round ends when the ranges arrived, or the results
 * went quiet after the last answer, or its time is up.  Rounds begin:
 *   - once the end is known (the final response, or a status that says the
 *     run ended) and seqs up to last_seq are missing after the results
 *     were quiet for REPAIR_GAP_WAIT; at most REPAIR_ROUNDS of them;
 *   - while the end is not known, after the connection was lost, when
 *     nothing of the run came for REPAIR_QUIET_WAIT after it was back (the
 *     final response may have been lost): a status probe, again at growing
 *     intervals while the run runs.
 * A round cut short by a lost connection does not count.
 */
#include "repair.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define REPAIR_MERGE 8        /* ranges this close are asked as one */
#define REPAIR_RANGES 16      /* ranges per round at most */
#define REPAIR_CHUNK 2000     /* seqs per replay request at most */
#define REPAIR_RATE 1000.0    /* messages/s a replay is given to arrive */
#define REPAIR_PROBE_MAX 30.0 /* s between probes of a running run, at most */
#define REPAIR_RETRY 0.5      /* s before a request that could not go out
                                 is tried again */

typedef enum phase {
    PH_WATCH,              /* no round going on */
    PH_STATUS,             /* status sent, its answer awaited */
    PH_REPLAY,             /* replays sent, their messages awaited */
    PH_GAVE_UP
} phase;

typedef struct span {
    long long first, last;
} span;

struct repair {
    char *run;
    collect *col;
    repair_io io;
    phase ph;

    /* what is known of the run */
    int end_known;         /* by its final response or a status */
    long long last_seq;    /* when end_known */
    json_t *ended;         /* the status answer that said it ended */

    /* time */
    double heard;          /* the last result or final response */
    double back_at;        /* the connection came back */
    int connected, was_lost;
    double next_probe, probe_every;
    double retry_at;       /* a request could not go out: again then */

    /* the round going on */
    char status_id[37];
    span ranges[REPAIR_RANGES];
    size_t n_ranges;
    size_t at_range;       /* the next replay request: its range */
    long long at_seq;      /* … and its first seq */
    char replay_id[37];    /* the replay request awaiting its answer */
    int all_sent;          /* and answered */
    double until;          /* time limit of the status or replay awaited */
    double answers_at;     /* when the last replay answer came */
    int counted;           /* the round counts against REPAIR_ROUNDS */

    unsigned rounds, requests;
    char why[512];
};

static void note(repair *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(repair *r, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    if (r->io.note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->io.note(r->io.ctx, text);
}

static void give_up(repair *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void give_up(repair *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    r->ph = PH_GAVE_UP;
}

int repair__uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

repair *repair__new(const char *run, collect *col, const repair_io *io)
{
    repair *r = calloc(1, sizeof *r);
    if (r == NULL || (r->run = strdup(run)) == NULL) {
        free(r);
        return NULL;
    }
    r->col = col;
    r->io = *io;
    r->ph = PH_WATCH;
    r->heard = -INFINITY;
    r->back_at = -INFINITY;
    r->next_probe = -INFINITY;
    r->probe_every = REPAIR_QUIET_WAIT;
    return r;
}

void repair__free(repair **rp)
{
    repair *r = *rp;
    if (r == NULL)
        return;
    json_decref(r->ended);
    free(r->run);
    free(r);
    *rp = NULL;
}

void repair__heard(repair *r, double now)
{
    r->heard = now;
}

/* The round going on is dropped; a lost connection's does not count. */
static void drop_round(repair *r, int counts)
{
    if (r->ph != PH_STATUS && r->ph != PH_REPLAY)
        return;
    if (r->counted && !counts)
        r->rounds--;
    r->counted = 0;
    r->status_id[0] = '\0';
    r->replay_id[0] = '\0';
    r->n_ranges = 0;
    r->ph = PH_WATCH;
}

void repair__lost(repair *r, double now)
{
    (void)now;
    r->connected = 0;
    r->was_lost = 1;
    drop_round(r, 0);
}

void repair__connected(repair *r, double now)
{
    r->connected = 1;
    r->back_at = now;
    r->retry_at = 0;
}

void repair__final(repair *r, long long last_seq, double now)
{
    r->end_known = 1;
    r->last_seq = last_seq;
    r->heard = now;
}

/* Send one request of type with the run and, for a replay, the range;
 * its id goes to id.  Returns 0 or -1. */
static int send_request(repair *r, const char *type, const span *range,
                        char id[37])
{
    if (repair__uuid(id) != 0)
        return -1;
    json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "contract",
                            "twin.request/1", "id", id, "type", type, "run",
                            r->run);
    if (req != NULL && range != NULL) {
        json_object_set_new(req, "from_seq", json_integer(range->first));
        json_object_set_new(req, "to_seq", json_integer(range->last));
        if (r->io.encoding != NULL)
            json_object_set_new(req, "encoding",
                                json_string(r->io.encoding));
    }
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    int rc = text ? r->io.send(r->io.ctx, text) : -1;
    free(text);
    json_decref(req);
    if (rc == 0)
        r->requests++;
    else
        id[0] = '\0';
    return rc;
}

/* When a round is due (INFINITY: none is); gives up when the rounds are
 * used up. */
static double round_due(repair *r)
{
    if (r->end_known) {
        if (collect__complete(r->col, r->last_seq))
            return INFINITY;
        if (r->rounds >= REPAIR_ROUNDS) {
            char list[256];
            long long n = collect__missing(r->col, r->last_seq, list,
                                           sizeof list);
            give_up(r, "%lld result messages (seq %s) still missing after "
                    "%u rounds of status and replay", n, list, r->rounds);
            return INFINITY;
        }
        return fmax(r->heard, r->back_at) + REPAIR_GAP_WAIT;
    }
    if (!r->was_lost)
        return INFINITY;
    return fmax(fmax(r->heard, r->back_at) + REPAIR_QUIET_WAIT,
                r->next_probe);
}

static void start_round(repair *r, double now)
{
    if (send_request(r, "status", NULL, r->status_id) != 0) {
        r->retry_at = now + REPAIR_RETRY;
        return;
    }
    r->counted = r->end_known;
    if (r->counted)
        r->rounds++;
    r->ph = PH_STATUS;
    r->until = now + REPAIR_ANSWER_WAIT;
}

/* The missing ranges up to limit, coalesced, into r->ranges; returns how
 * many messages they ask for. */
static long long plan(repair *r, long long limit)
{
    long long a, b, from = 0, asked = 0;
    r->n_ranges = 0;
    while (collect__gap(r->col, from, limit, &a, &b)) {
        span *prev = r->n_ranges ? &r->ranges[r->n_ranges - 1] : NULL;
        if (prev && (a - prev->last - 1 <= REPAIR_MERGE ||
                     r->n_ranges == REPAIR_RANGES))
            prev->last = b;    /* one request, a few duplicates */
        else
            r->ranges[r->n_ranges++] = (span){a, b};
        from = b + 1;
    }
    for (size_t i = 0; i < r->n_ranges; i++)
        asked += r->ranges[i].last - r->ranges[i].first + 1;
    return asked;
}

/* Ranges as "3-9, 12" for a note. */
static void say_ranges(const repair *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_ranges && used + 48 < len; i++) {
        const span *s = &r->ranges[i];
        used += (size_t)(s->last > s->first
                             ? snprintf(buf + used, len - used, "%s%lld-%lld",
                                        i ? ", " : "", s->first, s->last)
                             : snprintf(buf + used, len - used, "%s%lld",
                                        i ? ", " : "", s->first));
    }
}

/* The next replay request of the round: the next missing seqs of its
 * ranges, REPAIR_CHUNK at most; all_sent when there are none. */
static void send_next(repair *r, double now)
{
    long long a, b;
    r->replay_id[0] = '\0';
    r->answers_at = now;
    for (; r->at_range < r->n_ranges; r->at_range++) {
        const span *rg = &r->ranges[r->at_range];
        if (r->at_seq < rg->first)
            r->at_seq = rg->first;
        if (collect__gap(r->col, r->at_seq, rg->last, &a, &b))
            break;
    }
    if (r->at_range == r->n_ranges) {
        r->all_sent = 1;
        return;
    }
    const span *rg = &r->ranges[r->at_range];
    span chunk = {a, a + REPAIR_CHUNK - 1 < rg->last ? a + REPAIR_CHUNK - 1
                                                     : rg->last};
    r->at_seq = chunk.last + 1;
    r->until = now + REPAIR_ANSWER_WAIT +
               (double)(chunk.last - chunk.first + 1) / REPAIR_RATE;
    if (send_request(r, "replay", &chunk, r->replay_id) != 0)
        r->until = now;        /* not sent: the round ends, the next asks */
}

static void on_status(repair *r, const json_t *resp, double now)
{
    const char *state = json_string_value(json_object_get(resp, "state"));
    const json_t *ls = json_object_get(resp, "last_seq");
    r->status_id[0] = '\0';
    if (state == NULL || !json_is_integer(ls)) {
        drop_round(r, 1);
        return;
    }
    long long limit = json_integer_value(ls);
    if (strcmp(state, "running") != 0) {
        if (r->ended == NULL)
            r->ended = json_deep_copy(resp);
        if (!r->end_known) {
            note(r, "run %s %s (its status says; its final response did "
                 "not arrive), last_seq %lld", r->run, state, limit);
            r->end_known = 1;
            r->last_seq = limit;
            r->counted = 1;
            r->rounds++;
        }
        limit = r->last_seq;
    }
    long long asked = plan(r, limit);
    if (r->n_ranges == 0) {
        if (!r->end_known) {   /* running, nothing missing: look later */
            r->next_probe = now + r->probe_every;
            r->probe_every = fmin(2 * r->probe_every, REPAIR_PROBE_MAX);
        }
        r->counted = 0;
        r->ph = PH_WATCH;
        return;
    }
    char list[256];
    say_ranges(r, list, sizeof list);
    note(r, "run %s: asking for %lld result message%s again (seq %s)%s",
         r->run, asked, asked == 1 ? "" : "s", list,
         r->end_known ? "" : " while it runs");
    r->ph = PH_REPLAY;
    r->at_range = 0;
    r->at_seq = r->ranges[0].first;
    r->all_sent = 0;
    send_next(r, now);
}

/* A refusal: the controller cannot give what is missing. */
static void on_refused(repair *r, const char *type, const json_t *resp)
{
    const json_t *e = json_array_get(json_object_get(resp, "errors"), 0);
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code && strcmp(code, "unknown_run") == 0)
        give_up(r, "the controller no longer knows run %s (%s)", r->run,
                msg ? msg : "past its retention, or a spool lost");
    else
        give_up(r, "the controller refused %s of run %s: %s [%s]", type,
                r->run, msg ? msg : "no reason given", code ? code : "?");
}

void repair__answer(repair *r, const json_t *resp, double now)
{
    const char *id = json_string_value(json_object_get(resp, "id"));
    const char *status = json_string_value(json_object_get(resp, "status"));
    if (id == NULL || status == NULL || r->ph == PH_GAVE_UP)
        return;
    int ok = strcmp(status, "ok") == 0;
    if (r->ph == PH_STATUS && strcmp(id, r->status_id) == 0) {
        if (ok)
            on_status(r, resp, now);
        else
            on_refused(r, "the status", resp);
        return;
    }
    if (r->ph == PH_REPLAY && strcmp(id, r->replay_id) == 0) {
        if (ok)
            send_next(r, now);
        else
            on_refused(r, "a replay", resp);
    }
}

/* Have the ranges of this round arrived? */
static int round_complete(const repair *r)
{
    long long a, b;
    for (size_t i = 0; i < r->n_ranges; i++)
        if (collect__gap(r->col, r->ranges[i].first, r->ranges[i].last, &a,
                         &b))
            return 0;
    return 1;
}

double repair__step(repair *r, double now)
{
    for (;;) {
        if (r->ph == PH_GAVE_UP || !r->connected)
            return INFINITY;
        if (r->ph == PH_STATUS) {
            if (now < r->until)
                return r->until;
            note(r, "run %s: no answer to its status within %g s; asking "
                 "again", r->run, REPAIR_ANSWER_WAIT);
            drop_round(r, 1);
            continue;
        }
        if (r->ph == PH_REPLAY) {
            double quiet = fmax(r->heard, r->answers_at) + REPAIR_GAP_WAIT;
            if (r->all_sent ? !round_complete(r) && now < quiet
                            : now < r->until)
                return r->all_sent ? quiet : r->until;
            r->counted = 0;
            r->n_ranges = 0;
            r->replay_id[0] = '\0';
            r->ph = PH_WATCH;
            continue;
        }
        double due = round_due(r);
        if (r->ph == PH_GAVE_UP)
            return INFINITY;
        if (r->retry_at > due)
            due = r->retry_at;
        if (due > now)
            return due;
        r->retry_at = 0;
        start_round(r, now);
        if (r->ph == PH_WATCH)  /* could not send: try again later */
            return r->retry_at;
    }
}

int repair__gave_up(const repair *r)
{
    return r->ph == PH_GAVE_UP;
}

const char *repair__why(const repair *r)
{
    return r->why;
}

const json_t *repair__ended(const repair *r)
{
    return r->ended;
}

unsigned repair__requests(const repair *r)
{
    return r->requests;
}

unsigned repair__rounds(const repair *r)
{
    return r->rounds;
}
