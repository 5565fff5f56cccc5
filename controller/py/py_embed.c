/*
 * py_embed.c — the CPython interpreter embedded in the process that runs
 * a Python model (docs/python.md): started once, on first need, with its
 * signal handlers left to the host and no bytecode written next to the
 * models; the `twin` module the model files import (twin.Discard,
 * twin.log, twin.request_end, the log levels); a small bootstrap module,
 * written in Python below, that imports a model file (once per process:
 * the vetting child's exercise and check-model's calls use the class the
 * declaration came from), finds its class and writes its declaration as
 * JSON; and an exception as one sentence.
 *
 * The daemon never gets here: it holds Python models as the JSON their
 * vetting child wrote (py_model.c).  TWIN_PYTHON_VENV names a virtual
 * environment whose site-packages join sys.path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_internal.h"

int pymodel__available(void)
{
    return 1;
}

static PyObject *boot;            /* the bootstrap module */
static PyObject *discard_type;    /* twin.Discard */
static const twin_host *current;  /* the instance whose method runs */
static char start_error[512];
static int started;               /* 1 up, -1 failed */

void pyembed__set_host(const twin_host *host)
{
    current = host;
}

void pyembed__drop(void *obj)
{
    if (obj != NULL && started == 1)
        Py_DECREF((PyObject *)obj);
}

/* ---- the twin module ---- */

static PyObject *twin_log_fn(PyObject *self, PyObject *args)
{
    int level;
    const char *message;
    if (!PyArg_ParseTuple(args, "is:log", &level, &message))
        return NULL;
    if (level < TWIN_LOG_DEBUG || level > TWIN_LOG_ERROR) {
        PyErr_Format(PyExc_ValueError, "twin.log: level %d is none of "
                     "twin.DEBUG, twin.INFO, twin.WARNING, twin.ERROR", level);
        return NULL;
    }
    if (current != NULL && current->log != NULL)
        current->log(current->context, (twin_log_level)level, message);
    Py_RETURN_NONE;
}

static PyObject *twin_request_end_fn(PyObject *self, PyObject *args)
{
    const char *reason;
    if (!PyArg_ParseTuple(args, "s:request_end", &reason))
        return NULL;
    if (current != NULL && current->struct_size >=
            offsetof(twin_host, request_end) + sizeof current->request_end &&
        current->request_end != NULL)
        current->request_end(current->context, reason);
    Py_RETURN_NONE;
}

static PyMethodDef twin_methods[] = {
    {"log", twin_log_fn, METH_VARARGS,
     "log(level, message): log through the host (twin.DEBUG ... twin.ERROR)"},
    {"request_end", twin_request_end_fn, METH_VARARGS,
     "request_end(reason): end the run after the current tick's row"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef twin_module = {
    PyModuleDef_HEAD_INIT, "twin",
    "The host's services to a Python model of twinctl (docs/python.md).",
    -1, twin_methods, NULL, NULL, NULL, NULL,
};

static PyObject *twin_init(void)
{
    PyObject *m = PyModule_Create(&twin_module);
    if (m == NULL)
        return NULL;
    discard_type = PyErr_NewExceptionWithDoc(
        "twin.Discard",
        "Raise from derivatives or outputs when the states are outside the "
        "model's domain: the solver retries with a smaller step.",
        NULL, NULL);
    if (discard_type == NULL || PyModule_AddObjectRef(m, "Discard",
                                                      discard_type) != 0 ||
        PyModule_AddIntConstant(m, "DEBUG", TWIN_LOG_DEBUG) != 0 ||
        PyModule_AddIntConstant(m, "INFO", TWIN_LOG_INFO) != 0 ||
        PyModule_AddIntConstant(m, "WARNING", TWIN_LOG_WARNING) != 0 ||
        PyModule_AddIntConstant(m, "ERROR", TWIN_LOG_ERROR) != 0 ||
        pyarray__ready(m) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* ---- the bootstrap ---- */

static const char boot_source[] =
"import importlib.util, json, math, os, re, sys, traceback, glob, site\n"
"class Declaration(TypeError):\n"
"    'A class attribute that is not of the documented form.'\n"
"KINDS = ('parameter', 'state', 'input', 'output')\n"
"FIELDS = {'name', 'kind', 'unit', 'start', 'min', 'max', 'description',\n"
"          'feedthrough', 'integer', 'boolean'}\n"
"METHODS = ('init', 'derivatives', 'outputs', 'event_indicators', 'event',\n"
"           'tick', 'next_event_time')\n"
"def num(v, what):\n"
"    if isinstance(v, bool) or not isinstance(v, (int, float)):\n"
"        raise Declaration(f'{what} must be a number, not {v!r}')\n"
"    v = float(v)\n"
"    if v != v: return 'nan'\n"
"    if v in (math.inf, -math.inf): return 'inf' if v > 0 else '-inf'\n"
"    return v\n"
"def flag(v, what):\n"
"    if not isinstance(v, bool):\n"
"        raise Declaration(f'{what} must be True or False, not {v!r}')\n"
"    return v\n"
"def variable(c, i, v):\n"
"    at = f'{c.__name__}.variables[{i}]'\n"
"    if not isinstance(v, dict):\n"
"        raise Declaration(f'{at} must be a dict, not {type(v).__name__}')\n"
"    if not isinstance(v.get('name'), str):\n"
"        raise Declaration(f'{at} needs a name (a str)')\n"
"    at = f\"{c.__name__}.variables[{i}] ('{v['name']}')\"\n"
"    extra = sorted(set(v) - FIELDS)\n"
"    if extra:\n"
"        raise Declaration(f'{at} has unknown keys {extra}; the keys are '\n"
"                        f'{sorted(FIELDS)}')\n"
"    if v.get('kind') not in KINDS:\n"
"        raise Declaration(f'{at}: kind must be one of {KINDS}, not '\n"
"                        f\"{v.get('kind')!r}\")\n"
"    for k in ('unit', 'description'):\n"
"        if not isinstance(v.get(k, ''), str):\n"
"            raise Declaration(f'{at}: {k} must be a str')\n"
"    return {'name': v['name'], 'kind': v['kind'],\n"
"            'unit': v.get('unit', ''),\n"
"            'description': v.get('description', ''),\n"
"            'start': num(v.get('start', 0.0), f'{at}: start'),\n"
"            'min': num(v.get('min', -math.inf), f'{at}: min'),\n"
"            'max': num(v.get('max', math.inf), f'{at}: max'),\n"
"            'feedthrough': flag(v.get('feedthrough', False),\n"
"                                f'{at}: feedthrough'),\n"
"            'integer': flag(v.get('integer', False), f'{at}: integer'),\n"
"            'boolean': flag(v.get('boolean', False), f'{at}: boolean')}\n"
"def dependencies(c, vs):\n"
"    signals = {v['name']: i for i, v in enumerate(vs)\n"
"               if v['kind'] != 'parameter'}\n"
"    out = []\n"
"    for k, d in enumerate(getattr(c, 'dependencies', None) or ()):\n"
"        if (not isinstance(d, (tuple, list)) or len(d) != 2 or\n"
"                any(n not in signals for n in d)):\n"
"            raise Declaration(f'{c.__name__}.dependencies[{k}] must be a pair '\n"
"                            '(of, on) of names of states, inputs or outputs, '\n"
"                            f'not {d!r}')\n"
"        out.append([signals[d[0]], signals[d[1]]])\n"
"    return out\n"
"def declare(c):\n"
"    n = c.__name__\n"
"    for k in ('name', 'version', 'description', 'kind'):\n"
"        if not isinstance(getattr(c, k, ''), str):\n"
"            raise Declaration(f'{n}.{k} must be a str')\n"
"    if not isinstance(c.variables, (list, tuple)):\n"
"        raise Declaration(f'{n}.variables must be a list of dicts')\n"
"    ng = getattr(c, 'n_event_indicators', 0)\n"
"    if isinstance(ng, bool) or not isinstance(ng, int) or ng < 0:\n"
"        raise Declaration(f'{n}.n_event_indicators must be a count')\n"
"    vs = [variable(c, i, v) for i, v in enumerate(c.variables)]\n"
"    return {'class': n, 'name': c.name,\n"
"        'version': getattr(c, 'version', '0'),\n"
"        'description': getattr(c, 'description', '') or\n"
"                       (c.__doc__ or '').strip(),\n"
"        'kind': getattr(c, 'kind', 'continuous'),\n"
"        'n_event_indicators': ng,\n"
"        'sample_period': num(getattr(c, 'sample_period', 0.0),\n"
"                             f'{n}.sample_period'),\n"
"        'variables': vs, 'dependencies': dependencies(c, vs),\n"
"        'methods': [m for m in METHODS if callable(getattr(c, m, None))]}\n"
"LOADED = {}\n"
"def load(path):\n"
"    key = os.path.abspath(path)\n"
"    if key not in LOADED: LOADED[key] = load_file(path)\n"
"    return LOADED[key]\n"
"def load_file(path):\n"
"    stem = os.path.splitext(os.path.basename(path))[0]\n"
"    name = 'twin_model_' + re.sub(r'\\W', '_', stem)\n"
"    d = os.path.dirname(os.path.abspath(path))\n"
"    if d not in sys.path: sys.path.append(d)\n"
"    spec = importlib.util.spec_from_file_location(name, path)\n"
"    mod = importlib.util.module_from_spec(spec)\n"
"    sys.modules[name] = mod\n"
"    spec.loader.exec_module(mod)\n"
"    found = [c for c in vars(mod).values() if isinstance(c, type) and\n"
"             c.__module__ == name and hasattr(c, 'variables') and\n"
"             hasattr(c, 'name')]\n"
"    if not found:\n"
"        raise Declaration('it defines no model class (a class with the '\n"
"                        'attributes name and variables, docs/python.md)')\n"
"    return tuple(found), json.dumps([declare(c) for c in found],\n"
"                                    sort_keys=True, separators=(',', ':'))\n"
"def describe(e):\n"
"    if isinstance(e, ModuleNotFoundError) and e.name:\n"
"        top = e.name.split('.')[0]\n"
"        deb = top.lower().replace('_', '-')\n"
"        return (f\"the module '{e.name}' is not installed ({e}); install it: \"\n"
"                f'apt install python3-{deb}, or pip install {top} into the '\n"
"                'virtual environment the controller uses (--python-venv, '\n"
"                'TWIN_PYTHON_VENV)')\n"
"    if isinstance(e, Declaration):\n"
"        return f'{e} (docs/python.md)'\n"
"    if isinstance(e, SyntaxError):\n"
"        return (f'{type(e).__name__} in {e.filename}, line {e.lineno}: '\n"
"                f\"{e.msg}: {(e.text or '').strip()}\")\n"
"    lines = ''.join(traceback.format_exception(type(e), e,\n"
"                    e.__traceback__)).rstrip().splitlines()\n"
"    tail = [l.strip() for l in lines if l.strip() and\n"
"            not l.startswith('Traceback')][-3:]\n"
"    return ' | '.join(tail)\n"
"def flush():\n"
"    for f in (sys.stdout, sys.stderr):\n"
"        if f is not None: f.flush()\n"
"def venv(d):\n"
"    found = glob.glob(os.path.join(d, 'lib', 'python3*', 'site-packages'))\n"
"    if not found:\n"
"        return (f'{d} (TWIN_PYTHON_VENV, --python-venv) is not a virtual '\n"
"                'environment: it has no lib/python3*/site-packages; '\n"
"                'make one with python3 -m venv DIR')\n"
"    for p in found: site.addsitedir(p)\n";

/* The exception being raised as one sentence into why, cleared. */
int pyembed__exception(char *why, size_t why_len)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value == NULL) {
        snprintf(why, why_len, "an unknown error");
        Py_XDECREF(type);
        Py_XDECREF(tb);
        return 0;
    }
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    int discard = discard_type != NULL &&
                  PyErr_GivenExceptionMatches(value, discard_type);
    PyObject *text = discard ? PyObject_Str(value)
                             : PyObject_CallMethod(boot, "describe", "O",
                                                   value);
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    snprintf(why, why_len, "%s", s ? s : "an exception that cannot be "
                                         "described");
    if (text == NULL || s == NULL)
        PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return discard;
}

static int start(char *why, size_t why_len)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    /* SIGINT and the rest stay the host's (the run process's handlers). */
    config.install_signal_handlers = 0;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    if (PyImport_AppendInittab("twin", twin_init) != 0) {
        snprintf(why, why_len, "the twin module cannot be registered");
        PyConfig_Clear(&config);
        return -1;
    }
    PyStatus st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(why, why_len, "the Python interpreter does not start: %s",
                 st.err_msg ? st.err_msg : "no reason given");
        return -1;
    }
    PyObject *code = Py_CompileString(boot_source, "<twinctl>",
                                      Py_file_input);
    boot = code ? PyImport_ExecCodeModule("_twinctl_boot", code) : NULL;
    Py_XDECREF(code);
    if (boot == NULL) {
        PyErr_Print();
        snprintf(why, why_len, "twinctl's Python bootstrap does not load");
        return -1;
    }
    const char *venv = getenv("TWIN_PYTHON_VENV");
    if (venv != NULL && venv[0] != '\0') {
        PyObject *r = PyObject_CallMethod(boot, "venv", "s", venv);
        const char *text = r && r != Py_None ? PyUnicode_AsUTF8(r) : NULL;
        if (r == NULL || text != NULL) {
            if (r == NULL)
                pyembed__exception(why, why_len);
            else
                snprintf(why, why_len, "%s", text);
            Py_XDECREF(r);
            return -1;
        }
        Py_DECREF(r);
    }
    return 0;
}

int pyembed__start(char *why, size_t why_len)
{
    if (started == 0) {
        started = start(start_error, sizeof start_error) == 0 ? 1 : -1;
    }
    if (started < 0) {
        snprintf(why, why_len, "%s", start_error);
        return -1;
    }
    return 0;
}

char *pyembed__import(const char *path, size_t index, void **cls,
                      char *why, size_t why_len)
{
    char inner[900];
    if (pyembed__start(inner, sizeof inner) != 0) {
        snprintf(why, why_len, "Python model %s: %s", path, inner);
        return NULL;
    }
    PyObject *r = PyObject_CallMethod(boot, "load", "s", path);
    if (r == NULL) {
        pyembed__exception(inner, sizeof inner);
        snprintf(why, why_len, "Python model %s: refused, not loaded: %s",
                 path, inner);
        return NULL;
    }
    const char *json = PyUnicode_AsUTF8(PyTuple_GetItem(r, 1));
    char *out = json ? strdup(json) : NULL;
    if (out == NULL) {
        PyErr_Clear();
        snprintf(why, why_len, "out of memory");
    } else if (cls != NULL) {
        PyObject *classes = PyTuple_GetItem(r, 0);
        PyObject *c = (Py_ssize_t)index < PyTuple_Size(classes)
                          ? PyTuple_GetItem(classes, (Py_ssize_t)index)
                          : NULL;
        *cls = c ? Py_NewRef(c) : NULL;
        if (c == NULL)
            PyErr_Clear();
    }
    Py_DECREF(r);
    return out;
}

void pyembed__flush(void)
{
    PyObject *r = boot ? PyObject_CallMethod(boot, "flush", NULL) : NULL;
    if (r == NULL)
        PyErr_Clear();
    Py_XDECREF(r);
}

char *pymodel__declare(const char *path, char *why, size_t why_len)
{
    return pyembed__import(path, 0, NULL, why, why_len);
}
