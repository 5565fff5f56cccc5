/*
 * py_array.c — twin.Array, what a Python model's methods get for x, u, dx,
 * y and g (docs/python.md): a window on the host's own array of doubles,
 * no copy, valid during the one call that received it.
 *
 * It indexes (negative indices too) and iterates as a sequence, has len()
 * and tolist(); a slice reads as a list (a copy) and is assigned from a
 * sequence of as many numbers; it exports its memory by the buffer
 * protocol (format 'd'), so numpy.asarray(x) wraps it without a copy.
 * Arrays the host marks read-only refuse writes.
 *
 * Why not a memoryview: a method gets an array per argument per call,
 * millions of times in a run.  A memoryview is made and released
 * (a method call) each time; a window is pointed at the next call's array
 * instead, when nothing but the host holds it and nothing exported its
 * memory (pyarray__close).  A window a model kept is closed: reading it
 * later raises ValueError rather than reading memory the solver has moved
 * on from.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "py_internal.h"

typedef struct {
    PyObject_HEAD
    double *p;            /* NULL: closed */
    Py_ssize_t n;
    int writable;
    Py_ssize_t exports;   /* buffers exported and not yet released */
} window;

static int closed(const window *w)
{
    if (w->p != NULL)
        return 0;
    PyErr_SetString(PyExc_ValueError,
                    "twin.Array: this array was valid only during the call "
                    "that received it (copy it, e.g. list(x), to keep the "
                    "values)");
    return 1;
}

static Py_ssize_t win_len(PyObject *self)
{
    window *w = (window *)self;
    return closed(w) ? -1 : w->n;
}

static PyObject *win_item(PyObject *self, Py_ssize_t i)
{
    window *w = (window *)self;
    if (closed(w))
        return NULL;
    if (i < 0 || i >= w->n) {
        PyErr_SetString(PyExc_IndexError, "twin.Array index out of range");
        return NULL;
    }
    return PyFloat_FromDouble(w->p[i]);
}

static int win_ass_item(PyObject *self, Py_ssize_t i, PyObject *v)
{
    window *w = (window *)self;
    if (closed(w))
        return -1;
    if (!w->writable) {
        PyErr_SetString(PyExc_TypeError, "twin.Array: this array is "
                        "read-only (x in derivatives, u always)");
        return -1;
    }
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "twin.Array: elements cannot be "
                        "deleted");
        return -1;
    }
    if (i < 0 || i >= w->n) {
        PyErr_SetString(PyExc_IndexError,
                        "twin.Array assignment index out of range");
        return -1;
    }
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    w->p[i] = d;
    return 0;
}

/* The elements a slice key selects: 0 with *start, *step, *count, or -1
 * raised (a key neither an index nor a slice). */
static int selected(window *w, PyObject *key, Py_ssize_t *start,
                    Py_ssize_t *step, Py_ssize_t *count)
{
    Py_ssize_t stop;
    if (!PySlice_Check(key)) {
        PyErr_Format(PyExc_TypeError, "twin.Array indices must be integers "
                     "or slices, not %.200s", Py_TYPE(key)->tp_name);
        return -1;
    }
    if (PySlice_Unpack(key, start, &stop, step) != 0)
        return -1;
    *count = PySlice_AdjustIndices(w->n, start, &stop, *step);
    return 0;
}

static PyObject *win_subscript(PyObject *self, PyObject *key)
{
    window *w = (window *)self;
    Py_ssize_t i, step, count;
    if (PyIndex_Check(key)) {
        i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        return win_item(self, i < 0 ? i + w->n : i);
    }
    if (closed(w) || selected(w, key, &i, &step, &count) != 0)
        return NULL;
    /* a slice is a list of the values: a copy, safe to keep */
    PyObject *l = PyList_New(count);
    for (Py_ssize_t k = 0; l != NULL && k < count; k++, i += step) {
        PyObject *f = PyFloat_FromDouble(w->p[i]);
        if (f == NULL)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, k, f);
    }
    return l;
}

static int win_ass_subscript(PyObject *self, PyObject *key, PyObject *v)
{
    window *w = (window *)self;
    Py_ssize_t i, step, count;
    if (PyIndex_Check(key)) {
        i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return -1;
        return win_ass_item(self, i < 0 ? i + w->n : i, v);
    }
    if (closed(w) || selected(w, key, &i, &step, &count) != 0)
        return -1;
    if (v == NULL || !w->writable)
        return win_ass_item(self, 0, v); /* the same refusals */
    PyObject *seq = PySequence_Fast(v, "twin.Array: a slice is assigned "
                                       "a sequence of numbers");
    if (seq == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(seq) != count) {
        PyErr_Format(PyExc_ValueError, "twin.Array: %zd values for a slice "
                     "of %zd elements", PySequence_Fast_GET_SIZE(seq),
                     count);
        Py_DECREF(seq);
        return -1;
    }
    /* every value converted before any is written */
    double buf[64], *d = count <= 64 ? buf : PyMem_Malloc(
                                                 (size_t)count * sizeof *d);
    int r = d != NULL ? 0 : (PyErr_NoMemory(), -1);
    for (Py_ssize_t k = 0; r == 0 && k < count; k++) {
        d[k] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, k));
        if (d[k] == -1.0 && PyErr_Occurred())
            r = -1;
    }
    for (Py_ssize_t k = 0; r == 0 && k < count; k++, i += step)
        w->p[i] = d[k];
    if (d != buf)
        PyMem_Free(d);
    Py_DECREF(seq);
    return r;
}

static int win_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    window *w = (window *)self;
    if (closed(w)) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, self, w->p, w->n * (Py_ssize_t)sizeof(double),
                          !w->writable, flags) != 0)
        return -1;
    if (flags & PyBUF_FORMAT)
        view->format = "d";
    view->itemsize = sizeof(double);
    if (flags & PyBUF_ND) {
        view->ndim = 1;
        view->shape = &w->n;
    }
    w->exports++;
    return 0;
}

static void win_releasebuffer(PyObject *self, Py_buffer *view)
{
    (void)view;
    ((window *)self)->exports--;
}

static PyObject *win_tolist(PyObject *self, PyObject *unused)
{
    (void)unused;
    window *w = (window *)self;
    if (closed(w))
        return NULL;
    PyObject *l = PyList_New(w->n);
    for (Py_ssize_t i = 0; l != NULL && i < w->n; i++) {
        PyObject *f = PyFloat_FromDouble(w->p[i]);
        if (f == NULL)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, i, f);
    }
    return l;
}

static PyObject *win_repr(PyObject *self)
{
    window *w = (window *)self;
    if (w->p == NULL)
        return PyUnicode_FromString("<twin.Array, closed>");
    PyObject *l = win_tolist(self, NULL);
    if (l == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("twin.Array(%R%s)", l,
                                       w->writable ? "" : ", read-only");
    Py_DECREF(l);
    return r;
}

static PyObject *win_readonly(PyObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(!((window *)self)->writable);
}

static PySequenceMethods win_as_sequence = {
    .sq_length = win_len,
    .sq_item = win_item,
    .sq_ass_item = win_ass_item,
};

static PyMappingMethods win_as_mapping = {
    .mp_length = win_len,
    .mp_subscript = win_subscript,
    .mp_ass_subscript = win_ass_subscript,
};

static PyBufferProcs win_as_buffer = {
    .bf_getbuffer = win_getbuffer,
    .bf_releasebuffer = win_releasebuffer,
};

static PyMethodDef win_methods[] = {
    {"tolist", win_tolist, METH_NOARGS, "the values, as a list of floats"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef win_getset[] = {
    {"readonly", win_readonly, NULL, "True where writes are refused", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject window_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "twin.Array",
    .tp_doc = "The host's array of doubles, valid during one call "
              "(docs/python.md).",
    .tp_basicsize = sizeof(window),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
    .tp_repr = win_repr,
    .tp_as_sequence = &win_as_sequence,
    .tp_as_mapping = &win_as_mapping,
    .tp_as_buffer = &win_as_buffer,
    .tp_methods = win_methods,
    .tp_getset = win_getset,
};

/* The type is made ready at its first use: the twin module (which names
 * it) is imported only by the model files that import it. */
static int ready(void)
{
    return (window_type.tp_flags & Py_TPFLAGS_READY) != 0
        ? 0 : PyType_Ready(&window_type);
}

int pyarray__ready(void *module)
{
    if (ready() != 0)
        return -1;
    return PyModule_AddObjectRef(module, "Array", (PyObject *)&window_type);
}

void *pyarray__open(void *reuse, double *p, size_t n, int writable)
{
    static double none[1];
    window *w = (window *)reuse;
    if (w == NULL) {
        if (ready() != 0)
            return NULL;
        w = PyObject_New(window, &window_type);
        if (w == NULL)
            return NULL;
        w->exports = 0;
    }
    w->p = p != NULL ? p : none;
    w->n = (Py_ssize_t)n;
    w->writable = writable;
    return w;
}

int pyarray__close(void *a)
{
    window *w = (window *)a;
    if (w->exports > 0)
        return 0; /* a buffer on it lives (a NumPy array kept): leave it */
    w->p = NULL;
    return Py_REFCNT((PyObject *)a) == 1;
}
