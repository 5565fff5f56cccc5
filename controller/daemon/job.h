/*
 * job.h — a request answered by a forked child process.
 *
 * Model plugin code never runs in the daemon (DESIGN.md: a plugin that
 * crashes, hangs or returns garbage takes only its own process with it).
 * A request whose answer needs it — steady — is checked in the daemon
 * (the envelope, its scenario, what the deployment allows), then its work
 * runs in a child process under the run limits of the configuration
 * (limits.cpu_seconds, limits.memory_bytes as RLIMIT_CPU and RLIMIT_AS;
 * limits.run_seconds of wall-clock time).  The child writes its answer,
 * the response members, as one FRAME_END through a pipe and exits; the
 * daemon's loop (serve.c) reads it without blocking and sends it.  A
 * child that dies or overruns is answered `failed` with model_crashed or
 * timeout, naming the model it was in when it can.
 *
 * A job is no run: it has no run id, no results, no spool journal, and
 * it does not count in the status message's load.  At most
 * limits.max_runs jobs run at once, besides the runs.
 */
#ifndef TWIN_JOB_H
#define TWIN_JOB_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "daemon.h"

/* Runs in the child: returns the response members ({"status": "ok" or
 * "failed", ...}, a new reference), or NULL when out of memory. */
typedef json_t *(*job_work)(void *arg);

/* Start work(arg) in a child; its answer goes to `to` (copied) as a
 * response of type `type`.  what names the work in messages ("steady-
 * state solve").  arg is read in the child only: the caller may free it
 * once this returns.  Returns 0, or -1 with a sentence in why. */
int job__start(serve *sv, const reply_to *to, req_type type,
               const char *what, job_work work, void *arg, char *why,
               size_t why_len);

size_t job__count(const serve *sv);

/* Is a job for request id under way (a retry must not start another)? */
int job__running(const serve *sv, const char *id);

/* For serve.c's loop: the pipes to watch (at most cap, returns how many
 * were put in pfd); after poll, job__service reads what came, answers
 * the jobs that ended and enforces the time limit; a child that
 * waitpid() collected is handed to job__reaped (1 when it was a job's). */
size_t job__poll_fds(const serve *sv, struct pollfd *pfd, size_t cap);
void job__service(serve *sv, double now);
int job__reaped(serve *sv, pid_t pid, int status);
double job__next_deadline(const serve *sv);

/* The daemon is stopping: kill every job and answer it `failed` with
 * cancelled.  Then free them all (job__free_all also kills). */
void job__stop_all(serve *sv);
void job__free_all(serve *sv);

#endif
