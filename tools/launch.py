"""Start a distributed training job on MXNet's parameter-server kvstore, and supervise it.

Usage::

    python -m tools.launch -n 2 -s 1 -- python train.py --train-rec data/synthetic/train.rec \\
        --prefix build/dist/ssd --kvstore dist_sync
    python -m tools.launch -n 4 -s 2 --launcher ssh -H hosts.txt -- \\
        python train.py ... --kvstore dist_device_sync --gpus 0,1

Every process runs the same command with the DMLC environment of its role
(``DMLC_ROLE`` scheduler / server / worker, the scheduler's address and port, the
number of servers and workers): for the scheduler and the servers, ``import
mxnet`` itself runs the parameter server and exits when the workers are done.

``local`` starts everything on this machine on a free loopback port.
``ssh`` starts the scheduler here and each server and worker on the hosts of
``--hostfile`` (one host per line, used in turn; the repository at the same
path on every host, which must reach this one at ``--root-uri``).

Supervision: every line a process prints is forwarded with its role and rank
(``[worker 1] ...``); when a process fails, the whole job is stopped within
``--grace`` seconds, no process is left behind, and the launcher exits with
that process's code and a message naming it; Ctrl-C stops the job (exit 130).
A job where no process exits and none prints for ``--silence-timeout``
seconds (a missing worker or a blocked port make the parameter server wait
forever) is stopped the same way.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from common import cli
from common.ports import free_port


@dataclass
class Role:
    kind: str            # scheduler, server or worker
    rank: int
    host: str = "127.0.0.1"

    @property
    def label(self) -> str:
        return self.kind if self.kind == "scheduler" else f"{self.kind} {self.rank}"


@dataclass
class Job:
    roles: List[Role]
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    last_output: float = field(default_factory=time.time)


def dmlc_env(role: Role, *, root_uri: str, port: int, servers: int, workers: int) -> Dict[str, str]:
    """The environment variables ps-lite reads for ``role``."""
    return {"DMLC_ROLE": role.kind, "DMLC_PS_ROOT_URI": root_uri, "DMLC_PS_ROOT_PORT": str(port),
            "DMLC_NUM_SERVER": str(servers), "DMLC_NUM_WORKER": str(workers),
            # the address this process announces to the others (ps-lite would guess an interface)
            "DMLC_NODE_HOST": role.host, "PS_VERBOSE": os.environ.get("PS_VERBOSE", "0")}


def plan(workers: int, servers: int, hosts: Sequence[str], root_uri: str) -> List[Role]:
    """Scheduler on this machine; servers then workers on ``hosts`` in turn (all local without hosts)."""
    roles = [Role("scheduler", 0, root_uri)]
    cycle = list(hosts) or [root_uri]
    for i in range(servers):
        roles.append(Role("server", i, cycle[i % len(cycle)]))
    for i in range(workers):
        roles.append(Role("worker", i, cycle[(servers + i) % len(cycle)]))
    return roles


def read_hostfile(path: Path) -> List[str]:
    """The hosts of a hostfile: the first word of each line (``node1 slots=4`` is ``node1``); blank lines
    and ``#`` comments are skipped. A file without a host is an error naming it."""
    lines = path.read_text().splitlines()
    hosts = [line.split()[0] for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not hosts:
        raise ValueError(f"{path}: no host")
    return hosts


def _forward(job: Job, label: str, stream) -> None:
    for raw in iter(stream.readline, b""):
        job.last_output = time.time()
        sys.stdout.write(f"[{label}] {raw.decode(errors='replace')}")
        sys.stdout.flush()
    stream.close()


def _start(job: Job, role: Role, command: Sequence[str], env: Dict[str, str], ssh: bool,
           workdir: Path) -> None:
    if ssh and role.kind != "scheduler":
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        argv = ["ssh", "-o", "BatchMode=yes", role.host,
                f"cd {shlex.quote(str(workdir))} && env {exports} {shlex.join(command)}"]
        child_env = dict(os.environ)
    else:
        argv, child_env = list(command), {**os.environ, **env}
    process = subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # its own process group: stopped as a whole
    job.processes[role.label] = process
    threading.Thread(target=_forward, args=(job, role.label, process.stdout), daemon=True).start()


def stop(job: Job, grace: float) -> None:
    """SIGTERM every process group, then SIGKILL what is left after ``grace`` seconds."""
    for process in job.processes.values():
        if process.poll() is None:
            _signal(process, signal.SIGTERM)
    deadline = time.time() + grace
    for process in job.processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait()


def _signal(process: subprocess.Popen, sig) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def supervise(job: Job, *, grace: float, silence: float, poll: float = 0.2) -> int:
    """Wait for the job; the first failure (or a silent hang) stops everything. Returns the exit code."""
    workers = [label for label in job.processes if label.startswith("worker")]
    while True:
        codes = {label: p.poll() for label, p in job.processes.items()}
        failed = [(label, code) for label, code in codes.items() if code not in (None, 0)]
        if failed:
            label, code = failed[0]
            stop(job, grace)
            print(f"error: {label} exited with code {code}; the job was stopped", file=sys.stderr)
            return code if code > 0 else 1
        if all(codes[label] == 0 for label in workers):
            stop(job, grace)  # the scheduler and servers end with the workers; make sure of it
            return 0
        if time.time() - job.last_output > silence:
            stop(job, grace)
            waiting = [label for label, code in codes.items() if code is None]
            print(f"error: no process printed anything for {silence:g} s (still running: "
                  f"{', '.join(waiting)}); a missing or blocked process makes the parameter server wait "
                  "forever, so the job was stopped", file=sys.stderr)
            return 124
        time.sleep(poll)


class Terminated(Exception):
    """The launcher received SIGTERM."""


def _terminated(signum, frame):
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python -m tools.launch", "Launch and supervise a distributed training job "
                        "(MXNet's parameter-server kvstore).")
    p.add_argument("-n", "--workers", type=cli.positive_int, required=True, help="worker processes")
    p.add_argument("-s", "--servers", type=cli.positive_int, default=1, help="parameter-server processes")
    p.add_argument("--launcher", choices=("local", "ssh"), default="local",
                   help="local: everything on this machine, on loopback; "
                        "ssh: servers and workers on --hostfile")
    p.add_argument("-H", "--hostfile", type=Path, default=None, help="ssh: one host per line")
    p.add_argument("--root-uri", default=None,
                   help="address of the scheduler that every process reaches (default: 127.0.0.1 for local, "
                        "this host's address for ssh)")
    p.add_argument("--port", type=cli.positive_int, default=None, help="scheduler port (default: a free one)")
    p.add_argument("--grace", type=cli.positive_float, default=10.0,
                   help="seconds between SIGTERM and SIGKILL when the job is stopped")
    p.add_argument("--silence-timeout", type=cli.positive_float, default=600.0,
                   help="stop a job in which no process printed anything for this many seconds")
    p.add_argument("job", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="-- then the training command")
    return p


def run(args: argparse.Namespace) -> int:
    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    if not command:
        raise ValueError("no command: give it after --, e.g. -- python train.py ... --kvstore dist_sync")
    if not any(a.startswith("dist") or "--kvstore=dist" in a for a in command):
        print("warning: the command does not ask for a dist kvstore (--kvstore dist_sync): each worker "
              "would train alone", file=sys.stderr)
    hosts: List[str] = []
    if args.launcher == "ssh":
        if args.hostfile is None:
            raise ValueError("--launcher ssh needs -H/--hostfile")
        hosts = read_hostfile(args.hostfile)
    local = args.launcher == "local"
    root = args.root_uri or ("127.0.0.1" if local else socket.gethostbyname(socket.gethostname()))
    port = args.port or free_port("127.0.0.1" if local else "")
    job = Job(plan(args.workers, args.servers, hosts, root))
    # A scheduler (Slurm, a container runtime) stops the launcher with SIGTERM: stop the job as for Ctrl-C.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        for role in job.roles:
            env = dmlc_env(role, root_uri=root, port=port, servers=args.servers, workers=args.workers)
            _start(job, role, command, env, ssh=args.launcher == "ssh", workdir=Path.cwd())
        return supervise(job, grace=args.grace, silence=args.silence_timeout)
    except (KeyboardInterrupt, Terminated) as err:
        stop(job, args.grace)
        print(f"{'terminated' if isinstance(err, Terminated) else 'interrupted'}: the job was stopped",
              file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
