"""CI's dependency audit: ``pip-audit`` over the installed environment, failing only on known vulnerabilities.

    .venv/bin/python scripts/pip_audit_ci.py [--pip-audit PATH]

Exit 1 when a vulnerability is reported, or when pip-audit fails for a reason other
than the network. Exit 0 otherwise, including when the vulnerability service cannot be
reached or answers for no package (a machine without access to PyPI's JSON API gets
"Dependency not found on PyPI" for everything): then one line starting with
``pip-audit: SKIPPED`` says so, because "No known vulnerabilities found" would be untrue.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NETWORK_SIGNS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "Temporary failure in name resolution",
                 "Name or service not known", "Network is unreachable", "timed out", "ReadTimeout", "ConnectTimeout",
                 "SSLError", "ProxyError")
NOT_FOUND = "not found on PyPI"
TIMEOUT_SECONDS = 600


def default_pip_audit() -> str:
    return str(Path(sys.executable).with_name("pip-audit"))


def run_pip_audit(exe: str) -> tuple[int, str, str]:
    """pip-audit's (exit code, JSON stdout, stderr); exit code 124 when it timed out."""
    cmd = [exe, "--format", "json", "--progress-spinner", "off", "--skip-editable", "--timeout", "20"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return 124, "", f"pip-audit timed out after {TIMEOUT_SECONDS} s"
    return proc.returncode, proc.stdout, proc.stderr


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, list[str]]:
    """(exit code for CI, lines to print) from one pip-audit run."""
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        tail = stderr.strip().splitlines()[-1:] or ["(no output)"]
        if returncode == 124 or any(sign in stderr for sign in NETWORK_SIGNS):
            return 0, [f"pip-audit: SKIPPED: the vulnerability service could not be reached ({tail[0][:300]}); "
                       "nothing was audited"]
        return 1, [f"pip-audit: FAILED to run (exit {returncode}): {tail[0][:300]}"]
    deps = report.get("dependencies", []) if isinstance(report, dict) else []
    vulnerable = [d for d in deps if d.get("vulns")]
    if vulnerable:
        lines = [f"pip-audit: {sum(len(d['vulns']) for d in vulnerable)} known vulnerabilities in "
                 f"{len(vulnerable)} installed package(s):"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln.get('id', '?')} (fixed in {fixed})")
        return 1, lines
    audited = [d for d in deps if "skip_reason" not in d]
    unknown = [d for d in deps if NOT_FOUND in str(d.get("skip_reason", ""))]
    if not audited:
        return 0, [f"pip-audit: SKIPPED: the vulnerability service answered for none of the {len(deps)} installed "
                   f"packages ({len(unknown)} 'not found on PyPI': this machine cannot reach PyPI's JSON API); "
                   "nothing was audited"]
    lines = [f"pip-audit: no known vulnerabilities in {len(audited)} audited package(s)"]
    if unknown:
        names = ", ".join(sorted(d["name"] for d in unknown))
        lines.append(f"pip-audit: {len(unknown)} package(s) could not be looked up: {names}")
    return 0, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-audit", default=default_pip_audit(), help="the pip-audit executable (default: beside python)")
    args = parser.parse_args(argv)
    code, lines = verdict(*run_pip_audit(args.pip_audit))
    for line in lines:
        print(line, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
