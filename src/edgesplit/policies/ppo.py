"""Hybrid-action PPO for zhang2026's task windows: EMH-PPO and the baselines it is compared with.

One actor-critic, three architectures (``PPOConfig.architecture``):

- ``emh`` (EMH-PPO, zhang2026 Sec. IV-C): a global embedding network (512, 256, GELU) maps the
  joint state to a shared representation; one agent network per device (256, 128, 64, ReLU)
  turns it into that device's heads. The clipped loss is taken per agent and summed over agents
  divided by W_max (Eq. 19).
- ``ma`` (MAHPPO): one agent network per device on the joint state, no shared embedding; the
  same per-agent loss.
- ``h`` (H-PPO): one network for all devices, one joint probability ratio (single agent).

Heads per device: a categorical for the window size, and per task position categoricals for the
cut, channel and server and a Gaussian for the transmit power on a log scale (x in [0, 1] sends
P_limit x ``power_floor``^(1 - x); the default floor is the simulator's least power, 1 % of
P_limit, so that the head's whole range acts: 20 dB). The log-probability
counts the positions the window uses only. The cut head chooses among the device's efficient
offloading cuts (``sim.window.efficient_cuts``) and local only. Two constant logit bonuses set
the start: ``input_prior`` on sending the input and ``channel_prior`` on channel n mod C for
device n (a channel plan the learners may leave; independently sampled channels of three
devices on two channels collide so often that every learner otherwise settles on local only).
The critic (256, 128, 64, ReLU) estimates V(S_k); Eq. 8's reward is already per task (divided
by the mean window), so the value is per task as zhang2026's critic. PPO-clip (0.2), GAE
(lambda 0.95), Adam 1e-4, minibatch 256, gamma 0.95 (Table III).

Per-agent credit (``PPOConfig.credit``): with ``shared`` (zhang2026 as printed) every agent's
ratio is weighed by the advantage of the one joint reward, so each agent is also credited with
what the other devices did. ``difference`` gives agent n its own advantage, from its difference
reward (the env's ``info["difference_reward"]``: the joint reward minus the reward of the same
window without device n; ``sim.window.difference_rewards``) and its own critic head; a change
of agent n's action moves its difference reward exactly as much as the joint reward. H-PPO, one
agent, has the shared credit only.

The training loop (PPO-clip, GAE, the warm start) is ``PPOLearner``'s, which ``slots.SlotPPO``
shares; ``PPOCore`` holds the fields every PPO learner has.

Beyond the paper (``PPOConfig``, ``edgesplit train --set FIELD=VALUE``; measured in
docs/planning.md): a guided warm start (``imitation_steps`` env steps follow a non-learning
``demonstrator``, the actor is fitted to its decisions and the critic to their returns, then PPO
fine-tunes; with ``imitation_rounds`` > 1 in DAgger rounds), ``distance_features`` (each
device's log path loss and distance rank), ``position_heads`` (task heads per window position)
and ``shared_agents`` (one agent network for all devices, fed each device's own features and
id).

One deviation: the update sees symlog(reward) = sign(r) log(1 + |r|). Eq. 8 spans five orders
of magnitude (a near-far collision on a 1 MHz channel costs 10^4 times a good window), which
swamps the advantage of everything else; evaluation reports the raw Eq. 8.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn
from torch.distributions import Categorical, Normal

from edgesplit.contract import TIME_SLOT_FIELDS, WINDOW_FIELDS, Decision, WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.fields import Count, Finite, NonNegative, Positive, Share, Whole
from edgesplit.policies.common import Learner, RolloutBuffer, mlp
from edgesplit.policies.common.learner import LEARNER_CONFIG
from edgesplit.policies.registry import is_learner, make_policy, policy_names, takes_settings
from edgesplit.policies.window import WindowPolicy
from edgesplit.sim import make_env
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.window import MIN_POWER_SHARE, efficient_cuts

ARCHITECTURES = ("emh", "ma", "h")
CREDITS = ("shared", "difference")


@dataclass(config=LEARNER_CONFIG)
class PPOCore:
    """What every PPO learner here sets: the update (Table III's values where it gives them)
    and the demonstrator's warm start."""

    learning_rate: Positive = 3e-4  # Table III: 1e-4 over 1.5M steps; 3e-4 for minutes on 2 cores
    gamma: Share = 0.95
    gae_lambda: Share = 0.95
    clip: Positive = 0.2
    rollout_steps: Count = 512
    minibatch: Count = 256
    epochs: Count = 10
    entropy_coef: NonNegative = 0.001  # 0.01 keeps sampled channels colliding (docs/policies.md)
    value_coef: NonNegative = 0.5
    max_grad_norm: Positive = 0.5
    # demonstrator-guided warm start: for the first imitation_steps env steps the demonstrator
    # (a non-learning window decider, with demonstrator_budget_s as its budget_s when set)
    # decides; the actor is fitted to its decisions and the critic to the returns
    # (imitation_epochs passes), and PPO fine-tunes from there. 0: none (the paper). With
    # imitation_rounds > 1 (DAgger) the steps come in rounds with a fit after each; after the
    # first round the learner's own most likely action steps the env and the demonstrator's
    # decision in the same state is the label.
    imitation_steps: Whole = 0
    demonstrator: str = "planner"
    demonstrator_budget_s: Positive | None = None
    imitation_epochs: Whole = 200
    imitation_rounds: Count = 1
    imitation_learning_rate: Positive | None = None  # the fit's step size (None: learning_rate)


@dataclass(config=LEARNER_CONFIG)
class PPOConfig(PPOCore):
    """The hybrid-action learners' own fields (EMH-PPO, MAHPPO, H-PPO)."""

    architecture: Literal["emh", "ma", "h"] = "emh"
    input_prior: Finite = 1.0  # initial logit bonus of sending the input (0: uniform start)
    channel_prior: Finite = 2.0  # initial logit bonus of channel n mod C for device n
    power_floor: Annotated[float, Field(gt=0, le=1)] = MIN_POWER_SHARE  # x = 0 sends this
    # share of P_limit (log scale)
    credit: Literal["shared", "difference"] = "shared"  # per-agent advantages: "shared" (Eq. 19)
    # or "difference" (own reward)
    position_heads: bool = False  # one set of task heads per window position (else shared)
    distance_features: bool = False  # add each device's path loss and distance rank (_scaled)
    shared_agents: bool = False  # one agent network for all devices (own features + id); not h


class HybridActorCritic(nn.Module):
    """The actor (embedding and agent networks, heads) and the critic."""

    def __init__(
        self, obs_dim: int, devices: int, width: int, cuts: int, channels: int, servers: int,
        architecture: str, values: int = 1, position_heads: bool = False,
        shared_agents: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.devices, self.width = devices, width
        # one task decision's heads, shared by the window's positions (sampled per position),
        # or with ``position_heads`` one set of heads per position
        p = width if position_heads else 1
        self.sizes = [width, p * cuts, p * channels, p * servers, p]
        self.shapes = [(width,), (p, cuts), (p, channels), (p, servers), (p,)]
        head = sum(self.sizes)
        self.architecture = architecture
        if architecture == "emh":
            self.embedding = mlp([obs_dim, 512, 256], nn.GELU, activate_last=True)
            agent_in = 256
        else:
            self.embedding = nn.Identity()
            agent_in = obs_dim
        self.shared_agents = shared_agents
        if architecture == "h":
            self.agents = nn.ModuleList(
                [nn.Sequential(mlp([agent_in, 256, 128, 64], activate_last=True),
                               nn.Linear(64, devices * head))]
            )  # fmt: skip
        elif shared_agents:  # one agent network for every device, fed its own features and id
            agent_in += obs_dim // devices + devices
            self.agents = nn.ModuleList(
                [nn.Sequential(mlp([agent_in, 256, 128, 64], activate_last=True),
                               nn.Linear(64, head))]
            )  # fmt: skip
        else:
            self.agents = nn.ModuleList(
                nn.Sequential(
                    mlp([agent_in, 256, 128, 64], activate_last=True), nn.Linear(64, head)
                )
                for _ in range(devices)
            )
        self.log_std = nn.Parameter(torch.full((devices, 1), -1.0))
        self.critic = nn.Sequential(
            mlp([obs_dim, 256, 128, 64], activate_last=True), nn.Linear(64, values)
        )  # one value per credited reward: [batch, values]

    def heads(self, obs: torch.Tensor) -> list[torch.Tensor]:
        """[batch, devices, ...] tensors: window, cut, channel and server logits, power mean."""
        shared, b, n = self.embedding(obs), obs.shape[0], self.devices
        if self.shared_agents:  # the observation is per-device blocks: [b, features, n]
            own = obs.reshape(b, -1, n).transpose(1, 2)
            ids = torch.eye(n).expand(b, n, n)
            out = self.agents[0](torch.cat([shared[:, None].expand(b, n, -1), own, ids], -1))
        else:
            out = torch.stack([agent(shared) for agent in self.agents], dim=1)
        out = out.reshape(b, n, -1)
        parts = torch.split(out, self.sizes, dim=-1)
        window, *task = (
            p.reshape(b, n, *shape) for p, shape in zip(parts, self.shapes, strict=True)
        )
        return [window, *(p.expand(-1, -1, self.width, *p.shape[3:]) for p in task)]

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs)


class PPOLearner(Learner, WindowPolicy):
    """PPO-clip with GAE on the task-window env, and a demonstrator's warm start. A subclass
    gives its network and per-device action heads: ``build``, ``obs_dim`` and ``_scaled`` (the
    network's input), ``_action_fields`` (the heads' actions as a rollout holds them),
    ``_sample``, ``_log_prob_entropy``, ``_used``, and the maps to the env's action
    (``_env_action``) and back from a demonstrator's decision (``_head_actions``)."""

    config_class = PPOCore
    actions: ClassVar[tuple[str, ...]]  # the heads' action names, as ``_action_fields`` keys

    def __init__(self, scenario: str | Scenario, seed: int, config: PPOCore) -> None:
        super().__init__(scenario, seed)
        self.config = config
        deciders = [d for d in policy_names("task_window") if not is_learner(d)]
        if self.config.demonstrator not in deciders:
            raise InvalidParameterError(
                "demonstrator", self.config.demonstrator, f"one of {', '.join(deciders)}"
            )
        budget = self.config.demonstrator_budget_s
        if budget is not None and not takes_settings(self.config.demonstrator, ["budget_s"]):
            raise InvalidParameterError(
                "demonstrator_budget_s", budget,
                f"unset: demonstrator {self.config.demonstrator} has no budget_s",
            )  # fmt: skip

    @property
    def n_values(self) -> int:
        """Rewards credited (one value head each)."""
        return 1

    @property
    def round_steps(self) -> int:
        """Env steps per imitation round (the last round may be shorter)."""
        return max(-(-self.config.imitation_steps // self.config.imitation_rounds), 1)

    @property
    def joint_ratio(self) -> bool:
        """Whether one probability ratio covers all devices (else one per agent, Eq. 19)."""
        return False

    def _credited(self, reward: float, info: dict) -> np.ndarray:
        """The rewards credited of one step: [n_values]."""
        return np.asarray([reward])

    def _rollout(self, capacity: int) -> RolloutBuffer:
        """One rollout's arrays: the scaled observation, the heads' actions as sampled
        (``_action_fields``) and what the update needs."""
        values = self.n_values
        return RolloutBuffer(
            capacity,
            {
                "obs": ((self.obs_dim,), np.float32),
                **self._action_fields(),
                "log_prob": ((self.system.n_devices,), np.float32),
                "value": ((values,), np.float32),
                "reward": ((values,), np.float32),
                "done": ((), np.float32),  # the episode ended here, terminated or truncated
                "bootstrap": ((values,), np.float32),  # a truncated episode's value after its end
            },
        )

    def modules(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def _value(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic's values [batch, n_values] of scaled observations."""
        return self.net.value(obs)

    def training_env(self) -> gym.Env:
        return make_env(self.scenario)

    def demonstrator_policy(self, seed: int) -> WindowPolicy:
        """The decider whose steps the warm start follows."""
        budget = self.config.demonstrator_budget_s
        settings = None if budget is None else {"budget_s": str(budget)}
        return make_policy(self.config.demonstrator, self.scenario, seed, settings=settings)

    # -- training ------------------------------------------------------------------------------

    def train(self, trainer: Any) -> None:
        """PPO-clip with GAE on ``trainer``'s env, resumable mid-rollout from its checkpoint;
        with ``imitation_steps``, the demonstrator's steps and the fit to them come first."""
        resumed = trainer.resume_state()
        if resumed is not None:
            self.load_state(**resumed["policy"])
        else:
            self.start_sampling()
        cfg, env, n = self.config, trainer.env, self.system.n_devices
        optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate)
        rollout = self._rollout(cfg.rollout_steps)
        demonstrations = self._rollout(max(cfg.imitation_steps, 1))
        demonstrator = None
        if trainer.step < cfg.imitation_steps:
            demonstrator = self.demonstrator_policy(trainer.seed)
            demonstrator.reset(trainer.episode_seed())
        if resumed is not None:
            optimizer.load_state_dict(resumed["optimizer"])
            rollout.load_state_dict(resumed["rollout"])
            demonstrations.load_state_dict(resumed["demonstrations"])
        current = {"obs": resumed["obs"] if resumed else env.reset(seed=trainer.episode_seed())[0]}
        while trainer.step < trainer.total_steps:
            obs = current["obs"]
            scaled = self._scaled(obs)[None]
            remaining = torch.as_tensor(WindowState.decode(obs, n).remaining)[None]
            demonstrating = trainer.step < cfg.imitation_steps
            # DAgger: after the first round the learner's own choice steps the env
            own = demonstrating and trainer.step >= self.round_steps
            with torch.no_grad():
                if demonstrating:
                    actions = self._head_actions(demonstrator.decide(obs), obs)
                else:
                    actions = self._sample(scaled)
                used = self._used(actions, remaining)
                sampled = {}  # what the PPO update needs of its own samples
                if not demonstrating:
                    log_prob, _ = self._log_prob_entropy(scaled, actions, used)
                    sampled = {"log_prob": log_prob[0].numpy(),
                               "value": self._value(scaled)[0].numpy()}  # fmt: skip
            action = (
                self.decide(obs).as_action(WINDOW_FIELDS) if own
                else self._env_action(actions, obs)
            )  # fmt: skip
            next_obs, reward, terminated, truncated, info = env.step(action)
            trainer.record_reward(reward, terminated or truncated)
            credited = self._credited(reward, info)
            bootstrap = np.zeros(self.n_values, np.float32)
            if truncated and not terminated and not demonstrating:  # the time limit, not the end
                with torch.no_grad():
                    bootstrap = self._value(self._scaled(next_obs)[None])[0].numpy()
            (demonstrations if demonstrating else rollout).add(
                obs=scaled[0].numpy(), **{key: actions[key][0].numpy() for key in self.actions},
                used=used[0].numpy(), reward=np.sign(credited) * np.log1p(np.abs(credited)),
                done=float(terminated or truncated), bootstrap=bootstrap, **sampled,
            )  # fmt: skip
            current["obs"] = next_obs
            if terminated or truncated:
                current["obs"], _ = env.reset(seed=trainer.episode_seed())
                if demonstrator is not None:
                    demonstrator.reset(trainer.episode_seed())
            round_ends = (trainer.step + 1) % self.round_steps == 0
            if demonstrating and (round_ends or demonstrations.full):
                self._imitate(demonstrations, trainer.rng)
            elif rollout.full:
                with torch.no_grad():  # after the last step (unused if its episode ended)
                    last = self._value(self._scaled(next_obs)[None])[0].numpy()
                self._update(rollout, last, optimizer, trainer.rng)
                rollout.clear()
            trainer.advance(
                self,
                lambda: {
                    "policy": {"tensors": self.tensors(), "meta": self.metadata()},
                    "obs": current["obs"],
                    "optimizer": optimizer.state_dict(),
                    "rollout": rollout.state_dict(),
                    "demonstrations": demonstrations.state_dict(),
                },
            )  # fmt: skip

    def _imitate(self, demonstrations: RolloutBuffer, rng: np.random.Generator) -> None:
        """Fit the actor to the demonstrator's actions (their log-likelihood over the positions
        in use; the power's spread is left as it is, so fine-tuning still explores) and the
        critic to the demonstrations' discounted symlog returns."""
        cfg, data = self.config, demonstrations.arrays
        returns = np.zeros_like(data["reward"])
        following = np.zeros_like(data["reward"][0])
        for t in reversed(range(demonstrations.added)):  # cut at every episode's end (a
            # truncated one too: there is no critic yet to bootstrap from)
            following = data["reward"][t] + cfg.gamma * following * (1.0 - data["done"][t])
            returns[t] = following
        tensors = {key: torch.as_tensor(value) for key, value in data.items()}
        returns = torch.as_tensor(returns)
        parameters = [p for name, p in self.net.named_parameters() if name != "log_std"]
        optimizer = torch.optim.Adam(
            parameters, lr=cfg.imitation_learning_rate or cfg.learning_rate
        )
        for _ in range(cfg.imitation_epochs):
            order = rng.permutation(demonstrations.added)
            for start in range(0, demonstrations.added, cfg.minibatch):
                index = torch.as_tensor(order[start : start + cfg.minibatch])
                batch = {key: value[index] for key, value in tensors.items()}
                log_prob, _ = self._log_prob_entropy(
                    batch["obs"], {key: batch[key] for key in self.actions}, batch["used"]
                )
                value_loss = (self._value(batch["obs"]) - returns[index]).pow(2).mean()
                loss = -log_prob.sum(-1).mean() + cfg.value_coef * value_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(parameters, cfg.max_grad_norm)
                optimizer.step()

    def _update(self, rollout: RolloutBuffer, last_value: np.ndarray, optimizer, rng) -> None:
        """PPO epochs on one rollout; GAE per credited reward (columns of reward and value)."""
        cfg = self.config
        data = rollout.arrays
        advantages = gae(
            data["reward"], data["value"], data["done"], data["bootstrap"], last_value, cfg.gamma,
            cfg.gae_lambda,
        )  # fmt: skip
        returns = torch.as_tensor(advantages + data["value"])
        advantages = torch.as_tensor(advantages)
        tensors = {key: torch.as_tensor(value) for key, value in data.items()}
        for _ in range(cfg.epochs):
            order = rng.permutation(rollout.capacity)
            for start in range(0, rollout.capacity, cfg.minibatch):
                index = torch.as_tensor(order[start : start + cfg.minibatch])
                batch = {key: value[index] for key, value in tensors.items()}
                adv = advantages[index]  # [batch, values]
                adv = (adv - adv.mean(0)) / (adv.std(0) + 1e-8)
                log_prob, entropy = self._log_prob_entropy(
                    batch["obs"], {key: batch[key] for key in self.actions}, batch["used"]
                )
                if self.joint_ratio:  # one agent: the joint ratio
                    ratio = (log_prob.sum(-1) - batch["log_prob"].sum(-1)).exp()
                    surrogate = torch.min(
                        ratio * adv[:, 0], ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv[:, 0]
                    )
                    actor_loss = -surrogate.mean()
                else:  # one ratio per agent, summed over agents / W_max (Eq. 19)
                    ratio = (log_prob - batch["log_prob"]).exp()
                    clipped = ratio.clamp(1 - cfg.clip, 1 + cfg.clip)
                    surrogate = torch.min(ratio * adv, clipped * adv)  # [batch, devices]
                    actor_loss = -surrogate.sum(-1).mean() / self.width
                value_loss = (self._value(batch["obs"]) - returns[index]).pow(2).mean()
                loss = (
                    actor_loss + cfg.value_coef * value_loss
                    - cfg.entropy_coef * entropy.sum(-1).mean()
                )  # fmt: skip
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                optimizer.step()


class HybridPPOPolicy(PPOLearner):
    """EMH-PPO, MAHPPO or H-PPO (``config.architecture``) on the task-window env, or with
    ``slotted`` on the time-slot env (zhang2026 Fig. 7's time-based MDP: one task choice per
    device and slot, each device's unfinished seconds observed; the window head has one
    option, which aligns the output with standard PPO's as the paper does)."""

    architecture = "emh"
    slotted: ClassVar[bool] = False
    config_class = PPOConfig
    actions = ("window", "cut", "channel", "server", "power")  # the heads, in their order
    compatible_fields = (
        "devices", "servers", "radio", "window_reward", "granularity", "predictor", "input_size",
    )  # fmt: skip

    def __init__(
        self,
        scenario: str | Scenario,
        seed: int = 0,
        config: PPOConfig | None = None,
    ) -> None:
        super().__init__(scenario, seed, config or PPOConfig(architecture=self.architecture))
        if self.slotted:
            self.width = 1
        if self.config.architecture not in ARCHITECTURES:
            raise InvalidParameterError(
                "architecture", self.config.architecture, f"one of {', '.join(ARCHITECTURES)}"
            )
        if self.config.credit not in CREDITS or (
            self.config.credit == "difference" and self.config.architecture == "h"
        ):
            raise InvalidParameterError(
                "credit", self.config.credit,
                "shared for H-PPO (one agent), else one of " + ", ".join(CREDITS),
            )  # fmt: skip
        if self.config.shared_agents and self.config.architecture == "h":
            raise InvalidParameterError(
                "shared_agents", True, "false for H-PPO (one network for all devices already)"
            )
        if self.slotted and self.config.imitation_steps:
            raise InvalidParameterError(
                "imitation_steps", self.config.imitation_steps,
                "0 on the time-slot MDP (the demonstrators decide windows)",
            )  # fmt: skip
        if self.slotted and self.config.credit != "shared":
            raise InvalidParameterError("credit", self.config.credit, "shared on the time-slot MDP")
        system = self.system
        self.obs_scale = WindowState.high(system.mean_tasks, system.distance_high)
        if self.slotted:  # busy seconds in slots (their bound is float32's largest)
            busy_scale = np.full(system.n_devices, self.scenario.time_slot_s)
            self.obs_scale = np.append(self.obs_scale, busy_scale)
        # the cut head chooses among a device's efficient offloading cuts and local only
        choices = [
            np.append(cuts, count - 1)
            for cuts, count in zip(efficient_cuts(system), system.n_cuts, strict=True)
        ]
        width = max(len(c) for c in choices)
        self.cut_mask = torch.as_tensor(
            np.arange(width)[None, :] < np.array([len(c) for c in choices])[:, None]
        )  # [n, K]
        self.cut_choices = np.array([np.pad(c, (0, width - len(c)), mode="edge") for c in choices])
        with self.seeded(seed):
            self.build()

    def build(self) -> None:
        """The network and the cut prior, from ``self.config``."""
        s = self.system
        self.net = HybridActorCritic(
            self.obs_dim, s.n_devices, self.width, self.cut_choices.shape[1],
            self.scenario.radio.channels, s.n_servers, self.config.architecture, self.n_values,
            self.config.position_heads, self.config.shared_agents,
        )  # fmt: skip
        self.cut_prior = torch.zeros(self.cut_choices.shape)
        self.cut_prior[:, 0] = self.config.input_prior  # the shallowest cut: the input
        channels = self.scenario.radio.channels
        self.channel_prior = torch.zeros(s.n_devices, channels)
        self.channel_prior[torch.arange(s.n_devices), torch.arange(s.n_devices) % channels] = (
            self.config.channel_prior
        )

    @property
    def obs_dim(self) -> int:
        """The network's input size: remaining and distance per device (and busy seconds on the
        time-slot MDP), and with ``distance_features`` path loss and rank (``_scaled``)."""
        per_device = 2 + self.slotted + (2 if self.config.distance_features else 0)
        return per_device * self.system.n_devices

    @property
    def n_values(self) -> int:
        """Rewards credited: one per device with difference credit, else the joint one."""
        return self.system.n_devices if self.config.credit == "difference" else 1

    @property
    def joint_ratio(self) -> bool:
        return self.config.architecture == "h"

    def _credited(self, reward: float, info: dict) -> np.ndarray:
        credit = self.config.credit == "difference"
        return np.asarray(info["difference_reward"] if credit else [reward])

    def _action_fields(self) -> dict[str, tuple[tuple[int, ...], type]]:
        n, w = self.system.n_devices, self.width
        return {
            "window": ((n,), np.int64),
            "cut": ((n, w), np.int64),
            "channel": ((n, w), np.int64),
            "server": ((n, w), np.int64),
            "power": ((n, w), np.float32),
            "used": ((n, w), np.float32),
        }

    def _sample(self, scaled: torch.Tensor) -> dict[str, torch.Tensor]:
        dists = self._distributions(scaled)
        return {key: d.sample() for key, d in zip(self.actions, dists, strict=True)}

    def training_env(self) -> gym.Env:
        """TaskWindowMEC-v0, reporting difference rewards when the credit needs them (or
        TimeSlotMEC-v0)."""
        if self.slotted:
            return make_env(self.scenario)
        return make_env(self.scenario, difference_rewards=self.config.credit == "difference")

    def _scaled(self, obs: np.ndarray) -> torch.Tensor:
        """The network's input: the observation over its bounds, and with ``distance_features``
        per device its path loss in [0, 1] over the distance range (log scale, what the rates
        follow) and its rank by distance among the devices (0 nearest, 1 farthest)."""
        obs = np.asarray(obs, dtype=np.float64)
        parts = [obs / self.obs_scale]
        if self.config.distance_features:
            n, system = self.system.n_devices, self.system
            distance = obs[n : 2 * n]
            low, high = np.log(system.distance_low), np.log(system.distance_high)
            distance = np.clip(distance, system.distance_low, system.distance_high)
            loss = (np.log(distance) - low) / np.maximum(high - low, 1e-12)
            rank = np.argsort(np.argsort(distance, kind="stable"), kind="stable")
            parts += [loss, rank / max(n - 1, 1)]
        return torch.as_tensor(np.concatenate(parts)).float()

    def _distributions(self, obs: torch.Tensor):
        window, cut, channel, server, power = self.net.heads(obs)
        cut = (
            cut.masked_fill(~self.cut_mask[None, :, None, :], -1e9)
            + self.cut_prior[None, :, None, :]
        )
        channel = channel + self.channel_prior[None, :, None, :]
        std = self.net.log_std.clamp(-5, 1).exp().expand_as(power)
        return (
            Categorical(logits=window), Categorical(logits=cut), Categorical(logits=channel),
            Categorical(logits=server), Normal(torch.sigmoid(power), std),
        )  # fmt: skip

    def _used(self, actions: dict[str, torch.Tensor], remaining: torch.Tensor) -> torch.Tensor:
        """[batch, devices, W] mask of the task positions a window runs."""
        size = torch.minimum(actions["window"] + 1, remaining)
        return torch.arange(self.width)[None, None, :] < size[..., None]

    def _log_prob_entropy(self, obs, actions, used) -> tuple[torch.Tensor, torch.Tensor]:
        """Per device log pi(a|s) and entropy, over the positions in use: [batch, devices]."""
        dists = self._distributions(obs)
        window_d, *task_d = dists
        log_prob = window_d.log_prob(actions["window"])
        entropy = window_d.entropy()
        for dist, key in zip(task_d, self.actions[1:], strict=True):
            log_prob = log_prob + (dist.log_prob(actions[key]) * used).sum(-1)
            entropy = entropy + (dist.entropy() * used).sum(-1)
        return log_prob, entropy

    def _env_action(
        self, actions: dict[str, torch.Tensor], observation: np.ndarray
    ) -> dict[str, np.ndarray]:
        action = {
            "window": actions["window"][0].numpy() + 1,  # the head's index -> tasks
            "cut": self._cuts(actions["cut"][0].numpy()),
            "channel": actions["channel"][0].numpy(),
            "server": actions["server"][0].numpy(),
            "power_w": self._power_w(actions["power"][0]).astype(np.float32),
        }
        if self.slotted:  # one task choice per device: the only position
            return {key: action[key][:, 0] for key in TIME_SLOT_FIELDS}
        return action

    def _cuts(self, choice: np.ndarray) -> np.ndarray:
        """The cut head's [devices, W] choices as the devices' cut positions."""
        return np.take_along_axis(self.cut_choices, choice, axis=1)

    def _power_w(self, x: torch.Tensor) -> np.ndarray:
        """The power head's output x in [0, 1] on a log scale: P_limit x floor^(1 - x), so that
        a Gaussian step moves the power by decibels, not by watts."""
        share = self.config.power_floor ** (1.0 - x.clamp(0, 1))
        return share.numpy().astype(np.float64) * self.max_power_w

    def _power_x(self, power_w: np.ndarray) -> np.ndarray:
        """The power head's output that sends ``power_w`` (the inverse of ``_power_w``; powers
        below the floor, e.g. a local task's 0 W, map to x = 0)."""
        floor = self.config.power_floor
        share = np.clip(np.asarray(power_w, dtype=np.float64) / self.max_power_w, floor, 1.0)
        return 1.0 - np.log(share) / np.log(floor)

    def decide(self, observation: np.ndarray) -> Decision:
        """The most likely action (modes of the categoricals, the Gaussian's mean)."""
        with torch.no_grad():
            dists = self._distributions(self._scaled(observation)[None])
        window, cut, channel, server = (d.probs.argmax(-1)[0].numpy() for d in dists[:4])
        power = self._power_w(dists[4].mean[0]).astype(np.float64)
        if self.slotted:
            return Decision(cut=self._cuts(cut)[:, 0], channel=channel[:, 0],
                            server=server[:, 0], power_w=power[:, 0])  # fmt: skip
        return Decision(
            cut=self._cuts(cut), window=window + 1, channel=channel, server=server, power_w=power
        )

    def _head_actions(self, decision: Decision, observation: np.ndarray) -> dict[str, torch.Tensor]:
        """A demonstrator's decision as the heads' actions [1, ...] (the inverse of
        ``_env_action``): window index, index among the device's cut choices, channel, server,
        and the power head's x."""
        cuts = np.asarray(decision.cut)
        matches = self.cut_choices[:, None, :] == cuts[:, :, None]  # [n, W, K]
        matches &= self.cut_mask.numpy()[:, None, :]
        missing = ~matches.any(-1)
        if missing.any():
            device, position = np.argwhere(missing)[0]
            raise InvalidParameterError(
                "demonstrator", self.config.demonstrator,
                f"a decider whose cuts the cut head offers (device {device} position {position} "
                f"chose cut {cuts[device, position]}, not one of {self.cut_choices[device]})",
            )  # fmt: skip
        heads = {
            "window": np.clip(np.asarray(decision.window) - 1, 0, self.width - 1),
            "cut": matches.argmax(-1),
            "channel": np.asarray(decision.channel),
            "server": np.asarray(decision.server),
        }
        actions = {key: torch.as_tensor(v, dtype=torch.int64)[None] for key, v in heads.items()}
        actions["power"] = torch.as_tensor(self._power_x(decision.power_w)).float()[None]
        return actions


def gae(
    reward: np.ndarray,
    value: np.ndarray,
    done: np.ndarray,
    bootstrap: np.ndarray,
    last_value: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalised advantage estimates of a rollout ([steps, values]). An episode that ended at
    step t (``done``) takes ``bootstrap[t]`` as the value after it: 0 when it terminated, the
    value of its own last observation when it was truncated (a time limit, not an end of the
    task); nothing flows back across the end. ``last_value``: the value after the rollout's
    last step when its episode goes on."""
    advantages = np.zeros_like(value)
    running, following = np.zeros_like(last_value), last_value
    for t in reversed(range(len(reward))):
        ended = bool(done[t])
        after = bootstrap[t] if ended else following
        delta = reward[t] + gamma * after - value[t]
        running = delta + (0.0 if ended else gamma * lam) * running
        advantages[t], following = running, value[t]
    return advantages


class EMHPPO(HybridPPOPolicy):
    """zhang2026's EMH-PPO: shared embedding, one agent network per device."""

    name = "emh-ppo"
    architecture = "emh"


class MAHPPO(HybridPPOPolicy):
    """MAHPPO: one agent network per device, no shared embedding."""

    name = "mahppo"
    architecture = "ma"


class HPPO(HybridPPOPolicy):
    """H-PPO: one network, one joint ratio."""

    name = "h-ppo"
    architecture = "h"


class TimeSlotEMHPPO(EMHPPO):
    """EMH-PPO on zhang2026's time-based MDP (Fig. 7): a decision every ``time_slot_s``."""

    styles = ("time_slot",)
    slotted = True
