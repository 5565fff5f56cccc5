/*
 * fntest.c — a function plugin for the tests: one function per signature
 * kind the manifest can describe (fntest.json), and functions that fail
 * the ways a plugin can: a crash, an exit, a loop without end, NaN.
 * The tests compute the same results themselves and compare.
 */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* doubles in, double out */
double fn_affine(double a, double b, double x)
{
    return a * x + b;
}

/* int in, int out: Euclid */
int fn_gcd(int a, int b)
{
    if (a < 0)
        a = -a;
    if (b < 0)
        b = -b;
    while (b != 0) {
        int r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* long: beyond 32 bits */
long fn_lmul(long a, long b)
{
    return a * b;
}

/* size_t */
size_t fn_zsq(size_t n)
{
    return n * n;
}

/* no arguments */
int fn_answer(void)
{
    return 42;
}

/* double array with an int length */
double fn_norm(const double *x, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

/* two arrays sharing one size_t length */
double fn_dot(const double *x, const double *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* int array with a long length */
long fn_isum(const int *k, long n)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += k[i];
    return s;
}

/* an output array of its input's length, void return */
void fn_scale(const double *x, int n, double factor, double *y)
{
    for (int i = 0; i < n; i++)
        y[i] = factor * x[i];
}

/* an output array whose length the caller gives */
int fn_squares(int n, double *y)
{
    for (int i = 0; i < n; i++)
        y[i] = (double)i * i;
    return n;
}

/* every kind in one signature, interleaved (integer and floating-point
 * registers, then the stack) */
double fn_mixed(double a, int k, const double *v, int n, long m, size_t z,
                const int *w, long nw, double b)
{
    double s = a * k + (double)m + (double)z + b;
    for (int i = 0; i < n; i++)
        s += v[i];
    for (long i = 0; i < nw; i++)
        s += 1000.0 * w[i];
    return s;
}

double fn_nan(double x)
{
    return x < 0 ? NAN : sqrt(x);
}

/* The faulty ones: each ends only its own call. */
double fn_crash(double x)
{
    volatile double *nowhere = NULL;
    return *nowhere + x;
}

double fn_loop(double x)
{
    volatile double s = x;
    for (;;)
        s += 1.0;
    return s;
}

double fn_exit(double x)
{
    exit(x > 0 ? 3 : 0);
}

/* Says something on stdout and on stderr, forks a process that sleeps
 * for ever, and returns its pid: the call's end must end that process
 * too, and the daemon's log must hold the lines, labelled. */
double fn_chatty_fork(double x)
{
    printf("fntest chatty_fork says %g on stdout\n", x);
    fprintf(stderr, "fntest chatty_fork says %g on stderr\n", x);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    return (double)pid;
}

/* A scenario's function in C (fn_library.h): the mean of y weighted by
 * the tick lengths around each sample, w * sum_i y_i (t_{i+1} - t_{i-1}) / 2
 * over the inner samples plus half intervals at the ends — the trapezoid
 * rule written another way, so that it equals w times the built-in
 * integral. */
double fn_weighted_area(const double *t, const double *y, size_t n, double w)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double left = i > 0 ? t[i] - t[i - 1] : 0.0;
        double right = i + 1 < n ? t[i + 1] - t[i] : 0.0;
        s += y[i] * (left + right) / 2.0;
    }
    return w * s;
}
