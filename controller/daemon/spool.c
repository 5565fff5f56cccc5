/*
 * spool.c — append-only journals on disk for every message the daemon
 * sends, synced before publishing, kept until acknowledged and, for runs,
 * for a retention time.  See spool.h for the layout.
 *
 * A journal is a stream (open descriptor, a flag per record) while it is
 * written or has records the broker has not acknowledged.  Once its run
 * has ended and everything in it was acknowledged, it is retired: its ack
 * mark is written, its descriptor closed, and all that stays in memory is
 * its run id, size and when its retention ends (a kept_journal, about 50
 * bytes) — so runs kept for replay cost no descriptor, and replay opens
 * the file when it needs it.
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
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "util.h"

/* Records of this version carry their index in the journal and a CRC-32
 * of their length and body; TWR1 records (before) were read by the old
 * rules: no index, a CRC-32 of the body only, and the journal ending at
 * the first damaged one. */
#define MAGIC "TWR2"
#define MAGIC_V1 "TWR1"
#define HEADER 12          /* magic, length, crc */
#define FIXED 21           /* index, seq, retained, topic and corr. lengths */
#define FIXED_V1 13        /* seq, retained, topic and corr. lengths */
#define MAX_RECORD (256u << 20)
/* Records one damaged stretch can lose at most (a record's index past
 * this is taken for damage): a million, at least 33 MB of journal. */
#define MAX_GAP (1 << 20)
/* Records longer than this have their fixed fields checked first. */
#define PRECHECK_AT 4096u
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
    int64_t last_seq;      /* of the last result record, or −1 */
    size_t pending;        /* messages waiting to be appended (spool__pending) */
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

/* A retired journal, kept for replay until retain_until. */
typedef struct kept_journal {
    struct kept_journal *next;
    double retain_until;   /* wall clock */
    size_t bytes;
    char run[];
} kept_journal;

struct spool {
    char *dir;
    int lock_fd;
    spool_stream *streams;
    kept_journal *kept;    /* retired journals, oldest first */
    kept_journal **kept_tail;
    size_t bytes;          /* of the streams and the kept journals */
    unsigned misc_n;
};

/* CRC-32 (IEEE, zlib's) of a record's length and body (TWR1: of its
 * body). */
static uint32_t crc_of(const void *len4, const void *body, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    if (len4 != NULL)
        c = crc32(c, len4, 4);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, body, k);
        body = (const char *)body + k;
        n -= k;
    }
    return (uint32_t)c;
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

/* Can a journal be made in dir/runs (a file created, written, removed)?
 * 0, or −1 with errno. */
static int probe_writable(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/runs/.probe-%ld", dir, (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = write(fd, "x", 1) == 1 ? 0 : -1;
    int err = errno;
    close(fd);
    unlink(path);
    errno = err;
    return rc;
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
    sp->kept_tail = &sp->kept;
    snprintf(path, sizeof path, "%s/runs", dir);
    if (mkdir_p(path) != 0) {
        snprintf(why, why_len, "cannot make the spool directory %s: %s "
                 "(set \"spool\" in the configuration to a writable "
                 "place)", path, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s/LOCK", dir);
    sp->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    /* A full disk is no reason not to start (what is there is sent, and
     * the status says the spool is full); a read-only or forbidden one
     * is. */
    if (sp->lock_fd < 0 || access(path, W_OK) != 0 ||
        (probe_writable(dir) != 0 && errno != ENOSPC && errno != EDQUOT)) {
        snprintf(why, why_len, "the spool directory %s cannot be written: "
                 "%s (%s): make it writable by this user, remount its "
                 "filesystem read-write, or set \"spool\" in the "
                 "configuration to a writable place", dir, strerror(errno),
                 errno == EROFS ? "its filesystem is mounted read-only"
                                : "check its owner and permissions");
        goto fail;
    }
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(why, why_len, "the spool %s is in use by another twinctl "
                 "serve (each controller needs its own spool directory): "
                 "%s", dir, strerror(errno));
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
    while (sp->kept) {
        kept_journal *k = sp->kept;
        sp->kept = k->next;
        free(k);
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
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        at += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads a journal record by record from an offset, past damage: where
 * the bytes at the offset are not an intact record, it looks for the
 * next one that is (its marker, a length within the file, a matching
 * CRC, an index after the last one read) and says what it skipped.  A
 * record's topic is copied out (it is not NUL-terminated in the
 * journal); the other pointers of a record point into body. */
typedef struct reader {
    int fd;
    off_t at;              /* offset of the next record */
    int64_t index;         /* the index the next record should have */
    int v1;                /* TWR1 records are still read (old rules) */
    char *body, *topic;
    size_t cap, topic_cap;
    /* What the last reader_next skipped before its record (or before the
     * end): bytes from skip_at, why, and records lost (−1: unknown). */
    off_t skip_at;
    size_t skipped;
    int64_t lost;
    const char *why;
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

static off_t file_size(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 ? sb.st_size : 0;
}

/* A record's fixed fields (fix: its body's first bytes) against its
 * length and the index expected: NULL when they hold (the index in
 * *index), else why not. */
static const char *check_fixed(const reader *rd, const char *fix, int v1,
                               uint32_t len, int64_t *index)
{
    uint16_t tl, cl;
    int64_t i = rd->index;
    if (!v1)
        memcpy(&i, fix, 8);
    const char *rest = fix + (v1 ? 0 : 8);
    memcpy(&tl, rest + 9, 2);
    memcpy(&cl, rest + 11, 2);
    if ((size_t)(v1 ? FIXED_V1 : FIXED) + tl + cl > len)
        return "a record's lengths do not add up";
    if (i < rd->index || i - rd->index > MAX_GAP)
        return "a record's index is out of order";
    if (index)
        *index = i;
    return NULL;
}

/* The record at offset at into r: its size on disk, or 0 with why set
 * (NULL: the end of the file, exactly). */
static size_t parse_at(reader *rd, off_t at, spool_record *r,
                       const char **why)
{
    char head[HEADER];
    uint32_t len, crc;
    uint16_t tl, cl;
    ssize_t got = pread(rd->fd, head, HEADER, at);
    *why = NULL;
    if (got == 0)
        return 0;
    if (got != HEADER) {
        *why = "the journal ends in the middle of a record";
        return 0;
    }
    int v1 = memcmp(head, MAGIC_V1, 4) == 0 && rd->v1;
    if (memcmp(head, MAGIC, 4) != 0 && !v1) {
        *why = memcmp(head, MAGIC_V1, 4) == 0
                   ? "a record of the old format (TWR1) after damage"
                   : "no record starts there (its marker is damaged)";
        return 0;
    }
    size_t fixed = v1 ? FIXED_V1 : FIXED;
    memcpy(&len, head + 4, 4);
    memcpy(&crc, head + 8, 4);
    if (len < fixed || len > MAX_RECORD ||
        (len > rd->cap && (off_t)len > file_size(rd->fd) - at - HEADER)) {
        *why = "a record's length is damaged or the record is cut short";
        return 0;
    }
    /* A long record's fixed fields are checked before its body is read,
     * so that false markers in damage (looking for the next record) cost
     * little whatever length they claim. */
    char fix[FIXED];
    if (len > PRECHECK_AT &&
        (read_all(rd->fd, fix, fixed, at + HEADER) != 0 ||
         (*why = check_fixed(rd, fix, v1, len, NULL)) != NULL))
        return 0;
    if (grow(&rd->body, &rd->cap, len) != 0 ||
        read_all(rd->fd, rd->body, len, at + HEADER) != 0) {
        *why = "the journal ends in the middle of a record";
        return 0;
    }
    if (crc_of(v1 ? NULL : head + 4, rd->body, len) != crc) {
        *why = "a record's checksum does not match its bytes";
        return 0;
    }
    int64_t index;
    if ((*why = check_fixed(rd, rd->body, v1, len, &index)) != NULL)
        return 0;
    const char *body = rd->body + (v1 ? 0 : 8);
    memcpy(&tl, body + 9, 2);
    memcpy(&cl, body + 11, 2);
    if (grow(&rd->topic, &rd->topic_cap, (size_t)tl + 1) != 0) {
        *why = "out of memory";
        return 0;
    }
    memcpy(rd->topic, body + 13, tl);
    rd->topic[tl] = '\0';
    *r = (spool_record){.index = index,
                        .retained = (body[8] & SPOOL_RETAINED) != 0,
                        .cbor = (body[8] & SPOOL_CBOR) != 0,
                        .topic = rd->topic,
                        .correlation = cl ? body + 13 + tl : NULL,
                        .correlation_len = cl,
                        .payload = body + 13 + tl + cl,
                        .len = len - fixed - tl - cl};
    memcpy(&r->seq, body, 8);
    if (r->seq < -1)
        r->seq = -1;
    if (!v1)
        rd->v1 = 0;
    return HEADER + (size_t)len;
}

/* The offset of the next marker of a current record at or after from, or
 * −1. */
static off_t find_marker(int fd, off_t from)
{
    char buf[65536];
    for (;;) {
        ssize_t got = pread(fd, buf, sizeof buf, from);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 4)
            return -1;
        const char *hit = memmem(buf, (size_t)got, MAGIC, 4);
        if (hit != NULL)
            return from + (hit - buf);
        from += got - 3;
    }
}

/* The next intact record into r: its size on disk, or 0 at the end of
 * the journal.  What was skipped to find it (or before the end) is in
 * skip_at, skipped, lost and why. */
static size_t reader_next(reader *rd, spool_record *r)
{
    const char *why;
    rd->skipped = 0;
    rd->lost = 0;
    rd->why = NULL;
    size_t got = parse_at(rd, rd->at, r, &why);
    if (got == 0 && why != NULL) {
        /* Damage: the next intact record, of the current format. */
        rd->v1 = 0;
        rd->why = why;
        rd->skip_at = rd->at;
        off_t at = rd->at;
        const char *w;
        while ((at = find_marker(rd->fd, at + 1)) >= 0)
            if ((got = parse_at(rd, at, r, &w)) > 0)
                break;
        if (got == 0) {
            rd->skipped = (size_t)(file_size(rd->fd) - rd->skip_at);
            rd->lost = -1;
            return 0;
        }
        rd->skipped = (size_t)(at - rd->at);
        rd->at = at;
    }
    if (got == 0)
        return 0;
    if (r->index > rd->index) {
        /* Whole records are missing (cut out at their bounds). */
        rd->lost = r->index - rd->index;
        if (rd->why == NULL) {
            rd->why = "records are missing";
            rd->skip_at = rd->at;
        }
    }
    rd->at += (off_t)got;
    rd->index = r->index + 1;
    return got;
}

static void reader_free(reader *rd)
{
    free(rd->body);
    free(rd->topic);
    rd->body = rd->topic = NULL;
    rd->cap = rd->topic_cap = 0;
}

/* Walk the intact records of an open journal, and the damage between
 * them.  Returns the index after the last record read; the offset after
 * it (where the journal's intact part ends) in *end. */
typedef int (*walk_fn)(void *ctx, const spool_record *r);
typedef void (*damage_fn)(void *ctx, const spool_damage *d);

static int64_t walk(int fd, walk_fn fn, damage_fn dfn, void *ctx,
                    off_t *end)
{
    reader rd = {.fd = fd, .v1 = 1};
    spool_record r;
    size_t got;
    do {
        got = reader_next(&rd, &r);
        if (rd.why != NULL && dfn != NULL)
            dfn(ctx, &(spool_damage){.offset = (int64_t)rd.skip_at,
                                     .bytes = rd.skipped,
                                     .records = rd.lost,
                                     .at_end = got == 0,
                                     .why = rd.why});
    } while (got > 0 && !(fn && fn(ctx, &r)));
    reader_free(&rd);
    if (end)
        *end = rd.at;
    return rd.index;
}

/* The ack mark of a journal: how many records from the start the broker
 * acknowledged, as the daemon wrote it — decimal digits and a newline.
 * Anything else (a sign, garbage, nothing, a number past int64) reads as
 * −1 with why set: nothing acknowledged, so everything is sent again
 * (receivers drop duplicates by seq). */
static int64_t read_mark(const char *log_path, const char **why)
{
    char path[4200], text[32];
    snprintf(path, sizeof path, "%.*s.acked", (int)(strlen(log_path) - 4),
             log_path);
    *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    size_t digits = 0;
    uint64_t mark = 0;
    while (n > 0 && (size_t)n > digits && text[digits] >= '0' &&
           text[digits] <= '9' && digits < 19) {
        mark = 10 * mark + (text[digits] - '0');
        digits++;
    }
    if (n <= 0 || digits == 0 ||
        !((size_t)n == digits || ((size_t)n == digits + 1 &&
                                  text[digits] == '\n'))) {
        *why = "its ack mark is not a count of records";
        return -1;
    }
    if (mark > INT64_MAX) {
        *why = "its ack mark is a number past any count of records";
        return -1;
    }
    return (int64_t)mark;
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

/* While a journal is reopened: which indices hold an intact record. */
#define PRESENT 2

static int note_present(void *ctx, const spool_record *r)
{
    spool_stream *st = ctx;
    if (ensure_acked(st, r->index + 1) != 0)
        return 1;
    st->acked[r->index] = PRESENT;
    if (r->seq > st->last_seq)
        st->last_seq = r->seq;
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
    st->last_seq = -1;
    int rc = run ? asprintf(&st->path, "%s/runs/%s.log", sp->dir, run)
                 : asprintf(&st->path, "%s/misc-%u.log", sp->dir,
                            sp->misc_n);
    if (rc < 0 || (run && (st->run = strdup(run)) == NULL))
        goto fail;
    st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (st->fd < 0)
        goto fail;
    /* An existing journal (a restart): continue after its last intact
     * record, cutting what follows it (a torn record); records lost to
     * damage before it count as done (there is nothing to send). */
    off_t end = 0;
    st->count = walk(st->fd, note_present, NULL, st, &end);
    if (st->count < 0 || ensure_acked(st, st->count + 1) != 0 ||
        ftruncate(st->fd, end) != 0 || lseek(st->fd, end, SEEK_SET) < 0)
        goto fail;
    st->bytes = (size_t)end;
    for (int64_t i = 0; i < st->count; i++)
        st->acked[i] = st->acked[i] == PRESENT ? 0 : 1;
    const char *why;
    int64_t mark = read_mark(st->path, &why);
    st->mark_written = mark;
    if (mark < 0)
        mark = 0;
    if (mark > st->count)
        mark = st->count;
    memset(st->acked, 1, (size_t)mark);
    st->mark = 0;
    while (st->mark < st->count && st->acked[st->mark])
        st->mark++;
    st->next = sp->streams;
    sp->streams = st;
    sp->bytes += st->bytes;
    return st;
fail:;
    int err = errno;
    stream_free(st);
    errno = err;
    return NULL;
}

int64_t spool__append(spool_stream *st, int64_t seq, int flags,
                      const char *topic, const void *correlation,
                      size_t correlation_len, const char *payload,
                      size_t len)
{
    size_t tl = strlen(topic);
    if (tl > 65535 || correlation_len > 65535 || ensure_acked(st,
                                                              st->count + 1))
        return -1;
    size_t body = FIXED + tl + correlation_len + len;
    if (body > MAX_RECORD)
        return -1;
    char *rec = malloc(HEADER + body);
    if (rec == NULL)
        return -1;
    uint32_t blen = (uint32_t)body;
    uint16_t t16 = (uint16_t)tl, c16 = (uint16_t)correlation_len;
    char *b = rec + HEADER;
    memcpy(b, &st->count, 8);
    memcpy(b + 8, &seq, 8);
    b[16] = (char)(flags & (SPOOL_RETAINED | SPOOL_CBOR));
    memcpy(b + 17, &t16, 2);
    memcpy(b + 19, &c16, 2);
    memcpy(b + FIXED, topic, tl);
    if (correlation_len)
        memcpy(b + FIXED + tl, correlation, correlation_len);
    memcpy(b + FIXED + tl + correlation_len, payload, len);
    memcpy(rec, MAGIC, 4);
    memcpy(rec + 4, &blen, 4);
    uint32_t crc = crc_of(rec + 4, b, body);
    memcpy(rec + 8, &crc, 4);
    size_t total = HEADER + body, done = 0;
    while (done < total) {
        ssize_t k = write(st->fd, rec + done, total - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            /* Cut what was written, so the journal stays whole. */
            int err = k == 0 ? ENOSPC : errno;
            if (ftruncate(st->fd, (off_t)st->bytes) == 0)
                lseek(st->fd, (off_t)st->bytes, SEEK_SET);
            free(rec);
            errno = err;
            return -1;
        }
        done += (size_t)k;
    }
    free(rec);
    st->bytes += total;
    st->sp->bytes += total;
    st->dirty = 1;
    if (seq > st->last_seq)
        st->last_seq = seq;
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

static void write_mark(spool_stream *st);

/* An ended run's journal, all acknowledged: from a stream to a kept
 * journal (mark written, descriptor closed). */
static void retire(spool *sp, spool_stream *st)
{
    kept_journal *k = malloc(sizeof *k + strlen(st->run) + 1);
    if (k == NULL)
        return; /* stays a stream; the next tidy tries again */
    if (st->dirty && fdatasync(st->fd) == 0)
        st->dirty = 0;
    write_mark(st);
    k->next = NULL;
    k->retain_until = st->retain_until;
    k->bytes = st->bytes;
    strcpy(k->run, st->run);
    *sp->kept_tail = k;
    sp->kept_tail = &k->next;
    spool_stream **link = &sp->streams;
    while (*link != st)
        link = &(*link)->next;
    *link = st->next;
    stream_free(st); /* its bytes stay counted, as the kept journal's */
}

/* Ended, everything in it acknowledged, and nothing waiting in memory to
 * be appended to it (spool__pending). */
static int retirable(const spool_stream *st)
{
    return st->run != NULL && st->finished && st->mark == st->count &&
           st->pending == 0;
}

void spool__acked(spool_stream *st, int64_t index)
{
    if (st == NULL || index < st->mark || index >= st->count)
        return;
    st->acked[index] = 1;
    while (st->mark < st->count && st->acked[st->mark])
        st->mark++;
    if (st->run == NULL && st->mark == st->count &&
        st->bytes >= CUT_MISC_AT)
        cut_misc(st->sp, st);
    else if (retirable(st))
        retire(st->sp, st);
}

void spool__finish(spool_stream **stp, double retention)
{
    spool_stream *st = *stp;
    *stp = NULL;
    if (st == NULL)
        return;
    st->finished = 1;
    st->retain_until = wall_now() + retention;
    if (retirable(st))
        retire(st->sp, st);
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

/* A kept journal past its retention: its files go. */
static void remove_kept(spool *sp, kept_journal *k)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/runs/%s.log", sp->dir, k->run);
    unlink(path);
    snprintf(path, sizeof path, "%s/runs/%s.acked", sp->dir, k->run);
    unlink(path);
    sp->bytes -= k->bytes;
    free(k);
}

void spool__tidy(spool *sp)
{
    double now = wall_now();
    for (spool_stream *st = sp->streams, *next; st; st = next) {
        next = st->next;
        write_mark(st);
        if (st->run == NULL && st->mark == st->count && st->count > 0)
            cut_misc(sp, st);
        else if (retirable(st))
            retire(sp, st); /* one that could not be before */
    }
    /* Every kept journal is looked at: retention is mostly, not always,
     * in the order they were kept (a run that never started keeps none). */
    for (kept_journal **link = &sp->kept; *link;) {
        kept_journal *k = *link;
        if (now >= k->retain_until) {
            *link = k->next;
            remove_kept(sp, k);
        } else {
            link = &k->next;
        }
    }
    sp->kept_tail = &sp->kept;
    while (*sp->kept_tail)
        sp->kept_tail = &(*sp->kept_tail)->next;
}

size_t spool__bytes(const spool *sp)
{
    return sp->bytes;
}

void spool__pending(spool_stream *st, int delta)
{
    if (st == NULL)
        return;
    if (delta > 0)
        st->pending += (size_t)delta;
    else if (st->pending >= (size_t)-delta)
        st->pending -= (size_t)-delta;
}

size_t spool__disk_free(const spool *sp)
{
    struct statvfs vfs;
    if (statvfs(sp->dir, &vfs) != 0)
        return SIZE_MAX;
    double bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
    return bytes >= (double)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

const char *spool__dir(const spool *sp)
{
    return sp->dir;
}

int64_t spool__stream_last_seq(const spool_stream *st)
{
    return st->last_seq;
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

typedef struct damages {
    spool_damage *d;
    size_t n, cap;
} damages;

typedef struct collected {
    spool_record *r;
    size_t n, cap;
    char **keep;           /* copies the records point into */
    damages damage;
} collected;

/* Copy a record out (its payload NUL-terminated); out of memory: stop
 * (the records so far are handed back). */
static int collect(void *ctx, const spool_record *r)
{
    collected *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        spool_record *rs = realloc(c->r, cap * sizeof *rs);
        if (rs == NULL)
            return 1;
        c->r = rs;
        char **keep = realloc(c->keep, cap * 3 * sizeof *keep);
        if (keep == NULL)
            return 1;
        c->keep = keep;
        c->cap = cap;
    }
    char *t = strdup(r->topic), *p = malloc(r->len + 1), *k = NULL;
    if (r->correlation_len && (k = malloc(r->correlation_len)) != NULL)
        memcpy(k, r->correlation, r->correlation_len);
    if (t == NULL || p == NULL || (r->correlation_len && k == NULL)) {
        free(t);
        free(p);
        free(k);
        return 1;
    }
    memcpy(p, r->payload, r->len);
    p[r->len] = '\0';
    spool_record *d = &c->r[c->n];
    *d = *r;
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
    free(c->damage.d);
    memset(c, 0, sizeof *c);
}

static void note_damage(void *ctx, const spool_damage *d)
{
    damages *ds = &((collected *)ctx)->damage;
    if (ds->n == ds->cap) {
        size_t cap = ds->cap ? 2 * ds->cap : 8;
        spool_damage *grown = realloc(ds->d, cap * sizeof *grown);
        if (grown == NULL)
            return;
        ds->d = grown;
        ds->cap = cap;
    }
    ds->d[ds->n++] = *d;
}

static void recover_file(const char *path, const char *run,
                         spool_each_fn each, void *ctx)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    collected c = {0};
    walk(fd, collect, note_damage, &c, NULL);
    close(fd);
    const char *why;
    int64_t mark = read_mark(path, &why);
    size_t acked = 0;
    while (acked < c.n && c.r[acked].index < mark)
        acked++;
    each(ctx, run, &(spool_found){.records = c.r, .n = c.n, .acked = acked,
                                  .damage = c.damage.d,
                                  .n_damage = c.damage.n,
                                  .mark_problem = why});
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
        recover_file(path, NULL, each, ctx);
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
        recover_file(path, names[i], each, ctx);
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
    c->rd.v1 = 1;
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
