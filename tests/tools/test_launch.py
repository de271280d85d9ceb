"""The launcher: roles and their environment, failure propagation, silence timeout, Ctrl-C, no orphans.

These jobs run small Python commands in place of training (no MXNet): each looks at DMLC_ROLE.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.paths import REPO
from tests.processes import job_marker, marked
from tools import launch


def test_roles_and_their_environment():
    roles = launch.plan(workers=2, servers=1, hosts=[], root_uri="127.0.0.1")
    assert [r.label for r in roles] == ["scheduler", "server 0", "worker 0", "worker 1"]
    env = launch.dmlc_env(roles[2], root_uri="127.0.0.1", port=9000, servers=1, workers=2)
    assert env["DMLC_ROLE"] == "worker" and env["DMLC_PS_ROOT_URI"] == env["DMLC_NODE_HOST"] == "127.0.0.1"
    assert (env["DMLC_PS_ROOT_PORT"], env["DMLC_NUM_SERVER"], env["DMLC_NUM_WORKER"]) == ("9000", "1", "2")
    hosts = launch.plan(workers=3, servers=1, hosts=["a", "b"], root_uri="10.0.0.1")
    assert [(r.label, r.host) for r in hosts] == [("scheduler", "10.0.0.1"), ("server 0", "a"),
                                                   ("worker 0", "b"), ("worker 1", "a"), ("worker 2", "b")]


#: Workers print and exit with the code in FAIL_RANK's turn; scheduler and servers wait (as a PS does).
SCRIPT = ("import os, sys, time\n"
          "role = os.environ['DMLC_ROLE']\n"
          "print(role, 'up', flush=True)\n"
          "if role != 'worker':\n    time.sleep(600)\n"
          "time.sleep(float(os.environ.get('WORK_S', '0.5')))\n"
          "sys.exit(int(os.environ.get('WORKER_EXIT', '0')))\n")


def _launch(tmp_path, *flags, env=None):
    """The launcher on SCRIPT, every process marked (``proc.marker``) so that leftovers can be found."""
    command = [sys.executable, "-m", "tools.launch", "-n", "2", "-s", "1", "--grace", "2", *flags,
               "--", sys.executable, "-c", SCRIPT]
    marker = job_marker()
    # SIGINT as in a terminal, even when the tests themselves run in the background (which ignores it)
    proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **marker, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    proc.marker = marker
    return proc


def _wait_until_up(proc, roles=4):
    """Read the job's output until every role has said it is up; returns those lines."""
    lines = []
    while sum(line.endswith(" up\n") for line in lines) < roles:
        line = proc.stdout.readline()
        assert line, "the job ended before every role was up"
        lines.append(line)
    return lines


def _left(proc) -> list:
    """Processes of the job ``proc`` started that are still running (roles, launcher)."""
    return marked(proc.marker)


def test_a_marked_process_is_found_until_it_ends():
    """The leftover check can fail: a marked process is seen while it runs, and only then."""
    marker = job_marker()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               env={**os.environ, **marker})
    try:
        assert marked(marker) == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert marked(marker) == []


def test_a_successful_job_forwards_prefixed_output_and_leaves_nothing(tmp_path):
    proc = _launch(tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    for line in ("[worker 1] worker up", "[scheduler] scheduler up", "[server 0] server up"):
        assert line in out
    assert _left(proc) == []


def test_a_failing_worker_stops_the_job_with_its_code(tmp_path):
    start = time.time()
    proc = _launch(tmp_path, env={"WORKER_EXIT": "3"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "exited with code 3; the job was stopped" in err and "worker" in err
    assert time.time() - start < 30 and _left(proc) == []


def test_a_silent_job_is_stopped(tmp_path):
    proc = _launch(tmp_path, "--silence-timeout", "2", env={"WORK_S": "600"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 124 and "no process printed anything for 2 s" in err
    assert _left(proc) == []


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_stops_every_process(tmp_path, sig, code, word):
    proc = _launch(tmp_path, env={"WORK_S": "600"})
    _wait_until_up(proc)
    os.killpg(proc.pid, sig)  # Ctrl-C reaches the terminal's whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code and f"{word}: the job was stopped" in err
    assert _left(proc) == []


def test_bad_launcher_flags_are_named_errors(capsys):
    assert launch.main(["-n", "2", "--"]) == 2
    assert "no command" in capsys.readouterr().err
    assert launch.main(["-n", "2", "--launcher", "ssh", "--", "python", "train.py"]) == 2
    assert "--launcher ssh needs -H/--hostfile" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        launch.main(["-n", "0", "--", "true"])


def test_hostfile_lines_give_hosts_in_order(tmp_path):
    hostfile = tmp_path / "hosts.txt"
    hostfile.write_text("# the cluster\nnode1 slots=2\n\n   node2\n  # node3 is down\nnode4\n")
    assert launch.read_hostfile(hostfile) == ["node1", "node2", "node4"]
    hostfile.write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="hosts.txt: no host"):
        launch.read_hostfile(hostfile)


class _FakeProcess:
    """Stands for a started process: it printed one line and exited with 0."""

    def __init__(self, argv, env=None, **kwargs):
        import io
        self.argv, self.env, self.pid = argv, env, 0
        self.stdout = io.BytesIO(b"done\n")
        _FakeProcess.started.append(self)

    def poll(self):
        return 0

    def wait(self, timeout=None):
        return 0


def test_ssh_mode_starts_the_scheduler_here_and_each_role_on_its_host(tmp_path, monkeypatch):
    import shlex
    hostfile = tmp_path / "hosts.txt"
    hostfile.write_text("node1\nnode2\n")
    _FakeProcess.started = []
    monkeypatch.setattr(launch.subprocess, "Popen", _FakeProcess)
    command = ["python", "train.py", "--prefix", "build/my ssd", "--kvstore", "dist_sync"]
    assert launch.main(["-n", "2", "-s", "1", "--launcher", "ssh", "-H", str(hostfile), "--root-uri",
                        "10.0.0.1", "--port", "9000", "--", *command]) == 0
    scheduler, *remote = _FakeProcess.started
    assert scheduler.argv == command and scheduler.env["DMLC_ROLE"] == "scheduler"
    assert [p.argv[:4] for p in remote] == [["ssh", "-o", "BatchMode=yes", host]
                                            for host in ("node1", "node2", "node1")]
    for process, (role, host) in zip(remote, (("server", "node1"), ("worker", "node2"), ("worker", "node1"))):
        cd, workdir, conj, env, *rest = shlex.split(process.argv[4])
        assert (cd, workdir, conj, env) == ("cd", str(Path.cwd()), "&&", "env")
        assignments = dict(a.split("=", 1) for a in rest[:len(rest) - len(command)])
        assert rest[-len(command):] == command  # the path with a space arrives as one argument
        assert assignments["DMLC_ROLE"] == role and assignments["DMLC_NODE_HOST"] == host
        assert (assignments["DMLC_PS_ROOT_URI"], assignments["DMLC_PS_ROOT_PORT"]) == ("10.0.0.1", "9000")
        assert (assignments["DMLC_NUM_SERVER"], assignments["DMLC_NUM_WORKER"]) == ("1", "2")
