"""Helpers shared by tests: paths to ../shared and small item builders."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or skip the test with the reason."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only present on the team's machines, not on a fresh clone)")
    return path


def seed_item(publisher: str = "example-news") -> dict:
    text = shared_path("examples", "seed_article_isis_mosul.txt").read_text(encoding="utf-8")
    title, body = text.split("\n", 1)
    return {"id": "seed-isis-mosul", "publisher": publisher, "type": "article", "title": title.strip(), "body": body.strip()}


def bearer(storage, role: str = "admin", publisher: str | None = None) -> dict[str, str]:
    """``Authorization`` headers with a new API key stored in ``storage`` (a ``service.storage.Storage``)."""
    from service.auth import create_key

    with storage.session() as session:
        key = create_key(session, role=role, publisher=publisher, actor="test")[1]
    return {"Authorization": f"Bearer {key}"}
