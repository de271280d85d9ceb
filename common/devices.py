"""Device contexts from command-line flags."""
from __future__ import annotations

from typing import List, Optional

import mxnet as mx


def parse_contexts(gpus: Optional[str], cpus: int = 1) -> List[mx.Context]:
    """Contexts for ``--gpus 0,1`` (GPU ids) or ``--cpus N`` (N CPU contexts).

    Several CPU contexts share the same cores; they exist so that the
    multi-device path (batch slicing, gradient reduction in the kvstore)
    runs and is tested on machines without GPUs.
    """
    if gpus:
        try:
            ids = [int(g) for g in gpus.split(",") if g.strip()]
        except ValueError:
            raise ValueError(f"--gpus: expected comma-separated GPU ids, got {gpus!r}") from None
        if not ids:
            raise ValueError(f"--gpus: no GPU id in {gpus!r}")
        available = mx.context.num_gpus()
        if available == 0:
            raise ValueError(f"--gpus {gpus}: MXNet sees no GPU (the CPU build of MXNet, or no visible CUDA "
                             "device); install requirements-gpu.txt (mxnet-cu112) on a machine with an "
                             "NVIDIA GPU, or leave out --gpus to run on the CPU")
        missing = [i for i in ids if not 0 <= i < available]
        if missing:
            raise ValueError(f"--gpus {gpus}: no GPU {missing[0]}; MXNet sees {available} "
                             f"(ids 0..{available - 1})")
        return [mx.gpu(i) for i in ids]
    if cpus < 1:
        raise ValueError(f"--cpus must be >= 1, got {cpus}")
    return [mx.cpu(i) for i in range(cpus)]
