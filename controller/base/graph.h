/*
 * graph.h — evaluation order and integration groups of a composed
 * scenario.  Pure graph algorithms over instance indices; knows nothing of
 * models or solvers.
 *
 * An edge A → B says B reads a signal of A.  It is "feedthrough" when that
 * signal depends directly on A's inputs at the same instant.  A cycle made
 * only of feedthrough edges is an algebraic loop and cannot be ordered.  A
 * cycle with a non-feedthrough edge is broken there: the reader is placed
 * first and the source is marked for pre-evaluation, since a
 * non-feedthrough signal is right as soon as the states are.
 *
 * graph__plan orders a graph that may hold algebraic loops: the strongly
 * connected components of the feedthrough edges (Tarjan) are condensed,
 * the condensed graph is ordered as above, and each loop is torn (a few of
 * its edges chosen so that the rest are acyclic) and ordered inside.
 */
#ifndef TWIN_GRAPH_H
#define TWIN_GRAPH_H

#include <stddef.h>

typedef struct graph_edge {
    size_t from, to;
    int feedthrough;
} graph_edge;

enum { GRAPH_OK = 0, GRAPH_LOOP = 1, GRAPH_NOMEM = -1 };

/* Order the nodes i with include[i] != 0, using the edges whose two ends
 * are included.  Where a cycle must be broken, a node with prefer[i] != 0
 * is chosen first (prefer may be NULL).  On GRAPH_OK: order[0..*n_order)
 * holds the nodes, pre[i] != 0 marks the sources to evaluate before the
 * ordered pass.  On GRAPH_LOOP: cycle[0..*n_cycle) holds the indices of
 * the edges of one algebraic loop, in the direction of the signal. */
int graph__order(size_t n_nodes, const unsigned char *include,
                 const unsigned char *prefer, const graph_edge *edges,
                 size_t n_edges, size_t *order, size_t *n_order,
                 unsigned char *pre, size_t *cycle, size_t *n_cycle);

/* Connected components of the included nodes over the edges joining two
 * included nodes (direction ignored).  comp[i] gets a group number
 * 0..count-1 for included nodes (numbered by first appearance), and
 * (size_t)-1 for the others.  Returns count, or (size_t)-1 when out of
 * memory. */
size_t graph__components(size_t n_nodes, const unsigned char *include,
                         const graph_edge *edges, size_t n_edges,
                         size_t *comp);

/* "No such thing" in a size_t slot (no component, no loop). */
#define GRAPH_NONE ((size_t)-1)

/* Strongly connected components (Tarjan) of the included nodes over the
 * feedthrough edges joining two included nodes.  comp[i] gets 0..count-1
 * for included nodes, numbered so that an edge between two components
 * goes from a lower number to a higher one, and GRAPH_NONE for the
 * others.  Returns count, or GRAPH_NONE when out of memory. */
size_t graph__scc(size_t n_nodes, const unsigned char *include,
                  const graph_edge *edges, size_t n_edges, size_t *comp);

/* Tear the component c of comp (as graph__scc numbers them): set torn[e]
 * for feedthrough edges inside it until no cycle of untorn feedthrough
 * edges is left in it.  Greedy: while a cycle is left, take the cyclic
 * sub-component found first and, in it, the node with the fewest incoming
 * feedthrough edges from inside it (then the most outgoing ones, then the
 * lowest index), and tear all those incoming edges; each pass breaks every
 * cycle through that node.  torn[] is only ever set.  Returns the number
 * of edges torn, or GRAPH_NONE when out of memory. */
size_t graph__tear(size_t n_nodes, const size_t *comp, size_t c,
                   const graph_edge *edges, size_t n_edges,
                   unsigned char *torn);

/* An evaluation plan of a graph with algebraic loops. */
typedef struct graph_plan {
    size_t *order;        /* the included nodes; a loop's members follow
                           * each other, in their order after tearing */
    size_t n_order;
    unsigned char *pre;   /* per node: evaluate before the ordered pass
                           * (a cycle was broken at a non-feedthrough edge
                           * out of it, or out of its loop) */
    size_t *loop;         /* per node: its loop 0..n_loops-1, or GRAPH_NONE */
    size_t n_loops;       /* loops, numbered in the order they come */
    unsigned char *torn;  /* per edge: a tear edge of a loop */
    size_t n_torn;
} graph_plan;

/* Plan the nodes with include[i] != 0 (prefer as for graph__order).  A
 * graph without an algebraic loop gets graph__order's order as it is.
 * Otherwise the loops are the components of graph__scc with two nodes or
 * more, or one node with a feedthrough edge to itself.  Each loop is torn
 * (graph__tear) and ordered inside over its untorn edges; the condensed
 * graph, a node per component, is ordered with graph__order.  Returns
 * GRAPH_OK or GRAPH_NOMEM; free the plan with graph__plan_free. */
int graph__plan(size_t n_nodes, const unsigned char *include,
                const unsigned char *prefer, const graph_edge *edges,
                size_t n_edges, graph_plan *plan);

void graph__plan_free(graph_plan *plan);

#endif
