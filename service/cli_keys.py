"""``modlabel keys ...``: create, list and revoke API keys (only their hashes are stored)."""

from __future__ import annotations

from typing import Optional

import typer

keys_app = typer.Typer(help="API keys: roles cms, moderator, admin; scoped to a publisher (admin may be global).",
                       no_args_is_help=True)


def _storage():
    from service.config import get_settings
    from service.storage import Storage

    return Storage(get_settings())


@keys_app.command("create")
def create(role: str = typer.Option(..., "--role", help="cms | moderator | admin"),
           publisher: Optional[str] = typer.Option(None, "--publisher", help="The publisher the key acts for "
                                                   "(required for cms and moderator; an admin without one is global)."),
           rate_limit: Optional[int] = typer.Option(None, "--rate-limit", min=0, help="Requests a minute for this key "
                                                    "(0 = no limit); default: MODLABEL_RATE_LIMIT_PER_MINUTE.")):
    """Create a key and print it once, alone on the last line."""
    from service.auth import ROLES, create_key

    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}")
    if publisher is not None:
        import re

        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", publisher):
            raise typer.BadParameter("--publisher must match ^[a-z0-9][a-z0-9_.-]*$ (64 characters at most)")
    storage = _storage()
    try:
        with storage.session() as session:
            row, key = create_key(session, role=role, publisher=publisher, actor="cli", rate_limit_per_minute=rate_limit)
            key_id = row.id
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    scope = f"publisher {publisher!r}" if publisher else "every publisher"
    typer.echo(f"{role} key {key_id} for {scope}; store it now, it is not shown again:")
    typer.echo(key)


@keys_app.command("list")
def list_(publisher: Optional[str] = typer.Option(None, "--publisher"),
          all_: bool = typer.Option(False, "--all", help="Include revoked keys.")):
    """Keys (ids, roles, publishers, dates; never the keys)."""
    from service.auth import list_keys

    storage = _storage()
    with storage.session() as session:
        rows = list_keys(session, publisher=publisher, include_revoked=all_)
    for row in rows:
        revoked = f"\trevoked {row.revoked_at.isoformat()}" if row.revoked_at else ""
        limit = "" if row.rate_limit_per_minute is None else f"\trate limit {row.rate_limit_per_minute}/min"
        typer.echo(f"{row.id}\t{row.role}\t{row.publisher or '*'}\t{row.created_at.isoformat()}{limit}{revoked}")


@keys_app.command("limit")
def limit(key_id: str = typer.Argument(..., help="The key's id (`modlabel keys list`)."),
          per_minute: Optional[int] = typer.Option(None, "--per-minute", min=0, help="Requests a minute (0 = no limit)."),
          default: bool = typer.Option(False, "--default", help="Follow MODLABEL_RATE_LIMIT_PER_MINUTE again.")):
    """Give a key its own rate limit; running servers apply it within `MODLABEL_KEY_CACHE_SECONDS`."""
    from service.auth import set_rate_limit

    if (per_minute is None) == (not default):
        raise typer.BadParameter("give exactly one of --per-minute N and --default")
    storage = _storage()
    with storage.session() as session:
        done = set_rate_limit(session, key_id=key_id, rate_limit_per_minute=per_minute, actor="cli")
    if not done:
        typer.echo(f"no active key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"key {key_id}: " + ("the default rate limit" if default else f"{per_minute} requests a minute"), err=True)


@keys_app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (`modlabel keys list`).")):
    """Revoke a key; running servers refuse it within `MODLABEL_KEY_CACHE_SECONDS`."""
    from service.auth import revoke_key

    storage = _storage()
    with storage.session() as session:
        done = revoke_key(session, key_id=key_id, actor="cli")
    if not done:
        typer.echo(f"no active key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {key_id}", err=True)
