"""The committed spec is what the app serves (regenerate with `make openapi`)."""

import json

from service.openapi_spec import SPEC_PATH, spec_json


def test_committed_spec_matches_the_app():
    assert SPEC_PATH.exists(), "openapi/openapi.json is missing: run `make openapi`"
    committed = SPEC_PATH.read_text()
    served = spec_json()
    assert committed == served, "openapi/openapi.json is stale: run `make openapi` and commit it"


def test_spec_has_the_contract_routes_and_examples():
    spec = json.loads(spec_json())
    assert "/v1/moderate" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert schemas["ContentItem"].get("examples")
    assert schemas["ModerationResult"].get("examples")
