"""Minimum-cost partial matching over sparse candidate pairs: the tracker's GNN association and the
scorer's GOSPA / track-to-truth matching.

A non-candidate cell costs 0 and every candidate a negative amount, so the optimum takes a pair only
when it pays. Pairs whose row and column have no other candidate are taken directly; a small problem
is one dense scipy.optimize.linear_sum_assignment; otherwise the candidate graph is split into
connected components: a component with a single row or a single column takes its cheapest pair
(vectorised), the rest are solved by linear_sum_assignment on blocks of one flat cost buffer.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

DENSE_ASSIGN_MAX = 40000  # below these many (row x column) cells one dense problem beats the component split


def sparse_min_cost_matching(n: int, m: int, ti, mj, cost):
    """Minimum-cost partial matching between n rows and m columns over candidate pairs (ti, mj).

    Every candidate cost must be negative (a saving over leaving both unmatched, which costs 0).
    Returns the matched (rows, cols).
    """
    none = np.zeros(0, np.intp)
    ti, mj, cost = np.asarray(ti, np.intp), np.asarray(mj, np.intp), np.asarray(cost, np.float64)
    if ti.size == 0:
        return none, none
    if np.any(cost >= 0.0):
        raise ValueError("candidate costs must be negative")
    return _solve(n, m, ti, mj, cost)


def _solve(n: int, m: int, ti: np.ndarray, mj: np.ndarray, cost: np.ndarray):
    if ti.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    # A pair whose row and column have no other candidate is a component of its own: taken.
    alone = (np.bincount(ti, minlength=n)[ti] == 1) & (np.bincount(mj, minlength=m)[mj] == 1)
    if alone.any():
        if alone.all():
            return ti.astype(np.intp), mj.astype(np.intp)
        rest = ~alone
        a, b = _solve(n, m, ti[rest], mj[rest], cost[rest])
        return np.r_[ti[alone], a].astype(np.intp), np.r_[mj[alone], b].astype(np.intp)
    rows, r = np.unique(ti, return_inverse=True)
    cols, c = np.unique(mj, return_inverse=True)
    if rows.size * cols.size <= DENSE_ASSIGN_MAX:  # small: one dense problem beats building the graph
        C = np.zeros((rows.size, cols.size))
        C[r, c] = cost
        a, b = linear_sum_assignment(C)
        ok = C[a, b] < 0.0
        return rows[a[ok]].astype(np.intp), cols[b[ok]].astype(np.intp)
    graph = coo_matrix((np.ones(ti.size), (ti, n + mj)), shape=(n + m, n + m))
    ncomp, label = connected_components(graph, directed=False)
    comp = label[ti]
    rows_in = np.bincount(label[rows], minlength=ncomp)
    cols_in = np.bincount(label[n + cols], minlength=ncomp)
    # Components with a single row or a single column: the cheapest pair wins (vectorised).
    star = (rows_in[comp] == 1) | (cols_in[comp] == 1)
    order = np.flatnonzero(star)[np.lexsort((cost[star], comp[star]))]
    first = order[np.r_[True, comp[order][1:] != comp[order][:-1]]] if order.size else order
    out_t, out_m = [ti[first]], [mj[first]]
    # The remaining (small) components: dense Hungarian each, on blocks of one flat cost buffer built at once.
    rest = np.flatnonzero(~star)
    if rest.size:
        rt, rm, rc = ti[rest], mj[rest], comp[rest]
        rows, row_local, row_start, nrows = _local_index(np.unique(rt), label[:n], ncomp)
        cols, col_local, col_start, ncols = _local_index(np.unique(rm), label[n:], ncomp)
        comps = np.unique(rc)
        size = nrows[comps] * ncols[comps]
        offset = np.zeros(ncomp, np.intp)
        offset[comps] = np.cumsum(size) - size
        buf = np.zeros(int(size.sum()))
        buf[offset[rc] + row_local[rt] * ncols[rc] + col_local[rm]] = cost[rest]
        for c in comps.tolist():
            nr, nc, o = int(nrows[c]), int(ncols[c]), int(offset[c])
            C = buf[o:o + nr * nc].reshape(nr, nc)
            a, b = linear_sum_assignment(C)
            ok = C[a, b] < 0.0
            out_t.append(rows[row_start[c] + a[ok]])
            out_m.append(cols[col_start[c] + b[ok]])
    return np.concatenate(out_t).astype(np.intp), np.concatenate(out_m).astype(np.intp)


def _local_index(members: np.ndarray, label: np.ndarray, ncomp: int):
    """Number the members (unique node ids, label[node] = component) within their component.

    Returns the members sorted by component, a node -> local index map, and per component the
    start of its members in the sorted array and their count.
    """
    comp = label[members]
    order = np.argsort(comp, kind="stable")
    members, comp = members[order], comp[order]
    count = np.bincount(comp, minlength=ncomp)
    start = np.cumsum(count) - count
    local = np.zeros(label.size, np.intp)
    local[members] = np.arange(members.size) - start[comp]
    return members, local, start, count
