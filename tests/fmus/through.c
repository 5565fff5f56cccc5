/*
 * through — feedthrough with Real, Integer and Boolean inputs, test FMU:
 * r_out = 2·r_in + offset, i_out = i_in + 1, b_out = not b_in.  offset is
 * read at initialization from the FMU's resources (offset.txt), so a test
 * sees the resource location reach the FMU.
 */
#include <stdio.h>
#include <string.h>

#include "tm.h"

enum { R_IN, I_IN, B_IN, R_OUT, I_OUT, B_OUT, OFFSET, NV };

static const double start[NV] = {0};

static int init(tm_inst *m)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%soffset.txt", m->resources,
             m->resources[0] && m->resources[strlen(m->resources) - 1] != '/'
                 ? "/" : "");
    FILE *f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%lf", &m->v[OFFSET]) != 1) {
        tm__logf(m, TM_ERROR, "cannot read the offset from %s", path);
        if (f != NULL)
            fclose(f);
        return TM_ERROR;
    }
    fclose(f);
    return TM_OK;
}

static int compute(tm_inst *m)
{
    m->v[R_OUT] = 2 * m->v[R_IN] + m->v[OFFSET];
    m->v[I_OUT] = m->v[I_IN] + 1;
    m->v[B_OUT] = m->v[B_IN] == 0;
    return TM_OK;
}

const tm_model tm_model_def = {
    .nv = NV, .start = start, .init = init, .compute = compute,
};
