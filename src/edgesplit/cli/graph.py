"""Commands on one model's graph: models, graph, cuts, split."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from edgesplit.cli.app import (
    Column,
    GranularityOpt,
    InputShapeOpt,
    InputSizeOpt,
    JsonOpt,
    ModelArg,
    SeedOpt,
    command,
    console,
    key,
    mib,
    print_json,
    table,
)
from edgesplit.graph.constants import DEFAULT_CUT_LIMIT, DEFAULT_INPUT_SIZE
from edgesplit.progress import status


def load(model: str, granularity: str, input_size: int, input_shape: str | None, seed: int):
    """The model, a seeded example input and its graph (with a status line while tracing)."""
    from edgesplit.graph.zoo import load_traced

    with status(f"tracing {model}"):
        return load_traced(model, granularity, input_size, input_shape, seed)


@command()
def models(as_json: JsonOpt = False) -> None:
    """List the models edgesplit knows by name (torchvision's classification models)."""
    from edgesplit.graph.constants import known_models

    names = known_models()
    if as_json:
        print_json({"models": names})
        return
    console.print(f"{len(names)} models (torchvision classification, built with weights=None):")
    console.print(", ".join(names), highlight=False)


@command()
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
    _, _, g = load(model, granularity, input_size, input_shape, seed)
    data = {"model": model, "granularity": granularity, **g.summary(top)}
    if as_json:
        print_json({**data, "nodes": g.node_records(), "edges": [list(e) for e in g.edges]})
        return
    summary = [
        {"quantity": "nodes / edges", "value": f"{len(g.nodes)} / {len(g.edges)}"},
        {"quantity": "MACs (G)", "value": f"{g.total_macs / 1e9:.3f}"},
        {"quantity": "parameters (MiB)", "value": f"{g.param_bytes / 2**20:.2f}"},
        {"quantity": "input", "value": " ".join(str(tuple(s)) for s in g.input_shapes)},
    ]
    title = f"{model} ({granularity} granularity, traced by {g.trace_method})"
    console.print(
        table(summary, [Column("quantity", key("quantity"), left=True),
                        Column("value", key("value"))], title)
    )  # fmt: skip
    console.print(
        table(
            data["largest_activations"],
            [
                Column("value", key("value"), left=True),
                Column("shape", lambda r: str(tuple(r["shape"])), left=True),
                Column("MiB", lambda r: mib(r["size_bits"])),
            ],
            "largest activations",
        )
    )


@command()
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
    """Print every valid cut of a model by index (0 = send the input, S - 1 = all local)."""
    _, _, g = load(model, granularity, input_size, input_shape, seed)
    all_cuts = g.cuts(limit)
    records = [c.record() for c in all_cuts]
    if as_json:
        print_json(
            {"model": model, "granularity": granularity, "nodes": [n.name for n in g.nodes],
             "cut_count": len(all_cuts), "cuts": records}
        )  # fmt: skip
        return
    shown = records
    if 0 < rows < len(records):
        picks = sorted({round(k * (len(records) - 1) / (rows - 1)) for k in range(rows)})
        shown = [records[k] for k in picks] if rows > 1 else records[:1]

    def crossing(record: dict) -> str:
        names = record["crossing"]
        return ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")

    columns = [
        Column("index", key("index")),
        Column("device nodes", key("device_node_count")),
        Column("device GMACs", key("device_macs", ".3f", 1e-9)),
        Column("server GMACs", key("server_macs", ".3f", 1e-9)),
        Column("transfer MiB", lambda r: mib(r["transfer_bits"])),
        Column("crossing tensors", crossing, left=True),
    ]
    title = f"{model}: {len(records)} cuts ({granularity} granularity)"
    console.print(table(shown, columns, title))
    if len(shown) < len(records):
        console.print(
            f"showing {len(shown)} of {len(records)} cuts; --rows 0 prints all, --json all"
        )


@command("split")
def split_command(
    model: ModelArg,
    cut: Annotated[int, typer.Option("--cut", help="The cut index (see `edgesplit cuts`).")],
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Split a model at a cut, run head then tail in-process, and compare with the model."""
    from edgesplit.graph.split import check_split

    net, x, g = load(model, granularity, input_size, input_shape, seed)
    chosen = g.cut(cut)
    check = check_split(net, g, chosen, x)
    data = {
        "model": model,
        "granularity": granularity,
        "cut_count": g.cut_table().size,
        **chosen.record(),
        "device_nodes": list(chosen.device_nodes),
        "split_check": asdict(check),
    }
    if as_json:
        print_json(data)
        return
    sends = ", ".join(chosen.crossing) or "nothing"
    console.print(
        f"{model} cut {cut}/{data['cut_count']}: {len(chosen.device_nodes)} nodes on the device, "
        f"{len(chosen.server_nodes)} on the server; sends {sends} "
        f"({mib(chosen.transfer_bits)} MiB)",
        highlight=False,
    )
    verdict = "[green]matches[/]" if check.matches else "[red]DIFFERS FROM[/]"
    console.print(
        f"tail(*head(x)) {verdict} model(x): max |error| {check.max_abs_error:.1e}; in-process, "
        f"median of {check.timed_runs} runs after a warm-up (interquartile range): head "
        f"{check.head_s * 1e3:.1f} ms ({check.head_iqr_s * 1e3:.1f}), tail "
        f"{check.tail_s * 1e3:.1f} ms ({check.tail_iqr_s * 1e3:.1f})"
    )
    if not check.matches:
        raise typer.Exit(1)
