/*
 * fake_mqtt.c — the module-boundary fake of mqtt.c for the sender's unit
 * tests (see fake_mqtt.h).  Only what sender.c calls is here.
 */
#include "fake_mqtt.h"

#include <stdlib.h>
#include <string.h>

struct mqtt_client {
    int up;
    fake_pub *pubs;
    size_t n, cap;
};

mqtt_client *fake_mqtt__new(void)
{
    return calloc(1, sizeof(mqtt_client));
}

void fake_mqtt__set_connected(mqtt_client *c, int up)
{
    c->up = up;
}

size_t fake_mqtt__count(const mqtt_client *c)
{
    return c->n;
}

const fake_pub *fake_mqtt__get(const mqtt_client *c, size_t i)
{
    return i < c->n ? &c->pubs[i] : NULL;
}

void fake_mqtt__clear(mqtt_client *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->pubs[i].topic);
        free(c->pubs[i].payload);
    }
    c->n = 0;
}

void fake_mqtt__free(mqtt_client *c)
{
    fake_mqtt__clear(c);
    free(c->pubs);
    free(c);
}

mqtt_event fake_mqtt__event(mqtt_event_kind kind, uint64_t tag)
{
    mqtt_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.tag = tag;
    return ev;
}

/* ---- what sender.c calls --------------------------------------------- */

int mqtt__is_connected(const mqtt_client *c)
{
    return c->up;
}

int mqtt__publish(mqtt_client *c, const mqtt_publish *p)
{
    if (!c->up)
        return -1;
    if (strncmp(p->topic, "refuse/", 7) == 0)
        return -2; /* as paho refuses what it cannot send at all */
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->pubs = realloc(c->pubs, c->cap * sizeof *c->pubs);
    }
    fake_pub *f = &c->pubs[c->n++];
    f->topic = strdup(p->topic);
    f->payload = strndup(p->payload, p->len);
    f->tag = p->tag;
    f->retained = p->retained;
    return 0;
}
