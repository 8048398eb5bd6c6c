"""CI's dependency audit (scripts/pip_audit_ci.py): vulnerabilities fail, an unreachable service is a clear skip."""

from __future__ import annotations

import json
import stat
import sys

from tests.support import REPO

sys.path.insert(0, str(REPO / "scripts"))
import pip_audit_ci  # noqa: E402


def report(*deps) -> str:
    return json.dumps({"dependencies": list(deps), "fixes": []})


OK = {"name": "fastapi", "version": "0.165.0", "vulns": []}
VULN = {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"]}]}
NOT_FOUND = {"name": "numpy", "skip_reason": "Dependency not found on PyPI and could not be audited: numpy (2.3.0)"}
EDITABLE = {"name": "modlabel", "skip_reason": "distribution marked as editable"}


def test_a_vulnerability_fails_with_its_id_and_fix():
    code, lines = pip_audit_ci.verdict(1, report(OK, VULN), "")
    assert code == 1 and "1 known vulnerabilities in 1 installed package(s)" in lines[0]
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in lines[1]


def test_nothing_looked_up_is_a_clear_skip_not_a_clean_bill():
    code, lines = pip_audit_ci.verdict(0, report(NOT_FOUND, EDITABLE), "")
    assert code == 0 and lines[0].startswith("pip-audit: SKIPPED") and "none of the 2" in lines[0]


def test_unreachable_service_is_a_skip_and_other_crashes_fail():
    dns = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev'): Max retries exceeded"
    code, lines = pip_audit_ci.verdict(1, "", "Traceback ...\n" + dns)
    assert code == 0 and lines[0].startswith("pip-audit: SKIPPED") and "api.osv.dev" in lines[0]
    code, lines = pip_audit_ci.verdict(2, "", "pip-audit: error: unrecognized arguments: --bogus")
    assert code == 1 and "FAILED to run" in lines[0]
    assert pip_audit_ci.verdict(124, "", "pip-audit timed out after 600 s")[0] == 0


def test_partly_audited_names_what_was_not_looked_up():
    code, lines = pip_audit_ci.verdict(0, report(OK, NOT_FOUND, EDITABLE), "")
    assert code == 0 and lines[0] == "pip-audit: no known vulnerabilities in 1 audited package(s)"
    assert lines[1] == "pip-audit: 1 package(s) could not be looked up: numpy"


def test_main_runs_the_executable_and_returns_its_verdict(tmp_path, capsys):
    fake = tmp_path / "pip-audit"
    fake.write_text(f"#!/bin/sh\ncat <<'JSON'\n{report(VULN)}\nJSON\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert pip_audit_ci.main(["--pip-audit", str(fake)]) == 1
    assert "GHSA-h5c8-rqwp-cp95" in capsys.readouterr().out
