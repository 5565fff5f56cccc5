/*
 * functions.c — recording a run's signals for its functions and
 * evaluating them.  See functions.h.
 *
 * Every function reads its signal at every tick t_k = start + k·dt, the
 * values a row at t_k holds, whatever "every" and "outputs" say: more
 * samples make the interpolant closer to the trajectory, and the run's
 * process has them all anyway.  A signal read by several functions is
 * recorded once.
 */
#include "functions.h"
#include "fn_library.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fn_recorder {
    const scenario *sc;
    size_t cap;              /* ticks: n_ticks + 1 */
    size_t count;            /* ticks recorded */
    double *t;
    sc_ref *sig;             /* distinct signals read */
    double **y;              /* per signal, cap values */
    size_t n_sig;
    size_t *which;           /* per function: index into sig */
    int oom;                 /* the samples could not be had */
};

static int same_ref(sc_ref a, sc_ref b)
{
    return a.inst == b.inst && a.kind == b.kind && a.index == b.index;
}

fn_recorder *functions__new(const scenario *sc)
{
    if (sc->n_fn == 0)
        return NULL;
    fn_recorder *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->sc = sc;
    r->cap = sc->n_ticks + 1;
    r->sig = calloc(sc->n_fn, sizeof *r->sig);
    r->y = calloc(sc->n_fn, sizeof *r->y);
    r->which = calloc(sc->n_fn, sizeof *r->which);
    r->t = malloc(r->cap * sizeof *r->t);
    r->oom = !r->sig || !r->y || !r->which || !r->t;
    for (size_t i = 0; !r->oom && i < sc->n_fn; i++) {
        size_t j = 0;
        while (j < r->n_sig && !same_ref(r->sig[j], sc->fn[i].of))
            j++;
        if (j == r->n_sig) {
            r->sig[j] = sc->fn[i].of;
            r->y[j] = malloc(r->cap * sizeof *r->y[j]);
            r->oom = r->y[j] == NULL;
            r->n_sig++;
        }
        r->which[i] = j;
    }
    return r;
}

void functions__record(fn_recorder *r, const sim *s, double t)
{
    if (r == NULL || r->oom || r->count == r->cap)
        return;
    r->t[r->count] = t;
    for (size_t j = 0; j < r->n_sig; j++)
        r->y[j][r->count] = sim__signal(s, r->sig[j]);
    r->count++;
}

void functions__evaluate(const scenario *sc, const fn_recorder *r,
                         const char *root, json_t **values, json_t **errors)
{
    *values = json_object();
    *errors = json_object();
    for (size_t i = 0; i < sc->n_fn; i++) {
        const sc_function *fn = &sc->fn[i];
        char why[1024];
        double v = NAN;
        int rc;
        const char *failed = "internal";
        if (r == NULL || r->oom) {
            snprintf(why, sizeof why, "out of memory holding %zu ticks of "
                     "the signals the functions read", sc->n_ticks + 1);
            rc = AN_FAILED;
        } else if (fn->lib != NULL) {
            int lr = fn_library__eval(fn->lib, fn->params, r->t,
                                      r->y[r->which[i]], r->count,
                                      fn->of_name, &v, why, sizeof why);
            rc = lr == 0 ? AN_OK : lr > 0 ? AN_UNDEFINED : AN_FAILED;
            failed = "model_crashed"; /* its call did not answer */
        } else {
            rc = analytics__eval(&fn->spec, r->t, r->y[r->which[i]],
                                 r->count, fn->of_name, &v, why, sizeof why);
        }
        if (rc == AN_OK) {
            json_object_set_new(*values, fn->name, json_real(v));
            continue;
        }
        char base[64];
        snprintf(base, sizeof base, "%s/functions", root);
        char *path = errors__pathi(base, i);
        json_object_set_new(*values, fn->name, json_null());
        json_object_set_new(*errors, fn->name, json_pack(
            "{s:s, s:s, s:s}", "code", rc == AN_UNDEFINED ? "out_of_range"
                                                          : failed,
            "path", path ? path : base, "message", why));
        free(path);
    }
}

static const char *unit_of(const scenario *sc, sc_ref r)
{
    const twin_model *m = sc->inst[r.inst].model;
    const twin_variable *v = r.kind == TWIN_VAR_STATE ? m->state[r.index]
                             : r.kind == TWIN_VAR_INPUT ? m->input[r.index]
                                                        : m->output[r.index];
    return v->unit;
}

const char *functions__unit(const scenario *sc, size_t i, char *buf,
                            size_t len)
{
    const sc_function *fn = &sc->fn[i];
    if (fn->lib != NULL) {
        snprintf(buf, len, "%s", fn->lib->ret_unit);
        return buf;
    }
    return analytics__unit(fn->spec.fn, unit_of(sc, fn->of), buf, len);
}

void functions__print(const scenario *sc, const json_t *values,
                      const json_t *errors, FILE *f)
{
    for (size_t i = 0; i < sc->n_fn; i++) {
        const sc_function *fn = &sc->fn[i];
        const json_t *v = json_object_get(values, fn->name);
        if (json_is_number(v)) {
            char unit[128];
            functions__unit(sc, i, unit, sizeof unit);
            fprintf(f, "  %s = %.10g%s%s (%s of %s)\n", fn->name,
                    json_number_value(v), unit[0] ? " " : "", unit,
                    fn->lib ? fn->lib->name : analytics__name(fn->spec.fn),
                    fn->of_name);
        } else {
            const json_t *e = json_object_get(errors, fn->name);
            const char *msg = json_string_value(json_object_get(e,
                                                                "message"));
            const char *code = json_string_value(json_object_get(e, "code"));
            fprintf(f, "  %s = null: %s [%s]\n", fn->name,
                    msg ? msg : "no value", code ? code : "internal");
        }
    }
}

void functions__free(fn_recorder **rp)
{
    fn_recorder *r = *rp;
    if (r == NULL)
        return;
    for (size_t j = 0; j < r->n_sig; j++)
        free(r->y[j]);
    free(r->y);
    free(r->sig);
    free(r->which);
    free(r->t);
    free(r);
    *rp = NULL;
}
