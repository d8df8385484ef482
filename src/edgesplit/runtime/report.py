"""The report of a live run: every task (on the server, local by decision, local because of a
failure and why, run by the agent on its own while the controller was gone), measured against
predicted latency per component, modelled energy, the agents' uplink estimates and clock
offsets, and the accounting that shows no task was lost."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from edgesplit.costs import task_energy_j

if TYPE_CHECKING:
    from edgesplit.runtime.controller import Controller

# (measured, predicted): the task record's components against the cost model's
COMPONENTS = (
    ("head_s", "local_s"),
    ("link_s", "transmit_s"),
    ("queue_s", "queue_s"),
    ("tail_s", "server_s"),
    ("latency_s", "latency_s"),
)


def live_report(controller: Controller) -> dict[str, Any]:
    """The run as plain data (see the module notes)."""
    config = controller.config
    with controller.lock:
        tasks = sorted(controller.tasks.values(), key=lambda t: (t["device"], t["step"], t["k"]))
        pushed = {key: len(value) for key, value in controller.expected.items()}
        agents = list(controller.agents)
        decisions = [{**d, **controller.control_s.get(d["step"], {})} for d in controller.decisions]
    offsets = controller.clock_offsets()
    rows = []
    for n in range(config.devices):
        mine = [t for t in tasks if t["device"] == n]
        as_decided = [t for t in mine if t["fallback"] is None and t["predicted"] is not None]
        measured, predicted = {}, {}
        for ours, theirs in COMPONENTS:
            values = [component(t, ours) for t in as_decided]
            expected = [t["predicted"][theirs] for t in as_decided]
            measured[ours] = statistics.mean(values) if values else None
            predicted[ours] = statistics.mean(expected) if expected else None
        local = Counter(
            t["fallback"] or ("exit" if t["exited"] else "decided")
            for t in mine
            if not t["offloaded"]
        )
        ran = {(t["step"], t["k"]) for t in mine}
        # a slot the agent ran on its own (the controller silent) supersedes the decision the
        # controller made for it later: the device had already run that slot's tasks
        own = {t["step"] for t in mine if t["decided_by"] != "controller"}
        decided = {step: count for (device, step), count in pushed.items() if device == n}
        superseded = sum(count for step, count in decided.items() if step in own)
        missing = sum(
            count - sum((step, k) in ran for k in range(count))
            for step, count in decided.items()
            if step not in own
        )
        agent = agents[n]
        offset = offsets[n]
        modelled = [t for t in mine if t["predicted"] is not None]
        rows.append(
            {
                "device": n,
                "model": controller.device_models[n],
                "name": None if agent is None else agent.name,
                "link": _link_name(controller.scenario.devices[n].uplink)
                if controller.slot_style
                else "zhang2026 radio",
                "decided": sum(decided.values()),
                "done": len(mine),
                "on_its_own": sum(t["decided_by"] != "controller" for t in mine),
                "not_run": missing,
                "superseded": superseded,
                "offloaded": sum(t["offloaded"] for t in mine),
                "local": dict(local),
                "device_wait_s": statistics.mean(t["wait_s"] for t in mine) if mine else None,
                "measured": measured,
                "predicted": predicted,
                "energy_j_modelled": sum(_energy_j(t) for t in modelled),
                "predicted_energy_j": sum(t["predicted"]["energy_j"] for t in modelled),
                "uplink_estimate_bps": None if agent is None else agent.uplink_bps,
                "clock_offset_s": None if offset is None else offset[0],
                "clock_delay_s": None if offset is None else offset[1],
                "registrations": 0 if agent is None else agent.registrations,
            }
        )
    return {
        "scenario": controller.preset.name,
        "style": controller.preset.style,
        "policy": controller.label,
        "run_id": controller.run_id,
        "devices": config.devices,
        "servers": controller.server_count,
        "server_addresses": [s.address for s in controller.servers],
        "duration_s": config.duration_s,
        "slot_s": config.slot_s if controller.slot_style else None,
        "seed": config.seed,
        "hardware": controller.hardware,
        "host": controller.host_note,
        "profiles_switched": controller.switched,  # derived at first, measured from this step
        "hysteresis": config.hysteresis if controller.slot_style else None,
        "decisions": decisions,
        "per_device": rows,
        "totals": {
            "decided": sum(row["decided"] for row in rows),
            "done": len(tasks),
            "on_its_own": sum(row["on_its_own"] for row in rows),
            "not_run": sum(row["not_run"] for row in rows),
            "superseded": sum(row["superseded"] for row in rows),
            "offloaded": sum(t["offloaded"] for t in tasks),
            "local": sum(not t["offloaded"] for t in tasks),
            "devices_finished": sum(a is not None and a.done for a in agents),
            "not_dispatched": controller.world.not_dispatched(),
        },
        "tasks": tasks,
    }


def component(task: dict[str, Any], name: str) -> float:
    """The measured counterpart of a cost-model component of one task (``COMPONENTS``)."""
    if name == "link_s":
        return task["codec_s"] + task["transfer_s"]
    if name == "head_s":  # with an early exit's head, which the prediction's local part holds
        local_tail_s = 0.0 if task["offloaded"] else task["tail_s"]  # all local: the whole model
        return task["head_s"] + task["exit_s"] + local_tail_s
    if name == "tail_s" and not task["offloaded"]:
        return 0.0
    return task[name]


def _energy_j(task: dict[str, Any]) -> float:
    """Modelled device energy of a measured task (``costs.task_energy_j`` with the measured
    times and the task's powers and MACs): the device computes the head, and the tail when it
    ran locally (or zeta x MACs where the scenario counts MACs); it transmits for the whole
    transfer."""
    model = task["predicted"]
    compute_s = task["head_s"] + task["exit_s"] + (0.0 if task["offloaded"] else task["tail_s"])
    return float(
        task_energy_j(
            compute_s, model["compute_power_w"], task["transfer_s"], model["transmit_power_w"],
            device_macs=model["device_macs"], energy_per_mac_j=model["energy_per_mac_j"],
        )
    )  # fmt: skip


def _link_name(uplink: Any) -> str:
    if uplink is None:
        return "scenario"
    if uplink.kind == "uniform":
        return f"uniform {uplink.low_bps / 1e6:g}-{uplink.high_bps / 1e6:g} Mbit/s"
    if uplink.kind == "umi":
        return f"5G UMi {uplink.frequency_hz / 1e9:g} GHz"
    return f"trace {os.path.basename(uplink.trace_file or '')}"
