"""Commands that compress a model and place its inference: compress, place, bottleneck."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from rich import box

from edgesplit import checks
from edgesplit.cli.app import (
    Column,
    InputShapeOpt,
    InputSizeOpt,
    JsonOpt,
    ModelArg,
    SeedOpt,
    choice,
    command,
    console,
    key,
    print_json,
    table,
)
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE
from edgesplit.progress import status, warn_noisy
from edgesplit.vocabulary import INT8_BACKENDS, OBJECTIVES, PRUNE_METHODS, QUANTIZE

PfOpt = Annotated[float, typer.Option(help="Pruning factor in [0, 1).")]
MethodOpt = Annotated[str, choice(PRUNE_METHODS, "Structured channels or unstructured weights.")]


@command("compress")
def compress_command(
    model: ModelArg,
    pf: PfOpt = 0.5,
    method: MethodOpt = "structured",
    quantize: Annotated[str, choice(QUANTIZE, "Int8 inference of the pruned model.")] = "none",
    backend: Annotated[str, choice(INT8_BACKENDS, "Int8 path (with --quantize int8).")] = (
        "onnxruntime"
    ),
    busy: Annotated[
        str, typer.Option(help="Also time pruning under these numbers of busy worker processes.")
    ] = "0,2",
    runs: Annotated[int, typer.Option(help="Timed runs per latency (median).")] = 10,
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Prune (and quantize) a model and measure the variant on this machine: size, bits on the
    wire, MACs, latency at 1 and 2 threads, pruning time (also under load), output agreement."""
    from edgesplit.compress.prune import Variant
    from edgesplit.compress.report import measure_variant

    variant = Variant(checks.one_of("--method", method, PRUNE_METHODS), pf)
    checks.one_of("--quantize", quantize, QUANTIZE)
    checks.one_of("--backend", backend, INT8_BACKENDS)
    workers = checks.parse_int_list("--busy", busy)
    with status(f"pruning {model} and measuring"):
        report = measure_variant(
            model, variant, quantize, backend, (1, 2), workers, input_size, runs, seed,
            input_shape,
        )  # fmt: skip
    record = report.record()
    if json_out:
        print_json(record)
        return
    console.print(_variant_table(record))
    warn_noisy(record["noisy"])


def _variant_table(r: dict):
    mb = 1e-6
    rows = [
        ("parameters", r["full_params"], r["nonzero_params"], ",.0f", 1.0),
        ("MMACs", r["full_macs"], r["macs"], ",.1f", 1e-6),
        ("model MB (float32, dense)", r["full_dense_bytes"], r["dense_bytes"], ".2f", mb),
        ("model MB (sparse)", None, r["sparse_bytes"], ".2f", mb),
        ("model MB (sparse + zstd)", None, r["sparse_zstd_bytes"], ".2f", mb),
        ("model MB (int8)", None, r["int8_bytes"], ".2f", mb),
        ("input kB on the wire", r["input_bits"] / 8, r["input_bits"] / 8, ".1f", 1e-3),
        (
            "smallest cut kB on the wire",
            r["full_min_crossing_bits"] / 8,
            r["min_crossing_bits"] / 8,
            ".1f",
            1e-3,
        ),
    ]
    for k in sorted(r["latency_s"]):
        full, variant = r["full_latency_s"][k], r["latency_s"][k]
        rows.append((f"latency ms, {k} thread(s)", full, variant, ".2f", 1e3))
    for n, seconds in sorted(r["prune_s_busy"].items()):
        rows.append((f"pruning s, {n} busy workers", None, seconds, ".3f", 1.0))
    rows.append(("quantizing s", None, r["quantize_s"], ".2f", 1.0))
    rows.append(("top-1 agreement", None, r["top1_agreement"], ".3f", 1.0))
    rows.append(("relative output error", None, r["relative_error"], ".2e", 1.0))
    data = [
        {
            "figure": name,
            "full": "-" if full is None else format(full * unit, fmt),
            "variant": "-" if value is None else format(value * unit, fmt),
        }
        for name, full, value, fmt, unit in rows
    ]
    label = f"{r['method']} pf {r['pf']:g}" + (
        f" + int8 ({r['backend']})" if r["quantize"] == "int8" else ""
    )
    columns = [
        Column("figure", key("figure"), left=True, whole=True),
        Column("uncompressed", key("full")),
        Column(label, key("variant")),
    ]
    return table(data, columns, title=f"{r['model']}: measured on this machine", box=box.SIMPLE)


@command("place")
def place_command(
    model: Annotated[str, typer.Option(help="A zoo model with a profile on both sites.")] = (
        "mobilenet_v2"
    ),
    pf: PfOpt = 0.7,
    method: MethodOpt = "unstructured",
    edge_load: Annotated[int, typer.Option(help="Busy single-core tasks on the edge.")] = 0,
    requests: Annotated[int, typer.Option(help="Requests Q per model lifetime.")] = 1,
    objective: Annotated[str, choice(OBJECTIVES, "What the best placement minimises.")] = (
        "latency"
    ),
    beta: Annotated[float, typer.Option(help="Seconds per joule of the weighted objective.")] = 1.0,
    distance: Annotated[float, typer.Option(help="Device to base station, metres.")] = 50.0,
    device: Annotated[str, typer.Option(help="Device hardware (catalogue entry).")] = (
        "chukhno2023-device"
    ),
    edge: Annotated[str, typer.Option(help="Edge hardware (catalogue entry).")] = (
        "chukhno2023-edge"
    ),
    edge_cores: Annotated[int, typer.Option(help="The edge's cores.")] = 4,
    granularity: Annotated[str, typer.Option(help="Graph granularity of the split.")] = "block",
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Edge, device or split (chukhno2023 Eq. 1-6 plus the best cut): total delay, device
    energy and data over Q requests, for the full model, the pre-pruned one and one pruned on
    demand."""
    from edgesplit.compress.placement import Radio, Sites, model_forms, place
    from edgesplit.compress.prune import Variant
    from edgesplit.vocabulary import GRANULARITIES

    variant = Variant(checks.one_of("--method", method, PRUNE_METHODS), pf)
    checks.one_of("--objective", objective, OBJECTIVES)
    checks.one_of("--granularity", granularity, GRANULARITIES)
    sites = Sites(device, edge, edge_cores, edge_load)
    sites.device_latency(model)  # a missing profile fails before pruning
    with status(f"pruning {model} and tracing"):
        forms = model_forms(model, variant, granularity, DEFAULT_INPUT_SIZE, seed)
    placement = place(forms, sites, Radio.umi(distance), requests, objective, beta)
    record = placement.record()
    record.update(model=model, variant=str(variant), prune_s=forms[1].prune_s)
    if json_out:
        print_json(record)
        return
    columns = [
        Column("placement", lambda o: _label(o), left=True, whole=True),
        Column("cut", lambda o: "-" if o["cut_index"] is None else str(o["cut_index"])),
        Column("delay s", key("latency_s", ".3f")),
        Column("first s", key("first_request_s", ".3f")),
        Column("device J", key("energy_j", ".3f")),
        Column("data MB", key("data_bits", ".2f", 1 / 8e6)),
        Column("edge J", key("edge_energy_j", ".1f")),
        Column("Q per 3.7 Wh", lambda o: str(o["requests_per_battery"]["embedded"])),
    ]
    title = (
        f"{model} ({variant}), Q = {requests}, edge load {edge_load}, "
        f"{record['uplink_bps'] / 1e6:.0f}/{record['downlink_bps'] / 1e6:.0f} Mbit/s up/down "
        f"at {distance:g} m; pruning took {forms[1].prune_s:.3f} s here"
    )
    console.print(table(record["options"], columns, title=title, box=box.SIMPLE))
    best = record["best"]
    console.print(
        f"best ({objective}): [bold]{_label(best)}[/]"
        + ("" if best["where"] != "split" else f" at cut {best['cut_index']}"),
        highlight=False,
    )


def _label(option: dict) -> str:
    form = "pruned on demand" if option["on_demand"] else option["model"]
    return f"{option['where']} ({form})"


@command("bottleneck")
def bottleneck_command(
    model: Annotated[str, typer.Argument(help="A shipped digits classifier (digitsnet, ...).")],
    cut: Annotated[int, typer.Option(help="Cut index (layer granularity) where one map crosses.")],
    latent_channels: Annotated[int, typer.Option(help="Latent maps the wire carries.")] = 4,
    hidden_channels: Annotated[int, typer.Option(help="Width of encoder and decoder.")] = 64,
    stride: Annotated[int, typer.Option(help="1, or 2 to halve the latent maps.")] = 1,
    rate_weight: Annotated[float, typer.Option(help="Loss per bit per image (lambda).")] = 0.003,
    finetune: Annotated[bool, typer.Option(help="Fine-tune the tail with the decoder.")] = False,
    epochs: Annotated[int, typer.Option(help="Training epochs over the digits.")] = 40,
    seed: Annotated[int, typer.Option(help="Seed of the weights, batches and noise.")] = 0,
    out: Annotated[str, typer.Option(help="Folder of the bottleneck file and its checkpoint.")] = (
        "bottlenecks"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Train a learned bottleneck (encoder, range-coded latents, decoder) at a cut of a shipped
    digits classifier by distillation, with progress; run it again after an interruption and
    it resumes. Prints what it keeps and sends on the test images."""
    from edgesplit.compress.accuracy import DIGITS_ARCHS
    from edgesplit.compress.bottleneck import BottleneckConfig, read_info
    from edgesplit.compress.shipped import make_digits_bottleneck

    checks.one_of("model", model, tuple(DIGITS_ARCHS))
    config = BottleneckConfig(
        latent_channels=latent_channels, hidden_channels=hidden_channels, stride=stride,
        rate_weight=rate_weight, finetune=finetune, epochs=epochs, seed=seed,
    )  # fmt: skip
    options = {"cut": cut, "latent-channels": latent_channels, "hidden-channels": hidden_channels,
               "stride": stride, "rate-weight": rate_weight, "epochs": epochs, "seed": seed,
               "out": out}  # fmt: skip
    words = [word for name, value in options.items() for word in (f"--{name}", str(value))]
    command_line = shlex.join(["edgesplit", "bottleneck", model, *words]) + (
        " --finetune" if finetune else ""
    )
    path = make_digits_bottleneck(model, cut, config, out, not json_out, command_line)
    _, info = read_info(path)
    record = {"path": str(path), **info.record()}
    if json_out:
        print_json(record)
        return
    m = info.metrics
    console.print(
        f"{path}: top-1 {100 * m['top1']:.1f} % (the model's {100 * m['model_top1']:.1f} %), "
        f"{m['coded_bits']:.0f} bits per image on the wire (fp32: {m['fp32_bits']:,.0f}; "
        f"zstd of the latents: {m['zstd_bits']:.0f}; ideal: {m['ideal_bits']:.0f})",
        highlight=False,
    )
