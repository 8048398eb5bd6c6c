"""``modlabel db ...`` and ``modlabel webhooks ...``: migrations, webhook secrets, the callback outbox."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema (Alembic migrations shipped in the package).", no_args_is_help=True)
webhooks_app = typer.Typer(help="Standard Webhooks secrets and the callback outbox.", no_args_is_help=True)


def _storage():
    from service.config import get_settings
    from service.storage import Storage

    return Storage(get_settings())


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision.")):
    """Migrate the database (DATABASE_URL, else SQLite in the data directory) to REVISION."""
    from service.db.migrate import upgrade

    storage = _storage()
    now = upgrade(storage.engine, revision)
    typer.echo(f"database {storage.engine.url.render_as_string(hide_password=True)} at revision {now}", err=True)


@db_app.command("current")
def db_current():
    """Print the database's revision and the newest one shipped."""
    from service.db.migrate import current_revision, head_revision

    storage = _storage()
    typer.echo(f"current: {current_revision(storage.engine) or 'none'}\nhead: {head_revision()}")


@webhooks_app.command("add-secret")
def add_secret(publisher: str = typer.Option(..., "--publisher", help="The publisher the secret signs for.")):
    """Create a new signing secret; older ones stay valid until revoked. Prints it once, on the last line."""
    from service.db.secrets import add_secret as add

    storage = _storage()
    with storage.session() as session:
        row = add(session, publisher=publisher)
        secret, secret_id = row.secret, row.id
    typer.echo(f"secret {secret_id} for publisher {publisher!r}; store it in the CMS now, it is not shown again:")
    typer.echo(secret)


@webhooks_app.command("list-secrets")
def list_secrets(publisher: str = typer.Option(..., "--publisher")):
    """Active secrets of a publisher (ids and dates only)."""
    from service.db.secrets import active_secrets

    storage = _storage()
    with storage.session() as session:
        for row in active_secrets(session, publisher=publisher):
            typer.echo(f"{row.id}\t{row.created_at.isoformat()}")


@webhooks_app.command("revoke-secret")
def revoke_secret(publisher: str = typer.Option(..., "--publisher"), secret_id: int = typer.Option(..., "--id")):
    """Stop accepting (and signing with) one secret."""
    from service.db.secrets import revoke_secret as revoke

    storage = _storage()
    with storage.session() as session:
        done = revoke(session, publisher=publisher, secret_id=secret_id)
    if not done:
        typer.echo(f"no active secret {secret_id} for publisher {publisher!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked secret {secret_id}", err=True)


@webhooks_app.command("drain-outbox")
def drain():
    """Send every due callback now (what the server's background sender does every few seconds)."""
    from service.outbox import drain_outbox

    storage = _storage()
    report = drain_outbox(storage)
    typer.echo(f"sent {len(report.sent)}, failed {len(report.failed)}", err=True)
    for msg_id, error in report.failed.items():
        typer.echo(f"  {msg_id}: {error}", err=True)
