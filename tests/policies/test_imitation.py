"""The PPO learners' planner-guided warm start: a demonstrator's decisions as the heads' actions
(and back, through the env's action), the fit to them, resuming during the demonstrations, and
setting a learner's config from text (``edgesplit train --set``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.contract import WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.common import configured
from edgesplit.policies.ppo import EMHPPO, MAHPPO, PPOConfig
from edgesplit.policies.registry import make_policy
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario

from .test_window_policies import train_ppo

FAST = {"rollout_steps": 16, "minibatch": 8, "epochs": 2}


def _used_positions(decision, remaining):
    size = np.minimum(decision.window, remaining)
    return np.arange(decision.cut.shape[1])[None, :] < size[:, None]


@pytest.mark.parametrize("demonstrator", ["planner", "repeated-optimum", "local"])
def test_a_demonstrators_decision_survives_the_heads_round_trip(demonstrator):
    """Heads' actions from a decision, turned back into the env's action, are the decision on
    every position the window runs (the power to float32, as the env holds it)."""
    scenario = load_scenario("zhang2026-small")
    learner = EMHPPO(scenario, config=PPOConfig(position_heads=True))
    teacher = make_policy(demonstrator, scenario)
    env = decision_env(scenario)
    obs, _ = env.reset(seed=3)
    for _ in range(3):
        decision = teacher.decide(obs)
        back = learner._env_action(learner._head_actions(decision, obs), obs)
        used = _used_positions(decision, WindowState.decode(obs, 2).remaining)
        assert np.array_equal(back["window"], decision.window)
        for field in ("cut", "channel", "server"):
            assert np.array_equal(back[field][used], getattr(decision, field)[used])
        offloaded = used & (decision.cut < scenario_cuts(learner))
        np.testing.assert_allclose(
            back["power_w"][offloaded], decision.power_w[offloaded].astype(np.float32), rtol=1e-5
        )
        obs, *_ = env.step(decision)


def scenario_cuts(learner):
    """The local-only cut of every device ([devices, 1]): n_cuts - 1."""
    return (np.asarray(learner.system.n_cuts) - 1)[:, None]


def test_a_cut_the_head_cannot_choose_is_refused_by_name():
    scenario = load_scenario("zhang2026-small")
    learner = EMHPPO(scenario, config=PPOConfig(demonstrator="random"))
    obs = decision_env(scenario).reset(seed=0)[0]
    decision = make_policy("random", scenario).decide(obs)  # its cuts: any of 23
    with pytest.raises(InvalidParameterError, match=r"demonstrator.*random.*chose cut"):
        learner._head_actions(decision, obs)


def test_shared_heads_repeat_one_task_decision_and_position_heads_need_not():
    """Without ``position_heads`` every position of a device's window gets the same logits; with
    them the logits of different positions differ (an untrained network already does)."""
    scenario = load_scenario("zhang2026-small")
    obs = torch.rand(1, 4)
    shared = EMHPPO(scenario).net.heads(obs)
    own = EMHPPO(scenario, config=PPOConfig(position_heads=True)).net.heads(obs)
    for head in shared[1:]:
        assert torch.equal(head, head[:, :, :1].expand_as(head))
    assert all(a.shape == b.shape for a, b in zip(shared, own, strict=True))
    assert not torch.equal(own[1][:, :, 0], own[1][:, :, 1])


@pytest.mark.slow  # trains on the demonstrations: seconds
def test_imitation_fits_the_demonstrators_decisions(tmp_path):
    """After 60 demonstrated steps and the fit, the learner's most likely action is the
    demonstrator's on at least 90 % of the demonstrated positions, where the untrained network
    agrees far less."""
    scenario = load_scenario("zhang2026-small")
    config = PPOConfig(**FAST, position_heads=True, imitation_steps=60,
                       demonstrator="repeated-optimum")  # fmt: skip
    untrained = EMHPPO(scenario, seed=0, config=config)
    trained = train_ppo(tmp_path, scenario, config, 60, eval_every=10)
    teacher = make_policy("repeated-optimum", scenario)
    env = decision_env(scenario)
    agree = {"untrained": [], "trained": []}
    for seed in range(4):
        obs, _ = env.reset(seed=100 + seed)
        done = False
        while not done:
            want = teacher.decide(obs)
            used = _used_positions(want, WindowState.decode(obs, 2).remaining)
            for name, learner in (("untrained", untrained), ("trained", trained)):
                got = learner.decide(obs)
                same = (got.cut == want.cut) & (got.channel == want.channel)
                same &= np.broadcast_to((got.window == want.window)[:, None], same.shape)
                agree[name].extend(same[used])
            obs, _, terminated, truncated, _ = env.step(want)
            done = terminated or truncated
    assert np.mean(agree["trained"]) >= 0.9 > np.mean(agree["untrained"]) + 0.3


@pytest.mark.slow  # imitation's resume; test_imitation_fits... covers the training itself
def test_a_run_resumed_during_the_demonstrations_equals_one_run(tmp_path):
    scenario = load_scenario("zhang2026-small")
    config = PPOConfig(**FAST, imitation_steps=30, demonstrator="repeated-optimum")
    whole = train_ppo(tmp_path / "a", scenario, config, 40, cls=MAHPPO)
    train_ppo(tmp_path / "b", scenario, config, 20, cls=MAHPPO)
    resumed = train_ppo(tmp_path / "b", scenario, config, 40, resume=True, cls=MAHPPO)
    for p, q in zip(whole.net.parameters(), resumed.net.parameters(), strict=True):
        torch.testing.assert_close(p, q)


def test_config_settings_from_text_and_their_errors():
    text = {"imitation_steps": "12", "position_heads": "true", "learning_rate": "1e-4"}
    config = configured(PPOConfig(), {**text, "demonstrator": "local"})
    assert (config.imitation_steps, config.position_heads) == (12, True)
    assert (config.learning_rate, config.demonstrator) == (1e-4, "local")
    with pytest.raises(InvalidParameterError, match=r"--set.*imitation_step.*a field of PPOConfig"):
        configured(PPOConfig(), {"imitation_step": "1"})
    with pytest.raises(InvalidParameterError, match=r"--set position_heads.*maybe.*true or false"):
        configured(PPOConfig(), {"position_heads": "maybe"})
    with pytest.raises(InvalidParameterError, match=r"demonstrator.*emh-ppo.*one of"):
        make_policy("emh-ppo", "zhang2026-small", settings={"demonstrator": "emh-ppo"})
    with pytest.raises(InvalidParameterError, match="imitation_steps"):
        make_policy("emh-ppo", "zhang2026-small", settings={"imitation_steps": "-1"})
    with pytest.raises(InvalidParameterError, match=r"--set.*local does not learn"):
        make_policy("local", "zhang2026-small", settings={"imitation_steps": "1"})


def test_train_command_sets_config_fields(tmp_path):
    runner = CliRunner()
    args = ["train", "emh-ppo", "--scenario", "zhang2026-small", "--steps", "20"]
    result = runner.invoke(
        app, [*args, "--out", str(tmp_path / "run"), "--set", "imitation_steps=10",
              "--set", "demonstrator=local", "--set", "rollout_steps=8",
              "--set", "distance_features=true", "--set", "position_heads=true"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = make_policy("emh-ppo", "zhang2026-small", checkpoint=tmp_path / "run" / "policy.pt")
    assert (loaded.config.imitation_steps, loaded.config.demonstrator) == (10, "local")
    assert loaded.obs_dim == 8 and loaded.config.position_heads
    obs, _ = decision_env(loaded.scenario).reset(seed=0)
    assert loaded.decide(obs).window.shape == (2,)
    bad = runner.invoke(app, [*args, "--out", str(tmp_path / "bad"), "--set", "imitation_steps"])
    assert bad.exit_code != 0 and "FIELD=VALUE" in bad.output


def test_distance_features_are_the_path_loss_and_rank_of_each_device():
    """With ``distance_features`` the input adds, per device, log(d / d_low) / log(d_high / d_low)
    and its rank by distance over N - 1, computed here independently."""
    scenario = load_scenario("zhang2026")
    learner = EMHPPO(scenario, config=PPOConfig(distance_features=True))
    obs = WindowState(np.array([5, 0, 3]), np.array([80.0, 2.0, 30.0])).encode()
    features = learner._scaled(obs).numpy()
    assert learner.obs_dim == len(features) == 12
    np.testing.assert_allclose(features[6:9], np.log([80.0, 2.0, 30.0]) / np.log(100.0), rtol=1e-6)
    np.testing.assert_array_equal(features[9:], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(features[:6], EMHPPO(scenario)._scaled(obs).numpy())
    assert learner.decide(obs).window.shape == (3,)


def test_shared_agents_apply_one_network_to_each_devices_own_features_and_id():
    """``shared_agents``: device i's heads are the one agent network applied to the embedding,
    device i's block of the input and its one-hot id (computed here by hand); H-PPO refuses it."""
    scenario = load_scenario("zhang2026")
    config = PPOConfig(shared_agents=True, distance_features=True)
    net = EMHPPO(scenario, config=config).net
    assert len(net.agents) == 1
    obs = torch.rand(2, 12)
    window = net.heads(obs)[0]
    for device in range(3):
        own = obs.reshape(2, 4, 3)[:, :, device]
        ident = torch.eye(3)[device].expand(2, 3)
        out = net.agents[0](torch.cat([net.embedding(obs), own, ident], -1))
        torch.testing.assert_close(window[:, device], out[:, :5])
    with pytest.raises(InvalidParameterError, match="shared_agents"):
        make_policy("h-ppo", scenario, settings={"shared_agents": "true"})
