"""Commands on the simulator and the policies: scenarios, scenario, policies, evaluate, train,
convert-policy. None of them traces a model, and none imports torch unless a learner runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edgesplit.checks import output_file, output_folder
from edgesplit.cli.app import (
    Column,
    JsonOpt,
    SeedOpt,
    choice,
    command,
    console,
    err_console,
    key,
    print_json,
    settings_from,
    table,
)
from edgesplit.progress import status
from edgesplit.vocabulary import STYLES


@command("scenarios")
def scenarios_command(as_json: JsonOpt = False) -> None:
    """List the simulator's scenario presets."""
    from edgesplit.sim.scenario import preset_rows

    rows = preset_rows()
    if as_json:
        print_json({"scenarios": rows})
        return
    columns = [
        *(Column(name, key(name), left=True) for name in ("name", "style", "devices", "servers")),
        Column("models", lambda r: ", ".join(r["models"]), left=True),
        Column("about", key("about"), left=True),
    ]
    title = "Scenario presets (edgesplit.sim; YAML in src/edgesplit/data/scenarios)"
    console.print(table(rows, columns, title))


@command("scenario")
def scenario_command(
    source: Annotated[str, typer.Argument(help="A preset name or a scenario YAML file.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate a scenario (preset or YAML file) and print it with every default filled in."""
    from edgesplit.sim.scenario import load_scenario

    scenario = load_scenario(source)
    data = scenario.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    console.print(
        f"{scenario.name}: valid ({scenario.style}, {scenario.device_count} devices, "
        f"{scenario.server_count} servers)",
        highlight=False,
    )
    console.print_json(json.dumps(data))


@command("policies")
def policies_command(
    style: Annotated[str | None, choice(STYLES, "Only this scenario style.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the policies (deciders) by name."""
    from edgesplit.checks import one_of
    from edgesplit.policies.registry import is_learner, policy_names

    if style is not None:
        one_of("--style", style, STYLES)
    names = policy_names(style)
    if as_json:
        print_json({"policies": names, "learners": [n for n in names if is_learner(n)]})
        return
    for name in names:
        console.print(f"{name}{'  (learner)' if is_learner(name) else ''}", highlight=False)


@command("train")
def train_command(
    policy: Annotated[str, typer.Argument(help="A learner, e.g. ddp+ta.")],
    scenario: Annotated[str, typer.Option(help="A preset or a scenario YAML file.")],
    out: Annotated[Path, typer.Option(help="Run folder: logs, checkpoint, policy.pt, best.pt.")],
    steps: Annotated[int, typer.Option(help="Environment steps.")] = 20_000,
    seed: SeedOpt = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    eval_every: Annotated[int | None, typer.Option(help="Steps between evaluations.")] = None,
    eval_episodes: Annotated[int, typer.Option(help="Episodes per evaluation.")] = 2,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="FIELD=VALUE of the learner's config (repeatable), e.g. imitation_steps=1000.",
        ),
    ] = None,
) -> None:
    """Train a learner in the simulator (progress bar, CSV logs, checkpoints; Ctrl-C saves)."""
    from edgesplit.policies.training import TrainingInterrupted, train_policy

    pairs = settings_from(settings)
    try:
        path = train_policy(
            policy, scenario, steps, seed, out, resume, eval_every, eval_episodes,
            settings=pairs,
        )  # fmt: skip
    except TrainingInterrupted as stopped:
        err_console.print(f"[yellow]{stopped}[/]", highlight=False)
        raise typer.Exit(130) from None
    written = [out / name for name in ("best.pt", "eval.csv", "episodes.csv")]
    said = ", ".join(str(p) for p in written if p.is_file())
    console.print(f"wrote {path} (the latest policy, with its .json); also {said}", highlight=False)


@command("evaluate")
def evaluate_command(
    scenario: Annotated[str, typer.Option(help="A preset or a scenario YAML file.")],
    policies: Annotated[
        str, typer.Option(help="Comma-separated names; a learner as name=path/to/policy.pt.")
    ],
    episodes: Annotated[int, typer.Option(help="Episodes (seeds) per policy.")] = 5,
    seed: SeedOpt = 0,
    plot: Annotated[Path | None, typer.Option(help="Write PNG bar charts here.")] = None,
    breakdown: Annotated[
        bool, typer.Option(help="Also show where the latency goes (device, upload, queue, ...).")
    ] = False,
    untrained: Annotated[
        bool, typer.Option(help="Allow a learner without =CHECKPOINT (its untrained network).")
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="FIELD=VALUE of the deciders that have that setting (repeatable), e.g. "
            "budget_s=0.25 (planner).",
        ),
    ] = None,
    bound: Annotated[
        bool,
        typer.Option(
            help="Also compute each seed's certified bound on the return and every decider's "
            "gap to it (task-window scenarios of up to 4 devices: docs/planning.md)."
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate policies on the same seeds: means with 95 % confidence intervals."""
    from edgesplit.errors import InvalidParameterError
    from edgesplit.policies.evaluate import SCORE_OF_STYLE, episode_bounds, evaluate
    from edgesplit.policies.registry import policy_from_spec, takes_settings
    from edgesplit.sim.scenario import load_scenario
    from edgesplit.units import BREAKDOWN, display

    loaded = load_scenario(scenario)
    if plot is not None:
        output_folder("--plot", plot)
    specs = [s for s in policies.split(",") if s.strip()]
    pairs = settings_from(settings)
    taking = {s for s in specs if pairs and takes_settings(s.partition("=")[0].strip(), [*pairs])}
    if pairs and not taking:
        raise InvalidParameterError(
            "--set", ", ".join(pairs), "settings of one of the listed deciders (planner: budget_s)"
        )
    built = dict(
        policy_from_spec(spec, loaded, seed, untrained, pairs if spec in taking else None)
        for spec in specs
    )  # errors first
    with status("evaluating") as shown:
        step = lambda name, done: shown.update(f"{name}: episode {done}/{episodes}")  # noqa: E731
        bounds = episode_bounds(loaded, episodes, seed, step) if bound else None
        summaries = evaluate(
            {label: (lambda p=p: p) for label, p in built.items()}, loaded, episodes, seed,
            progress=step, bounds=bounds,
        )  # fmt: skip
    seeds = f"seeds {seed}-{seed + episodes - 1}" if episodes > 1 else f"seed {seed}"
    if plot is not None:
        from edgesplit.experiments.plots import plot_summaries

        plot_summaries(summaries, plot, f"{loaded.name}: {episodes} episodes ({seeds})")
    rows = [s.record() for s in summaries]
    if as_json:
        print_json(
            {"scenario": loaded.name, "seeds": list(range(seed, seed + episodes)),
             "episodes": episodes, "bound": bounds, "rows": rows}
        )  # fmt: skip
        return

    def cell(metric: str):
        shown = display(metric)
        return lambda r: f"{shown.value(r['mean'][metric])} ± {shown.value(r['ci95'][metric])}"

    metrics = [m for m in summaries[0].mean if breakdown or m not in BREAKDOWN]
    columns = [
        Column("policy", key("policy"), left=True),
        *(Column(display(m).header(), cell(m), whole=True) for m in metrics),
    ]
    title = f"{loaded.name}: {episodes} episodes per policy ({seeds})"
    caption = (
        f"mean ± the 95 % confidence half-width (Student t over the {episodes} episodes)"
        if episodes > 1
        else "one episode: no interval"
    )
    console.print(table(rows, columns, title, caption=caption))
    if bounds is not None:
        console.print(
            f"bound: {sum(bounds) / len(bounds):.4g} (mean over the seeds): no decider can score "
            "above it on a seed, even one that sees the shadowing and the coming windows; the gap "
            "column is each decider's distance to it (docs/planning.md)",
            highlight=False,
        )
    score = SCORE_OF_STYLE.get(loaded.style)
    best = {s.policy: s.mean[score] for s in summaries if score in s.mean}
    reference = "optimum" if loaded.style == "slot" else "repeated-optimum"
    if reference in best and any(v > best[reference] + 1e-12 for v in best.values()):
        beaten = ", ".join(p for p, v in best.items() if v > best[reference] + 1e-12)
        console.print(
            f"note: {beaten} scored above `{reference}`, which is exact only over the decisions it "
            "searches: "
            + (
                "one slot at a time (it maximises this slot's utility, not the episode's, and "
                "sees no harvest in the slot)"
                if loaded.style == "slot"
                else "one per-task choice repeated over a full window, at the median shadowing"
            ),
            highlight=False,
        )
    if plot is not None:
        console.print(f"wrote {plot}/*.png", highlight=False)


@command("convert-policy")
def convert_policy_command(
    old: Annotated[Path, typer.Argument(help="A policy.pt or best.pt written by edgesplit 0.1.")],
    out: Annotated[Path, typer.Option(help="The new policy file (its .json is written beside).")],
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
) -> None:
    """Convert an edgesplit 0.1 policy file to tensors plus a JSON sidecar, reading it without
    running code from it (only tensors and NumPy arrays are accepted)."""
    from edgesplit.errors import InvalidParameterError
    from edgesplit.policies.common import convert_legacy_policy

    if not old.is_file():  # before the output's folder is made
        raise InvalidParameterError("checkpoint", str(old), "an existing file")
    output_folder("--out", out.parent)
    output_file("--out", out, force)
    path = convert_legacy_policy(old, out)
    console.print(f"wrote {path} and {path.with_suffix('.json')}", highlight=False)
