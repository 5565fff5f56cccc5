/*
 * mqtt_security.c — the configuration's "security" object as MQTT client
 * options: TLS files, username and password file.
 *
 * Only the bridge from twin_security (config.h, read by config.c) to
 * mqtt_options; the rules for those options and reading the password
 * (its file's first line, or TWIN_MQTT_PASSWORD — never the command line,
 * where any user of the machine can read it in /proc) are mqtt.c's, so
 * every command applies the same ones.
 */
#include "mqtt_security.h"

int mqtt_security__options(mqtt_options *o, const twin_security *sec,
                           char *why, size_t why_len)
{
    if (sec->ca_file)
        o->ca_file = sec->ca_file;
    if (sec->cert_file)
        o->cert_file = sec->cert_file;
    if (sec->key_file)
        o->key_file = sec->key_file;
    if (sec->username)
        o->username = sec->username;
    if (sec->password_file)
        o->password_file = sec->password_file;
    return mqtt__check_security(o, why, why_len);
}
