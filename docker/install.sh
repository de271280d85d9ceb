#!/bin/sh
# Installs the toolkit's pinned dependencies into the current Python: the one install step
# shared by `make` (the .venv), CI and both Docker images.
#   sh docker/install.sh requirements.txt        # CPU MXNet
#   sh docker/install.sh requirements-gpu.txt    # CUDA 11.2 MXNet
#   sh docker/install.sh requirements-dev.txt    # CPU + test tools
#   sh docker/install.sh requirements/inference.txt  # no MXNet: .onnx models in OpenVINO/ONNX Runtime
# PYTHON names the interpreter (default: python). The project itself is then installed with
# `$PYTHON -m pip install --no-deps -e .` (editable: commands find model/ and data/ beside the code).
set -eu
requirements=${1:?usage: sh docker/install.sh REQUIREMENTS_FILE}
python=${PYTHON:-python}
if [ ! -f "$requirements" ]; then
    echo "error: $requirements: no such requirements file (run from the repository root)" >&2
    exit 2
fi
"$python" -m pip install --quiet --no-cache-dir --upgrade pip
"$python" -m pip install --quiet --no-cache-dir -r "$requirements"
# MXNet 1.9.1 needs numpy < 1.24; a dependency that pulled a newer one would break it silently. (The
# inference-only set, requirements/inference.txt, has no MXNet and no such cap.)
"$python" -c "import importlib.util, numpy, sys; v = tuple(int(x) for x in numpy.__version__.split('.')[:2]); \
sys.exit(0 if v < (1, 24) or importlib.util.find_spec('mxnet') is None else \
'error: numpy %s installed; MXNet 1.9.1 needs numpy < 1.24' % numpy.__version__)"
