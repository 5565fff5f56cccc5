/*
 * mqtt_auth.c — the rules for the MQTT client's security options, the
 * password, and what a failed connect means.
 *
 * Owns what mqtt.h's security functions promise: which URLs are TLS, the
 * checks made on the options before a client starts (TLS files with a TLS
 * URL only, a key with its certificate, a password with a username, every
 * file readable, and tls_check.c's look inside the files), and reading the
 * password from the caller, its file's first line or TWIN_MQTT_PASSWORD
 * (and removing that from the environment); and, when a connect fails,
 * the sentence that says what to check (the broker's refusal of the
 * login, the TLS library's reason with the file to look at, or no broker
 * there: mqtt_auth.h).  Using the options is mqtt.c's;
 * filling them from a configuration is the daemon's mqtt_security.c.
 */
#include "mqtt_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTReasonCodes.h>

#include "mqtt.h"
#include "tls_check.h"

#define PASSWORD_ENV "TWIN_MQTT_PASSWORD"
#define PASSWORD_MAX 4096

int mqtt__url_is_tls(const char *url)
{
    return url != NULL && (strncmp(url, "ssl://", 6) == 0 ||
                           strncmp(url, "mqtts://", 8) == 0 ||
                           strncmp(url, "wss://", 6) == 0);
}

/* A file the client will open later, checked now so that its problem is
 * named at start, not as a TLS error minutes later. */
static int readable(const char *what, const char *file, char *why,
                    size_t why_len)
{
    if (file == NULL || access(file, R_OK) == 0)
        return 0;
    snprintf(why, why_len, "cannot read the %s %s: %s", what, file,
             strerror(errno));
    return -1;
}

int mqtt__check_security(const mqtt_options *o, char *why, size_t why_len)
{
    if (!mqtt__url_is_tls(o->url) &&
        (o->ca_file || o->cert_file || o->key_file)) {
        snprintf(why, why_len, "a CA file, client certificate or key was "
                 "given, but the broker URL '%s' is not TLS: use "
                 "ssl://HOST:PORT (or mqtts://)", o->url ? o->url : "");
        return -1;
    }
    if (o->key_file && o->cert_file == NULL) {
        snprintf(why, why_len, "a client key (%s) needs its certificate: "
                 "give the certificate file too", o->key_file);
        return -1;
    }
    if ((o->password || o->password_file) &&
        (o->username == NULL || o->username[0] == '\0')) {
        snprintf(why, why_len, "a password needs a username: give the "
                 "username too");
        return -1;
    }
    if (readable("CA file", o->ca_file, why, why_len) != 0 ||
        readable("client certificate", o->cert_file, why, why_len) != 0 ||
        readable("client key", o->key_file, why, why_len) != 0 ||
        readable("password file", o->password_file, why, why_len) != 0)
        return -1;
    return tls__check_files(o->ca_file, o->cert_file, o->key_file, why,
                            why_len);
}

/* The first line of a file, without its line end. */
static char *first_line(const char *file, int *failed, char *why,
                        size_t why_len)
{
    char buf[PASSWORD_MAX + 2];
    char *pw = NULL;
    FILE *f = fopen(file, "re");
    if (f == NULL) {
        snprintf(why, why_len, "cannot read the password file %s: %s", file,
                 strerror(errno));
        *failed = 1;
        return NULL;
    }
    if (fgets(buf, sizeof buf, f) == NULL)
        buf[0] = '\0';
    fclose(f);
    size_t n = strcspn(buf, "\r\n");
    if (n > PASSWORD_MAX) {
        snprintf(why, why_len, "the first line of the password file %s is "
                 "longer than %d bytes", file, PASSWORD_MAX);
        *failed = 1;
    } else if (n == 0) {
        snprintf(why, why_len, "the password file %s is empty: its first "
                 "line is the password", file);
        *failed = 1;
    } else if ((pw = strndup(buf, n)) == NULL) {
        snprintf(why, why_len, "out of memory");
        *failed = 1;
    }
    explicit_bzero(buf, sizeof buf);
    return pw;
}

char *mqtt__read_password(const mqtt_options *o, int *failed, char *why,
                          size_t why_len)
{
    const char *given = o->password;
    *failed = 0;
    if (given == NULL && o->password_file)
        return first_line(o->password_file, failed, why, why_len);
    if (given == NULL && o->username)
        given = getenv(PASSWORD_ENV);
    if (given == NULL || given[0] == '\0')
        return NULL;
    char *pw = strdup(given);
    if (pw == NULL) {
        snprintf(why, why_len, "out of memory");
        *failed = 1;
    }
    return pw;
}

void mqtt__scrub_password_env(void)
{
    char *v = getenv(PASSWORD_ENV);
    if (v != NULL)
        explicit_bzero(v, strlen(v)); /* where /proc/<pid>/environ shows it */
    unsetenv(PASSWORD_ENV);
}

void mqtt__free_password(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}


/* ---- what a failed connect means ---------------------------------------- */

/* The reason in one of OpenSSL's error lines ("[thread:]error:code:
 * library:function:reason:file:line:data"), or the whole line when it
 * does not look like one. */
void mqtt_auth__ssl_reason(const char *line, size_t len, const char **out,
                           size_t *out_len)
{
    const char *end = line + len, *p = NULL;
    for (const char *q = line; q + 6 <= end && p == NULL; q++)
        if (memcmp(q, "error:", 6) == 0)
            p = q + 6;
    for (int field = 0; p != NULL && field < 3; field++) {
        p = memchr(p, ':', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    const char *stop = p ? memchr(p, ':', (size_t)(end - p)) : NULL;
    if (p == NULL || stop == NULL || stop == p) {
        *out = line;
        *out_len = len;
        return;
    }
    *out = p;
    *out_len = (size_t)(stop - p);
}

/* What to check after a TLS failure, by what the TLS library said. */
static void tls_hint(const mqtt_auth_info *c, const char *tls, char *out,
                     size_t len)
{
    if (strstr(tls, "alert") != NULL)      /* the broker ended it */
        snprintf(out, len, "the broker refused the TLS handshake: check the "
                 "client certificate %s and key %s (signed by a CA the "
                 "broker trusts?), then the CA file %s",
                 c->cert_file ? c->cert_file : "(none given)",
                 c->key_file ? c->key_file : "(in the certificate file)",
                 c->ca_file ? c->ca_file : "(none: the system's CAs)");
    else if (strstr(tls, "certificate verify failed") != NULL &&
             tls__explain_verify_failure(c->url, c->ca_file, out, len))
        return; /* expired or not yet valid: not the CA file's fault */
    else if (c->ca_file)
        snprintf(out, len, "check the CA file %s: it must hold the CA that "
                 "signed the broker's certificate, and that certificate "
                 "must name the host in the URL", c->ca_file);
    else
        snprintf(out, len, "the system's CAs do not vouch for the broker's "
                 "certificate: give the CA file that signed it");
}

int mqtt_auth__connect_failure(const mqtt_auth_info *c, int reason,
                               const char *message, const char *tls,
                               char *text, size_t text_len)
{
    char hint[512];
    int refused = 1;
    if (reason > 0) {
        /* The broker answered the CONNECT: refused. */
        int login = reason == MQTTREASONCODE_NOT_AUTHORIZED ||
                    reason == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD ||
                    reason == 4 || reason == 5;
        const char *name = MQTTReasonCode_toString(
            (enum MQTTReasonCodes)reason);
        snprintf(text, text_len, "cannot connect to %s: the broker "
                 "refused the connection%s%s%s: %s (reason %d)%s", c->url,
                 c->username ? " of user '" : "",
                 c->username ? c->username : "", c->username ? "'" : "",
                 name ? name : "refused", reason,
                 !login ? ""
                 : c->username ? "; check the username and the password "
                                 "(its file, or TWIN_MQTT_PASSWORD)"
                               : "; it wants a username and password");
    } else if (c->tls && tls[0]) {
        tls_hint(c, tls, hint, sizeof hint);
        snprintf(text, text_len, "cannot connect to %s: TLS failed (%s); "
                 "%s", c->url, tls, hint);
    } else if (c->tls) {
        /* paho says "TCP/TLS connect failure", and OpenSSL nothing, alike
         * for a closed port, a port without TLS, a certificate for another
         * host name, and a broker that ended the handshake because it
         * wants a client certificate. */
        refused = 0;
        snprintf(text, text_len, "cannot connect to %s: %s (no broker "
                 "there, or no TLS on that port, or the broker's "
                 "certificate does not name the host in the URL, or the "
                 "broker wants a client certificate%s)", c->url,
                 message ? message : "no TLS connection",
                 c->cert_file ? "" : " and none was given");
    } else {
        refused = 0;
        snprintf(text, text_len, "cannot connect to %s: %s", c->url,
                 message ? message
                         : "no answer (is the broker running "
                           "there?)");
    }
    return refused;
}

