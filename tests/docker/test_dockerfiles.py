"""The Dockerfiles, checked without a Docker engine: lint, files they copy, the command they serve."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serve import cli

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = [REPO / "docker" / name for name in ("Dockerfile", "Dockerfile.gpu", "Dockerfile.serve")]


def _instructions(path: Path):
    """(INSTRUCTION, arguments) with continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [tuple(line.split(None, 1)) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    config = REPO / "docker" / ".hadolint.yaml"
    out = subprocess.run([hadolint, "--config", str(config), *map(str, DOCKERFILES)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _final_stage(steps):
    """The instructions after the last FROM (the image that runs)."""
    last = max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")
    return steps[last:]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_and_install_goes_through_the_shared_script(dockerfile):
    steps = _instructions(dockerfile)
    for kind, rest in steps:
        if kind == "COPY" and not rest.startswith((". ", "--from=")):
            for source in rest.split()[:-1]:
                assert (REPO / source).exists(), f"{dockerfile.name}: COPY {source}"
    installs = [rest for kind, rest in _final_stage(steps) if kind == "RUN" and "docker/install.sh" in rest]
    assert len(installs) == 1
    requirements = installs[0].split("docker/install.sh")[1].split()[0]
    assert (REPO / requirements).is_file()


def test_the_serving_image_has_no_mxnet_and_serves_the_onnx_file_its_first_stage_exports():
    steps = _instructions(REPO / "docker" / "Dockerfile.serve")
    final = _final_stage(steps)
    [install] = [rest for kind, rest in final if kind == "RUN" and "docker/install.sh" in rest]
    text = (REPO / install.split("docker/install.sh")[1].split()[0]).read_text()
    packages = [ln.split("==")[0].lower() for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert not [p for p in packages if p.startswith("mxnet")] and "openvino" in packages
    exported = [rest for kind, rest in steps if kind == "RUN" and "deploy.py" in rest]
    assert len(exported) == 1 and "--out build/onnx/ssd --format onnx" in exported[0]
    copied = [rest for kind, rest in final if kind == "COPY" and rest.startswith("--from=export")]
    assert copied == ["--from=export /app/build/onnx/ssd.onnx build/onnx/ssd.onnx"]
    args = cli.build_parser().parse_args(json.loads(dict(final)["CMD"])[2:])
    assert args.prefix == "build/onnx/ssd.onnx" and (REPO / args.samples).is_dir()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_served_command_and_its_health_check_agree(dockerfile):
    final = _final_stage(_instructions(dockerfile))
    steps = dict((kind, rest) for kind, rest in final if kind in ("CMD", "EXPOSE"))
    command = json.loads(steps["CMD"])
    assert command[:2] == ["python", "serve.py"]
    args = cli.build_parser().parse_args(command[2:])
    assert args.host == "0.0.0.0" and str(args.port) == steps["EXPOSE"]
    health = next(rest for kind, rest in _instructions(dockerfile) if kind == "HEALTHCHECK")
    assert f"http://127.0.0.1:{args.port}/healthz" in health


def test_install_script_refuses_a_missing_requirements_file(tmp_path):
    out = subprocess.run(["sh", str(REPO / "docker" / "install.sh"), "no-such.txt"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no-such.txt: no such requirements file" in out.stderr
