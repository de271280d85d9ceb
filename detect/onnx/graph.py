"""A small builder for ONNX graphs: unique node names under a prefix, constants, typed outputs.

Every node and constant it makes is named ``<prefix>/...``, so a stage built
with it can later be found and replaced as a whole (``remove_stage``).
"""
from __future__ import annotations

import itertools
from typing import List, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: The opset every file of this project declares (ONNX Runtime, TensorRT 8+ and OpenCV read it).
OPSET = 13
#: Larger than any dimension: "to the end" in Slice.
END = np.iinfo(np.int64).max


class GraphBuilder:
    """Collects nodes and initializers of one stage named ``prefix``."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.nodes: List[onnx.NodeProto] = []
        self.initializers: List[onnx.TensorProto] = []
        self._count = itertools.count()

    def name(self, hint: str) -> str:
        return f"{self.prefix}/{hint}_{next(self._count)}"

    def const(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``value`` (float32 unless ``dtype`` or an integer array says otherwise)."""
        array = np.asarray(value, dtype=dtype)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(np.float32)
        if dtype is None and array.dtype.kind in "iu":
            array = array.astype(np.int64)
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str = "", outputs: int = 1, **attrs):
        """Add a node; returns its output name (or names when ``outputs`` > 1)."""
        base = self.name(hint or op_type.lower())
        names = [base] if outputs == 1 else [f"{base}:{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=base, **attrs))
        return names[0] if outputs == 1 else names

    def named(self, op_type: str, inputs: Sequence[str], output: str, **attrs) -> str:
        """A node whose output gets the fixed name ``output`` (a graph output, say)."""
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=self.name(output), **attrs))
        return output


def remove_stage(graph: onnx.GraphProto, prefix: str) -> None:
    """Delete every node and initializer named ``<prefix>/...`` from ``graph``."""
    keep_nodes = [n for n in graph.node if not n.name.startswith(prefix + "/")]
    keep_inits = [t for t in graph.initializer if not t.name.startswith(prefix + "/")]
    del graph.node[:]
    graph.node.extend(keep_nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep_inits)


def float_tensor(name: str, shape) -> onnx.ValueInfoProto:
    """A float32 graph input/output; ``None`` or a string in ``shape`` is a dynamic dimension."""
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
