"""A learner that decides like the planner at scale (policy ``slot-ppo``): per device a window
size, how many of its tasks to offload and with which (cut, power level) type; the channels'
task slots are then laid out as the planner's channel-slot allocation lays them
(``planner.place_slots``), so no two tasks share a channel at a position by construction.

Why this action. At 100 devices on 20 channels the planner's plans take turns on the channels:
a device offloads some tasks of its window while others use its channel. Per-position channel
and server heads (EMH-PPO's) would have to learn which of twenty interchangeable channels every
other device leaves free, and one wrong head is a collision that Eq. 8 charges 10^3 to 10^4
times a good window. Channels and servers are interchangeable to a decider that does not see
the shadowing, so the learner chooses what is not: (window, offloaded count, type) per device.
The planner's own plans, projected onto this action and laid out again, score 97-100 % of the
planner (docs/planning.md), so the action space costs little.

The network is permutation-equivariant and does not depend on the number of devices or types:
each device's features (its tasks, its distance and rank, its per-task latency and energy alone
for local and every type, in Eq. 8's units: ``planner.alone_costs``) pass one shared encoder;
the mean of the busy devices' encodings is the context every device sees (Deep Sets); the window
and count heads read the device's encoding and the context, the type head scores each type from
them and the type's own costs. The critic reads the context. So a policy file trained on
zhang2026-100 decides on any task-window scenario with the same Eq. 8 weights and W_max.

Training is ``ppo.PPOLearner``'s: a demonstrator's warm start (``imitation_steps`` steps of the
planner, with ``demonstrator_budget_s`` as its budget at scale), then PPO-clip with one ratio per
device (Eq. 19) on the shared reward. Actions: ``window`` (index: size - 1), ``slots`` (0..W,
at most the window's tasks) and ``kind`` (index among the offloading types: type - 1, used only
when a task is offloaded).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic.dataclasses import dataclass
from torch import nn
from torch.distributions import Categorical

from edgesplit.contract import WINDOW_FIELDS, Decision, WindowState
from edgesplit.errors import InvalidParameterError
from edgesplit.fields import Count
from edgesplit.policies.common import mlp
from edgesplit.policies.common.learner import LEARNER_CONFIG
from edgesplit.policies.planner import SlotTypes, alone_costs, place_slots, planner_sharing
from edgesplit.policies.ppo import PPOCore, PPOLearner
from edgesplit.policies.window import POWER_LEVELS
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.window import efficient_cuts, median_gains

DEVICE_FEATURES = 16
TYPE_FEATURES = 6
MASKED = -1e9  # the logit of a choice a device cannot take


@dataclass(config=LEARNER_CONFIG)
class SlotConfig(PPOCore):
    """``slot-ppo``'s fields: PPO's and the demonstrator's (``PPOCore``) and the width of its
    networks."""

    hidden: Count = 64


class SlotNetwork(nn.Module):
    """The equivariant actor (encoder, context, window, count and type heads) and the critic."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.encoder = mlp([DEVICE_FEATURES, hidden, hidden], activate_last=True)
        self.trunk = mlp([2 * hidden, 2 * hidden, hidden], activate_last=True)
        self.window = nn.Linear(hidden, width)
        self.slots = nn.Linear(hidden, width + 1)
        self.kind = mlp([hidden + TYPE_FEATURES, hidden, 1])
        self.critic = mlp([hidden, hidden, hidden, 1])

    def context(self, device: torch.Tensor, busy: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each device's encoding [b, n, h] and the busy devices' mean [b, h]."""
        encoded = self.encoder(device)
        weight = busy / busy.sum(-1, keepdim=True).clamp(min=1.0)
        return encoded, (encoded * weight[..., None]).sum(1)

    def heads(self, device, kinds, busy) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Window [b, n, W], count [b, n, W + 1] and type [b, n, T] logits (unmasked)."""
        encoded, context = self.context(device, busy)
        z = self.trunk(torch.cat([encoded, context[:, None].expand_as(encoded)], -1))
        scored = torch.cat([z[:, :, None].expand(-1, -1, kinds.shape[2], -1), kinds], -1)
        return self.window(z), self.slots(z), self.kind(scored)[..., 0]

    def value(self, device: torch.Tensor, busy: torch.Tensor) -> torch.Tensor:
        return self.critic(self.context(device, busy)[1])


class SlotPPO(PPOLearner):
    """PPO over channel-slot allocations (see the module docstring)."""

    name = "slot-ppo"
    config_class = SlotConfig
    actions = ("window", "slots", "kind")
    # the network reads each device's costs in the scenario it decides for: any number of
    # devices, channels, servers and cuts; Eq. 8's weights and W_max fix what it learned
    compatible_fields = ("window_reward",)

    def __init__(
        self, scenario: str | Scenario, seed: int = 0, config: SlotConfig | None = None
    ) -> None:
        super().__init__(scenario, seed, config or SlotConfig())
        system = self.system
        self.cuts = efficient_cuts(system, planner_sharing(system))
        self.types = SlotTypes.of(system, self.cuts)
        self.n_kinds = self.types.valid.shape[1] - 1  # offloading types
        with self.seeded(seed):
            self.build()

    def build(self) -> None:
        self.net = SlotNetwork(self.width, self.config.hidden)

    @property
    def per_device(self) -> int:
        """Floats per device in the flat input: its features, its task cap, then per offloading
        type the type's features and whether the device has it."""
        return DEVICE_FEATURES + 1 + self.n_kinds * (TYPE_FEATURES + 1)

    @property
    def obs_dim(self) -> int:
        return self.system.n_devices * self.per_device

    def features(self, observation: np.ndarray) -> np.ndarray:
        """Per device [n, per_device]: what ``SlotNetwork`` reads (see ``per_device``).

        Device features: busy; its cap / W; its tasks over its mean, over the most any device
        has and over 3 W (at most 1: the end of an episode); its full windows left over the
        most any device has left, and log(1 + the most) / 3; its log path loss over the
        distance range (0 nearest, 1 farthest) and its rank by distance among the busy devices;
        log latency and log Eq. 8 energy cost of a local task and the least of them over the
        types; log(channels / busy devices), log(servers / busy devices) and the busy share.
        Type features: its log latency and log energy cost and both relative to local; its
        power level (log10 share / 2) and cut rank over the cuts. Latencies are over the busy
        devices' mean local latency; an energy cost is beta / N x energy in those units (Eq. 8
        weighs both alike)."""
        system, n, radio = self.system, self.system.n_devices, self.scenario.radio
        reward = self.scenario.window_reward
        state = WindowState.decode(observation, n)
        gain = median_gains(system, state.distance_m)
        latency, energy = alone_costs(system, self.types, gain[:, None])
        busy = state.remaining > 0
        count = max(int(busy.sum()), 1)
        scale = latency[busy, 0].mean() if busy.any() else latency[:, 0].mean()
        log_latency = np.log(latency / scale)
        log_energy = np.log(reward.beta / n * energy / scale + 1e-12)
        valid = self.types.valid
        kinds_latency = np.where(valid, log_latency, np.inf)
        kinds_energy = np.where(valid, log_energy, np.inf)
        distance = np.clip(state.distance_m, system.distance_low, system.distance_high)
        low, high = np.log(system.distance_low), np.log(system.distance_high)
        loss = (np.log(distance) - low) / np.maximum(high - low, 1e-12)
        order = np.where(busy, distance, np.inf).argsort(kind="stable")
        rank = np.empty(n)
        rank[order] = np.arange(n) / max(count - 1, 1)
        cap = np.minimum(self.width, state.remaining)
        windows_left = -(-state.remaining // self.width)
        most = max(int(windows_left.max()), 1)
        device = np.stack(
            [
                busy, cap / self.width, state.remaining / system.mean_tasks,
                state.remaining / max(state.remaining.max(), 1),
                np.minimum(state.remaining / (3 * self.width), 1.0), windows_left / most,
                np.full(n, np.log1p(most) / 3), loss, np.minimum(rank, 1.0),
                log_latency[:, 0], log_energy[:, 0], kinds_latency.min(1), kinds_energy.min(1),
                np.full(n, np.log(radio.channels / count)),
                np.full(n, np.log(system.n_servers / count)), np.full(n, count / n),
            ],
            axis=1,
        )  # fmt: skip
        k = np.arange(1, valid.shape[1])
        kinds = np.stack(
            [
                log_latency[:, k], log_energy[:, k], log_latency[:, k] - log_latency[:, :1],
                log_energy[:, k] - log_energy[:, :1],
                np.broadcast_to(np.log10(np.asarray(POWER_LEVELS)[self.types.power_rank[k]]) / 2,
                                (n, len(k))),
                np.broadcast_to(self.types.cut_rank[k] / max(self.types.cut_rank.max(), 1),
                                (n, len(k))),
            ],
            axis=2,
        )  # fmt: skip
        kinds = np.where(valid[:, k, None], kinds, 0.0)
        return np.concatenate(
            [device, cap[:, None], kinds.reshape(n, -1), valid[:, k]], axis=1
        ).astype(np.float32)

    def _scaled(self, observation: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(self.features(observation).ravel())

    def _parts(self, obs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """A flat input [b, obs_dim] -> device features, cap, type features, type validity."""
        b, n, t = obs.shape[0], self.system.n_devices, self.n_kinds
        blocks = obs.reshape(b, n, self.per_device)
        device, cap = blocks[..., :DEVICE_FEATURES], blocks[..., DEVICE_FEATURES]
        rest = blocks[..., DEVICE_FEATURES + 1 :]
        kinds = rest[..., : t * TYPE_FEATURES].reshape(b, n, t, TYPE_FEATURES)
        return device, cap.round().long(), kinds, rest[..., t * TYPE_FEATURES :] > 0.5

    def _logits(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, ...]:
        """Window and type logits (types a device lacks masked), count logits unmasked, the
        caps and the busy mask."""
        device, cap, kinds, valid = self._parts(obs)
        busy = device[..., 0]
        window, slots, kind = self.net.heads(device, kinds, busy)
        return window, slots, kind.masked_fill(~valid, MASKED), cap, busy

    def _slots_distribution(self, logits, window, cap) -> Categorical:
        """The offloaded count given the window (index): at most the tasks it runs."""
        most = torch.minimum(window + 1, cap)
        allowed = torch.arange(self.width + 1)[None, None, :] <= most[..., None]
        return Categorical(logits=logits.masked_fill(~allowed, MASKED))

    def _sample(self, scaled: torch.Tensor) -> dict[str, torch.Tensor]:
        window_logits, slots_logits, kind_logits, cap, _ = self._logits(scaled)
        window = Categorical(logits=window_logits).sample()
        slots = self._slots_distribution(slots_logits, window, cap).sample()
        return {"window": window, "slots": slots, "kind": Categorical(logits=kind_logits).sample()}

    def _used(self, actions: dict[str, torch.Tensor], remaining: torch.Tensor) -> torch.Tensor:
        """[batch, devices]: the devices with tasks (an idle device's choice changes nothing)."""
        return (remaining > 0).float()

    def _action_fields(self) -> dict[str, tuple[tuple[int, ...], type]]:
        n = self.system.n_devices
        return {
            "window": ((n,), np.int64),
            "slots": ((n,), np.int64),
            "kind": ((n,), np.int64),
            "used": ((n,), np.float32),
        }

    def _log_prob_entropy(self, obs, actions, used) -> tuple[torch.Tensor, torch.Tensor]:
        """Per device log pi(a|s) and entropy: window, count given the window, and the type
        when a task is offloaded; [batch, devices], 0 for idle devices."""
        window_logits, slots_logits, kind_logits, cap, _ = self._logits(obs)
        window_d = Categorical(logits=window_logits)
        slots_d = self._slots_distribution(slots_logits, actions["window"], cap)
        kind_d = Categorical(logits=kind_logits)
        offloads = (actions["slots"] > 0).float()
        log_prob = (
            window_d.log_prob(actions["window"]) + slots_d.log_prob(actions["slots"])
            + offloads * kind_d.log_prob(actions["kind"])
        )  # fmt: skip
        entropy = window_d.entropy() + slots_d.entropy() + offloads * kind_d.entropy()
        return log_prob * used, entropy * used

    def decision(
        self, window: np.ndarray, slots: np.ndarray, kind: np.ndarray, remaining: np.ndarray
    ) -> Decision:
        """The decision of per-device window sizes, offloaded counts and types (1-based:
        0 is local): the slots laid out by ``place_slots`` within the tasks each window runs."""
        n = self.system.n_devices
        cap = np.minimum(window, remaining)
        slots = np.minimum(slots, cap)
        at, channel, server = place_slots(self.system, cap, slots, np.where(slots > 0, kind, 0))
        rows = self.types.rows[np.arange(n)[:, None], at]
        return Decision(
            cut=rows[..., 0].astype(np.int64), window=np.asarray(window, dtype=np.int64),
            channel=channel, server=server, power_w=rows[..., 3].copy(),
        )  # fmt: skip

    def _env_action(
        self, actions: dict[str, torch.Tensor], observation: np.ndarray
    ) -> dict[str, np.ndarray]:
        remaining = WindowState.decode(observation, self.system.n_devices).remaining
        window, slots, kind = (actions[key][0].numpy() for key in self.actions)
        return self.decision(window + 1, slots, kind + 1, remaining).as_action(WINDOW_FIELDS)

    def decide(self, observation: np.ndarray) -> Decision:
        """The most likely action: the window's mode, the count's mode given it, the type's."""
        with torch.no_grad():
            window_logits, slots_logits, kind_logits, cap, _ = self._logits(
                self._scaled(observation)[None]
            )
            window = window_logits.argmax(-1)
            slots = self._slots_distribution(slots_logits, window, cap).probs.argmax(-1)
            kind = kind_logits.argmax(-1)
        remaining = WindowState.decode(observation, self.system.n_devices).remaining
        return self.decision(window[0].numpy() + 1, slots[0].numpy(), kind[0].numpy() + 1,
                             remaining)  # fmt: skip

    def _head_actions(self, decision: Decision, observation: np.ndarray) -> dict[str, torch.Tensor]:
        """A demonstrator's decision projected onto the heads' actions [1, n]: its window, the
        tasks it offloads among those the window runs, and their most frequent (cut, power
        level) type (powers to the nearest level on a log scale; the least type of a tie)."""
        system, n = self.system, self.system.n_devices
        remaining = WindowState.decode(observation, n).remaining
        window = np.clip(np.asarray(decision.window), 1, self.width)
        runs = np.arange(self.width)[None, :] < np.minimum(window, remaining)[:, None]
        local = (system.n_cuts - 1)[:, None]
        offloaded = runs & (np.asarray(decision.cut) != local)
        share = np.asarray(decision.power_w) / self.max_power_w
        level = np.abs(np.log(np.maximum(share, 1e-12))[..., None]
                       - np.log(POWER_LEVELS)).argmin(-1)  # fmt: skip
        kind = np.zeros(n, dtype=np.int64)
        for device in np.flatnonzero(offloaded.any(1)):
            cuts = decision.cut[device, offloaded[device]]
            rank = np.searchsorted(self.cuts[device], cuts)
            known = (rank < len(self.cuts[device])) & (
                self.cuts[device][np.minimum(rank, len(self.cuts[device]) - 1)] == cuts
            )
            if not known.all():
                raise InvalidParameterError(
                    "demonstrator", self.config.demonstrator,
                    f"a decider whose cuts slot-ppo offers (device {device} chose cut "
                    f"{cuts[~known][0]}, not one of {self.cuts[device]})",
                )  # fmt: skip
            types = 1 + rank * len(POWER_LEVELS) + level[device, offloaded[device]]
            values, counts = np.unique(types, return_counts=True)
            kind[device] = values[counts.argmax()] - 1
        heads = {"window": window - 1, "slots": offloaded.sum(1), "kind": kind}
        return {key: torch.as_tensor(v, dtype=torch.int64)[None] for key, v in heads.items()}

    def _value(self, obs: torch.Tensor) -> torch.Tensor:
        device, _, _, _ = self._parts(obs)
        return self.net.value(device, device[..., 0])
