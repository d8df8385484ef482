"""Commands on measured hardware: profile, hardware, predict-eval."""

from __future__ import annotations

import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from edgesplit.checks import output_file, output_folder, parse_int_list
from edgesplit.cli.app import (
    Column,
    GranularityOpt,
    InputShapeOpt,
    InputSizeOpt,
    JsonOpt,
    ModelArg,
    SeedOpt,
    choice,
    command,
    console,
    err_console,
    key,
    print_json,
    table,
)
from edgesplit.cli.graph import load
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE
from edgesplit.progress import status, warn_noisy


@command("profile")
def profile_command(
    model: ModelArg,
    out: Annotated[Path, typer.Option(help="Where to write the profile (JSON).")],
    thread_list: Annotated[
        str, typer.Option("--threads", help="CPU thread counts, e.g. 1,2,4,8.")
    ] = "1",
    device: Annotated[str, choice(("cpu", "cuda"), "Where to measure.")] = "cpu",
    repeats: Annotated[int, typer.Option(help="Timed runs per measurement.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs before each measurement.")] = 3,
    cut_choice: Annotated[
        str,
        typer.Option(
            "--cuts", help="Cuts whose head and tail are timed: N evenly spaced, all, single."
        ),
    ] = "16",
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the profile at --out (an interrupted run of this command on this "
            "machine): its thread counts are kept. Every finished thread count is written to "
            "--out as it ends."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Measure a model on this machine: whole model, every node, heads and tails of cuts."""
    from edgesplit.profile.data import load_profile_file, save_profile
    from edgesplit.profile.measure import (
        check_device,
        inconsistent_cuts,
        measure_profile,
        select_cuts,
        summary_rows,
    )

    earlier = load_profile_file(out) if resume and out.is_file() else None
    if earlier is None:
        output_file("--out", out, force)  # before minutes of measuring
    check_device(device)
    thread_counts = parse_int_list("--threads", thread_list)
    cut_spec: str | int = cut_choice if cut_choice in ("all", "single") else int(cut_choice)
    net, x, g = load(model, granularity, input_size, input_shape, seed)
    chosen = select_cuts(g, cut_spec)
    recorded = (
        shlex.join(["edgesplit", *sys.argv[1:]])
        if sys.argv[1:2] == ["profile"]
        else (
            f"edgesplit profile {model} --threads {thread_list} --device {device} --repeats "
            f"{repeats} --warmup {warmup} --cuts {cut_choice} --granularity {granularity}"
        )
    )
    with status(f"profiling {model}") as shown:
        profile, wall = measure_profile(
            net, g, x, thread_counts, device, repeats, warmup, chosen, recorded, shown.update,
            resume=earlier, checkpoint=lambda so_far: save_profile(so_far, out),
        )  # fmt: skip
    save_profile(profile, out)
    rows = summary_rows(profile)
    data = {"model": model, "out": str(out), "machine": profile.machine, "wall_s": wall,
            "rows": rows}  # fmt: skip
    if as_json:
        print_json(data)
        return
    columns = [
        Column("threads", key("setting")),
        Column("whole ms (median)", key("whole_median_s", ".2f", 1e3)),
        Column("IQR", key("whole_iqr_s", ".2f", 1e3)),
        Column("min", key("whole_min_s", ".2f", 1e3)),
        Column("max", key("whole_max_s", ".2f", 1e3)),
        Column("sum of nodes ms", key("sum_of_nodes_s", ".2f", 1e3)),
        Column("cuts timed", key("cuts_timed")),
        Column("noisy", lambda r: "NOISY" if r["noisy"] else "no"),
    ]
    title = f"{model} on {profile.machine['cpu']} ({profile.machine['cores']} cores)"
    console.print(table(rows, columns, title))
    console.print(
        f"wall time: whole model {wall['whole']:.1f} s, every node {wall['per_node']:.1f} s "
        f"({wall['per_node'] / max(wall['whole'], 1e-9):.1f}x), cuts {wall['cuts']:.1f} s; "
        f"written to {out}",
        highlight=False,
    )
    warn_noisy(
        {f"{row['setting']} threads": row["noisy"] for row in rows if row["noisy"]},
        "the profile records it as noisy and `plan` refuses it: measure again on an idle machine",
    )
    suspicious = inconsistent_cuts(profile)
    if suspicious:
        index = {g.fx_key(c): c.index for c in chosen}
        setting, cut_key, ratio = suspicious[0]
        err_console.print(
            f"[yellow]warning:[/] {len(suspicious)} cut(s) took over 1.5x the whole model (head + "
            f"tail), e.g. {setting}, cut {index[cut_key]}: {ratio:.1f}x; something else was "
            "probably running: measure again on an idle machine",
            highlight=False,
        )


@command("hardware")
def hardware_command(as_json: JsonOpt = False) -> None:
    """List the hardware catalogue: the papers' devices and servers and the measured machines."""
    from edgesplit.profile.catalogue import catalogue

    entries = list(catalogue().values())
    if as_json:
        print_json({"hardware": [asdict(e) for e in entries]})
        return
    rows = [
        {**asdict(e), "latency": e.describe_latency(),
         "powers": ", ".join(f"{k} {v:g}" for k, v in e.powers.items() if k != "source")}
        for e in entries
    ]  # fmt: skip
    columns = [
        Column(name, key(name), left=True)
        for name in ("name", "role", "paper", "processor", "latency", "powers")
    ]
    title = "Hardware catalogue (src/edgesplit/data/hardware.json)"
    console.print(table(rows, columns, title))


@command("predict-eval")
def predict_eval_command(
    models: Annotated[
        str,
        typer.Option(help="Models (the hardware's profiles) or profile files, comma-separated."),
    ] = "vgg16_bn,resnet34,mobilenet_v2",
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
    from edgesplit.experiments.predict_eval import predict_eval

    names = [m.strip() for m in models.split(",") if m.strip()]
    threads = parse_int_list("--train-threads", train_threads)
    if plots is not None:
        output_folder("--plots", plots)
    with status("fitting and predicting"):
        report = predict_eval(names, hardware, threads)
    records = report.records()
    figures = []
    if plots is not None:
        from edgesplit.experiments.plots import (
            plot_observation1,
            plot_observation2,
            plot_predictions,
        )

        figures = [
            str(plot_observation1(report.observation1, plots / "observation1.png")),
            str(plot_observation2(report.observation2, plots / "observation2.png")),
            str(plot_predictions(report.evaluations, report.predictors, plots / "predictions.png")),
        ]
    if as_json:
        print_json({"hardware": hardware, "train_threads": threads, **records, "plots": figures})
        return
    ev0 = report.evaluations[0]
    console.print(
        table(
            records["scores"],
            [
                Column("model", key("model"), left=True),
                Column("predictor", key("predictor"), left=True),
                Column("pairs", key("pairs")),
                Column("RMSE ms", key("rmse_ms", ".2f")),
                Column("MAPE %", key("mape_pct", ".1f")),
                Column("noise floor ms", key("noise_floor_ms", ".2f")),
                Column("shi2025 Table II RMSE ms", key("paper_rmse_ms", ".2f")),
            ],
            f"Held-out heads and tails on {hardware}: fitted at {ev0.train_threads} threads, "
            f"scored at {ev0.test_threads}",
        )
    )
    measured = sorted(set.intersection(*(set(o.threads) for o in report.observation1)))
    shown = [k for k in measured if k in (2, 4, 8, 16) or k == measured[-1]][-4:]
    console.print(
        table(
            records["observation1"],
            [
                Column("model", key("model"), left=True),
                *(Column(f"speedup at {k}", lambda r, k=k: f"{r['speedup'][k]:.2f}")
                  for k in shown),
                Column("shrinking gains (fit)", lambda r: f"{r['gains_shrink'] * 100:.0f}%"),
            ],
            "shi2025 Observation 1: speedup over 1 thread (measured) and Eq. 7",
        )
    )  # fmt: skip
    console.print(
        table(
            records["observation2"],
            [
                Column("model", key("model"), left=True),
                Column("threads", key("threads")),
                Column("share of nodes", key("r2_node_share", ".2f")),
                Column("share of MACs", key("r2_mac_share", ".2f")),
            ],
            "shi2025 Observation 2: R2 of tail/whole = share on the server (Eq. 8)",
        )
    )
    for figure in figures:
        console.print(f"wrote {figure}", highlight=False)
