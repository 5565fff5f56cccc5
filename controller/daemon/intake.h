/*
 * intake.h — every inbound MQTT message of the daemon: requests (to this
 * controller or from the pool) and live inputs.
 */
#ifndef TWIN_INTAKE_H
#define TWIN_INTAKE_H

#include "daemon.h"
#include "mqtt.h"

void intake__message(serve *sv, const mqtt_event *ev);

#endif
