/*
 * tls_check.c — what OpenSSL can tell about the TLS files before a
 * connection, and about the broker's certificate after a handshake that
 * failed to verify.  See tls_check.h.
 *
 * paho reads the files only when it connects, and of a failed handshake
 * passes on OpenSSL's error queue, which says "certificate verify failed"
 * whatever the reason.  So the files are parsed here at start (the CA
 * file as PEM certificates, the client certificate's dates, its key and
 * whether the two belong together), and after such a failure a probe
 * handshake of our own asks OpenSSL for the verification result, which
 * tells an expired broker certificate from a wrong CA file.
 */
#include "tls_check.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PROBE_SECONDS 3

/* "2026-12-07 03:01:20 UTC" */
static void date_of(const ASN1_TIME *t, char *out, size_t len)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1 ||
        strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, len, "(unreadable date)");
}

/* -1 not yet valid, 1 expired, 0 valid now. */
static int validity(X509 *x)
{
    if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
        return -1;
    if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        return 1;
    return 0;
}

/* "CN=…" of a certificate's subject, for sentences. */
static void subject_of(X509 *x, char *out, size_t len)
{
    out[0] = '\0';
    X509_NAME_oneline(X509_get_subject_name(x), out, (int)len);
}

/* Never ask a terminal for a key's passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int check_ca(const char *file, char *why, size_t why_len)
{
    BIO *b = BIO_new_file(file, "r");
    X509 *x, *first = NULL;
    int n = 0, usable = 0;
    if (b == NULL) {
        snprintf(why, why_len, "cannot read the CA file %s", file);
        return -1;
    }
    while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL) {
        n++;
        if (validity(x) == 0)
            usable++;
        if (first == NULL)
            first = x;
        else
            X509_free(x);
    }
    BIO_free(b);
    ERR_clear_error();
    int rc = 0;
    if (n == 0) {
        snprintf(why, why_len, "the CA file %s holds no certificate in PEM "
                 "form (a \"-----BEGIN CERTIFICATE-----\" block): give the "
                 "certificate of the CA that signed the broker's, as PEM "
                 "(a DER file converts with openssl x509 -inform der -in "
                 "FILE -out ca.crt)", file);
        rc = -1;
    } else if (usable == 0) {
        char name[256], when[64];
        int v = validity(first);
        subject_of(first, name, sizeof name);
        date_of(v < 0 ? X509_get0_notBefore(first)
                      : X509_get0_notAfter(first), when, sizeof when);
        snprintf(why, why_len, "the CA certificate %s in the CA file %s %s "
                 "%s%s", name, file, v < 0 ? "is not valid before"
                                           : "expired on", when,
                 v < 0 ? ": check this machine's clock, or give the CA "
                         "certificate in force now"
                       : ": no certificate it signed can be verified; give "
                         "the CA's renewed certificate");
        rc = -1;
    }
    X509_free(first);
    return rc;
}

static int check_client(const char *cert_file, const char *key_file,
                        char *why, size_t why_len)
{
    const char *kf = key_file ? key_file : cert_file;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    int rc = -1;
    BIO *b = BIO_new_file(cert_file, "r");
    if (b != NULL)
        x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (x == NULL) {
        snprintf(why, why_len, "the client certificate %s holds no "
                 "certificate in PEM form (a \"-----BEGIN "
                 "CERTIFICATE-----\" block)", cert_file);
        goto exit;
    }
    int v = validity(x);
    if (v != 0) {
        char when[64];
        date_of(v < 0 ? X509_get0_notBefore(x) : X509_get0_notAfter(x),
                when, sizeof when);
        snprintf(why, why_len, "the client certificate %s %s %s: %s",
                 cert_file, v < 0 ? "is not valid before" : "expired on",
                 when, v < 0 ? "check this machine's clock, or have it "
                               "issued again"
                             : "have it renewed by the CA");
        goto exit;
    }
    b = BIO_new_file(kf, "r");
    if (b != NULL)
        k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (k == NULL) {
        unsigned long e = ERR_peek_last_error();
        int encrypted = ERR_GET_REASON(e) == PEM_R_BAD_PASSWORD_READ ||
                        ERR_GET_REASON(e) == PEM_R_PROBLEMS_GETTING_PASSWORD;
        if (encrypted)
            snprintf(why, why_len, "the client key %s is encrypted, and "
                     "nothing can ask for its passphrase: give it "
                     "unencrypted (openssl pkey -in KEY -out PLAIN), "
                     "readable by this user only", kf);
        else
            snprintf(why, why_len, "the %s %s holds no private key in PEM "
                     "form (a \"-----BEGIN ... PRIVATE KEY-----\" block)%s",
                     key_file ? "client key" : "client certificate", kf,
                     key_file ? "" : ": give the key file too");
        goto exit;
    }
    if (X509_check_private_key(x, k) != 1) {
        snprintf(why, why_len, "the client key %s does not belong to the "
                 "client certificate %s: give the key the certificate was "
                 "made for (openssl x509 -noout -pubkey -in CERT and "
                 "openssl pkey -pubout -in KEY print the same key)", kf,
                 cert_file);
        goto exit;
    }
    rc = 0;
exit:
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    return rc;
}

int tls__check_files(const char *ca_file, const char *cert_file,
                     const char *key_file, char *why, size_t why_len)
{
    if (ca_file && check_ca(ca_file, why, why_len) != 0)
        return -1;
    if (cert_file && check_client(cert_file, key_file, why, why_len) != 0)
        return -1;
    return 0;
}

/* ---- after a failed handshake ------------------------------------------- */

/* host and port of "ssl://host:port" (or mqtts://, [v6]:port); 0 when
 * the URL is of another shape. */
static int split_url(const char *url, char *host, size_t host_len,
                     char *port, size_t port_len)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return 0;
    p += 3;
    const char *end;
    size_t hl;
    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL || end[1] != ':')
            return 0;
        hl = (size_t)(end - p - 1);
        p++;
        end++;
    } else {
        end = strrchr(p, ':');
        if (end == NULL)
            return 0;
        hl = (size_t)(end - p);
    }
    if (hl == 0 || hl >= host_len || strlen(end + 1) >= port_len ||
        strchr(end + 1, '/') != NULL)
        return 0;
    memcpy(host, p, hl);
    host[hl] = '\0';
    snprintf(port, port_len, "%s", end + 1);
    return 1;
}

/* A TCP connection within PROBE_SECONDS, or -1. */
static int dial(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = PROBE_SECONDS};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

int tls__explain_verify_failure(const char *url, const char *ca_file,
                                char *why, size_t why_len)
{
    char host[256], port[16];
    int found = 0, fd = -1;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    X509 *peer = NULL;
    if (!split_url(url, host, sizeof host, port, sizeof port))
        return 0;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        goto exit;
    if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
                : SSL_CTX_set_default_verify_paths(ctx) != 1)
        goto exit;
    /* Let the handshake go on whatever the verdict: it is read after. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if ((fd = dial(host, port)) < 0 || (ssl = SSL_new(ctx)) == NULL ||
        SSL_set_fd(ssl, fd) != 1)
        goto exit;
    SSL_set_tlsext_host_name(ssl, host);
    SSL_connect(ssl); /* may fail later for want of a client certificate */
    peer = SSL_get_peer_certificate(ssl);
    long v = SSL_get_verify_result(ssl);
    if (peer == NULL ||
        (v != X509_V_ERR_CERT_HAS_EXPIRED && v != X509_V_ERR_CERT_NOT_YET_VALID))
        goto exit;
    /* Which one: the broker's own, or one of its chain. */
    int leaf = validity(peer) != 0;
    char when[64], name[256];
    subject_of(peer, name, sizeof name);
    date_of(v == X509_V_ERR_CERT_HAS_EXPIRED ? X509_get0_notAfter(peer)
                                             : X509_get0_notBefore(peer),
            when, sizeof when);
    if (!leaf)
        snprintf(why, why_len, "a CA certificate of the broker's chain %s "
                 "(%s); the broker's certificate %s is in force, but cannot "
                 "be verified while the CA's is not: renew the CA "
                 "certificate, in the CA file and on the broker",
                 v == X509_V_ERR_CERT_HAS_EXPIRED ? "has expired"
                                                   : "is not valid yet",
                 X509_verify_cert_error_string(v), name);
    else if (v == X509_V_ERR_CERT_HAS_EXPIRED)
        snprintf(why, why_len, "the broker's certificate %s expired on %s: "
                 "the broker needs a renewed certificate (the CA file is "
                 "not at fault)", name, when);
    else
        snprintf(why, why_len, "the broker's certificate %s is not valid "
                 "before %s: check the clocks of this machine and of the "
                 "broker, or have the certificate issued again (the CA "
                 "file is not at fault)", name, when);
    found = 1;
exit:
    X509_free(peer);
    if (ssl != NULL)
        SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return found;
}
