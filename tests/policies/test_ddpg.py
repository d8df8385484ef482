"""DDP's additions to shi2025 Alg. 2: the critic's cut features and the critic-guided refinement,
checked against Eq. 19 (``action_to_cuts``) and against known per-cut tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.ddpg import Critic, DDPGConfig, DDPPolicy, action_to_cuts
from edgesplit.policies.registry import make_policy

SCENARIO = "shi2025-5g"


def test_cut_features_are_eq19_cuts():
    policy = DDPPolicy(SCENARIO, config=DDPGConfig(hidden=8))
    n_cuts = policy.system.n_cuts
    rng = np.random.default_rng(0)
    edges = [np.linspace(-1, 1, c) for c in n_cuts]  # bin edges, where floor changes
    actions = np.concatenate(
        [rng.uniform(-1, 1, (500, 3)), np.stack([rng.choice(e, 200) for e in edges], axis=1)]
    ).astype(np.float32)
    one_hot = policy.critic.cut_one_hot(torch.as_tensor(actions)).numpy()
    assert one_hot.shape == (len(actions), n_cuts.sum())
    assert np.all(one_hot.sum(1) == 3)
    starts = np.concatenate([[0], np.cumsum(n_cuts)[:-1]])
    cuts = np.stack(
        [one_hot[:, s : s + c].argmax(1) for s, c in zip(starts, n_cuts, strict=True)], axis=1
    )
    np.testing.assert_array_equal(cuts, action_to_cuts(policy.system, actions.astype(np.float64)))


class _TableCritic(torch.nn.Module):
    """Q(s, a) = sum over devices of table[device][Eq. 19 cut of a]: separable, known argmax."""

    def __init__(self, system, tables: list[np.ndarray]) -> None:
        super().__init__()
        self.one_hot = Critic(1, system.n_devices, 4, system=system).cut_one_hot
        self.values = torch.as_tensor(np.concatenate(tables), dtype=torch.float32)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.one_hot(action) @ self.values


@pytest.mark.parametrize("seed", range(5))
def test_refinement_finds_each_devices_best_cut(seed):
    """Coordinate ascent over the bin centres reaches the argmax of a separable Q from any
    proto-action, and the decided cuts are those argmaxes (the all-local cut included)."""
    policy = DDPPolicy(SCENARIO, config=DDPGConfig(hidden=8))
    rng = np.random.default_rng(seed)
    tables = [rng.normal(size=c) for c in policy.system.n_cuts]
    if seed == 0:
        tables[0][-1] = 10.0  # all local, reachable only at a = 1 exactly
    policy.critic = _TableCritic(policy.system, tables)
    proto = torch.as_tensor(rng.uniform(-1, 1, 3), dtype=torch.float32)
    refined = policy._refine(torch.zeros(policy.obs_dim), proto)
    cuts = action_to_cuts(policy.system, refined.numpy().astype(np.float64))
    np.testing.assert_array_equal(cuts, [int(np.argmax(t)) for t in tables])


def test_cut_features_let_the_critic_fit_a_per_cut_utility():
    """A utility that jumps from cut to cut (as VGG's does) is fitted far better with the one-hot
    cuts than from the continuous action alone (same network, data and steps)."""
    system = DDPPolicy(SCENARIO, config=DDPGConfig(hidden=8)).system
    n_cuts = system.n_cuts
    rng = np.random.default_rng(1)
    tables = [torch.as_tensor(rng.normal(size=c), dtype=torch.float32) for c in n_cuts]
    actions = torch.as_tensor(rng.uniform(-1, 1, (2048, 3)), dtype=torch.float32)
    cuts = action_to_cuts(system, actions.numpy().astype(np.float64))
    target = sum(tables[d][torch.as_tensor(cuts[:, d])] for d in range(3))
    obs = torch.zeros(len(actions), 1)
    errors = {}
    for label, features in (("cuts", system), ("continuous", None)):
        torch.manual_seed(0)
        critic = Critic(1, 3, 64, system=features)
        optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
        for _ in range(400):
            loss = torch.nn.functional.mse_loss(critic(obs, actions), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        errors[label] = float(loss.detach())
    assert errors["cuts"] < 0.05 * float(target.var())
    assert errors["cuts"] < 0.25 * errors["continuous"]


def test_eq19_maps_actions_to_every_cut():
    system = DDPPolicy(SCENARIO, config=DDPGConfig(hidden=8)).system
    layers = system.n_cuts - 1
    assert np.array_equal(action_to_cuts(system, -np.ones(3)), np.zeros(3))
    assert np.array_equal(action_to_cuts(system, np.ones(3)), layers)
    grid = np.linspace(-1, 1, 20_001)
    for n in range(3):
        reached = {int(action_to_cuts(system, np.full(3, a))[n]) for a in grid}
        assert reached == set(range(layers[n] + 1))


def test_a_checkpoint_whose_weights_do_not_fit_its_config_is_refused(tmp_path):
    policy = DDPPolicy(SCENARIO, config=DDPGConfig(hidden=8))
    policy.save(tmp_path / "p.pt")
    sidecar = tmp_path / "p.json"
    meta = json.loads(sidecar.read_text())
    meta["config"]["cut_features"] = False  # a config its critic's weights do not fit
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(InvalidParameterError, match=r"critic weights.*older edgesplit"):
        make_policy("ddp+ta", SCENARIO, checkpoint=tmp_path / "p.pt")
