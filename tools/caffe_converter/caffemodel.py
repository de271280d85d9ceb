"""Reading prototxt and caffemodel files, and writing caffemodels (random weights for tests).

Errors name the file and, for prototxt files, the line and the layer.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from common.atomic import atomic_paths
from tools.caffe_converter.convert import ConversionError
from tools.caffe_converter.proto import caffe_pb


def _layer_at(text: str, line: int) -> str:
    """`` (in layer 'x')`` for the layer block enclosing ``line`` (1-based) of a prototxt, if any."""
    lines = text.splitlines()
    for i in range(min(line, len(lines)) - 1, -1, -1):
        start = re.search(r"\blayers?\s*\{", lines[i])
        if start:
            m = re.search(r'\bname\s*:\s*"([^"]*)"', "\n".join(lines[i:i + 8])[start.end():])
            return f" (in layer {m.group(1)!r})" if m else ""
    return ""


def read_prototxt(path) -> "caffe_pb().NetParameter":
    """Parse a deploy prototxt; errors name the file, line, field and enclosing layer."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prototxt not found")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ConversionError(f"{path}: binary data, not a text prototxt (is it the .caffemodel? the "
                              "arguments are PROTOTXT CAFFEMODEL OUT)") from None
    net = caffe_pb().NetParameter()
    try:
        text_format.Parse(text, net)
    except text_format.ParseError as err:
        m = re.match(r"(\d+):(\d+)\s*:\s*(.*)", str(err))
        if m:
            line = int(m.group(1))
            raise ConversionError(f"{path}:{line}: {m.group(3)}{_layer_at(text, line)}") from None
        raise ConversionError(f"{path}: {err}") from None
    return net


def blob_array(blob) -> np.ndarray:
    """A raw BlobProto's values with its shape (``shape`` or the legacy num/channels/height/width)."""
    if len(blob.double_data):
        data = np.frombuffer(b"".join(blob.double_data), "<f8").astype(np.float32)
    else:
        data = np.frombuffer(b"".join(blob.data), "<f4")
    if blob.HasField("shape"):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(d for d in (blob.num, blob.channels, blob.height, blob.width))
        shape = tuple(d for d in shape if d) or (data.size,)
    if int(np.prod(shape)) != data.size:
        raise ValueError(f"blob of shape {shape} holds {data.size} values")
    return data.reshape(shape)


def read_caffemodel(path) -> Dict[str, List[np.ndarray]]:
    """Layer name -> weight blobs of a binary caffemodel."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: caffemodel not found")
    net = caffe_pb(raw_blobs=True).NetParameter()
    try:
        net.ParseFromString(path.read_bytes())
    except DecodeError as err:
        raise ConversionError(f"{path}: not a complete caffemodel ({err}); the file may be "
                              f"truncated") from None
    weights = {}
    for layer in net.layer:
        if layer.blobs:
            try:
                weights[layer.name] = [blob_array(b) for b in layer.blobs]
            except ValueError as err:
                raise ConversionError(f"{path}: layer {layer.name!r}: {err}") from None
    if not weights and len(net.layer) == 0:
        raise ConversionError(f"{path}: no layers (not a caffemodel in the 'layer' format, or empty)")
    return weights


def write_caffemodel(path, net, weights: Dict[str, List[np.ndarray]]) -> None:
    """A binary caffemodel: ``net``'s layers (names and types) with ``weights``."""
    out = caffe_pb(raw_blobs=True).NetParameter(name=net.name)
    for layer in net.layer:
        dst = out.layer.add(name=layer.name, type=layer.type)
        dst.bottom.extend(layer.bottom)
        dst.top.extend(layer.top)
        for array in weights.get(layer.name, []):
            blob = dst.blobs.add()
            blob.shape.dim.extend(array.shape)
            blob.data.append(np.ascontiguousarray(array, "<f4").tobytes())
    with atomic_paths(path) as (tmp,):
        Path(tmp).write_bytes(out.SerializeToString())
