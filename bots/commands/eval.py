"""`coach eval`: the evals against people and against the thresholds kept in the repo."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.errors import CoachError
from bots.app import app, console, err_console, load_settings, user_errors


class GraderChoice(StrEnum):
    offline = "offline"
    claude = "claude"


@app.command("eval")
@user_errors
def eval_cmd(
    out: Annotated[Path | None, typer.Option(help="Where to write the JSON report.")] = None,
    grader: Annotated[GraderChoice, typer.Option(help="offline (default, free) or claude (paid API calls).")]
    = GraderChoice.offline,
    limit: Annotated[int, typer.Option(help="claude: answers per dev data set and from the golden set.")] = 20,
    max_cost: Annotated[float, typer.Option(help="claude: refuse to start if the estimate is above this (USD).")]
    = 2.0,
    yes: Annotated[bool, typer.Option("--yes", help="claude: do not ask before spending.")] = False,
) -> None:
    """Grade the dev set's test splits and the golden set; exit 1 if a threshold is missed."""
    if grader is GraderChoice.claude:
        _claude(limit, max_cost, yes)
        return
    import asyncio

    from evals.runner import run_evals

    report = asyncio.run(run_evals())
    g = report.grader
    table = Table("metric", "value", title=f"Offline grader on {g.cases} golden answers")
    for name, value in (("within one band", g.within_one_band), ("exact band", g.exact_band),
                        ("exact band, held-out cases", g.held_out_exact_band),
                        ("Spearman", g.spearman), ("max rating, stuffed or injection", g.max_adversarial_rating)):
        table.add_row(name, str(value))
    for kind, share in g.by_kind.items():
        table.add_row(f"  {kind}: in band / mean score", f"{share} / {g.mean_score_by_kind.get(kind)}")
    console.print(table)
    if report.devset.available:
        dev = Table("data set", "n", "Pearson", "Spearman", "RMSE", "QWK", "Pearson by split",
                    title=f"Agreement with people, test splits ({report.devset.source})")
        for d in report.devset.datasets:
            dev.add_row(d.dataset, str(d.n), str(d.pearson), str(d.spearman), str(d.rmse), str(d.qwk),
                        ", ".join(f"{k.removeprefix('test-unseen-')} {v}" for k, v in d.by_split.items()))
        console.print(dev)
    else:
        err_console.print("dev set not found: set COACH_GRADING_DEV or put grading_dev at ../shared/data; "
                          "agreement with people was skipped")
    sims = Table("candidate", "turns", "probes", "checks", title="Simulated candidates")
    for c in report.candidates:
        sims.add_row(c.candidate, str(c.turns), str(c.probes),
                     ", ".join(("✓ " if ok else "✗ ") + name for name, ok in c.checks.items()))
    console.print(sims)
    path = out or load_settings().home_dir / "eval-report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2))
    console.print(f"report: {path}")
    for failure in report.failures:
        err_console.print(f"[red]✗[/] {failure}")
    if report.failures:
        raise typer.Exit(1)


def _claude(limit: int, max_cost: float, yes: bool) -> None:
    import asyncio

    from evals.claude_eval import claude_grader, plan_claude_eval, run_claude_eval

    settings = load_settings()
    llm = claude_grader(settings)  # a clear error without a key, before anything is spent
    plan = plan_claude_eval(settings, limit)
    if plan.estimate_usd > max_cost:
        raise CoachError(f"about {plan.calls} calls, estimated ${plan.estimate_usd:.2f}, is above --max-cost ${max_cost:.2f}")
    if not yes and not typer.confirm(f"Grade {plan.calls} answers with {plan.model}, about ${plan.estimate_usd:.2f}?"):
        raise typer.Exit(1)
    report = asyncio.run(run_claude_eval(llm, settings.prices, limit))
    table = Table("data set", "n", "Pearson", "Spearman", "RMSE", "QWK", title=f"{report.model} vs people")
    for name, a in report.devset.items():
        table.add_row(name, str(a["n"]), str(a["pearson"]), str(a["spearman"]), str(a["rmse"]), str(a["qwk"]))
    console.print(table)
    console.print(f"golden in band: {report.golden_in_band} · by kind {report.golden_mean_score_by_kind}")
    console.print(f"{report.calls} calls · {report.input_tokens} input tokens · {report.output_tokens} output "
                  f"tokens · ${report.cost_usd}" + (f" · {report.failed} not graded (model failed)" if report.failed else ""))
