"""Three tiers: the layered min cut against enumerating every nested pair of cuts."""

import numpy as np
import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.graph.cuts import cut_from_mask
from edgesplit.graph.tiers import TierCost, best_tiers, brute_force_tiers, tier_cost_of


def _random_cost(graph, seed, scale=(1.0, 1.0, 1.0, 1.0, 1.0)):
    rng = np.random.default_rng(seed)
    n, v = len(graph.nodes), len(graph.values)
    parts = [rng.exponential(1.0, n), rng.exponential(1.0, n), rng.exponential(1.0, n),
             rng.exponential(1.0, v), rng.exponential(1.0, v)]  # fmt: skip
    return TierCost(*(p * s for p, s in zip(parts, scale, strict=True)))


@pytest.mark.parametrize("name,granularity", [("resnet18", "block"), ("googlenet", "block"),
                                              ("mobilenet_v2", "block")])  # fmt: skip
@pytest.mark.parametrize("seed", range(4))
def test_min_cut_equals_enumeration(zoo, name, granularity, seed):
    _, _, graph = zoo(name, granularity)
    # seeds 2 and 3 make the links cheap or dear, so that every tier gets used somewhere
    scale = [(1, 1, 1, 1, 1), (1, 1, 1, 1, 1), (3, 1, 0.2, 0.05, 0.05), (0.5, 1, 2, 5, 5)][seed]
    cost = _random_cost(graph, seed, scale)
    exact = best_tiers(graph, cost)
    enumerated = brute_force_tiers(graph, cost)
    assert exact.cost == pytest.approx(enumerated.cost, rel=1e-8)
    assert exact.device_cut.device_mask & ~exact.edge_cut.device_mask == 0
    assert set(exact.tiers()) <= {0, 1, 2}


def test_tiers_use_every_link_when_it_pays(zoo):
    """A device that is dear, an edge that is dear for late nodes and a cloud that is cheap:
    the optimum uses all three tiers, and its cost is what the direct count gives."""
    _, _, graph = zoo("resnet18", "block")
    n, v = len(graph.nodes), len(graph.values)
    position = np.arange(n) / n
    cost = TierCost(
        device=np.where(position < 0.2, 0.0, 10.0), edge=np.where(position < 0.6, 0.1, 10.0),
        cloud=np.full(n, 1.0), uplink=np.full(v, 0.01), backhaul=np.full(v, 0.01),
    )  # fmt: skip
    plan = best_tiers(graph, cost)
    assert set(plan.tiers()) == {0, 1, 2}
    direct = tier_cost_of(graph, cost, plan.device_cut.device_mask, plan.edge_cut.device_mask)
    assert plan.cost == pytest.approx(direct)


def test_two_tiers_are_the_dads_optimum(zoo):
    """With the cloud out of reach (dear), the nested cut is the two-tier min cut."""
    from edgesplit.graph.mincut import AdditiveCost

    _, _, graph = zoo("googlenet", "block")
    cost = _random_cost(graph, 7)
    far = TierCost(cost.device, cost.edge, np.full(len(graph.nodes), 1e6), cost.uplink,
                   np.full(len(graph.values), 1e6))  # fmt: skip
    plan = best_tiers(graph, far)
    two = graph.best_cut(AdditiveCost(cost.device, cost.edge, cost.uplink))
    assert plan.edge_cut.device_mask == graph.full_mask  # nothing in the cloud
    expected = AdditiveCost(cost.device, cost.edge, cost.uplink).of(two)
    assert plan.cost == pytest.approx(expected, rel=1e-8)


def test_refusals(zoo):
    _, _, graph = zoo("resnet18", "block")
    with pytest.raises(InvalidParameterError, match="tier cost"):
        best_tiers(graph, TierCost(np.ones(2), np.ones(2), np.ones(2), np.ones(1), np.ones(1)))
    with pytest.raises(InvalidParameterError, match=r"tier cost\.edge"):
        TierCost(np.ones(2), -np.ones(2), np.ones(2), np.ones(1), np.ones(1))
    inner = cut_from_mask(graph, graph.full_mask).device_mask
    with pytest.raises(InvalidParameterError, match="subset"):
        tier_cost_of(graph, _random_cost(graph, 0), inner, 0)
