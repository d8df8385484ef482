"""Commands of the live runtime: serve (an edge server), device (a device running tasks through
one), calibrate (the runtime's overheads on this machine), live (servers, devices and a
controller driven by a policy)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgesplit.checks import output_file
from edgesplit.cli.app import (
    Column,
    GranularityOpt,
    InputSizeOpt,
    JsonOpt,
    ModelArg,
    choice,
    command,
    console,
    err_console,
    key,
    print_json,
    table,
)
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE

TokenFileOpt = Annotated[
    Path | None,
    typer.Option(help="File holding the shared token (else the EDGESPLIT_TOKEN variable)."),
]


def _recorded(command_name: str, fallback: str) -> str:
    """The command line as typed (when run from the shell), for the files it writes."""
    if sys.argv[1:2] == [command_name]:
        return shlex.join(["edgesplit", *sys.argv[1:]])
    return fallback


@command("serve")
def serve_command(
    config: Annotated[
        Path | None, typer.Option(help="YAML file of server settings (the options override it).")
    ] = None,
    models: Annotated[str | None, typer.Option(help="Models to host, comma-separated.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (0: any free one).")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics over HTTP on this port.")
    ] = None,
    token_file: TokenFileOpt = None,
    device: Annotated[str | None, choice(("cpu", "cuda"), "Where tails run.")] = None,
    cores: Annotated[
        int | None, typer.Option(help="Threads all running tails share (default: every core).")
    ] = None,
    lanes: Annotated[
        int | None, typer.Option(help="Tails running at once (worker processes).")
    ] = None,
    queue_limit: Annotated[
        int | None, typer.Option(help="Requests that may wait; more are refused at once.")
    ] = None,
    max_message_mb: Annotated[
        float | None, typer.Option(help="Largest request or reply, MiB.")
    ] = None,
    input_size: Annotated[int | None, typer.Option(help="Input image side the models take.")] = (
        None
    ),
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    drop_replies: Annotated[
        float | None, typer.Option(help="Fault injection: share of replies withheld.")
    ] = None,
) -> None:
    """Run an edge server: host the tails of the models for every cut, until Ctrl-C."""
    from edgesplit.runtime.server import serve, server_config

    settings = server_config(
        None if config is None else str(config),
        models=None if models is None else tuple(m.strip() for m in models.split(",") if m),
        host=host, port=port, metrics_port=metrics_port, device=device, cores=cores,
        lanes=lanes, queue_limit=queue_limit, input_size=input_size, drop_replies=drop_replies,
        max_message_bytes=None if max_message_mb is None else int(max_message_mb * 2**20),
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
        token_file=None if token_file is None else str(token_file),
    )  # fmt: skip

    status = err_console.status("starting the lanes (each loads the models)")

    def ready(bound: int) -> None:
        status.stop()
        extras = [
            f"{settings.lane_count} lanes",
            f"{settings.total_cores} cores",
            "TLS" if settings.tls_cert else "no TLS",
            "token" if settings.token else "no token",
        ]
        if settings.metrics_port is not None:
            extras.append(f"metrics on http://{settings.host}:{settings.metrics_port}/metrics")
        console.print(
            f"edgesplit serve: {', '.join(settings.models)} on {settings.host}:{bound} "
            f"({', '.join(extras)}); Ctrl-C stops",
            highlight=False,
        )

    status.start()
    try:
        serve(settings, ready)
    finally:
        status.stop()


@command("device")
def device_command(
    model: ModelArg,
    cut: Annotated[int, typer.Option(help="Cut number (1 = send the input; see `cuts`).")],
    server: Annotated[
        list[str], typer.Option(help="Edge server address host:port (repeat for several).")
    ] = ["127.0.0.1:50051"],  # noqa: B006  (typer needs a literal default)
    tasks: Annotated[int, typer.Option(help="Tasks to run.")] = 10,
    threads: Annotated[int, typer.Option(help="Server threads per tail (0: all).")] = 0,
    codec: Annotated[str, typer.Option(help="fp32, fp16, int8, int8-channel, +zstd.")] = "fp32",
    rate_mbps: Annotated[
        float | None, typer.Option(help="Shape the uplink to this rate (token bucket).")
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Deadline of one request.")] = 10.0,
    token_file: TokenFileOpt = None,
    tls_ca: Annotated[Path | None, typer.Option(help="PEM certificate to trust (TLS).")] = None,
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    as_json: JsonOpt = False,
) -> None:
    """Run tasks of a model split at a cut through edge servers; show where each ran, where its
    time went, and how far its output is from the unsplit model's."""
    from edgesplit.runtime.device import run_tasks

    report = run_tasks(
        model, server, cut - 1, tasks, threads, codec, rate_mbps, timeout_s,
        None if token_file is None else str(token_file),
        None if tls_ca is None else str(tls_ca), granularity, input_size,
    )  # fmt: skip
    if as_json:
        print_json(report)
        return
    ms = 1e3
    columns = [
        Column("task", key("task")),
        Column("ran on", lambda r: "server" if r["offloaded"] else "device", left=True),
        Column("why", lambda r: r["fallback"] or "", left=True),
        Column("head ms", key("head_s", ".2f", ms)),
        Column("codec ms", key("codec_s", ".2f", ms)),
        Column("transfer ms", key("transfer_s", ".2f", ms)),
        Column("queue ms", key("queue_s", ".2f", ms)),
        Column("tail ms", key("tail_s", ".2f", ms)),
        Column("total ms", key("latency_s", ".2f", ms)),
        Column("sent KiB", key("sent_bytes", ".1f", 1 / 1024)),
        Column("max |out - unsplit|", key("max_abs_error", ".2e")),
    ]
    title = f"{model}, cut {cut}, {codec}, via {', '.join(server)}"
    console.print(table(report["tasks"], columns, title))
    summary = report["summary"]
    console.print(
        f"{summary['offloaded']} of {summary['tasks']} offloaded; local: "
        f"{summary['local'] or 'none'}; median latency {summary['median_latency_s'] * ms:.2f} ms; "
        f"uplink estimate {_mbps(summary['uplink_bps'])}",
        highlight=False,
    )


def _mbps(rate_bps: float | None) -> str:
    return "none (nothing sent)" if rate_bps is None else f"{rate_bps / 1e6:.1f} Mbit/s"


@command("calibrate")
def calibrate_command(
    out: Annotated[Path, typer.Option(help="Where to write the link profile (JSON).")],
    models: Annotated[
        str, typer.Option(help="Models whose activations the codecs are timed on.")
    ] = "resnet18,mobilenet_v2",
    cuts: Annotated[int, typer.Option(help="Cuts per model (evenly spaced).")] = 6,
    repeats: Annotated[int, typer.Option(help="Timed runs per measurement.")] = 15,
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure the runtime's overheads on this machine (codecs per bit and their ratios on real
    activations, a request's fixed time and the transport per bit on 127.0.0.1): the link
    profile a scenario's ``runtime.link`` and ``plan --link`` read."""
    import json

    from edgesplit.runtime.calibrate import measure_link

    output_file("--out", out, force)
    names = [m.strip() for m in models.split(",") if m.strip()]
    recorded = _recorded(
        "calibrate",
        f"edgesplit calibrate --models {models} --cuts {cuts} --repeats {repeats} --out {out}",
    )
    with err_console.status("calibrating") as status:
        data = measure_link(names, cuts, input_size, repeats, status.update)
    data["command"] = recorded
    out.write_text(json.dumps(data, indent=2) + "\n")
    if as_json:
        print_json(data)
        return
    rows = [{"codec": name, **values} for name, values in data["codecs"].items()]
    mb = 8 * 2**20  # bits per MiB
    columns = [
        Column("codec", key("codec"), left=True),
        Column("encode ms/MiB", key("encode_s_per_bit", ".3f", 1e3 * mb)),
        Column("decode ms/MiB", key("decode_s_per_bit", ".3f", 1e3 * mb)),
        Column("wire / fp32", key("wire_ratio", ".3f")),
    ]
    console.print(table(rows, columns, f"Link profile of {data['machine']['cpu']}"))
    console.print(
        f"one request {data['request_s'] * 1e3:.2f} ms, transport "
        f"{data['transport_s_per_bit'] * 1e3 * mb:.3f} ms/MiB; written to {out}",
        highlight=False,
    )
