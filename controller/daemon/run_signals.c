/*
 * run_signals.c — FRAME_SIGNAL, written by the daemon and read by the
 * run's process (run_signals.h).  The frame's payload: the arrival time
 * (a double), the payload's size (uint32), a flag (1: the payload was too
 * large and is not included), the topic and its NUL, then the payload.
 */
#include "run_signals.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#define HEAD (sizeof(double) + sizeof(uint32_t) + 1)

int run_signals__send(int to_child, const char *topic, const char *payload,
                      size_t len, double arrived)
{
    char buf[PIPE_BUF];
    size_t tl = strlen(topic) + 1;
    if (5 + HEAD + tl > sizeof buf)
        return -1; /* topics are at most 1024 bytes (signals.c) */
    uint8_t cut = 5 + HEAD + tl + len > sizeof buf;
    uint32_t size = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    size_t body = HEAD + tl + (cut ? 0 : len);
    uint32_t n = (uint32_t)(body + 1);
    memcpy(buf, &n, 4);
    buf[4] = FRAME_SIGNAL;
    char *p = buf + 5;
    memcpy(p, &arrived, sizeof arrived);
    memcpy(p + sizeof arrived, &size, sizeof size);
    p[sizeof arrived + sizeof size] = (char)cut;
    memcpy(p + HEAD, topic, tl);
    if (!cut)
        memcpy(p + HEAD + tl, payload, len);
    ssize_t w = write(to_child, buf, 5 + body);
    return w == (ssize_t)(5 + body) ? 0 : -1;
}

void run_signals__frame(signal_feed *f, const char *frame, size_t len,
                        double t)
{
    double arrived;
    uint32_t size;
    if (len < HEAD + 1)
        return;
    memcpy(&arrived, frame, sizeof arrived);
    memcpy(&size, frame + sizeof arrived, sizeof size);
    int cut = frame[sizeof arrived + sizeof size] != 0;
    const char *topic = frame + HEAD;
    const char *nul = memchr(topic, '\0', len - HEAD);
    if (nul == NULL)
        return;
    const char *payload = nul + 1;
    size_t plen = (size_t)(frame + len - payload);
    signal_feed__message(f, topic, arrived, payload, cut ? size : plen, cut,
                         t);
}

double run_signals__wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
