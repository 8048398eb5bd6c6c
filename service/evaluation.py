"""``modlabel eval``: score one or more stage configurations on an evaluation file."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from classifiers.evaluate import predicted_view, read_jsonl, score

KEYS = ("extremist_source.precision", "extremist_source.recall", "extremist_source.f1",
        "graphic_violence.precision", "graphic_violence.recall", "graphic_violence.f1",
        "graphic_violence.severity_accuracy", "unverified.precision", "unverified.recall", "unverified.f1",
        "extremist_source.actor_accuracy", "decision.accuracy", "n")


def moderators(stages: str):
    """(name, Moderator) pairs for the requested stage configurations."""
    from classifiers.pipeline import Moderator
    from labels.policy import load_policy_set
    from service.config import get_settings
    from service.services import load_classifier

    settings = get_settings()
    ps = load_policy_set(settings.policy_dir)
    clf = load_classifier(settings)
    if stages == "auto":
        stages = "combined" if clf is not None else "rules"
    names = ["rules", "classifier", "combined"] if stages == "all" else [stages]
    out = []
    for name in names:
        if name != "rules" and clf is None:
            raise SystemExit("no classifier model is loaded; run `modlabel train` or use --stages rules")
        out.append((name, Moderator(policy_set=ps, classifier=None if name == "rules" else clf, mode=name)))
    return out


def evaluate_items(items: list[dict], moderator) -> tuple[dict, list[tuple[dict, dict, dict]]]:
    rows = []
    for item in items:
        result = moderator.moderate(item)
        rows.append((item.get("expected", {}), predicted_view(result), result))
    return score((e, p) for e, p, _ in rows), rows


def run_eval(file: Path, *, as_json: bool, stages: str, plot: Path | None, console: Console) -> None:
    items = list(read_jsonl(file))
    reports = {}
    all_rows = {}
    for name, mod in moderators(stages):
        reports[name], all_rows[name] = evaluate_items(items, mod)
    if plot is not None:
        from service.plots import eval_plots

        written = eval_plots(all_rows, plot)
        console.print(f"wrote {len(written)} plot(s) to {plot}")
    if as_json:
        out = reports[next(iter(reports))] if len(reports) == 1 else {"stages": reports, **reports[list(reports)[-1]]}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title=f"{file} ({len(items)} items)")
    table.add_column("metric")
    for name in reports:
        table.add_column(name, justify="right")
    for key in KEYS:
        table.add_row(key, *[str(reports[n].get(key)) for n in reports])
    Console().print(table)
