/*
 * config.h — the daemon's configuration: who it is, where the broker and
 * its libraries are, its limits, and what this deployment allows.  Read
 * from a JSON file (every member optional) and overridden by flags.
 */
#ifndef TWIN_CONFIG_H
#define TWIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "paths.h"

typedef struct twin_limits {
    size_t max_runs;          /* runs at once */
    size_t request_bytes;     /* largest request accepted */
    double run_seconds;       /* wall-clock limit of one run */
    size_t max_instances;     /* per scenario */
    size_t max_connections;
    double max_rows;          /* rows one run may produce */
    double function_samples;  /* values a run's functions may hold */
    size_t batch_rows;        /* rows per result message */
    double batch_delay;       /* s a row may wait for its batch */
    size_t buffer_bytes;      /* outgoing messages held for the broker */
    size_t remembered;        /* request ids remembered for retries */
    size_t remembered_bytes;  /* and the bytes of their answers */
    size_t replays;           /* replays in progress at once */
    size_t queued_requests;   /* inbound messages waiting at most; past it
                               * the broker holds them (back-pressure) */
    double cpu_seconds;       /* RLIMIT_CPU of a run's process, 0: none */
    size_t memory_bytes;      /* RLIMIT_AS of a run's process, 0: none */
    size_t spool_bytes;       /* on-disk spool; a run that would not fit
                               * in it is refused */
    double retention;         /* s a run's results stay for replay */
    double call_seconds;      /* wall-clock limit of one function call */
    size_t max_calls;         /* plugin calls at once; more: busy */
    size_t event_bytes;       /* a run's share of the spool for events */
} twin_limits;

/* Connection security (TLS to the broker, credentials). */
typedef struct twin_security {
    char *ca_file;            /* verify the broker against this CA */
    char *cert_file;          /* client certificate (PEM), optional */
    char *key_file;           /* its key (PEM) */
    char *username;
    char *password_file;      /* first line is the password; or the
                               * environment's TWIN_MQTT_PASSWORD */
} twin_security;

typedef struct twin_allow {
    unsigned requests;        /* bit per request type (request.h) */
    int realtime;             /* paced runs */
    char **models;            /* NULL: every model; else names (may be "*") */
    size_t n_models;
    char **overrides;         /* NULL: any library instance parameter may
                               * be overridden; else "model.param",
                               * "model.*" or "*" */
    size_t n_overrides;
    char **signals;           /* MQTT topic filters a run's plant signals
                               * may be bound under; NULL: none */
    size_t n_signals;
} twin_allow;

typedef struct twin_config {
    char *id;                 /* controller id */
    char *broker;             /* tcp://host:port */
    char *prefix;             /* topic prefix */
    char *group;              /* pool group */
    twin_paths paths;         /* model, function, instance and scenario
                               * directories */
    char *spool_dir;          /* NULL: <state dir>/twinctl/<id>/spool */
    char *python_venv;        /* "python": {"venv": DIR}: the virtual
                               * environment of Python models (NULL: the
                               * system's python3, docs/python.md) */
    int rt_fifo;              /* "realtime": {"fifo": P}: paced runs at
                               * SCHED_FIFO priority P (0: not) */
    int rt_mlock;             /* ... {"mlock": true}: their memory locked */
    twin_limits limits;
    twin_allow allow;
    twin_security security;
    int quiet;
    char **owned;             /* strings the config owns */
    size_t n_owned, cap_owned;
} twin_config;

/* Defaults: id = hostname, $TWIN_BROKER or tcp://127.0.0.1:1883, prefix
 * and group "twin",
 * 2 runs at once, 1 MiB requests, 1 h per run, 500 rows or 20 ms per
 * result message, 256 MiB held for the broker, every request type that
 * this version implements, real time allowed, every model. */
void config__defaults(twin_config *c);

/* Read a JSON config file over the defaults.  Every problem goes to errs
 * (path "<file>#<pointer>").  Returns 0 when there was none. */
int config__load(twin_config *c, const char *file, twin_errors *errs);

/* Keep a string for the config's lifetime; returns it (NULL on OOM). */
char *config__keep(twin_config *c, char *s);

int config__model_allowed(const twin_config *c, const char *model);

/* May a request override parameter param of a library instance of model? */
int config__override_allowed(const twin_config *c, const char *model,
                             const char *param);

/* The MQTT v5 Maximum Packet Size announced at CONNECT: twice
 * limits.request_bytes plus 64 KiB (0: none, for a limit of 1 GiB or
 * more), so that requests far over the limit never reach this process
 * and those just over it are still answered too_large. */
uint32_t config__max_packet(const twin_config *c);

void config__free(twin_config *c);

#endif
