/*
 * scenario.c — composing a scenario document into a runnable description.
 *
 * Reads the DESIGN.md scenario format, resolves instances against the
 * instance and model libraries, and checks everything: types, ranges
 * against the models' variable metadata, connections (existence,
 * direction, one driver per input), input profiles, output selection and,
 * when the scenario asks to reject them, algebraic loops (solving them is
 * loops.c's).  Every problem is reported with code, JSON Pointer and
 * sentence; composition goes on after a problem so that one pass names them
 * all.  Building solver state is sim.c's business.
 */
#include "scenario.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>

#include "alarms.h"
#include "measured.h"
#include "fmu.h"
#include "fn_library.h"
#include "graph.h"
#include "tolerances.h"

/* Composition state: the document, the libraries, the problems. */
typedef struct composer {
    const json_t *doc;
    const model_lib *models;
    const instance_lib *instances;
    scenario_limits limits;
    twin_errors *errs;
    scenario *sc;
    unsigned char *driven;     /* per instance: bitmap of driven inputs */
    size_t *driven_off;        /* offset of each instance's bits */
    int oom;
} composer;

#define ADD(c, code, path, ...) errors__add((c)->errs, code, path, __VA_ARGS__)

static const char *type_name(const json_t *v)
{
    return errors__json_kind(v);
}

/* A path built from base + token; never NULL (falls back to base). */
typedef struct path_buf {
    char *p;
} path_buf;

static const char *path_of(path_buf *pb, const char *base, const char *token)
{
    free(pb->p);
    pb->p = errors__path(base, token);
    return pb->p ? pb->p : base;
}

static const char *path_ofi(path_buf *pb, const char *base, size_t i)
{
    free(pb->p);
    pb->p = errors__pathi(base, i);
    return pb->p ? pb->p : base;
}

/* Read an optional number member.  Returns 1 when present and a number,
 * 0 when absent, -1 (reported) when present with another type. */
static int get_number(composer *c, const json_t *obj, const char *key,
                      const char *path, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_number(v)) {
        ADD(c, TWIN_E_WRONG_TYPE, path, "'%s' must be a number, not %s", key,
            type_name(v));
        return -1;
    }
    *out = json_number_value(v);
    return 1;
}

static int dimensionless(const char *unit)
{
    return unit[0] == '\0' || strcmp(unit, "1") == 0;
}

twin_err_code scenario__value(const twin_variable *v, const json_t *j,
                              const char *what, double *out, char *why,
                              size_t why_len)
{
    int boolean = (v->flags & TWIN_VAR_BOOLEAN) != 0;
    double x;
    if (json_is_number(j)) {
        x = json_number_value(j);
    } else if (boolean && json_is_boolean(j)) {
        x = json_is_true(j) ? 1.0 : 0.0;
    } else {
        snprintf(why, why_len, "%s '%s' must be %s, not %s", what, v->name,
                 boolean ? "a number 0 or 1, or true or false" : "a number",
                 type_name(j));
        return TWIN_E_WRONG_TYPE;
    }
    if (!isfinite(x)) {
        snprintf(why, why_len, "%s '%s' must be finite", what, v->name);
        return TWIN_E_OUT_OF_RANGE;
    }
    if (boolean && x != 0.0 && x != 1.0) {
        snprintf(why, why_len, "%s '%s' is boolean: it is 0 or 1 (or false "
                 "or true), not %g", what, v->name, x);
        return TWIN_E_OUT_OF_RANGE;
    }
    if ((v->flags & TWIN_VAR_INTEGER) && x != floor(x)) {
        snprintf(why, why_len, "%s '%s' is an integer: %.17g is not a whole "
                 "number", what, v->name, x);
        return TWIN_E_OUT_OF_RANGE;
    }
    if (x < v->min || x > v->max) {
        snprintf(why, why_len, "%s '%s' is %g, outside its range [%g, %g]%s%s",
                 what, v->name, x, v->min, v->max,
                 dimensionless(v->unit) ? "" : " ",
                 dimensionless(v->unit) ? "" : v->unit);
        return TWIN_E_OUT_OF_RANGE;
    }
    *out = x;
    return 0;
}

/* Read value j for v at path into *out: 0, or -1 (reported). */
static int check_value(composer *c, const twin_variable *v, const json_t *j,
                       const char *path, const char *what, double *out)
{
    char why[512];
    twin_err_code code = scenario__value(v, j, what, out, why, sizeof why);
    if (code == 0)
        return 0;
    ADD(c, code, path, "%s", why);
    return -1;
}

/* ---- time, pace, solver ------------------------------------------------ */

static void compose_time(composer *c)
{
    scenario *sc = c->sc;
    const json_t *time = json_object_get(c->doc, "time");
    if (time == NULL) {
        ADD(c, TWIN_E_MISSING_FIELD, "/time",
            "a scenario needs \"time\": {\"start\": 0, \"stop\": ..., "
            "\"dt\": ...}");
        return;
    }
    if (!json_is_object(time)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/time", "\"time\" must be an object, not %s",
            type_name(time));
        return;
    }
    sc->start = 0.0;
    int ok = get_number(c, time, "start", "/time/start", &sc->start) >= 0;
    int has_stop = get_number(c, time, "stop", "/time/stop", &sc->stop);
    int has_dt = get_number(c, time, "dt", "/time/dt", &sc->dt);
    if (has_stop == 0)
        ADD(c, TWIN_E_MISSING_FIELD, "/time/stop",
            "\"time\" needs \"stop\", the end time in seconds");
    if (has_dt == 0)
        ADD(c, TWIN_E_MISSING_FIELD, "/time/dt",
            "\"time\" needs \"dt\", the fixed tick length in seconds");
    if (!ok || has_stop != 1 || has_dt != 1)
        return;
    if (!isfinite(sc->start))
        ADD(c, TWIN_E_OUT_OF_RANGE, "/time/start", "start must be finite");
    if (!(sc->dt > 0.0) || !isfinite(sc->dt)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, "/time/dt",
            "dt must be a positive number of seconds, not %g", sc->dt);
        return;
    }
    if (!(sc->stop > sc->start) || !isfinite(sc->stop)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, "/time/stop",
            "stop (%g) must be after start (%g)", sc->stop, sc->start);
        return;
    }
    double ticks = (sc->stop - sc->start) / sc->dt;
    double whole = nearbyint(ticks);
    if (fabs(ticks - whole) > 1e-9 * fmax(1.0, ticks)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, "/time/dt",
            "stop − start (%g s) is not a whole number of ticks of dt = %g s "
            "(%.6g ticks); choose a dt that divides it", sc->stop - sc->start,
            sc->dt, ticks);
        return;
    }
    if (whole > 1e12) {
        ADD(c, TWIN_E_TOO_LARGE, "/time",
            "%.0f ticks is more than this controller runs in one scenario",
            whole);
        return;
    }
    sc->n_ticks = (size_t)whole;
}

static void compose_pace(composer *c)
{
    scenario *sc = c->sc;
    const json_t *pace = json_object_get(c->doc, "pace");
    sc->realtime = 0;
    sc->speed = 1.0;
    if (pace == NULL)
        return;
    if (json_is_string(pace)) {
        if (strcmp(json_string_value(pace), "batch") != 0)
            ADD(c, TWIN_E_OUT_OF_RANGE, "/pace",
                "pace is \"batch\" or {\"realtime\": speed}, not \"%s\"",
                json_string_value(pace));
        return;
    }
    if (!json_is_object(pace)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/pace",
            "pace is \"batch\" or {\"realtime\": speed}, not %s",
            type_name(pace));
        return;
    }
    int got = get_number(c, pace, "realtime", "/pace/realtime", &sc->speed);
    if (got == 0)
        ADD(c, TWIN_E_MISSING_FIELD, "/pace/realtime",
            "a paced run needs \"realtime\": the speed factor (1.0 = wall "
            "clock)");
    else if (got == 1 && !(sc->speed > 0.0 && isfinite(sc->speed)))
        ADD(c, TWIN_E_OUT_OF_RANGE, "/pace/realtime",
            "the real-time speed factor must be positive, not %g", sc->speed);
    else if (got == 1)
        sc->realtime = 1;
}

static void compose_solver(composer *c)
{
    scenario *sc = c->sc;
    sc->method = SC_BDF;
    sc->rtol = 1e-6;
    sc->atol = 1e-8;
    const json_t *solver = json_object_get(c->doc, "solver");
    if (solver == NULL)
        return;
    if (!json_is_object(solver)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/solver",
            "\"solver\" must be an object, not %s", type_name(solver));
        return;
    }
    const json_t *method = json_object_get(solver, "method");
    if (method != NULL) {
        if (!json_is_string(method))
            ADD(c, TWIN_E_WRONG_TYPE, "/solver/method",
                "method must be the string \"bdf\" or \"adams\"");
        else if (strcmp(json_string_value(method), "bdf") == 0)
            sc->method = SC_BDF;
        else if (strcmp(json_string_value(method), "adams") == 0)
            sc->method = SC_ADAMS;
        else
            ADD(c, TWIN_E_OUT_OF_RANGE, "/solver/method",
                "method is \"bdf\" (stiff) or \"adams\" (non-stiff), not "
                "\"%s\"", json_string_value(method));
    }
    if (get_number(c, solver, "rtol", "/solver/rtol", &sc->rtol) == 1 &&
        !(sc->rtol > 0.0 && sc->rtol < 1.0))
        ADD(c, TWIN_E_OUT_OF_RANGE, "/solver/rtol",
            "rtol must be in (0, 1), not %g", sc->rtol);
    if (get_number(c, solver, "atol", "/solver/atol", &sc->atol) == 1 &&
        !(sc->atol > 0.0 && isfinite(sc->atol)))
        ADD(c, TWIN_E_OUT_OF_RANGE, "/solver/atol",
            "atol must be positive, not %g", sc->atol);
}

/* A member whose value is one of a few names: *out gets the index of the
 * name in names (NULL-terminated), or stays as it is when the member is
 * absent.  what says, for the message, what the member does. */
static void compose_choice(composer *c, const char *member,
                           const char *const *names, int *out,
                           const char *what)
{
    const json_t *v = json_object_get(c->doc, member);
    if (v == NULL)
        return;
    for (int i = 0; json_is_string(v) && names[i]; i++)
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *out = i;
            return;
        }
    char path[64];
    snprintf(path, sizeof path, "/%s", member);
    ADD(c, json_is_string(v) ? TWIN_E_OUT_OF_RANGE : TWIN_E_WRONG_TYPE,
        path, "\"%s\" is %s, not %s%s%s", member, what,
        json_is_string(v) ? "\"" : "",
        json_is_string(v) ? json_string_value(v) : type_name(v),
        json_is_string(v) ? "\"" : "");
}

/* "algebraic_loops": "solve" (default: loops.c solves them) or "reject"
 * (check_loops refuses them, as before loops were solved);
 * "linear_solver" and "integrators": how groups are integrated
 * (jacobian.c), "auto" by default. */
static void compose_loops(composer *c)
{
    static const char *const loops[] = {"solve", "reject", NULL};
    static const char *const solvers[] = {"auto", "dense", "band", "klu",
                                          NULL};
    static const char *const integrators[] = {"auto", "separate", "stacked",
                                              NULL};
    compose_choice(c, "algebraic_loops", loops, &c->sc->reject_loops,
                   "\"solve\" (solve each loop of feedthrough connections "
                   "at every evaluation, the default) or \"reject\" (refuse "
                   "them)");
    int ls = SC_LS_AUTO, in = SC_INTEGRATORS_AUTO;
    compose_choice(c, "linear_solver", solvers, &ls,
                   "the linear solver of every integrator: \"auto\" (the "
                   "default: chosen by each group's size and structure), "
                   "\"dense\", \"band\" or \"klu\"");
    compose_choice(c, "integrators", integrators, &in,
                   "how independent groups are integrated: \"auto\" (the "
                   "default), \"separate\" (one integrator each) or "
                   "\"stacked\" (one integrator for all)");
    c->sc->linear_solver = (sc_linear_solver)ls;
    c->sc->integrators = (sc_integrators)in;
}

/* ---- instances --------------------------------------------------------- */

static int valid_instance_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Apply an object of parameter values; path is where the object is. */
static void apply_params(composer *c, sc_instance *si, const json_t *params,
                         const char *path, const char *source)
{
    path_buf pb = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v) {
        const char *p = path_of(&pb, path, k);
        size_t idx;
        if (modlib__find_param(si->model, k, &idx) != 0) {
            ADD(c, TWIN_E_UNKNOWN_VARIABLE, p,
                "model '%s' has no parameter '%s'%s", si->model->d->name, k,
                source);
            continue;
        }
        const twin_variable *var = si->model->param[idx];
        if (var->flags & TWIN_VAR_STRING) {
            if (!json_is_string(v)) {
                ADD(c, TWIN_E_WRONG_TYPE, p, "parameter '%s' is a string: "
                    "give it as a JSON string, not %s%s", k, type_name(v),
                    source);
                continue;
            }
            char *text = strdup(json_string_value(v));
            if (text == NULL) {
                c->oom = 1;
                continue;
            }
            free(si->strings[idx]);
            si->strings[idx] = text;
            continue;
        }
        double x;
        if (!json_is_number(v) && !json_is_boolean(v)) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "parameter '%s' must be a number, "
                "not %s%s", k, type_name(v), source);
            continue;
        }
        if (check_value(c, var, v, p, "parameter", &x) == 0)
            si->params[idx] = x;
    }
    free(pb.p);
}

static void apply_start(composer *c, sc_instance *si, const json_t *start,
                        const char *path)
{
    path_buf pb = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)start, k, v) {
        const char *p = path_of(&pb, path, k);
        twin_var_kind kind;
        size_t idx;
        if (modlib__find_signal(si->model, k, &kind, &idx) != 0 ||
            kind != TWIN_VAR_STATE) {
            ADD(c, TWIN_E_UNKNOWN_VARIABLE, p,
                "model '%s' has no state '%s' to give a start value",
                si->model->d->name, k);
            continue;
        }
        double x;
        if (check_value(c, si->model->state[idx], v, p, "start value of",
                        &x) == 0)
            si->start[idx] = x;
    }
    free(pb.p);
}

static int instance_arrays(sc_instance *si)
{
    const twin_model *m = si->model;
    si->params = calloc(m->n_param + 1, sizeof(double));
    si->start = calloc(m->n_state + 1, sizeof(double));
    si->input_start = calloc(m->n_input + 1, sizeof(double));
    si->strings = calloc(m->n_param + 1, sizeof(char *));
    if (!si->params || !si->start || !si->input_start || !si->strings)
        return -1;
    for (size_t i = 0; i < m->n_param; i++)
        si->params[i] = m->param[i]->flags & TWIN_VAR_STRING
                            ? NAN : m->param[i]->start;
    for (size_t i = 0; i < m->n_state; i++)
        si->start[i] = m->state[i]->start;
    for (size_t i = 0; i < m->n_input; i++)
        si->input_start[i] = m->input[i]->start;
    return 0;
}

/* A discrete model's own sample period (ABI 1.1): a whole number of the
 * run's ticks, within a relative 1e-9. */
static void sample_period(composer *c, sc_instance *si, const char *path)
{
    double period = si->model->sample_period, dt = c->sc->dt;
    si->period_ticks = 1;
    if (!(period > 0) || !(dt > 0) || !isfinite(dt))
        return;
    double ticks = period / dt, whole = nearbyint(ticks);
    if (whole < 1 || fabs(ticks - whole) > 1e-9 * ticks) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path, "instance '%s' (model '%s') has a "
            "sample period of %g s, which is not a whole number of the "
            "run's ticks of %g s: choose a \"dt\" that divides it",
            si->name, si->model->d->name, period, dt);
        return;
    }
    si->period_ticks = (size_t)whole;
}


/* An instance's "fmi_interface": the model as Model Exchange (an FMU's
 * default when it offers both) or its Co-Simulation twin (model_lib.h).
 * NULL, with the problem added, when the model has no such interface. */
static const twin_model *pick_interface(composer *c, const twin_model *m,
                                        const json_t *v, const char *where,
                                        const char *name)
{
    const char *s = json_string_value(v);
    int cs = s != NULL && strcmp(s, "co-simulation") == 0;
    if (s == NULL || (!cs && strcmp(s, "model-exchange") != 0)) {
        ADD(c, json_is_string(v) ? TWIN_E_OUT_OF_RANGE : TWIN_E_WRONG_TYPE,
            where, "\"fmi_interface\" of instance '%s' is "
            "\"model-exchange\" or \"co-simulation\"", name);
        return NULL;
    }
    const fmu *f = fmu_model__of(m->d);
    if (f == NULL) {
        ADD(c, TWIN_E_OUT_OF_RANGE, where, "instance '%s': model '%s' is a "
            "plugin, not an FMU; only an FMU has an interface to choose "
            "(leave \"fmi_interface\" out)", name, m->d->name);
        return NULL;
    }
    if (cs && m->cs != NULL)
        return m->cs;
    if ((cs ? FMU_CS : FMU_ME) == f->use)
        return m;
    ADD(c, TWIN_E_OUT_OF_RANGE, where, "instance '%s': the FMU of model '%s' "
        "offers no %s interface (only %s)", name, m->d->name,
        cs ? "Co-Simulation" : "Model Exchange",
        f->use == FMU_ME ? "Model Exchange" : "Co-Simulation");
    return NULL;
}

static void compose_instance(composer *c, const char *name, const json_t *def,
                             const char *path)
{
    scenario *sc = c->sc;
    path_buf pb = {0};
    if (!valid_instance_name(name)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path,
            "instance name '%s' must start with a letter and hold only "
            "letters, digits, _ and -", name);
        goto exit;
    }
    if (!json_is_object(def)) {
        ADD(c, TWIN_E_WRONG_TYPE, path, "instance '%s' must be an object, "
            "not %s", name, type_name(def));
        goto exit;
    }
    const json_t *lib_id = json_object_get(def, "instance");
    const json_t *model = json_object_get(def, "model");
    const instance_doc *doc = NULL;
    const char *model_name = NULL;
    const char *model_path = path_of(&pb, path, "model");
    char *model_path_copy = strdup(model_path);

    if (lib_id != NULL) {
        const char *ip = path_of(&pb, path, "instance");
        if (!json_is_string(lib_id)) {
            ADD(c, TWIN_E_WRONG_TYPE, ip, "\"instance\" must be the string id "
                "of an instance-library document");
        } else if ((doc = instlib__find(c->instances,
                                        json_string_value(lib_id))) == NULL) {
            ADD(c, TWIN_E_UNKNOWN_INSTANCE, ip,
                "there is no instance '%s' in the instance library",
                json_string_value(lib_id));
        } else {
            model_name = doc->model;
        }
    }
    if (model != NULL) {
        if (!json_is_string(model)) {
            ADD(c, TWIN_E_WRONG_TYPE, model_path_copy ? model_path_copy : path,
                "\"model\" must be a model name string, not %s",
                type_name(model));
            model_name = NULL;
            doc = NULL;
        } else if (doc != NULL &&
                   strcmp(doc->model, json_string_value(model)) != 0) {
            ADD(c, TWIN_E_OUT_OF_RANGE, model_path_copy ? model_path_copy : path,
                "instance '%s' of the library is a '%s', not a '%s'",
                doc->id, doc->model, json_string_value(model));
            model_name = NULL;
        } else {
            model_name = json_string_value(model);
        }
    } else if (lib_id == NULL) {
        ADD(c, TWIN_E_MISSING_FIELD, model_path_copy ? model_path_copy : path,
            "instance '%s' needs a \"model\" (with \"params\") or an "
            "\"instance\" from the instance library", name);
    }
    const twin_model *m = NULL;
    if (model_name != NULL) {
        m = modlib__find(c->models, model_name);
        if (m == NULL) {
            const char *where = model != NULL && model_path_copy
                                    ? model_path_copy
                                    : path_of(&pb, path, "instance");
            ADD(c, TWIN_E_UNKNOWN_MODEL, where,
                "there is no model '%s' in the model library%s%s%s",
                model_name, doc ? " (named by instance library document " : "",
                doc ? doc->path : "", doc ? ")" : "");
        }
    }
    free(model_path_copy);
    if (m == NULL)
        goto exit;
    const json_t *iface = json_object_get(def, "fmi_interface");
    if (iface != NULL &&
        (m = pick_interface(c, m, iface, path_of(&pb, path, "fmi_interface"),
                            name)) == NULL)
        goto exit;

    sc_instance *si = &sc->inst[sc->n_inst];
    memset(si, 0, sizeof *si);
    si->model = m;
    si->name = strdup(name);
    si->library_id = doc ? strdup(doc->id) : NULL;
    sc->n_inst++;
    if (si->name == NULL || (doc && si->library_id == NULL) ||
        instance_arrays(si) != 0) {
        c->oom = 1;
        goto exit;
    }
    if (doc != NULL) {
        char source[4200];
        snprintf(source, sizeof source, " (from instance library %s)",
                 doc->path);
        apply_params(c, si, doc->params, path_of(&pb, path, "instance"),
                     source);
    }
    const json_t *params = json_object_get(def, "params");
    if (params != NULL && !json_is_object(params))
        ADD(c, TWIN_E_WRONG_TYPE, path_of(&pb, path, "params"),
            "\"params\" must be an object of numbers, not %s",
            type_name(params));
    else if (params != NULL)
        apply_params(c, si, params, path_of(&pb, path, "params"), "");
    const json_t *start = json_object_get(def, "start");
    if (start != NULL && !json_is_object(start))
        ADD(c, TWIN_E_WRONG_TYPE, path_of(&pb, path, "start"),
            "\"start\" must be an object of numbers, not %s",
            type_name(start));
    else if (start != NULL)
        apply_start(c, si, start, path_of(&pb, path, "start"));
    if (tolerances__compose(si, json_object_get(def, "abs_tol"), sc->atol,
                            path_of(&pb, path, "abs_tol"), c->errs) != 0)
        c->oom = 1;
    sample_period(c, si, path);
exit:
    free(pb.p);
}

static void compose_instances(composer *c)
{
    scenario *sc = c->sc;
    const json_t *insts = json_object_get(c->doc, "instances");
    if (insts == NULL) {
        ADD(c, TWIN_E_MISSING_FIELD, "/instances",
            "a scenario needs \"instances\": an object of named model "
            "instances");
        return;
    }
    if (!json_is_object(insts)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/instances",
            "\"instances\" must be an object, not %s", type_name(insts));
        return;
    }
    size_t n = json_object_size(insts);
    if (n == 0) {
        ADD(c, TWIN_E_MISSING_FIELD, "/instances",
            "\"instances\" is empty: there is nothing to simulate");
        return;
    }
    if (c->limits.max_instances && n > c->limits.max_instances) {
        ADD(c, TWIN_E_TOO_LARGE, "/instances",
            "%zu instances, more than this controller's limit of %zu", n,
            c->limits.max_instances);
        return;
    }
    sc->inst = calloc(n, sizeof *sc->inst);
    if (sc->inst == NULL) {
        c->oom = 1;
        return;
    }
    path_buf pb = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)insts, k, v)
        compose_instance(c, k, v, path_of(&pb, "/instances", k));
    free(pb.p);
}

/* ---- signal references ------------------------------------------------- */

long scenario__find_instance(const scenario *sc, const char *name,
                             size_t len)
{
    for (size_t i = 0; i < sc->n_inst; i++)
        if (strlen(sc->inst[i].name) == len &&
            strncmp(sc->inst[i].name, name, len) == 0)
            return (long)i;
    return -1;
}

/* Is instance name declared in the document (even if it failed)? */
static int declared(const composer *c, const char *name, size_t len)
{
    const json_t *insts = json_object_get(c->doc, "instances");
    const char *k;
    json_t *v;
    if (!json_is_object(insts))
        return 0;
    json_object_foreach((json_t *)insts, k, v)
        if (strlen(k) == len && strncmp(k, name, len) == 0)
            return 1;
    return 0;
}

/* Resolve "inst.var".  Returns 0, 1 when silently unresolvable (the
 * instance itself failed and was reported), or -1 (reported). */
static int resolve_ref(composer *c, const char *text, const char *path,
                       sc_ref *out)
{
    const char *dot = strchr(text, '.');
    if (dot == NULL || dot == text || dot[1] == '\0') {
        ADD(c, TWIN_E_UNKNOWN_VARIABLE, path,
            "'%s' does not name a variable: write instance.variable, e.g. "
            "\"tank0.h\"", text);
        return -1;
    }
    long inst = scenario__find_instance(c->sc, text, (size_t)(dot - text));
    if (inst < 0) {
        if (declared(c, text, (size_t)(dot - text)))
            return 1;
        ADD(c, TWIN_E_UNKNOWN_INSTANCE, path,
            "there is no instance '%.*s' in this scenario", (int)(dot - text),
            text);
        return -1;
    }
    const twin_model *m = c->sc->inst[inst].model;
    twin_var_kind kind;
    size_t idx;
    if (modlib__find_signal(m, dot + 1, &kind, &idx) != 0) {
        ADD(c, TWIN_E_UNKNOWN_VARIABLE, path,
            "model '%s' (instance '%.*s') has no state, input or output "
            "'%s'", m->d->name, (int)(dot - text), text, dot + 1);
        return -1;
    }
    out->inst = (size_t)inst;
    out->kind = kind;
    out->index = idx;
    return 0;
}

const char *scenario__ref_name(const scenario *sc, sc_ref r, char *buf,
                               size_t len)
{
    snprintf(buf, len, "%s.%s%s", sc->inst[r.inst].name,
             scenario__ref_var(sc, r)->name,
             r.kind == SC_REF_MEASURED   ? ":measured"
             : r.kind == SC_REF_RESIDUAL ? ":residual"
                                         : "");
    return buf;
}

const twin_variable *scenario__ref_var(const scenario *sc, sc_ref r)
{
    if (r.kind == SC_REF_MEASURED || r.kind == SC_REF_RESIDUAL)
        return scenario__ref_var(sc, sc->measured[r.index].of);
    const twin_model *m = sc->inst[r.inst].model;
    return r.kind == TWIN_VAR_STATE ? m->state[r.index]
           : r.kind == TWIN_VAR_INPUT ? m->input[r.index]
                                      : m->output[r.index];
}

/* "tank0.h", malloc'd and whole: an instance name is as long as the
 * document made it, so no fixed buffer holds every one.  NULL when out of
 * memory. */
static char *ref_name_new(const scenario *sc, sc_ref r)
{
    char *s = NULL;
    const char *suffix = r.kind == SC_REF_MEASURED   ? ":measured"
                         : r.kind == SC_REF_RESIDUAL ? ":residual"
                                                     : "";
    if (asprintf(&s, "%s.%s%s", sc->inst[r.inst].name,
                 scenario__ref_var(sc, r)->name, suffix) < 0)
        return NULL;
    return s;
}

/* Mark an input as driven; returns 1 when it already was. */
static int drive(composer *c, sc_ref to)
{
    unsigned char *bit = &c->driven[c->driven_off[to.inst] + to.index];
    int was = *bit;
    *bit = 1;
    return was;
}

/* ---- connections ------------------------------------------------------- */

static void compose_connections(composer *c)
{
    scenario *sc = c->sc;
    const json_t *conns = json_object_get(c->doc, "connections");
    if (conns == NULL)
        return;
    if (!json_is_array(conns)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/connections",
            "\"connections\" must be an array of {\"from\", \"to\"}, not %s",
            type_name(conns));
        return;
    }
    size_t n = json_array_size(conns);
    if (c->limits.max_connections && n > c->limits.max_connections) {
        ADD(c, TWIN_E_TOO_LARGE, "/connections",
            "%zu connections, more than this controller's limit of %zu", n,
            c->limits.max_connections);
        return;
    }
    sc->conn = calloc(n + 1, sizeof *sc->conn);
    if (sc->conn == NULL) {
        c->oom = 1;
        return;
    }
    path_buf pb = {0}, pf = {0};
    for (size_t i = 0; i < n; i++) {
        const json_t *cj = json_array_get(conns, i);
        const char *p = path_ofi(&pb, "/connections", i);
        if (!json_is_object(cj)) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "a connection is an object "
                "{\"from\": \"a.out\", \"to\": \"b.in\"}, not %s",
                type_name(cj));
            continue;
        }
        sc_ref ends[2];
        const char *text[2] = {NULL, NULL}; /* as the document says */
        int bad = 0;
        static const char *const keys[2] = {"from", "to"};
        for (int e = 0; e < 2; e++) {
            const json_t *s = json_object_get(cj, keys[e]);
            const char *pe = path_of(&pf, p, keys[e]);
            if (s == NULL) {
                ADD(c, TWIN_E_MISSING_FIELD, pe, "the connection needs "
                    "\"%s\"", keys[e]);
                bad = 1;
            } else if (!json_is_string(s)) {
                ADD(c, TWIN_E_WRONG_TYPE, pe, "\"%s\" must be a string "
                    "\"instance.variable\", not %s", keys[e], type_name(s));
                bad = 1;
            } else if (resolve_ref(c, json_string_value(s), pe, &ends[e]) != 0)
                bad = 1;
            else
                text[e] = json_string_value(s);
        }
        if (bad)
            continue;
        const char *a = text[0], *b = text[1];
        if (ends[0].kind == TWIN_VAR_INPUT) {
            ADD(c, TWIN_E_BAD_CONNECTION, path_of(&pf, p, "from"),
                "'%s' is an input; a connection starts at a state or output",
                a);
            continue;
        }
        if (ends[1].kind != TWIN_VAR_INPUT) {
            ADD(c, TWIN_E_BAD_CONNECTION, path_of(&pf, p, "to"),
                "'%s' is %s, not an input; a connection ends at an input",
                b, ends[1].kind == TWIN_VAR_STATE ? "a state" : "an output");
            continue;
        }
        if (drive(c, ends[1])) {
            ADD(c, TWIN_E_BAD_CONNECTION, path_of(&pf, p, "to"),
                "input '%s' is already driven by another connection; an "
                "input takes one source", b);
            continue;
        }
        sc->conn[sc->n_conn].from = ends[0];
        sc->conn[sc->n_conn].to = ends[1];
        sc->n_conn++;
    }
    free(pb.p);
    free(pf.p);
}

/* ---- input profiles ---------------------------------------------------- */

static int read_points(composer *c, const json_t *arr, const char *path,
                       const twin_variable *v, sc_profile *pr,
                       size_t min_points)
{
    path_buf pb = {0};
    int rc = -1;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n < min_points) {
        ADD(c, json_is_array(arr) ? TWIN_E_OUT_OF_RANGE : TWIN_E_WRONG_TYPE,
            path, "expected an array of at least %zu [time, value] pairs",
            min_points);
        goto exit;
    }
    if (c->limits.max_table_points && n > c->limits.max_table_points) {
        ADD(c, TWIN_E_TOO_LARGE, path, "%zu points, more than the limit of "
            "%zu", n, c->limits.max_table_points);
        goto exit;
    }
    pr->t = calloc(n, sizeof(double));
    pr->v = calloc(n, sizeof(double));
    if (!pr->t || !pr->v) {
        c->oom = 1;
        goto exit;
    }
    pr->n = n;
    size_t before = c->errs->count;
    for (size_t i = 0; i < n; i++) {
        const json_t *pt = json_array_get(arr, i);
        const char *p = path_ofi(&pb, path, i);
        const json_t *val = json_array_get(pt, 1);
        if (!json_is_array(pt) || json_array_size(pt) != 2 ||
            !json_is_number(json_array_get(pt, 0)) ||
            !(json_is_number(val) ||
              (json_is_boolean(val) && (v->flags & TWIN_VAR_BOOLEAN)))) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "each point is a pair of numbers "
                "[time, value]");
            continue;
        }
        pr->t[i] = json_number_value(json_array_get(pt, 0));
        if (!isfinite(pr->t[i]))
            ADD(c, TWIN_E_OUT_OF_RANGE, p, "time must be finite");
        else if (i > 0 && !(pr->t[i] > pr->t[i - 1]) &&
                 c->errs->count == before)
            ADD(c, TWIN_E_OUT_OF_RANGE, p, "times must increase: %g follows "
                "%g", pr->t[i], pr->t[i - 1]);
        check_value(c, v, val, p, "input", &pr->v[i]);
    }
    rc = c->errs->count == before ? 0 : -1;
exit:
    free(pb.p);
    return rc;
}

/* An input bound to a plant signal (signals.c reads the spec): only in
 * a real-time run, whose ticks follow the plant's clock. */
static void compose_signal(composer *c, sc_input *in, const json_t *spec,
                           const char *path)
{
    size_t before = c->errs->count;
    in->profile.signal = signals__parse(spec, path, c->errs);
    if (in->profile.signal == NULL && c->errs->count == before)
        c->oom = 1;
    if (!c->sc->realtime)
        ADD(c, TWIN_E_OUT_OF_RANGE, path, "input '%s' follows a plant "
            "signal, which needs a real-time run: give the scenario "
            "\"pace\": {\"realtime\": 1}", in->name);
}

static void compose_profile(composer *c, sc_input *in, const json_t *def,
                            const char *path)
{
    path_buf pb = {0};
    const twin_variable *v = scenario__ref_var(c->sc, in->to);
    sc_profile *pr = &in->profile;
    static const char *const kinds[] = {"value", "steps", "table", "live",
                                        "signal"};
    int found = -1, count = 0;
    for (int i = 0; i < 5; i++)
        if (json_object_get(def, kinds[i]) != NULL) {
            if (found < 0)
                found = i;
            count++;
        }
    /* "live" and "signal" may come with "value" as their first value. */
    for (int i = 3; i < 5; i++)
        if (count == 2 && json_object_get(def, kinds[i]) != NULL &&
            json_object_get(def, "value") != NULL) {
            found = i;
            count = 1;
        }
    if (count != 1) {
        ADD(c, count ? TWIN_E_OUT_OF_RANGE : TWIN_E_MISSING_FIELD, path,
            "an input is one of {\"value\": v}, {\"steps\": [[t, v], ...]}, "
            "{\"table\": [[t, v], ...], \"interp\": \"linear|cubic\"}, "
            "{\"live\": true} or {\"signal\": {\"topic\": ...}}");
        goto exit;
    }
    switch (found) {
    case 0: {
        const json_t *val = json_object_get(def, "value");
        const char *p = path_of(&pb, path, "value");
        pr->kind = SC_PROFILE_VALUE;
        check_value(c, v, val, p, "input", &pr->value);
        break;
    }
    case 1:
        pr->kind = SC_PROFILE_STEPS;
        read_points(c, json_object_get(def, "steps"),
                    path_of(&pb, path, "steps"), v, pr, 1);
        break;
    case 2: {
        pr->kind = SC_PROFILE_TABLE;
        if (v->flags & (TWIN_VAR_INTEGER | TWIN_VAR_BOOLEAN)) {
            ADD(c, TWIN_E_OUT_OF_RANGE, path_of(&pb, path, "table"),
                "input '%s' is %s: a table interpolates between its points; "
                "use \"steps\"", v->name,
                v->flags & TWIN_VAR_BOOLEAN ? "boolean" : "an integer");
            break;
        }
        const json_t *interp = json_object_get(def, "interp");
        if (interp != NULL) {
            const char *ip = path_of(&pb, path, "interp");
            if (!json_is_string(interp))
                ADD(c, TWIN_E_WRONG_TYPE, ip,
                    "\"interp\" must be \"linear\" or \"cubic\"");
            else if (strcmp(json_string_value(interp), "cubic") == 0)
                pr->cubic = 1;
            else if (strcmp(json_string_value(interp), "linear") != 0)
                ADD(c, TWIN_E_OUT_OF_RANGE, ip, "\"interp\" is \"linear\" or "
                    "\"cubic\", not \"%s\"", json_string_value(interp));
        }
        if (read_points(c, json_object_get(def, "table"),
                        path_of(&pb, path, "table"), v, pr,
                        pr->cubic ? 3 : 2) != 0)
            break;
        const gsl_interp_type *type = pr->cubic ? gsl_interp_cspline
                                                : gsl_interp_linear;
        gsl_interp *gi = gsl_interp_alloc(type, pr->n);
        gsl_interp_accel *acc = gsl_interp_accel_alloc();
        pr->interp = gi;
        pr->accel = acc;
        if (gi == NULL || acc == NULL ||
            gsl_interp_init(gi, pr->t, pr->v, pr->n) != GSL_SUCCESS)
            ADD(c, TWIN_E_INTERNAL, path, "could not set up the interpolation");
        break;
    }
    case 3:
    case 4: {
        const json_t *live = json_object_get(def, "live");
        pr->kind = found == 3 ? SC_PROFILE_LIVE : SC_PROFILE_SIGNAL;
        pr->value = c->sc->inst[in->to.inst].input_start[in->to.index];
        if (found == 4)
            compose_signal(c, in, json_object_get(def, "signal"),
                           path_of(&pb, path, "signal"));
        else if (!json_is_true(live))
            ADD(c, json_is_boolean(live) ? TWIN_E_OUT_OF_RANGE
                                         : TWIN_E_WRONG_TYPE,
                path_of(&pb, path, "live"),
                "write {\"live\": true} for an input set while running");
        const json_t *val = json_object_get(def, "value");
        const char *p = path_of(&pb, path, "value");
        if (val != NULL)
            check_value(c, v, val, p, "input", &pr->value);
        else if (val == NULL && isnan(pr->value))
            pr->value = NAN; /* optional input, undriven until set */
        break;
    }
    }
exit:
    free(pb.p);
}

static void compose_inputs(composer *c)
{
    scenario *sc = c->sc;
    const json_t *inputs = json_object_get(c->doc, "inputs");
    if (inputs == NULL)
        return;
    if (!json_is_object(inputs)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/inputs",
            "\"inputs\" must be an object keyed by \"instance.input\", not %s",
            type_name(inputs));
        return;
    }
    sc->inputs = calloc(json_object_size(inputs) + 1, sizeof *sc->inputs);
    if (sc->inputs == NULL) {
        c->oom = 1;
        return;
    }
    path_buf pb = {0};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)inputs, k, v) {
        const char *p = path_of(&pb, "/inputs", k);
        sc_ref r;
        if (resolve_ref(c, k, p, &r) != 0)
            continue;
        if (r.kind != TWIN_VAR_INPUT) {
            ADD(c, TWIN_E_BAD_CONNECTION, p, "'%s' is %s; only inputs take a "
                "profile", k, r.kind == TWIN_VAR_STATE ? "a state"
                                                       : "an output");
            continue;
        }
        if (!json_is_object(v)) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "an input profile is an object, not "
                "%s", type_name(v));
            continue;
        }
        if (drive(c, r)) {
            ADD(c, TWIN_E_BAD_CONNECTION, p, "input '%s' is already driven by "
                "a connection; an input takes one source", k);
            continue;
        }
        sc_input *in = &sc->inputs[sc->n_inputs++];
        in->to = r;
        in->name = strdup(k);
        if (in->name == NULL)
            c->oom = 1;
        compose_profile(c, in, v, p);
    }
    free(pb.p);
}

/* ---- outputs ----------------------------------------------------------- */

static int add_column(composer *c, sc_ref r)
{
    scenario *sc = c->sc;
    for (size_t i = 0; i < sc->n_out; i++)
        if (sc->out[i].inst == r.inst && sc->out[i].kind == r.kind &&
            sc->out[i].index == r.index)
            return 0;
    sc_ref *out = realloc(sc->out, (sc->n_out + 1) * sizeof *out);
    char **names = out ? realloc(sc->out_name,
                                 (sc->n_out + 1) * sizeof *names) : NULL;
    if (out)
        sc->out = out;
    if (names)
        sc->out_name = names;
    char *name = names ? ref_name_new(sc, r) : NULL;
    if (name == NULL) {
        c->oom = 1;
        return -1;
    }
    sc->out[sc->n_out] = r;
    sc->out_name[sc->n_out] = name;
    sc->n_out++;
    return 0;
}

/* Add the signals of every instance matching the pattern "inst.var" (either
 * side may hold * and ? wildcards), in declaration order.  Returns how
 * many matched. */
static size_t select_columns(composer *c, const char *inst_pat,
                             const char *var_pat)
{
    scenario *sc = c->sc;
    size_t matched = 0;
    for (size_t i = 0; i < sc->n_inst; i++) {
        if (fnmatch(inst_pat, sc->inst[i].name, 0) != 0)
            continue;
        const twin_model_descriptor *d = sc->inst[i].model->d;
        size_t idx[4] = {0, 0, 0, 0};
        for (size_t k = 0; k < d->n_variables; k++) {
            const twin_variable *v = &d->variables[k];
            size_t index = idx[v->kind]++;
            if (v->kind == TWIN_VAR_PARAMETER || fnmatch(var_pat, v->name, 0))
                continue;
            sc_ref r = {i, v->kind, index};
            add_column(c, r);
            matched++;
        }
    }
    return matched;
}

static void compose_outputs(composer *c)
{
    const json_t *outs = json_object_get(c->doc, "outputs");
    if (outs == NULL) {
        select_columns(c, "*", "*");
        return;
    }
    if (!json_is_array(outs)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/outputs", "\"outputs\" must be an array "
            "of \"instance.variable\" (wildcards * allowed), not %s",
            type_name(outs));
        return;
    }
    path_buf pb = {0};
    for (size_t i = 0; i < json_array_size(outs); i++) {
        const json_t *o = json_array_get(outs, i);
        const char *p = path_ofi(&pb, "/outputs", i);
        if (!json_is_string(o)) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "an output is a string "
                "\"instance.variable\", not %s", type_name(o));
            continue;
        }
        const char *text = json_string_value(o);
        const char *dot = strchr(text, '.');
        if (dot == NULL || dot == text || dot[1] == '\0') {
            ADD(c, TWIN_E_UNKNOWN_VARIABLE, p, "'%s' does not name a "
                "variable: write instance.variable, e.g. \"tank0.h\" or "
                "\"pump0.*\"", text);
            continue;
        }
        char *inst_pat = strndup(text, (size_t)(dot - text));
        if (inst_pat == NULL) {
            c->oom = 1;
            break;
        }
        int wild = strpbrk(text, "*?[") != NULL;
        if (!wild && scenario__find_instance(c->sc, text, (size_t)(dot - text)) < 0) {
            if (!declared(c, text, (size_t)(dot - text)))
                ADD(c, TWIN_E_UNKNOWN_INSTANCE, p, "there is no instance "
                    "'%s' in this scenario", inst_pat);
        } else if (select_columns(c, inst_pat, dot + 1) == 0) {
            ADD(c, TWIN_E_UNKNOWN_VARIABLE, p, "'%s' matches no state, input "
                "or output of this scenario", text);
        }
        free(inst_pat);
    }
    free(pb.p);
}

static void compose_every(composer *c)
{
    scenario *sc = c->sc;
    sc->every = 1;
    const json_t *every = json_object_get(c->doc, "every");
    if (every == NULL)
        return;
    if (!json_is_integer(every))
        ADD(c, TWIN_E_WRONG_TYPE, "/every", "\"every\" must be a whole number "
            "of ticks, not %s", type_name(every));
    else if (json_integer_value(every) < 1)
        ADD(c, TWIN_E_OUT_OF_RANGE, "/every", "\"every\" must be at least 1");
    else
        sc->every = (size_t)json_integer_value(every);
}

/* ---- functions --------------------------------------------------------- */

/* Whether an entry before i has this name; its index in *prev. */
static int duplicate_name(const json_t *fns, size_t i, const char *name,
                          size_t *prev)
{
    for (size_t j = 0; j < i; j++) {
        const json_t *other = json_object_get(json_array_get(fns, j), "name");
        if (json_is_string(other) &&
            strcmp(json_string_value(other), name) == 0) {
            *prev = j;
            return 1;
        }
    }
    return 0;
}

/* Read "name" and "function" of entry i: *known says whether the function
 * is a built-in.  Returns 0 when both are good. */
static int function_head(composer *c, const json_t *fns, size_t i,
                         const char *path, const char **name,
                         analytics_fn *which, int *known,
                         const fl_function **lib)
{
    path_buf pb = {0};
    const json_t *f = json_array_get(fns, i);
    const json_t *nm = json_object_get(f, "name");
    const json_t *fv = json_object_get(f, "function");
    size_t prev;
    int ok = 1;
    *name = NULL;
    *known = 0;
    *lib = NULL;
    if (nm == NULL) {
        ADD(c, TWIN_E_MISSING_FIELD, path_of(&pb, path, "name"), "each "
            "function needs a \"name\": the key of its value in the "
            "finished response");
        ok = 0;
    } else if (!json_is_string(nm)) {
        ADD(c, TWIN_E_WRONG_TYPE, path_of(&pb, path, "name"), "a function's "
            "\"name\" must be a string, not %s", type_name(nm));
        ok = 0;
    } else if (json_string_length(nm) == 0) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path_of(&pb, path, "name"), "a "
            "function's \"name\" must not be empty");
        ok = 0;
    } else if (duplicate_name(fns, i, json_string_value(nm), &prev)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path_of(&pb, path, "name"), "function "
            "%zu is already named '%s'; each function needs a name of its "
            "own", prev, json_string_value(nm));
        ok = 0;
    } else {
        *name = json_string_value(nm);
    }
    if (fv == NULL) {
        ADD(c, TWIN_E_MISSING_FIELD, path_of(&pb, path, "function"), "each "
            "function needs \"function\": the built-in to apply, e.g. "
            "\"mean\" (docs/functions.md lists them)");
        ok = 0;
    } else if (!json_is_string(fv)) {
        ADD(c, TWIN_E_WRONG_TYPE, path_of(&pb, path, "function"),
            "\"function\" must be the name of a built-in, not %s",
            type_name(fv));
        ok = 0;
    } else if (analytics__find(json_string_value(fv), which) != 0 &&
               c->limits.functions != NULL &&
               (*lib = funclib__find(c->limits.functions,
                                     json_string_value(fv))) != NULL) {
        *known = 1; /* a library function (fn_library.h) */
    } else if (*lib == NULL &&
               analytics__find(json_string_value(fv), which) != 0) {
        char names[512] = "";
        size_t used = 0;
        for (int k = 0; k < AN__COUNT && used < sizeof names; k++)
            used += (size_t)snprintf(names + used, sizeof names - used,
                                     "%s%s", k ? ", " : "",
                                     analytics__name((analytics_fn)k));
        ADD(c, TWIN_E_UNKNOWN_FUNCTION, path_of(&pb, path, "function"),
            "there is no function '%s'; the built-ins are %s%s",
            json_string_value(fv), names, c->limits.functions
                ? ", and the function library's (describe lists them)"
                : "");
        ok = 0;
    } else {
        *known = 1;
    }
    free(pb.p);
    return ok ? 0 : -1;
}

/* Checks that need the run's horizon. */
static int function_fits_run(composer *c, const analytics_spec *spec,
                             const char *path)
{
    scenario *sc = c->sc;
    path_buf pb = {0};
    int ok = 1;
    if (sc->n_ticks == 0)
        return 0; /* the time was refused */
    double span = sc->stop - sc->start;
    if (spec->fn == AN_MOVING_AVERAGE && spec->window > span * (1 + 1e-9)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path_of(&pb, path, "window"), "the "
            "moving average's window of %g s is longer than the run's %g s "
            "from start to stop", spec->window, span);
        ok = 0;
    }
    if (sc->n_ticks + 1 < analytics__min_samples(spec)) {
        ADD(c, TWIN_E_OUT_OF_RANGE, path_of(&pb, path, "interp"), "%s with "
            "Steffen interpolation needs at least %zu ticks; this run has "
            "%zu", analytics__name(spec->fn), analytics__min_samples(spec),
            sc->n_ticks + 1);
        ok = 0;
    }
    free(pb.p);
    return ok ? 0 : -1;
}

static void compose_functions(composer *c)
{
    static const char *const own[] = {"name", "function", "of", NULL};
    scenario *sc = c->sc;
    const json_t *fns = json_object_get(c->doc, "functions");
    if (fns == NULL)
        return;
    if (!json_is_array(fns)) {
        ADD(c, TWIN_E_WRONG_TYPE, "/functions", "\"functions\" must be an "
            "array of {\"name\", \"function\", \"of\", parameters...}, "
            "not %s", type_name(fns));
        return;
    }
    size_t n = json_array_size(fns);
    sc->fn = calloc(n + 1, sizeof *sc->fn);
    if (sc->fn == NULL) {
        c->oom = 1;
        return;
    }
    path_buf pb = {0}, pf = {0};
    for (size_t i = 0; i < n; i++) {
        const json_t *f = json_array_get(fns, i);
        const char *p = path_ofi(&pb, "/functions", i);
        if (!json_is_object(f)) {
            ADD(c, TWIN_E_WRONG_TYPE, p, "a function is an object "
                "{\"name\": ..., \"function\": \"mean\", \"of\": "
                "\"tank0.h\"}, not %s", type_name(f));
            continue;
        }
        const char *name;
        analytics_fn which;
        int known;
        const fl_function *lib;
        int ok = function_head(c, fns, i, p, &name, &which, &known,
                               &lib) == 0;
        const json_t *of = json_object_get(f, "of");
        sc_ref r = {0, TWIN_VAR_STATE, 0};
        if (of == NULL) {
            ADD(c, TWIN_E_MISSING_FIELD, path_of(&pf, p, "of"), "each "
                "function needs \"of\": the signal it reads, "
                "\"instance.variable\"");
            ok = 0;
        } else if (!json_is_string(of)) {
            ADD(c, TWIN_E_WRONG_TYPE, path_of(&pf, p, "of"), "\"of\" must "
                "be a string \"instance.variable\", not %s", type_name(of));
            ok = 0;
        } else if (resolve_ref(c, json_string_value(of), path_of(&pf, p, "of"),
                               &r) != 0) {
            ok = 0;
        }
        /* The parameters are checked whenever the function is known. */
        analytics_spec spec = {0};
        json_t *params = NULL;
        if (lib != NULL) {
            params = fn_library__check(lib, f, p, c->errs);
            if (params == NULL || !ok) {
                json_decref(params);
                continue;
            }
        } else if (!known ||
            analytics__parse(which, f, p, own, &spec, c->errs) != 0 ||
            function_fits_run(c, &spec, p) != 0 || !ok)
            continue;
        sc_function *fn = &sc->fn[sc->n_fn++];
        fn->spec = spec;
        fn->lib = lib;
        fn->params = params;
        fn->of = r;
        fn->name = strdup(name);
        fn->of_name = ref_name_new(sc, r);
        if (fn->name == NULL || fn->of_name == NULL)
            c->oom = 1;
    }
    free(pb.p);
    free(pf.p);
}

/* Functions hold every tick of the signals they read, and the times. */
static void check_function_samples(composer *c)
{
    scenario *sc = c->sc;
    size_t signals = 0;
    for (size_t i = 0; i < sc->n_fn; i++) {
        size_t j = 0;
        while (j < i && (sc->fn[j].of.inst != sc->fn[i].of.inst ||
                         sc->fn[j].of.kind != sc->fn[i].of.kind ||
                         sc->fn[j].of.index != sc->fn[i].of.index))
            j++;
        signals += j == i;
    }
    double samples = ((double)sc->n_ticks + 1.0) * (double)(signals + 1);
    if (signals > 0 && c->limits.max_function_samples > 0 &&
        samples > c->limits.max_function_samples)
        ADD(c, TWIN_E_TOO_LARGE, "/functions",
            "the functions read %zu signals at each of %zu ticks: %.0f "
            "values to hold, more than this controller's limit of %.0f; "
            "shorten the horizon, lengthen dt or read fewer signals",
            signals, sc->n_ticks + 1, samples,
            c->limits.max_function_samples);
}

/* ---- algebraic loops --------------------------------------------------- */

static void check_loops(composer *c)
{
    scenario *sc = c->sc;
    size_t n = sc->n_inst;
    graph_edge *edges = calloc(sc->n_conn + 1, sizeof *edges);
    unsigned char *include = malloc(n + 1), *pre = malloc(n + 1);
    size_t *order = malloc((n + 1) * sizeof *order);
    size_t *cycle = malloc((sc->n_conn + 1) * sizeof *cycle);
    size_t n_order = 0, n_cycle = 0;
    if (!edges || !include || !pre || !order || !cycle) {
        c->oom = 1;
        goto exit;
    }
    memset(include, 1, n);
    for (size_t i = 0; i < sc->n_conn; i++) {
        edges[i].from = sc->conn[i].from.inst;
        edges[i].to = sc->conn[i].to.inst;
        edges[i].feedthrough =
            sc->conn[i].from.kind == TWIN_VAR_OUTPUT &&
            (scenario__ref_var(sc, sc->conn[i].from)->flags &
             TWIN_VAR_FEEDTHROUGH);
    }
    int rc = graph__order(n, include, NULL, edges, sc->n_conn, order,
                          &n_order, pre, cycle, &n_cycle);
    if (rc == GRAPH_NOMEM) {
        c->oom = 1;
    } else if (rc == GRAPH_LOOP) {
        /* The links of the loop, whole ones only: a link cut inside a
         * name or inside the arrow (3 bytes of UTF-8) would leave a
         * message that is not valid UTF-8, and the answer would drop it. */
        char text[2048] = "";
        size_t used = 0;
        for (size_t i = 0; i < n_cycle; i++) {
            const sc_connection *cn = &sc->conn[cycle[i]];
            char *a = ref_name_new(sc, cn->from), *b = ref_name_new(sc, cn->to);
            size_t room = sizeof text - used - sizeof ", …";
            int k = snprintf(text + used, room, "%s%s → %s", i ? ", " : "",
                             a ? a : "?", b ? b : "?");
            free(a);
            free(b);
            if (k < 0 || (size_t)k >= room) {
                snprintf(text + used, sizeof text - used, "%s…",
                         i ? ", " : "");
                break;
            }
            used += (size_t)k;
        }
        /* Point at the connection as it stands in the document. */
        size_t doc_index = 0;
        const json_t *conns = json_object_get(c->doc, "connections");
        char *want = ref_name_new(sc, sc->conn[cycle[0]].to);
        for (size_t i = 0; want && i < json_array_size(conns); i++) {
            const json_t *to = json_object_get(json_array_get(conns, i), "to");
            if (json_is_string(to) && strcmp(json_string_value(to), want) == 0)
                doc_index = i;
        }
        free(want);
        path_buf pb = {0};
        ADD(c, TWIN_E_ALGEBRAIC_LOOP, path_ofi(&pb, "/connections", doc_index),
            "algebraic loop: %s; each output here depends on its own input "
            "at the same instant. Break it with a model that has a state or "
            "a discrete (tick) model", text);
        free(pb.p);
    }
exit:
    free(edges);
    free(include);
    free(pre);
    free(order);
    free(cycle);
}

static void check_size(composer *c)
{
    scenario *sc = c->sc;
    double rows = (double)sc->n_ticks / (double)sc->every + 1.0;
    if (c->limits.max_rows > 0 && rows > c->limits.max_rows)
        ADD(c, TWIN_E_TOO_LARGE, "/time",
            "%.0f rows (horizon / dt / every) is more than this controller's "
            "limit of %.0f; shorten the horizon or raise \"every\"", rows,
            c->limits.max_rows);
}

/* ---- entry points ------------------------------------------------------ */

scenario *scenario__compose(const json_t *doc, const model_lib *models,
                            const instance_lib *instances,
                            const scenario_limits *limits, twin_errors *errs)
{
    static const instance_lib no_instances = {0};
    composer c = {.doc = doc, .models = models,
                  .instances = instances ? instances : &no_instances,
                  .errs = errs};
    if (limits)
        c.limits = *limits;
    size_t before = errs->count;
    if (!json_is_object(doc)) {
        errors__add(errs, TWIN_E_WRONG_TYPE, "",
                    "a scenario is a JSON object, not %s", type_name(doc));
        return NULL;
    }
    gsl_set_error_handler_off();
    c.sc = calloc(1, sizeof *c.sc);
    if (c.sc == NULL)
        goto oom;
    const json_t *name = json_object_get(doc, "name");
    if (name != NULL && !json_is_string(name))
        ADD(&c, TWIN_E_WRONG_TYPE, "/name", "\"name\" must be a string");
    c.sc->name = strdup(json_is_string(name) ? json_string_value(name)
                                             : "scenario");
    if (c.sc->name == NULL)
        goto oom;

    compose_time(&c);
    compose_pace(&c);
    compose_solver(&c);
    compose_loops(&c);
    compose_instances(&c);
    if (c.oom)
        goto oom;

    size_t total_inputs = 0;
    c.driven_off = calloc(c.sc->n_inst + 1, sizeof *c.driven_off);
    if (c.driven_off == NULL)
        goto oom;
    for (size_t i = 0; i < c.sc->n_inst; i++) {
        c.driven_off[i] = total_inputs;
        total_inputs += c.sc->inst[i].model->n_input;
    }
    c.driven = calloc(total_inputs + 1, 1);
    if (c.driven == NULL)
        goto oom;

    compose_connections(&c);
    compose_inputs(&c);
    compose_outputs(&c);
    compose_every(&c);
    compose_functions(&c);
    if (alarms__compose(c.sc, doc, c.limits.max_table_points, errs) != 0 ||
        measured__compose(c.sc, doc, errs) != 0)
        c.oom = 1;
    /* each measurement's plant value and residual, after the outputs */
    for (size_t i = 0; !c.oom && i < c.sc->n_measured; i++) {
        sc_ref r = c.sc->measured[i].of;
        r.index = i;
        r.kind = SC_REF_MEASURED;
        add_column(&c, r);
        r.kind = SC_REF_RESIDUAL;
        add_column(&c, r);
    }
    if (c.oom)
        goto oom;
    if (errs->count == before && c.sc->reject_loops)
        check_loops(&c);
    if (errs->count == before)
        check_size(&c);
    if (errs->count == before)
        check_function_samples(&c);
    if (c.oom)
        goto oom;
    free(c.driven);
    free(c.driven_off);
    if (errs->count > before)
        scenario__free(&c.sc);
    return c.sc;
oom:
    errors__add(errs, TWIN_E_INTERNAL, "", "out of memory composing the "
                "scenario");
    free(c.driven);
    free(c.driven_off);
    scenario__free(&c.sc);
    return NULL;
}

void scenario__free(scenario **scp)
{
    scenario *sc = *scp;
    if (sc == NULL)
        return;
    for (size_t i = 0; i < sc->n_inst; i++) {
        free(sc->inst[i].name);
        free(sc->inst[i].library_id);
        free(sc->inst[i].params);
        free(sc->inst[i].start);
        free(sc->inst[i].input_start);
        free(sc->inst[i].abs_tol);
        for (size_t k = 0; sc->inst[i].strings &&
                           k < sc->inst[i].model->n_param; k++)
            free(sc->inst[i].strings[k]);
        free(sc->inst[i].strings);
    }
    for (size_t i = 0; i < sc->n_inputs; i++) {
        sc_profile *p = &sc->inputs[i].profile;
        free(sc->inputs[i].name);
        free(p->t);
        free(p->v);
        if (p->interp)
            gsl_interp_free(p->interp);
        if (p->accel)
            gsl_interp_accel_free(p->accel);
        signals__free(&p->signal);
    }
    for (size_t i = 0; i < sc->n_out; i++)
        free(sc->out_name[i]);
    alarms__free_spec(sc);
    measured__free_spec(sc);
    for (size_t i = 0; i < sc->n_fn; i++) {
        free(sc->fn[i].name);
        free(sc->fn[i].of_name);
        json_decref(sc->fn[i].params);
    }
    free(sc->fn);
    free(sc->inst);
    free(sc->conn);
    free(sc->inputs);
    free(sc->out);
    free(sc->out_name);
    free(sc->name);
    free(sc);
    *scp = NULL;
}

size_t scenario__step_index(const sc_profile *p, double t)
{
    /* The last step at or before t; before the first, the first. */
    size_t lo = 0, hi = p->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->t[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

double scenario__profile_at(const sc_profile *p, double t)
{
    switch (p->kind) {
    case SC_PROFILE_VALUE:
    case SC_PROFILE_LIVE:
    case SC_PROFILE_SIGNAL:
        return p->value;
    case SC_PROFILE_STEPS:
        return p->v[scenario__step_index(p, t)];
    case SC_PROFILE_TABLE:
        if (t <= p->t[0])
            return p->v[0];
        if (t >= p->t[p->n - 1])
            return p->v[p->n - 1];
        return gsl_interp_eval(p->interp, p->t, p->v, t, p->accel);
    }
    return NAN;
}

json_t *scenario__load(const char *arg, const char *dir, char *why,
                       size_t why_len)
{
    json_error_t jerr;
    char path[4096];
    const char *file = arg;
    FILE *probe = fopen(arg, "r");
    if (probe != NULL) {
        fclose(probe);
    } else if (dir != NULL && strchr(arg, '/') == NULL) {
        snprintf(path, sizeof path, "%s/%s%s", dir, arg,
                 strstr(arg, ".json") ? "" : ".json");
        file = path;
    }
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        if (jerr.line <= 0)
            snprintf(why, why_len, "cannot read scenario '%s': no such file, "
                     "and no scenario of that name in %s", arg,
                     dir ? dir : "the scenario directory");
        else
            snprintf(why, why_len, "%s: line %d, column %d: %s", file,
                     jerr.line, jerr.column, jerr.text);
    }
    return doc;
}
