"""Operations commands: ``modlabel policy check|diff`` and ``modlabel report``.

Attached to the main typer app by ``register(app)`` (the last line of service/cli.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

policy_app = typer.Typer(help="Policy as configuration: validate a labels tree, dry-run a new one.", no_args_is_help=True)
err = Console(stderr=True)


def _configured_dir(explicit: Optional[Path]) -> Optional[Path]:
    if explicit is not None:
        return explicit
    from service.config import get_settings

    return get_settings().policy_dir


def _load_or_exit(root: Optional[Path]):
    from labels.policy import PolicyError
    from service.policy_diff import check_tree

    try:
        return check_tree(root)
    except PolicyError as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@policy_app.command("check")
def policy_check(directory: Optional[Path] = typer.Option(None, "--dir", help="Labels tree (default: MODLABEL_POLICY_DIR or the shipped one).")):
    """Validate a labels tree (policy, publishers, templates); exit 1 naming file and line on error."""
    ps = _load_or_exit(_configured_dir(directory))
    typer.echo(f"OK {ps.root}: policy {ps.version}, publishers {', '.join(sorted(ps.publishers))}, "
               f"languages {', '.join(sorted(ps.templates))}")


@policy_app.command("diff")
def policy_diff(against: Path = typer.Option(..., "--against", help="The labels tree to compare with (the candidate)."),
                on: Path = typer.Option(..., "--on", help="Items, one JSON object a line (an eval or scan input file)."),
                directory: Optional[Path] = typer.Option(None, "--dir", help="Current tree (default: MODLABEL_POLICY_DIR or the shipped one)."),
                as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
                rules_only: bool = typer.Option(False, "--rules-only", help="Skip the learned stage."),
                fail_on_change: bool = typer.Option(False, "--fail-on-change", help="Exit 2 when any item changes (for CI).")):
    """Moderate each item under the current tree and under --against; list items whose labels or decision change."""
    from service.cli import _moderator, _validate_item
    from service.policy_diff import diff_policies, read_items

    current = _load_or_exit(_configured_dir(directory))
    other = _load_or_exit(against)
    if not on.is_file():
        raise typer.BadParameter(f"{on}: no such file", param_hint="--on")
    moderator = _moderator(rules_only, current.root)
    diff = diff_policies(moderator, current, other, read_items(on, _validate_item))
    for problem in diff.errors:
        err.print(f"[yellow]skipped[/yellow] {problem['error']}", highlight=False, soft_wrap=True)
    if as_json:
        sys.stdout.write(orjson.dumps(diff.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_diff(diff, on)
    if fail_on_change and diff.changes:
        raise typer.Exit(2)


def _print_diff(diff, source: Path) -> None:
    console = Console()
    title = (f"{len(diff.changes)} of {diff.n} items in {source} change: "
             f"policy {diff.current_version} -> {diff.other_version}")
    if not diff.changes:
        console.print(f"no item changes ({diff.n} items; policy {diff.current_version} -> {diff.other_version})")
        return
    table = Table(title=title)
    for name in ("item", "line", "decision", "labels added", "labels removed"):
        table.add_column(name, justify="right" if name == "line" else "left", overflow="fold")
    for c in diff.changes:
        decision = c.decision_before if c.decision_before == c.decision_after else f"{c.decision_before} -> {c.decision_after}"
        table.add_row(str(c.item_id or "-"), str(c.line), decision, ", ".join(c.added) or "-", ", ".join(c.removed) or "-")
    console.print(table)


def report(results: Path = typer.Argument(..., help="Results, one JSON object a line (`modlabel scan` output)."),
           plot: Optional[Path] = typer.Option(None, "--plot", help="Write a bar chart per dimension (PNG) here."),
           as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object."),
           top: int = typer.Option(20, min=1, help="Bars per chart (most common values).")):
    """Counts per decision, label, severity and actor over a scan's output, with optional bar charts."""
    from service.reports import plot_report, print_report, read_report

    if not results.is_file():
        raise typer.BadParameter(f"{results}: no such file", param_hint="RESULTS")
    rep = read_report(results)
    if as_json:
        sys.stdout.write(orjson.dumps(rep.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_report(rep, Console())
    if plot is not None:
        written = plot_report(rep, plot, top=top)
        err.print(f"wrote {len(written)} chart(s) to {plot}: {', '.join(p.name for p in written)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``policy`` (check, diff) and ``report`` to the ``modlabel`` command line."""
    app.add_typer(policy_app, name="policy")
    app.command("report")(report)
