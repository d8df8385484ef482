"""The ``edgesplit`` command: a thin typer layer over the library.

Each command builds one dict of results in SI units, then prints it as rich tables or, with
``--json``, as JSON. Library errors print one line and exit with status 1.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

import torch
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from torch import nn

from edgesplit import checks
from edgesplit.errors import EdgesplitError
from edgesplit.graph import DEFAULT_CUT_LIMIT, GRANULARITIES, Cut, ModelGraph
from edgesplit.graph.split import check_split
from edgesplit.graph.zoo import (
    DEFAULT_INPUT_SIZE,
    example_input,
    list_models,
    load_model,
    parse_input_shape,
    random_input,
)
from edgesplit.plan import OBJECTIVES, CutCosts, Plan, Setting, plan, plan_defaults
from edgesplit.profile import ThroughputModel

app = typer.Typer(
    help="edgesplit: decide where each DNN runs (device, edge server, or split) and run it so.",
    no_args_is_help=True,
    add_completion=False,
)
# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; the tables need more.
console = Console() if sys.stdout.isatty() else Console(width=132)
err_console = Console(stderr=True)

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A model name (see `edgesplit models`), or your own model as file.py:factory or "
        "package.module:factory (a Module class or a function returning a module)."
    ),
]
GranularityOpt = Annotated[
    str, typer.Option(help=f"Graph granularity: {', '.join(GRANULARITIES)}.")
]
InputSizeOpt = Annotated[int, typer.Option(help="Input image side in pixels (1 x 3 x N x N).")]
InputShapeOpt = Annotated[
    str | None, typer.Option(help="Input shape instead, e.g. 1,3,224,224 or 8,16.")
]
SeedOpt = Annotated[int, typer.Option(help="Seed of the random weights and input.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _command(name: str | None = None) -> Callable[[Callable], Callable]:
    """Register a command whose library errors print one line and exit with status 1."""

    def register(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except EdgesplitError as error:
                err_console.print(f"[bold red]error:[/] {error}", highlight=False)
                raise typer.Exit(1) from None

        return app.command(name)(wrapper)

    return register


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _load(
    model: str, granularity: str, input_size: int, input_shape: str | None, seed: int
) -> tuple[nn.Module, torch.Tensor, ModelGraph]:
    """The model, a seeded example input and its graph."""
    with err_console.status(f"tracing {model}"):
        net = load_model(model, seed=seed)
        if input_shape is not None:
            x = random_input(parse_input_shape(input_shape), seed)
        elif ":" in model:
            side = int(checks.positive("--input-size", input_size))
            x = random_input((1, 3, side, side), seed)
        else:
            x = example_input(model, input_size, seed)
        return net, x, ModelGraph.from_module(net, x, granularity, model_name=model)


def _mib(bits: float) -> str:
    return f"{bits / 8 / 2**20:.3f}"


@_command()
def models(as_json: JsonOpt = False) -> None:
    """List the models edgesplit knows by name (torchvision's classification models)."""
    names = list_models()
    if as_json:
        _print_json({"models": names})
        return
    console.print(f"{len(names)} models (torchvision classification, built with weights=None):")
    console.print(", ".join(names), highlight=False)


@_command()
def graph(
    model: ModelArg,
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    top: Annotated[int, typer.Option(help="How many of the largest activations to list.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Summarise a model's graph: nodes, MACs, parameters, largest activations."""
    _, _, g = _load(model, granularity, input_size, input_shape, seed)
    largest = sorted(g.values, key=lambda v: v.size_bits, reverse=True)[: max(top, 0)]
    data = {
        "model": model,
        "granularity": granularity,
        "traced_by": g.trace_method,
        "input_shapes": [list(s) for s in g.input_shapes],
        "node_count": len(g.nodes),
        "edge_count": len(g.edges),
        "total_macs": g.total_macs,
        "total_flops": g.total_flops,
        "param_bytes": g.param_bytes,
        "largest_activations": [
            {"value": v.name, "shape": list(v.shape or ()), "size_bits": v.size_bits}
            for v in largest
        ],
    }
    if as_json:
        data["nodes"] = [
            {
                "name": n.name,
                "kind": n.kind,
                "fx_nodes": list(n.fx_nodes),
                "macs": n.macs,
                "flops": n.flops,
                "param_bytes": n.param_bytes,
                "output_shape": list(n.output_shape or ()),
                "output_dtype": n.output_dtype,
                "output_bits": n.output_bits,
            }
            for n in g.nodes
        ]
        data["edges"] = [list(e) for e in g.edges]
        _print_json(data)
        return
    summary = Table(title=f"{model} ({granularity} granularity, traced by {g.trace_method})")
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    summary.add_row("nodes / edges", f"{len(g.nodes)} / {len(g.edges)}")
    summary.add_row("MACs (G)", f"{g.total_macs / 1e9:.3f}")
    summary.add_row("parameters (MiB)", f"{g.param_bytes / 2**20:.2f}")
    summary.add_row("input", " ".join(str(tuple(s)) for s in g.input_shapes))
    console.print(summary)
    table = Table(title="largest activations")
    for column in ("value", "shape", "MiB"):
        table.add_column(column, justify="right" if column == "MiB" else "left")
    for v in largest:
        table.add_row(v.name, str(tuple(v.shape or ())), _mib(v.size_bits))
    console.print(table)


def _cut_record(cut: Cut) -> dict[str, Any]:
    return {
        "index": cut.index,
        "device_mask": hex(cut.device_mask),
        "device_node_count": cut.device_mask.bit_count(),
        "transfer_bits": cut.transfer_bits,
        "device_macs": cut.device_macs,
        "server_macs": cut.server_macs,
        "crossing": list(cut.crossing),
    }


@_command()
def cuts(
    model: ModelArg,
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    limit: Annotated[int, typer.Option(help="Refuse to list more cuts than this.")] = (
        DEFAULT_CUT_LIMIT
    ),
    rows: Annotated[int, typer.Option(help="Rows to print, evenly spaced (0 = all).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Print every valid cut of a model on the 1-D index (1 = send input, S = all local)."""
    checks.positive("--limit", limit)
    _, _, g = _load(model, granularity, input_size, input_shape, seed)
    all_cuts = g.cuts(limit)
    if as_json:
        _print_json(
            {
                "model": model,
                "granularity": granularity,
                "nodes": [n.name for n in g.nodes],
                "cut_count": len(all_cuts),
                "cuts": [_cut_record(c) for c in all_cuts],
            }
        )
        return
    shown = all_cuts
    if 0 < rows < len(all_cuts):
        picks = sorted({round(k * (len(all_cuts) - 1) / (rows - 1)) for k in range(rows)})
        shown = [all_cuts[k] for k in picks] if rows > 1 else all_cuts[:1]
    table = Table(title=f"{model}: {len(all_cuts)} cuts ({granularity} granularity)")
    for column in ("index", "device nodes", "device GMACs", "server GMACs", "transfer MiB"):
        table.add_column(column, justify="right")
    table.add_column("crossing tensors")
    for c in shown:
        crossing = ", ".join(c.crossing[:4]) + (
            f" +{len(c.crossing) - 4}" if len(c.crossing) > 4 else ""
        )
        table.add_row(
            str(c.index),
            str(c.device_mask.bit_count()),
            f"{c.device_macs / 1e9:.3f}",
            f"{c.server_macs / 1e9:.3f}",
            _mib(c.transfer_bits),
            crossing,
        )
    console.print(table)
    if len(shown) < len(all_cuts):
        console.print(
            f"showing {len(shown)} of {len(all_cuts)} cuts; --rows 0 prints all, --json all"
        )


@_command("split")
def split_command(
    model: ModelArg,
    cut: Annotated[int, typer.Option("--cut", help="1-D cut index (see `edgesplit cuts`).")],
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Split a model at a cut, run head then tail in-process, and compare with the model."""
    net, x, g = _load(model, granularity, input_size, input_shape, seed)
    chosen = g.cut(cut)
    check = check_split(net, g, chosen, x)
    data = {
        "model": model,
        "granularity": granularity,
        "cut_count": g.cut_table().size,
        **_cut_record(chosen),
        "device_nodes": list(chosen.device_nodes),
        "split_check": asdict(check),
    }
    if as_json:
        _print_json(data)
        return
    sends = ", ".join(chosen.crossing) or "nothing"
    console.print(
        f"{model} cut {cut}/{data['cut_count']}: {len(chosen.device_nodes)} nodes on the device, "
        f"{len(chosen.server_nodes)} on the server; sends {sends} "
        f"({chosen.transfer_bits / 8 / 2**20:.3f} MiB)",
        highlight=False,
    )
    verdict = "[green]matches[/]" if check.matches else "[red]DIFFERS FROM[/]"
    console.print(
        f"tail(*head(x)) {verdict} model(x): max |error| {check.max_abs_error:.1e}; "
        f"head {check.head_s * 1e3:.1f} ms, tail {check.tail_s * 1e3:.1f} ms in-process"
    )
    if not check.matches:
        raise typer.Exit(1)


def _costs_record(costs: CutCosts) -> dict[str, Any]:
    return {
        **_cut_record(costs.cut),
        "device_latency_s": costs.device_latency_s,
        "transfer_latency_s": costs.transfer_latency_s,
        "server_latency_s": costs.server_latency_s,
        "latency_s": costs.latency_s,
        "compute_energy_j": costs.compute_energy_j,
        "transmit_energy_j": costs.transmit_energy_j,
        "energy_j": costs.energy_j,
        "objective": costs.objective,
    }


def _plan_record(result: Plan) -> dict[str, Any]:
    return {
        "model": result.graph.model_name,
        "granularity": result.graph.granularity,
        "cut_count": None if result.best.cut.index is None else result.all_local.cut.index,
        "objective": result.objective_name,
        "best": _costs_record(result.best),
        "all_local": _costs_record(result.all_local),
        "all_offloaded": _costs_record(result.all_offloaded),
    }


def _plan_table(result: Plan, title: str) -> Table:
    table = Table(title=title)
    table.add_column("")
    for column in (
        "cut",
        "device ms",
        "transfer ms",
        "server ms",
        "latency ms",
        "energy J",
        "MiB sent",
    ):
        table.add_column(column, justify="right")
    rows = [
        ("optimal", result.best),
        ("all local", result.all_local),
        ("offload all", result.all_offloaded),
    ]
    for label, c in rows:
        table.add_row(
            label,
            "?" if c.cut.index is None else str(c.cut.index),
            f"{c.device_latency_s * 1e3:.2f}",
            f"{c.transfer_latency_s * 1e3:.2f}",
            f"{c.server_latency_s * 1e3:.2f}",
            f"{c.latency_s * 1e3:.2f}",
            f"{c.energy_j:.4f}",
            _mib(c.cut.transfer_bits),
        )
    return table


@_command("plan")
def plan_command(
    model: ModelArg,
    uplink_mbps: Annotated[float, typer.Option(help="Uplink rate, Mbit/s.")] = 20.0,
    device_gmacs: Annotated[
        float, typer.Option(help="Device throughput, GMAC/s (placeholder latency model).")
    ] = 50.0,
    server_gmacs: Annotated[float, typer.Option(help="Server throughput, GMAC/s.")] = 1000.0,
    objective: Annotated[str, typer.Option(help=f"One of {', '.join(OBJECTIVES)}.")] = "latency",
    compute_power_w: Annotated[
        float | None, typer.Option(help="Device power while computing, W (default: shi2025's).")
    ] = None,
    transmit_power_w: Annotated[
        float | None, typer.Option(help="Device power while transmitting, W (default: shi2025's).")
    ] = None,
    beta_s_per_j: Annotated[
        float | None, typer.Option(help="Weight of energy in `weighted`: latency + beta * energy.")
    ] = None,
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Find the optimal cut of a model for one device, one server and one uplink."""
    defaults = plan_defaults()
    setting = Setting(
        device=ThroughputModel(checks.positive("--device-gmacs", device_gmacs) * 1e9),
        server=ThroughputModel(checks.positive("--server-gmacs", server_gmacs) * 1e9),
        uplink_rate_bps=checks.positive("--uplink-mbps", uplink_mbps) * 1e6,
        device_compute_power_w=checks.non_negative(
            "--compute-power-w", _default(compute_power_w, defaults["device_compute_power_w"])
        ),
        device_transmit_power_w=checks.non_negative(
            "--transmit-power-w", _default(transmit_power_w, defaults["device_transmit_power_w"])
        ),
    )
    checks.one_of("--objective", objective, OBJECTIVES)
    beta = checks.non_negative("--beta-s-per-j", _default(beta_s_per_j, defaults["beta_s_per_j"]))
    _, _, g = _load(model, granularity, input_size, input_shape, seed)
    result = plan(g, setting, objective, beta)
    data = {
        **_plan_record(result),
        "setting": {
            "uplink_rate_bps": setting.uplink_rate_bps,
            "device_macs_per_s": device_gmacs * 1e9,
            "server_macs_per_s": server_gmacs * 1e9,
            "device_compute_power_w": setting.device_compute_power_w,
            "device_transmit_power_w": setting.device_transmit_power_w,
            "beta_s_per_j": beta,
        },
    }
    if as_json:
        _print_json(data)
        return
    title = (
        f"{model}: minimise {objective} at {uplink_mbps:g} Mbit/s, device {device_gmacs:g} "
        f"GMAC/s, server {server_gmacs:g} GMAC/s"
    )
    console.print(_plan_table(result, title))
    best = result.best.cut
    console.print(
        f"optimal cut: {best.device_mask.bit_count()} of {len(g.nodes)} nodes on the device, "
        f"sends {', '.join(best.crossing) or 'nothing'}",
        highlight=False,
    )


def _default(value: float | None, default: float) -> float:
    return default if value is None else value


@_command()
def demo(seed: SeedOpt = 0, as_json: JsonOpt = False) -> None:
    """The main job: plan mobilenet_v2, resnet50 and googlenet over Wi-Fi and 5G for two device
    classes, then run each chosen split in-process and check it against the unsplit model."""
    from edgesplit.demo import run_demo

    defaults = plan_defaults()
    settings = defaults["demo"]
    with err_console.status("demo") as status:
        results = run_demo(seed=seed, progress=lambda text: status.update(text))
    if as_json:
        records = [
            {
                "model": r.model,
                "link": r.link,
                "device_macs_per_s": r.device_macs_per_s,
                **_plan_record(r.plan),
                "best_interior": _costs_record(r.best_interior),
                "split_check": asdict(r.check),
                "best_interior_check": asdict(r.interior_check),
            }
            for r in results
        ]
        _print_json({"settings": settings, "results": records})
        return
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Optimal placement ({settings['objective']}), server "
        f"{settings['server_macs_per_s'] / 1e9:g} GMAC/s",
    )
    for column in (
        "model",
        "device GMAC/s",
        "link",
        "choice",
        "cut",
        "device ms",
        "send ms",
        "server ms",
        "total ms",
        "energy J",
        "local ms",
        "offload ms",
    ):
        text = column in ("model", "link", "choice")
        table.add_column(
            column, justify="left" if text else "right", no_wrap=text or column == "cut"
        )
    for r in results:
        best, cut = r.plan.best, r.plan.best.cut
        choice = "local" if cut.is_all_local else "offload" if cut.sends_input else "split"
        table.add_row(
            r.model,
            f"{r.device_macs_per_s / 1e9:g}",
            r.link,
            choice,
            f"{cut.index}/{r.plan.all_local.cut.index}",
            f"{best.device_latency_s * 1e3:.1f}",
            f"{best.transfer_latency_s * 1e3:.1f}",
            f"{best.server_latency_s * 1e3:.1f}",
            f"{best.latency_s * 1e3:.1f}",
            f"{best.energy_j:.3f}",
            f"{r.plan.all_local.latency_s * 1e3:.1f}",
            f"{r.plan.all_offloaded.latency_s * 1e3:.1f}",
        )
    console.print(table)
    runs = Table(title="Splits really run in-process: tail(*head(x)) against model(x)")
    for column in (
        "model",
        "cut",
        "what",
        "max |error|",
        "match",
        "head ms",
        "tail ms",
        "MiB sent",
    ):
        runs.add_column(column, justify="left" if column in ("model", "what") else "right")
    seen = set()
    for r in results:
        for label, costs, check in (
            ("optimal", r.plan.best, r.check),
            ("best split, work on both sides", r.best_interior, r.interior_check),
        ):
            if (r.model, costs.cut.index) in seen:
                continue
            seen.add((r.model, costs.cut.index))
            runs.add_row(
                r.model,
                str(costs.cut.index),
                label,
                f"{check.max_abs_error:.1e}",
                "[green]yes[/]" if check.matches else "[red]NO[/]",
                f"{check.head_s * 1e3:.1f}",
                f"{check.tail_s * 1e3:.1f}",
                f"{check.transferred_bytes / 2**20:.3f}",
            )
    console.print(runs)
    console.print(
        "Latencies use the placeholder throughput model (MACs / rate; the rates are assumptions, "
        f"see plan_defaults.json); device powers {defaults['device_compute_power_w']:g} W "
        f"computing, {defaults['device_transmit_power_w']:g} W transmitting (shi2025).",
        highlight=False,
    )
    if not all(r.check.matches and r.interior_check.matches for r in results):
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the console script."""
    app()
