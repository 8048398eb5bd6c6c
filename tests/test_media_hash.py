"""POST /v1/media/hash: an uploaded image's PDQ hash, and every refusal as a JSON error."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from classifiers.hashing import compute_pdq
from service.app import create_app
from service.auth import create_key
from tests.test_banks import png, scene

URL = "/v1/media/hash"


@pytest.fixture
def client(storage, make_settings):
    with TestClient(create_app(make_settings(media_max_upload_bytes=200_000))) as c:
        yield c


@pytest.fixture
def cms(storage) -> dict:
    with storage.session() as s:
        _, key = create_key(s, role="cms", publisher="example-news", actor="test")
    return {"Authorization": f"Bearer {key}"}


def upload(client, headers, data: bytes, name="photo.bin", ctype="application/octet-stream"):
    return client.post(URL, files={"file": (name, data, ctype)}, headers=headers)


def test_hash_of_an_upload_matches_the_library(client, cms):
    data = png(scene(5))
    r = upload(client, cms, data, ctype="text/plain")  # the declared type is ignored: the bytes decide
    assert r.status_code == 200, r.text
    body = r.json()
    expected = compute_pdq(data)
    assert (body["pdq"], body["quality"], body["format"]) == (expected.hash_hex, expected.quality, "PNG")
    assert body["useful"] is True and (body["width"], body["height"]) == (640, 480)


def _error(r, status: int, code: str):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    return err


def test_file_over_the_limit_is_413(client, cms):
    noisy = Image.effect_noise((600, 600), 90).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "BMP")
    assert len(out.getvalue()) > 200_000
    err = _error(upload(client, cms, out.getvalue()), 413, "payload_too_large")
    assert err.get("field") in ("file", None)  # None: refused by the size guard before the route ran


def test_file_just_over_the_limit_is_refused_by_the_route(client, cms):
    err = _error(upload(client, cms, b"\xff\xd8\xff" + b"\0" * 200_000), 413, "payload_too_large")
    assert err["field"] == "file"


def test_not_an_image_is_415(client, cms):
    err = _error(upload(client, cms, b"%PDF-1.7 not an image", ctype="image/png"), 415, "unsupported_image_type")
    assert err["field"] == "file"


def test_truncated_image_is_422(client, cms):
    _error(upload(client, cms, png(scene(6))[:300]), 422, "invalid_image")


def test_empty_file_is_422(client, cms):
    _error(upload(client, cms, b""), 422, "empty_image")


def test_missing_file_and_wrong_body_type(client, cms):
    r = client.post(URL, files={"other": ("a.png", b"x", "image/png")}, headers=cms)
    assert r.status_code == 422 and r.json()["error"]["field"] == "file"
    _error(client.post(URL, json={"file": "x"}, headers=cms), 415, "unsupported_media_type")


def test_a_key_is_needed(client):
    _error(upload(client, {}, png(scene(5))), 401, "unauthorized")
