/*
 * mqtt_auth.h — what mqtt.c asks mqtt_auth.c about a failed connect: the
 * reason in a line of OpenSSL's error queue, and the sentence that tells
 * the user what to check.  (The security options' rules and the password
 * are mqtt.h's functions, kept in mqtt_auth.c too.)
 */
#ifndef TWIN_MQTT_AUTH_H
#define TWIN_MQTT_AUTH_H

#include <stddef.h>

/* What the sentence names: the client's URL, login and TLS files. */
typedef struct mqtt_auth_info {
    const char *url, *username;
    int tls;                   /* an ssl:// (mqtts://, wss://) URL */
    const char *ca_file, *cert_file, *key_file;
} mqtt_auth_info;

/* The reason in one of OpenSSL's error lines ("[thread:]error:code:
 * library:function:reason:file:line:data"), or the whole line when it
 * does not look like one. */
void mqtt_auth__ssl_reason(const char *line, size_t len, const char **out,
                           size_t *out_len);

/* The sentence for a failed connect into text: reason is the broker's
 * refusal (an MQTT v5 reason code, or 1 to 5 for MQTT 3; 0: none),
 * message paho's words (or NULL), tls what the TLS library said (or "").
 * Returns 1 when the broker was there but said no (TLS, or the login),
 * 0 when none was. */
int mqtt_auth__connect_failure(const mqtt_auth_info *a, int reason,
                               const char *message, const char *tls,
                               char *text, size_t text_len);

#endif
