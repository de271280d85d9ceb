"""Every command: works from any directory, shows --help without loading MXNet, applies the runtime defaults.

The commands are the console scripts of pyproject.toml and the top-level scripts; each is run in a
fresh interpreter from a directory outside the repository.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
TOP_LEVEL = ["train.py", "evaluate.py", "demo.py", "deploy.py", "serve.py"]

#: Imports a console script's target and runs ``main(["--help"])``; prints what was loaded.
PROBE = """
import importlib, sys
module, _, func = sys.argv[1].partition(":")
try:
    getattr(importlib.import_module(module), func)(["--help"])
except SystemExit as done:
    code = done.code
print("EXIT", code, "MXNET", "mxnet" in sys.modules)
"""


def _env():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OMP_NUM_THREADS",
                                                             "MXNET_ENGINE_TYPE")}
    return env


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_help_does_not_load_mxnet(name, tmp_path):
    out = subprocess.run([sys.executable, "-c", PROBE, SCRIPTS[name]], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("EXIT 0 MXNET False"), out.stdout[-300:]
    assert "usage:" in out.stdout


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_is_installed_and_runs_from_elsewhere(name, tmp_path):
    exe = Path(sys.executable).parent / name
    assert exe.is_file(), f"{exe}: not installed (make venv installs the project in editable mode)"
    out = subprocess.run([str(exe), "--help"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr


@pytest.mark.parametrize("script", TOP_LEVEL + ["tools/caffe_converter/convert_model.py",
                                                "tools/prepare_dataset.py"])
def test_scripts_run_by_path_from_another_directory(script, tmp_path):
    out = subprocess.run([sys.executable, str(REPO / script), "--help"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr
    assert "engine" not in out.stderr.lower()  # no MXNet start-up line


#: Runs demo.py as ``python demo.py`` would, then reports what MXNet was started with.
RUNTIME_PROBE = """
import os, runpy, sys
script, image, out = sys.argv[1:4]
sys.argv = [script, image, "--out", out]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as done:
    assert not done.code, done.code
import common.runtime as rt
print("ENV", rt.configured, os.environ.get("OMP_NUM_THREADS"), os.environ.get("MXNET_ENGINE_TYPE"))
"""


def test_runtime_defaults_are_applied_before_mxnet_loads(tmp_path):
    """A real run (the demo on one image): MXNet started with every core and the naive engine."""
    image = REPO / "data" / "demo" / "000000.jpg"
    out = subprocess.run([sys.executable, "-c", RUNTIME_PROBE, str(REPO / "demo.py"), str(image),
                          str(tmp_path / "out")], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"ENV True {os.cpu_count()} NaiveEngine" in out.stdout
