/*
 * pyfunc.c — Python function plugins (pyfunc.h): running the runner
 * script to read a .py file's manifest, turning that manifest into the
 * registry's fl_function entries, the exec of a call's runner in its
 * child process, and reading a call's answer back.  The argument checks
 * and the call's process are funcall.c's, shared with C plugins.
 */
#include "pyfunc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "twin_pyfunc_paths.h"

static const char *runner = TWIN_PYFUNC_RUNNER;

void pyfunc__set_runner(const char *path)
{
    runner = path;
}

const char *pyfunc__runner(void)
{
    return runner;
}

const char *pyfunc__interpreter(char *buf, size_t len)
{
    const char *venv = getenv("TWIN_PYTHON_VENV");
    if (venv != NULL && *venv != '\0')
        snprintf(buf, len, "%s/bin/python3", venv);
    else
        snprintf(buf, len, "/usr/bin/python3");
    return buf;
}

static const char *const py_names[FL__COUNT] = {
    [FL_VOID] = "None",  [FL_DOUBLE] = "float",
    [FL_LONG] = "int",   [FL_DOUBLE_ARRAY] = "list[float]",
    [FL_BOOL] = "bool",  [FL_STRING] = "str",
};

const char *pyfunc__type_name(fl_type t)
{
    return (unsigned)t < FL__COUNT && py_names[t] ? py_names[t] : "?";
}

static int parse_py_type(const char *s, fl_type *t)
{
    for (int i = 0; s && i < FL__COUNT; i++)
        if (py_names[i] && strcmp(s, py_names[i]) == 0) {
            *t = (fl_type)i;
            return 0;
        }
    return -1;
}

/* ---- running the runner -------------------------------------------------- */

/* In the child: the runner with argv, fd 3 the result pipe, stdin
 * args_fd (or none), what it prints onto stderr. */
static void exec_runner(char *const *argv, int result_fd, int args_fd)
{
    char interp[4096];
    pyfunc__interpreter(interp, sizeof interp);
    if (args_fd >= 0 && args_fd != 0 && dup2(args_fd, 0) < 0)
        _exit(PYFUNC_EXIT_EXEC);
    if (result_fd != 3 && dup2(result_fd, 3) < 0)
        _exit(PYFUNC_EXIT_EXEC);
    close_range(4, ~0U, 0);
    char **full = calloc(8, sizeof *full);
    if (full == NULL)
        _exit(PYFUNC_EXIT_EXEC);
    full[0] = interp;
    full[1] = (char *)runner;
    for (int i = 0; argv[i] && i < 5; i++)
        full[i + 2] = argv[i];
    execv(interp, full);
    dprintf(3, "{\"error\": \"exec\", \"message\": \"cannot run %s: %s\"}",
            interp, strerror(errno));
    _exit(PYFUNC_EXIT_EXEC);
}

typedef struct load_child {
    const char *path;
    int result_fd;
} load_child;

static void load_main(void *arg)
{
    const load_child *a = arg;
    char *argv[] = {"manifest", (char *)a->path, NULL};
    child__enter();
    child__unblock();
    if (dup2(2, 1) < 0)
        _exit(PYFUNC_EXIT_EXEC);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    exec_runner(argv, a->result_fd, -1);
}

typedef struct sink {
    int fd;
    char *buf;
    size_t len, cap;
} sink;

static int drain(void *arg)
{
    sink *s = arg;
    for (;;) {
        if (s->len + 4096 > s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 65536;
            char *grown = cap <= ((size_t)64 << 20) ? realloc(s->buf, cap)
                                                     : NULL;
            if (grown == NULL)
                return 1;
            s->buf = grown;
            s->cap = cap;
        }
        ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (k <= 0)
            return 1;
        s->len += (size_t)k;
    }
}

/* ---- a runner's error ---------------------------------------------------- */

/* "raised ValueError: math domain error (pyfuncs.py:53 in py_log)" */
static void raised(const json_t *err, char *out, size_t len)
{
    const json_t *tb = json_object_get(err, "traceback");
    size_t used = (size_t)snprintf(out, len, "%s",
                                   json_string_value(json_object_get(
                                       err, "message")) ?: "?");
    for (size_t i = 0; i < json_array_size(tb) && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s",
                                 i ? ", " : " (at ",
                                 json_string_value(json_array_get(tb, i)));
    if (json_array_size(tb) && used < len)
        snprintf(out + used, len - used, ")");
}

/* The error of a runner that did not import the file (or not start). */
static void import_problem(const char *path, const json_t *err,
                           twin_errors *errs)
{
    const char *kind = json_string_value(json_object_get(err, "error"));
    const char *module = json_string_value(json_object_get(err, "module"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    char why[1024];
    if (kind && strcmp(kind, "import") == 0 && module) {
        char top[256];
        snprintf(top, sizeof top, "%.*s", (int)strcspn(module, "."), module);
        for (char *c = top; *c; c++)   /* Debian's names: python3-foo-bar */
            *c = *c == '_' ? '-' : *c;
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s does not import: "
                    "there is no Python module '%s' (%s); install it: "
                    "`apt install python3-%s` for the system's python3, or "
                    "`pip install %s` into the virtual environment "
                    "TWIN_PYTHON_VENV names", path, module, msg ? msg : "",
                    top, module);
    } else if (kind && strcmp(kind, "exec") == 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "%s: %s (is Python "
                    "installed? Debian: python3; or set TWIN_PYTHON_VENV "
                    "to a virtual environment)", path, msg ? msg : "");
    } else {
        raised(err, why, sizeof why);
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s does not import: "
                    "importing it raised %s", path, why);
    }
}

/* ---- the manifest -------------------------------------------------------- */

static char *dup_str(const json_t *v)
{
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

/* "def py_scale(x: float, factor: float = ...) -> float" */
static char *py_signature(const fl_function *f)
{
    size_t cap = 64 + strlen(f->name);
    for (size_t j = 0; j < f->n_args; j++)
        cap += strlen(f->args[j].name) + 24;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    int n = sprintf(s, "def %s(", f->name);
    for (size_t j = 0; j < f->n_args; j++)
        n += sprintf(s + n, "%s%s: %s%s", j ? ", " : "", f->args[j].name,
                     pyfunc__type_name(f->args[j].type),
                     f->args[j].filled ? " = ..." : "");
    sprintf(s + n, ") -> %s", pyfunc__type_name(f->ret));
    return s;
}

/* One function of the manifest; -1 after a problem. */
static int build_function(const char *path, const json_t *fj,
                          fl_function *f, twin_errors *errs)
{
    const char *name = json_string_value(json_object_get(fj, "name"));
    const json_t *args = json_object_get(fj, "args");
    const json_t *ret = json_object_get(fj, "returns");
    if (!funclib__valid_name(name)) {
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s: the function name "
                    "'%s' is not a name a call can use (ASCII letters, "
                    "digits and _, at most 128)", path, name ? name : "?");
        return -1;
    }
    if (json_array_size(args) > FUNCLIB_MAX_ARGS) {
        errors__add(errs, TWIN_E_TOO_LARGE, "", "%s: function '%s' has %zu "
                    "parameters, more than the %d a function may have", path,
                    name, json_array_size(args), FUNCLIB_MAX_ARGS);
        return -1;
    }
    f->name = strdup(name);
    f->symbol = strdup(name);
    f->doc = dup_str(json_object_get(fj, "doc"));
    f->ret_unit = dup_str(json_object_get(ret, "unit"));
    f->ret_doc = dup_str(json_object_get(ret, "doc"));
    if (parse_py_type(json_string_value(json_object_get(ret, "type")),
                      &f->ret) != 0 || f->ret == FL_INT_ARRAY)
        return -1; /* the runner named it a problem */
    f->n_args = json_array_size(args);
    f->args = calloc(f->n_args ? f->n_args : 1, sizeof *f->args);
    if (f->args == NULL)
        return -1;
    for (size_t j = 0; j < f->n_args; j++) {
        const json_t *a = json_array_get(args, j);
        fl_arg *x = &f->args[j];
        x->name = dup_str(json_object_get(a, "name"));
        x->unit = dup_str(json_object_get(a, "unit"));
        x->doc = dup_str(json_object_get(a, "doc"));
        x->min = -INFINITY;
        x->max = INFINITY;
        x->length = -1;
        x->length_of = -1;
        x->max_length = SIZE_MAX;
        x->filled = json_is_true(json_object_get(a, "optional"));
        if (parse_py_type(json_string_value(json_object_get(a, "type")),
                          &x->type) != 0 || x->type == FL_VOID)
            return -1;
    }
    f->signature = py_signature(f);
    return f->signature && f->name && f->symbol ? 0 : -1;
}

static fl_plugin *build_plugin(const char *path, const json_t *doc,
                               twin_errors *errs)
{
    size_t before = errs->count;
    const json_t *fns = json_object_get(doc, "functions");
    const json_t *problems = json_object_get(doc, "problems");
    for (size_t i = 0; i < json_array_size(problems); i++)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s",
                    json_string_value(json_array_get(problems, i)));
    if (json_array_size(fns) == 0 && errs->count == before)
        errors__add(errs, TWIN_E_OUT_OF_RANGE, "", "%s defines no public "
                    "function (a function whose name does not start with "
                    "_, annotated, with a docstring)", path);
    if (errs->count != before)
        return NULL;
    fl_plugin *p = calloc(1, sizeof *p);
    const char *slash = strrchr(path, '/');
    if (p == NULL)
        goto fail;
    p->python = 1;
    p->manifest = strdup(path);
    p->library = strdup(slash ? slash + 1 : path);
    p->library_path = strdup(path);
    p->doc = dup_str(json_object_get(doc, "doc"));
    p->n_fns = json_array_size(fns);
    p->fns = calloc(p->n_fns, sizeof *p->fns);
    if (!p->manifest || !p->library || !p->library_path || !p->fns)
        goto fail;
    for (size_t i = 0; i < p->n_fns; i++) {
        p->fns[i].plugin = p;
        if (build_function(path, json_array_get(fns, i), &p->fns[i],
                           errs) != 0)
            goto fail;
    }
    return p;
fail:
    if (errs->count == before)
        errors__add(errs, TWIN_E_INTERNAL, "", "%s: the runner's manifest "
                    "could not be read (out of memory?)", path);
    funclib__close(&p);
    return NULL;
}

fl_plugin *pyfunc__open(const char *path, twin_errors *errs)
{
    int fds[2];
    fl_plugin *p = NULL;
    json_t *doc = NULL;
    sink s = {.fd = -1};
    child proc = {0};
    if (pipe2(fds, O_CLOEXEC) != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "%s: cannot make a pipe: %s",
                    path, strerror(errno));
        return NULL;
    }
    load_child a = {.path = path, .result_fd = fds[1]};
    int started = child__start(&proc, PYFUNC_LOAD_SECONDS, load_main, &a);
    close(fds[1]);
    s.fd = fds[0];
    if (started != 0) {
        errors__add(errs, TWIN_E_INTERNAL, "", "%s: cannot start Python: %s",
                    path, strerror(errno));
        goto exit;
    }
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    child_how how = child__wait(&proc, s.fd, drain, &s);
    int status = proc.status;
    if (s.buf)
        doc = json_loadb(s.buf, s.len, 0, NULL);
    if (proc.timed_out || how == CHILD_RUNNING) {
        errors__add(errs, TWIN_E_TIMEOUT, "", "%s: importing it and listing "
                    "its functions took more than %g s; it was stopped",
                    path, PYFUNC_LOAD_SECONDS);
    } else if (WIFSIGNALED(status)) {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "", "%s: Python died of "
                    "signal %d (%s) importing it", path, WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
    } else if (json_object_get(doc, "error") != NULL) {
        import_problem(path, doc, errs);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
               !json_is_object(doc)) {
        errors__add(errs, TWIN_E_INTERNAL, "", "%s: the runner %s ended "
                    "with status %d without a manifest", path, runner,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else {
        p = build_plugin(path, doc, errs);
    }
exit:
    json_decref(doc);
    free(s.buf);
    close(s.fd);
    return p;
}

/* ---- a call -------------------------------------------------------------- */

void pyfunc__exec_call(const fl_function *f, int args_fd)
{
    char *argv[] = {"call", f->plugin->library_path, f->name, NULL};
    exec_runner(argv, 3, args_fd);
    _exit(PYFUNC_EXIT_EXEC);
}

json_t *pyfunc__answer(const fl_function *f, int exit_status,
                       const char *out, size_t len, twin_errors *errs)
{
    json_t *doc = json_loadb(out, len, 0, NULL), *ans = NULL;
    const json_t *err = json_object_get(doc, "error");
    char who[512], why[1024];
    snprintf(who, sizeof who, "function '%s' (in %s)", f->name,
             f->plugin->library);
    if (exit_status == 0 && json_is_object(doc) && err == NULL) {
        ans = json_pack("{s:s, s:s, s:O}", "status", "ok", "function",
                        f->name, "value",
                        json_object_get(doc, "value") ?: json_null());
        json_t *nonfinite = json_object_get(doc, "nonfinite");
        if (json_array_size(nonfinite) > 0)
            json_object_set(ans, "nonfinite", nonfinite);
    } else if (err != NULL && exit_status == PYFUNC_EXIT_RAISED) {
        raised(doc, why, sizeof why);
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s raised %s; "
                    "only this call ended", who, why);
    } else if (err != NULL && exit_status == PYFUNC_EXIT_RETURN) {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s %s, as its "
                    "annotation says; only this call ended", who,
                    json_string_value(json_object_get(doc, "message")));
    } else if (err != NULL) {
        twin_errors own = {0};
        import_problem(f->plugin->library_path, doc, &own);
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s: %s",
                    who, own.count ? own.items[0].message : "?");
        errors__clear(&own);
    } else {
        errors__add(errs, TWIN_E_MODEL_CRASHED, "/function", "%s ended its "
                    "process with exit status %d without an answer (did it "
                    "call sys.exit or os._exit?); only this call ended", who,
                    exit_status);
    }
    json_decref(doc);
    return ans;
}
