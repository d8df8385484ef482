"""zhang2026's task-window deciders and learners against independent computations: Eq. 8 in one
and in many windows, the repeated optimum against every decision it covers (through the env),
local only against closed forms, and the PPO learners' checkpoints and resuming."""

from __future__ import annotations

import copy
import csv
import itertools

import numpy as np
import pytest
import torch

from edgesplit.contract import Decision, WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.common import load_checkpoint
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.ppo import EMHPPO, HPPO, MAHPPO, PPOConfig
from edgesplit.policies.registry import make_policy, policy_names
from edgesplit.policies.training import Trainer
from edgesplit.policies.window import (
    POWER_LEVELS,
    WindowOptimum,
    option_index,
    options_per_cut,
    task_options,
)
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.window import (
    efficient_cuts,
    median_gains,
    task_costs,
    window_reward,
    window_rewards,
)
from edgesplit.sim.window_env import TaskWindowMECEnv

SMALL = PPOConfig(rollout_steps=16, minibatch=8, epochs=2)


def _no_shadowing():
    scenario = load_scenario("zhang2026-small")
    radio = scenario.radio.model_copy(update={"shadowing_std_db": 0.0})
    return scenario.model_copy(update={"radio": radio})


def test_window_rewards_follow_eq_8():
    """Eq. 8 for many candidates, against the formula written out per candidate."""
    scenario = load_scenario("zhang2026-small")
    r = scenario.window_reward
    rng = np.random.default_rng(0)
    for _ in range(20):
        window = rng.integers(0, 6, 3)
        latency = rng.uniform(0, 1, (3, 7)) * window[:, None]
        energy = rng.uniform(0, 0.1, 7)
        batched = window_rewards(scenario, latency, window, energy)[0]
        for j in range(7):
            if window.sum() == 0:
                assert batched[j] == 0.0
                continue
            slowest = latency[:, j].max()
            waiting = np.mean([slowest - latency[i, j] for i in range(3) if window[i] > 0])
            expected = -(
                (slowest + r.alpha * waiting) / window.mean()
                + r.beta / 3 * energy[j] / window.mean()
            )
            assert batched[j] == pytest.approx(expected)
            assert window_reward(scenario, latency[:, j], window, energy[j])[0] == pytest.approx(
                expected
            )


def test_the_optimum_beats_every_decision_it_covers_in_the_env():
    """With no shadowing the search sees the env's exact gains: no covered decision (random
    ones, local only) earns more in the real env step."""
    scenario = _no_shadowing()
    optimum = WindowOptimum(scenario)
    env = decision_env(scenario)
    rng = np.random.default_rng(1)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        best = copy.deepcopy(env).step(optimum.decide(obs))[1]
        others = [make_policy("local", scenario).decide(obs)]
        for _ in range(40):
            rows = [o[rng.integers(len(o))] for o in optimum.options]
            cut, channel, server, power = np.array(rows).T
            others.append(
                optimum.repeated(optimum.width, cut.astype(int), channel.astype(int),
                                 server.astype(int), power)
            )  # fmt: skip
        for decision in others:
            assert copy.deepcopy(env).step(decision)[1] <= best + 1e-9


class _EveryCut(WindowOptimum):
    prune_cuts = False


def test_pruning_dominated_cuts_keeps_the_optimum():
    """The search over efficient cuts finds a decision as good in the env as the search over
    every cut (21 x 20 + 1 choices per device instead of 2 x 20 + 1)."""
    scenario = _no_shadowing()
    pruned, everything = WindowOptimum(scenario), _EveryCut(scenario)
    assert pruned.combinations < everything.combinations
    env = decision_env(scenario)
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        rewards = [copy.deepcopy(env).step(p.decide(obs))[1] for p in (pruned, everything)]
        assert rewards[0] == pytest.approx(rewards[1], rel=1e-9)


def test_every_dropped_cut_costs_more_than_a_kept_one():
    """Through the simulator's own task costs: for every cut that ``efficient_cuts`` drops
    there is a kept cut that takes no longer and spends no more energy at random distances,
    powers and channels, on every server, whether alone on it or sharing it with every device."""
    scenario = load_scenario("zhang2026")
    system = WindowOptimum(scenario).system
    kept = efficient_cuts(system)[0]
    dropped = np.setdiff1d(np.arange(system.n_cuts[0] - 1), kept)
    assert len(kept) < len(dropped)
    rng = np.random.default_rng(2)
    cuts = np.arange(system.n_cuts[0] - 1)
    n = system.n_devices
    worse_everywhere = np.ones((len(kept), len(dropped)), bool)
    for _ in range(30):
        server = np.full((n, len(cuts)), rng.integers(system.n_servers))
        active = np.zeros((n, len(cuts)), bool)
        active[0] = True
        if rng.random() < 0.5:  # the other devices share the server (on other channels)
            active[:] = True
        channel = np.broadcast_to(np.arange(n)[:, None] % 2, active.shape)
        costs = task_costs(
            system, active, np.broadcast_to(cuts, active.shape), channel, server,
            np.full(active.shape, rng.uniform(0.01, 1.0)), rng.uniform(1e-6, 1e-2, n),
        )  # fmt: skip
        latency, energy = costs.latency_s[0], costs.energy_j[0]
        worse_everywhere &= (latency[kept][:, None] <= latency[dropped][None, :] + 1e-12) & (
            energy[kept][:, None] <= energy[dropped][None, :] + 1e-15
        )
    assert worse_everywhere.any(axis=0).all()


def test_option_index_finds_each_row_of_the_option_table():
    """Every offloading row of ``task_options`` (built as a product of cuts, channels, servers
    and powers) is where ``option_index`` says, and there are ``options_per_cut`` per cut."""
    policy = make_policy("repeated-optimum", "zhang2026")
    system = policy.system
    cuts = efficient_cuts(system)
    radio = system.scenario.radio
    for device, rows in enumerate(task_options(system, cuts)):
        assert len(rows) == len(cuts[device]) * options_per_cut(system) + 1
        for k, cut in enumerate(cuts[device]):
            for channel in range(radio.channels):
                for server in range(system.n_servers):
                    for p, share in enumerate(POWER_LEVELS):
                        row = rows[option_index(system, k, channel, server, p)]
                        power = np.float32(share * radio.max_transmit_power_w)
                        assert tuple(row) == (cut, channel, server, power)


def test_the_optimum_covers_zhang2026_and_refuses_larger_instances():
    """The joint decisions are counted before the options are built: zhang2026-1000 (970,001
    options per device, 31 GB as a table) is refused with the count, not out of memory."""
    policy = make_policy("repeated-optimum", "zhang2026")
    assert policy.combinations == 41**3 == np.prod([len(o) for o in policy.options])
    scenario = load_scenario("zhang2026")
    devices = [scenario.devices[0].model_copy(update={"count": 5})]
    with pytest.raises(InvalidParameterError, match=r"joint decisions.*at most"):
        make_policy("repeated-optimum", scenario.model_copy(update={"devices": devices}))
    power = int(1000 * np.log10(194 * 100 * 10 * 5 + 1))  # 194 efficient cuts per device
    with pytest.raises(InvalidParameterError, match=rf"about 10\^{power} joint decisions"):
        make_policy("repeated-optimum", "zhang2026-1000")


def test_local_only_matches_closed_forms():
    """Every task runs the whole ResNet-50: energy zeta x MACs, latency the head of the last cut,
    and the episode lasts the busiest device's tasks x that latency."""
    scenario = load_scenario("zhang2026")
    policy = make_policy("local", scenario)
    env = decision_env(scenario)
    env.reset(seed=3)
    tasks = env.unwrapped.remaining.copy()
    metrics = run_episode(policy, env, 3)
    system = policy.system
    last = system.row_offset[0, 0] + system.n_cuts[0] - 1
    assert metrics["energy_per_task_j"] == pytest.approx(1e-11 * system.device_macs[last])
    assert metrics["total_latency_s"] == pytest.approx(tasks.max() * system.head_s[last])


@pytest.mark.parametrize(("devices", "servers"), [(1, 2), (2, 2), (3, 2), (5, 3), (6, 1)])
def test_agilenn_never_puts_two_uploads_on_one_channel(devices, servers):
    """Each position: min(N, C) devices offload, on distinct channels, each at the Shannon rate
    of its channel alone (closed form, no interference); channel c's uploads go to server
    c mod M; the others run locally; each device offloads at its lightest efficient cut."""
    policy = _balanced("agilenn", devices, servers)
    system, radio = policy.system, policy.scenario.radio
    distance = np.linspace(20.0, 180.0, devices)
    decision = policy.decide(WindowState(np.full(devices, 10.0), distance).encode())
    offloads = decision.cut < (system.n_cuts - 1)[:, None]
    assert offloads.sum(axis=0).tolist() == [min(devices, radio.channels)] * policy.width
    for k in range(policy.width):
        used = decision.channel[offloads[:, k], k]
        assert len(set(used.tolist())) == len(used)
    assert np.array_equal(decision.server[offloads], decision.channel[offloads] % servers)
    lightest = [int(cuts[0]) for cuts in efficient_cuts(system)]
    assert all(decision.cut[n, k] == lightest[n] for n, k in np.argwhere(offloads))
    gain = median_gains(system, distance)
    costs = task_costs(
        system, np.ones_like(offloads), decision.cut, decision.channel, decision.server,
        decision.power_w, gain,
    )  # fmt: skip
    noise_w = radio.noise_w_per_hz * radio.bandwidth_hz
    alone_bps = radio.bandwidth_hz * np.log2(1 + radio.max_transmit_power_w * gain / noise_w)
    rows, _ = np.nonzero(offloads)
    assert costs.rate_bps[offloads] == pytest.approx(alone_bps[rows], rel=1e-6)


def _balanced(name: str, devices: int, servers: int):
    scenario = load_scenario("zhang2026")
    scenario = scenario.model_copy(update={
        "devices": [scenario.devices[0].model_copy(update={"count": devices})],
        "servers": [scenario.servers[0].model_copy(update={"count": servers})],
    })  # fmt: skip
    return make_policy(name, scenario, seed=4)


def test_round_robin_and_random_balancers():
    """Round-robin: device n on server (n + k) mod M in window k; random: seeded."""
    policy = _balanced("edge+round-robin", 5, 3)
    observation = WindowState(np.full(5, 10.0), np.full(5, 50.0)).encode()
    for k in range(4):
        decision = policy.decide(observation)
        assert np.array_equal(decision.server[:, 0], (np.arange(5) + k) % 3)
        assert np.all(decision.cut == 0) and np.all(decision.window == policy.width)
    a, b = _balanced("edge+random", 5, 3), _balanced("edge+random", 5, 3)
    assert np.array_equal(a.decide(observation).server, b.decide(observation).server)


@pytest.mark.parametrize("seed", range(6))
def test_least_expected_completion_is_within_grahams_bound(seed):
    """LECT is longest-processing-time-first on identical servers: its busiest server carries at
    most (4/3 - 1/(3M)) of the best assignment's load (Graham 1969), found here by trying every
    assignment; with equal work it spreads the devices evenly."""
    devices, servers = 6, 3
    policy = _balanced("edge+lect", devices, servers)
    remaining = np.random.default_rng(seed).integers(1, 9, devices).astype(float)
    decision = policy.decide(WindowState(remaining, np.full(devices, 50.0)).encode())
    chosen = decision.server[:, 0]
    tail = policy.system.server_s[policy.system.row_offset[0, 0]]
    work = np.minimum(remaining, policy.width) * tail
    lect = max(work[chosen == s].sum() for s in range(servers))
    best = min(
        max(work[np.asarray(a) == s].sum() for s in range(servers))
        for a in itertools.product(range(servers), repeat=devices)
    )
    assert best <= lect <= (4 / 3 - 1 / (3 * servers)) * best + 1e-12
    even = policy.decide(WindowState(np.full(devices, 5.0), np.full(devices, 50.0)).encode())
    assert np.bincount(even.server[:, 0], minlength=servers).tolist() == [2, 2, 2]


def test_window_registry_and_style_errors():
    assert {
        "local",
        "random",
        "agilenn",
        "edge+random",
        "edge+round-robin",
        "edge+lect",
        "repeated-optimum",
        "planner",
        "emh-ppo",
        "mahppo",
        "h-ppo",
    } <= set(policy_names("task_window"))
    with pytest.raises(InvalidParameterError, match=r"policy='dads\+ta'.*task_window"):
        make_policy("dads+ta", "zhang2026")
    with pytest.raises(InvalidParameterError, match="emh-ppo"):
        make_policy("emh-ppo", "shi2025-wifi")


@pytest.mark.parametrize(("cls", "agents"), [(EMHPPO, 2), (MAHPPO, 2), (HPPO, 1)])
def test_architectures_and_decisions(cls, agents):
    policy = cls("zhang2026-small", config=PPOConfig(architecture=cls.architecture))
    assert len(policy.net.agents) == agents

    def widths(module):
        return [m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear)]

    assert widths(policy.net.embedding) == ([512, 256] if cls is EMHPPO else [])
    assert widths(policy.net.agents[0])[:3] == [256, 128, 64]
    env = decision_env(policy.scenario)
    obs, _ = env.reset(seed=0)
    decision = policy.decide(obs)
    assert decision.window.shape == (2,) and decision.cut.shape == (2, 5)
    # one task decision per device, shared by the window's positions
    for field in (decision.cut, decision.channel, decision.server, decision.power_w):
        assert (field == field[:, :1]).all()
    env.step(decision)  # the env's own space checks accept it


def test_the_power_head_works_in_decibels():
    policy = EMHPPO("zhang2026-small")
    floor, limit = policy.config.power_floor, policy.max_power_w
    power_w = policy._power_w(torch.tensor([-0.5, 0.0, 0.5, 1.0, 1.5]))
    np.testing.assert_allclose(
        power_w, [floor * limit, floor * limit, floor**0.5 * limit, limit, limit]
    )
    # equal steps of the head's output are equal steps in dB
    db = 10 * np.log10(policy._power_w(torch.linspace(0, 1, 5)))
    np.testing.assert_allclose(np.diff(db), 10 * np.log10(1 / floor) / 4)


def test_the_cut_head_chooses_efficient_cuts_with_priors_on_the_input_and_channel():
    """The cut head's choices are the efficient offloading cuts and local only; the priors add
    ``input_prior`` to the input's logit and ``channel_prior`` to channel n mod C of device n;
    sampled and decided cuts are among the choices."""
    policy = EMHPPO("zhang2026", config=PPOConfig(input_prior=4.0, channel_prior=2.5))
    system = policy.system
    for device, kept in enumerate(efficient_cuts(system)):
        choices = policy.cut_choices[device][policy.cut_mask[device].numpy()]
        np.testing.assert_array_equal(choices, [*kept, system.n_cuts[device] - 1])
        assert choices[0] == 0  # the input
    obs = torch.zeros(1, policy.obs_dim)
    with torch.no_grad():  # log-probabilities (normalised logits) against the network's output
        cut_logits = policy._distributions(obs)[1].logits[0, :, 0]  # [devices, choices]
        network = policy.net.heads(obs)[1][0, :, 0]
    bonus = (cut_logits - network).numpy()
    bonus -= bonus[:, -1:]  # local only
    np.testing.assert_allclose(bonus[:, 0], 4.0, atol=1e-5)
    np.testing.assert_allclose(bonus[:, 1:], 0.0, atol=1e-5)
    with torch.no_grad():
        channel_bonus = (
            policy._distributions(obs)[2].logits[0, :, 0] - policy.net.heads(obs)[2][0, :, 0]
        ).numpy()  # [devices, channels]: device n's own channel n mod 2 gets 2.5 more
    np.testing.assert_allclose(
        channel_bonus[:, 0] - channel_bonus[:, 1], [2.5, -2.5, 2.5], atol=1e-5
    )
    allowed = [
        {*kept, k - 1} for kept, k in zip(efficient_cuts(system), system.n_cuts, strict=True)
    ]
    env = decision_env(policy.scenario)
    obs, _ = env.reset(seed=0)
    decided = policy.decide(obs).cut
    with torch.no_grad():
        sampled = policy._cuts(
            policy._distributions(policy._scaled(obs)[None])[1].sample()[0].numpy()
        )
    for device, ok in enumerate(allowed):
        assert set(decided[device]) <= ok and set(sampled[device]) <= ok


def train_ppo(out, scenario, config, steps, resume=False, cls=EMHPPO, eval_every=20):
    """``cls`` trained ``steps`` steps into ``out`` (seed 0, one evaluation episode)."""
    policy = cls(scenario, seed=0, config=config)
    eval_env = decision_env(scenario)
    Trainer(
        policy.training_env(), steps, 0, out, eval_every=eval_every, eval_episodes=1,
        evaluate=lambda p, s: run_episode(p, eval_env, s)["reward"], resume=resume,
        show_progress=False,
    ).run(policy)  # fmt: skip
    return policy


def test_ppo_resumed_training_equals_one_run(tmp_path):
    scenario = load_scenario("zhang2026-small")
    whole = train_ppo(tmp_path / "a", scenario, SMALL, 40)
    train_ppo(tmp_path / "b", scenario, SMALL, 20)
    resumed = train_ppo(tmp_path / "b", scenario, SMALL, 40, resume=True)
    for p, q in zip(whole.net.parameters(), resumed.net.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    with (tmp_path / "b" / "eval.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [20, 40]
    loaded = make_policy("emh-ppo", scenario, checkpoint=tmp_path / "a" / "policy.pt")
    obs, _ = decision_env(scenario).reset(seed=0)
    assert np.array_equal(loaded.decide(obs).cut, whole.decide(obs).cut)
    with pytest.raises(InvalidParameterError, match="'zhang2026' differs in devices"):
        make_policy("emh-ppo", "zhang2026", checkpoint=tmp_path / "a" / "policy.pt")
    with pytest.raises(InvalidParameterError, match="a h-ppo checkpoint"):
        make_policy("h-ppo", scenario, checkpoint=tmp_path / "a" / "policy.pt")


class _RecordingEnv(TaskWindowMECEnv):
    """The task-window env, keeping every step's difference rewards (picklable: module level)."""

    def step(self, action):
        out = super().step(action)
        self.seen = [*getattr(self, "seen", []), out[4]["difference_reward"]]
        return out


def test_difference_credit_gives_each_agent_its_own_reward_and_value(tmp_path):
    """credit="difference": the training env reports difference rewards, the rollout holds one
    reward column per device equal to their symlog, and the critic has one head per device; H-PPO
    (one agent) refuses it."""
    scenario = load_scenario("zhang2026-small")
    config = PPOConfig(**{**SMALL.__dict__, "credit": "difference"})
    policy = MAHPPO(scenario, seed=0, config=config)
    assert policy.training_env().unwrapped.difference_rewards
    env = _RecordingEnv(scenario, difference_rewards=True)
    Trainer(
        env, config.rollout_steps - 1, 0, tmp_path, eval_every=1000, eval_episodes=1,
        evaluate=lambda p, s: 0.0, show_progress=False,
    ).run(policy)  # fmt: skip
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    state = saved["learner"]["rollout"]["arrays"]
    rewards = np.array(env.seen)
    stored = state["reward"][: len(rewards)]
    expected = np.sign(rewards) * np.log1p(np.abs(rewards))
    np.testing.assert_allclose(stored, expected, rtol=1e-5)
    assert policy.net.value(torch.zeros(1, policy.obs_dim)).shape == (1, 2)
    with pytest.raises(InvalidParameterError, match="credit"):
        HPPO(scenario, config=PPOConfig(architecture="h", credit="difference"))


def _time_slot(slot_s: float = 0.05):
    return load_scenario("zhang2026-small").model_copy(
        update={"style": "time_slot", "time_slot_s": slot_s}
    )


@pytest.mark.parametrize("slot_s", [0.01, 0.05, 0.3])
def test_time_slot_metrics_of_local_inference_match_the_closed_form(slot_s):
    """All local: each device runs its tasks back to back, so the episode lasts the longest
    device's tasks x the local latency, whatever the slot, and each task costs zeta x MACs."""
    from edgesplit.policies.evaluate import episode_metrics, episode_steps

    scenario = _time_slot(slot_s)
    env = decision_env(scenario)
    system = env.unwrapped.system
    last = system.n_cuts - 1
    n = system.n_devices

    class AllLocal:
        def reset(self, seed):
            pass

        def decide(self, observation):
            return Decision(cut=last.copy(), channel=np.zeros(n, dtype=np.int64),
                            server=np.zeros(n, dtype=np.int64), power_w=np.zeros(n))  # fmt: skip

    steps = episode_steps(AllLocal(), env, seed=3)
    tasks = env.unwrapped.completed
    first, _ = decision_env(scenario).reset(seed=3)
    remaining = WindowState.decode(first, n).remaining
    local_s = system.head_s[system.row_offset[:, 0] + last]
    metrics = episode_metrics(steps)
    assert metrics["total_latency_s"] == pytest.approx(np.max(remaining * local_s), rel=1e-9)
    whole = system.device_macs[system.row_offset[:, 0] + last]
    assert metrics["energy_per_task_j"] == pytest.approx(
        float((remaining * 1e-11 * whole).sum()) / tasks, rel=1e-9
    )


def test_emh_ppo_learns_on_the_time_slot_mdp(tmp_path):
    """The time-slot variant: one task choice per device that the env takes, busy seconds in
    its input, a short training run, and no demonstrator (they decide windows)."""
    scenario = _time_slot()
    policy = make_policy("emh-ppo", scenario)
    assert policy.slotted and policy.width == 1 and policy.obs_dim == 3 * 2
    env = decision_env(scenario)
    obs, _ = env.reset(seed=0)
    decision = policy.decide(obs)
    assert decision.window is None and decision.cut.shape == (2,)
    env.step(decision)
    score = lambda p, s: run_episode(p, env, s)["reward"]  # noqa: E731
    trainer = Trainer(policy.training_env(), 64, 0, tmp_path, 32, 1, score, show_progress=False)
    trainer.run(policy)
    assert (tmp_path / "eval.csv").read_text().count("\n") == 3
    with pytest.raises(InvalidParameterError, match="imitation_steps=10"):
        make_policy("emh-ppo", scenario, settings={"imitation_steps": "10"})
