/*
 * spool.c — append-only journals on disk for every message the daemon
 * sends, synced before publishing, kept until acknowledged and, for runs,
 * for a retention time.  See spool.h for the layout.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MAGIC "TWR1"
#define HEADER 12          /* magic, length, crc */
#define MAX_RECORD (256u << 20)
/* The daemon's journal is cut as soon as it is all acknowledged once it
 * holds this much (else at the next tidy), so that a steady stream of
 * answers cannot keep it growing between two tidies. */
#define CUT_MISC_AT (1u << 20)

struct spool_stream {
    spool *sp;
    spool_stream *next;
    char *run;             /* NULL: the daemon's own journal */
    char *path;
    int fd;
    int64_t count;         /* records written */
    uint8_t *acked;        /* per record */
    size_t acked_cap;
    int64_t mark;          /* records acknowledged from the start */
    int64_t mark_written;
    size_t bytes;
    int dirty;             /* written since the last sync */
    int finished;
    size_t reserved;       /* room reserved for the run, from the start */
    double retain_until;   /* wall clock */
};

struct spool {
    char *dir;
    int lock_fd;
    spool_stream *streams;
    size_t bytes;          /* of the streams open now */
    unsigned misc_n;
};

/* ---- CRC-32 (IEEE), for torn or corrupted records ------------------------ */

static uint32_t crc32_of(const void *data, size_t n)
{
    static uint32_t table[256];
    if (table[1] == 0)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- opening -------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
    char buf[4400];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

spool *spool__open(const char *dir, char *why, size_t why_len)
{
    spool *sp = calloc(1, sizeof *sp);
    char path[4200];
    if (sp == NULL || (sp->dir = strdup(dir)) == NULL) {
        snprintf(why, why_len, "out of memory");
        free(sp);
        return NULL;
    }
    sp->lock_fd = -1;
    snprintf(path, sizeof path, "%s/runs", dir);
    if (mkdir_p(path) != 0) {
        snprintf(why, why_len, "cannot make the spool directory %s: %s "
                 "(set \"spool\" in the configuration to a writable "
                 "place)", path, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (sp->lock_fd < 0 || flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(why, why_len, "the spool %s is in use by another twinctl "
                 "serve (each controller needs its own spool directory)",
                 dir);
        goto fail;
    }
    /* Number this start's own journal after the ones left behind. */
    char **names = NULL;
    long n = util__list_dir(dir, ".log", &names);
    for (long i = 0; i < n; i++) {
        unsigned k;
        if (sscanf(names[i], "misc-%u.log", &k) == 1 && k >= sp->misc_n)
            sp->misc_n = k + 1;
    }
    util__free_names(names, n);
    return sp;
fail:
    spool__close(&sp);
    return NULL;
}

static void stream_free(spool_stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    free(st->run);
    free(st->path);
    free(st->acked);
    free(st);
}

void spool__close(spool **spp)
{
    spool *sp = *spp;
    if (sp == NULL)
        return;
    spool__tidy(sp);
    while (sp->streams) {
        spool_stream *st = sp->streams;
        sp->streams = st->next;
        stream_free(st);
    }
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    free(sp->dir);
    free(sp);
    *spp = NULL;
}

static int read_all(int fd, void *buf, size_t n, off_t at)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, at);
        if (k <= 0)
            return -1;
        p += k;
        at += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads a journal record by record from an offset.  A record's topic
 * is copied out (it is not NUL-terminated in the journal); the other
 * pointers of a record point into body. */
typedef struct reader {
    int fd;
    off_t at;              /* offset of the next record */
    int64_t index;         /* its index */
    char *body, *topic;
    size_t cap, topic_cap;
} reader;

static int grow(char **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    char *grown = realloc(*buf, n);
    if (grown == NULL)
        return -1;
    *buf = grown;
    *cap = n;
    return 0;
}

/* The record at rd->at into r: its size on disk, or 0 at the end of the
 * journal (end of file, or a torn or corrupt record: what follows it is
 * not read). */
static size_t reader_next(reader *rd, spool_record *r)
{
    char head[HEADER];
    uint32_t len, crc;
    uint16_t tl, cl;
    if (read_all(rd->fd, head, HEADER, rd->at) != 0 ||
        memcmp(head, MAGIC, 4) != 0)
        return 0;
    memcpy(&len, head + 4, 4);
    memcpy(&crc, head + 8, 4);
    if (len < 13 || len > MAX_RECORD || grow(&rd->body, &rd->cap, len) != 0 ||
        read_all(rd->fd, rd->body, len, rd->at + HEADER) != 0 ||
        crc32_of(rd->body, len) != crc)
        return 0;
    const char *body = rd->body;
    memcpy(&tl, body + 9, 2);
    memcpy(&cl, body + 11, 2);
    if (13u + tl + cl > len || grow(&rd->topic, &rd->topic_cap,
                                    (size_t)tl + 1) != 0)
        return 0;
    memcpy(rd->topic, body + 13, tl);
    rd->topic[tl] = '\0';
    *r = (spool_record){.index = rd->index, .retained = body[8],
                        .topic = rd->topic,
                        .correlation = cl ? body + 13 + tl : NULL,
                        .correlation_len = cl,
                        .payload = body + 13 + tl + cl,
                        .len = len - 13 - tl - cl};
    memcpy(&r->seq, body, 8);
    rd->at += HEADER + len;
    rd->index++;
    return HEADER + (size_t)len;
}

static void reader_free(reader *rd)
{
    free(rd->body);
    free(rd->topic);
    rd->body = rd->topic = NULL;
    rd->cap = rd->topic_cap = 0;
}

/* Walk the records of an open journal; returns how many are readable and
 * the offset after the last one in *end. */
typedef int (*walk_fn)(void *ctx, const spool_record *r);

static int64_t walk(int fd, walk_fn fn, void *ctx, off_t *end)
{
    reader rd = {.fd = fd};
    spool_record r;
    while (reader_next(&rd, &r) > 0)
        if (fn && fn(ctx, &r))
            break;
    reader_free(&rd);
    if (end)
        *end = rd.at;
    return rd.index;
}

static int64_t read_mark(const char *log_path)
{
    char path[4200];
    snprintf(path, sizeof path, "%.*s.acked", (int)(strlen(log_path) - 4),
             log_path);
    FILE *f = fopen(path, "r");
    long long mark = 0;
    if (f) {
        if (fscanf(f, "%lld", &mark) != 1)
            mark = 0;
        fclose(f);
    }
    return mark;
}

static int ensure_acked(spool_stream *st, int64_t n)
{
    if ((size_t)n <= st->acked_cap)
        return 0;
    size_t cap = st->acked_cap ? st->acked_cap : 1024;
    while (cap < (size_t)n)
        cap *= 2;
    uint8_t *a = realloc(st->acked, cap);
    if (a == NULL)
        return -1;
    memset(a + st->acked_cap, 0, cap - st->acked_cap);
    st->acked = a;
    st->acked_cap = cap;
    return 0;
}

spool_stream *spool__stream(spool *sp, const char *run)
{
    for (spool_stream *st = sp->streams; st; st = st->next)
        if (run && st->run && strcmp(st->run, run) == 0)
            return st;
    spool_stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->sp = sp;
    st->fd = -1;
    int rc = run ? asprintf(&st->path, "%s/runs/%s.log", sp->dir, run)
                 : asprintf(&st->path, "%s/misc-%u.log", sp->dir,
                            sp->misc_n);
    if (rc < 0 || (run && (st->run = strdup(run)) == NULL))
        goto fail;
    st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (st->fd < 0)
        goto fail;
    /* An existing journal (a restart): continue after its last good
     * record, cutting a torn one. */
    off_t end = 0;
    st->count = walk(st->fd, NULL, NULL, &end);
    if (ftruncate(st->fd, end) != 0 || lseek(st->fd, end, SEEK_SET) < 0)
        goto fail;
    st->bytes = (size_t)end;
    st->mark = st->mark_written = read_mark(st->path);
    if (st->mark > st->count)
        st->mark = st->count;
    if (ensure_acked(st, st->count + 1) != 0)
        goto fail;
    memset(st->acked, 1, (size_t)st->mark);
    st->next = sp->streams;
    sp->streams = st;
    sp->bytes += st->bytes;
    return st;
fail:
    stream_free(st);
    return NULL;
}

int64_t spool__append(spool_stream *st, int64_t seq, int retained,
                      const char *topic, const void *correlation,
                      size_t correlation_len, const char *payload,
                      size_t len)
{
    size_t tl = strlen(topic);
    if (tl > 65535 || correlation_len > 65535 || ensure_acked(st,
                                                              st->count + 1))
        return -1;
    size_t body = 13 + tl + correlation_len + len;
    char *rec = malloc(HEADER + body);
    if (rec == NULL)
        return -1;
    uint32_t blen = (uint32_t)body;
    uint16_t t16 = (uint16_t)tl, c16 = (uint16_t)correlation_len;
    char *b = rec + HEADER;
    memcpy(b, &seq, 8);
    b[8] = (char)(retained != 0);
    memcpy(b + 9, &t16, 2);
    memcpy(b + 11, &c16, 2);
    memcpy(b + 13, topic, tl);
    if (correlation_len)
        memcpy(b + 13 + tl, correlation, correlation_len);
    memcpy(b + 13 + tl + correlation_len, payload, len);
    uint32_t crc = crc32_of(b, body);
    memcpy(rec, MAGIC, 4);
    memcpy(rec + 4, &blen, 4);
    memcpy(rec + 8, &crc, 4);
    size_t total = HEADER + body, done = 0;
    while (done < total) {
        ssize_t k = write(st->fd, rec + done, total - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            /* Cut what was written, so the journal stays whole. */
            if (ftruncate(st->fd, (off_t)st->bytes) == 0)
                lseek(st->fd, (off_t)st->bytes, SEEK_SET);
            free(rec);
            return -1;
        }
        done += (size_t)k;
    }
    free(rec);
    st->bytes += total;
    st->sp->bytes += total;
    st->dirty = 1;
    st->acked[st->count] = 0;
    return st->count++;
}

int spool__sync(spool *sp)
{
    int rc = 0;
    for (spool_stream *st = sp->streams; st; st = st->next)
        if (st->dirty) {
            if (fdatasync(st->fd) != 0)
                rc = -1;
            else
                st->dirty = 0;
        }
    return rc;
}

/* The daemon's own journal, all acknowledged: nothing in it to keep. */
static void cut_misc(spool *sp, spool_stream *st)
{
    if (ftruncate(st->fd, 0) != 0 || lseek(st->fd, 0, SEEK_SET) != 0)
        return;
    sp->bytes -= st->bytes;
    st->bytes = 0;
    st->count = st->mark = 0;
    memset(st->acked, 0, st->acked_cap);
    st->dirty = 1;
}

void spool__acked(spool_stream *st, int64_t index)
{
    if (st == NULL || index < 0 || index >= st->count)
        return;
    st->acked[index] = 1;
    while (st->mark < st->count && st->acked[st->mark])
        st->mark++;
    if (st->run == NULL && st->mark == st->count &&
        st->bytes >= CUT_MISC_AT)
        cut_misc(st->sp, st);
}

void spool__finish(spool_stream *st, double retention)
{
    st->finished = 1;
    st->retain_until = wall_now() + retention;
}

void spool__reserve(spool_stream *st, size_t bytes)
{
    st->reserved = bytes;
}

size_t spool__reserved(const spool *sp)
{
    size_t sum = 0;
    for (const spool_stream *st = sp->streams; st; st = st->next)
        if (!st->finished && st->reserved > st->bytes)
            sum += st->reserved - st->bytes;
    return sum;
}

static void write_mark(spool_stream *st)
{
    if (st->mark == st->mark_written || st->run == NULL)
        return;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%.*s.acked", (int)(strlen(st->path) - 4),
             st->path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    fprintf(f, "%lld\n", (long long)st->mark);
    if (fclose(f) == 0 && rename(tmp, path) == 0)
        st->mark_written = st->mark;
}

static void remove_stream(spool *sp, spool_stream *st)
{
    char path[4200];
    unlink(st->path);
    snprintf(path, sizeof path, "%.*s.acked", (int)(strlen(st->path) - 4),
             st->path);
    unlink(path);
    spool_stream **link = &sp->streams;
    while (*link != st)
        link = &(*link)->next;
    *link = st->next;
    sp->bytes -= st->bytes;
    stream_free(st);
}

void spool__tidy(spool *sp)
{
    double now = wall_now();
    for (spool_stream *st = sp->streams, *next; st; st = next) {
        next = st->next;
        write_mark(st);
        int all_acked = st->mark == st->count;
        if (st->run == NULL && all_acked && st->count > 0) {
            cut_misc(sp, st);
            continue;
        }
        if (st->run != NULL && st->finished && all_acked &&
            now >= st->retain_until)
            remove_stream(sp, st);
    }
}

size_t spool__bytes(const spool *sp)
{
    return sp->bytes;
}

size_t spool__stream_bytes(const spool_stream *st)
{
    return st->bytes;
}

size_t spool__stream_reserved(const spool_stream *st)
{
    return st->reserved;
}

/* ---- after a restart -------------------------------------------------------- */

typedef struct collected {
    spool_record *r;
    size_t n, cap;
    char **keep;           /* copies the records point into */
} collected;

static int collect(void *ctx, const spool_record *r)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        c->keep = realloc(c->keep, c->cap * 3 * sizeof *c->keep);
    }
    spool_record *d = &c->r[c->n];
    *d = *r;
    char *t = strdup(r->topic), *p = malloc(r->len + 1), *k = NULL;
    if (p) {
        memcpy(p, r->payload, r->len);
        p[r->len] = '\0';
    }
    if (r->correlation_len) {
        k = malloc(r->correlation_len);
        if (k)
            memcpy(k, r->correlation, r->correlation_len);
    }
    d->topic = t;
    d->payload = p;
    d->correlation = k;
    c->keep[3 * c->n] = t;
    c->keep[3 * c->n + 1] = p;
    c->keep[3 * c->n + 2] = k;
    c->n++;
    return 0;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < 3 * c->n; i++)
        free(c->keep[i]);
    free(c->keep);
    free(c->r);
    memset(c, 0, sizeof *c);
}

static void recover_file(spool *sp, const char *path, const char *run,
                         spool_each_fn each, void *ctx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    collected c = {0};
    walk(fd, collect, &c, NULL);
    close(fd);
    size_t acked = (size_t)read_mark(path);
    if (acked > c.n)
        acked = c.n;
    each(ctx, run, c.r, c.n, acked);
    collected_free(&c);
}

int spool__recover(spool *sp, spool_each_fn each, void *ctx)
{
    char dir[4200], path[4400];
    char **names = NULL;
    /* The daemon's journals of earlier starts: handed back, then gone. */
    long n = util__list_dir(sp->dir, ".log", &names);
    for (long i = 0; i < n; i++) {
        unsigned k;
        if (sscanf(names[i], "misc-%u.log", &k) != 1 || k >= sp->misc_n)
            continue;
        snprintf(path, sizeof path, "%s/%s", sp->dir, names[i]);
        recover_file(sp, path, NULL, each, ctx);
        unlink(path);
    }
    util__free_names(names, n);
    snprintf(dir, sizeof dir, "%s/runs", sp->dir);
    n = util__list_dir(dir, ".log", &names);
    if (n < 0)
        return -1;
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        names[i][strlen(names[i]) - 4] = '\0';
        recover_file(sp, path, names[i], each, ctx);
    }
    util__free_names(names, n);
    return 0;
}

/* ---- replay ------------------------------------------------------------------ */

struct spool_cursor {
    reader rd;
    int64_t from, to;
};

spool_cursor *spool__cursor(spool *sp, const char *run, int64_t from,
                            int64_t to)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/runs/%s.log", sp->dir, run);
    spool_cursor *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->rd.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->rd.fd < 0) {
        free(c);
        return NULL;
    }
    c->from = from;
    c->to = to;
    return c;
}

int spool__cursor_next(spool_cursor *c, spool_record *r, size_t *budget)
{
    while (*budget > 0) {
        size_t got = c->rd.fd >= 0 ? reader_next(&c->rd, r) : 0;
        if (got == 0 || r->seq > c->to) {
            /* The end: release the journal now, not when the cursor
             * goes. */
            if (c->rd.fd >= 0)
                close(c->rd.fd);
            c->rd.fd = -1;
            return 0;
        }
        *budget = got >= *budget ? 0 : *budget - got;
        if (r->seq >= c->from)
            return 1;
    }
    return 2;
}

void spool__cursor_free(spool_cursor **cp)
{
    spool_cursor *c = *cp;
    if (c == NULL)
        return;
    if (c->rd.fd >= 0)
        close(c->rd.fd);
    reader_free(&c->rd);
    free(c);
    *cp = NULL;
}

int spool__has_run(const spool *sp, const char *run)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/runs/%s.log", sp->dir, run);
    return access(path, R_OK) == 0;
}
