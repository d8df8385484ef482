"""The checks of every command's options, by the option's name: ``command`` (``cli.app``) runs
them on a command's arguments before its body, so nothing is created, loaded or measured on a
value that is out of range, NaN or infinite. An option means one thing under one name in every
command, so one rule per name serves them all; a list option's rule applies to each value; None
(an option left to its default or to a file) is not checked here. What a value means beyond its
range (a cut of this model, a scenario's fields, a file's content) is checked where it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgesplit.checks import finite_in, parse_int_list, whole_number
from edgesplit.errors import InvalidParameterError

Rule = Callable[[str, Any], None]


def whole(low: int, high: int | None = None, note: str = "") -> Rule:
    """An integer in ``low``..``high`` (no upper bound if None)."""
    return lambda option, value: whole_number(option, value, low, high, note)


def number(
    low: float, high: float | None = None, *, above: bool = False, below: bool = False
) -> Rule:
    """A finite number from ``low`` (excluded when ``above``) up to ``high`` (excluded when
    ``below``; no upper bound if None)."""
    return lambda option, value: finite_in(option, value, low, high, above=above, below=below)


def address(any_port: bool = False) -> Rule:
    """``HOST:PORT`` (``oip://`` first for an Open Inference Protocol server), port 1..65535 (0
    too, any free one, with ``any_port``)."""

    def check(option: str, value: Any) -> None:
        from edgesplit.runtime.transport import host_port

        host_port(str(value).removeprefix("oip://"), option, any_port)

    return check


def whole_list(low: int) -> Rule:
    """Comma-separated integers, each >= ``low`` (``1,2,4``)."""

    def check(option: str, value: Any) -> None:
        if min(parse_int_list(option, value)) < low:
            raise InvalidParameterError(option, value, f"comma-separated whole numbers >= {low}")

    return check


def cut_choice(option: str, value: Any) -> None:
    """How many cuts to time: N >= 0 (evenly spaced; 0: none), ``all`` or ``single``."""
    if value not in ("all", "single") and not str(value).isdigit():
        raise InvalidParameterError(option, value, "all, single, or a number of cuts >= 0")


COUNT = whole(1)
SECONDS = number(0.0, above=True)
RATE = number(0.0, above=True)

RULES: dict[str, Rule] = {
    # seeds and counts
    "seed": whole(0, 2**63 - 1),
    "seeds": COUNT, "workers": COUNT, "steps": COUNT, "eval_every": COUNT, "eval_episodes": COUNT,
    "episodes": COUNT, "repeats": COUNT, "warmup": whole(0), "cuts": COUNT, "runs": COUNT,
    "rows": whole(0, note=" (0: all)"), "limit": COUNT, "top": COUNT, "tasks": COUNT,
    "devices": COUNT, "servers": COUNT, "lanes": COUNT, "cores": COUNT, "queue_limit": whole(0),
    "batch_max": COUNT, "requests": COUNT, "edge_cores": COUNT,
    "input_size": whole(1, 8192),  # 3 x 8192^2 floats are 805 MB before the first layer
    "edge_load": whole(0), "threads": whole(0, note=" (0: all)"),
    "device_threads": COUNT, "server_threads": COUNT, "cloud_threads": COUNT,
    "place": whole(0), "link_device": whole(0),
    "thread_list": whole_list(1), "train_threads": whole_list(1), "busy": whole_list(0),
    "cut_choice": cut_choice, "epochs": COUNT, "latent_channels": COUNT,
    "hidden_channels": COUNT, "rate_weight": number(0.0), "min_accuracy": number(0.0, 1.0),
    # network
    "port": whole(0, 65535, " (0: any free one)"), "metrics_port": whole(1, 65535),
    "server": address(), "controller": address(), "listen": address(any_port=True),
    # seconds, rates, shares
    "timeout_s": SECONDS, "join_timeout_s": SECONDS, "retry_s": SECONDS, "duration": SECONDS,
    "slot_s": SECONDS, "lease_s": SECONDS, "live_s": number(0.0), "hysteresis": number(0.0),
    "batch_delay_ms": number(0.0, 1000.0), "drop_replies": number(0.0, 1.0, below=True),
    "max_message_mb": number(1.0, 2047.0),  # gRPC: below 2 GiB
    "rate_mbps": RATE, "uplink_mbps": RATE, "cloud_mbps": RATE,
    "device_gmacs": RATE, "server_gmacs": RATE,
    "transmit_power_w": number(0.0), "compute_power_w": number(0.0),
    "beta": number(0.0), "beta_s_per_j": number(0.0), "distance": number(0.0, above=True),
    "pf": number(0.0, 1.0, below=True),
}  # fmt: skip


SPELLED = {"thread_list": "--threads", "cut_choice": "--cuts"}  # named apart from their option


def option_name(parameter: str) -> str:
    """A parameter's option as the command line spells it."""
    return SPELLED.get(parameter, "--" + parameter.replace("_", "-"))


def check_options(values: dict[str, Any]) -> None:
    """Every value in ``values`` (a command's arguments by parameter name) that has a rule."""
    for parameter, value in values.items():
        rule = RULES.get(parameter)
        if rule is None or value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            rule(option_name(parameter), item)
