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

#endif
