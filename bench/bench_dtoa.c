/*
 * bench_dtoa.c — the cost of a double's text: controller/dtoa.c (the
 * shortest digits from libdouble-conversion) against printf.  The floor
 * is snprintf("%.17g"), the cheapest printf call whose text always reads
 * back; "printf shortest" is what csv.c did before dtoa.c (%.15g, read
 * back with strtod, %.17g when that did not give the value).
 *
 *     bench_dtoa [COUNT]      (default 5 000 000 values of each kind)
 *
 * Two kinds of values: "results" are what a run writes (levels, flows and
 * controller outputs of a simulation: smooth doubles using all 53 bits),
 * "decimals" are short decimals (set points, parameters: 0.7, 273.15).
 * Prints ns per value and each method's ratio to the floor.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dtoa.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t printf_shortest(double v, char *buf)
{
    int n = snprintf(buf, 32, "%.15g", v);
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, 32, "%.17g", v);
    return (size_t)n;
}

static size_t printf_17g(double v, char *buf)
{
    return (size_t)snprintf(buf, 32, "%.17g", v);
}

static size_t fast(double v, char *buf)
{
    return dtoa__shortest(v, buf);
}

/* ns per value of one method over the values; sums lengths so the work
 * cannot be skipped. */
static double time_it(size_t (*f)(double, char *), const double *v,
                      size_t n, size_t *chars)
{
    char buf[32];
    size_t sum = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        sum += f(v[i], buf);
    double t = now() - t0;
    *chars = sum;
    return 1e9 * t / (double)n;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 5000000;
    double *results = malloc(n * sizeof *results);
    double *decimals = malloc(n * sizeof *decimals);
    if (results == NULL || decimals == NULL)
        return 1;
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i * 1.0;
        results[i] = 2.0 + 0.5 * sin(t / 3600.0) * exp(-t / 86400.0) +
                     1e-3 * cos(t / 7.0);
        s = s * 6364136223846793005u + 1442695040888963407u;
        char text[32];
        snprintf(text, sizeof text, "%" PRIu64 "e-%d", (s >> 40) % 100000,
                 (int)((s >> 20) % 4));
        decimals[i] = strtod(text, NULL);
    }
    static const struct {
        const char *name;
        size_t (*f)(double, char *);
    } methods[] = {
        {"floor: printf %.17g", printf_17g},
        {"printf shortest (before)", printf_shortest},
        {"dtoa.c", fast},
    };
    const struct {
        const char *name;
        const double *v;
    } kinds[] = {{"results", results}, {"decimals", decimals}};
    printf("%zu values of each kind\n", n);
    printf("%-10s %-26s %10s %12s %8s\n", "values", "method", "ns/value",
           "chars/value", "ratio");
    for (size_t k = 0; k < 2; k++) {
        double floor_ns = 0;
        for (size_t m = 0; m < 3; m++) {
            size_t chars = 0;
            double ns = time_it(methods[m].f, kinds[k].v, n, &chars);
            if (m == 0)
                floor_ns = ns;
            printf("%-10s %-26s %10.1f %12.2f %8.3f\n", kinds[k].name,
                   methods[m].name, ns, (double)chars / (double)n,
                   ns / floor_ns);
        }
    }
    free(results);
    free(decimals);
    return 0;
}
