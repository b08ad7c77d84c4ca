"""A throwaway single-node SLURM (slurmctld + slurmd on localhost, munge auth) with its state in a temp dir.

Used by test_slurm.py. Needs root and Debian's slurm-wlm + munge (`.ci/setup_slurm.sh` installs them).
Every start/stop is of processes this module started itself, by pid.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
# One test cluster per machine at a time: each writes /etc/slurm/slurm.conf (job steps read it), so a second
# cluster started meanwhile sends the first one's job steps to the wrong controller ("Invalid job id").
MACHINE_LOCK = Path("/tmp/fusionsim-slurm-test.lock")
MACHINE_LOCK_WAIT_S = 1800


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here (the message says why)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)


@dataclass
class SlurmCluster:
    """Handle of a running test cluster."""

    root: Path
    conf: Path
    env: dict[str, str]
    pids: list[int] = field(default_factory=list)
    conf_backup: Path | None = None
    wrote_default_conf: bool = False
    machine_lock: IO[str] | None = None

    def stop(self) -> None:
        """Cancel leftover jobs, stop the daemons this cluster started, restore /etc/slurm/slurm.conf."""
        subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True, timeout=30)
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.wrote_default_conf:
            if self.conf_backup is not None:
                shutil.copy2(self.conf_backup, DEFAULT_CONF)
            else:
                DEFAULT_CONF.unlink(missing_ok=True)
        if self.machine_lock is not None:
            self.machine_lock.close()  # releases the flock
            self.machine_lock = None


def _read_pid(path: Path, timeout: float = 15.0) -> int:
    end = time.time() + timeout
    while time.time() < end:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().strip())
        time.sleep(0.1)
    raise SlurmUnavailable(f"no pid file {path}")


def start_cluster(root: Path, cpus: int = 2, mem_mb: int = 4000) -> SlurmCluster:
    """Write slurm.conf under `root`, start munged (own socket), slurmctld and slurmd; wait for the node to be idle."""
    if os.geteuid() != 0:
        raise SlurmUnavailable("needs root to run slurmd")
    for name in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"):
        if not _which(name):
            raise SlurmUnavailable(f"{name} not found (run .ci/setup_slurm.sh)")
    machine_lock = _take_machine_lock()
    try:
        cluster = _start(root, cpus, mem_mb)
    except BaseException:
        machine_lock.close()
        raise
    cluster.machine_lock = machine_lock
    return cluster


def _take_machine_lock() -> IO[str]:
    """Wait (up to MACHINE_LOCK_WAIT_S) until no other test cluster runs on this machine, then hold the lock."""
    fh = open(MACHINE_LOCK, "a+")  # noqa: SIM115 - held until SlurmCluster.stop
    end = time.time() + MACHINE_LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.time() > end:
                fh.close()
                raise SlurmUnavailable(
                    f"another test SLURM cluster held {MACHINE_LOCK} for {MACHINE_LOCK_WAIT_S} s"
                ) from None
            time.sleep(2)


def _start(root: Path, cpus: int, mem_mb: int) -> SlurmCluster:
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool", "log", "munge"):
        (root / sub).mkdir(exist_ok=True)
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    sock = root / "munge" / "munge.socket"
    cluster_pids: list[int] = []
    munged = subprocess.run(
        [
            _which("munged"),
            "--force",
            f"--socket={sock}",
            f"--key-file={key}",
            f"--pid-file={root / 'munge/munged.pid'}",
            f"--log-file={root / 'log/munged.log'}",
            f"--seed-file={root / 'munge/seed'}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if munged.returncode != 0:
        raise SlurmUnavailable(f"munged failed: {munged.stderr.strip() or munged.stdout.strip()}")
    cluster_pids.append(_read_pid(root / "munge/munged.pid"))
    ctld_port, d_port = _free_port(), _free_port()
    conf = root / "slurm.conf"
    conf.write_text(f"""# single-node test cluster (tests/workflow/slurm_cluster.py)
ClusterName=fusionsimtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "slurmctld.pid"}
SlurmdPidFile={root / "slurmd.pid"}
SlurmctldLogFile={root / "log/slurmctld.log"}
SlurmdLogFile={root / "log/slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = SlurmCluster(root=root, conf=conf, env=env, pids=cluster_pids)
    try:
        # Slurm's default config location, for tools that do not see SLURM_CONF (job steps, plugins)
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        if DEFAULT_CONF.exists():
            cluster.conf_backup = root / "slurm.conf.orig"
            shutil.copy2(DEFAULT_CONF, cluster.conf_backup)
        shutil.copy2(conf, DEFAULT_CONF)
        cluster.wrote_default_conf = True
        for daemon, args in (("slurmctld", ["-i"]), ("slurmd", ["-N", "localhost"])):
            proc = subprocess.run(
                [_which(daemon), *args, "-f", str(conf)], env=env, capture_output=True, text=True, timeout=60
            )
            if proc.returncode != 0:
                raise SlurmUnavailable(f"{daemon} failed to start: {proc.stderr.strip()}")
            cluster.pids.append(_read_pid(root / f"{daemon}.pid"))
            time.sleep(1)
        end = time.time() + 60
        state = ""
        while time.time() < end:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
            state = out.stdout.strip()
            if state.startswith("idle"):
                return cluster
            time.sleep(1)
        log = (
            (root / "log/slurmctld.log").read_text()[-2000:] if (root / "log/slurmctld.log").exists() else ""
        )
        raise SlurmUnavailable(f"node not idle after 60 s (state {state!r}); slurmctld log tail: {log}")
    except BaseException:
        cluster.stop()
        raise
