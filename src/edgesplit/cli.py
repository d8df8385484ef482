"""The ``edgesplit`` command: a thin typer layer over the library.

Each command builds one dict of results in SI units, then prints it as rich tables or, with
``--json``, as JSON. Library errors print one line and exit with status 1.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from torch import nn

from edgesplit import checks
from edgesplit.checks import parse_int_list
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
from edgesplit.profile.catalogue import catalogue, device_powers, resolve_latency
from edgesplit.profile.data import save_profile
from edgesplit.profile.evaluate import paper_results, predict_eval
from edgesplit.profile.measure import (
    check_device,
    inconsistent_cuts,
    measure_profile,
    select_cuts,
)
from edgesplit.profile.predictors import PREDICTORS

app = typer.Typer(
    help="edgesplit: decide where each DNN runs (device, edge server, or split) and run it so.",
    no_args_is_help=True,
    add_completion=False,
)
# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; the tables need more.
console = Console() if sys.stdout.isatty() else Console(width=140)
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


@_command("profile")
def profile_command(
    model: ModelArg,
    out: Annotated[Path, typer.Option(help="Where to write the profile (JSON).")],
    threads: Annotated[str, typer.Option(help="CPU thread counts, e.g. 1,2,4,8.")] = "1",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    repeats: Annotated[int, typer.Option(help="Timed runs per measurement.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs before each measurement.")] = 3,
    cuts: Annotated[
        str, typer.Option(help="Cuts whose head and tail are timed: N evenly spaced, all, single.")
    ] = "16",
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Measure a model on this machine: whole model, every node, heads and tails of cuts."""
    check_device(device)
    thread_counts = parse_int_list("--threads", threads)
    cut_spec: str | int = cuts if cuts in ("all", "single") else parse_int_list("--cuts", cuts)[0]
    net, x, g = _load(model, granularity, input_size, input_shape, seed)
    chosen = select_cuts(g, cut_spec)
    command = (
        shlex.join(["edgesplit", *sys.argv[1:]])
        if sys.argv[1:2] == ["profile"]
        else (
            f"edgesplit profile {model} --threads {threads} --device {device} --repeats {repeats} "
            f"--warmup {warmup} --cuts {cuts} --granularity {granularity}"
        )
    )
    with err_console.status("profiling") as status:
        profile, wall = measure_profile(
            net, g, x, thread_counts, device, repeats, warmup, chosen, command, status.update
        )
    save_profile(profile, out)
    suspicious = inconsistent_cuts(profile)
    settings = sorted(profile.cpu.items()) if device == "cpu" else [("cuda", profile.cuda)]
    rows = [
        {
            "setting": setting,
            "whole_median_s": m.whole.median_s,
            "whole_min_s": m.whole.min_s,
            "whole_max_s": m.whole.max_s,
            "sum_of_nodes_s": sum(m.per_node_s),
            "cuts_timed": len(m.tail),
        }
        for setting, m in settings
    ]
    data = {
        "model": model,
        "out": str(out),
        "machine": profile.machine,
        "wall_s": wall,
        "rows": rows,
    }
    if as_json:
        _print_json(data)
        return
    table = Table(title=f"{model} on {profile.machine['cpu']} ({profile.machine['cores']} cores)")
    for column in ("threads", "whole ms (median)", "min", "max", "sum of nodes ms", "cuts timed"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            str(r["setting"]),
            f"{r['whole_median_s'] * 1e3:.2f}",
            f"{r['whole_min_s'] * 1e3:.2f}",
            f"{r['whole_max_s'] * 1e3:.2f}",
            f"{r['sum_of_nodes_s'] * 1e3:.2f}",
            str(r["cuts_timed"]),
        )
    console.print(table)
    console.print(
        f"wall time: whole model {wall['whole']:.1f} s, every node {wall['per_node']:.1f} s "
        f"({wall['per_node'] / max(wall['whole'], 1e-9):.1f}x), cuts {wall['cuts']:.1f} s; "
        f"written to {out}",
        highlight=False,
    )
    if suspicious:
        err_console.print(
            f"[yellow]warning:[/] {len(suspicious)} cut(s) took over 1.5x the whole model (head + "
            f"tail), e.g. {suspicious[0][0]}, cut {suspicious[0][1]}: {suspicious[0][2]:.1f}x; "
            "something else was probably running: measure again on an idle machine",
            highlight=False,
        )


@_command("hardware")
def hardware_command(as_json: JsonOpt = False) -> None:
    """List the hardware catalogue: the papers' devices and servers and the measured machines."""
    entries = list(catalogue().values())
    if as_json:
        _print_json({"hardware": [asdict(e) for e in entries]})
        return
    table = Table(title="Hardware catalogue (src/edgesplit/data/hardware.json)")
    for column in ("name", "role", "paper", "processor", "latency", "powers"):
        table.add_column(column, overflow="fold")
    for e in entries:
        powers = ", ".join(f"{k} {v:g}" for k, v in e.powers.items() if k != "source")
        table.add_row(e.name, e.role, e.paper, e.processor, e.describe_latency(), powers)
    console.print(table)


@_command("predict-eval")
def predict_eval_command(
    models: Annotated[str, typer.Option(help="Models, comma-separated.")] = (
        "vgg16_bn,resnet34,mobilenet_v2"
    ),
    hardware: Annotated[str, typer.Option(help="Catalogue entry whose CPU profiles to use.")] = (
        "xeon16"
    ),
    train_threads: Annotated[
        str, typer.Option(help="Thread counts the predictors are fitted on; the rest are held out.")
    ] = "1,2,4,8,16",
    plots: Annotated[
        Path | None,
        typer.Option(help="Folder for the PNG figures (Observations 1-2, predictions)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reproduce shi2025 Table II on measured profiles: RMSE and MAPE of each latency predictor
    on heads and tails at thread counts it was not fitted on; check Observations 1 and 2."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    threads = parse_int_list("--train-threads", train_threads)
    with err_console.status("fitting and predicting"):
        report = predict_eval(names, hardware, threads)
    published = paper_results()["shi2025_table2"]["rmse_ms"]
    rows = [
        {
            "model": ev.model,
            "predictor": name,
            "rmse_ms": ev.rmse_ms(name),
            "mape_pct": ev.mape_pct(name),
            "pairs": len(ev.pairs),
            "noise_floor_ms": ev.noise_floor_ms,
            "paper_rmse_ms": published.get(name, {}).get(ev.model),
        }
        for ev in report.evaluations
        for name in report.predictors
    ]
    first = [
        {"model": o.model, "speedup": o.speedup, "eq7": o.eq7, "gains_shrink": o.gains_shrink}
        for o in report.observation1
    ]
    second = [
        {
            "model": o.model,
            "threads": o.threads,
            "r2_node_share": o.r2("nodes"),
            "r2_mac_share": o.r2("macs"),
        }
        for o in report.observation2
    ]
    figures = []
    if plots is not None:
        from edgesplit.profile.plots import plot_observation1, plot_observation2, plot_predictions

        plots.mkdir(parents=True, exist_ok=True)
        figures = [
            str(plot_observation1(report.observation1, plots / "observation1.png")),
            str(plot_observation2(report.observation2, plots / "observation2.png")),
            str(plot_predictions(report.evaluations, report.predictors, plots / "predictions.png")),
        ]
    if as_json:
        _print_json(
            {
                "hardware": hardware,
                "train_threads": threads,
                "scores": rows,
                "observation1": first,
                "observation2": second,
                "plots": figures,
            }
        )
        return
    ev0 = report.evaluations[0]
    table = Table(
        title=f"Held-out heads and tails on {hardware}: fitted at {ev0.train_threads} threads, "
        f"scored at {ev0.test_threads}"
    )
    for column in (
        "model",
        "predictor",
        "pairs",
        "RMSE ms",
        "MAPE %",
        "noise floor ms",
        "shi2025 Table II RMSE ms",
    ):
        table.add_column(column, justify="left" if column in ("model", "predictor") else "right")
    for r in rows:
        table.add_row(
            r["model"],
            r["predictor"],
            str(r["pairs"]),
            f"{r['rmse_ms']:.2f}",
            f"{r['mape_pct']:.1f}",
            "-" if r["noise_floor_ms"] is None else f"{r['noise_floor_ms']:.2f}",
            "-" if r["paper_rmse_ms"] is None else f"{r['paper_rmse_ms']:.2f}",
        )
    console.print(table)
    obs = Table(title="shi2025 Observation 1: speedup over 1 thread (measured) and Eq. 7")
    measured = sorted(set.intersection(*(set(o.threads) for o in report.observation1)))
    shown = [k for k in measured if k in (2, 4, 8, 16) or k == measured[-1]][-4:]
    obs.add_column("model")
    for k in shown:
        obs.add_column(f"speedup at {k}", justify="right")
    obs.add_column("shrinking gains (fit)", justify="right")
    for o in report.observation1:
        obs.add_row(
            o.model, *(f"{o.speedup[k]:.2f}" for k in shown), f"{o.gains_shrink * 100:.0f}%"
        )
    console.print(obs)
    obs2 = Table(title="shi2025 Observation 2: R2 of tail/whole = share on the server (Eq. 8)")
    for column in ("model", "threads", "share of nodes", "share of MACs"):
        obs2.add_column(column, justify="left" if column == "model" else "right")
    for o in report.observation2:
        obs2.add_row(o.model, str(o.threads), f"{o.r2('nodes'):.2f}", f"{o.r2('macs'):.2f}")
    console.print(obs2)
    for figure in figures:
        console.print(f"wrote {figure}", highlight=False)


@_command("scenarios")
def scenarios_command(as_json: JsonOpt = False) -> None:
    """List the simulator's scenario presets."""
    from edgesplit.sim.scenario import load_scenario, presets

    rows = []
    for name in presets():
        scenario = load_scenario(name)
        rows.append(
            {
                "name": name,
                "style": scenario.style,
                "devices": scenario.device_count,
                "servers": scenario.server_count,
                "models": sorted({d.model for d in scenario.devices}),
                "about": " ".join(scenario.about.split()),
            }
        )
    if as_json:
        _print_json({"scenarios": rows})
        return
    table = Table(title="Scenario presets (edgesplit.sim; YAML in src/edgesplit/data/scenarios)")
    for column in ("name", "style", "devices", "servers", "models", "about"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            r["name"], r["style"], str(r["devices"]), str(r["servers"]), ", ".join(r["models"]),
            r["about"],
        )  # fmt: skip
    console.print(table)


@_command("scenario")
def scenario_command(
    source: Annotated[str, typer.Argument(help="A preset name or a scenario YAML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a scenario (preset or YAML file) and print it with every default filled in."""
    from edgesplit.sim.scenario import load_scenario

    scenario = load_scenario(source)
    data = scenario.model_dump(mode="json")
    if as_json:
        _print_json(data)
        return
    console.print(
        f"{scenario.name}: valid ({scenario.style}, {scenario.device_count} devices, "
        f"{scenario.server_count} servers)",
        highlight=False,
    )
    console.print_json(json.dumps(data))


@_command("policies")
def policies_command(
    style: Annotated[
        str | None, typer.Option(help="Only this scenario style: slot, task_window, time_slot.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the policies (deciders) by name."""
    from edgesplit.policies.registry import LEARNERS, policy_names

    names = policy_names(style)
    if as_json:
        _print_json({"policies": names, "learners": [n for n in names if n in LEARNERS]})
        return
    for name in names:
        console.print(f"{name}{'  (learner)' if name in LEARNERS else ''}", highlight=False)


@_command("train")
def train_command(
    policy: Annotated[str, typer.Argument(help="A learner, e.g. ddp+ta.")],
    scenario: Annotated[str, typer.Option(help="A preset or a scenario YAML file.")],
    out: Annotated[Path, typer.Option(help="Run folder: logs, checkpoint, policy.pt, best.pt.")],
    steps: Annotated[int, typer.Option(help="Environment steps.")] = 20_000,
    seed: SeedOpt = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    eval_every: Annotated[int | None, typer.Option(help="Steps between evaluations.")] = None,
    eval_episodes: Annotated[int, typer.Option(help="Episodes per evaluation.")] = 2,
) -> None:
    """Train a learner in the simulator (progress bar, CSV logs, checkpoints; Ctrl-C saves)."""
    from edgesplit.policies.training import train_policy

    path = train_policy(
        policy, scenario, steps, seed, out, resume, eval_every, eval_episodes,
        show_progress=sys.stderr.isatty(),
    )  # fmt: skip
    console.print(
        f"wrote {path} and the best evaluated {out / 'best.pt'} "
        f"(logs: {out / 'eval.csv'}, {out / 'episodes.csv'})"
    )


@_command("evaluate")
def evaluate_command(
    scenario: Annotated[str, typer.Option(help="A preset or a scenario YAML file.")],
    policies: Annotated[
        str, typer.Option(help="Comma-separated names; a learner as name=path/to/policy.pt.")
    ],
    episodes: Annotated[int, typer.Option(help="Episodes (seeds) per policy.")] = 5,
    seed: SeedOpt = 0,
    plot: Annotated[Path | None, typer.Option(help="Write PNG bar charts here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate policies on the same seeds: means with 95 % confidence intervals."""
    from edgesplit.policies.evaluate import evaluate, plot_summaries
    from edgesplit.policies.registry import policy_from_spec
    from edgesplit.sim.scenario import load_scenario

    loaded = load_scenario(scenario)
    specs = [s for s in policies.split(",") if s.strip()]
    built = dict(policy_from_spec(spec, loaded, seed) for spec in specs)  # errors before running
    with err_console.status("evaluating") as status:
        summaries = evaluate(
            {label: (lambda p=p: p) for label, p in built.items()}, loaded, episodes, seed,
            progress=lambda name, done: status.update(f"{name}: episode {done}/{episodes}"),
        )  # fmt: skip
    if plot is not None:
        plot_summaries(summaries, plot)
    if as_json:
        _print_json([
            {"policy": s.policy, "episodes": s.episodes, "mean": s.mean, "ci95": s.half_width}
            for s in summaries
        ])  # fmt: skip
        return
    metrics = list(summaries[0].mean)
    table = Table(title=f"{loaded.name}: {episodes} episodes per policy, mean ± 95 % CI")
    table.add_column("policy", no_wrap=True)
    for metric in metrics:
        table.add_column(_metric_label(metric), justify="right", no_wrap=True)
    for s in summaries:
        table.add_row(s.policy, *(_metric_cell(m, s.mean[m], s.half_width[m]) for m in metrics))
    console.print(table)
    if plot is not None:
        console.print(f"wrote {plot}/*.png", highlight=False)


def _metric_label(metric: str) -> str:
    from edgesplit.policies.evaluate import metric_unit

    name, unit, _ = metric_unit(metric)
    return f"{name}\n({unit})" if unit else name


def _metric_cell(metric: str, mean: float, half: float) -> str:
    from edgesplit.policies.evaluate import metric_unit

    factor = metric_unit(metric)[2]
    return f"{mean * factor:.4g}±{half * factor:.2g}"


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


ProfileOpt = Annotated[
    str | None,
    typer.Option(help="A hardware catalogue entry (`edgesplit hardware`) or a profile file."),
]
GmacsOpt = Annotated[
    float | None, typer.Option(help="Instead of a profile: the placeholder MAC rate, GMAC/s.")
]
ThreadsOpt = Annotated[int | None, typer.Option(help="CPU threads (default: the profile's most).")]


@_command("plan")
def plan_command(
    model: ModelArg,
    uplink_mbps: Annotated[float, typer.Option(help="Uplink rate, Mbit/s.")] = 20.0,
    device_profile: ProfileOpt = None,
    device_threads: ThreadsOpt = None,
    device_gmacs: GmacsOpt = None,
    server_profile: ProfileOpt = None,
    server_threads: ThreadsOpt = None,
    server_gmacs: GmacsOpt = None,
    predictor: Annotated[str, typer.Option(help=f"One of {', '.join(PREDICTORS)}.")] = "nodes",
    objective: Annotated[str, typer.Option(help=f"One of {', '.join(OBJECTIVES)}.")] = "latency",
    compute_power_w: Annotated[
        float | None, typer.Option(help="Device power while computing, W (default: the device's).")
    ] = None,
    transmit_power_w: Annotated[
        float | None,
        typer.Option(help="Device power while transmitting, W (default: the device's)."),
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
    """Find the optimal cut of a model for one device, one server and one uplink.

    Latencies come from measured or derived profiles (default: shi2025's test-bed, a Jetson
    device and the i7 workstation at 16 threads); --device-gmacs/--server-gmacs use the
    placeholder MAC-rate model instead.
    """
    defaults = plan_defaults()
    uplink_rate_bps = checks.positive("--uplink-mbps", uplink_mbps) * 1e6
    checks.one_of("--objective", objective, OBJECTIVES)
    checks.one_of("--predictor", predictor, PREDICTORS)
    if device_gmacs is None and device_profile is None:
        device_profile = defaults["device_profile"]
    if server_gmacs is None and server_profile is None:
        server_profile = defaults["server_profile"]
        server_threads = defaults["server_threads"] if server_threads is None else server_threads
    rates = {
        side: None if value is None else checks.positive(f"--{side}-gmacs", value) * 1e9
        for side, value in (("device", device_gmacs), ("server", server_gmacs))
    }
    device, device_about = resolve_latency(
        model, device_profile, rates["device"], device_threads, predictor, "device"
    )
    server, server_about = resolve_latency(
        model, server_profile, rates["server"], server_threads, predictor, "server"
    )
    powers = {**defaults, **device_powers(device_profile)}
    setting = Setting(
        device=device,
        server=server,
        uplink_rate_bps=uplink_rate_bps,
        device_compute_power_w=checks.non_negative(
            "--compute-power-w",
            _default(
                compute_power_w, powers.get("compute_power_w", defaults["device_compute_power_w"])
            ),
        ),
        device_transmit_power_w=checks.non_negative(
            "--transmit-power-w",
            _default(
                transmit_power_w,
                powers.get("transmit_power_w", defaults["device_transmit_power_w"]),
            ),
        ),
    )
    beta = checks.non_negative("--beta-s-per-j", _default(beta_s_per_j, defaults["beta_s_per_j"]))
    _, _, g = _load(model, granularity, input_size, input_shape, seed)
    result = plan(g, setting, objective, beta)
    data = {
        **_plan_record(result),
        "setting": {
            "uplink_rate_bps": setting.uplink_rate_bps,
            "device": device_about,
            "server": server_about,
            "device_compute_power_w": setting.device_compute_power_w,
            "device_transmit_power_w": setting.device_transmit_power_w,
            "beta_s_per_j": beta,
        },
    }
    if as_json:
        _print_json(data)
        return
    title = f"{model}: minimise {objective} at {uplink_mbps:g} Mbit/s"
    console.print(_plan_table(result, title))
    best = result.best.cut
    console.print(
        f"device: {device_about}; server: {server_about}\n"
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
                "pair": r.pair,
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
        title=f"Optimal placement ({settings['objective']}); latencies from the hardware catalogue",
    )
    for column in (
        "model",
        "hardware",
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
        text = column in ("model", "hardware", "link", "choice")
        table.add_column(
            column, justify="left" if text else "right", no_wrap=text or column == "cut"
        )
    for r in results:
        best, cut = r.plan.best, r.plan.best.cut
        choice = "local" if cut.is_all_local else "offload" if cut.sends_input else "split"
        table.add_row(
            r.model,
            r.pair,
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
        "Latencies: `edgesplit hardware` says which profiles are measured and which derived; "
        f"device powers {defaults['device_compute_power_w']:g} W computing, "
        f"{defaults['device_transmit_power_w']:g} W transmitting (shi2025).",
        highlight=False,
    )
    if not all(r.check.matches and r.interior_check.matches for r in results):
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the console script."""
    app()
