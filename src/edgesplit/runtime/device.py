"""A device running tasks through edge servers: what ``edgesplit device`` shows."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import torch

from edgesplit.checks import positive
from edgesplit.compress.codecs import Codec
from edgesplit.errors import InvalidParameterError
from edgesplit.runtime.client import DeviceClient, EarlyExit, TokenBucket
from edgesplit.runtime.transport import read_token


def run_tasks(
    model: str,
    servers: list[str],
    cut: int,
    tasks: int,
    threads: int = 0,
    codec: str = "fp32",
    rate_mbps: float | None = None,
    timeout_s: float = 10.0,
    token_file: str | None = None,
    tls_ca: str | None = None,
    granularity: str = "operator",
    input_size: int = 224,
    fold_batchnorm: bool = False,
    input_shape: str | None = None,
    exit: str | None = None,
    exit_threshold: float = 0.9,
) -> dict[str, Any]:
    """Run ``tasks`` tasks of ``model`` at cut ``cut`` on the seeded example input,
    spread over ``servers`` in turn (the head's BatchNorms folded with ``fold_batchnorm``; an
    early ``exit`` taken at ``exit_threshold``); each record with its output's distance from
    the unsplit model's."""
    if tasks < 1:
        raise InvalidParameterError("--tasks", tasks, "at least 1")
    chosen = Codec.parse(codec)
    early = None if exit is None else EarlyExit(exit, exit_threshold)
    shaper = None if rate_mbps is None else TokenBucket(positive("--rate-mbps", rate_mbps) * 1e6)
    client = DeviceClient(
        model, servers, chosen, read_token(token_file), timeout_s, granularity, input_size,
        uplink=shaper, tls_ca=tls_ca, fold_batchnorm=fold_batchnorm, input_shape=input_shape,
    )  # fmt: skip
    with client:
        if not 0 <= cut < client.cut_count:
            raise InvalidParameterError("--cut", cut, f"a cut index 0..{client.cut_count - 1}")
        with torch.no_grad():
            expected = client.model(client.example)
        rows = []
        for task in range(tasks):
            output, record = client.run(
                client.example, cut, threads, task % len(servers), exit=early
            )
            error = float((output - expected).abs().max())
            rows.append({"task": task + 1, **record.record(), "max_abs_error": error})
    local = Counter(
        r["fallback"] or ("exit" if r["exited"] else "all-local cut")
        for r in rows
        if not r["offloaded"]
    )
    return {
        "model": model,
        "cut": cut,
        "codec": str(chosen),
        "exit": None if early is None else {"name": exit, "threshold": exit_threshold},
        "servers": servers,
        "tasks": rows,
        "summary": {
            "tasks": tasks,
            "offloaded": sum(r["offloaded"] for r in rows),
            "exited": sum(r["exited"] for r in rows),
            "local": ", ".join(f"{n} {why}" for why, n in local.items()),
            "median_latency_s": statistics.median(r["latency_s"] for r in rows),
            "uplink_bps": client.uplink_bps,
        },
    }
