"""Every command the README and the documentation pages show runs as written, after the two set-up commands.

Each page's ```bash blocks are read line by line (backslash continuations joined, comments
dropped) and its ```python blocks whole; every page runs in its own scratch folder that looks like
the repository (its scripts, model/, data/demo/ and the fetched face detector), with the sizes in
SMALL substituted so that a page takes a minute or two. ``make`` targets are dry-run (``make -n``),
except FOR_REAL ones; servers (SERVERS) start in the background on a free port, which later commands
use in place of the page's, and stop at the end of the page.

A block fenced ```bash flags-only holds commands that need what no machine here has (a GPU, Docker,
ssh hosts, VOC/COCO data, the user's own files) or more than a few minutes: the page says why, and
here each is only checked for its flags (its command line parsed by the command's own parser, or
``make -n``, or the Dockerfile it names). A command the test does not know how to treat fails the
test, so a new command gets a decision here. The test prints how many commands of each kind ran.
"""
from __future__ import annotations

import collections
import contextlib
import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

PAGES = ["README.md", "docs/tutorial.md", "docs/training.md", "docs/networks.md", "docs/caffe.md",
         "docs/onnx.md", "docs/serving.md", "docs/api.md", "docs/performance.md", "docs/bad_input.md",
         "docs/architecture.md"]
#: Page text -> what the test runs instead: the quick path of the same command.
SMALL = {
    "--trainval 2000 --test 500": "--trainval 24 --test 8",
    "--trainval 400 --test 100": "--trainval 24 --test 8",
    "--epochs 35": "--epochs 1",
    "--epochs 6": "--epochs 1",
}
#: Commands that serve until stopped (first words -> the port the pages show).
SERVERS = {"python serve.py": 8000}
#: Set-up commands: CI runs them itself.
SETUP = ("make demo", "make test")
#: make targets that run for real (quick, and what later commands of the page read).
FOR_REAL = {"make face-model", "make face-demo"}
#: The scripts at the repository's root and the modules whose parsers they use.
SCRIPTS = {"train.py": "train.cli", "evaluate.py": "evaluate.cli", "demo.py": "detect.demo",
           "deploy.py": "detect.deploy", "serve.py": "serve.cli"}


def page_commands(text: str):
    """``(kind, command)`` in page order: ``bash`` and ``flags`` (a ```bash flags-only block) lines,
    continuations joined and comments dropped, and ``python`` blocks whole (except recipes, which name
    the file they go in)."""
    commands = []
    for fence, block in re.findall(r"```(bash flags-only|bash|python)\n(.*?)```", text, flags=re.S):
        if fence == "python":
            if not block.lstrip().startswith("# symbol/"):
                commands.append(("python", block))
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
            if line:
                commands.append(("flags" if fence == "bash flags-only" else "bash", line))
    return commands


def _workdir(tmp: Path) -> Path:
    for name in ("train.py", "evaluate.py", "demo.py", "deploy.py", "serve.py", "model", "configs"):
        (tmp / name).symlink_to(REPO / name)
    (tmp / "data").mkdir()
    (tmp / "data" / "demo").symlink_to(REPO / "data" / "demo")
    (tmp / "build" / "models").mkdir(parents=True)
    return tmp


def _link_face_model(work: Path) -> None:
    """The fetched files and the converted face detector of the repository's build/, read-only."""
    for path in (REPO / "build" / "models").glob("res10_face-*"):
        target = work / "build" / "models" / path.name
        if not target.exists():
            target.symlink_to(path)
    if not (work / "build" / "published").exists():
        (work / "build" / "published").symlink_to(REPO / "build" / "published")


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # as after activating .venv
    return env


@pytest.mark.parametrize("page", PAGES)
def test_page_commands_run_as_written(page, tmp_path, capsys):
    commands = page_commands((REPO / page).read_text())
    counts = collections.Counter()
    work, env = _workdir(tmp_path), _env()
    with contextlib.ExitStack() as servers:
        ports = {}
        for kind, command in commands:
            counts[_run(kind, command, work, env, servers, ports)] += 1
    with capsys.disabled():
        print(f"\n{page}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
    if page == "README.md":
        assert counts["ran"] >= 10
    if page == "docs/architecture.md":
        assert not commands  # a map, no commands


def test_the_pages_flag_checks_can_fail():
    """The checks of flags-only commands refuse what the commands would refuse."""
    with pytest.raises(AssertionError, match="--no-such-flag"):
        _check_flags("python train.py --train-rec x.rec --prefix p --no-such-flag", REPO)
    with pytest.raises(AssertionError, match="Dockerfile.nothing"):
        _check_flags("docker build -f docker/Dockerfile.nothing -t x .", REPO)
    job = "python train.py --train-rec t.rec --prefix p --kvstore dist_sync"
    assert _check_flags(f"python -m tools.launch -n 2 -- {job}", REPO) == "flags"
    with pytest.raises(AssertionError, match="--lr"):  # the job's own flags are checked too
        _check_flags(f"python -m tools.launch -n 2 -- {job} --lr nan", REPO)


def _run(kind: str, command: str, work: Path, env: dict, servers, ports: dict) -> str:
    """Run or check one command; returns what was done (for the counts)."""
    if kind == "python":
        out = subprocess.run([sys.executable, "-c", command], cwd=work, capture_output=True, text=True,
                             env=env, timeout=600)
        assert out.returncode == 0, f"{command}\n{out.stderr[-3000:]}"
        return "ran"
    if command.startswith(SETUP) or command.startswith((". .venv", "source .venv")):
        return "set-up"
    for text, small in SMALL.items():
        command = command.replace(text, small)
    for page_port, port in ports.items():
        command = command.replace(f"127.0.0.1:{page_port}", f"127.0.0.1:{port}")
    if "res10_face" in command:
        _link_face_model(work)
    if kind == "flags":
        return _check_flags(command, work)
    words = shlex.split(command)
    server = next((s for s in SERVERS if command.startswith(s)), None)
    if server:
        from serve.client import Server
        ports[SERVERS[server]] = servers.enter_context(Server(*words[2:], cwd=work)).port
        return "ran"
    if words[0] == "make":
        real = command in FOR_REAL
        out = subprocess.run(["make", *([] if real else ["-n"]), "-C", str(REPO), *words[1:]],
                             capture_output=True, text=True, env=env, timeout=600)
        done = "ran" if real else "dry-run"
        if real:
            _link_face_model(work)
    elif words[0] == ".venv-inference/bin/python":
        python = REPO / words[0]
        if not python.is_file() and not os.environ.get("CI"):
            pytest.skip(f"{python} is not built here (make inference-venv)")
        out = subprocess.run([str(python), *words[1:]], cwd=work, capture_output=True, text=True, env=env,
                             timeout=600)
        done = "ran"
    elif words[:3] == ["python", "-m", "tests.bad_inputs.corpus"]:
        out = subprocess.run(words, cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
        done = "ran"
    elif words[0] in ("python", "tensorboard", "curl") or words[0].startswith("ssd-"):
        out = subprocess.run(words, cwd=work, capture_output=True, text=True, env=env, timeout=900)
        done = "ran"
    else:
        pytest.fail(f"a command of an unknown kind (teach tests/test_readme.py): {command}")
    assert out.returncode == 0, f"{command}\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return done


def _parser_of(words):
    """``(parser, argv, expand)`` of a python command: the command's own argument parser."""
    if words[1] == "-m":
        module = {"tools.benchmark": "tools.benchmark.driver"}.get(words[2], words[2])
        argv = words[3:]
    else:
        module, argv = SCRIPTS[Path(words[1]).name], words[2:]
    mod = importlib.import_module(module)
    return mod.build_parser(), argv, module == "train.cli"


def _check_flags(command: str, work: Path) -> str:
    """Check a command that is not run: its flags parse, its make target exists, its Dockerfile exists."""
    words = shlex.split(command)
    if words[0] == "make":
        out = subprocess.run(["make", "-n", "-C", str(REPO), *words[1:]], capture_output=True, text=True)
        assert out.returncode == 0, f"{command}\n{out.stderr[-2000:]}"
        return "dry-run"
    if words[0] == "docker":
        if words[1] == "build":
            dockerfile = words[words.index("-f") + 1]
            assert (REPO / dockerfile).is_file(), f"{command}: {dockerfile} does not exist"
        elif "python" in words:
            _check_flags(" ".join(shlex.quote(w) for w in words[words.index("python"):]), work)
        return "flags"
    if words[:3] == ["python", "-m", "pytest"]:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *words[3:]],
                             cwd=REPO, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"{command}\n{out.stdout[-2000:]}"
        return "flags"
    assert words[0] == "python", f"a flags-only command of an unknown kind: {command}"
    parser, argv, expand = _parser_of(words)
    if expand:
        from train.cli import expand_config
        argv = expand_config(argv)
    try:
        with contextlib.redirect_stderr(open(os.devnull, "w")):
            args = parser.parse_args(argv)
    except SystemExit:
        raise AssertionError(f"{command}: its flags do not parse ({' '.join(argv)})") from None
    job = getattr(args, "job", None)
    if job:  # tools.launch: the job after -- is a command of its own
        _check_flags(" ".join(shlex.quote(w) for w in job[1 if job[0] == "--" else 0:]), work)
    return "flags"
