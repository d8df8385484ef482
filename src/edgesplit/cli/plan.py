"""Commands that plan a partition: plan, and the demo (plan, then run the splits)."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from rich import box

from edgesplit import checks
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
    key,
    mib,
    print_json,
    table,
)
from edgesplit.cli.graph import load
from edgesplit.errors import CutLimitExceededError
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE
from edgesplit.progress import status
from edgesplit.vocabulary import OBJECTIVES, PREDICTORS

ProfileOpt = Annotated[
    str | None,
    typer.Option(help="A hardware catalogue entry (`edgesplit hardware`) or a profile file."),
]
GmacsOpt = Annotated[
    float | None, typer.Option(help="Instead of a profile: the placeholder MAC rate, GMAC/s.")
]
ThreadsOpt = Annotated[int | None, typer.Option(help="CPU threads (default: the profile's most).")]


def _cut_number(record: dict) -> str:
    return "?" if record["index"] is None else str(record["index"])


COST_COLUMNS = [
    Column("cut", _cut_number),
    Column("device ms", key("device_latency_s", ".2f", 1e3)),
    Column("send ms", key("transfer_latency_s", ".2f", 1e3)),
    Column("server ms", key("server_latency_s", ".2f", 1e3)),
    Column("latency ms", key("latency_s", ".2f", 1e3)),
    Column("energy J", key("energy_j", ".4f")),
    Column("MiB sent", lambda r: mib(r["transfer_bits"])),
]


@command("plan")
def plan_command(
    model: ModelArg,
    uplink_mbps: Annotated[float, typer.Option(help="Uplink rate, Mbit/s.")] = 20.0,
    device_profile: ProfileOpt = None,
    device_threads: ThreadsOpt = None,
    device_gmacs: GmacsOpt = None,
    server_profile: ProfileOpt = None,
    server_threads: ThreadsOpt = None,
    server_gmacs: GmacsOpt = None,
    cloud_profile: Annotated[
        str | None,
        typer.Option(help="A third tier behind the server: a catalogue entry (e.g. cloud-h100)."),
    ] = None,
    cloud_mbps: Annotated[
        float, typer.Option(help="Edge-to-cloud rate, Mbit/s (with --cloud-profile).")
    ] = 1000.0,
    cloud_threads: ThreadsOpt = None,
    predictor: Annotated[str, choice(PREDICTORS, "Latency predictor.")] = "nodes",
    objective: Annotated[str, choice(OBJECTIVES, "What to minimise.")] = "latency",
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
    link: Annotated[
        str | None,
        typer.Option(help="The runtime's overheads: a link profile (`calibrate`) or shipped name."),
    ] = None,
    codecs: Annotated[
        str, typer.Option(help="Codecs the runtime may use with --link (the fastest is taken).")
    ] = "fp32",
    granularity: GranularityOpt = "operator",
    input_size: InputSizeOpt = DEFAULT_INPUT_SIZE,
    input_shape: InputShapeOpt = None,
    seed: SeedOpt = 0,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            help="Top-1 floor in [0, 1]: also weigh the model's shipped bottlenecks and early "
            "exits, keeping what reaches it."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find the optimal cut of a model for one device, one server and one uplink.

    Latencies come from measured or derived profiles (default: shi2025's test-bed, a Jetson
    device and the i7 workstation at 16 threads); --device-gmacs/--server-gmacs use the
    placeholder MAC-rate model instead.
    """
    from edgesplit.plan import SideSpec, plan, plan_defaults, resolve_setting

    uplink_rate_bps = uplink_mbps * 1e6
    checks.one_of("--objective", objective, OBJECTIVES)
    checks.one_of("--predictor", predictor, PREDICTORS)
    rates = {
        side: None if value is None else value * 1e9
        for side, value in (("device", device_gmacs), ("server", server_gmacs))
    }
    setting, about = resolve_setting(
        model, uplink_rate_bps,
        SideSpec(device_profile, device_threads, rates["device"]),
        SideSpec(server_profile, server_threads, rates["server"]),
        predictor, compute_power_w, transmit_power_w,
    )  # fmt: skip
    if link is not None or codecs != "fp32":
        from dataclasses import replace

        from edgesplit.costs.link import load_link

        chosen = tuple(c.strip() for c in codecs.split(",") if c.strip())
        setting = replace(setting, link=load_link(link, chosen))
        about["link"] = f"{link} ({', '.join(chosen)})"
    beta = plan_defaults()["beta_s_per_j"] if beta_s_per_j is None else beta_s_per_j
    _, _, g = load(model, granularity, input_size, input_shape, seed)
    with contextlib.suppress(CutLimitExceededError):
        g.cut_table()  # enumerated (when it can be) so that the cuts carry their indices
    if cloud_profile is not None:
        _print_tiers(g, setting, about, cloud_profile, cloud_mbps, cloud_threads, predictor,
                     objective, beta, as_json)  # fmt: skip
        return
    if min_accuracy is not None:
        shape = f" --input-shape {input_shape}" if input_shape else f" --input-size {input_size}"
        _print_split(g, setting, model, objective, beta, min_accuracy, shape, as_json)
        return
    result = plan(g, setting, objective, beta)
    data = {
        **result.record(),
        "setting": {
            "uplink_rate_bps": setting.uplink_rate_bps,
            "device": about["device"],
            "server": about["server"],
            "device_compute_power_w": setting.device_compute_power_w,
            "device_transmit_power_w": setting.device_transmit_power_w,
            "beta_s_per_j": beta,
            "link": setting.link.record(),
        },
    }
    if as_json:
        print_json(data)
        return
    rows = [
        {"label": label, **data[name]}
        for label, name in (("optimal", "best"), ("all local", "all_local"),
                            ("offload all", "all_offloaded"))
    ]  # fmt: skip
    title = f"{model}: minimise {objective} at {uplink_mbps:g} Mbit/s"
    console.print(table(rows, [Column("", key("label"), left=True), *COST_COLUMNS], title))
    best = result.best.cut
    link_line = (
        f"\nlink: {about['link']}: sends {result.codec}, one request "
        f"{setting.link.request_s * 1e3:.2f} ms"
        if "link" in about
        else ""
    )
    console.print(
        f"device: {about['device']}; server: {about['server']}{link_line}\n"
        f"optimal cut: {best.device_mask.bit_count()} of {len(g.nodes)} nodes on the device, "
        f"sends {', '.join(best.crossing) or 'nothing'}",
        highlight=False,
    )


def _print_split(graph, setting, model, objective, beta, min_accuracy, shape, as_json) -> None:
    """The plain optimum beside the model's shipped bottlenecks and exits, under a top-1
    floor: every candidate, the one chosen and how a device runs it (``shape``: the input's
    option)."""
    from edgesplit.compress.shipped import codec_top1, split_options
    from edgesplit.plan import best_split

    options, model_top1 = split_options(model, graph, setting.device, setting.server)
    codec = setting.link.codecs[setting.codec]
    chosen, candidates = best_split(
        graph, setting, options, model_top1, min_accuracy, objective, beta,
        None if codec == "fp32" else codec_top1(model, graph.granularity, codec),
    )  # fmt: skip
    data = {"chosen": chosen.record(), "candidates": [c.record() for c in candidates],
            "min_accuracy": min_accuracy, "model_top1": model_top1}  # fmt: skip
    if as_json:
        print_json(data)
        return
    rows = [
        {**c.record(), "option": (c.record()["option"] or "plain split (link codec)")
         + ("" if c.top1 >= min_accuracy else " (below the floor)")}
        for c in sorted(candidates, key=lambda c: c.objective)
    ]  # fmt: skip
    columns = [
        Column("candidate", key("option"), left=True, whole=True),
        Column("cut", key("cut_index")),
        Column("top-1 %", key("top1", ".1f", 100)),
        Column("latency ms", key("latency_s", ".3f", 1e3)),
        Column("energy mJ", key("energy_j", ".3f", 1e3)),
    ]
    title = f"{model}: minimise {objective}, top-1 at least {100 * min_accuracy:.1f} %"
    console.print(table(rows, columns, title))
    name = chosen.option.name if chosen.option else "the plain split"
    console.print(
        f"chosen: [bold]{name}[/] at cut {chosen.cut.cut.index} (top-1 "
        f"{100 * chosen.top1:.1f} %; the model's {100 * model_top1:.1f} %)",
        highlight=False,
    )
    flags = " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in chosen.record()["device_options"].items()
    )
    console.print(
        f"run it: edgesplit device {model} --cut {chosen.cut.cut.index} --granularity "
        f"{graph.granularity}{shape} {flags}".rstrip(),
        highlight=False,
    )


def _print_tiers(graph, setting, about, profile, mbps, threads, predictor, objective, beta,
                 as_json) -> None:  # fmt: skip
    """Three tiers: both cuts, the compute on each tier and what each link carries."""
    from edgesplit.plan import Cloud, plan_tiers
    from edgesplit.profile.catalogue import resolve_latency

    backhaul_bps = mbps * 1e6
    latency, about["cloud"] = resolve_latency(
        graph.model_name, profile, None, threads, predictor, "cloud"
    )
    result = plan_tiers(graph, setting, Cloud(latency, backhaul_bps), objective, beta)
    data = {**result.record(), "setting": {**about, "uplink_rate_bps": setting.uplink_rate_bps,
                                           "backhaul_rate_bps": backhaul_bps,
                                           "beta_s_per_j": beta}}  # fmt: skip
    if as_json:
        print_json(data)
        return
    counts, compute = data["nodes_per_tier"], data["compute_s"]
    rows = [{"tier": tier, "nodes": counts[tier], "compute_s": compute[tier]}
            for tier in ("device", "edge", "cloud")]  # fmt: skip
    columns = [Column("tier", key("tier"), left=True), Column("nodes", key("nodes")),
               Column("compute ms", key("compute_s", ".2f", 1e3))]  # fmt: skip
    title = f"{graph.model_name}: minimise {objective} over device, edge and cloud"
    console.print(table(rows, columns, title))
    for name, cut, bits in (("device | edge", result.device_cut, data["uplink_bits"]),
                            ("edge | cloud", result.edge_cut, data["backhaul_bits"])):  # fmt: skip
        console.print(
            f"{name} cut {_cut_number(cut.record())}: sends {mib(bits)} MiB "
            f"({', '.join(cut.crossing) or 'nothing'})",
            highlight=False,
        )
    console.print(
        f"latency {data['latency_s'] * 1e3:.2f} ms, device energy {data['energy_j']:.4f} J; "
        f"device: {about['device']}; edge: {about['server']}; cloud: {about['cloud']}",
        highlight=False,
    )


@command()
def demo(
    seed: SeedOpt = 0,
    live_s: Annotated[
        float, typer.Option(help="Seconds of the closing live session (0: none).")
    ] = 20.0,
    as_json: JsonOpt = False,
) -> None:
    """The main job: plan mobilenet_v2, resnet50 and googlenet over Wi-Fi and 5G for two device
    classes, run each chosen split in-process against the unsplit model, then run split
    inference live: a controller, an edge server and two devices, each a host of the testbed
    (network namespaces, kernel-shaped links) where root and namespaces are available, else on
    127.0.0.1 (`edgesplit testbed run`, `edgesplit live`)."""
    from edgesplit.demo import run_demo
    from edgesplit.plan import plan_defaults
    from edgesplit.runtime.launcher import LiveConfig, run_live
    from edgesplit.runtime.testbed import support

    defaults = plan_defaults()
    settings = defaults["demo"]
    why_not = support() if live_s > 0 else None
    live = LiveConfig("live-demo", "optimum", duration_s=live_s, seed=seed, testbed=why_not is None)
    with status("demo") as shown:
        results = run_demo(seed=seed, progress=shown.update)
        report = None
        if live_s > 0:
            report = run_live(live, lambda text: shown.update(f"live session: {text}"))
    if as_json:
        records = [r.record() for r in results]
        print_json({"settings": settings, "results": records, "live": report})
        return
    rows = []
    for r in results:
        best, cut = r.plan.best, r.plan.best.cut
        choice = "local" if cut.is_all_local else "offload" if cut.sends_input else "split"
        rows.append(
            {
                "model": r.model, "hardware": r.pair, "link": r.link, "choice": choice,
                "cut": f"{cut.index}/{r.plan.all_local.cut.index}", **best.record(),
                "local_s": r.plan.all_local.latency_s, "offload_s": r.plan.all_offloaded.latency_s,
            }
        )  # fmt: skip
    columns = [
        *(
            Column(name, key(name), left=True, whole=True)
            for name in ("model", "hardware", "link", "choice")
        ),
        Column("cut", key("cut"), whole=True),
        Column("device ms", key("device_latency_s", ".1f", 1e3)),
        Column("send ms", key("transfer_latency_s", ".1f", 1e3)),
        Column("server ms", key("server_latency_s", ".1f", 1e3)),
        Column("total ms", key("latency_s", ".1f", 1e3)),
        Column("energy J", key("energy_j", ".3f")),
        Column("local ms", key("local_s", ".1f", 1e3)),
        Column("offload ms", key("offload_s", ".1f", 1e3)),
    ]
    title = f"Optimal placement ({settings['objective']}); latencies from the hardware catalogue"
    console.print(table(rows, columns, title, box=box.SIMPLE_HEAD))
    runs, seen = [], set()
    for r in results:
        for label, costs, check in (
            ("optimal", r.plan.best, r.check),
            ("best split, work on both sides", r.best_interior, r.interior_check),
        ):
            if (r.model, costs.cut.index) not in seen:
                seen.add((r.model, costs.cut.index))
                runs.append({"model": r.model, "cut": costs.cut.index, "what": label,
                             "error": check.max_abs_error, "matches": check.matches,
                             "head_s": check.head_s, "tail_s": check.tail_s,
                             "bytes": check.transferred_bytes})  # fmt: skip
    run_columns = [
        Column("model", key("model"), left=True),
        Column("cut", key("cut")),
        Column("what", key("what"), left=True),
        Column("max |error|", key("error", ".1e")),
        Column("match", lambda r: "[green]yes[/]" if r["matches"] else "[red]NO[/]"),
        Column("head ms", key("head_s", ".1f", 1e3)),
        Column("tail ms", key("tail_s", ".1f", 1e3)),
        Column("MiB sent", lambda r: mib(8 * r["bytes"])),
    ]
    timed = results[0].check.timed_runs if results else 0
    console.print(
        table(
            runs, run_columns, "Splits really run in-process: tail(*head(x)) against model(x)",
            caption=f"head and tail: median of {timed} runs after a warm-up, on this machine",
        )
    )  # fmt: skip
    from edgesplit.profile.catalogue import catalogue

    entries = catalogue()
    used = {name for pair in settings["pairs"] for name in (pair["device"], pair["server"])}
    derived = [entries[n].label for n in sorted(used) if n in entries and not entries[n].measured]
    console.print(
        "Latencies: measured profiles, and derived ones (not measured: "
        f"{'; '.join(derived) or 'none'}; `edgesplit hardware` says how); device powers "
        f"{defaults['device_compute_power_w']:g} W computing, "
        f"{defaults['device_transmit_power_w']:g} W transmitting (shi2025).",
        highlight=False,
    )
    if report is not None:
        from edgesplit.cli.runtime import print_live

        where = (
            f"on the testbed (hosts in network namespaces, links shaped by tc), run "
            f"{report['testbed']['run']}"
            if "testbed" in report
            else f"on 127.0.0.1 (no testbed here: {why_not})"
        )
        console.print(f"\n[bold]Live: split inference through a real edge server[/], {where}")
        print_live(report)
    if not all(r.check.matches and r.interior_check.matches for r in results):
        raise typer.Exit(1)
