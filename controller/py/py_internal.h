/*
 * py_internal.h — what py_model.c (the declaration as a descriptor, plain
 * C) shares with py_embed.c and py_run.c (the interpreter and the calls),
 * or with py_none.c in a build without Python.
 */
#ifndef TWIN_PY_INTERNAL_H
#define TWIN_PY_INTERNAL_H

#include <jansson.h>

#include "py_model.h"

struct pymodel {
    twin_model_descriptor model;  /* the descriptor the host sees */
    char *path;                   /* the *.py file */
    char *json;                   /* the file's declaration, as declared */
    json_t *root;                 /* ... parsed: owns every string */
    json_t *decl;                 /* this model's class in it */
    size_t index;                 /* ... the index-th */
    twin_variable *vars;
    size_t n_params;              /* how many of vars are parameters */
    twin_dependency *deps;        /* ABI 1.2 structure, NULL: dense */
    void *cls;                    /* the class (PyObject *), bound at the
                                   * first create in the running process */
    char bind_error[1024];        /* why binding failed, once */
    int bound;                    /* 1 bound, -1 failed */
};

/* The descriptor's functions (py_run.c, or py_none.c's refusals). */
twin_status pyrun__create(const twin_host *host, const double *params,
                          twin_instance **out);
void pyrun__destroy(twin_instance *inst);
twin_status pyrun__init(twin_instance *inst, double t, double *x,
                        const double *u);
twin_status pyrun__derivatives(twin_instance *inst, double t, const double *x,
                               const double *u, double *dx);
twin_status pyrun__outputs(twin_instance *inst, double t, const double *x,
                           const double *u, double *y);
twin_status pyrun__event_indicators(twin_instance *inst, double t,
                                    const double *x, const double *u,
                                    double *g);
twin_status pyrun__event(twin_instance *inst, double t, double *x,
                         const double *u, const int *crossed);
twin_status pyrun__tick(twin_instance *inst, double t, double dt, double *x,
                        const double *u, double *y);
twin_status pyrun__next_event_time(twin_instance *inst, double t,
                                   double *t_next);

/* py_embed.c: start the interpreter once in this process (the `twin`
 * module registered, TWIN_PYTHON_VENV's site-packages on sys.path);
 * 0, or -1 with why. */
int pyembed__start(char *why, size_t why_len);

/* py_embed.c: import path (once per process) and find its model
 * classes; *cls gets a new reference to the index-th (may be NULL when
 * only the JSON is wanted; NULL when there is none) and the return value
 * the file's declaration as JSON (malloc'd), or NULL with why. */
char *pyembed__import(const char *path, size_t index, void **cls,
                      char *why, size_t why_len);

/* py_embed.c: the exception being raised as one sentence (its type,
 * message and the last lines of its traceback), cleared; 1 when it was a
 * twin.Discard (why then holds its message). */
int pyembed__exception(char *why, size_t why_len);

/* py_embed.c: drop a reference the interpreter holds (NULL: nothing). */
void pyembed__drop(void *obj);

/* py_embed.c: write out what models printed (sys.stdout, sys.stderr). */
void pyembed__flush(void);

/* py_array.c: twin.Array, the window on a host array a method gets.
 * pyarray__ready adds the type to the twin module (0, or -1 raised).
 * pyarray__open points reuse (a window pyarray__close let go of; NULL:
 * a new one) at n doubles at p; NULL with an exception raised.
 * pyarray__close closes it after the call: 1 when only the caller holds
 * it and it can be opened again, 0 when the caller must drop it (a model
 * kept it: closed, it raises when read; or a buffer on it lives). */
int pyarray__ready(void *module);
void *pyarray__open(void *reuse, double *p, size_t n, int writable);
int pyarray__close(void *array);

/* py_embed.c: the instance whose method runs, for twin.log and
 * twin.request_end (NULL between calls). */
void pyembed__set_host(const twin_host *host);

#endif
