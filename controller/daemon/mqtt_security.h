/*
 * mqtt_security.h — the configuration's "security" object as MQTT client
 * options (mqtt_security.c).
 */
#ifndef TWIN_MQTT_SECURITY_H
#define TWIN_MQTT_SECURITY_H

#include <stddef.h>

#include "config.h"
#include "mqtt.h"

/* Fill o's TLS files, username and password file from a configuration's
 * "security" object (members it does not set stay as they are; the
 * strings are borrowed from sec) and check them as mqtt__start will
 * (mqtt__check_security, mqtt.h), so that a problem stops the caller
 * before it starts anything.  Returns 0, or -1 with a sentence in why. */
int mqtt_security__options(mqtt_options *o, const twin_security *sec,
                           char *why, size_t why_len);

#endif
