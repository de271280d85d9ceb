"""Can Winograd 3x3 convolutions, written with MXNet operators, speed up fp32 VGG16 here?

OpenCV DNN beats our fp32 VGG16 SSD300 because its 3x3 convolutions use
Winograd's minimal filtering (Lavin & Gray 2016), which needs fewer
multiplications than the direct convolution MXNet 1.9's oneDNN integration
runs (the oneDNN library inside libmxnet has Winograd kernels, but MXNet asks
for the direct algorithm and exports no oneDNN entry points to ask otherwise).
This benchmark builds F(4x4, 3x3) from MXNet operators and times it against
``Convolution`` on the 3x3 layers of VGG16 at 300x300, batch 1:

1. input tiles: ``im2col`` of 6x6 windows at stride 4 of the padded input,
   transformed by B^T d B (one 36x36 matrix product);
2. 36 independent products of the transformed filters U = G g G^T (K x C)
   with the transformed tiles (C x T): ``batch_dot``;
3. output tiles A^T m A (16x36) put back in place (reshape/transpose).

It reports per layer the direct time, the Winograd time, their ratio and the
multiply-adds, and the saving summed over the layers where Winograd wins.

Usage::

    python -m tools.bench_winograd [--repeat 10] [--json build/winograd.json]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from common import runtime
from common.atomic import write_json
from tools.benchmark import timed

runtime.configure([])  # thread settings must precede the first import of mxnet (no-op once imported)

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

# F(4x4, 3x3) with interpolation points 0, +-1, +-2 (Lavin & Gray 2016, section 4.2).
BT = np.array([[4, 0, -5, 0, 1, 0],
               [0, -4, -4, 1, 1, 0],
               [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0],
               [0, 2, -1, -2, 1, 0],
               [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0],
              [-1 / 6, -1 / 6, -1 / 6],
              [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6],
              [1 / 24, -1 / 12, 1 / 6],
              [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0],
               [0, 1, -1, 2, -2, 0],
               [0, 1, 1, 4, 4, 0],
               [0, 1, -1, 8, -8, 1]], np.float64)

#: VGG16's 3x3 pad-1 convolutions at 300x300: (name, input channels, filters, map side).
VGG16_300 = (("conv1_1", 3, 64, 300), ("conv1_2", 64, 64, 300), ("conv2_1", 64, 128, 150),
             ("conv2_2", 128, 128, 150), ("conv3_1", 128, 256, 75), ("conv3_2", 256, 256, 75),
             ("conv3_3", 256, 256, 75), ("conv4_1", 256, 512, 38), ("conv4_2", 512, 512, 38),
             ("conv4_3", 512, 512, 38), ("conv5_1", 512, 512, 19), ("conv5_2", 512, 512, 19),
             ("conv5_3", 512, 512, 19))


def transform_weights(weight: np.ndarray) -> np.ndarray:
    """Filters (K, C, 3, 3) -> U (36, K, C), U[6i+j] = (G g G^T)[i, j] for every (k, c)."""
    u = np.einsum("ia,kcab,jb->ijkc", G, weight.astype(np.float64), G)
    return u.reshape(36, *weight.shape[:2]).astype(np.float32)


def winograd_conv3x3(data, u, *, batch: int, channels: int, filters: int, height: int, width: int):
    """A 3x3, stride-1, pad-1 convolution (no bias) by Winograd F(4x4, 3x3).

    Parameters
    ----------
    data : Symbol
        Input of shape (batch, channels, height, width).
    u : Symbol
        Transformed filters of shape (36, filters, channels), see :func:`transform_weights`.

    Returns
    -------
    Symbol
        Output of shape (batch, filters, height, width), equal to ``Convolution`` up to rounding.
    """
    th, tw = -(-height // 4), -(-width // 4)
    tiles = batch * th * tw
    # Pad 1 (the convolution's) plus what completes the last 4x4 output tile.
    padded = mx.sym.pad(data, mode="constant",
                        pad_width=(0, 0, 0, 0, 1, 4 * th + 1 - height, 1, 4 * tw + 1 - width))
    cols = mx.sym.im2col(padded, kernel=(6, 6), stride=(4, 4))  # (B, C*36, th*tw)
    cols = cols.reshape((batch, channels, 36, th * tw)).transpose((2, 1, 0, 3))
    b = mx.sym.Variable("winograd_b", shape=(36, 36))  # kron(BT, BT): B^T d B on flattened 6x6 tiles
    v = mx.sym.dot(b, cols.reshape((36, -1))).reshape((36, channels, tiles))
    m = mx.sym.batch_dot(u, v)  # (36, K, tiles)
    a = mx.sym.Variable("winograd_a", shape=(16, 36))  # kron(AT, AT): A^T m A
    y = mx.sym.dot(a, m.reshape((36, -1)))  # (16, K*tiles): 4x4 output pixels per tile
    y = y.reshape((4, 4, filters, batch, th, tw)).transpose((3, 2, 4, 0, 5, 1))
    y = y.reshape((batch, filters, 4 * th, 4 * tw))
    if 4 * th != height or 4 * tw != width:
        y = mx.sym.slice(y, begin=(None, None, 0, 0), end=(None, None, height, width))
    return y


def bind_pair(weight: np.ndarray, *, batch: int, height: int, width: int, ctx=None):
    """Executors of the direct and the Winograd convolution with the same filters (K, C, 3, 3)."""
    ctx = ctx or mx.cpu()
    filters, channels = weight.shape[:2]
    data = mx.sym.Variable("data")
    direct = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=filters, no_bias=True,
                                name="direct")
    wino = winograd_conv3x3(data, mx.sym.Variable("u"), batch=batch, channels=channels, filters=filters,
                            height=height, width=width)
    x = mx.nd.zeros((batch, channels, height, width), ctx=ctx)
    ex_direct = direct.bind(ctx, {"data": x, "direct_weight": mx.nd.array(weight, ctx=ctx)}, grad_req="null")
    ex_wino = wino.bind(ctx, {"data": x, "u": mx.nd.array(transform_weights(weight), ctx=ctx),
                              "winograd_b": mx.nd.array(np.kron(BT, BT), ctx=ctx),
                              "winograd_a": mx.nd.array(np.kron(AT, AT), ctx=ctx)}, grad_req="null")
    return ex_direct, ex_wino


def _median_ms(executor, repeat: int) -> float:
    def run():
        executor.forward(is_train=False)
        executor.outputs[0].wait_to_read()
    return 1e3 * timed(run, repeat, warmup=1)


def measure_layer(name, channels, filters, side, *, repeat, rng):
    """Time one layer both ways on random data; also the largest relative difference of the outputs."""
    weight = (rng.standard_normal((filters, channels, 3, 3)) / np.sqrt(9 * channels)).astype(np.float32)
    ex_direct, ex_wino = bind_pair(weight, batch=1, height=side, width=side)
    x = rng.standard_normal((1, channels, side, side)).astype(np.float32)
    for ex in (ex_direct, ex_wino):
        ex.arg_dict["data"][:] = x
    direct_ms, wino_ms = _median_ms(ex_direct, repeat), _median_ms(ex_wino, repeat)
    ref, out = ex_direct.outputs[0].asnumpy(), ex_wino.outputs[0].asnumpy()
    return {"layer": name, "channels": channels, "filters": filters, "side": side,
            "gmac": side * side * channels * filters * 9 / 1e9, "direct_ms": direct_ms,
            "winograd_ms": wino_ms, "ratio": wino_ms / direct_ms,
            "max_rel_diff": float(np.abs(out - ref).max() / np.abs(ref).max())}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Winograd F(4x4,3x3) from MXNet operators vs Convolution, "
                                            "VGG16's 3x3 layers at 300x300, batch 1.")
    p.add_argument("--repeat", type=int, default=10, help="timed runs per layer (median)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'layer':8} {'C':>4} {'K':>4} {'side':>4} {'GMAC':>5} {'direct ms':>9} {'winograd ms':>11} "
          f"{'ratio':>5} {'rel diff':>8}")
    for layer in VGG16_300:
        r = measure_layer(*layer, repeat=args.repeat, rng=rng)
        rows.append(r)
        print(f"{r['layer']:8} {r['channels']:4d} {r['filters']:4d} {r['side']:4d} {r['gmac']:5.2f} "
              f"{r['direct_ms']:9.1f} {r['winograd_ms']:11.1f} {r['ratio']:5.2f} {r['max_rel_diff']:8.1e}",
              flush=True)
    direct = sum(r["direct_ms"] for r in rows)
    best = sum(min(r["direct_ms"], r["winograd_ms"]) for r in rows)
    print(f"{len(rows)} layers: direct {direct:.1f} ms; Winograd where it wins: {best:.1f} ms "
          f"(saves {direct - best:.1f} ms)")
    if args.json:
        write_json(args.json, {"rows": rows, "direct_ms": direct, "best_ms": best})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
