"""zhang2026 Alg. 1: DAG-structured DNN partitioning point search (bidirectional graph linked list).

For each node p_i, the nodes neither upstream nor downstream of it (P_1, its parallel nodes) are
split into branches: for each n in P_1, the nodes of P_1 comparable with n (``P_1 \\ P_2``,
Alg. 1 line 10). A partition point is p_i plus one node from each branch (the Cartesian product of
line 11); if P_1 is empty, p_i alone is a point (line 5). Each point is mapped to the cut whose
device side is the point with all its ancestors, and s = 1 (send the input) is added, since no
node stands for it.

We read "parent" and "child" as all ancestors and descendants, as the text's "bidirectional
traversal" says: with direct neighbours only, a chain of more than three operators has a non-empty
P_1 for every node, and footnote 2's claim that a chain's points are single operators fails.

What the algorithm misses (docs/graph.md gives the counts per model): every point takes one
node from *every* parallel branch, so a cut in which one parallel branch has started on the
device and another has not (for example a ResNet block whose main path has begun while its
downsample shortcut has not) is never produced. Its I_n, the output size of the point's nodes,
also undercounts transfers when a tensor skips over the point (the input of a residual block
read by the shortcut add): edgesplit's ``Cut.transfer_bits`` counts every crossing tensor.
"""

from __future__ import annotations

from itertools import product
from typing import TYPE_CHECKING

from edgesplit.errors import CutLimitExceededError
from edgesplit.graph.cuts import cut_order_key

if TYPE_CHECKING:
    from edgesplit.graph.model_graph import ModelGraph


def ancestor_masks(graph: ModelGraph) -> tuple[int, ...]:
    """For each node, the bits of all its ancestors (itself excluded)."""
    masks: list[int] = []
    for preds in graph.preds:
        mask = 0
        for p in preds:
            mask |= masks[p] | 1 << p
        masks.append(mask)
    return tuple(masks)


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def partition_points(graph: ModelGraph, limit: int = 1_000_000) -> list[int]:
    """Device masks of the cuts zhang2026 Alg. 1 finds, deduplicated, on the 1-D order.

    ``limit`` caps the number of Cartesian-product combinations examined.
    """
    ancestors = ancestor_masks(graph)
    descendants = graph.descendant_masks  # each includes the node itself
    full = graph.full_mask
    points = {0}
    examined = 0
    for i in range(len(graph.nodes)):
        parallel = full & ~(ancestors[i] | descendants[i])  # P_1
        if not parallel:
            points.add(ancestors[i] | 1 << i)
            continue
        branches: list[list[int]] = []
        seen: set[int] = set()
        for n in _bits(parallel):
            branch = parallel & (ancestors[n] | descendants[n])  # P_1 \ P_2
            if branch not in seen:
                seen.add(branch)
                branches.append(_bits(branch))
        for combination in product(*branches):
            examined += 1
            if examined > limit:
                raise CutLimitExceededError(
                    f"zhang2026 Alg. 1 examined more than {limit:,} combinations on "
                    f"{graph.model_name}; use the exact enumerator (graph.cuts()) or best_cut()"
                )
            mask = ancestors[i] | 1 << i
            for node in combination:
                mask |= ancestors[node] | 1 << node
            points.add(mask)
    return sorted(points, key=cut_order_key)
