"""Commands of the live runtime: serve (an edge server), device (a device agent, or tasks at a
fixed cut), controller (the decider of a run across hosts), calibrate (the runtime's overheads
on this machine), live (the three roles launched on this host)."""

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
    InputShapeOpt,
    InputSizeOpt,
    JsonOpt,
    ModelArg,
    choice,
    command,
    console,
    err_console,
    key,
    print_json,
    settings_from,
    table,
)
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE
from edgesplit.progress import status, warn_noisy

ControllerOpt = Annotated[
    str | None, typer.Option(help="The controller's control-plane address HOST:PORT.")
]
ReadyFileOpt = Annotated[
    Path | None,
    typer.Option(help="Write a JSON line here once ready (its port): for launchers.", hidden=True),
]
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
    batch_max: Annotated[
        int | None,
        typer.Option(help="Dynamic batching: rows one batch of a tail may hold (1: off)."),
    ] = None,
    batch_delay_ms: Annotated[
        float | None,
        typer.Option(help="Dynamic batching: how long a batch's first request waits for more."),
    ] = None,
    granularity: Annotated[
        str | None,
        typer.Option(help="Graph granularities whose cuts it answers (comma-separated)."),
    ] = None,
    fold_batchnorm: Annotated[
        bool | None, typer.Option(help="Fold each tail's BatchNorms into its convolutions.")
    ] = None,
    bottleneck: Annotated[
        list[str] | None,
        typer.Option(
            help="A learned bottleneck to decode (its file, or a shipped one's name; repeat)."
        ),
    ] = None,
    input_shape: InputShapeOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the fault injection.")] = None,
    controller: ControllerOpt = None,
    advertise: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT devices reach it at (default: its host as the controller sees it)."
        ),
    ] = None,
    ready_file: ReadyFileOpt = None,
) -> None:
    """Run an edge server: host the tails of the models for every cut, until Ctrl-C; with
    --controller it registers there and reports its load."""
    from edgesplit.runtime.server import serve, server_config
    from edgesplit.runtime.transport import host_port

    if controller is not None:
        host_port(controller, "--controller")
    if advertise is not None:
        host_port(advertise, "--advertise")

    settings = server_config(
        None if config is None else str(config),
        models=None if models is None else tuple(m.strip() for m in models.split(",") if m),
        host=host, port=port, metrics_port=metrics_port, device=device, cores=cores,
        lanes=lanes, queue_limit=queue_limit, input_size=input_size, drop_replies=drop_replies,
        batch_max=batch_max, fold_batchnorm=fold_batchnorm,
        batch_delay_s=None if batch_delay_ms is None else batch_delay_ms / 1e3,
        max_message_bytes=None if max_message_mb is None else int(max_message_mb * 2**20),
        tls_cert=None if tls_cert is None else str(tls_cert),
        tls_key=None if tls_key is None else str(tls_key),
        token_file=None if token_file is None else str(token_file), seed=seed,
        bottlenecks=None if bottleneck is None else tuple(bottleneck), input_shape=input_shape,
        granularities=None if granularity is None else tuple(
            g.strip() for g in granularity.split(",") if g.strip()
        ),
    )  # fmt: skip

    spinner = err_console.status("starting the lanes (each loads the models)")

    def ready(bound: int) -> None:
        spinner.stop()
        extras = [
            f"{settings.lane_count} lanes",
            f"{settings.total_cores} cores",
            "TLS" if settings.tls_cert else "no TLS",
            "token" if settings.token else "no token",
        ]
        if settings.metrics_port is not None:
            extras.append(f"metrics on http://{settings.host}:{settings.metrics_port}/metrics")
        if controller is not None:
            extras.append(f"registered with the controller at {controller}")
        console.print(
            f"edgesplit serve: {', '.join(settings.models)} on {settings.host}:{bound} "
            f"({', '.join(extras)}); Ctrl-C stops",
            highlight=False,
        )
        _write_ready(ready_file, {"port": bound})

    spinner.start()
    try:
        serve(settings, ready, controller, advertise or "")
    finally:
        spinner.stop()


@command("device")
def device_command(
    model: ModelArg,
    cut: Annotated[
        int | None,
        typer.Option(help="The cut index (0 sends the input; see `cuts`); without --controller."),
    ] = None,
    server: Annotated[
        list[str] | None,
        typer.Option(
            help="Edge server address host:port, or oip://host:port for any Open Inference "
            "Protocol server (repeat for several); without --controller."
        ),
    ] = None,
    tasks: Annotated[int, typer.Option(help="Tasks to run (without --controller).")] = 10,
    threads: Annotated[int, typer.Option(help="Server threads per tail (0: all).")] = 0,
    codec: Annotated[
        str,
        typer.Option(
            help="fp32, fp16, int8, int8-channel, +zstd; or bottleneck:NAME (a learned "
            "bottleneck at --cut: its file or a shipped one's name)."
        ),
    ] = "fp32",
    exit: Annotated[
        str | None,
        typer.Option("--exit", help="An early exit at --cut (its file or a shipped one's name)."),
    ] = None,
    exit_threshold: Annotated[
        float, typer.Option(help="Confidence at which --exit answers on the device.")
    ] = 0.9,
    rate_mbps: Annotated[
        float | None, typer.Option(help="Shape the uplink to this rate (token bucket).")
    ] = None,
    timeout_s: Annotated[float, typer.Option(help="Deadline of one request.")] = 10.0,
    token_file: TokenFileOpt = None,
    tls_ca: Annotated[Path | None, typer.Option(help="PEM certificate to trust (TLS).")] = None,
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    controller: ControllerOpt = None,
    name: Annotated[
        list[str] | None,
        typer.Option(help="Agent name, unique in the run (repeat: several agents, one process)."),
    ] = None,
    retry_s: Annotated[
        float, typer.Option(help="Between attempts to reach the controller or a failed server.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the agents' inputs.")] = 0,
    link_plan: Annotated[
        Path | None,
        typer.Option(
            help="Emulated links (JSON from `edgesplit live`): shape each agent's uplink."
        ),
    ] = None,
    link_device: Annotated[
        list[int] | None, typer.Option(help="Each --name's row of --link-plan.")
    ] = None,
    place: Annotated[
        list[int] | None,
        typer.Option(help="Each --name's device index in the run (default: any of its model)."),
    ] = None,
    fold_batchnorm: Annotated[
        bool,
        typer.Option(
            help="Fold the head's BatchNorms into its convolutions (without --controller)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """A device agent with --controller (it runs the tasks the controller decides, measures its
    uplink, keeps working when the controller is gone), else tasks of a model split at a fixed
    cut through edge servers: where each ran, where its time went, and how far its output is
    from the unsplit model's."""
    if controller is not None:
        _agents(
            model, controller, name, granularity, input_size, timeout_s, retry_s, seed,
            token_file, tls_ca, link_plan, link_device, place, as_json,
        )  # fmt: skip
        return
    from edgesplit.errors import InvalidParameterError
    from edgesplit.runtime.device import run_tasks

    if cut is None:
        raise InvalidParameterError("--cut", None, "a cut index (or --controller HOST:PORT)")
    servers = server or ["127.0.0.1:50051"]
    report = run_tasks(
        model, servers, cut, tasks, threads, codec, rate_mbps, timeout_s,
        None if token_file is None else str(token_file),
        None if tls_ca is None else str(tls_ca), granularity, input_size, fold_batchnorm,
        input_shape, exit, exit_threshold,
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
        Column("sent B", key("sent_bytes", ".0f")),
        Column("max |out - unsplit|", key("max_abs_error", ".2e")),
    ]
    if exit is not None:
        columns.insert(3, Column("exited", key("exited", ".0f")))
    title = f"{model}, cut {cut}, {codec}, via {', '.join(servers)}"
    if exit is not None:
        title += f", exit {exit} at {exit_threshold}"
    console.print(table(report["tasks"], columns, title))
    summary = report["summary"]
    console.print(
        f"{summary['offloaded']} of {summary['tasks']} offloaded; local: "
        f"{summary['local'] or 'none'}; median latency {summary['median_latency_s'] * ms:.2f} ms; "
        f"uplink estimate {_mbps(summary['uplink_bps'])}",
        highlight=False,
    )


def _agents(
    model: str, controller: str, names: list[str] | None, granularity: str, input_size: int,
    timeout_s: float, retry_s: float, seed: int, token_file: Path | None, tls_ca: Path | None,
    link_plan: Path | None, link_device: list[int] | None, place: list[int] | None,
    as_json: bool,
) -> None:  # fmt: skip
    """``edgesplit device --controller``: the agents of ``names`` in this process until the
    controller ends the run (Ctrl-C leaves at once)."""
    import json
    import os
    import signal
    import socket
    import threading

    from edgesplit.errors import InvalidParameterError
    from edgesplit.runtime.agent import AgentConfig, run_agents
    from edgesplit.runtime.links import LinkPlan
    from edgesplit.runtime.transport import Security, read_token

    names = names or [f"{socket.gethostname()}-{os.getpid()}"]
    if len(set(names)) != len(names):
        raise InvalidParameterError("--name", names, "distinct names")
    plan = None
    if link_plan is not None:
        try:
            plan = LinkPlan.from_record(json.loads(link_plan.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InvalidParameterError(
                "--link-plan", str(link_plan), f"a link plan ({error})"
            ) from None
    rows = tuple(link_device or ())
    if plan is not None and (
        len(rows) != len(names) or any(not 0 <= r < len(plan.rates_bps) for r in rows)
    ):
        raise InvalidParameterError(
            "--link-device",
            list(rows),
            f"one row of --link-plan (0..{len(plan.rates_bps) - 1}) per --name",
        )
    places = tuple(place or ())
    if places and (len(places) != len(names) or min(places) < 0):
        raise InvalidParameterError("--place", list(places), "one device index >= 0 per --name")
    security = Security(
        read_token(None if token_file is None else str(token_file)),
        tls_ca=None if tls_ca is None else str(tls_ca),
    )
    config = AgentConfig(
        model, controller, tuple(names), granularity, input_size, timeout_s, retry_s, security,
        seed, plan, rows, places,
    )  # fmt: skip
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    err_console.print(
        f"edgesplit device: {len(names)} agent(s) of {model} for the controller at {controller}",
        highlight=False,
    )
    done = run_agents(config, stop)
    if as_json:
        print_json({"model": model, "controller": controller, "tasks": done})
        return
    console.print(
        "; ".join(f"{agent}: {count} tasks" for agent, count in done.items()), highlight=False
    )


def _write_ready(path: Path | None, data: dict) -> None:
    """Tell a launcher this role is ready: the JSON written whole, then moved in place."""
    import json
    import os

    if path is None:
        return
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


def _mbps(rate_bps: float | None) -> str:
    return "none (nothing sent)" if rate_bps is None else f"{rate_bps / 1e6:.1f} Mbit/s"


@command("export")
def export_command(
    model: ModelArg,
    cut: Annotated[int, typer.Option(help="The cut index (`edgesplit cuts` lists them).")],
    out: Annotated[Path, typer.Option(help="Folder for the head, the tail and the repository.")],
    granularity: GranularityOpt = "block",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    format: Annotated[
        str, choice(("onnx", "torchscript"), "File format (torchscript: Triton's PyTorch backend).")
    ] = "onnx",
    repository: Annotated[
        str | None,
        typer.Option(
            help="Also lay the tail out as a model repository: triton (Triton, KServe) or "
            "mlserver (MLServer, KServe)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export the head and tail of one cut as ONNX or TorchScript, verified (ONNX Runtime,
    TorchScript) against the model, and optionally the tail as a Triton or MLServer model
    repository named as `serve` names tails under the Open Inference Protocol
    (<model>.<granularity>.cut-<n>)."""
    from edgesplit.runtime.export import export_split

    made = export_split(model, cut, out, granularity, input_size, repository, format)
    data = {
        "name": made.name, "head": str(made.head), "tail": str(made.tail),
        "config": None if made.config is None else str(made.config),
        "max_abs_error": made.max_abs_error,
    }  # fmt: skip
    if as_json:
        print_json(data)
        return
    console.print(
        f"{made.name}: head {made.head}, tail {made.tail}"
        + (f", repository {made.config.parent}" if made.config else "")
        + f"; the exported head then tail within {made.max_abs_error:.2g} of the model",
        highlight=False,
    )


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
    with status("calibrating") as shown:
        data = measure_link(names, cuts, input_size, repeats, shown.update)
    data["command"] = recorded
    out.write_text(json.dumps(data, indent=2) + "\n")
    warn_noisy(data["noisy"])
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


ScenarioOpt = Annotated[
    str, typer.Option(help="Slot or task-window preset, or a YAML file (see `scenarios`).")
]
PolicyOpt = Annotated[
    str, typer.Option(help="Policy name, or name=policy.pt for a trained learner.")
]
DurationOpt = Annotated[float, typer.Option(help="Seconds to run.")]
SlotOpt = Annotated[float, typer.Option(help="Slot length (tasks per second kept).")]
HysteresisOpt = Annotated[
    float, typer.Option(help="A device changes its cut for a gain above this share.")
]
LeaseOpt = Annotated[
    float,
    typer.Option(help="How long an agent keeps the last decision once the controller is gone."),
]
HardwareOpt = Annotated[
    str | None,
    typer.Option(
        help="Profiles standing for this machine: a catalogue entry or a profile folder "
        "(default: the shipped ones of this CPU, else measured once and cached)."
    ),
]
DeriveFirstOpt = Annotated[
    bool,
    typer.Option(
        help="On a CPU without shipped profiles, start at once on profiles derived from the "
        "shipped ones (seconds of whole-model timing) while this host's are measured beside the "
        "run, and switch to them when done (the report says when); default: measure first."
    ),
]
UntrainedOpt = Annotated[
    bool, typer.Option(help="Let a learner decide without a policy file (debugging).")
]
ServersOpt = Annotated[
    int | None,
    typer.Option(help="Edge servers (default: 1; task-window: the scenario's)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="FIELD=VALUE of the decider's settings (repeatable), e.g. budget_s=0.25."
    ),
]


def _settings(scenario: str, policy: str, items: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``--set`` pairs, checked against the decider before anything starts."""
    from edgesplit.policies.registry import check_settings
    from edgesplit.sim.scenario import load_scenario

    pairs = settings_from(items)
    if pairs:
        check_settings(policy, load_scenario(scenario), pairs)
    return tuple(pairs.items())


@command("controller")
def controller_command(
    scenario: ScenarioOpt = "live-demo",
    policy: PolicyOpt = "optimum",
    devices: Annotated[int, typer.Option(help="Device agents the run waits for.")] = 2,
    servers: ServersOpt = None,
    duration: DurationOpt = 20.0,
    slot_s: SlotOpt = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the world model (arrivals, batteries).")] = 0,
    hysteresis: HysteresisOpt = 0.05,
    lease_s: LeaseOpt = 6.0,
    hardware: HardwareOpt = None,
    derive_first: DeriveFirstOpt = False,
    untrained: UntrainedOpt = False,
    settings: SetOpt = None,
    listen: Annotated[
        str, typer.Option(help="HOST:PORT of the control plane (port 0: any free one).")
    ] = "127.0.0.1:50050",
    join_timeout_s: Annotated[
        float, typer.Option(help="How long to wait for the agents and servers to register.")
    ] = 300.0,
    token_file: TokenFileOpt = None,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate: serve TLS.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
    device_hardware: Annotated[
        list[str] | None,
        typer.Option(help="Per device (repeat, in order): the profiles it is predicted with."),
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option(
            help="Write what a restarted controller needs here; continue the run it holds."
        ),
    ] = None,
    ready_file: ReadyFileOpt = None,
    events: Annotated[
        bool, typer.Option(help="Print progress as JSON lines (for launchers).", hidden=True)
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the whole report (JSON).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide a run across hosts: wait for --devices agents (`edgesplit device MODEL
    --controller HOST:PORT`) and the edge servers (`edgesplit serve --controller HOST:PORT`), then
    every slot or task window decide on what they measure, push the decisions and report every
    task against the cost model's prediction. Ctrl-C ends the run with the report so far."""
    import json
    import signal
    import threading

    from edgesplit.runtime.controller import Controller, ControllerConfig
    from edgesplit.runtime.transport import Security, host_port, read_token

    if out is not None:
        output_file("--out", out, True)
    host, port = host_port(listen, "--listen", any_port=True)
    security = Security(
        read_token(None if token_file is None else str(token_file)),
        None if tls_cert is None else str(tls_cert), None if tls_key is None else str(tls_key),
    )  # fmt: skip
    config = ControllerConfig(
        scenario, policy, devices, servers, duration, slot_s, seed, hysteresis, hardware,
        untrained, host, port, lease_s, join_timeout_s, security, tuple(device_hardware or ()),
        None if journal is None else str(journal), derive_first,
        _settings(scenario, policy, settings),
    )  # fmt: skip

    def say(text: str) -> None:
        if events:
            print(json.dumps({"progress": text}), flush=True)
        else:
            shown.update(f"controller: {text}")

    with status("controller") as shown:
        made = Controller(config, say)
        bound = made.start()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        _write_ready(
            ready_file,
            {
                "port": bound, "cores": made.cores, "hardware": made.hardware,
                "style": made.preset.style, "servers": made.server_count,
                "device_models": made.device_models, "granularity": made.scenario.granularity,
                "input_size": made.scenario.input_size,
                "bottlenecks": sorted(
                    {b for table in made.world.system.tables for b in table.bottlenecks()}
                ),
            },
        )  # fmt: skip
        say(f"listening on {host}:{bound} ({'TLS' if security.tls_cert else 'no TLS'}, "
            f"{'token' if security.token else 'no token'})")  # fmt: skip

        def started(begin_s: float) -> None:
            if events:  # the launcher times its faults from the first step
                print(json.dumps({"begin_s": begin_s}), flush=True)

        report = made.run(say, stop, started)
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    if as_json:
        print_json(report)
    elif not events:
        print_live(report)


FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="kill-server@T[:BACK], kill-device@T:DEVICE[:BACK], drop@P, slow-link@T:MBPS, "
        "rate@T:DEVICE:MBPS, link-down@T:DEVICE[:BACK] (testbed) (repeatable)."
    ),
]
TimeoutOpt = Annotated[float, typer.Option(help="Deadline of one request.")]
OutOpt = Annotated[Path | None, typer.Option(help="Also write the whole report (JSON).")]


@command("live")
def live_command(
    scenario: ScenarioOpt = "live-demo",
    policy: PolicyOpt = "optimum",
    devices: Annotated[int, typer.Option(help="Device agents.")] = 2,
    servers: ServersOpt = None,
    duration: DurationOpt = 20.0,
    slot_s: SlotOpt = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of arrivals, rates and inputs.")] = 0,
    fault: FaultOpt = None,
    hysteresis: HysteresisOpt = 0.05,
    timeout_s: TimeoutOpt = 2.0,
    lease_s: LeaseOpt = 6.0,
    hardware: HardwareOpt = None,
    derive_first: DeriveFirstOpt = False,
    untrained: UntrainedOpt = False,
    settings: SetOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Launch a controller, edge servers and device agents on this host (the same processes
    as on separate machines, over 127.0.0.1): every slot the policy decides on what the agents
    measure, they run their tasks through the servers, and the report holds every task against
    the cost model's prediction. Ctrl-C ends the run with the report so far."""
    _launch(
        scenario, policy, devices, servers, duration, slot_s, seed, fault, hysteresis,
        timeout_s, lease_s, hardware, derive_first, untrained, settings, out, as_json,
        testbed=False,
    )  # fmt: skip


@command("testbed")
def testbed_command(
    action: Annotated[
        str,
        typer.Argument(
            help="run (up, a run, down), up (make the hosts and leave them), down (remove what "
            "testbeds left: --run's, else every one), status (what is left)."
        ),
    ],
    scenario: ScenarioOpt = "live-demo",
    policy: PolicyOpt = "optimum",
    devices: Annotated[int, typer.Option(help="Device hosts.")] = 3,
    servers: ServersOpt = None,
    duration: DurationOpt = 20.0,
    slot_s: SlotOpt = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of arrivals, rates and inputs.")] = 0,
    fault: FaultOpt = None,
    hysteresis: HysteresisOpt = 0.05,
    timeout_s: TimeoutOpt = 2.0,
    lease_s: LeaseOpt = 6.0,
    hardware: HardwareOpt = None,
    derive_first: DeriveFirstOpt = False,
    untrained: UntrainedOpt = False,
    settings: SetOpt = None,
    run: Annotated[str | None, typer.Option(help="The testbed's run id (down, status).")] = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Several hosts emulated on this Linux machine: a network namespace per host, veth links
    to a bridge, each device's uplink shaped in the kernel (tc tbf) as the scenario's rate model
    goes, CPUs capped by cgroups; the three roles run inside and talk only over those links."""
    from edgesplit.runtime import testbed

    choices = ("run", "up", "down", "status")
    if action not in choices:
        from edgesplit.errors import InvalidParameterError

        raise InvalidParameterError("ACTION", action, ", ".join(choices))
    if action == "run":
        _launch(
            scenario, policy, devices, servers, duration, slot_s, seed, fault, hysteresis,
            timeout_s, lease_s, hardware, derive_first, untrained, settings, out, as_json,
            testbed=True,
        )  # fmt: skip
        return
    if action == "up":
        made = testbed.Testbed(devices, servers or 1).up()
        hosts = {h.name: {"namespace": h.namespace, "address": h.address} for h in made.hosts}
        if as_json:
            print_json({"run": made.run, "hosts": hosts})
            return
        console.print(f"testbed {made.run} up (`edgesplit testbed down --run {made.run}`):")
        for name, host in hosts.items():
            console.print(
                f"  {name}: {host['address']} (ip netns exec {host['namespace']} ...)",
                highlight=False,
            )
        return
    found = testbed.remove(run) if action == "down" else testbed.leftovers(run)
    if as_json:
        print_json(found)
        return
    verb = "removed" if action == "down" else "left"
    console.print(
        "; ".join(f"{len(v)} {k.replace('_', ' ')}" for k, v in found.items()) + f" {verb}",
        highlight=False,
    )


def _launch(
    scenario: str, policy: str, devices: int, servers: int | None, duration: float,
    slot_s: float, seed: int, fault: list[str] | None, hysteresis: float, timeout_s: float,
    lease_s: float, hardware: str | None, derive_first: bool, untrained: bool,
    settings: list[str] | None, out: Path | None, as_json: bool, testbed: bool,
) -> None:  # fmt: skip
    """The three roles launched on this host (loopback or the testbed), the report printed."""
    import json

    from edgesplit.runtime.faults import Fault
    from edgesplit.runtime.launcher import LiveConfig, run_live

    pairs = _settings(scenario, policy, settings)
    if out is not None:
        output_file("--out", out, True)
    config = LiveConfig(
        scenario, policy, devices, servers, duration, slot_s, seed,
        tuple(Fault.parse(f) for f in fault or ()), hysteresis, timeout_s, hardware=hardware,
        untrained=untrained, lease_s=lease_s, testbed=testbed, derive_first=derive_first,
        settings=pairs,
    )  # fmt: skip
    name = "testbed" if testbed else "live"
    with status(name) as shown:
        report = run_live(config, lambda text: shown.update(f"{name}: {text}"))
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
    return _joined(row["codec"])


def _joined(values: list) -> str:
    """Per device ('/'-joined) a value, or a window's distinct values (','-joined)."""
    return "/".join(",".join(dict.fromkeys(v)) if isinstance(v, list) else v for v in values)


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
        *(
            [Column("exit", lambda r: _joined(r["exit"]), left=True)]
            if any(_joined(d.get("exit", [])).strip("/,") for d in report["decisions"])
            else []
        ),
        *(
            [Column("link Mbit/s", per_device("rate_bps", ".0f", 1e-6))]
            if report["decisions"] and "rate_bps" in report["decisions"][0]
            else []
        ),
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
    extra = [
        f"{totals['on_its_own']} run by agents on their own while the controller was silent"
        if totals["on_its_own"]
        else "",
        f"{totals['not_run']} decided but never run (the device was down or the run stopped)"
        if totals["not_run"]
        else "",
        f"{totals['superseded']} decided for slots the agents had already run on their own"
        if totals["superseded"]
        else "",
        f"{totals['not_dispatched']} not dispatched when the time was up"
        if totals["not_dispatched"]
        else "",
    ]
    console.print(
        f"{totals['done']} tasks done ({totals['offloaded']} offloaded, {totals['local']} "
        f"local) of {totals['decided']} decided{''.join('; ' + e for e in extra if e)}; wait = "
        "time a task waited on its busy device (not in the model)",
        highlight=False,
    )
