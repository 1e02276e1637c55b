"""`coach eval`: the offline evals against the thresholds kept in the repo."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bots.app import app, console, err_console, load_settings, user_errors


@app.command("eval")
@user_errors
def eval_cmd(out: Annotated[Path | None, typer.Option(help="Where to write the JSON report.")] = None) -> None:
    """Grade the golden set and run simulated candidates; exit 1 if a threshold is missed."""
    from evals.runner import run_evals

    report = asyncio.run(run_evals())
    g = report.grader
    table = Table("metric", "value", title=f"Offline grader on {g.cases} golden answers")
    for name, value in (("within one band", g.within_one_band), ("exact band", g.exact_band),
                        ("Spearman", g.spearman), ("max rating, stuffed or injection", g.max_adversarial_rating)):
        table.add_row(name, str(value))
    for kind, share in g.by_kind.items():
        table.add_row(f"  exact band: {kind}", str(share))
    console.print(table)
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
