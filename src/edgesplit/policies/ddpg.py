"""DDP: shi2025's DRL-based DNN partition (Alg. 2), DDPG whose cuts get TA's threads (Alg. 1).

DDP trains in ``Eq19Actions(ThreadAllocation(SlotMEC-v0, allocator))``: its action is one
number per device, Eq. 19 maps it to a cut, and the allocator (TA for ``ddp+ta``) gives the
threads, the same call the policy makes when it decides.

Read top to bottom: hyperparameters, networks, the policy (``decide``), then training. The
actor maps the observation (Eq. 16, scaled by the observation space's bounds) to one tanh output
per device, which Eq. 19 maps to a cut; the critic scores (state, action). Targets are updated
softly (tau), exploration is Gaussian noise on the actor's output, transitions are replayed
uniformly. shi2025 gives no hyperparameters; these are CleanRL's DDPG defaults, with gamma 0.9
(consecutive slots are coupled only through the batteries) and a shorter warm-up.

One addition to Alg. 2 (``DDPGConfig.search``, on by default): the actor's output is a
proto-action that the critic refines, as in Wolpertinger (Dulac-Arnold et al. 2015, "Deep RL in
large discrete action spaces"). Eq. 19 orders a device's cuts by depth, so the actor's gradient
cannot cross the costly mid-network cuts that lie between "run all locally" and "send the
input"; plain DDPG stays at the all-local end (docs/policies.md has the figures). The refinement
sweeps each device's cuts (one Eq. 19 bin centre each) with the other devices held, keeps the
critic's best per device, and repeats. A second one (``DDPGConfig.per_device``, on by default):
the critic has one head per device, each trained on that device's share of U(t) (Eq. 10 is a
sum over devices; the env's ``info["utility"]``), and Q is their sum, so that each head learns
how its own device's utility moves with the joint action rather than the whole sum's noise.
A third (``DDPGConfig.cut_features``, on by default): the critic's input also holds each
device's Eq. 19 cut, one-hot. Neighbouring cuts can differ widely in cost (a feature map twice
the size of the next one), which an MLP of the continuous action alone smooths over, so the
refinement chose a neighbour of the best cut. ``DDPGConfig(search=False, per_device=False,
cut_features=False)`` is Alg. 2 as printed.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from pydantic.dataclasses import dataclass
from torch import nn

from edgesplit.contract import SlotState
from edgesplit.fields import Count, NonNegative, Positive, Share, Whole
from edgesplit.policies.common import Learner, ReplayBuffer, mlp
from edgesplit.policies.common.learner import LEARNER_CONFIG
from edgesplit.policies.slot import SlotPolicy
from edgesplit.sim import ThreadAllocation, make_env
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot import SlotSystem


@dataclass(config=LEARNER_CONFIG)
class DDPGConfig:
    hidden: Count = 256
    actor_lr: Positive = 3e-4
    critic_lr: Positive = 3e-4
    gamma: Share = 0.9
    tau: Share = 0.005
    batch_size: Count = 256
    buffer_size: Count = 200_000
    learning_starts: Whole = 1_000
    exploration_std: NonNegative = 0.2
    random_share: Share = 0.1  # per device and step, a uniform action instead (after warm-up)
    train_every: Count = 1
    search: bool = True  # critic-guided refinement of the actor's proto-action
    search_passes: Whole = 2
    per_device: bool = True  # one critic head per device, trained on that device's utility
    cut_features: bool = True  # the critic also sees each device's Eq. 19 cut, one-hot


def action_to_cuts(system: SlotSystem, action: np.ndarray) -> np.ndarray:
    """shi2025 Eq. 19: l_n = floor((a_n + 1) / 2 * S_n) for a_n in [-1, 1] (a tanh output),
    where S_n + 1 is the number of cuts (l = 0 sends the input, l = S_n runs all locally)."""
    layers = system.n_cuts - 1
    position = np.floor((np.clip(action, -1.0, 1.0) + 1.0) / 2.0 * layers).astype(np.int64)
    return np.minimum(position, layers)


class Eq19Actions(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """A cuts-only slot env (``ThreadAllocation``) driven by one number per device in [-1, 1],
    mapped to cuts by Eq. 19: the action space of shi2025's DDP (and of SB3's cross-check)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        self.system = env.unwrapped.system
        self.action_space = spaces.Box(-1.0, 1.0, (self.system.n_devices,), dtype=np.float32)

    def action(self, action: np.ndarray) -> np.ndarray:
        return action_to_cuts(self.system, np.asarray(action, dtype=np.float64))


class Actor(nn.Module):
    def __init__(self, obs_dim: int, devices: int, hidden: int) -> None:
        super().__init__()
        self.body = mlp([obs_dim, hidden, hidden, devices])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(obs))  # shi2025: tanh P_n(t), then Eq. 19


class Critic(nn.Module):
    """Q(s, a), as one head or as one head per device (``heads``) whose sum is Q. With a
    ``system`` the input also holds the one-hot Eq. 19 cut of each device's action, so that Q can
    differ between neighbouring cuts however far apart their costs are (the gradient to the
    actor still flows through the continuous action)."""

    def __init__(
        self, obs_dim: int, devices: int, hidden: int, heads: int = 1,
        system: SlotSystem | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.system = system
        extra = 0 if system is None else int(system.n_cuts.sum())
        self.body = mlp([obs_dim + devices + extra, hidden, hidden, heads])

    def cut_one_hot(self, action: torch.Tensor) -> torch.Tensor:
        """Each device's cut by the env's Eq. 19 (``action_to_cuts``), one-hot, concatenated."""
        cuts = torch.as_tensor(action_to_cuts(self.system, action.detach().double().numpy()))
        return torch.cat(
            [nn.functional.one_hot(cuts[..., device], int(count)).float()
             for device, count in enumerate(self.system.n_cuts)], dim=-1,
        )  # fmt: skip

    def heads(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        parts = [obs, action] + ([] if self.system is None else [self.cut_one_hot(action)])
        return self.body(torch.cat(parts, dim=-1))

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.heads(obs, action).sum(-1)


class DDPPolicy(Learner, SlotPolicy):
    """shi2025's DDP: the DDPG actor's cuts (Eq. 19), threads by the allocator (TA)."""

    name = "ddp"
    config_class = DDPGConfig
    compatible_fields = ("devices", "granularity", "predictor", "input_size")

    def __init__(
        self,
        scenario: str | Scenario,
        seed: int = 0,
        allocator: str | None = None,
        config: DDPGConfig | None = None,
    ) -> None:
        super().__init__(scenario, seed, allocator)
        self.config = config or DDPGConfig()
        self.obs_dim = SlotState.size(self.system.n_devices)
        self.obs_scale = None  # set from the env's observation space at training time
        with self.seeded(seed):
            self.build()

    def build(self) -> None:
        n, hidden = self.system.n_devices, self.config.hidden
        self.actor = Actor(self.obs_dim, n, hidden)
        system = self.system if self.config.cut_features else None
        heads = n if self.config.per_device else 1
        self.critic = Critic(self.obs_dim, n, hidden, heads, system)

    def modules(self) -> dict[str, nn.Module]:
        return {"actor": self.actor, "critic": self.critic}

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        return {} if self.obs_scale is None else {"obs_scale": torch.as_tensor(self.obs_scale)}

    def extra_meta(self) -> dict[str, Any]:
        return {"allocator": self.allocator_name}

    def load_extra(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        scale = tensors.get("obs_scale")
        self.obs_scale = None if scale is None else scale.numpy().astype(np.float64)

    def training_env(self) -> gym.Env:
        """SlotMEC-v0 with this policy's allocator applied to its cuts, driven through Eq. 19."""
        return Eq19Actions(ThreadAllocation(make_env(self.scenario), self.allocator))

    def _scaled(self, obs: np.ndarray) -> torch.Tensor:
        scale = self.obs_scale if self.obs_scale is not None else np.ones(self.obs_dim)
        return torch.as_tensor(np.asarray(obs, dtype=np.float64) / scale, dtype=torch.float32)

    def action(self, obs: np.ndarray) -> np.ndarray:
        """The actor's tanh outputs for one observation, refined by the critic when
        ``config.search``."""
        scaled = self._scaled(obs)
        with torch.no_grad():
            proto = self.actor(scaled)
            return (self._refine(scaled, proto) if self.config.search else proto).numpy()

    def _bin_centres(self) -> list[torch.Tensor]:
        """Per device, one action inside each Eq. 19 bin (the last cut needs exactly 1)."""
        centres = []
        for layers in self.system.n_cuts - 1:
            inner = (2 * np.arange(layers) + 1) / layers - 1
            centres.append(torch.as_tensor(np.append(inner, 1.0), dtype=torch.float32))
        return centres

    def _refine(self, scaled_obs: torch.Tensor, proto: torch.Tensor) -> torch.Tensor:
        """Coordinate ascent of the critic over the cuts, from the actor's proto-action."""
        centres = self._bin_centres()
        best = proto.clone()
        for _ in range(self.config.search_passes):
            rows = []
            for device, values in enumerate(centres):
                candidates = best.repeat(len(values), 1)
                candidates[:, device] = values
                rows.append(candidates)
            candidates = torch.cat(rows)
            scores = self.critic(scaled_obs.expand(len(candidates), -1), candidates)
            step, start = best.clone(), 0
            for device, values in enumerate(centres):
                chosen = int(scores[start : start + len(values)].argmax())
                step[device] = values[chosen]
                start += len(values)
            pair = torch.stack([best, step])
            if self.critic(scaled_obs.expand(2, -1), pair).argmax() == 0:
                break  # the joint move does not improve on the current action
            best = step
        return best

    def cuts(self, state: SlotState) -> np.ndarray:
        """Eq. 19 on the (refined) actor outputs."""
        return action_to_cuts(self.system, self.action(state.encode()).astype(np.float64))

    # -- training (shi2025 Alg. 2) -------------------------------------------------------------

    def train(self, trainer: Any) -> None:
        """DDPG on ``trainer``'s env (``training_env``: the allocator applies to its cuts),
        resumable from its checkpoint."""
        resumed = trainer.resume_state()  # restores the trainer's env mid-episode too
        if resumed is not None:  # networks (and config) before their optimizers
            self.load_state(**resumed["policy"])
        else:
            self.start_sampling()
        cfg, env, n = self.config, trainer.env, self.system.n_devices
        self.obs_scale = np.maximum(env.observation_space.high.astype(np.float64), 1e-9)
        actor_target, critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        buffer = ReplayBuffer(
            cfg.buffer_size,
            {
                "obs": ((self.obs_dim,), np.float32),
                "action": ((n,), np.float32),
                "reward": ((n,), np.float32),  # per device
                "next": ((self.obs_dim,), np.float32),
            },
        )
        modules = {
            "actor_target": actor_target, "critic_target": critic_target,
            "actor_opt": actor_opt, "critic_opt": critic_opt,
        }  # fmt: skip
        if resumed is not None:
            for key, module in modules.items():
                module.load_state_dict(resumed[key])
            buffer.load_state_dict(resumed["buffer"])
        rng = trainer.rng
        current = {"obs": resumed["obs"] if resumed else env.reset(seed=trainer.episode_seed())[0]}
        while trainer.step < trainer.total_steps:
            if buffer.size < cfg.learning_starts:
                action = rng.uniform(-1, 1, n).astype(np.float32)
            else:
                noise = rng.normal(0, cfg.exploration_std, n)
                action = np.clip(self.action(current["obs"]) + noise, -1, 1)
                uniform = rng.random(n) < cfg.random_share
                action = np.where(uniform, rng.uniform(-1, 1, n), action).astype(np.float32)
            next_obs, reward, terminated, truncated, info = env.step(action)
            buffer.add(
                obs=current["obs"] / self.obs_scale, action=action, reward=info["utility"],
                next=next_obs / self.obs_scale,
            )  # fmt: skip
            trainer.record_reward(reward, terminated or truncated)
            current["obs"] = next_obs
            if terminated or truncated:
                current["obs"], _ = env.reset(seed=trainer.episode_seed())
            ready = buffer.size >= min(cfg.learning_starts, cfg.buffer_size)
            if ready and trainer.step % cfg.train_every == 0:
                batch = buffer.sample(rng, cfg.batch_size)
                reward = batch["reward"] if cfg.per_device else batch["reward"].sum(-1, True)
                with torch.no_grad():  # y_t = r_t + gamma Q'(s_{t+1}, pi'(s_{t+1})), per head
                    target = reward + cfg.gamma * critic_target.heads(
                        batch["next"], actor_target(batch["next"])
                    )
                critic_loss = nn.functional.mse_loss(
                    self.critic.heads(batch["obs"], batch["action"]), target
                )
                critic_opt.zero_grad()
                critic_loss.backward()
                critic_opt.step()
                actor_loss = -self.critic(batch["obs"], self.actor(batch["obs"])).mean()
                actor_opt.zero_grad()
                actor_loss.backward()
                actor_opt.step()
                with torch.no_grad():  # soft target updates
                    for net, tgt in ((self.actor, actor_target), (self.critic, critic_target)):
                        for p, tp in zip(net.parameters(), tgt.parameters(), strict=True):
                            tp.mul_(1 - cfg.tau).add_(cfg.tau * p)
            trainer.advance(
                self,
                lambda: {
                    "policy": {"tensors": self.tensors(), "meta": self.metadata()},
                    "obs": current["obs"],
                    "buffer": buffer.state_dict(),
                    **{key: module.state_dict() for key, module in modules.items()},
                },
            )  # fmt: skip
