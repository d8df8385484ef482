"""How result metrics are shown: SI inside, converted only where people read them (tables,
plots), each with a label that says what it is per (slot, device, episode, task)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Display:
    """A metric's label, display unit, factor from SI and number format."""

    label: str
    unit: str = ""
    factor: float = 1.0
    fmt: str = ".4g"

    def header(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def value(self, si: float) -> str:
        return format(si * self.factor, self.fmt)


DISPLAYS = {
    # slot style (shi2025): means over slots and episodes
    "utility": Display("utility per slot, higher is better", fmt=".3f"),
    "local_s": Display("on device", "ms", 1e3, ".1f"),
    "transmit_s": Display("upload", "ms", 1e3, ".1f"),
    "queue_s": Display("server queue", "ms", 1e3, ".1f"),
    "server_s": Display("on server", "ms", 1e3, ".1f"),
    "downlink_s": Display("download", "ms", 1e3, ".1f"),
    "latency_s": Display("E2E latency", "ms", 1e3, ".1f"),
    "energy_j": Display("energy per device and slot", "J", fmt=".2f"),
    "violations": Display("violations per episode", fmt=".1f"),
    "learned_share": Display("on a learned option", "%", 100.0, ".0f"),
    # task-window style (zhang2026): per episode
    "reward": Display("episode reward (Eq. 8), higher is better"),
    "total_latency_s": Display("total latency", "s"),
    "energy_per_task_j": Display("energy per task", "J"),
    "waiting_per_task_s": Display("waiting per task", "ms", 1e3),
    "gap_to_bound": Display("gap to the bound, lower is better"),
}
BREAKDOWN = ("local_s", "transmit_s", "queue_s", "server_s", "downlink_s")  # parts of latency_s


def display(metric: str) -> Display:
    """How ``metric`` is shown (seconds as ms, joules as J for metrics not listed)."""
    if metric in DISPLAYS:
        return DISPLAYS[metric]
    if metric.endswith("_s"):
        return Display(metric.removesuffix("_s"), "ms", 1e3)
    if metric.endswith("_j"):
        return Display(metric.removesuffix("_j"), "J")
    return Display(metric)
