/*
 * graph.c — Kahn's topological order with cycle breaking at
 * non-feedthrough edges, algebraic loop extraction, and union-find
 * components.  See graph.h for the rules.
 */
#include "graph.h"

#include <stdlib.h>

static int edge_in(const graph_edge *e, const unsigned char *include)
{
    return include[e->from] && include[e->to];
}

/* Follow incoming feedthrough edges between remaining nodes backwards from
 * start until a node repeats; emit that cycle in signal direction. */
static void extract_loop(size_t n_nodes, const graph_edge *edges,
                         size_t n_edges, const unsigned char *include,
                         const unsigned char *done, size_t start,
                         size_t *cycle, size_t *n_cycle, size_t *via,
                         size_t *seen)
{
    for (size_t i = 0; i < n_nodes; i++)
        seen[i] = (size_t)-1;
    size_t node = start, step = 0;
    while (seen[node] == (size_t)-1) {
        seen[node] = step++;
        size_t e;
        for (e = 0; e < n_edges; e++)
            if (edges[e].to == node && edges[e].feedthrough &&
                edge_in(&edges[e], include) && !done[edges[e].from])
                break;
        via[node] = e; /* always found: node had a remaining ft in-edge */
        node = edges[e].from;
    }
    /* node starts the cycle; walk it forwards by collecting backwards. */
    size_t n = 0, cur = node;
    do {
        cycle[n++] = via[cur];
        cur = edges[via[cur]].from;
    } while (cur != node);
    for (size_t i = 0; i < n / 2; i++) {
        size_t t = cycle[i];
        cycle[i] = cycle[n - 1 - i];
        cycle[n - 1 - i] = t;
    }
    *n_cycle = n;
}

int graph__order(size_t n_nodes, const unsigned char *include,
                 const unsigned char *prefer, const graph_edge *edges,
                 size_t n_edges, size_t *order, size_t *n_order,
                 unsigned char *pre, size_t *cycle, size_t *n_cycle)
{
    int rc = GRAPH_NOMEM;
    size_t *indeg = calloc(n_nodes + 1, sizeof *indeg);
    size_t *indeg_ft = calloc(n_nodes + 1, sizeof *indeg_ft);
    size_t *queue = calloc(n_nodes + 1, sizeof *queue);
    size_t *scratch = calloc(2 * n_nodes + 2, sizeof *scratch);
    size_t *out_start = calloc(n_nodes + 2, sizeof *out_start);
    size_t *out_edges = calloc(n_edges + 1, sizeof *out_edges);
    unsigned char *done = calloc(n_nodes + 1, 1);
    if (!indeg || !indeg_ft || !queue || !scratch || !out_start ||
        !out_edges || !done)
        goto exit;

    /* Outgoing adjacency (CSR), so each removal costs its out-degree. */
    for (size_t e = 0; e < n_edges; e++)
        if (edge_in(&edges[e], include))
            out_start[edges[e].from + 1]++;
    for (size_t i = 0; i < n_nodes; i++)
        out_start[i + 1] += out_start[i];
    for (size_t e = 0, *fill = scratch; e < n_edges; e++)
        if (edge_in(&edges[e], include)) {
            size_t f = edges[e].from;
            out_edges[out_start[f] + fill[f]++] = e;
            indeg[edges[e].to]++;
            if (edges[e].feedthrough)
                indeg_ft[edges[e].to]++;
        }

    size_t remaining = 0, head = 0, tail = 0, n = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        pre[i] = 0;
        if (!include[i])
            continue;
        remaining++;
        if (indeg[i] == 0)
            queue[tail++] = i;
    }
    size_t cursor = 0;
    while (remaining > 0) {
        if (head == tail) {
            /* Stuck on cycles: break one at a non-feedthrough edge. */
            size_t pick = (size_t)-1;
            for (int pass = prefer ? 0 : 1; pass < 2 && pick == (size_t)-1;
                 pass++)
                for (size_t k = 0; k < n_nodes; k++) {
                    size_t i = (cursor + k) % n_nodes;
                    if (include[i] && !done[i] && indeg_ft[i] == 0 &&
                        (pass == 1 || prefer[i])) {
                        pick = i;
                        break;
                    }
                }
            if (pick == (size_t)-1) {
                size_t start = 0;
                while (!include[start] || done[start])
                    start++;
                extract_loop(n_nodes, edges, n_edges, include, done, start,
                             cycle, n_cycle, scratch, scratch + n_nodes + 1);
                rc = GRAPH_LOOP;
                goto exit;
            }
            cursor = pick;
            for (size_t e = 0; e < n_edges; e++)
                if (edges[e].to == pick && edge_in(&edges[e], include) &&
                    !done[edges[e].from])
                    pre[edges[e].from] = 1;
            indeg[pick] = 0;
            queue[tail++] = pick;
        }
        size_t i = queue[head++];
        if (done[i])
            continue;
        done[i] = 1;
        remaining--;
        order[n++] = i;
        for (size_t k = out_start[i]; k < out_start[i + 1]; k++) {
            const graph_edge *e = &edges[out_edges[k]];
            if (done[e->to])
                continue;
            if (e->feedthrough)
                indeg_ft[e->to]--;
            if (--indeg[e->to] == 0)
                queue[tail++] = e->to;
        }
    }
    *n_order = n;
    rc = GRAPH_OK;
exit:
    free(indeg);
    free(indeg_ft);
    free(queue);
    free(scratch);
    free(out_start);
    free(out_edges);
    free(done);
    return rc;
}

static size_t find_root(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

size_t graph__components(size_t n_nodes, const unsigned char *include,
                         const graph_edge *edges, size_t n_edges,
                         size_t *comp)
{
    size_t *parent = malloc((n_nodes + 1) * sizeof *parent);
    if (parent == NULL)
        return (size_t)-1;
    for (size_t i = 0; i < n_nodes; i++)
        parent[i] = i;
    for (size_t e = 0; e < n_edges; e++) {
        if (!edge_in(&edges[e], include))
            continue;
        size_t a = find_root(parent, edges[e].from);
        size_t b = find_root(parent, edges[e].to);
        if (a != b) /* the smaller index stays root */
            parent[a > b ? a : b] = a < b ? a : b;
    }
    /* A set's root is its smallest index, so it is numbered before any
     * other member is reached. */
    size_t count = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        if (!include[i]) {
            comp[i] = (size_t)-1;
            continue;
        }
        size_t r = find_root(parent, i);
        comp[i] = r == i ? count++ : comp[r];
    }
    free(parent);
    return count;
}
