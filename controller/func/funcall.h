/*
 * funcall.h — calling a plugin function (funclib.h): a request's
 * arguments checked against the function's signature and turned into C
 * values, the call through libffi, and the same call in a child process
 * under a time limit, so that a function that crashes, exits or never
 * returns ends only that call.
 *
 * Arguments come as a JSON object by name ("args" of a call request).
 * Every problem is reported, each with the JSON Pointer of the argument
 * (/args/<name>, /args/<name>/<index> for an array element):
 *   missing_field  an argument the function needs is not there
 *   wrong_type     not a number; not a whole number for an int, long or
 *                  size_t; not an array for an array
 *   out_of_range   an argument the function does not have (as the
 *                  built-ins say it); an output array given;
 *                  outside the manifest's min/max or the C type's range;
 *                  an array's length outside min_length/max_length, two
 *                  arrays sharing a length argument with different
 *                  lengths, a length given that is not its array's
 * A length argument is filled from its array's number of elements and
 * may be left out; when given it must equal it.  The length of an output
 * array that no input array shares must be given.
 */
#ifndef TWIN_FUNCALL_H
#define TWIN_FUNCALL_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "child.h"
#include "errors.h"
#include "funclib.h"

/* Elements an output array may have when its length is given. */
#define FUNCALL_MAX_OUT ((size_t)1 << 20)

typedef struct fl_call fl_call;

/* Limits of a call's process.  0 means none. */
typedef struct fl_limits {
    double seconds;           /* wall-clock time (limits.call_seconds) */
    const char *seconds_name; /* how messages name it: NULL for
                               * "limits.call_seconds" */
    double cpu_seconds;       /* RLIMIT_CPU (limits.cpu_seconds) */
    size_t memory_bytes;      /* RLIMIT_AS (limits.memory_bytes) */
} fl_limits;

/* Check args (an object, or NULL for none) against f and convert them.
 * Returns the prepared call, or NULL with every problem in errs. */
fl_call *funcall__prepare(const fl_function *f, const json_t *args,
                          twin_errors *errs);

const fl_function *funcall__function(const fl_call *c);

/* Call the function in this process (for tests; a plugin's crash is
 * then the caller's). */
void funcall__invoke(fl_call *c);

/* The answer once the call returned: {"status": "ok", "function",
 * "value" (null for void), "outputs": {name: [...]} when the function has
 * output arrays, "nonfinite": [names] when a number was NaN or infinite
 * (sent as null)}. */
json_t *funcall__answer(const fl_call *c);

/* Kill (SIGKILL) and reap a started call's process if it is still
 * there, and free the call.  *c becomes NULL. */
void funcall__free(fl_call **c);

/* ---- in a child process ---- */

/* Fork the call under lim (child.h: lim->seconds is its deadline); the
 * child calls the function and writes its result to a pipe.  The child's
 * stdout and stderr go to output_fd (proc.h's pipe, closed here in the
 * parent either way), or with -1 its stdout onto its stderr.  Returns 0,
 * or -1 with a sentence in why. */
int funcall__start(fl_call *c, const fl_limits *lim, int output_fd,
                   char *why, size_t why_len);

int funcall__fd(const fl_call *c);      /* the result pipe (non-blocking) */

/* The call's process, for an event loop (the daemon's) to keep its
 * deadline (child__tick) and hand it what it collected (child__reaped). */
child *funcall__child(fl_call *c);

/* Read what the child wrote.  Returns 1 once the pipe is at its end, 0
 * when more may come. */
int funcall__read(fl_call *c);

/* The child is collected and its pipe read: how the call ended (killed
 * at lim->seconds, or its wait status).  Returns 0 when the result is
 * complete (funcall__answer), else -1 with the reason in errs (timeout,
 * model_crashed or internal, path "/function", naming the function and
 * what happened). */
int funcall__finish(fl_call *c, const fl_limits *lim, twin_errors *errs);

/* Start, wait (at most lim->seconds) and finish, in one. */
int funcall__run(fl_call *c, const fl_limits *lim, twin_errors *errs);

#endif
