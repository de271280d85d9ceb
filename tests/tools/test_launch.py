"""The launcher: roles and their environment, failure propagation, silence timeout, Ctrl-C, no orphans.

These jobs run small Python commands in place of training (no MXNet): each looks at DMLC_ROLE.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from common.paths import REPO
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
    command = [sys.executable, "-m", "tools.launch", "-n", "2", "-s", "1", "--grace", "2", *flags,
               "--", sys.executable, "-c", SCRIPT]
    # SIGINT as in a terminal, even when the tests themselves run in the background (which ignores it)
    return subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_until_up(proc, roles=4):
    """Read the job's output until every role has said it is up; returns those lines."""
    lines = []
    while sum(line.endswith(" up\n") for line in lines) < roles:
        line = proc.stdout.readline()
        assert line, "the job ended before every role was up"
        lines.append(line)
    return lines


def _no_children(marker="DMLC_ROLE"):
    """No process of ours with a DMLC role is left."""
    left = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if b"DMLC_ROLE=" in open(f"/proc/{pid}/environ", "rb").read() and int(pid) != os.getpid():
                    left.append(pid)
            except OSError:
                pass
    return left


def test_a_successful_job_forwards_prefixed_output_and_leaves_nothing(tmp_path):
    proc = _launch(tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    for line in ("[worker 1] worker up", "[scheduler] scheduler up", "[server 0] server up"):
        assert line in out
    assert _no_children() == []


def test_a_failing_worker_stops_the_job_with_its_code(tmp_path):
    start = time.time()
    proc = _launch(tmp_path, env={"WORKER_EXIT": "3"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "exited with code 3; the job was stopped" in err and "worker" in err
    assert time.time() - start < 30 and _no_children() == []


def test_a_silent_job_is_stopped(tmp_path):
    proc = _launch(tmp_path, "--silence-timeout", "2", env={"WORK_S": "600"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 124 and "no process printed anything for 2 s" in err
    assert _no_children() == []


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_or_sigterm_stops_every_process(tmp_path, sig, code, word):
    proc = _launch(tmp_path, env={"WORK_S": "600"})
    _wait_until_up(proc)
    os.killpg(proc.pid, sig)  # Ctrl-C reaches the terminal's whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code and f"{word}: the job was stopped" in err
    assert _no_children() == []


def test_bad_launcher_flags_are_named_errors(capsys):
    assert launch.main(["-n", "2", "--"]) == 2
    assert "no command" in capsys.readouterr().err
    assert launch.main(["-n", "2", "--launcher", "ssh", "--", "python", "train.py"]) == 2
    assert "--launcher ssh needs -H/--hostfile" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        launch.main(["-n", "0", "--", "true"])
