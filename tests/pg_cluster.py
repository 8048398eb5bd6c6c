"""A throwaway PostgreSQL cluster that a test may stop and start (``initdb`` + ``pg_ctl``).

    cluster = PgCluster.create()     # initdb into a fresh /tmp directory, trust auth, user postgres
    cluster.start(); cluster.url     # postgresql://postgres@127.0.0.1:<port>/postgres
    cluster.stop()                   # pg_ctl stop -m fast: sessions are cut, the port refuses
    cluster.destroy()                # stop if running, remove the directory

Run as root, ``initdb`` and ``pg_ctl`` run as the ``postgres`` user (PostgreSQL refuses
root), so the directory is created under /tmp and handed to that user.
``PgCluster.unavailable()`` says why no cluster can be made here (binaries or user absent).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                            if Path(p).parent.name.isdigit() else 0, reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgCluster:
    """One cluster in ``directory`` on 127.0.0.1:``port``; see the module docstring."""

    bin_dir: Path
    directory: Path
    port: int
    run_as: str | None  # "postgres" when this process is root

    @staticmethod
    def unavailable() -> str | None:
        """None when a cluster can be made here, else the reason (for pytest.skip)."""
        if _bin_dir() is None:
            return "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no 'postgres' user to run the throwaway cluster"
            if shutil.which("runuser") is None:
                return "running as root and runuser is missing (needed to start PostgreSQL as 'postgres')"
        return None

    @classmethod
    def create(cls) -> "PgCluster":
        reason = cls.unavailable()
        if reason:
            raise RuntimeError(reason)
        root = Path(tempfile.mkdtemp(prefix="modlabel-pg-", dir="/tmp"))
        run_as = "postgres" if os.geteuid() == 0 else None
        if run_as:
            user = pwd.getpwnam(run_as)
            os.chown(root, user.pw_uid, user.pw_gid)
        os.chmod(root, 0o755)
        cluster = cls(bin_dir=_bin_dir(), directory=root, port=_free_port(), run_as=run_as)  # type: ignore[arg-type]
        cluster._run("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        return cluster

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / tool), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed ({out.returncode}): {out.stderr[-2000:] or out.stdout[-2000:]}")
        return out

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "server.log"), "-w",
                  "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
