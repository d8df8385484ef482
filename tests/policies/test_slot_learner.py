"""``slot-ppo``, the learner that decides like the planner at scale: the channel-slot layout it
shares with the planner, a demonstrator's decision projected onto its heads and laid out again,
its equivariance over devices, its policy file on scenarios of other sizes, its warm start
from a demonstrator's decisions (DAgger rounds) and the policy file shipped for zhang2026-100."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from edgesplit.contract import WINDOW_FIELDS, WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.planner import SlotTypes, WindowPlanner, place_slots
from edgesplit.policies.registry import make_policy
from edgesplit.policies.slots import SlotConfig, SlotPPO
from edgesplit.policies.training import Trainer
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario

from .test_window_policies import train_ppo


def test_laid_out_slots_share_no_channel_and_keep_each_devices_count_and_type():
    """Random counts and types at 100 devices on 20 channels: every offloaded task is of its
    device's type, within the tasks its window runs, alone on its channel at its position,
    with the servers in turn; a device offloads its count unless the positions it may use are
    full (then every one of them it does not offload at holds ``channels`` tasks)."""
    system = WindowPlanner("zhang2026-100").system
    width, channels, kinds = 5, 20, 11
    rng = np.random.default_rng(0)
    for _ in range(20):
        cap = rng.integers(0, width + 1, 100)
        slots = np.minimum(rng.integers(0, width + 1, 100), cap)
        kind = np.where(slots > 0, rng.integers(1, kinds, 100), 0)
        at, channel, server = place_slots(system, cap, slots, kind)
        offloaded = at > 0
        assert not (offloaded & (np.arange(width)[None] >= cap[:, None])).any()
        assert (at[offloaded] == np.broadcast_to(kind[:, None], at.shape)[offloaded]).all()
        per_position = offloaded.sum(0)
        for x in range(width):
            assert sorted(channel[offloaded[:, x], x]) == list(range(per_position[x]))
            assert np.array_equal(server[offloaded[:, x], x], channel[offloaded[:, x], x] % 10)
        for d in range(100):
            got = offloaded[d].sum()
            assert got <= slots[d]
            if got < slots[d]:  # every position it runs and does not offload at is full
                assert (per_position[: cap[d]][~offloaded[d, : cap[d]]] == channels).all()


def test_the_types_are_the_planners_option_rows():
    """The learner's types, built from its cuts, are the planner's option rows of the same
    (cut, power level) on channel 0 and server 0, and the allocation's option indices."""
    planner = WindowPlanner("zhang2026-100")
    learner = SlotPPO(planner.scenario)
    types = learner.types
    from_options = SlotTypes.of_options(planner.system, planner.options, planner.n_options)
    np.testing.assert_array_equal(types.rows, from_options.rows)
    kinds = np.arange(1, types.valid.shape[1])
    index = types.option(planner.system, kinds, 0, 0)
    np.testing.assert_array_equal(planner.options[:, index], types.rows[:, kinds])


def test_the_planners_decisions_survive_the_projection_onto_the_heads():
    """zhang2026-100: the planner's decision projected onto (window, count, type) and laid out
    again keeps every device's window and, where the decision used one type, its offloaded
    count and type; the laid-out plan never has two tasks on a channel at a position."""
    scenario = load_scenario("zhang2026-100")
    learner = SlotPPO(scenario)
    planner = make_policy("planner", scenario, settings={"budget_s": "0.05"})
    env = decision_env(scenario)
    obs, _ = env.reset(seed=4)
    planner.reset(4)
    kept = 0
    for _ in range(3):
        decision = planner.decide(obs)
        actions = learner._head_actions(decision, obs)
        back = learner._env_action(actions, obs)
        remaining = WindowState.decode(obs, 100).remaining
        assert np.array_equal(back["window"], decision.window)
        runs = np.arange(5)[None] < np.minimum(decision.window, remaining)[:, None]
        local = (learner.system.n_cuts - 1)[:, None]
        before, after = runs & (decision.cut != local), runs & (back["cut"] != local)
        for x in range(5):
            channels = back["channel"][after[:, x], x]
            assert len(np.unique(channels)) == len(channels)
        one_type = [
            len(
                {
                    (c, p)
                    for c, p in zip(
                        decision.cut[d, before[d]], decision.power_w[d, before[d]], strict=True
                    )
                }
            )
            <= 1
            for d in range(100)
        ]
        same = before.sum(1) == after.sum(1)
        assert same[one_type].mean() >= 0.95
        kept += same[one_type].sum()
        obs, *_ = env.step(decision)
    assert kept > 200


def test_permuting_the_devices_permutes_the_decision():
    """The network is equivariant: the logits of a permuted observation are the permuted
    logits (distinct distances, so ranks are unambiguous)."""
    learner = SlotPPO("zhang2026-100", seed=3)
    obs, _ = decision_env(learner.scenario).reset(seed=1)
    order = np.random.default_rng(2).permutation(100)
    permuted = np.concatenate([obs[:100][order], obs[100:][order]])
    with torch.no_grad():
        plain = learner._logits(learner._scaled(obs)[None])
        moved = learner._logits(learner._scaled(permuted)[None])
    for a, b in zip(plain[:3], moved[:3], strict=True):
        torch.testing.assert_close(a[0, order], b[0], rtol=1e-4, atol=1e-4)


def test_a_policy_file_decides_on_scenarios_of_other_sizes(tmp_path):
    """Trained on zhang2026-small, the file loads on zhang2026 (3 devices) and zhang2026-100
    and decides there with no channel shared at a position; a scenario with other Eq. 8
    weights is refused by name."""
    config = SlotConfig(rollout_steps=16, minibatch=8, epochs=1)
    train_ppo(tmp_path, load_scenario("zhang2026-small"), config, 32, cls=SlotPPO)
    trained = tmp_path / "policy.pt"
    for preset in ("zhang2026", "zhang2026-100"):
        policy = make_policy("slot-ppo", preset, checkpoint=trained)
        obs, _ = decision_env(policy.scenario).reset(seed=0)
        decision = policy.decide(obs)
        offloaded = decision.cut != (policy.system.n_cuts - 1)[:, None]
        for x in range(5):
            channels = decision.channel[offloaded[:, x], x]
            assert len(np.unique(channels)) == len(channels)
    other = load_scenario("zhang2026").model_copy(
        update={
            "window_reward": load_scenario("zhang2026").window_reward.model_copy(
                update={"beta": 10.0}
            )
        }
    )
    with pytest.raises(InvalidParameterError, match="window_reward"):
        make_policy("slot-ppo", other, checkpoint=trained)


def test_a_budget_for_a_demonstrator_without_one_is_refused_by_name():
    with pytest.raises(InvalidParameterError, match=r"demonstrator_budget_s.*greedy"):
        SlotPPO("zhang2026", config=SlotConfig(demonstrator="greedy", demonstrator_budget_s=0.1))


class _Recording(gym.Wrapper):
    """The env, keeping every (observation, action) it was stepped with."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.seen: list[tuple[np.ndarray, dict]] = []

    def reset(self, **kwargs):
        self.obs, info = self.env.reset(**kwargs)
        return self.obs, info

    def step(self, action):
        self.seen.append((self.obs, {key: np.array(value) for key, value in action.items()}))
        out = self.env.step(action)
        self.obs = out[0]
        return out


def _trained(out, scenario, config, steps):
    policy = SlotPPO(scenario, seed=0, config=config)
    env = _Recording(policy.training_env())
    eval_env = decision_env(scenario)
    Trainer(
        env,
        steps,
        0,
        out,
        eval_every=steps,
        eval_episodes=1,
        evaluate=lambda p, s: run_episode(p, eval_env, s)["reward"],
        show_progress=False,
    ).run(policy)
    return policy, env.seen


def test_dagger_rounds_step_the_env_with_the_learners_own_choice(tmp_path):
    """With two imitation rounds, the second round's steps are the learner's most likely
    actions after the first round's fit (replayed by a run stopped there), where the first
    round's are the demonstrator's; after the fit the learner agrees with the planner on the
    windows and counts of far more busy devices than the untrained network (which on none)."""
    scenario = load_scenario("zhang2026-small")
    config = SlotConfig(
        imitation_steps=40,
        imitation_rounds=2,
        imitation_epochs=60,
        learning_rate=3e-3,
        minibatch=8,
        rollout_steps=16,
        epochs=1,
    )
    whole, seen = _trained(tmp_path / "a", scenario, config, 40)
    first, _ = _trained(tmp_path / "b", scenario, config, 20)
    own = [first.decide(obs).as_action(WINDOW_FIELDS) for obs, _ in seen]
    same = [
        all(np.array_equal(o[k], a[k]) for k in WINDOW_FIELDS)
        for o, (_, a) in zip(own, seen, strict=True)
    ]
    assert all(same[20:])
    assert not all(same[:20])
    planner = make_policy("planner", scenario)
    labels = [(obs, whole._head_actions(planner.decide(obs), obs)) for obs, _ in seen]
    fitted, untrained = _agreement(whole, labels), _agreement(SlotPPO(scenario), labels)
    assert fitted >= untrained + 0.4, (fitted, untrained)


def _agreement(learner, labels) -> float:
    """The share of busy devices whose most likely window and count are the label's."""
    agree = busy = 0
    for obs, label in labels:
        with torch.no_grad():
            window, slots, _, cap, on = learner._logits(learner._scaled(obs)[None])
            window = window.argmax(-1)
            chosen = learner._slots_distribution(slots, window, cap).probs.argmax(-1)
        hit = (window == label["window"]) & (chosen == label["slots"])
        agree += int(hit[on > 0].sum())
        busy += int((on > 0).sum())
    return agree / busy


def test_the_shipped_policy_beats_local_on_a_held_out_seed():
    """The policy file shipped for zhang2026-100 (trained on episode seeds from 100,003), named
    by its file name, loads without unpickling and, on seed 0, loses less than nine tenths of
    what ``local`` loses; a name that is neither a file nor a shipped policy is refused."""
    scenario = load_scenario("zhang2026-100")
    env = decision_env(scenario)
    shipped = make_policy("slot-ppo", scenario, checkpoint="slot-ppo-zhang2026-100")
    learned = run_episode(shipped, env, 0)
    local = run_episode(make_policy("local", scenario), env, 0)
    assert learned["reward"] > 0.9 * local["reward"]
    with pytest.raises(InvalidParameterError, match=r"slot-ppo-zhang2026-1000.*an existing file"):
        make_policy("slot-ppo", scenario, checkpoint="slot-ppo-zhang2026-1000")
