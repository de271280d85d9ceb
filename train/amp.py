"""Mixed-precision training graphs: the body in bfloat16 (CPU) or float16 (GPU), the rest in float32.

The network body (everything that computes class logits and box offsets) is
converted by MXNet's AMP, which casts the float32 parameters to the low
precision inside the graph: the parameters, the optimizer's updates and so the
checkpoints stay float32 (master weights). The anchors, target matching,
losses and the optimizer run in float32. MultiBoxPrior accepts float32 only and
AMP cannot keep it out of the conversion, so the anchors, a function of the
input size alone, are computed once and fed as the fixed parameter
``anchors_fixed``. Checkpoints are written with the float32 training symbol
(``train.trainer``), so they load into every other command.

float16 needs a GPU (MXNet has no float16 convolutions on CPU) and dynamic loss
scaling (``LossScaler``): the loss is multiplied by a scale before the backward
pass, updates whose gradients overflow are skipped and halve the scale, and the
scale doubles after a run of good steps.
"""
from __future__ import annotations

import json
import logging
from typing import Optional

import mxnet as mx
import numpy as np

from common.cpu import require_bfloat16
from detect.quantize import FIXED_ANCHORS
from symbol.builder import body, training_head

log = logging.getLogger(__name__)

#: ``--amp`` choices and the MXNet dtype of each.
DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def _float32_variables(symbol: mx.sym.Symbol, data_names=("data",)) -> mx.sym.Symbol:
    """``symbol`` with every parameter variable declared float32 (AMP's conversion needs to know)."""
    graph = json.loads(symbol.tojson(remove_amp_cast=False))
    for node in graph["nodes"]:
        if node["op"] == "null" and node["name"] not in data_names:
            node.setdefault("attrs", {})["__dtype__"] = "0"  # mshadow::kFloat32
    return mx.sym.load_json(json.dumps(graph))


def anchors_of(preset, num_classes: int) -> np.ndarray:
    """The (1, N, 4) anchors of ``preset`` at its input size, computed once in float32."""
    _, _, anchors = body(mx.sym.var("data"), preset, num_classes)
    size = preset.data_shape
    # MultiBoxPrior reads the feature maps' shapes only: the (zero) weights and BatchNorm states
    # simple_bind allocates do not matter.
    executor = anchors.simple_bind(mx.cpu(), data=(1, 3, size, size), grad_req="null")
    return executor.forward()[0].asnumpy()


def mixed_train_symbol(preset, num_classes: int, amp: str, *, loss_output: str = "makeloss") -> mx.sym.Symbol:
    """The training symbol with its body in ``DTYPES[amp]``; inputs ``data``, ``label``, ``anchors_fixed``.

    ``loss_output='identity'`` makes the loss a plain output whose gradient the caller gives
    (dynamic loss scaling); the outputs are those of ``symbol.builder.training_head``.
    """
    from mxnet.contrib import amp as mx_amp
    if amp not in DTYPES:
        raise ValueError(f"--amp must be one of {', '.join(DTYPES)}, got {amp!r}")
    cls_preds, loc_preds, anchors = body(mx.sym.var("data"), preset, num_classes)
    low = mx_amp.convert_symbol(_float32_variables(mx.sym.Group([cls_preds, loc_preds])),
                                target_dtype=DTYPES[amp], data_names=["data"])
    cls32 = mx.sym.amp_cast(low[0], dtype="float32", name="cls_preds")
    loc32 = mx.sym.amp_cast(low[1], dtype="float32", name="loc_preds")
    _, anchor_shape, _ = anchors.infer_shape(data=(1, 3, preset.data_shape, preset.data_shape))
    fixed = mx.sym.var(FIXED_ANCHORS, shape=tuple(anchor_shape[0]), dtype="float32")
    return training_head(cls32, loc32, fixed, mx.sym.var("label"), loss_output=loss_output)


class LossScaler:
    """Dynamic loss scaling for float16: ``scale`` grows after ``window`` good steps, halves on overflow."""

    def __init__(self, scale: float = 2.0 ** 16, window: int = 2000, minimum: float = 1.0):
        self.scale, self.window, self.minimum, self.good = scale, window, minimum, 0

    def overflowed(self, grads) -> bool:
        """Whether any gradient is not finite; adjusts the scale."""
        bad = any(not np.isfinite(g.asnumpy()).all() for g in grads if g is not None)
        if bad:
            self.scale = max(self.scale / 2, self.minimum)
            self.good = 0
            log.info("float16 gradients overflowed: update skipped, loss scale now %g", self.scale)
        else:
            self.good += 1
            if self.good >= self.window:
                self.scale *= 2
                self.good = 0
        return bad


def check_amp(amp: Optional[str], contexts) -> None:
    """Refuse an ``--amp`` the devices cannot run, with the reason."""
    if amp is None:
        return
    if amp not in DTYPES:
        raise ValueError(f"--amp must be one of {', '.join(DTYPES)}, got {amp!r}")
    gpu = any(c.device_type == "gpu" for c in contexts)
    if amp == "fp16" and not gpu:
        raise ValueError("--amp fp16 needs --gpus: MXNet has no float16 convolutions on the CPU "
                         "(use --amp bf16)")
    if amp == "bf16" and gpu:
        raise ValueError("--amp bf16 runs on CPUs only (MXNet 1.9 has no bfloat16 GPU kernels; "
                         "use --amp fp16)")
    if amp == "bf16":
        require_bfloat16("--amp bf16")
