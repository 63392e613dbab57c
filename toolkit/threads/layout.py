"""Tree layout from parent links: leaves spaced evenly in depth-first order (children in time/page order), every
parent over the middle of its children (tidy, non-crossing). One iterative pass, so threads of thousands of
comments lay out in milliseconds. Shared by the static thread-tree figure and the explorer (no matplotlib here).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def tree_layout(
    ids: Sequence[str], parents: Sequence[str | None], order: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions for a tree given by parent links.

    Returns ``(x, depth, parent_index, attached)``: x in leaf units, depth from the root (0), the row of each
    node's parent (-1 for the root), and whether the node's own parent was missing so it was attached to
    the root (flat sources, orphans, cycles). The root is the first node without a parent in the data (or
    a node whose parent is itself); when there is none, the earliest node.
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    order_key = np.arange(n, dtype=np.float64) if order is None else np.asarray(order, dtype=np.float64)
    index = {cid: i for i, cid in enumerate(ids)}
    parent = np.array([index.get(p, -1) if p is not None else -1 for p in parents], dtype=np.int64)
    parent[parent == np.arange(n)] = -1
    no_parent = np.flatnonzero(parent < 0)
    root = int(no_parent[np.argmin(order_key[no_parent])]) if no_parent.size else int(np.argmin(order_key))
    attached = np.zeros(n, dtype=bool)
    for i in no_parent:
        if i != root:
            parent[i], attached[i] = root, True
    parent[root] = -1
    children: list[list[int]] = [[] for _ in range(n)]
    for i in np.argsort(order_key, kind="stable"):
        if parent[i] >= 0:
            children[parent[i]].append(int(i))
    # Iterative depth-first preorder from the root; nodes on parent cycles are never reached.
    depth = np.full(n, -1, dtype=np.int64)
    preorder: list[int] = []
    stack = [root]
    depth[root] = 0
    while stack:
        node = stack.pop()
        preorder.append(node)
        for child in reversed(children[node]):
            if depth[child] < 0:
                depth[child] = depth[node] + 1
                stack.append(child)
    unreached = np.flatnonzero(depth < 0)
    for i in unreached[np.argsort(order_key[unreached], kind="stable")]:  # cycles: hang them under the root
        parent[i], attached[i], depth[i] = root, True, 1
        children[root].append(int(i))
        children[i] = []
        preorder.append(int(i))
    x = np.zeros(n)
    leaf = 0
    for node in preorder:
        if not children[node] or all(depth[c] != depth[node] + 1 for c in children[node]):
            x[node] = leaf
            leaf += 1
    for node in reversed(preorder):
        kids = [c for c in children[node] if depth[c] == depth[node] + 1]
        if kids:
            x[node] = (x[kids].min() + x[kids].max()) / 2
    return x, depth, parent, attached
