/*
 * batch_remote_answers.h — what comes back to `twinctl batch --broker`
 * (batch_remote_answers.c): the messages of the connection, and the
 * rows of a case whose final answer came.
 */
#ifndef TWIN_BATCH_REMOTE_ANSWERS_H
#define TWIN_BATCH_REMOTE_ANSWERS_H

#include "batch_remote_cases.h"

/* A message: a controller's status, an answer to a case, a result. */
void batch_remote_answers__on_message(remote *m, const mqtt_event *ev);
/* With --rows, a case whose final answer came: ended once its rows are
 * all there, sent again when they cannot be had. */
void batch_remote_answers__rows_step(remote *m, rcase *rc, double t);

#endif
