"""A private PostgreSQL cluster for the drills and benchmarks that stop the database: made with the system's
initdb in a temporary folder, on a free loopback port, started and stopped with pg_ctl (as the postgres user when
we are root: PostgreSQL will not run as root), removed at the end. Never the machine's shared server."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citygrid.procs import free_port


def _bin() -> Path:
    """The newest installed PostgreSQL's programs (initdb, pg_ctl)."""
    return sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Cluster:
    """A cluster in `data`, listening on 127.0.0.1:`port` (and a socket in its own folder)."""

    def __init__(self, data: Path, port: int) -> None:
        self.data, self.port = data, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        """pg_ctl on this cluster, as the postgres user when we are root."""
        subprocess.run([*_as_postgres(), str(_bin() / "pg_ctl"), "-D", str(self.data), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        """initdb: trust for local connections, UTF-8."""
        subprocess.run([*_as_postgres(), str(_bin() / "initdb"), "-D", str(self.data), "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL)

    def up(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.pg_ctl("-w", "-l", str(self.data / "server.log"), "-o",
                    f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def down(self, mode: str = "fast") -> None:
        """Stop the server (its postmaster, by the id in postmaster.pid) and wait until it has stopped."""
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("-m", mode, "-w", "stop")

    def log_tail(self, lines: int = 20) -> str:
        """The end of the server's log (for a drill that failed)."""
        log = self.data / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A fresh cluster, started; stopped and removed when the block ends, whatever happened in it."""
    data = Path(tempfile.mkdtemp(prefix="citygrid-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    cluster = Cluster(data, free_port())
    try:
        cluster.init()
        cluster.up()
        yield cluster
    finally:
        try:
            cluster.down()
        except subprocess.CalledProcessError:  # a fast stop that did not finish: stop it without waiting for more
            cluster.down("immediate")
        shutil.rmtree(data, ignore_errors=True)
