/*
 * frame.c — length-prefixed frames over pipes (see frame.h).
 */
#include "frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int frame__writer_init(frame_writer *w, int fd, size_t cap)
{
    w->fd = fd;
    w->len = 0;
    w->cap = cap;
    w->buf = malloc(cap);
    return w->buf ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int frame__flush(frame_writer *w)
{
    if (w->len == 0)
        return 0;
    int rc = write_all(w->fd, w->buf, w->len);
    w->len = 0;
    return rc;
}

int frame__put(frame_writer *w, int type, const void *payload, size_t len)
{
    uint32_t n = (uint32_t)(len + 1);
    unsigned char t = (unsigned char)type;
    if (len + 1 > FRAME_MAX)
        return -1;
    if (w->len + 5 + len > w->cap) {
        if (frame__flush(w) != 0)
            return -1;
        if (5 + len > w->cap) { /* larger than the buffer: straight out */
            return write_all(w->fd, (const char *)&n, 4) ||
                   write_all(w->fd, (const char *)&t, 1) ||
                   write_all(w->fd, payload, len)
                       ? -1
                       : 0;
        }
    }
    memcpy(w->buf + w->len, &n, 4);
    w->buf[w->len + 4] = (char)t;
    memcpy(w->buf + w->len + 5, payload, len);
    w->len += 5 + len;
    return 0;
}

void frame__writer_free(frame_writer *w)
{
    free(w->buf);
    w->buf = NULL;
}

long frame__fill(frame_reader *r, int fd)
{
    if (r->pos > 0 && r->pos == r->len) {
        r->pos = r->len = 0;
    } else if (r->pos > r->cap / 2) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < 65536) {
        size_t cap = r->cap ? r->cap * 2 : 1u << 20;
        char *buf = realloc(r->buf, cap);
        if (buf == NULL)
            return -1;
        r->buf = buf;
        r->cap = cap;
    }
    ssize_t k = read(fd, r->buf + r->len, r->cap - r->len);
    if (k == 0)
        r->eof = 1;
    if (k > 0)
        r->len += (size_t)k;
    return (long)k;
}

int frame__next(frame_reader *r, const char **payload, size_t *len)
{
    if (r->len - r->pos < 5)
        return 0;
    uint32_t n;
    memcpy(&n, r->buf + r->pos, 4);
    if (n == 0 || n > FRAME_MAX)
        return -1;
    if (r->len - r->pos < 4 + (size_t)n) {
        if (4 + (size_t)n > r->cap) { /* make room for a large frame */
            size_t cap = r->cap;
            while (cap < 4 + (size_t)n + r->pos)
                cap *= 2;
            char *buf = realloc(r->buf, cap);
            if (buf == NULL)
                return -1;
            r->buf = buf;
            r->cap = cap;
        }
        return 0;
    }
    int type = (unsigned char)r->buf[r->pos + 4];
    const char *p = r->buf + r->pos + 5;
    if ((uintptr_t)p % _Alignof(double) != 0 && n > 1) {
        size_t need = (n - 1 + sizeof(double) - 1) / sizeof(double);
        if (need > r->aligned_cap) {
            double *a = realloc(r->aligned, need * sizeof *a);
            if (a == NULL)
                return -1;
            r->aligned = a;
            r->aligned_cap = need;
        }
        memcpy(r->aligned, p, n - 1);
        p = (const char *)r->aligned;
    }
    *payload = p;
    *len = n - 1;
    r->pos += 4 + (size_t)n;
    return type;
}

void frame__reader_free(frame_reader *r)
{
    free(r->buf);
    free(r->aligned);
    memset(r, 0, sizeof *r);
}

char *frame__where_text(const char *p, size_t len)
{
    size_t ml = strnlen(p, len);
    if (ml >= len)
        return NULL;
    const char *inst = p + ml + 1;
    size_t il = strnlen(inst, len - ml - 1);
    char *text = NULL;
    double t;
    int rc;
    if (ml + 1 + il + 1 + sizeof t <= len) {
        memcpy(&t, inst + il + 1, sizeof t);
        rc = asprintf(&text, "model '%s' (instance '%.*s') at t = %.9g", p,
                      (int)il, inst, t);
    } else {
        rc = asprintf(&text, "model '%s' (instance '%.*s')", p, (int)il,
                      inst);
    }
    return rc < 0 ? NULL : text;
}
