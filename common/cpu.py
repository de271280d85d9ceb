"""What this machine's CPU can compute in MXNet, asked of MXNet itself.

MXNet 1.9's CPU kernels for bfloat16 come from oneDNN, which has them only on
CPUs with AVX-512 (natively with AVX512-BF16, emulated on other AVX-512 cores).
On an AVX2-only CPU a bfloat16 convolution fails when it first runs, deep in a
training or inference step, with "could not create a primitive descriptor
iterator". ``bfloat16_missing`` runs one tiny bfloat16 convolution instead, so
that ``--amp bf16`` and ``--quantize bf16`` can be refused up front in one line.
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path
from typing import Optional, Set

import numpy as np

CPUINFO = Path("/proc/cpuinfo")


def _first(field: str, cpuinfo: Path) -> Optional[str]:
    """The value of ``field`` for the first CPU in ``cpuinfo``; None where there is no such file or field."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field):
            return line.partition(":")[2].strip()
    return None


def cpu_flags(cpuinfo: Path = CPUINFO) -> Set[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo`` (empty where there is no such file)."""
    return set((_first("flags", cpuinfo) or "").split())


def cpu_name(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name, or ``"this CPU"`` where it cannot be read."""
    return _first("model name", cpuinfo) or "this CPU"


#: Instruction-set extensions that decide which kernels run (cpuinfo flag -> name users know).
EXTENSIONS = (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "AVX512-VNNI"),
              ("avx_vnni", "AVX-VNNI"), ("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16"),
              ("amx_int8", "AMX-INT8"))


def cpu_summary(cpuinfo: Path = CPUINFO) -> str:
    """The CPU as a figure should name it: model (family/model numbers where the name is generic),
    core count and the extensions that decide the kernels, e.g. ``AMD EPYC (family 25, model 17),
    2 cores: AVX2, AVX-512, AVX512-VNNI, AVX512-BF16; no AMX``."""
    flags = cpu_flags(cpuinfo)
    family, model = _first("cpu family", cpuinfo), _first("model\t", cpuinfo)  # "model name" is another field
    name = cpu_name(cpuinfo) + (f" (family {family}, model {model})" if family and model else "")
    found = ", ".join(label for flag, label in EXTENSIONS if flag in flags) or "no AVX2"
    amx = "" if any(f.startswith("amx") for f in flags) else "; no AMX"
    return f"{name}, {os.cpu_count()} cores: {found}{amx}"


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 (where MXNet's C++ code logs) sent to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=None)
def bfloat16_missing() -> Optional[str]:
    """``None`` when MXNet runs bfloat16 convolutions on this CPU, else why not (one sentence).

    Runs a 1x4x8x8 bfloat16 convolution (about 10 ms, once per process).
    """
    import mxnet as mx
    from mxnet.contrib.amp.amp import bfloat16
    data = mx.sym.amp_cast(mx.sym.var("data"), dtype=bfloat16)
    weight = mx.sym.amp_cast(mx.sym.var("weight"), dtype=bfloat16)
    conv = mx.sym.Convolution(data, weight, kernel=(3, 3), num_filter=4, no_bias=True)
    inputs = {"data": mx.nd.ones((1, 4, 8, 8)), "weight": mx.nd.ones((4, 4, 3, 3))}
    try:
        with _quiet_stderr():  # MXNet logs the binding and the failure it raises: the probe says it better
            out = mx.sym.amp_cast(conv, dtype="float32").bind(mx.cpu(), inputs).forward()[0].asnumpy()
    except mx.base.MXNetError:
        isa = "AVX-512 without BF16" if "avx512f" in cpu_flags() else "no AVX-512"
        return (f"MXNet has no bfloat16 convolutions on {cpu_name()} ({isa}); "
                "its oneDNN kernels need a CPU with AVX-512 (best with AVX512-BF16)")
    if not np.all(out == 36.0):  # 3x3x4 products of ones: exact in bfloat16
        return f"MXNet's bfloat16 convolution on {cpu_name()} computed {out.ravel()[0]} for 36"
    return None


def require_bfloat16(what: str) -> None:
    """Raise ``ValueError("<what>: <why not>")`` when this CPU cannot run bfloat16 convolutions."""
    missing = bfloat16_missing()
    if missing:
        raise ValueError(f"{what}: {missing}")
