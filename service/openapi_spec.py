"""The committed OpenAPI document: generated from the app, checked by a test."""

from __future__ import annotations

import json
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def spec_json() -> str:
    from service.app import create_app
    from service.config import Settings

    app = create_app(Settings(classifier_enabled=False, bootstrap_admin=False))
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
