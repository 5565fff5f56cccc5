/*
 * tls_check.h — the TLS files checked with OpenSSL before a connection,
 * and the reason a broker's certificate failed verification, found after
 * (tls_check.c).  mqtt.c calls both: every command that connects applies
 * the same checks and says the same sentences.
 */
#ifndef TWIN_TLS_CHECK_H
#define TWIN_TLS_CHECK_H

#include <stddef.h>

/* Parse what can be parsed before connecting (any of the files may be
 * NULL): the CA file must hold at least one PEM certificate, and one in
 * force now; the client certificate must be a PEM certificate in force
 * now, and its key (key_file, or the certificate file when NULL) a PEM
 * private key, unencrypted, that belongs to it.  Returns 0, or -1 with
 * one sentence in why saying what is wrong and what to do. */
int tls__check_files(const char *ca_file, const char *cert_file,
                     const char *key_file, char *why, size_t why_len);

/* After paho's "certificate verify failed" from url (ssl://host:port):
 * a handshake of our own (at most a few seconds, blocking) asks OpenSSL
 * why.  Returns 1 with a sentence in why when the broker's certificate,
 * or a CA certificate of its chain, has expired or is not valid yet; 0
 * when it is something else (or the probe could not tell). */
int tls__explain_verify_failure(const char *url, const char *ca_file,
                                char *why, size_t why_len);

#endif
