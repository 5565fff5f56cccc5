/*
 * graph.c — Kahn's topological order with cycle breaking at
 * non-feedthrough edges, algebraic loop extraction, union-find
 * components, and the plan of a graph with algebraic loops: Tarjan's
 * strongly connected components, tearing, the condensed order.  See
 * graph.h for the rules.
 */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

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

/* ---- strongly connected components (Tarjan, iterative) ---------------- */

size_t graph__scc(size_t n_nodes, const unsigned char *include,
                  const graph_edge *edges, size_t n_edges, size_t *comp)
{
    size_t count = GRAPH_NONE;
    size_t *start = calloc(n_nodes + 2, sizeof *start);
    size_t *adj = calloc(n_edges + 1, sizeof *adj);
    size_t *index = malloc((n_nodes + 1) * sizeof *index);
    size_t *low = malloc((n_nodes + 1) * sizeof *low);
    size_t *stack = malloc((n_nodes + 1) * sizeof *stack);
    size_t *call = malloc((n_nodes + 1) * sizeof *call);
    size_t *next = malloc((n_nodes + 1) * sizeof *next);
    unsigned char *on = calloc(n_nodes + 1, 1);
    if (!start || !adj || !index || !low || !stack || !call || !next || !on)
        goto exit;
    /* Successors over included feedthrough edges (CSR). */
    for (size_t e = 0; e < n_edges; e++)
        if (edges[e].feedthrough && edge_in(&edges[e], include))
            start[edges[e].from + 1]++;
    for (size_t i = 0; i < n_nodes; i++)
        start[i + 1] += start[i];
    for (size_t i = 0; i < n_nodes; i++)
        next[i] = start[i];
    for (size_t e = 0; e < n_edges; e++)
        if (edges[e].feedthrough && edge_in(&edges[e], include))
            adj[next[edges[e].from]++] = edges[e].to;

    size_t counter = 0, sp = 0, found = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        index[i] = GRAPH_NONE;
        comp[i] = GRAPH_NONE;
    }
    for (size_t root = 0; root < n_nodes; root++) {
        if (!include[root] || index[root] != GRAPH_NONE)
            continue;
        size_t depth = 0;
        call[depth++] = root;
        index[root] = low[root] = counter++;
        next[root] = start[root];
        stack[sp++] = root;
        on[root] = 1;
        while (depth > 0) {
            size_t v = call[depth - 1];
            if (next[v] < start[v + 1]) {
                size_t w = adj[next[v]++];
                if (index[w] == GRAPH_NONE) {
                    index[w] = low[w] = counter++;
                    next[w] = start[w];
                    stack[sp++] = w;
                    on[w] = 1;
                    call[depth++] = w;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            depth--;
            if (depth > 0 && low[v] < low[call[depth - 1]])
                low[call[depth - 1]] = low[v];
            if (low[v] == index[v]) {
                size_t w;
                do {
                    w = stack[--sp];
                    on[w] = 0;
                    comp[w] = found;
                } while (w != v);
                found++;
            }
        }
    }
    /* Tarjan completes a component after every component it reaches:
     * reverse the numbers so that edges go from lower to higher. */
    for (size_t i = 0; i < n_nodes; i++)
        if (comp[i] != GRAPH_NONE)
            comp[i] = found - 1 - comp[i];
    count = found;
exit:
    free(start);
    free(adj);
    free(index);
    free(low);
    free(stack);
    free(call);
    free(next);
    free(on);
    return count;
}

/* ---- tearing ----------------------------------------------------------- */

/* Whether component c of sub has a cycle: two members or more, or one with
 * a feedthrough edge (in work) to itself. */
static int cyclic(size_t n_nodes, const size_t *sub, size_t c,
                  const graph_edge *work, size_t n_edges)
{
    size_t members = 0;
    for (size_t i = 0; i < n_nodes && members < 2; i++)
        members += sub[i] == c;
    if (members >= 2)
        return 1;
    for (size_t e = 0; e < n_edges; e++)
        if (work[e].feedthrough && work[e].from == work[e].to &&
            sub[work[e].from] == c)
            return 1;
    return 0;
}

size_t graph__tear(size_t n_nodes, const size_t *comp, size_t c,
                   const graph_edge *edges, size_t n_edges,
                   unsigned char *torn)
{
    size_t n_torn = GRAPH_NONE;
    graph_edge *work = malloc((n_edges + 1) * sizeof *work);
    unsigned char *member = malloc(n_nodes + 1);
    size_t *sub = malloc((n_nodes + 1) * sizeof *sub);
    size_t *in = malloc((n_nodes + 1) * sizeof *in);
    size_t *out = malloc((n_nodes + 1) * sizeof *out);
    if (!work || !member || !sub || !in || !out)
        goto exit;
    for (size_t i = 0; i < n_nodes; i++)
        member[i] = comp[i] == c;
    for (size_t e = 0; e < n_edges; e++) {
        work[e] = edges[e];
        if (torn[e])
            work[e].feedthrough = 0;
    }
    n_torn = 0;
    for (;;) {
        size_t count = graph__scc(n_nodes, member, work, n_edges, sub);
        if (count == GRAPH_NONE) {
            n_torn = GRAPH_NONE;
            goto exit;
        }
        size_t k = 0;
        while (k < count && !cyclic(n_nodes, sub, k, work, n_edges))
            k++;
        if (k == count)
            break;
        for (size_t i = 0; i < n_nodes; i++)
            in[i] = out[i] = 0;
        for (size_t e = 0; e < n_edges; e++) {
            const graph_edge *w = &work[e];
            if (w->feedthrough && member[w->from] && member[w->to] &&
                sub[w->from] == k && sub[w->to] == k) {
                out[w->from]++;
                in[w->to]++;
            }
        }
        size_t pick = GRAPH_NONE;
        for (size_t i = 0; i < n_nodes; i++)
            if (member[i] && sub[i] == k &&
                (pick == GRAPH_NONE || in[i] < in[pick] ||
                 (in[i] == in[pick] && out[i] > out[pick])))
                pick = i;
        for (size_t e = 0; e < n_edges; e++) {
            graph_edge *w = &work[e];
            if (w->feedthrough && w->to == pick && member[w->from] &&
                sub[w->from] == k) {
                w->feedthrough = 0;
                torn[e] = 1;
                n_torn++;
            }
        }
    }
exit:
    free(work);
    free(member);
    free(sub);
    free(in);
    free(out);
    return n_torn;
}

/* ---- the plan ---------------------------------------------------------- */

void graph__plan_free(graph_plan *plan)
{
    free(plan->order);
    free(plan->pre);
    free(plan->loop);
    free(plan->torn);
    memset(plan, 0, sizeof *plan);
}

/* Append the members of component c to the plan's order, in an order of
 * the untorn edges between them (sub and its arrays: scratch space). */
static int plan_inside(graph_plan *plan, size_t n_nodes,
                       const unsigned char *prefer, const graph_edge *edges,
                       size_t n_edges, const size_t *comp, size_t c,
                       graph_edge *sub, unsigned char *member, size_t *order,
                       unsigned char *pre, size_t *cycle)
{
    size_t n_sub = 0, n_order = 0, n_cycle = 0;
    for (size_t i = 0; i < n_nodes; i++)
        member[i] = comp[i] == c;
    for (size_t e = 0; e < n_edges; e++)
        if (!plan->torn[e] && member[edges[e].from] && member[edges[e].to])
            sub[n_sub++] = edges[e];
    if (graph__order(n_nodes, member, prefer, sub, n_sub, order, &n_order,
                     pre, cycle, &n_cycle) != GRAPH_OK)
        return -1; /* not after tearing; out of memory */
    for (size_t k = 0; k < n_order; k++) {
        plan->order[plan->n_order++] = order[k];
        plan->pre[order[k]] |= pre[order[k]];
    }
    return 0;
}

int graph__plan(size_t n_nodes, const unsigned char *include,
                const unsigned char *prefer, const graph_edge *edges,
                size_t n_edges, graph_plan *plan)
{
    int rc = GRAPH_NOMEM;
    memset(plan, 0, sizeof *plan);
    size_t *comp = malloc((n_nodes + 1) * sizeof *comp);
    size_t *loop_of = malloc((n_nodes + 1) * sizeof *loop_of);
    size_t *rep = malloc((n_nodes + 1) * sizeof *rep);
    graph_edge *cedges = malloc((n_edges + 1) * sizeof *cedges);
    unsigned char *call = malloc(n_nodes + 1), *cpre = malloc(n_nodes + 1);
    unsigned char *cprefer = calloc(n_nodes + 1, 1);
    unsigned char *member = malloc(n_nodes + 1), *pre = malloc(n_nodes + 1);
    size_t *corder = malloc((n_nodes + 1) * sizeof *corder);
    size_t *order = malloc((n_nodes + 1) * sizeof *order);
    size_t *cycle = malloc((n_edges + 1) * sizeof *cycle);
    plan->order = malloc((n_nodes + 1) * sizeof *plan->order);
    plan->pre = calloc(n_nodes + 1, 1);
    plan->loop = malloc((n_nodes + 1) * sizeof *plan->loop);
    plan->torn = calloc(n_edges + 1, 1);
    if (!comp || !loop_of || !rep || !cedges || !call || !cpre || !cprefer ||
        !member || !pre || !corder || !order || !cycle || !plan->order ||
        !plan->pre || !plan->loop || !plan->torn)
        goto exit;
    /* Without a loop the plan is graph__order's order, as it was before
     * loops were solved (and at its cost). */
    size_t n_plain = 0, n_cycle = 0;
    int plain = graph__order(n_nodes, include, prefer, edges, n_edges,
                             plan->order, &n_plain, plan->pre, cycle,
                             &n_cycle);
    if (plain == GRAPH_NOMEM)
        goto exit;
    if (plain == GRAPH_OK) {
        plan->n_order = n_plain;
        for (size_t i = 0; i < n_nodes; i++)
            plan->loop[i] = GRAPH_NONE;
        rc = GRAPH_OK;
        goto exit;
    }
    memset(plan->pre, 0, n_nodes);
    size_t count = graph__scc(n_nodes, include, edges, n_edges, comp);
    if (count == GRAPH_NONE)
        goto exit;

    /* Which components are loops (two members, or a feedthrough edge to
     * itself); tear each.  rep: a member of each component. */
    for (size_t c = 0; c < count; c++)
        loop_of[c] = rep[c] = GRAPH_NONE;
    for (size_t i = 0; i < n_nodes; i++)
        if (include[i]) {
            if (rep[comp[i]] != GRAPH_NONE)
                loop_of[comp[i]] = 0;
            rep[comp[i]] = i;
        }
    for (size_t e = 0; e < n_edges; e++)
        if (edges[e].feedthrough && edges[e].from == edges[e].to &&
            include[edges[e].from])
            loop_of[comp[edges[e].from]] = 0;
    for (size_t c = 0; c < count; c++) {
        if (loop_of[c] == GRAPH_NONE)
            continue;
        size_t t = graph__tear(n_nodes, comp, c, edges, n_edges, plan->torn);
        if (t == GRAPH_NONE)
            goto exit;
        plan->n_torn += t;
    }

    /* The condensed graph: a node per component. */
    size_t n_c = 0, n_corder = 0;
    for (size_t e = 0; e < n_edges; e++) {
        const graph_edge *g = &edges[e];
        if (!edge_in(g, include) || comp[g->from] == comp[g->to])
            continue;
        cedges[n_c].from = comp[g->from];
        cedges[n_c].to = comp[g->to];
        cedges[n_c++].feedthrough = g->feedthrough;
    }
    for (size_t c = 0; c < count; c++)
        call[c] = 1;
    for (size_t i = 0; prefer && i < n_nodes; i++)
        if (include[i] && prefer[i])
            cprefer[comp[i]] = 1;
    if (graph__order(count, call, prefer ? cprefer : NULL, cedges, n_c,
                     corder, &n_corder, cpre, cycle, &n_cycle) != GRAPH_OK)
        goto exit; /* the condensed graph has no feedthrough cycle */

    for (size_t i = 0; i < n_nodes; i++) {
        plan->loop[i] = GRAPH_NONE;
        if (include[i] && cpre[comp[i]])
            plan->pre[i] = 1;
    }
    for (size_t k = 0; k < n_corder; k++) {
        size_t c = corder[k];
        if (loop_of[c] == GRAPH_NONE) {
            plan->order[plan->n_order++] = rep[c];
            continue;
        }
        size_t first = plan->n_order;
        if (plan_inside(plan, n_nodes, prefer, edges, n_edges, comp, c,
                        cedges, member, order, pre, cycle) != 0)
            goto exit;
        for (size_t j = first; j < plan->n_order; j++)
            plan->loop[plan->order[j]] = plan->n_loops;
        plan->n_loops++;
    }
    rc = GRAPH_OK;
exit:
    if (rc != GRAPH_OK)
        graph__plan_free(plan);
    free(comp);
    free(loop_of);
    free(rep);
    free(cedges);
    free(call);
    free(cpre);
    free(cprefer);
    free(member);
    free(pre);
    free(corder);
    free(order);
    free(cycle);
    return rc;
}
