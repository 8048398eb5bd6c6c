"""The ``modlabel`` command line (typer)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="modlabel: label news content, decide, and render disclaimers.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


def _moderator(rules_only: bool = False, policy_dir: Optional[Path] = None, banks: bool = False):
    """The pipeline; ``banks``: with the configured database's hash banks (when there is a database)."""
    from classifiers.pipeline import Moderator
    from labels.policy import load_policy_set
    from service.config import get_settings
    from service.services import load_classifier

    settings = get_settings()
    classifier = None if rules_only else load_classifier(settings)
    moderator = Moderator(policy_set=load_policy_set(policy_dir or settings.policy_dir), classifier=classifier)
    if banks:
        from service.cli_ops import cli_hash_banks

        moderator.hash_matcher = cli_hash_banks(settings)
    return moderator


BANKS_HELP = "Match media hashes against the hash banks of the configured database (DATABASE_URL or ./var)."


def _validate_item(raw: dict, where: str) -> dict:
    from pydantic import ValidationError

    from service.schemas import ContentItem

    try:
        return ContentItem.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise typer.BadParameter(f"{where}: {field}: {err['msg']}") from None


@app.command()
def serve(host: str = typer.Option(None, help="Bind address (default from MODLABEL_HOST, 127.0.0.1)."),
          port: int = typer.Option(None, help="Port (default 8000)."),
          workers: int = typer.Option(None, help="Worker processes (default from MODLABEL_WORKERS, 1).")):
    """Run the HTTP service."""
    import uvicorn

    from service.config import get_settings

    s = get_settings()
    from service.observability import uvicorn_log_config

    # Workers load the models at start (a few seconds here): give a restarted worker time before
    # the supervisor gives up on it (SIGHUP reloads replace workers one by one).
    uvicorn.run("service.main:app", host=host or s.host, port=port or s.port, workers=workers or s.workers,
                log_level=s.log_level.lower(), access_log=False, log_config=uvicorn_log_config(s.log_level),
                timeout_worker_healthcheck=60)


@app.command()
def moderate(file: str = typer.Argument(..., help="A JSON item, or - for standard input."),
             rules_only: bool = typer.Option(False, "--rules-only", help="Skip the learned stage."),
             banks: bool = typer.Option(True, "--banks/--no-banks", help=BANKS_HELP)):
    """Moderate one item (JSON in, result JSON out)."""
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"{file}: invalid JSON: {exc}") from None
    item = _validate_item(raw, file)
    result = _moderator(rules_only, banks=banks).moderate(item)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def scan(infile: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Items, one JSON object a line."),
         out: Path = typer.Option(..., "-o", "--out", help="Results, one a line (appended; ids already there are skipped)."),
         workers: int = typer.Option(0, help="Processes (0 = every core)."),
         rules_only: bool = typer.Option(False, "--rules-only"),
         banks: bool = typer.Option(True, "--banks/--no-banks", help=BANKS_HELP)):
    """Moderate a batch with a progress bar; resumable."""
    from service.batch import run_scan

    run_scan(infile, out, workers=workers, rules_only=rules_only, console=console, banks=banks)


@app.command("eval")
def evaluate(file: Path = typer.Argument(..., help="Evaluation JSON Lines (items with `expected`)."),
             as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
             stages: str = typer.Option("auto", help="auto | rules | classifier | combined | all (side by side)."),
             plot: Optional[Path] = typer.Option(None, "--plot", help="Write PR curves and confusion matrices as PNG here.")):
    """Per-label precision, recall, F1, severity and decision accuracy."""
    from service.evaluation import run_eval

    run_eval(file, as_json=as_json, stages=stages, plot=plot, console=console)


@app.command()
def rescan(since: Optional[str] = typer.Option(None, help="Only items updated on or after this date (YYYY-MM-DD or ISO time)."),
           publisher: Optional[str] = typer.Option(None, help="Only this publisher's items.")):
    """Re-moderate stored items under the current policy, lexicon and models; record changes and send callbacks."""
    from datetime import datetime, timezone

    from service.config import get_settings
    from service.rescan import rescan as run_rescan
    from service.services import Services

    when = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(f"--since: not a date: {since!r}") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    services = Services(get_settings())
    report = run_rescan(services.storage, services.moderator, since=when, publisher=publisher)
    table = Table(title=f"rescan: {report.scanned} items, {report.changed} changed, {report.missing_content} without stored content")
    table.add_column("from")
    table.add_column("to")
    table.add_column("items", justify="right")
    for (before, after), n in sorted(report.transitions.items(), key=lambda kv: -kv[1]):
        table.add_row(str(before), after, str(n))
    Console().print(table)


@app.command()
def openapi(write: bool = typer.Option(False, "--write", help="Write openapi/openapi.json instead of printing.")):
    """Print the OpenAPI spec the app serves."""
    from service.openapi_spec import spec_json, SPEC_PATH

    text = spec_json()
    if write:
        SPEC_PATH.write_text(text)
        console.print(f"wrote {SPEC_PATH}")
    else:
        sys.stdout.write(text)


def main() -> None:  # pragma: no cover
    app()


@app.command()
def train(out: Optional[Path] = typer.Option(None, help="Artifact directory (default: the shipped one).")):
    """Rebuild the learned models from data/corpus deterministically."""
    from classifiers.learned.train import train as run_train
    from classifiers.learned.model import ARTIFACT_DIR

    card = run_train(out or ARTIFACT_DIR, log=lambda m: console.print(m))
    table = Table(title=f"model {card['version']} (test split)")
    table.add_column("metric")
    for mode in card["metrics_test_split"]:
        table.add_column(mode, justify="right")
    for key in ("extremist_source.f1", "graphic_violence.f1", "graphic_violence.severity_accuracy", "unverified.f1", "decision.accuracy", "n"):
        table.add_row(key, *[str(card["metrics_test_split"][m][key]) for m in card["metrics_test_split"]])
    Console().print(table)

from service.cli_storage import db_app, webhooks_app  # noqa: E402

app.add_typer(db_app, name="db")
app.add_typer(webhooks_app, name="webhooks")
from service.cli_keys import keys_app  # noqa: E402

app.add_typer(keys_app, name="keys")
from service.cli_ops import register as _register_ops; _register_ops(app)  # noqa: E402,E702
