/*
 * py_run.c — a Python model's descriptor functions: each calls the
 * class's method of the same name (docs/python.md) with the host's own
 * arrays as twin.Array windows (py_array.c: no copy; x, dx, y, g
 * writable where the C function may write them, the others read-only),
 * each instance's windows pointed at each call's arrays and closed after
 * it, so that a window a model keeps raises instead of reading freed
 * memory.  A twin.Discard raised is
 * TWIN_DISCARD (the solver retries with a smaller step); any other
 * exception is TWIN_ERROR, logged at ERROR with the model, the method
 * and the traceback's last lines, which the run's failure carries.
 *
 * The class is imported at the first create in this process (the run's),
 * and its declaration must be the one the descriptor was made from.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_internal.h"

enum { M_INIT, M_DERIVATIVES, M_OUTPUTS, M_INDICATORS, M_EVENT, M_TICK,
       M_NEXT_EVENT, M_COUNT };
static const char *const method_names[M_COUNT] = {
    "init", "derivatives", "outputs", "event_indicators", "event", "tick",
    "next_event_time",
};

enum { N_WINDOWS = 3 };      /* arrays a method gets, at most */

struct twin_instance {
    pymodel *pm;
    const twin_host *host;
    PyObject *obj;
    PyObject *method[M_COUNT];  /* bound methods, NULL where absent */
    PyObject *win[N_WINDOWS];   /* twin.Array windows, kept for reuse */
    size_t nx, nu, ny;          /* states, inputs, outputs */
};

static size_t live;             /* instances not yet destroyed */

static void logf_(const twin_host *host, twin_log_level level,
                  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(const twin_host *host, twin_log_level level,
                  const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    twin_log(host, level, msg);
}

/* Import the class in this process, once per model. */
static int bind(pymodel *pm)
{
    if (pm->bound == 0) {
        void *cls = NULL;
        char *json = pyembed__import(pm->path, pm->index, &cls,
                                     pm->bind_error, sizeof pm->bind_error);
        if (json != NULL && (strcmp(json, pm->json) != 0 || cls == NULL)) {
            snprintf(pm->bind_error, sizeof pm->bind_error,
                     "Python model %s changed since the model library "
                     "loaded it (its declaration differs); reload the "
                     "library (twinctl serve: SIGHUP) and start the run "
                     "again", pm->path);
            pyembed__drop(cls);
            cls = NULL;
        }
        free(json);
        pm->cls = cls;
        pm->bound = cls != NULL ? 1 : -1;
    }
    return pm->bound == 1 ? 0 : -1;
}

/* An exception into the status it means, logged. */
static twin_status raised(twin_instance *in, int m)
{
    char why[1024];
    if (pyembed__exception(why, sizeof why)) {
        logf_(in->host, TWIN_LOG_DEBUG, "%s.%s: twin.Discard: %s",
              json_string_value(json_object_get(in->pm->decl, "class")),
              method_names[m], why);
        return TWIN_DISCARD;
    }
    logf_(in->host, TWIN_LOG_ERROR, "Python exception in %s.%s (%s): %s",
          json_string_value(json_object_get(in->pm->decl, "class")),
          method_names[m], in->pm->path, why);
    return TWIN_ERROR;
}

/* The window slot i of the instance pointed at n doubles at p (a new
 * one where the last was let go of); NULL with an exception raised. */
static PyObject *open_(twin_instance *in, size_t i, const double *p,
                      size_t n, int writable)
{
    in->win[i] = pyarray__open(in->win[i], (double *)p, n, writable);
    return in->win[i];
}

/* ... closed after the call; dropped where it cannot be opened again. */
static void close_(twin_instance *in, size_t i)
{
    if (in->win[i] != NULL && !pyarray__close(in->win[i]))
        Py_CLEAR(in->win[i]);
}

/* t as a float: the one made last when t is the same (every instance
 * of a right-hand side evaluation is called at one t). */
static PyObject *time_(double t)
{
    static PyObject *last;
    static double last_t;
    if (last == NULL || memcmp(&t, &last_t, sizeof t) != 0) {
        PyObject *f = PyFloat_FromDouble(t);
        if (f == NULL)
            return NULL;
        Py_XSETREF(last, f);
        last_t = t;
    }
    return Py_NewRef(last);
}

/* Call method m with first (and extra when not NULL), then arrays[i] as
 * windows of n[i] doubles (writable where w[i]), then last when not
 * NULL; *result gets the return value when asked for. */
static twin_status call(twin_instance *in, int m, PyObject *first,
                        PyObject *extra, const double *const *arrays,
                        const size_t *n, const int *w, size_t k,
                        PyObject *last, PyObject **result)
{
    /* args[0] free for the bound method's self (no copy of the args) */
    PyObject *args[1 + 2 + N_WINDOWS + 1] = {NULL};
    size_t nargs = 1;
    twin_status st = TWIN_OK;
    args[nargs++] = first;
    if (extra != NULL)
        args[nargs++] = extra;
    for (size_t i = 0; i < k; i++) {
        if ((args[nargs++] = open_(in, i, arrays[i], n[i], w[i])) == NULL) {
            st = raised(in, m);
            k = i;
            goto exit;
        }
    }
    if (last != NULL)
        args[nargs++] = last;
    pyembed__set_host(in->host);
    PyObject *r = PyObject_Vectorcall(in->method[m], args + 1,
                                      (nargs - 1) |
                                          PY_VECTORCALL_ARGUMENTS_OFFSET,
                                      NULL);
    pyembed__set_host(NULL);
    if (r == NULL)
        st = raised(in, m);
    else if (result != NULL)
        *result = r;
    else
        Py_DECREF(r);
exit:
    for (size_t i = 0; i < k; i++)
        close_(in, i);
    return st;
}

static twin_status call_t(twin_instance *in, int m, double t,
                          const double *const *arrays, const size_t *n,
                          const int *w, size_t k, PyObject *last)
{
    PyObject *pt = time_(t);
    if (pt == NULL)
        return raised(in, m);
    twin_status st = call(in, m, pt, NULL, arrays, n, w, k, last, NULL);
    Py_DECREF(pt);
    return st;
}

twin_status pyrun__create(const twin_host *host, const double *params,
                          twin_instance **out)
{
    pymodel *pm = pymodel__of(host->model);
    if (pm == NULL)
        return TWIN_ERROR;
    if (bind(pm) != 0) {
        twin_log(host, TWIN_LOG_ERROR, pm->bind_error);
        return TWIN_ERROR;
    }
    twin_instance *in = calloc(1, sizeof *in);
    if (in == NULL)
        return TWIN_ERROR;
    in->pm = pm;
    in->host = host;
    for (size_t i = 0; i < pm->model.n_variables; i++) {
        in->nx += pm->vars[i].kind == TWIN_VAR_STATE;
        in->nu += pm->vars[i].kind == TWIN_VAR_INPUT;
        in->ny += pm->vars[i].kind == TWIN_VAR_OUTPUT;
    }
    /* The parameters as a dict by name, made once for the instance. */
    PyObject *p = PyDict_New();
    for (size_t i = 0, k = 0; p != NULL && i < pm->model.n_variables; i++) {
        if (pm->vars[i].kind != TWIN_VAR_PARAMETER)
            continue;
        PyObject *v = PyFloat_FromDouble(params[k++]);
        if (v == NULL || PyDict_SetItemString(p, pm->vars[i].name, v) != 0)
            Py_CLEAR(p);
        Py_XDECREF(v);
    }
    pyembed__set_host(host);
    in->obj = p ? PyObject_CallOneArg((PyObject *)pm->cls, p) : NULL;
    pyembed__set_host(NULL);
    Py_XDECREF(p);
    if (in->obj == NULL) {
        char why[1024];
        pyembed__exception(why, sizeof why);
        logf_(host, TWIN_LOG_ERROR, "Python exception in %s.__init__ (%s): "
              "%s", json_string_value(json_object_get(pm->decl, "class")),
              pm->path, why);
        free(in);
        return TWIN_ERROR;
    }
    for (int m = 0; m < M_COUNT; m++) {
        in->method[m] = PyObject_GetAttrString(in->obj, method_names[m]);
        if (in->method[m] == NULL)
            PyErr_Clear();
    }
    live++;
    *out = in;
    return TWIN_OK;
}

void pyrun__destroy(twin_instance *in)
{
    if (in == NULL)
        return;
    for (int m = 0; m < M_COUNT; m++)
        Py_XDECREF(in->method[m]);
    for (size_t i = 0; i < N_WINDOWS; i++)
        Py_XDECREF(in->win[i]);
    Py_XDECREF(in->obj);
    free(in);
    /* The run's process ends without finalizing the interpreter: what a
     * model printed is written out when its last instance goes. */
    if (--live == 0)
        pyembed__flush();
}

twin_status pyrun__init(twin_instance *in, double t, double *x,
                        const double *u)
{
    const double *a[] = {x, u};
    return call_t(in, M_INIT, t, a, (size_t[]){in->nx, in->nu},
                  (int[]){1, 0}, 2, NULL);
}

twin_status pyrun__derivatives(twin_instance *in, double t, const double *x,
                               const double *u, double *dx)
{
    const double *a[] = {x, u, dx};
    return call_t(in, M_DERIVATIVES, t, a,
                  (size_t[]){in->nx, in->nu, in->nx}, (int[]){0, 0, 1}, 3, NULL);
}

twin_status pyrun__outputs(twin_instance *in, double t, const double *x,
                           const double *u, double *y)
{
    const double *a[] = {x, u, y};
    return call_t(in, M_OUTPUTS, t, a, (size_t[]){in->nx, in->nu, in->ny},
                  (int[]){0, 0, 1}, 3, NULL);
}

twin_status pyrun__event_indicators(twin_instance *in, double t,
                                    const double *x, const double *u,
                                    double *g)
{
    const double *a[] = {x, u, g};
    return call_t(in, M_INDICATORS, t, a,
                  (size_t[]){in->nx, in->nu,
                             in->pm->model.n_event_indicators},
                  (int[]){0, 0, 1}, 3, NULL);
}

twin_status pyrun__tick(twin_instance *in, double t, double dt, double *x,
                        const double *u, double *y)
{
    const double *a[] = {x, u, y};
    PyObject *pt = time_(t), *pdt = PyFloat_FromDouble(dt);
    twin_status st = pt && pdt
        ? call(in, M_TICK, pt, pdt, a, (size_t[]){in->nx, in->nu, in->ny},
               (int[]){1, 0, 1}, 3, NULL, NULL)
        : raised(in, M_TICK);
    Py_XDECREF(pt);
    Py_XDECREF(pdt);
    return st;
}

twin_status pyrun__event(twin_instance *in, double t, double *x,
                         const double *u, const int *crossed)
{
    /* The arrays after t, then crossed: a tuple of +1/-1/0, or None for
     * a time event. */
    size_t ng = in->pm->model.n_event_indicators;
    PyObject *c = crossed ? PyTuple_New((Py_ssize_t)ng) : Py_NewRef(Py_None);
    for (size_t i = 0; crossed && c && i < ng; i++)
        PyTuple_SET_ITEM(c, (Py_ssize_t)i, PyLong_FromLong(crossed[i]));
    twin_status st = c == NULL
        ? raised(in, M_EVENT)
        : call_t(in, M_EVENT, t, (const double *const[]){x, u},
                 (size_t[]){in->nx, in->nu}, (int[]){1, 0}, 2, c);
    Py_XDECREF(c);
    return st;
}

twin_status pyrun__next_event_time(twin_instance *in, double t,
                                   double *t_next)
{
    PyObject *pt = time_(t), *r = NULL;
    twin_status st = pt ? call(in, M_NEXT_EVENT, pt, NULL, NULL, NULL, NULL,
                               0, NULL, &r)
                        : raised(in, M_NEXT_EVENT);
    Py_XDECREF(pt);
    if (st != TWIN_OK)
        return st;
    if (r == Py_None) {
        *t_next = INFINITY;
    } else {
        *t_next = PyFloat_AsDouble(r);
        if (*t_next == -1.0 && PyErr_Occurred())
            st = raised(in, M_NEXT_EVENT);
    }
    Py_DECREF(r);
    return st;
}
