/*
 * fmu_run.c — an FMU instance behind the model ABI: the functions of the
 * twin_model_descriptor every FMU becomes, written once for both FMI
 * versions and both interfaces.  The host's twin_host.model tells an
 * instance which FMU it is made from, so one set of functions serves every
 * FMU's descriptor.
 *
 * Model Exchange: a continuous model.  init enters and leaves
 * initialization mode at the run's start and runs the new-discrete-states
 * iteration; derivatives, outputs and event_indicators set time, states
 * (when they changed) and inputs (when they changed) and read back;
 * event (state, time and step events alike) enters event mode, iterates
 * until the FMU needs no more discrete updates, goes back to
 * continuous-time mode and hands the (possibly reset) states to the host,
 * which restarts its integrator.  The FMU's next time event is what
 * next_event_time answers.
 *
 * Co-Simulation: a discrete model ticked at every row.  The FMU is stepped
 * up to the tick's time with the inputs it held since the previous tick
 * (doStep(t_prev, t - t_prev)), then gets this tick's inputs and its
 * outputs are read, so a row shows the FMU at the row's time.
 *
 * The calls of each FMI version are in fmu_run2.c and fmu_run3.c behind
 * the table fmu_ops.  Every instance is terminated (when it was
 * initialized and did not fail) and freed on every path.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmu.h"
#include "fmu_run_internal.h"

/* ---- logging and statuses ---------------------------------------------- */

static void say(twin_instance *in, twin_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(twin_instance *in, twin_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    twin_log(in->host, level, msg);
}

void fmu_run__log(twin_instance *in, int status, const char *category,
                  const char *message)
{
    twin_log_level level = status == 0   ? TWIN_LOG_INFO
                           : status == 1 ? TWIN_LOG_WARNING
                                         : TWIN_LOG_ERROR;
    if (message == NULL)
        message = "";
    if (status > 0)
        snprintf(in->last, sizeof in->last, "%s", message);
    if (category != NULL && category[0] != '\0')
        say(in, level, "[%s] %s", category, message);
    else
        say(in, level, "%s", message);
}

static const char *status_text(twin_status st)
{
    static const char *const names[] = {"OK", "Warning", "Discard", "Error",
                                        "Fatal"};
    return st <= TWIN_FATAL ? names[st] : "Error";
}

/* Keep the worst status and say which call failed, once, where found. */
static twin_status checked(twin_instance *in, twin_status st,
                           const char *call, double t)
{
    if (st > in->worst)
        in->worst = st;
    if (st >= TWIN_ERROR)
        say(in, TWIN_LOG_ERROR, "%s%s returned %s%s at t = %.17g", in->ops->prefix,
            call, in->ops->prefix, status_text(st), t);
    return st;
}

#define CALL(in, st, call, t, expr)                                          \
    do {                                                                     \
        twin_status s_ = checked((in), (expr), (call), (t));                 \
        if (s_ > (st))                                                       \
            (st) = s_;                                                       \
        if ((st) >= TWIN_ERROR)                                              \
            return (st);                                                     \
    } while (0)

/* For the results of this file's own steps, already checked. */
#define PASS(st, expr)                                                       \
    do {                                                                     \
        twin_status s_ = (expr);                                             \
        if (s_ > (st))                                                       \
            (st) = s_;                                                       \
        if ((st) >= TWIN_ERROR)                                              \
            return (st);                                                     \
    } while (0)

void *fmu_run__scratch(twin_instance *in, size_t n)
{
    if (n <= in->buf_size)
        return in->buf;
    void *grown = realloc(in->buf, n);
    if (grown == NULL)
        return NULL;
    in->buf = grown;
    in->buf_size = n;
    return grown;
}

static void end_requested(twin_instance *in, double t)
{
    char reason[160];
    in->ended = 1;
    snprintf(reason, sizeof reason,
             "the FMU asked to terminate the simulation at t = %.17g", t);
    if (in->host->struct_size >= offsetof(twin_host, request_end) +
                                     sizeof in->host->request_end &&
        in->host->request_end != NULL)
        in->host->request_end(in->host->context, reason);
    else
        say(in, TWIN_LOG_WARNING, "%s; this host cannot end the run early",
            reason);
}

/* ---- value references ---------------------------------------------------- */

static int io_add(fmu_io *io, fmu_type type, uint32_t vr, size_t pos)
{
    fmu_group *g = NULL;
    for (size_t i = 0; i < io->n_groups && g == NULL; i++)
        if (io->g[i].type == type)
            g = &io->g[i];
    if (g == NULL) {
        if (io->n_groups == FMU_T_OTHER)
            return -1;
        g = &io->g[io->n_groups++];
        g->type = type;
    }
    uint32_t *vrs = realloc(g->vr, (g->n + 1) * sizeof *vrs);
    if (vrs == NULL)
        return -1;
    g->vr = vrs;
    size_t *ps = realloc(g->pos, (g->n + 1) * sizeof *ps);
    if (ps == NULL)
        return -1;
    g->pos = ps;
    g->vr[g->n] = vr;
    g->pos[g->n] = pos;
    g->n++;
    if (pos + 1 > io->n)
        io->n = pos + 1;
    return 0;
}

static void io_free(fmu_io *io)
{
    for (size_t i = 0; i < io->n_groups; i++) {
        free(io->g[i].vr);
        free(io->g[i].pos);
    }
    memset(io, 0, sizeof *io);
}

/* Set or get every group of io, as far as the FMU accepts. */
static twin_status io_set(twin_instance *in, const fmu_io *io,
                          const double *v)
{
    twin_status st = TWIN_OK;
    for (size_t i = 0; i < io->n_groups && st < TWIN_ERROR; i++) {
        twin_status s = in->ops->set(in, &io->g[i], v);
        st = s > st ? s : st;
    }
    return st;
}

static twin_status io_get(twin_instance *in, const fmu_io *io, double *v)
{
    twin_status st = TWIN_OK;
    for (size_t i = 0; i < io->n_groups && st < TWIN_ERROR; i++) {
        twin_status s = in->ops->get(in, &io->g[i], v);
        st = s > st ? s : st;
    }
    return st;
}

static int settable_parameter(const fmu_var *v)
{
    return (v->causality == FMU_C_PARAMETER ||
            v->causality == FMU_C_STRUCTURAL_PARAMETER) &&
           (v->variability == FMU_V_FIXED ||
            v->variability == FMU_V_TUNABLE) &&
           v->initial != FMU_I_CALCULATED && v->type != FMU_T_OTHER;
}

static long state_index(const fmu_desc *d, size_t var)
{
    for (size_t j = 0; j < d->n_states; j++)
        if (d->states[j] == var)
            return (long)j;
    return -1;
}

/* Sort the descriptor's variables into the instance's value sets. */
static int build_io(twin_instance *in)
{
    const fmu *f = in->f;
    const fmu_desc *d = &f->desc;
    size_t np = 0, nx = 0, nu = 0, ny = 0, n_states = 0;
    for (size_t i = 0; i < f->model.n_variables; i++)
        n_states += f->model_vars[i].kind == TWIN_VAR_STATE;
    in->perm = calloc(n_states + 1, sizeof *in->perm);
    in->par_string = calloc(f->model.n_variables + 1, sizeof(size_t));
    in->par_string_vr = calloc(f->model.n_variables + 1, sizeof(uint32_t));
    if (!in->perm || !in->par_string || !in->par_string_vr)
        return -1;
    for (size_t i = 0; i < f->model.n_variables; i++) {
        const twin_variable *mv = &f->model_vars[i];
        const fmu_var *v = &d->vars[f->var_of[i]];
        int rc = 0;
        switch (mv->kind) {
        case TWIN_VAR_PARAMETER:
            if (mv->flags & TWIN_VAR_STRING) {
                in->par_string[in->n_par_string] = np;
                in->par_string_vr[in->n_par_string++] = v->vr;
            } else if (settable_parameter(v)) {
                rc = io_add(&in->par, v->type, v->vr, np);
            }
            np++;
            break;
        case TWIN_VAR_STATE:
            if (f->use == FMU_CS) {
                rc = io_add(&in->xout, v->type, v->vr, nx);
            } else {
                long j = state_index(d, f->var_of[i]);
                if (j < 0) {
                    say(in, TWIN_LOG_ERROR,
                        "state '%s' is not among the FMU's continuous states "
                        "(ModelStructure/Derivatives)", mv->name);
                    return -1;
                }
                in->perm[nx] = (size_t)j;
                if (v->initial != FMU_I_CALCULATED)
                    rc = io_add(&in->xin, v->type, v->vr, nx);
            }
            nx++;
            break;
        case TWIN_VAR_INPUT:
            /* Discrete inputs change only in event mode (Model
             * Exchange): kept apart. */
            rc = io_add(v->variability == FMU_V_CONTINUOUS ? &in->in
                                                            : &in->ind,
                        v->type, v->vr, nu++);
            break;
        case TWIN_VAR_OUTPUT:
            rc = io_add(&in->out, v->type, v->vr, ny++);
            break;
        }
        if (rc != 0)
            return -1;
    }
    in->in.n = in->ind.n = nu;
    in->out.n = ny;
    if (f->use == FMU_ME) {
        if (nx != d->n_states) {
            say(in, TWIN_LOG_ERROR,
                "the model lists %zu states, the FMU has %zu continuous "
                "states", nx, d->n_states);
            return -1;
        }
        in->nx = nx;
        in->ng = d->n_event_indicators;
    }
    in->xf = calloc(in->nx + 1, sizeof(double));
    in->dxf = calloc(in->nx + 1, sizeof(double));
    in->x_set = calloc(in->nx + 1, sizeof(double));
    in->u_set = calloc(nu + 1, sizeof(double));
    in->x_tmp = calloc(in->nx + 1, sizeof(double));
    if (!in->xf || !in->dxf || !in->x_set || !in->u_set || !in->x_tmp)
        return -1;
    return fmu_run__scratch(in, 8 * (f->model.n_variables + 1)) ? 0 : -1;
}

/* ---- life -------------------------------------------------------------- */

static void run_destroy(twin_instance *in)
{
    if (in == NULL)
        return;
    if (in->c != NULL && in->worst < TWIN_FATAL) {
        if (in->in_init && !in->terminated && in->worst < TWIN_ERROR) {
            checked(in, in->ops->terminate(in), "Terminate", NAN);
            in->terminated = 1;
        }
        in->ops->free_instance(in);
    }
    /* After a fatal status the standard allows no call, not even
     * FreeInstance: the instance is left to the run's process, which
     * ends. */
    io_free(&in->par);
    io_free(&in->in);
    io_free(&in->ind);
    io_free(&in->out);
    io_free(&in->xout);
    io_free(&in->xin);
    free(in->perm);
    free(in->par_string);
    free(in->par_string_vr);
    free(in->xf);
    free(in->dxf);
    free(in->x_set);
    free(in->u_set);
    free(in->x_tmp);
    free(in->buf);
    free(in);
}

static twin_status set_parameters(twin_instance *in, const double *params)
{
    twin_status st = TWIN_OK;
    const twin_host *h = in->host;
    int has_strings = h->struct_size >= offsetof(twin_host, param_string) +
                                            sizeof h->param_string &&
                      h->param_string != NULL;
    for (size_t i = 0; i < in->n_par_string && has_strings; i++) {
        const char *s = h->param_string(h->context, in->par_string[i]);
        if (s != NULL)
            CALL(in, st, "SetString", NAN,
                 in->ops->set_string(in, in->par_string_vr[i], s));
    }
    if (in->par.n_groups > 0)
        CALL(in, st, "Set (parameters)", NAN, io_set(in, &in->par, params));
    return st;
}

static twin_status run_create(const twin_host *host, const double *params,
                              twin_instance **out)
{
    if (host == NULL ||
        host->struct_size < offsetof(twin_host, model) + sizeof host->model ||
        host->model == NULL) {
        twin_log(host, TWIN_LOG_ERROR,
                 "an FMU needs a host of model ABI 1.1 (twin_host.model)");
        return TWIN_ERROR;
    }
    fmu *f = fmu_model__of(host->model);
    if (f == NULL) {
        twin_log(host, TWIN_LOG_ERROR, "this descriptor is not an FMU's");
        return TWIN_ERROR;
    }
    twin_instance *in = calloc(1, sizeof *in);
    if (in == NULL)
        return TWIN_ERROR;
    in->f = f;
    in->host = host;
    in->ops = f->desc.version == FMU_FMI2 ? &fmu_run2__ops : &fmu_run3__ops;
    in->t_next = INFINITY;
    twin_status st = TWIN_ERROR;
    if (build_io(in) != 0) {
        say(in, TWIN_LOG_ERROR, "cannot set up an instance of FMU '%s'",
            f->path);
        goto fail;
    }
    if (in->ops->instantiate(in) != 0) {
        char why[1024];
        fmu_bind__instantiate_failed(f, f->model.name,
                                     in->last[0] ? in->last : NULL, why,
                                     sizeof why);
        twin_log(host, TWIN_LOG_ERROR, why);
        goto fail;
    }
    st = set_parameters(in, params);
    if (st >= TWIN_ERROR)
        goto fail;
    *out = in;
    return st;
fail:
    run_destroy(in);
    return TWIN_ERROR;
}

/* ---- Model Exchange -------------------------------------------------- */

/* Whether a value of io differs from what was set last. */
static int io_changed(const twin_instance *in, const fmu_io *io,
                      const double *u)
{
    if (!in->u_valid)
        return io->n_groups > 0;
    for (size_t i = 0; i < io->n_groups; i++)
        for (size_t j = 0; j < io->g[i].n; j++) {
            size_t k = io->g[i].pos[j];
            if (memcmp(&u[k], &in->u_set[k], sizeof *u) != 0)
                return 1;
        }
    return 0;
}

/* Every input that changed (initialization mode, or between steps). */
static twin_status set_inputs(twin_instance *in, const double *u, double t)
{
    twin_status st = TWIN_OK;
    size_t nu = in->in.n;
    if (io_changed(in, &in->in, u))
        CALL(in, st, "Set (inputs)", t, io_set(in, &in->in, u));
    if (io_changed(in, &in->ind, u))
        CALL(in, st, "Set (inputs)", t, io_set(in, &in->ind, u));
    if (nu > 0)
        memcpy(in->u_set, u, nu * sizeof *u);
    in->u_valid = 1;
    return st;
}

static twin_status settle(twin_instance *in, double t, double *x);

/* The FMU at (t, x, u), in continuous-time mode. */
static twin_status sync(twin_instance *in, double t, const double *x,
                        const double *u)
{
    twin_status st = TWIN_OK;
    if (in->ended || !in->ready)
        return st;
    if (!(in->t_valid && in->t_set == t)) {
        /* outputs and derivatives at one point: one SetTime */
        CALL(in, st, "SetTime", t, in->ops->set_time(in, t));
        in->t_set = t;
        in->t_valid = 1;
    }
    if (in->nx > 0 &&
        !(in->x_valid && memcmp(x, in->x_set, in->nx * sizeof *x) == 0)) {
        for (size_t k = 0; k < in->nx; k++)
            in->xf[in->perm[k]] = x[k];
        CALL(in, st, "SetContinuousStates", t,
             in->ops->set_x(in, in->xf, in->nx));
        memcpy(in->x_set, x, in->nx * sizeof *x);
        in->x_valid = 1;
    }
    if (in->u_valid &&
        (in->in.n == 0 || memcmp(u, in->u_set, in->in.n * sizeof *u) == 0))
        return st; /* no input moved: the common case, one comparison */
    if (io_changed(in, &in->in, u))
        CALL(in, st, "Set (inputs)", t, io_set(in, &in->in, u));
    if (in->u_valid && io_changed(in, &in->ind, u)) {
        /* A discrete input changed: the standard takes it in event mode,
         * with the event iteration after it.  The host's states stay as
         * they are (this call cannot change them). */
        CALL(in, st, "EnterEventMode", t, in->ops->enter_event(in));
        CALL(in, st, "Set (discrete inputs)", t, io_set(in, &in->ind, u));
        PASS(st, settle(in, t, in->x_tmp));
    }
    if (in->in.n > 0)
        memcpy(in->u_set, u, in->in.n * sizeof *u);
    in->u_valid = 1;
    return st;
}

/* Event mode → the new-discrete-states iteration → continuous-time mode,
 * the states read back into x. */
static twin_status settle(twin_instance *in, double t, double *x)
{
    twin_status st = TWIN_OK;
    fmu_update up = {.more = 1};
    do {
        memset(&up, 0, sizeof up);
        CALL(in, st, in->f->desc.version == FMU_FMI2 ? "NewDiscreteStates"
                                                      : "UpdateDiscreteStates",
             t, in->ops->update(in, &up));
        if (up.terminate) {
            end_requested(in, t);
            return st;
        }
    } while (up.more);
    in->t_next = up.next_defined ? up.next : INFINITY;
    CALL(in, st, "EnterContinuousTimeMode", t, in->ops->enter_ct(in));
    if (in->nx > 0) {
        CALL(in, st, "GetContinuousStates", t,
             in->ops->get_x(in, in->xf, in->nx));
        for (size_t k = 0; k < in->nx; k++)
            x[k] = in->xf[in->perm[k]];
        memcpy(in->x_set, x, in->nx * sizeof *x);
        in->x_valid = 1;
    }
    return st;
}

static twin_status me_init(twin_instance *in, double t, double *x,
                           const double *u)
{
    twin_status st = TWIN_OK;
    if (in->xin.n_groups > 0)
        CALL(in, st, "Set (states)", t, io_set(in, &in->xin, x));
    in->in_init = 1;
    CALL(in, st, "EnterInitializationMode", t, in->ops->enter_init(in, t));
    PASS(st, set_inputs(in, u, t));
    CALL(in, st, "ExitInitializationMode", t, in->ops->exit_init(in));
    PASS(st, settle(in, t, x));
    in->ready = 1;
    return st;
}

static twin_status me_derivatives(twin_instance *in, double t,
                                  const double *x, const double *u, double *dx)
{
    twin_status st = sync(in, t, x, u);
    if (st >= TWIN_ERROR)
        return st;
    CALL(in, st, "GetDerivatives", t, in->ops->get_dx(in, in->dxf, in->nx));
    for (size_t k = 0; k < in->nx; k++)
        dx[k] = in->dxf[in->perm[k]];
    return st;
}

static twin_status me_outputs(twin_instance *in, double t, const double *x,
                              const double *u, double *y)
{
    /* Before init (the host's first signals) the outputs keep the start
     * values the host gave them: the FMU is not initialized yet. */
    twin_status st = sync(in, t, x, u);
    if (st >= TWIN_ERROR || in->out.n_groups == 0 || !in->ready)
        return st;
    CALL(in, st, "Get (outputs)", t, io_get(in, &in->out, y));
    return st;
}

static twin_status me_event_indicators(twin_instance *in, double t,
                                       const double *x, const double *u,
                                       double *g)
{
    twin_status st = sync(in, t, x, u);
    if (st >= TWIN_ERROR)
        return st;
    CALL(in, st, "GetEventIndicators", t, in->ops->get_ei(in, g, in->ng));
    return st;
}

static twin_status me_event(twin_instance *in, double t, double *x,
                            const double *u, const int *crossed)
{
    (void)crossed; /* the FMU knows its own indicators */
    twin_status st = sync(in, t, x, u);
    if (st >= TWIN_ERROR || in->ended)
        return st;
    CALL(in, st, "EnterEventMode", t, in->ops->enter_event(in));
    PASS(st, settle(in, t, x));
    return st;
}

static twin_status me_next_event_time(twin_instance *in, double t,
                                      double *t_next)
{
    (void)t;
    *t_next = in->ended ? INFINITY : in->t_next;
    return TWIN_OK;
}

static twin_status me_step_completed(twin_instance *in, double t,
                                     const double *x, const double *u,
                                     int *event_needed)
{
    int enter = 0, terminate = 0;
    twin_status st = sync(in, t, x, u);
    if (st >= TWIN_ERROR || in->ended)
        return st;
    CALL(in, st, "CompletedIntegratorStep", t,
         in->ops->completed_step(in, &enter, &terminate));
    if (terminate)
        end_requested(in, t);
    else
        *event_needed = enter;
    return st;
}

/* ---- Co-Simulation ------------------------------------------------------- */

static twin_status cs_read(twin_instance *in, double t, double *x, double *y)
{
    twin_status st = TWIN_OK;
    if (in->out.n_groups > 0)
        CALL(in, st, "Get (outputs)", t, io_get(in, &in->out, y));
    if (in->xout.n_groups > 0)
        CALL(in, st, "Get (states)", t, io_get(in, &in->xout, x));
    return st;
}

static twin_status cs_init(twin_instance *in, double t, double *x,
                           const double *u)
{
    twin_status st = TWIN_OK;
    in->in_init = 1;
    CALL(in, st, "EnterInitializationMode", t, in->ops->enter_init(in, t));
    PASS(st, set_inputs(in, u, t));
    CALL(in, st, "ExitInitializationMode", t, in->ops->exit_init(in));
    in->t_fmu = t;
    if (in->xout.n_groups > 0)
        CALL(in, st, "Get (states)", t, io_get(in, &in->xout, x));
    return st;
}

static twin_status cs_tick(twin_instance *in, double t, double dt, double *x,
                           const double *u, double *y)
{
    (void)dt; /* the FMU steps from where it is to t */
    twin_status st = TWIN_OK;
    if (t > in->t_fmu && !in->ended) {
        fmu_step res = {.reached = t};
        st = checked(in, in->ops->do_step(in, in->t_fmu, t - in->t_fmu, &res),
                     "DoStep", in->t_fmu);
        if (st >= TWIN_ERROR) {
            say(in, TWIN_LOG_ERROR,
                "the FMU could not complete the step from t = %.17g to "
                "%.17g", in->t_fmu, t);
            return st;
        }
        if (res.terminate)
            end_requested(in, res.reached);
        in->t_fmu = t;
    }
    if (!in->ended)
        PASS(st, set_inputs(in, u, t));
    PASS(st, cs_read(in, t, x, y));
    return st;
}

/* ---- the descriptor ---------------------------------------------------- */

int fmu_run__owns(const twin_model_descriptor *d)
{
    return d->create == run_create;
}

void fmu_run__calls(fmu *f)
{
    twin_model_descriptor *d = &f->model;
    d->create = run_create;
    d->destroy = run_destroy;
    d->next_event_time = NULL;
    d->step_completed = NULL;
    d->derivatives = NULL;
    d->outputs = NULL;
    d->event_indicators = NULL;
    d->event = NULL;
    d->tick = NULL;
    d->sample_period = 0;
    if (f->use == FMU_CS) {
        d->kind = TWIN_MODEL_DISCRETE;
        d->n_event_indicators = 0;
        d->init = cs_init;
        d->tick = cs_tick;
        return;
    }
    d->kind = TWIN_MODEL_CONTINUOUS;
    d->n_event_indicators = f->desc.n_event_indicators;
    d->init = me_init;
    d->derivatives = me_derivatives;
    d->outputs = me_outputs;
    d->event = me_event;
    d->next_event_time = me_next_event_time;
    if (f->desc.n_event_indicators > 0)
        d->event_indicators = me_event_indicators;
    if (f->desc.me_needs_completed_step)
        d->step_completed = me_step_completed;
}
