/*
 * intake.h — every inbound MQTT message of the daemon: requests (to this
 * controller or from the pool) and live inputs.
 */
#ifndef TWIN_INTAKE_H
#define TWIN_INTAKE_H

#include "mqtt.h"
#include "serve.h"

void intake__message(serve *sv, const mqtt_event *ev);

/* A retry of a request already answered: send its last answer to `to`.
 * Returns 1 when it was one (serve.c keeps the memory). */
int intake__answer_again(serve *sv, const reply_to *to);

#endif
