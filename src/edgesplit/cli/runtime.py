"""Commands of the live runtime: serve (an edge server), device (a device running tasks through
one), calibrate (the runtime's overheads on this machine), live (servers, devices and a
controller driven by a policy)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
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


@command("live")
def live_command(
    scenario: Annotated[
        str, typer.Option(help="Slot or task-window preset, or a YAML file (see `scenarios`).")
    ] = "live-demo",
    policy: Annotated[
        str, typer.Option(help="Policy name, or name=policy.pt for a trained learner.")
    ] = "optimum",
    devices: Annotated[int, typer.Option(help="Device processes.")] = 2,
    servers: Annotated[
        int | None,
        typer.Option(help="Edge server processes (default: 1; task-window: the scenario's)."),
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds to run.")] = 20.0,
    slot_s: Annotated[float, typer.Option(help="Slot length (tasks per second kept).")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of arrivals, rates and inputs.")] = 0,
    fault: Annotated[
        list[str] | None,
        typer.Option(help="kill-server@T[:BACK_S], drop@P or slow-link@T:MBPS (repeatable)."),
    ] = None,
    hysteresis: Annotated[
        float, typer.Option(help="A device changes its cut for a gain above this share.")
    ] = 0.05,
    timeout_s: Annotated[float, typer.Option(help="Deadline of one request.")] = 2.0,
    hardware: Annotated[
        str | None,
        typer.Option(
            help="Profiles standing for this machine: a catalogue entry or a profile folder "
            "(default: the shipped ones of this CPU, else measured once and cached)."
        ),
    ] = None,
    untrained: Annotated[
        bool, typer.Option(help="Let a learner decide without a policy file (debugging).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the whole report (JSON).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run edge servers, devices and a controller on 127.0.0.1: every slot the policy decides
    on the measured state, the devices run their tasks through the servers, and the report
    holds every task against the cost model's prediction."""
    import json

    from edgesplit.runtime.live import Fault, LiveConfig, run_live

    if out is not None:
        output_file("--out", out, True)
    config = LiveConfig(
        scenario, policy, devices, servers, duration, slot_s, seed,
        tuple(Fault.parse(f) for f in fault or ()), hysteresis, timeout_s, hardware=hardware,
        untrained=untrained,
    )  # fmt: skip
    with err_console.status("live") as status:
        report = run_live(config, lambda text: status.update(f"live: {text}"))
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    if as_json:
        print_json(report)
        return
    print_live(report)


def per_device(name: str, fmt: str = "", factor: float = 1.0) -> Callable[[dict], str]:
    """The cell of a per-device list: its values joined by '/' (a device's list of per-task
    values, in the task-window style, joined by ',')."""

    def value(v: float) -> str:
        return f"{v * factor if factor != 1 else v:{fmt}}"

    return lambda row: "/".join(
        ",".join(map(value, v)) if isinstance(v, list) else value(v) for v in row[name]
    )


def _servers(row: dict) -> str:
    """The server per device ('-': none, the device runs its tasks); a window's per task."""

    def name(server: int) -> str:
        return "-" if server < 0 else str(server)

    return "/".join(
        ",".join(map(name, v)) if isinstance(v, list) else name(v) for v in row["server"]
    )


def _codecs(row: dict) -> str:
    """The codecs per device ('/'-joined); a window's distinct ones (','-joined)."""
    return "/".join(",".join(dict.fromkeys(v)) if isinstance(v, list) else v for v in row["codec"])


def _why_local(row: dict) -> str:
    return ", ".join(f"{n} {why}" for why, n in row["local"].items())


def _energy_cell(row: dict) -> str:
    return f"{row['energy_j_modelled']:.1f} / {row['predicted_energy_j']:.1f}"


def print_live(report: dict) -> None:
    """The decisions, tasks and measured-against-predicted tables of a live report."""
    ms = 1e3
    steps = f"in {report['slot_s']:g}-s slots" if report["style"] == "slot" else "in task windows"
    console.print(
        f"{report['scenario']}, {report['policy']}: {report['devices']} devices, "
        f"{report['servers']} server(s), {report['duration_s']:g} s {steps}; {report['host']}",
        highlight=False,
    )
    slot = report["style"] == "slot"
    columns = [
        Column("slot" if slot else "window", lambda r: str(r["step"] + 1)),
        Column("t s", key("t_s", ".1f")),
        Column("servers up", lambda r: ",".join(str(s) for s in r["healthy_servers"]) or "none"),
        Column("tasks", per_device("tasks")),
        Column("cut", per_device("cut")),
        *([Column("threads", per_device("threads"))] if slot else []),
        Column("server", _servers),
        Column("codec", _codecs, left=True),
        Column("link Mbit/s", per_device("rate_bps", ".0f", 1e-6)),
        *([Column("seen Mbit/s", per_device("observed_uplink_bps", ".0f", 1e-6))] if slot else []),
        Column("decided by", key("why"), left=True),
    ]
    console.print(table(report["decisions"], columns, "Decisions (per device: d0/d1/...)"))

    def versus(name: str) -> Callable[[dict], str]:
        def cell(row: dict) -> str:
            measured, predicted = row["measured"][name], row["predicted"][name]
            if measured is None:
                return "-"
            return f"{measured * ms:.1f} / {predicted * ms:.1f}"

        return cell

    columns = [
        Column("device", lambda r: f"{r['device']} {r['model']}", left=True, whole=True),
        Column("tasks", key("done")),
        Column("offl.", key("offloaded")),
        Column("local: why", _why_local, left=True),
        Column("head ms", versus("head_s")),
        Column("link ms", versus("link_s")),
        Column("queue ms", versus("queue_s")),
        Column("tail ms", versus("tail_s")),
        Column("total ms", versus("latency_s")),
        Column("wait ms", key("device_wait_s", ".0f", ms)),
        Column("energy J", _energy_cell),
    ]
    console.print(table(report["per_device"], columns, "Tasks; measured / predicted"))
    links = "; ".join(f"{r['device']} {r['link']}" for r in report["per_device"])
    console.print(
        f"Links: {links}. Latency: mean over the tasks that ran as decided; energy: modelled "
        "from the measured times / predicted.",
        highlight=False,
    )
    totals = report["totals"]
    left = (
        f"; {totals['not_dispatched']} not dispatched when the time was up"
        if totals["not_dispatched"]
        else ""
    )
    console.print(
        f"{totals['done']} of {totals['arrived']} tasks done ({totals['offloaded']} offloaded, "
        f"{totals['local']} local){left}; wait = time a task waited on its busy device (not in "
        "the model)",
        highlight=False,
    )
