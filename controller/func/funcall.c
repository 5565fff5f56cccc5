/*
 * funcall.c — checking a call's arguments against a plugin function's
 * signature, calling it through libffi, and doing that in a child
 * process under limits.
 *
 * The parent prepares everything before fork: the argument values, the
 * input arrays, and one result buffer holding the return value followed
 * by the output arrays (which the function writes in place).  The child
 * only calls ffi_call and writes that buffer to the pipe, so a function
 * that corrupts memory, crashes, calls exit() or loops harms nothing but
 * the child.  The parent reads the buffer back into its own copy, which
 * has the same layout.  The process is child.h's: its own process group
 * (what a function forks ends with its call), its limits and deadline.
 */
#include "funcall.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "pyfunc.h"
#include "util.h"
/* The return value's place at the start of the result buffer: room for
 * ffi_arg (integers come back widened to it) and double, 8-aligned. */
#define RET_SLOT 16
#define CHILD_LIMITS_FAILED 71
/* The most a Python function's answer (JSON) may take. */
#define PYTHON_MAX_ANSWER ((size_t)256 << 20)

typedef union fl_slot {
    double d;
    int i;
    long l;
    size_t z;
    void *p;
} fl_slot;

struct fl_call {
    const fl_function *f;
    fl_slot slots[FUNCLIB_MAX_ARGS];
    void *avalues[FUNCLIB_MAX_ARGS];
    void *inputs[FUNCLIB_MAX_ARGS];   /* input arrays (owned) */
    size_t lengths[FUNCLIB_MAX_ARGS]; /* elements of each array */
    size_t offsets[FUNCLIB_MAX_ARGS]; /* output arrays in result */
    unsigned char *result;
    size_t result_len, got;
    child proc;            /* its process, once started */
    int fd;
    json_t *pyargs;        /* Python: the checked arguments */
    int argfd;             /* Python: a memfd holding them, for stdin */
    json_t *pyanswer;      /* Python: the answer, once finished */
};

const fl_function *funcall__function(const fl_call *c)
{
    return c->f;
}

/* ---- checking the arguments --------------------------------------------- */

typedef struct argcheck {
    const fl_function *f;
    const json_t *args;
    twin_errors *errs;
    fl_call *c;
} argcheck;

static void problem(argcheck *a, twin_err_code code, const char *name,
                    long index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A problem at /args/<name> (or /args/<name>/<index>). */
static void problem(argcheck *a, twin_err_code code, const char *name,
                    long index, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *p = errors__path("/args", name);
    char *pi = p && index >= 0 ? errors__pathi(p, (size_t)index) : NULL;
    errors__add(a->errs, code, pi ? pi : p ? p : "/args", "%s", msg);
    free(pi);
    free(p);
}

/* A type as the function's language names it. */
static const char *type_of(const fl_function *f, fl_type t)
{
    return f->plugin->python ? pyfunc__type_name(t) : funclib__type_name(t);
}

static const char *unit_of(const fl_arg *x)
{
    return x->unit[0] ? x->unit : "no unit";
}

static int integer_in_c_range(fl_type t, json_int_t v)
{
    switch (t) {
    case FL_INT: return v >= INT_MIN && v <= INT_MAX;
    case FL_LONG: return v >= LONG_MIN && v <= LONG_MAX;
    case FL_SIZE: return v >= 0 && (uintmax_t)v <= SIZE_MAX;
    default: return 0;
    }
}

/* One number (a scalar argument, or element `index` of an array) against
 * its C type t (the element type for arrays) and range.  Returns 0 and
 * *out when it is fine. */
static int number(argcheck *a, const fl_arg *x, fl_type t, const json_t *v,
                  long index, double *out)
{
    char who[200];
    if (index >= 0)
        snprintf(who, sizeof who, "element %ld of '%s'", index, x->name);
    else
        snprintf(who, sizeof who, "'%s'", x->name);
    if (t == FL_DOUBLE) {
        if (!json_is_number(v)) {
            problem(a, TWIN_E_WRONG_TYPE, x->name, index, "%s must be a "
                    "number (%s)", who, unit_of(x));
            return -1;
        }
        *out = json_number_value(v);
    } else {
        if (!json_is_integer(v)) {
            problem(a, TWIN_E_WRONG_TYPE, x->name, index, "%s must be a "
                    "whole number (%s %s), written without a fraction",
                    who, a->f->plugin->python ? "a Python" : "a C",
                    type_of(a->f, t));
            return -1;
        }
        json_int_t iv = json_integer_value(v);
        if (!integer_in_c_range(t, iv)) {
            problem(a, TWIN_E_OUT_OF_RANGE, x->name, index, "%s = %lld "
                    "does not fit in a C %s", who, (long long)iv,
                    funclib__type_name(t));
            return -1;
        }
        *out = (double)iv;
    }
    if (*out < x->min || *out > x->max) {
        problem(a, TWIN_E_OUT_OF_RANGE, x->name, index, "%s = %g is outside "
                "its range [%g, %g] (%s)", who, *out, x->min, x->max,
                unit_of(x));
        return -1;
    }
    return 0;
}

/* Arguments the function does not have, and outputs given as inputs. */
static void check_names(argcheck *a)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)a->args, key, v) {
        const fl_arg *x = NULL;
        for (size_t j = 0; j < a->f->n_args && x == NULL; j++)
            if (strcmp(a->f->args[j].name, key) == 0)
                x = &a->f->args[j];
        if (x == NULL) {
            char names[512] = "";
            size_t used = 0;
            for (size_t j = 0; j < a->f->n_args && used < sizeof names; j++)
                if (!a->f->args[j].out)
                    used += (size_t)snprintf(names + used,
                                             sizeof names - used, "%s%s",
                                             used ? ", " : "",
                                             a->f->args[j].name);
            problem(a, TWIN_E_OUT_OF_RANGE, key, -1, "'%s' has no "
                    "argument '%s'; %s%s", a->f->name, key,
                    used ? "its arguments are " : "it takes no arguments",
                    names);
        } else if (x->out) {
            problem(a, TWIN_E_OUT_OF_RANGE, key, -1, "'%s' is an output of "
                    "'%s' (it comes back in the answer's \"outputs\"); leave "
                    "it out", key, a->f->name);
        }
    }
}

/* An input array: its elements into a C array of its own. */
static void input_array(argcheck *a, size_t j)
{
    const fl_arg *x = &a->f->args[j];
    const json_t *v = json_object_get(a->args, x->name);
    if (v == NULL && x->filled)
        return; /* a Python parameter with a default */
    if (v == NULL) {
        problem(a, TWIN_E_MISSING_FIELD, x->name, -1, "'%s' needs '%s': an "
                "array of %s (%s): %s", a->f->name, x->name,
                x->type == FL_DOUBLE_ARRAY ? "numbers" : "whole numbers",
                unit_of(x), x->doc);
        return;
    }
    if (!json_is_array(v)) {
        problem(a, TWIN_E_WRONG_TYPE, x->name, -1, "'%s' must be an array "
                "of %s", x->name,
                x->type == FL_DOUBLE_ARRAY ? "numbers" : "whole numbers");
        return;
    }
    size_t n = json_array_size(v);
    a->c->lengths[j] = n;
    if (n < x->min_length || n > x->max_length) {
        if (x->max_length == SIZE_MAX)
            problem(a, TWIN_E_OUT_OF_RANGE, x->name, -1, "'%s' has %zu "
                    "element%s; '%s' needs at least %zu", x->name, n,
                    n == 1 ? "" : "s", a->f->name, x->min_length);
        else
            problem(a, TWIN_E_OUT_OF_RANGE, x->name, -1, "'%s' has %zu "
                    "element%s; '%s' takes %zu to %zu", x->name, n,
                    n == 1 ? "" : "s", a->f->name, x->min_length,
                    x->max_length);
    }
    size_t size = x->type == FL_DOUBLE_ARRAY ? sizeof(double) : sizeof(int);
    void *mem = calloc(n ? n : 1, size);
    if (mem == NULL) {
        problem(a, TWIN_E_TOO_LARGE, x->name, -1, "no memory for the %zu "
                "elements of '%s'", n, x->name);
        return;
    }
    a->c->inputs[j] = mem;
    a->c->slots[j].p = mem;
    fl_type element = x->type == FL_DOUBLE_ARRAY ? FL_DOUBLE : FL_INT;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d;
        if (bad >= 10) /* enough to see the pattern */
            break;
        if (number(a, x, element, json_array_get(v, i), (long)i, &d) != 0) {
            bad++;
            continue;
        }
        if (x->type == FL_DOUBLE_ARRAY)
            ((double *)mem)[i] = d;
        else
            ((int *)mem)[i] = (int)d;
    }
}

static void set_integer(fl_slot *s, fl_type t, double v)
{
    switch (t) {
    case FL_INT: s->i = (int)v; break;
    case FL_LONG: s->l = (long)v; break;
    default: s->z = (size_t)v; break;
    }
}

/* A length argument: from its input arrays (which must agree), or given
 * for outputs alone. */
static void length_arg(argcheck *a, size_t j)
{
    const fl_arg *n = &a->f->args[j];
    const json_t *v = json_object_get(a->args, n->name);
    int have = -1; /* the first input array with this length */
    for (size_t m = 0; m < a->f->n_args; m++) {
        const fl_arg *x = &a->f->args[m];
        if (x->length != (int)j || x->out || a->c->inputs[m] == NULL)
            continue;
        if (have < 0)
            have = (int)m;
        else if (a->c->lengths[m] != a->c->lengths[have])
            problem(a, TWIN_E_OUT_OF_RANGE, x->name, -1, "'%s' has %zu "
                    "elements but '%s' has %zu: both have the length '%s', "
                    "so they must be as long", x->name, a->c->lengths[m],
                    a->f->args[have].name, a->c->lengths[have], n->name);
    }
    double len = 0;
    if (n->filled && have < 0)
        return; /* its array was refused; said there */
    if (n->filled) {
        len = (double)a->c->lengths[have];
        if (v != NULL) {
            double given;
            if (number(a, n, n->type, v, -1, &given) == 0 && given != len)
                problem(a, TWIN_E_OUT_OF_RANGE, n->name, -1, "'%s' is the "
                        "number of elements of '%s', which has %zu; leave "
                        "'%s' out or give %zu", n->name,
                        a->f->args[have].name, a->c->lengths[have],
                        n->name, a->c->lengths[have]);
        } else if (len < n->min || len > n->max) {
            problem(a, TWIN_E_OUT_OF_RANGE, a->f->args[have].name, -1,
                    "'%s' has %g elements; '%s' takes from %g to %g",
                    a->f->args[have].name, len, a->f->name, n->min, n->max);
        }
        if (!integer_in_c_range(n->type, (json_int_t)len))
            problem(a, TWIN_E_OUT_OF_RANGE, a->f->args[have].name, -1,
                    "'%s' has more elements than a C %s can count",
                    a->f->args[have].name, funclib__type_name(n->type));
    } else {
        if (v == NULL) {
            problem(a, TWIN_E_MISSING_FIELD, n->name, -1, "'%s' needs '%s', "
                    "the number of elements of its output '%s': %s",
                    a->f->name, n->name, a->f->args[n->length_of].name,
                    n->doc);
            return;
        }
        if (number(a, n, n->type, v, -1, &len) != 0)
            return;
        if (len < 0 || len > (double)FUNCALL_MAX_OUT) {
            problem(a, TWIN_E_OUT_OF_RANGE, n->name, -1, "'%s' = %g: an "
                    "output array has 0 to %zu elements", n->name, len,
                    FUNCALL_MAX_OUT);
            return;
        }
    }
    set_integer(&a->c->slots[j], n->type, len);
    for (size_t m = 0; m < a->f->n_args; m++) {
        const fl_arg *x = &a->f->args[m];
        if (x->length != (int)j || !x->out)
            continue;
        a->c->lengths[m] = (size_t)len;
        if ((size_t)len < x->min_length || (size_t)len > x->max_length)
            problem(a, TWIN_E_OUT_OF_RANGE, n->name, -1, "the output '%s' "
                    "would have %g elements; '%s' makes %zu to %zu", x->name,
                    len, a->f->name, x->min_length, x->max_length);
    }
}

static void scalar_arg(argcheck *a, size_t j)
{
    const fl_arg *x = &a->f->args[j];
    const json_t *v = json_object_get(a->args, x->name);
    double d;
    if (v == NULL && x->filled)
        return; /* a Python parameter with a default */
    if (v == NULL) {
        problem(a, TWIN_E_MISSING_FIELD, x->name, -1, "'%s' needs '%s': %s "
                "(%s, %s)", a->f->name, x->name, x->doc,
                type_of(a->f, x->type), unit_of(x));
        return;
    }
    if (x->type == FL_BOOL || x->type == FL_STRING) {
        if (x->type == FL_BOOL ? !json_is_boolean(v) : !json_is_string(v))
            problem(a, TWIN_E_WRONG_TYPE, x->name, -1, "'%s' must be %s",
                    x->name, x->type == FL_BOOL ? "true or false (a bool)"
                                                : "a string (a str)");
        return;
    }
    if (number(a, x, x->type, v, -1, &d) != 0)
        return;
    if (x->type == FL_DOUBLE)
        a->c->slots[j].d = d;
    else
        set_integer(&a->c->slots[j], x->type, d);
}

/* The result buffer: the return value, then each output array. */
static int layout(fl_call *c)
{
    size_t len = RET_SLOT;
    for (size_t j = 0; j < c->f->n_args; j++)
        if (c->f->args[j].out) {
            c->offsets[j] = len;
            len += c->lengths[j] * sizeof(double);
        }
    c->result = calloc(1, len);
    if (c->result == NULL)
        return -1;
    c->result_len = len;
    for (size_t j = 0; j < c->f->n_args; j++)
        if (c->f->args[j].out)
            c->slots[j].p = c->result + c->offsets[j];
    return 0;
}

fl_call *funcall__prepare(const fl_function *f, const json_t *args,
                          twin_errors *errs)
{
    size_t before = errs->count;
    fl_call *c = calloc(1, sizeof *c);
    if (c == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "", "out of memory");
        return NULL;
    }
    c->f = f;
    c->fd = -1;
    c->argfd = -1;
    json_t *none = NULL;
    if (args == NULL)
        args = none = json_object();
    if (!json_is_object(args)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "/args", "\"args\" is an object "
                    "of the arguments by name: {\"%s\": ...}",
                    f->n_args ? f->args[0].name : "name");
        goto fail;
    }
    argcheck a = {.f = f, .args = args, .errs = errs, .c = c};
    check_names(&a);
    for (size_t j = 0; j < f->n_args; j++)
        if (funclib__is_array(f->args[j].type) && !f->args[j].out)
            input_array(&a, j);
    for (size_t j = 0; j < f->n_args; j++) {
        if (f->args[j].length_of >= 0)
            length_arg(&a, j);
        else if (!funclib__is_array(f->args[j].type))
            scalar_arg(&a, j);
    }
    if (errs->count != before)
        goto fail;
    if (f->plugin->python) {
        /* Checked: the runner gets them as they came. */
        c->pyargs = json_incref((json_t *)args);
        json_decref(none);
        return c;
    }
    if (f->fn == NULL) {
        errors__add(errs, TWIN_E_INTERNAL, "/function", "'%s' was checked "
                    "without its library and cannot be called", f->name);
        goto fail;
    }
    if (layout(c) != 0) {
        errors__add(errs, TWIN_E_TOO_LARGE, "/args", "no memory for the "
                    "outputs of '%s'", f->name);
        goto fail;
    }
    for (size_t j = 0; j < f->n_args; j++)
        c->avalues[j] = &c->slots[j];
    json_decref(none);
    return c;
fail:
    json_decref(none);
    funcall__free(&c);
    return NULL;
}

/* ---- the call and its answer -------------------------------------------- */

void funcall__invoke(fl_call *c)
{
    ffi_call((ffi_cif *)&c->f->cif, c->f->fn, c->result, c->avalues);
}

static json_t *real_or_null(double v, json_t *nonfinite, const char *name)
{
    if (isfinite(v))
        return json_real(v);
    if (json_array_size(nonfinite) == 0 ||
        strcmp(json_string_value(json_array_get(
                   nonfinite, json_array_size(nonfinite) - 1)),
               name) != 0)
        json_array_append_new(nonfinite, json_string(name));
    return json_null();
}

json_t *funcall__answer(const fl_call *c)
{
    if (c->f->plugin->python)
        return json_deep_copy(c->pyanswer);
    const fl_function *f = c->f;
    json_t *nonfinite = json_array(), *value;
    const void *r = c->result;
    switch (f->ret) {
    case FL_DOUBLE:
        value = real_or_null(*(const double *)r, nonfinite, "value");
        break;
    case FL_INT:
        value = json_integer((json_int_t)(int)*(const ffi_sarg *)r);
        break;
    case FL_LONG:
        value = json_integer((json_int_t)(long)*(const ffi_sarg *)r);
        break;
    case FL_SIZE:
        value = json_integer((json_int_t)(size_t)*(const ffi_arg *)r);
        break;
    default:
        value = json_null();
        break;
    }
    json_t *ans = json_pack("{s:s, s:s, s:o}", "status", "ok", "function",
                            f->name, "value", value);
    json_t *outputs = NULL;
    for (size_t j = 0; j < f->n_args; j++) {
        if (!f->args[j].out)
            continue;
        if (outputs == NULL)
            outputs = json_object();
        json_t *arr = json_array();
        const double *y = (const double *)(const void *)(c->result +
                                                         c->offsets[j]);
        for (size_t i = 0; i < c->lengths[j]; i++)
            json_array_append_new(arr, real_or_null(y[i], nonfinite,
                                                    f->args[j].name));
        json_object_set_new(outputs, f->args[j].name, arr);
    }
    if (outputs)
        json_object_set_new(ans, "outputs", outputs);
    if (json_array_size(nonfinite) > 0)
        json_object_set_new(ans, "nonfinite", nonfinite);
    else
        json_decref(nonfinite);
    return ans;
}

void funcall__free(fl_call **cp)
{
    fl_call *c = *cp;
    if (c == NULL)
        return;
    child__end(&c->proc);
    if (c->fd >= 0)
        close(c->fd);
    if (c->argfd >= 0)
        close(c->argfd);
    json_decref(c->pyargs);
    json_decref(c->pyanswer);
    for (size_t j = 0; j < FUNCLIB_MAX_ARGS; j++)
        free(c->inputs[j]);
    free(c->result);
    free(c);
    *cp = NULL;
}

/* ---- in a child process ------------------------------------------------- */

/* What the child of a call is given. */
typedef struct call_child {
    fl_call *c;
    const fl_limits *lim;
    int out_fd, output_fd;
} call_child;

static void call_main(void *arg)
{
    const call_child *a = arg;
    fl_call *c = a->c;
    int out_fd = a->out_fd, output_fd = a->output_fd;
    child__enter();
    child__unblock();
    /* What a function prints goes to the daemon's labelled log, or to
     * stderr (the CLI's stdout carries the answer); the result pipe as 3;
     * nothing else stays open. */
    if (output_fd >= 0)
        proc__redirect(output_fd);
    else if (dup2(2, 1) < 0)
        _exit(CHILD_LIMITS_FAILED);
    /* A Python call's arguments as stdin, before fd 3 is taken (the
     * memfd may be 3). */
    if (c->argfd >= 0 && dup2(c->argfd, 0) < 0)
        _exit(CHILD_LIMITS_FAILED);
    c->argfd = c->argfd >= 0 ? 0 : -1;
    if (dup2(out_fd, 3) < 0)
        _exit(CHILD_LIMITS_FAILED);
    close_range(4, ~0U, 0);
    char why[512];
    child_limits lim = {.cpu_seconds = a->lim->cpu_seconds, .cpu_grace = 1,
                        .memory_bytes = a->lim->memory_bytes};
    if (child__set_limits(&lim, "call", why, sizeof why) != 0)
        _exit(CHILD_LIMITS_FAILED);
    if (c->f->plugin->python)
        pyfunc__exec_call(c->f, c->argfd);
    funcall__invoke(c);
    _exit(crash__write(3, c->result, c->result_len) == 0 ? 0 : 1);
}

/* A Python call's arguments in a memfd, for the runner's stdin. */
static int python_args(fl_call *c, char *why, size_t why_len)
{
    char *text = json_dumps(c->pyargs, JSON_COMPACT);
    int fd = memfd_create("twinctl-call-args", MFD_CLOEXEC);
    size_t n = text ? strlen(text) : 0;
    if (text == NULL || fd < 0 || crash__write(fd, text, n) != 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {
        snprintf(why, why_len, "cannot pass the call's arguments to "
                 "Python: %s", strerror(errno));
        free(text);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    free(text);
    c->argfd = fd;
    return 0;
}

int funcall__start(fl_call *c, const fl_limits *lim, int output_fd,
                   char *why, size_t why_len)
{
    int fds[2];
    if (c->f->plugin->python && c->argfd < 0 &&
        python_args(c, why, why_len) != 0) {
        if (output_fd >= 0)
            close(output_fd);
        return -1;
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "cannot make a pipe for the call: %s",
                 strerror(errno));
        if (output_fd >= 0)
            close(output_fd);
        return -1;
    }
    call_child a = {.c = c, .lim = lim, .out_fd = fds[1],
                    .output_fd = output_fd};
    int started = child__start(&c->proc, lim->seconds, call_main, &a);
    if (started != 0)
        snprintf(why, why_len, "cannot start the call's process: %s",
                 strerror(errno));
    close(fds[1]);
    if (output_fd >= 0)
        close(output_fd);
    if (started != 0) {
        close(fds[0]);
        return -1;
    }
    fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    c->fd = fds[0];
    c->got = 0;
    return 0;
}

int funcall__fd(const fl_call *c)
{
    return c->fd;
}

child *funcall__child(fl_call *c)
{
    return &c->proc;
}

int funcall__read(fl_call *c)
{
    if (c->fd < 0)
        return 1;
    for (;;) {
        unsigned char spill[4096];
        if (c->f->plugin->python && c->got + 4096 > c->result_len &&
            c->result_len < PYTHON_MAX_ANSWER) {
            /* A Python answer's length is not known before: grow. */
            size_t cap = c->result_len ? 2 * c->result_len : 65536;
            unsigned char *grown = realloc(c->result, cap);
            if (grown != NULL) {
                c->result = grown;
                c->result_len = cap;
            }
        }
        size_t room = c->result_len - c->got;
        /* More than the result is garbage: read it away to the end. */
        unsigned char *into = room ? c->result + c->got : spill;
        ssize_t k = read(c->fd, into, room ? room : sizeof spill);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (k <= 0) {
            close(c->fd);
            c->fd = -1;
            return 1;
        }
        if (room)
            c->got += (size_t)k;
        else
            c->got = c->result_len + 1; /* too much */
    }
}

int funcall__finish(fl_call *c, const fl_limits *lim, twin_errors *errs)
{
    const fl_function *f = c->f;
    int wait_status = c->proc.status;
    char who[512];
    if (f->plugin->python)
        snprintf(who, sizeof who, "function '%s' (in %s)", f->name,
                 f->plugin->library);
    else
        snprintf(who, sizeof who, "function '%s' (%s in %s)", f->name,
                 f->symbol, f->plugin->library);
    if (c->proc.timed_out) {
        errors__add(errs, TWIN_E_TIMEOUT, "/function", "%s did not return "
                    "within %g s (%s) and was stopped; only this call ended",
                    who, lim->seconds, lim->seconds_name
                                           ? lim->seconds_name
                                           : "limits.call_seconds");
    } else if (WIFSIGNALED(wait_status) &&
               WTERMSIG(wait_status) == SIGXCPU) {
        errors__add(errs, TWIN_E_TIMEOUT, "/function", "%s used its "
                    "CPU-time limit of %g s (limits.cpu_seconds) and was "
                    "stopped; only this call ended", who, lim->cpu_seconds);
    } else if (WIFSIGNALED(wait_status)) {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s crashed: "
                    "its process died of signal %d (%s); only this call "
                    "ended", who, WTERMSIG(wait_status),
                    strsignal(WTERMSIG(wait_status)));
    } else if (WIFEXITED(wait_status) &&
               WEXITSTATUS(wait_status) == CHILD_LIMITS_FAILED &&
               c->got == 0) {
        errors__add(errs, TWIN_E_INTERNAL, "/function", "the process for "
                    "%s could not set its resource limits "
                    "(limits.cpu_seconds, limits.memory_bytes)", who);
    } else if (f->plugin->python) {
        if (c->got > c->result_len) {
            errors__add(errs, TWIN_E_TOO_LARGE, "/function", "%s answered "
                        "more than %zu bytes; only this call ended", who,
                        PYTHON_MAX_ANSWER);
            return -1;
        }
        json_decref(c->pyanswer);
        c->pyanswer = pyfunc__answer(f, WIFEXITED(wait_status)
                                            ? WEXITSTATUS(wait_status) : -1,
                                     (const char *)c->result, c->got, errs);
        return c->pyanswer ? 0 : -1;
    } else if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s ended its "
                    "process with exit status %d instead of returning (a "
                    "plugin function must not call exit); only this call "
                    "ended", who, WIFEXITED(wait_status)
                                      ? WEXITSTATUS(wait_status) : -1);
    } else if (c->got != c->result_len) {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s ended its "
                    "process before the result was written (%zu of %zu "
                    "bytes: did it call exit(0)?); only this call ended",
                    who, c->got > c->result_len ? c->result_len : c->got,
                    c->result_len);
    } else {
        return 0;
    }
    return -1;
}

/* child__wait's step: read what the call wrote. */
static int read_step(void *c)
{
    return funcall__read(c);
}

int funcall__run(fl_call *c, const fl_limits *lim, twin_errors *errs)
{
    char why[512];
    if (funcall__start(c, lim, -1, why, sizeof why) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "/function", "%s", why);
        return -1;
    }
    child__wait(&c->proc, c->fd, read_step, c);
    return funcall__finish(c, lim, errs);
}
