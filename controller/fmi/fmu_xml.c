/*
 * fmu_xml.c — an FMU's modelDescription.xml read with libxml2 into an
 * fmu_desc, for FMI 2.0 and FMI 3.0: the model's identity, the
 * interfaces it offers and their flags, the declared types, the
 * variables (type, causality, variability, start, min, max, nominal,
 * unit, description, derivative), the model structure (outputs and
 * whether they depend directly on inputs, the states in the order of
 * their derivatives, FMI 3's event indicators) and the default
 * experiment.
 *
 * These are bytes from outside: the file is read up to
 * FMU_MAX_XML_BYTES, parsed without network access (XML_PARSE_NONET),
 * without entity substitution, without a DTD (a document that has one
 * is refused: a description never needs it), and every attribute is
 * checked before it is used — numbers parse whole, indices and value
 * references point at a variable of the right type, counts stay under
 * FMU_MAX_VARIABLES.  The first problem is the refusal, one sentence
 * naming the file, the line and what is wrong; nothing here may crash on
 * a hostile description (tests/fuzz/fuzz_fmu_xml.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fmu.h"

/* A declared type (TypeDefinitions) as variables inherit from it. */
typedef struct decl_type {
    char *name;
    fmu_type type;
    char *unit;
    double min, max, nominal;
} decl_type;

typedef struct xml_ctx {
    const char *file;          /* the .fmu, for messages */
    fmu_desc *d;
    decl_type *types;
    size_t n_types;
    char *why;
    size_t why_len;
    int failed;
} xml_ctx;

static void fail(xml_ctx *c, const xmlNode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(xml_ctx *c, const xmlNode *at, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (at != NULL)
        snprintf(c->why, c->why_len, "%s: modelDescription.xml line %ld: %s",
                 c->file, xmlGetLineNo(at), what);
    else
        snprintf(c->why, c->why_len, "%s: modelDescription.xml: %s",
                 c->file, what);
}

static int is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE &&
        strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *k = n->children; k != NULL; k = k->next)
        if (is(k, name))
            return k;
    return NULL;
}

/* The attribute as a malloc'd string, or NULL when absent. */
static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (v == NULL)
        return NULL;
    char *s = strdup((const char *)v);
    xmlFree(v);
    return s;
}

/* The attribute, or "" when absent; NULL only for want of memory. */
static char *attr_or_empty(xml_ctx *c, const xmlNode *n, const char *name)
{
    char *s = attr(n, name);
    if (s == NULL && (s = strdup("")) == NULL)
        fail(c, n, "out of memory");
    return s;
}

static char *attr_required(xml_ctx *c, const xmlNode *n, const char *name)
{
    char *s = attr(n, name);
    if (s == NULL)
        fail(c, n, "<%s> has no %s attribute, which the standard requires",
             (const char *)n->name, name);
    return s;
}

/* A whole-text double attribute into *out (left as is when absent).
 * Returns 1 when given, 0 when absent, -1 when it is no number. */
static int attr_double(xml_ctx *c, const xmlNode *n, const char *name,
                       double *out)
{
    char *s = attr(n, name);
    if (s == NULL)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int bad = end == s || *end != '\0' || isnan(v) ||
        (errno == ERANGE && isinf(v));
    if (bad) {
        fail(c, n, "<%s %s=\"%.60s\">: not a number", (const char *)n->name,
             name, s);
        free(s);
        return -1;
    }
    free(s);
    *out = v;
    return 1;
}

/* A whole-text unsigned integer attribute at most max.  Same returns. */
static int attr_uint(xml_ctx *c, const xmlNode *n, const char *name,
                     unsigned long long max, unsigned long long *out)
{
    char *s = attr(n, name);
    if (s == NULL)
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || s[0] == '-' || s[0] == '+' ||
        errno == ERANGE || v > max) {
        fail(c, n, "<%s %s=\"%.60s\">: not a whole number from 0 to %llu",
             (const char *)n->name, name, s, max);
        free(s);
        return -1;
    }
    free(s);
    *out = v;
    return 1;
}

/* xs:boolean: true, false, 1, 0.  Same returns. */
static int attr_bool(xml_ctx *c, const xmlNode *n, const char *name, int *out)
{
    char *s = attr(n, name);
    if (s == NULL)
        return 0;
    int rc = 1;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *out = 0;
    else {
        fail(c, n, "<%s %s=\"%.60s\">: not true or false",
             (const char *)n->name, name, s);
        rc = -1;
    }
    free(s);
    return rc;
}

/* One of a list of words; returns its index, the default when absent,
 * -1 (and fails) when it is none of them. */
static int attr_enum(xml_ctx *c, const xmlNode *n, const char *name,
                     const char *const *words, int n_words, int dflt)
{
    char *s = attr(n, name);
    if (s == NULL)
        return dflt;
    for (int i = 0; i < n_words; i++)
        if (words[i] != NULL && strcmp(s, words[i]) == 0) {
            free(s);
            return i;
        }
    fail(c, n, "<%s %s=\"%.60s\">: not a value the standard allows",
         (const char *)n->name, name, s);
    free(s);
    return -1;
}

static const char *const causality_words[] = {
    [FMU_C_PARAMETER] = "parameter",
    [FMU_C_CALCULATED_PARAMETER] = "calculatedParameter",
    [FMU_C_INPUT] = "input", [FMU_C_OUTPUT] = "output",
    [FMU_C_LOCAL] = "local", [FMU_C_INDEPENDENT] = "independent",
    [FMU_C_STRUCTURAL_PARAMETER] = "structuralParameter",
};
static const char *const variability_words[] = {
    [FMU_V_CONSTANT] = "constant", [FMU_V_FIXED] = "fixed",
    [FMU_V_TUNABLE] = "tunable", [FMU_V_DISCRETE] = "discrete",
    [FMU_V_CONTINUOUS] = "continuous",
};
static const char *const initial_words[] = {
    [FMU_I_NONE] = NULL, [FMU_I_EXACT] = "exact",
    [FMU_I_APPROX] = "approx", [FMU_I_CALCULATED] = "calculated",
};

/* The FMI 3 element names of the types, in fmu_type order. */
static const char *const fmi3_type_words[] = {
    [FMU_T_FLOAT64] = "Float64", [FMU_T_FLOAT32] = "Float32",
    [FMU_T_INT8] = "Int8", [FMU_T_UINT8] = "UInt8",
    [FMU_T_INT16] = "Int16", [FMU_T_UINT16] = "UInt16",
    [FMU_T_INT32] = "Int32", [FMU_T_UINT32] = "UInt32",
    [FMU_T_INT64] = "Int64", [FMU_T_UINT64] = "UInt64",
    [FMU_T_BOOLEAN] = "Boolean", [FMU_T_ENUM] = "Enumeration",
    [FMU_T_STRING] = "String", [FMU_T_OTHER] = NULL,
};

/* An element name's type: FMI 2's <Real>..., FMI 3's <Float64>...;
 * -1 for an element that is no variable type. */
static int type_of(fmu_version v, const char *name)
{
    if (v == FMU_FMI2) {
        static const struct { const char *n; fmu_type t; } t2[] = {
            {"Real", FMU_T_FLOAT64}, {"Integer", FMU_T_INT32},
            {"Boolean", FMU_T_BOOLEAN}, {"String", FMU_T_STRING},
            {"Enumeration", FMU_T_ENUM},
        };
        for (size_t i = 0; i < sizeof t2 / sizeof t2[0]; i++)
            if (strcmp(name, t2[i].n) == 0)
                return (int)t2[i].t;
        return -1;
    }
    for (int t = 0; t < FMU_T_OTHER; t++)
        if (strcmp(name, fmi3_type_words[t]) == 0)
            return t;
    if (strcmp(name, "Binary") == 0 || strcmp(name, "Clock") == 0)
        return FMU_T_OTHER;
    return -1;
}

static int is_float(fmu_type t)
{
    return t == FMU_T_FLOAT64 || t == FMU_T_FLOAT32;
}

/* ---- TypeDefinitions ---- */

/* Min and max of an enumeration's items, when its element gives none. */
static void enum_items_range(xml_ctx *c, const xmlNode *n, decl_type *t)
{
    double lo = INFINITY, hi = -INFINITY;
    for (const xmlNode *k = n->children; k != NULL && !c->failed;
         k = k->next) {
        if (!is(k, "Item"))
            continue;
        double v = NAN;
        if (attr_double(c, k, "value", &v) == 0)
            fail(c, k, "<Item> has no value attribute");
        if (!c->failed) {
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    if (lo <= hi) {
        t->min = isinf(t->min) ? lo : t->min;
        t->max = isinf(t->max) ? hi : t->max;
    }
}

static void read_type_defs(xml_ctx *c, const xmlNode *defs)
{
    size_t n = 0;
    for (const xmlNode *k = defs->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            n++;
    if (n > FMU_MAX_VARIABLES) {
        fail(c, defs, "%zu type definitions, more than %d", n,
             FMU_MAX_VARIABLES);
        return;
    }
    c->types = calloc(n ? n : 1, sizeof *c->types);
    if (c->types == NULL) {
        fail(c, defs, "out of memory");
        return;
    }
    for (const xmlNode *k = defs->children; k != NULL && !c->failed;
         k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        const xmlNode *e = k;   /* FMI 3: the element itself */
        int t;
        if (c->d->version == FMU_FMI2) {
            if (!is(k, "SimpleType"))
                continue;
            for (e = k->children; e != NULL &&
                 e->type != XML_ELEMENT_NODE; e = e->next)
                ;
            t = e == NULL ? -1 : type_of(FMU_FMI2, (const char *)e->name);
        } else {
            size_t len = strlen((const char *)k->name);
            char base[32];
            if (len < 5 || len >= sizeof base ||
                strcmp((const char *)k->name + len - 4, "Type") != 0)
                continue;
            memcpy(base, k->name, len - 4);
            base[len - 4] = '\0';
            t = type_of(FMU_FMI3, base);
        }
        if (t < 0) {
            fail(c, k, "<%s> declares no type the standard has",
                 (const char *)k->name);
            return;
        }
        decl_type *dt = &c->types[c->n_types];
        dt->type = (fmu_type)t;
        dt->min = -INFINITY;
        dt->max = INFINITY;
        dt->nominal = 1;
        dt->name = attr_required(c, k, "name");
        dt->unit = attr(e, "unit");
        c->n_types++;
        attr_double(c, e, "min", &dt->min);
        attr_double(c, e, "max", &dt->max);
        attr_double(c, e, "nominal", &dt->nominal);
        if (t == FMU_T_ENUM)
            enum_items_range(c, e, dt);
    }
}

static const decl_type *find_type(const xml_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_types; i++)
        if (c->types[i].name != NULL && strcmp(c->types[i].name, name) == 0)
            return &c->types[i];
    return NULL;
}

/* ---- ModelVariables ---- */

/* The element under a ScalarVariable (FMI 2) that holds the type. */
static const xmlNode *fmi2_type_elem(const xmlNode *sv)
{
    for (const xmlNode *k = sv->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE && type_of(FMU_FMI2,
                                                   (const char *)k->name) >= 0)
            return k;
    return NULL;
}

/* One variable from its element(s): v is the named element (FMI 2's
 * ScalarVariable, FMI 3's <Float64> ...), e the one with the type's
 * attributes (the same element in FMI 3). */
static void read_var(xml_ctx *c, const xmlNode *v, const xmlNode *e,
                     fmu_type type, fmu_var *out)
{
    out->type = type;
    out->min = -INFINITY;
    out->max = INFINITY;
    out->nominal = 1;
    out->derivative_of = -1;
    out->name = attr_required(c, v, "name");
    if (c->failed)
        return;
    if (out->name[0] == '\0') {
        fail(c, v, "a variable with an empty name");
        return;
    }
    unsigned long long vr;
    if (attr_uint(c, v, "valueReference", UINT32_MAX, &vr) == 0)
        fail(c, v, "variable \"%.100s\" has no valueReference", out->name);
    out->vr = (uint32_t)vr;
    out->description = attr_or_empty(c, v, "description");
    int cz = attr_enum(c, v, "causality", causality_words,
                       (int)(sizeof causality_words / sizeof *causality_words),
                       FMU_C_LOCAL);
    /* The default is continuous, which only floating point variables
     * can be (FMI 3 says discrete for the others; FMI 2 exporters rely
     * on the same). */
    fmu_variability dv = is_float(type) ? FMU_V_CONTINUOUS : FMU_V_DISCRETE;
    int va = attr_enum(c, v, "variability", variability_words,
                       (int)(sizeof variability_words /
                             sizeof *variability_words), (int)dv);
    int in = attr_enum(c, v, "initial", initial_words,
                       (int)(sizeof initial_words / sizeof *initial_words),
                       FMU_I_NONE);
    if (c->failed)
        return;
    if (cz == FMU_C_STRUCTURAL_PARAMETER && c->d->version == FMU_FMI2) {
        fail(c, v, "causality \"structuralParameter\" is FMI 3 only");
        return;
    }
    out->causality = (fmu_causality)cz;
    out->variability = (fmu_variability)va;
    out->initial = (fmu_initial)in;
    if (va == FMU_V_CONTINUOUS && !is_float(type) && type != FMU_T_OTHER) {
        fail(c, v, "variable \"%.100s\" is continuous but not a floating "
             "point number", out->name);
        return;
    }
    char *dname = attr(e, "declaredType");
    if (dname != NULL) {
        const decl_type *dt = find_type(c, dname);
        if (dt == NULL || (dt->type != type &&
                           !(type == FMU_T_ENUM && dt->type == FMU_T_ENUM))) {
            fail(c, e, "variable \"%.100s\" names declaredType \"%.100s\", "
                 "which TypeDefinitions does not define for its type",
                 out->name, dname);
            free(dname);
            return;
        }
        free(dname);
        out->min = dt->min;
        out->max = dt->max;
        out->nominal = dt->nominal;
        if (dt->unit != NULL && (out->unit = strdup(dt->unit)) == NULL)
            fail(c, e, "out of memory");
    } else if (type == FMU_T_ENUM) {
        fail(c, e, "enumeration \"%.100s\" has no declaredType", out->name);
        return;
    }
    char *unit = attr(e, "unit");
    if (unit != NULL) {
        free(out->unit);
        out->unit = unit;
    }
    if (out->unit == NULL && (out->unit = strdup("")) == NULL)
        fail(c, e, "out of memory");
    attr_double(c, e, "min", &out->min);
    attr_double(c, e, "max", &out->max);
    attr_double(c, e, "nominal", &out->nominal);
    if (!c->failed && out->min > out->max)
        fail(c, e, "variable \"%.100s\" has min %g above max %g", out->name,
             out->min, out->max);
    /* The start value. */
    if (type == FMU_T_STRING) {
        const xmlNode *s = c->d->version == FMU_FMI3 ? child(e, "Start")
                                                     : NULL;
        out->start_string = attr(s != NULL ? s : e, s ? "value" : "start");
        out->has_start = out->start_string != NULL;
        out->start = NAN;
    } else if (type == FMU_T_BOOLEAN) {
        int b = 0;
        int r = attr_bool(c, e, "start", &b);
        out->has_start = r == 1;
        out->start = b;
    } else if (type != FMU_T_OTHER && !out->is_array) {
        int r = attr_double(c, e, "start", &out->start);
        out->has_start = r == 1;
        if (r == 1 && !is_float(type) && out->start != floor(out->start))
            fail(c, e, "variable \"%.100s\" has start \"%g\", not a whole "
                 "number", out->name, out->start);
    }
}

/* The FMI 2 derivative attribute (a 1-based index) or the FMI 3 one (a
 * value reference) of variable e, resolved in pass two. */
static int read_vars(xml_ctx *c, const xmlNode *mv, unsigned long long *deriv)
{
    fmu_desc *d = c->d;
    size_t n = 0;
    for (const xmlNode *k = mv->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE && ++n > FMU_MAX_VARIABLES) {
            fail(c, mv, "more than %d variables", FMU_MAX_VARIABLES);
            return -1;
        }
    d->vars = calloc(n ? n : 1, sizeof *d->vars);
    if (d->vars == NULL) {
        fail(c, mv, "out of memory");
        return -1;
    }
    for (const xmlNode *k = mv->children; k != NULL && !c->failed;
         k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        const xmlNode *e = k;
        int t;
        if (d->version == FMU_FMI2) {
            if (!is(k, "ScalarVariable")) {
                fail(c, k, "<%s> inside ModelVariables, where only "
                     "<ScalarVariable> may be", (const char *)k->name);
                return -1;
            }
            e = fmi2_type_elem(k);
            if (e == NULL) {
                fail(c, k, "a ScalarVariable without <Real>, <Integer>, "
                     "<Boolean>, <String> or <Enumeration>");
                return -1;
            }
            t = type_of(FMU_FMI2, (const char *)e->name);
        } else {
            t = type_of(FMU_FMI3, (const char *)k->name);
            if (t < 0) {
                fail(c, k, "<%s> inside ModelVariables is no variable type "
                     "of FMI 3", (const char *)k->name);
                return -1;
            }
        }
        fmu_var *v = &d->vars[d->n_vars++];
        v->is_array = d->version == FMU_FMI3 && child(k, "Dimension") != NULL;
        read_var(c, k, e, (fmu_type)t, v);
        /* derivative: FMI 2 a 1-based index, FMI 3 a value reference
         * (kept + 1); 0 is "none", resolved in resolve_states. */
        unsigned long long der = 0;
        int r = c->failed ? 0 : attr_uint(c, e, "derivative",
                                          UINT32_MAX, &der);
        if (r > 0 && !is_float(v->type))
            fail(c, e, "variable \"%.100s\" declares a derivative but is "
                 "no floating point number", v->name);
        if (r > 0 && d->version == FMU_FMI2 && der == 0)
            fail(c, e, "variable \"%.100s\" has derivative=\"0\": indices "
                 "start at 1", v->name);
        deriv[d->n_vars - 1] = r > 0 && d->version == FMU_FMI3 ? der + 1
                                                                : der;
    }
    return c->failed ? -1 : 0;
}

static int cmp_name(const void *a, const void *b, void *arg)
{
    const fmu_var *v = arg;
    return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

static int cmp_vr(const void *a, const void *b, void *arg)
{
    const fmu_var *v = arg;
    uint32_t x = v[*(const size_t *)a].vr, y = v[*(const size_t *)b].vr;
    return x < y ? -1 : x > y;
}

/* Names are unique; so are FMI 3's value references (FMI 2 lets
 * variables of one type share one: aliases).  Sorted, as there may be
 * FMU_MAX_VARIABLES of them. */
static void check_unique(xml_ctx *c, const xmlNode *mv)
{
    fmu_desc *d = c->d;
    size_t *ix = malloc((d->n_vars ? d->n_vars : 1) * sizeof *ix);
    if (ix == NULL) {
        fail(c, mv, "out of memory");
        return;
    }
    for (size_t i = 0; i < d->n_vars; i++)
        ix[i] = i;
    qsort_r(ix, d->n_vars, sizeof *ix, cmp_name, d->vars);
    for (size_t i = 1; i < d->n_vars && !c->failed; i++)
        if (strcmp(d->vars[ix[i - 1]].name, d->vars[ix[i]].name) == 0)
            fail(c, mv, "two variables are named \"%.100s\"",
                 d->vars[ix[i]].name);
    if (d->version == FMU_FMI3 && !c->failed) {
        qsort_r(ix, d->n_vars, sizeof *ix, cmp_vr, d->vars);
        for (size_t i = 1; i < d->n_vars && !c->failed; i++) {
            const fmu_var *a = &d->vars[ix[i - 1]], *b = &d->vars[ix[i]];
            if (a->vr == b->vr)
                fail(c, mv, "variables \"%.100s\" and \"%.100s\" share "
                     "value reference %u, which FMI 3 does not allow",
                     a->name, b->name, a->vr);
        }
    }
    free(ix);
}

/* The variable a ModelStructure reference names: FMI 2 a 1-based index,
 * FMI 3 a value reference; -1 (and fails) when it names none. */
static long var_ref(xml_ctx *c, const xmlNode *at, unsigned long long ref,
                    const char *what)
{
    const fmu_desc *d = c->d;
    if (d->version == FMU_FMI2) {
        if (ref >= 1 && ref <= d->n_vars)
            return (long)ref - 1;
        fail(c, at, "%s index %llu points at no variable (there are %zu)",
             what, ref, d->n_vars);
        return -1;
    }
    for (size_t i = 0; i < d->n_vars; i++)
        if (d->vars[i].vr == ref)
            return (long)i;
    fail(c, at, "%s value reference %llu is no variable's", what, ref);
    return -1;
}

/* The reference of a ModelStructure element: index (2) or
 * valueReference (3). */
static long unknown_of(xml_ctx *c, const xmlNode *u, const char *what)
{
    unsigned long long ref;
    const char *a = c->d->version == FMU_FMI2 ? "index" : "valueReference";
    int r = attr_uint(c, u, a, UINT32_MAX, &ref);
    if (r == 0)
        fail(c, u, "<%s> has no %s attribute", (const char *)u->name, a);
    return r > 0 ? var_ref(c, u, ref, what) : -1;
}

/* The dependencies attribute of u into *deps (given 0 when absent). */
static void read_deps(xml_ctx *c, const xmlNode *u, struct fmu_deps *deps)
{
    const fmu_desc *d = c->d;
    char *list = attr(u, "dependencies");
    if (list == NULL)
        return;
    deps->given = 1;
    char *save = NULL;
    for (char *tok = strtok_r(list, " \t\r\n", &save);
         tok != NULL && !c->failed; tok = strtok_r(NULL, " \t\r\n", &save)) {
        char *end;
        errno = 0;
        unsigned long long ref = strtoull(tok, &end, 10);
        if (*end != '\0' || tok[0] == '-' || errno == ERANGE ||
            ref > UINT32_MAX) {
            fail(c, u, "dependencies \"%.60s\" is no list of whole "
                 "numbers", tok);
            break;
        }
        long k = var_ref(c, u, ref, "a dependency's");
        if (k < 0)
            break;
        if (deps->n >= d->n_vars) {
            fail(c, u, "more dependencies than there are variables");
            break;
        }
        if (deps->vars == NULL &&
            (deps->vars = calloc(d->n_vars, sizeof *deps->vars)) == NULL) {
            fail(c, u, "out of memory");
            break;
        }
        deps->vars[deps->n++] = (size_t)k;
    }
    free(list);
}

/* Whether an output with these dependencies (absent: on everything)
 * depends directly on an input. */
static int depends_on_input(const fmu_desc *d, const struct fmu_deps *deps)
{
    if (!deps->given) {
        for (size_t i = 0; i < d->n_vars; i++)
            if (d->vars[i].causality == FMU_C_INPUT)
                return 1;
        return 0;
    }
    for (size_t i = 0; i < deps->n; i++)
        if (d->vars[deps->vars[i]].causality == FMU_C_INPUT)
            return 1;
    return 0;
}

static void read_structure(xml_ctx *c, const xmlNode *ms)
{
    fmu_desc *d = c->d;
    size_t cap = d->n_vars ? d->n_vars : 1;
    d->outputs = calloc(cap, sizeof *d->outputs);
    d->output_feedthrough = calloc(cap, sizeof *d->output_feedthrough);
    d->states = calloc(cap, sizeof *d->states);
    d->derivatives = calloc(cap, sizeof *d->derivatives);
    d->output_deps = calloc(cap, sizeof *d->output_deps);
    d->state_deps = calloc(cap, sizeof *d->state_deps);
    if (!d->outputs || !d->output_feedthrough || !d->states ||
        !d->derivatives || !d->output_deps || !d->state_deps) {
        fail(c, ms, "out of memory");
        return;
    }
    /* FMI 2 nests <Unknown> in <Outputs> and <Derivatives>; FMI 3 lists
     * <Output>, <ContinuousStateDerivative>, <EventIndicator>. */
    const xmlNode *outs = ms, *ders = ms;
    const char *out_name = "Output", *der_name = "ContinuousStateDerivative";
    if (d->version == FMU_FMI2) {
        outs = child(ms, "Outputs");
        ders = child(ms, "Derivatives");
        out_name = der_name = "Unknown";
    }
    for (const xmlNode *u = outs ? outs->children : NULL;
         u != NULL && !c->failed; u = u->next) {
        if (!is(u, out_name))
            continue;
        long k = unknown_of(c, u, "an output's");
        if (k < 0)
            break;
        if (d->vars[k].causality != FMU_C_OUTPUT) {
            fail(c, u, "ModelStructure lists \"%.100s\" as an output, but "
                 "its causality is not output", d->vars[k].name);
            break;
        }
        if (d->n_outputs >= cap) {
            fail(c, u, "more outputs listed than there are variables");
            break;
        }
        read_deps(c, u, &d->output_deps[d->n_outputs]);
        d->output_feedthrough[d->n_outputs] =
            depends_on_input(d, &d->output_deps[d->n_outputs]);
        d->outputs[d->n_outputs++] = (size_t)k;
    }
    for (const xmlNode *u = ders ? ders->children : NULL;
         u != NULL && !c->failed; u = u->next) {
        if (!is(u, der_name))
            continue;
        long k = unknown_of(c, u, "a derivative's");
        if (k < 0)
            break;
        if (d->n_states >= cap) {
            fail(c, u, "more derivatives listed than there are variables");
            break;
        }
        read_deps(c, u, &d->state_deps[d->n_states]);
        d->derivatives[d->n_states++] = (size_t)k;
    }
    if (d->version == FMU_FMI3)
        for (const xmlNode *u = ms->children; u != NULL && !c->failed;
             u = u->next)
            if (is(u, "EventIndicator") &&
                unknown_of(c, u, "an event indicator's") >= 0 &&
                ++d->n_event_indicators > FMU_MAX_VARIABLES)
                fail(c, u, "more than %d event indicators",
                     FMU_MAX_VARIABLES);
}

/* Each derivative's state, from its derivative attribute. */
static void resolve_states(xml_ctx *c, const xmlNode *ms,
                           const unsigned long long *deriv)
{
    fmu_desc *d = c->d;
    for (size_t s = 0; s < d->n_states && !c->failed; s++) {
        size_t k = d->derivatives[s];
        fmu_var *dv = &d->vars[k];
        if (deriv[k] == 0) {
            fail(c, ms, "ModelStructure lists \"%.100s\" as a derivative, "
                 "but it has no derivative attribute", dv->name);
            return;
        }
        long st = var_ref(c, ms, d->version == FMU_FMI2 ? deriv[k]
                                                        : deriv[k] - 1,
                          "a derivative attribute's");
        if (st < 0)
            return;
        if (!is_float(d->vars[st].type) || (size_t)st == k ||
            d->vars[st].is_array || dv->is_array) {
            fail(c, ms, "\"%.100s\" is declared the derivative of "
                 "\"%.100s\", which is no scalar floating point state",
                 dv->name, d->vars[st].name);
            return;
        }
        for (size_t o = 0; o < s; o++)
            if (d->states[o] == (size_t)st) {
                fail(c, ms, "state \"%.100s\" has two derivatives",
                     d->vars[st].name);
                return;
            }
        d->states[s] = (size_t)st;
        dv->derivative_of = st;
    }
}

/* ---- the root ---- */

static void read_interfaces(xml_ctx *c, const xmlNode *root)
{
    fmu_desc *d = c->d;
    const xmlNode *me = child(root, "ModelExchange");
    const xmlNode *cs = child(root, "CoSimulation");
    if (me != NULL) {
        d->interfaces |= FMU_ME;
        d->me_identifier = attr_required(c, me, "modelIdentifier");
        int flag = 0;
        if (d->version == FMU_FMI2) {
            attr_bool(c, me, "completedIntegratorStepNotNeeded", &flag);
            d->me_needs_completed_step = !flag;
        } else {
            attr_bool(c, me, "needsCompletedIntegratorStep", &flag);
            d->me_needs_completed_step = flag;
        }
    }
    if (cs != NULL) {
        d->interfaces |= FMU_CS;
        d->cs_identifier = attr_required(c, cs, "modelIdentifier");
        attr_bool(c, cs, "canHandleVariableCommunicationStepSize",
                  &d->cs_can_handle_variable_step);
        if (d->version == FMU_FMI3)
            attr_bool(c, cs, "canReturnEarlyAfterIntermediateUpdate",
                      &d->cs_can_return_early);
    }
    if (!c->failed && d->interfaces == 0)
        fail(c, root, "the FMU offers neither ModelExchange nor "
             "CoSimulation (twinctl does not run Scheduled Execution)");
    /* A model identifier is a file name: binaries/<platform>/<id>.so. */
    const char *ids[2] = {d->me_identifier, d->cs_identifier};
    for (int i = 0; i < 2 && !c->failed; i++) {
        const char *id = ids[i];
        if (id == NULL)
            continue;
        int ok = id[0] != '\0' && strlen(id) < 200;
        for (const char *p = id; ok && *p; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok || (id[0] >= '0' && id[0] <= '9'))
            fail(c, i ? cs : me, "modelIdentifier \"%.100s\" is not a C "
                 "identifier, as the standard requires", id);
    }
}

static void read_root(xml_ctx *c, const xmlNode *root)
{
    fmu_desc *d = c->d;
    if (root == NULL || !is(root, "fmiModelDescription")) {
        fail(c, root, "the root element is not <fmiModelDescription>");
        return;
    }
    d->fmi_version = attr_required(c, root, "fmiVersion");
    if (c->failed)
        return;
    if (strncmp(d->fmi_version, "2.", 2) == 0 &&
        strcmp(d->fmi_version, "2.0") == 0)
        d->version = FMU_FMI2;
    else if (strncmp(d->fmi_version, "3.", 2) == 0 &&
             d->fmi_version[2] >= '0' && d->fmi_version[2] <= '9' &&
             strspn(d->fmi_version + 2, "0123456789.") ==
                 strlen(d->fmi_version + 2))
        d->version = FMU_FMI3;
    else {
        fail(c, root, "fmiVersion \"%.40s\" is not supported: twinctl reads "
             "FMI 2.0 and 3.x; export the FMU for FMI 2.0 or 3.0",
             d->fmi_version);
        return;
    }
    d->model_name = attr_required(c, root, "modelName");
    d->token = attr_required(c, root, d->version == FMU_FMI2
                                      ? "guid" : "instantiationToken");
    d->description = attr_or_empty(c, root, "description");
    d->generation_tool = attr_or_empty(c, root, "generationTool");
    d->version_text = attr_or_empty(c, root, "version");
    if (d->version == FMU_FMI2) {
        unsigned long long n = 0;
        attr_uint(c, root, "numberOfEventIndicators", FMU_MAX_VARIABLES, &n);
        d->n_event_indicators = (size_t)n;
    }
    read_interfaces(c, root);
    if (c->failed)
        return;
    const xmlNode *defs = child(root, "TypeDefinitions");
    if (defs != NULL)
        read_type_defs(c, defs);
    const xmlNode *de = child(root, "DefaultExperiment");
    if (de != NULL && !c->failed) {
        attr_double(c, de, "startTime", &d->de_start);
        attr_double(c, de, "stopTime", &d->de_stop);
        attr_double(c, de, "tolerance", &d->de_tolerance);
        attr_double(c, de, "stepSize", &d->de_step);
    }
    const xmlNode *mv = child(root, "ModelVariables");
    const xmlNode *ms = child(root, "ModelStructure");
    if (!c->failed && mv == NULL)
        fail(c, root, "there is no <ModelVariables>");
    if (!c->failed && ms == NULL)
        fail(c, root, "there is no <ModelStructure>");
    if (c->failed)
        return;
    size_t n = 0;
    for (const xmlNode *k = mv->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE && ++n > FMU_MAX_VARIABLES) {
            fail(c, mv, "more than %d variables", FMU_MAX_VARIABLES);
            return;
        }
    unsigned long long *deriv = calloc(n ? n : 1, sizeof *deriv);
    if (deriv == NULL) {
        fail(c, mv, "out of memory");
        return;
    }
    if (read_vars(c, mv, deriv) == 0) {
        check_unique(c, mv);
        if (!c->failed)
            read_structure(c, ms);
        if (!c->failed)
            resolve_states(c, ms, deriv);
    }
    free(deriv);
}

int fmu_xml__parse(const char *bytes, size_t len, const char *name,
                   fmu_desc *d, char *why, size_t why_len)
{
    memset(d, 0, sizeof *d);
    d->de_start = d->de_stop = d->de_tolerance = d->de_step = NAN;
    xml_ctx c = {.file = name, .d = d, .why = why, .why_len = why_len};
    if (len > FMU_MAX_XML_BYTES || len > INT32_MAX) {
        fail(&c, NULL, "%zu bytes, more than the %u a description may have",
             len, FMU_MAX_XML_BYTES);
        return -1;
    }
    xmlParserCtxtPtr p = xmlNewParserCtxt();
    if (p == NULL) {
        fail(&c, NULL, "out of memory");
        return -1;
    }
    xmlDocPtr doc = xmlCtxtReadMemory(p, bytes, (int)len, "modelDescription.xml",
        NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        const xmlError *e = xmlCtxtGetLastError(p);
        char msg[256] = "not well-formed XML";
        if (e != NULL && e->message != NULL) {
            snprintf(msg, sizeof msg, "%s", e->message);
            msg[strcspn(msg, "\n")] = '\0';
        }
        if (e != NULL && e->line > 0)
            snprintf(why, why_len, "%s: modelDescription.xml line %d: %s",
                     name, e->line, msg);
        else
            fail(&c, NULL, "%s", msg);
        c.failed = 1;
    } else if (doc->intSubset != NULL || doc->extSubset != NULL) {
        fail(&c, NULL, "a DOCTYPE declaration, which a model description "
             "never has: refused (entities are not expanded)");
    } else {
        read_root(&c, xmlDocGetRootElement(doc));
    }
    for (size_t i = 0; i < c.n_types; i++) {
        free(c.types[i].name);
        free(c.types[i].unit);
    }
    free(c.types);
    if (doc != NULL)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(p);
    if (c.failed) {
        fmu_xml__free(d);
        return -1;
    }
    return 0;
}

int fmu_xml__read(const char *path, const char *dir, fmu_desc *d,
                  char *why, size_t why_len)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/modelDescription.xml", dir);
    memset(d, 0, sizeof *d);
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "%s: the archive has no modelDescription.xml "
                 "at its top level, so it is not an FMU", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > FMU_MAX_XML_BYTES) {
        snprintf(why, why_len, "%s: modelDescription.xml has %lld bytes, "
                 "more than the %u a description may have", path,
                 (long long)st.st_size, FMU_MAX_XML_BYTES);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len ? len : 1);
    while (buf != NULL && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != len) {
        snprintf(why, why_len, "%s: cannot read modelDescription.xml",
                 path);
        free(buf);
        return -1;
    }
    int rc = fmu_xml__parse(buf, len, path, d, why, why_len);
    free(buf);
    return rc;
}

void fmu_xml__free(fmu_desc *d)
{
    for (size_t i = 0; i < d->n_vars; i++) {
        fmu_var *v = &d->vars[i];
        free(v->name);
        free(v->start_string);
        free(v->unit);
        free(v->description);
    }
    free(d->vars);
    free(d->fmi_version);
    free(d->model_name);
    free(d->token);
    free(d->description);
    free(d->generation_tool);
    free(d->version_text);
    free(d->me_identifier);
    free(d->cs_identifier);
    for (size_t j = 0; d->output_deps && j < d->n_outputs; j++)
        free(d->output_deps[j].vars);
    for (size_t j = 0; d->state_deps && j < d->n_states; j++)
        free(d->state_deps[j].vars);
    free(d->output_deps);
    free(d->state_deps);
    free(d->outputs);
    free(d->output_feedthrough);
    free(d->states);
    free(d->derivatives);
    memset(d, 0, sizeof *d);
}
