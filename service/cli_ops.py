"""Operations commands: ``modlabel policy check|diff``, ``modlabel report`` and ``modlabel banks ...``.

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
    moderator = _moderator(rules_only, current.root, banks=False)
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


# ---------------------------------------------------------------- hash banks

banks_app = typer.Typer(help="Hash banks: list and create banks, import and export entries, add an entry from an image. "
                        "Same service code (and audit trail) as /v1/banks.", no_args_is_help=True)
CLI_ACTOR = "cli"


def database_configured(settings) -> bool:
    """Whether a database is set up: DATABASE_URL, or the embedded SQLite file already exists."""
    return settings.database_url is not None or (settings.data_dir / "modlabel.db").exists()


def cli_hash_banks(settings):
    """The hash banks of the configured database, loaded, for ``moderate`` and ``scan``; None without a database.

    A database that cannot be read is reported on stderr and moderation goes on without banks.
    """
    if not database_configured(settings):
        return None
    from service.banks import HashBanks
    from service.storage import Storage

    banks = HashBanks(Storage(settings), settings)
    try:
        banks.refresh()
    except Exception as exc:  # noqa: BLE001 (moderating without banks beats not moderating)
        err.print(f"[yellow]warning[/yellow]: hash banks not loaded ({type(exc).__name__}: {exc}); moderating without them",
                  highlight=False, soft_wrap=True)
        return None
    return banks


def _admin():
    """A BankAdmin over the configured database, its banks loaded (negative banks vouch during retro scans)."""
    from service.bank_admin import BankAdmin
    from service.banks import HashBanks
    from service.config import get_settings
    from service.storage import Storage

    settings = get_settings()
    banks = HashBanks(Storage(settings), settings)
    banks.refresh()
    return BankAdmin(banks)


def _run(work):
    """Run a bank operation; an API error is printed as `error: code: message (field)` with exit code 1."""
    from service.errors import ApiError

    try:
        return work()
    except ApiError as exc:
        field = f" ({exc.field})" if getattr(exc, "field", None) else ""
        err.print(f"[red]error[/red]: {exc.code}: {exc.message}{field}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _print_json(data) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@banks_app.command("list")
def banks_list(publisher: Optional[str] = typer.Option(None, "--publisher", help="Only this publisher's banks."),
               as_json: bool = typer.Option(False, "--json", help="Print the banks as JSON (as GET /v1/banks does).")):
    """Banks with their settings and entry counts per status."""
    admin = _admin()
    banks = admin.list_banks(publisher=publisher)
    if as_json:
        _print_json(banks)
        return
    table = Table(title=f"{len(banks)} hash bank(s)")
    for name in ("name", "publisher", "kind", "distance", "flood", "active", "quarantined", "removed"):
        table.add_column(name, justify="right" if name in ("distance", "active", "quarantined", "removed") else "left")
    for b in banks:
        flood = "off" if b["flood_threshold"] is None else f"{b['flood_threshold']}/{b['flood_window_seconds']}s"
        table.add_row(b["name"], b["publisher"] or "(global)", b["kind"], str(b["distance"]), flood,
                      *(str(b["entries"][s]) for s in ("active", "quarantined", "removed")))
    Console().print(table)


@banks_app.command("create")
def banks_create(name: str = typer.Argument(..., help="Lowercase letters, digits, . _ -"),
                 publisher: Optional[str] = typer.Option(None, "--publisher", help="The publisher's bank (default: global)."),
                 kind: str = typer.Option("positive", "--kind", help="positive | negative (known-good images)."),
                 distance: int = typer.Option(31, "--distance", help="Largest Hamming distance that matches."),
                 description: Optional[str] = typer.Option(None, "--description")):
    """Create a bank (flood settings: the service defaults)."""
    from pydantic import ValidationError

    from service.bank_schemas import BankCreate

    try:
        data = BankCreate(name=name, publisher=publisher, kind=kind, distance=distance, description=description)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    admin = _admin()
    _print_json(_run(lambda: admin.create_bank(data, actor=CLI_ACTOR)))


def _format_of(path: Path, explicit: Optional[str]) -> str:
    fmt = (explicit or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "json"):
        raise typer.BadParameter(f"{path}: say --format csv or json", param_hint="--format")
    return fmt


@banks_app.command("import")
def banks_import(name: str = typer.Argument(..., help="The bank."),
                 file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                             help="CSV or JSON, as the export writes (or as POST .../import takes)."),
                 fmt: Optional[str] = typer.Option(None, "--format", help="csv | json (default: from the file name).")):
    """Add entries from a file, all or none; then hold stored items whose media match them (printed as `retro`)."""
    from service.bank_io import parse_import

    fmt = _format_of(file, fmt)
    admin = _admin()

    def work():
        entries, where = parse_import(file.read_bytes(), fmt)
        return admin.add_entries(name, entries, actor=CLI_ACTOR, where=where)

    outcome = _run(work)
    err.print(f"{name}: {outcome['added']} added, {outcome['unchanged']} unchanged, "
              f"{outcome['retro']['items_held']} stored item(s) held", highlight=False, soft_wrap=True)
    _print_json(outcome)


@banks_app.command("export")
def banks_export(name: str = typer.Argument(..., help="The bank."),
                 out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write here (default: standard output)."),
                 fmt: Optional[str] = typer.Option(None, "--format", help="csv | json (default: from --out, else csv)."),
                 status: str = typer.Option("current", "--status", help="active | quarantined | removed | current | all.")):
    """Write a bank's entries as CSV or JSON, in the form import takes back."""
    from service.bank_io import STATUS_SETS, export_csv, export_json

    if status not in STATUS_SETS:
        raise typer.BadParameter(f"one of {', '.join(STATUS_SETS)}", param_hint="--status")
    fmt = _format_of(out, fmt) if out is not None and fmt is None else (fmt or "csv").lower()
    if fmt not in ("csv", "json"):
        raise typer.BadParameter("csv or json", param_hint="--format")
    admin = _admin()
    bank, pages = _run(lambda: admin.iter_export(name, statuses=STATUS_SETS[status]))
    chunks = export_csv(pages) if fmt == "csv" else export_json(bank, pages)
    if out is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        return
    with open(out, "wb") as sink:
        for chunk in chunks:
            sink.write(chunk)
    err.print(f"wrote {out}", highlight=False)


@banks_app.command("add-image")
def banks_add_image(name: str = typer.Argument(..., help="The bank."),
                    image: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                                 help="JPEG, PNG, GIF, WebP or BMP."),
                    label: Optional[str] = typer.Option(None, "--label", help="extremist_source | graphic_violence "
                                                        "(positive banks)."),
                    severity: Optional[str] = typer.Option(None, "--severity", help="graphic | extreme (graphic_violence)."),
                    actors: Optional[list[str]] = typer.Option(None, "--actor", help="An actor (repeat for several)."),
                    action: Optional[str] = typer.Option(None, "--action", help="block (default) | hold_for_review."),
                    source: Optional[str] = typer.Option(None, "--source", help="Where the image came from."),
                    note: Optional[str] = typer.Option(None, "--note")):
    """Add an entry made from an image: its PDQ hash and the hashes of edited copies (crops, rotations, mirror)."""
    admin = _admin()
    limit = admin.banks.settings.media_max_upload_bytes
    with open(image, "rb") as fh:
        data = fh.read(limit + 1)
    fields = {"label": label, "severity": severity, "actors": actors, "action": action, "source": source, "note": note}
    outcome = _run(lambda: admin.add_image_entry(name, data, fields, actor=CLI_ACTOR))
    entry = outcome["entries"][0]
    err.print(f"{name}: entry {entry['id']} ({entry['pdq']}, {len(entry['variants'])} variants, quality "
              f"{outcome['image']['quality']}); {outcome['retro']['items_held']} stored item(s) held", highlight=False,
              soft_wrap=True)
    _print_json(outcome)


def register(app: typer.Typer) -> None:
    """Add ``policy`` (check, diff), ``report`` and ``banks`` to the ``modlabel`` command line."""
    app.add_typer(policy_app, name="policy")
    app.command("report")(report)
    app.add_typer(banks_app, name="banks")
