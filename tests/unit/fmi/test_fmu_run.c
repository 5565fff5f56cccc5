/*
 * test_fmu_run.c — fmu_run.c, the FMU's descriptor functions, driven
 * directly as the host drives a model (create, init, derivatives,
 * outputs, event indicators, event, tick, next_event_time, destroy) on
 * the test FMUs of tests/fmus (FMI 2.0 and 3.0, Model Exchange and
 * Co-Simulation), with a host that records the log and request_end.  The
 * runs through twinctl and CVODE, against the closed forms, are
 * tests/test_fmu_run.py; this file checks the calls.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fmu.h"

typedef struct rec {
    char log[8192];
    char end[512];
    int ended;
} rec;

static void rec_log(void *context, twin_log_level level, const char *msg)
{
    rec *r = context;
    size_t n = strlen(r->log);
    snprintf(r->log + n, sizeof r->log - n, "[%d] %s\n", (int)level, msg);
}

static void rec_end(void *context, const char *reason)
{
    rec *r = context;
    r->ended = 1;
    snprintf(r->end, sizeof r->end, "%s", reason);
}

typedef struct run {
    fmu *f;
    const twin_model_descriptor *d;
    twin_host host;
    rec r;
    twin_instance *in;
    double p[16], x[16], u[16], y[16];
} run;

/* Open tests/fmus/<name>.fmu for the interface and create an instance
 * with the default parameters. */
static void open_run(run *rn, const char *name, unsigned want)
{
    char path[4096], why[1024];
    const char *dir = getenv("TWIN_TEST_FMU_DIR");
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/%s.fmu", dir, name);
    memset(rn, 0, sizeof *rn);
    rn->f = fmu_model__open(path, -1, want, why, sizeof why);
    if (rn->f == NULL)
        fail_msg("%s", why);
    rn->d = &rn->f->model;
    rn->host = (twin_host){.struct_size = sizeof rn->host,
                           .context = &rn->r,
                           .log = rec_log,
                           .model = rn->d,
                           .request_end = rec_end};
    size_t np = 0, nx = 0, nu = 0;
    for (size_t i = 0; i < rn->d->n_variables; i++) {
        const twin_variable *v = &rn->d->variables[i];
        if (v->kind == TWIN_VAR_PARAMETER)
            rn->p[np++] = v->start;
        else if (v->kind == TWIN_VAR_STATE)
            rn->x[nx++] = v->start;
        else if (v->kind == TWIN_VAR_INPUT)
            rn->u[nu++] = v->start;
    }
}

static twin_status create(run *rn)
{
    return rn->d->create(&rn->host, rn->p, &rn->in);
}

static void close_run(run *rn)
{
    if (rn->in != NULL)
        rn->d->destroy(rn->in);
    rn->in = NULL;
    fmu_model__close(&rn->f);
}

/* Index of a variable among those of its kind. */
static size_t slot(const run *rn, const char *name)
{
    size_t k[4] = {0};
    for (size_t i = 0; i < rn->d->n_variables; i++) {
        const twin_variable *v = &rn->d->variables[i];
        if (strcmp(v->name, name) == 0)
            return k[v->kind];
        k[v->kind]++;
    }
    fail_msg("no variable %s", name);
    return 0;
}

static const char *const versions[] = {"2", "3"};

/* The ball, Model Exchange: Euler steps with the indicator's sign change
 * as the state event; the event resets v in x, counts the bounce. */
static void test_fmu_run__ball_me(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        run rn;
        char name[32];
        snprintf(name, sizeof name, "ball%s", versions[v]);
        open_run(&rn, name, FMU_ME);
        assert_int_equal(rn.d->kind, TWIN_MODEL_CONTINUOUS);
        assert_int_equal(rn.d->n_event_indicators, 1);
        assert_null(rn.d->step_completed);   /* the FMU does not need it */
        assert_int_equal(create(&rn), TWIN_OK);
        assert_int_equal(rn.d->init(rn.in, 0, rn.x, rn.u), TWIN_OK);
        double t = 0, h = 1e-5, dx[2], g0, g1, t_next;
        assert_int_equal(rn.d->next_event_time(rn.in, t, &t_next), TWIN_OK);
        assert_true(isinf(t_next));
        rn.d->event_indicators(rn.in, t, rn.x, rn.u, &g0);
        int bounced = 0;
        while (t < 0.6) {
            assert_int_equal(rn.d->derivatives(rn.in, t, rn.x, rn.u, dx),
                             TWIN_OK);
            rn.x[0] += h * dx[0];
            rn.x[1] += h * dx[1];
            t += h;
            rn.d->event_indicators(rn.in, t, rn.x, rn.u, &g1);
            if (g0 > 0 && g1 <= 0) {
                int crossed = -1;
                assert_int_equal(rn.d->event(rn.in, t, rn.x, rn.u, &crossed),
                                 TWIN_OK);
                assert_true(rn.x[1] > 4.4 * 0.7 * 0.99);  /* v = −e·v */
                assert_true(rn.x[0] == 0);
                bounced++;
                rn.d->event_indicators(rn.in, t, rn.x, rn.u, &g1);
            }
            g0 = g1;
        }
        assert_int_equal(bounced, 1);
        assert_int_equal(rn.d->outputs(rn.in, t, rn.x, rn.u, rn.y), TWIN_OK);
        assert_true(rn.y[slot(&rn, "bounces")] == 1);
        assert_true(fabs(rn.y[slot(&rn, "t_bounce")] - sqrt(2 / 9.81)) <
                    1e-4);
        close_run(&rn);
    }
}

/* Time events: the next event time after init and after each event. */
static void test_fmu_run__ticker_me(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        run rn;
        char name[32];
        snprintf(name, sizeof name, "ticker%s", versions[v]);
        open_run(&rn, name, FMU_ME);
        assert_int_equal(create(&rn), TWIN_OK);
        assert_int_equal(rn.d->init(rn.in, 0, rn.x, rn.u), TWIN_OK);
        double t_next;
        for (int n = 1; n <= 4; n++) {
            assert_int_equal(rn.d->next_event_time(rn.in, 0, &t_next),
                             TWIN_OK);
            assert_true(t_next == (double)n * 0.3);
            double x_before = rn.x[0];
            assert_int_equal(rn.d->event(rn.in, t_next, rn.x, rn.u, NULL),
                             TWIN_OK);
            assert_true(rn.x[0] == x_before + 1);   /* the state reset */
            rn.d->outputs(rn.in, t_next, rn.x, rn.u, rn.y);
            assert_true(rn.y[slot(&rn, "count")] == n);
            assert_true(rn.y[slot(&rn, "t_event")] == t_next);
        }
        assert_int_equal(rn.r.ended, 0);
        close_run(&rn);
    }
}

/* Co-Simulation: each tick steps from the previous one, and a limit
 * reached asks the host to end the run. */
static void test_fmu_run__ticker_cs_terminates(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        run rn;
        char name[32];
        snprintf(name, sizeof name, "ticker%s", versions[v]);
        open_run(&rn, name, FMU_CS);
        assert_int_equal(rn.d->kind, TWIN_MODEL_DISCRETE);
        rn.p[slot(&rn, "limit")] = 2;
        assert_int_equal(create(&rn), TWIN_OK);
        assert_int_equal(rn.d->init(rn.in, 0, rn.x, rn.u), TWIN_OK);
        for (int k = 0; k <= 4 && !rn.r.ended; k++) {
            double t = k * 0.25;
            assert_int_equal(rn.d->tick(rn.in, t, 0.25, rn.x, rn.u, rn.y),
                             TWIN_OK);
            int n = (int)floor(t / 0.3 + 1e-9);
            assert_true(rn.y[slot(&rn, "count")] == (n < 2 ? n : 2));
        }
        assert_int_equal(rn.r.ended, 1);
        assert_non_null(strstr(rn.r.end, "terminate"));
        assert_true(rn.y[slot(&rn, "t_event")] == 2 * 0.3);
        close_run(&rn);
    }
}

/* Integer and Boolean values both ways, and the resources' offset. */
static void test_fmu_run__through(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++)
        for (unsigned want = FMU_ME; want <= FMU_CS; want++) {
            run rn;
            char name[32];
            snprintf(name, sizeof name, "through%s", versions[v]);
            open_run(&rn, name, want);
            assert_int_equal(create(&rn), TWIN_OK);
            rn.u[slot(&rn, "r_in")] = 1.5;
            rn.u[slot(&rn, "i_in")] = -7;
            rn.u[slot(&rn, "b_in")] = 1;
            assert_int_equal(rn.d->init(rn.in, 0, rn.x, rn.u), TWIN_OK);
            twin_status st =
                want == FMU_ME
                    ? rn.d->outputs(rn.in, 0, rn.x, rn.u, rn.y)
                    : rn.d->tick(rn.in, 0, 1, rn.x, rn.u, rn.y);
            assert_int_equal(st, TWIN_OK);
            assert_true(rn.y[slot(&rn, "r_out")] == 3.125);
            assert_true(rn.y[slot(&rn, "i_out")] == -6);
            assert_true(rn.y[slot(&rn, "b_out")] == 0);
            assert_true(rn.y[slot(&rn, "offset")] == 0.125);
            const twin_variable *r_out = NULL;
            for (size_t i = 0; i < rn.d->n_variables; i++)
                if (strcmp(rn.d->variables[i].name, "r_out") == 0)
                    r_out = &rn.d->variables[i];
            assert_true(r_out->flags & TWIN_VAR_FEEDTHROUGH);
            close_run(&rn);
        }
}

/* An error status: the call fails with the FMU's message in the log, and
 * the instance is freed without fmiNTerminate. */
static void test_fmu_run__error_status(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        run rn;
        char name[32];
        snprintf(name, sizeof name, "faulty%s", versions[v]);
        open_run(&rn, name, FMU_ME);
        rn.p[slot(&rn, "t_fail")] = 1;
        assert_int_equal(create(&rn), TWIN_OK);
        assert_int_equal(rn.d->init(rn.in, 0, rn.x, rn.u), TWIN_OK);
        double dx[1];
        assert_int_equal(rn.d->derivatives(rn.in, 0.5, rn.x, rn.u, dx),
                         TWIN_OK);
        assert_int_equal(rn.d->derivatives(rn.in, 1.5, rn.x, rn.u, dx),
                         TWIN_ERROR);
        assert_non_null(strstr(rn.r.log, "on purpose"));
        assert_non_null(strstr(rn.r.log, "returned"));
        close_run(&rn);
    }
}

/* A token that does not match: create refuses, naming the file. */
static void test_fmu_run__wrong_token(void **state)
{
    (void)state;
    for (size_t v = 0; v < 2; v++) {
        run rn;
        char name[32];
        snprintf(name, sizeof name, "ball%s", versions[v]);
        open_run(&rn, name, FMU_ME);
        char *token = rn.f->desc.token;
        rn.f->desc.token = "{not-this-one}";
        assert_int_equal(create(&rn), TWIN_ERROR);
        assert_null(rn.in);
        rn.f->desc.token = token;
        assert_non_null(strstr(rn.r.log, name));
        close_run(&rn);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmu_run__ball_me),
        cmocka_unit_test(test_fmu_run__ticker_me),
        cmocka_unit_test(test_fmu_run__ticker_cs_terminates),
        cmocka_unit_test(test_fmu_run__through),
        cmocka_unit_test(test_fmu_run__error_status),
        cmocka_unit_test(test_fmu_run__wrong_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
