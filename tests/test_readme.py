"""Every command the README shows runs as written (with small sizes), after the two set-up commands.

The ``bash`` blocks of README.md are read line by line (backslash continuations
joined, comments dropped). ``python``/``ssd-*`` commands run in a scratch
folder that looks like the repository (its scripts, model/ and data/demo/),
with the sizes in SMALL substituted so the whole chain takes about a minute;
``make`` targets are dry-run (``make -n``); servers (SERVERS) start in the
background on a free port, which later commands use in place of the README's,
and stop at the end. A command the test does not know how to treat fails
the test, so a new README command gets a decision here.
"""
from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

#: README text -> what the test runs instead: the quick path of the same command.
SMALL = {
    "--trainval 2000 --test 500": "--trainval 24 --test 8",
    "--epochs 35": "--epochs 1",
    "--epochs 2 --lr-steps 1": "--epochs 1 --lr-steps 1",
}
#: Commands that serve until stopped (first words -> the port the README shows).
SERVERS = {"python serve.py": 8000}
#: Commands that need bfloat16 convolutions, and the folder they write. On a CPU without them
#: (``common.cpu``) the first must refuse in one line, and the commands reading the folder are skipped.
BF16_FLAG, BF16_OUTPUT = "--amp bf16", "build/amp/bf16/"
#: Set-up commands: CI runs them itself.
SETUP = ("make demo", "make test")


def readme_commands(text: str):
    """``(kind, command)`` in README order: each line of the ```bash blocks (continuations joined,
    comments dropped), each ```python block whole (except recipes, which name the file they go in)."""
    commands = []
    for kind, block in re.findall(r"```(bash|python)\n(.*?)```", text, flags=re.S):
        if kind == "python":
            if not block.lstrip().startswith("# symbol/"):
                commands.append(("python", block))
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if line:
                commands.append(("bash", line))
    return commands


def _workdir(tmp: Path) -> Path:
    for name in ("train.py", "evaluate.py", "demo.py", "deploy.py", "serve.py", "model"):
        if (REPO / name).exists():
            (tmp / name).symlink_to(REPO / name)
    (tmp / "data").mkdir()
    (tmp / "data" / "demo").symlink_to(REPO / "data" / "demo")
    return tmp


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # as after activating .venv
    return env


def test_readme_commands_run_as_written(tmp_path):
    commands = readme_commands((REPO / "README.md").read_text())
    assert len(commands) >= 8
    work, env = _workdir(tmp_path), _env()
    with contextlib.ExitStack() as servers:
        _run_all(commands, work, env, servers)


def _bf16_refused(command, words, work, env) -> bool:
    """Where this CPU has no bfloat16 kernels: a bf16 command refuses in one line; True when handled."""
    from common.cpu import bfloat16_missing
    missing = bfloat16_missing()
    if missing is None or BF16_OUTPUT not in command:
        return False
    if BF16_FLAG in command:
        out = subprocess.run(words, cwd=work, capture_output=True, text=True, env=env, timeout=600)
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert (out.returncode, errors) == (2, [f"error: {BF16_FLAG}: {missing}"]), command
        assert "Traceback" not in out.stderr, command
    return True


def _run_all(commands, work, env, servers):
    ports = {}
    for kind, command in commands:
        if kind == "python":
            out = subprocess.run([sys.executable, "-c", command], cwd=work, capture_output=True, text=True,
                                 env=env, timeout=600)
            assert out.returncode == 0, f"{command}\n{out.stderr[-3000:]}"
            continue
        if command.startswith(SETUP) or command.startswith((". .venv", "source .venv")):
            continue
        for text, small in SMALL.items():
            command = command.replace(text, small)
        for readme_port, port in ports.items():
            command = command.replace(f"127.0.0.1:{readme_port}", f"127.0.0.1:{port}")
        words = shlex.split(command)
        server = next((s for s in SERVERS if command.startswith(s)), None)
        if server:
            from serve.client import Server
            ports[SERVERS[server]] = servers.enter_context(Server(*words[2:])).port
            continue
        if _bf16_refused(command, words, work, env):
            continue
        if words[0] == "make":
            out = subprocess.run(["make", "-n", "-C", str(REPO), *words[1:]], capture_output=True, text=True,
                                 env=env)
        elif words[0] in ("python", "tensorboard", "curl") or words[0].startswith("ssd-"):
            out = subprocess.run(words, cwd=work, capture_output=True, text=True, env=env, timeout=600)
        else:
            pytest.fail(f"README command of an unknown kind (teach tests/test_readme.py): {command}")
        assert out.returncode == 0, f"{command}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
