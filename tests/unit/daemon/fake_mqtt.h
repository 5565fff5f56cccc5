/*
 * fake_mqtt.h — a stand-in for mqtt.c at its module boundary, for unit
 * tests of the sender: it records every publish, lets the test decide
 * whether the connection is up, and builds the events the real client
 * would deliver.
 */
#ifndef TWIN_FAKE_MQTT_H
#define TWIN_FAKE_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

typedef struct fake_pub {
    char *topic;
    char *payload;
    uint64_t tag;
    int retained;
} fake_pub;

/* The fake client: connected or not, and what was published.  A topic
 * starting with refuse/ is refused for good (mqtt__publish's -2). */
mqtt_client *fake_mqtt__new(void);
void fake_mqtt__set_connected(mqtt_client *c, int up);
size_t fake_mqtt__count(const mqtt_client *c);
const fake_pub *fake_mqtt__get(const mqtt_client *c, size_t i);
void fake_mqtt__clear(mqtt_client *c);
void fake_mqtt__free(mqtt_client *c);

/* An event as the real client would queue it. */
mqtt_event fake_mqtt__event(mqtt_event_kind kind, uint64_t tag);

#endif
