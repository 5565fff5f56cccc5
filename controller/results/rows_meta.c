/*
 * rows_meta.c — the units, descriptions and scenario text of a run's
 * result file, from its composed scenario (see rows_meta.h).
 */
#include "rows_meta.h"

#include <stdlib.h>

int rows_meta__of_scenario(rows_meta *m, const scenario *sc,
                           const json_t *doc)
{
    size_t n = 1 + sc->n_out;
    *m = (rows_meta){0};
    m->units = calloc(n, sizeof *m->units);
    m->descriptions = calloc(n, sizeof *m->descriptions);
    if (m->units == NULL || m->descriptions == NULL)
        goto oom;
    m->n = n;
    m->units[0] = "s";
    m->descriptions[0] = "time";
    for (size_t i = 0; i < sc->n_out; i++) {
        const twin_variable *v = scenario__ref_var(sc, sc->out[i]);
        m->units[i + 1] = v->unit;
        m->descriptions[i + 1] = v->description;
    }
    if (doc != NULL &&
        (m->scenario = json_dumps(doc, JSON_COMPACT)) == NULL)
        goto oom;
    return 0;
oom:
    rows_meta__free(m);
    return -1;
}

void rows_meta__apply(const rows_meta *m, rows_header *h)
{
    if (m->units != NULL && h->n == m->n) {
        h->units = m->units;
        h->descriptions = m->descriptions;
    }
    h->scenario = m->scenario;
}

void rows_meta__free(rows_meta *m)
{
    free(m->units);
    free(m->descriptions);
    free(m->scenario);
    *m = (rows_meta){0};
}
