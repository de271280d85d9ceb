"""The Caffe schema subset (``caffe_ssd_subset.proto``) as Python message classes, built at run time.

A small reader of the proto2 grammar the subset uses (messages, nested and
top-level enums, ``optional``/``repeated`` fields with ``default`` and
``packed`` options) turns the ``.proto`` file into a ``FileDescriptorProto``;
protobuf's descriptor pool and message factory make the classes. So the
``.proto`` file is the only source: nothing generated is committed, and no
``protoc`` is needed.

Usage::

    from tools.caffe_converter.proto import caffe_pb
    net = caffe_pb().NetParameter()
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Tuple

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SCHEMA = Path(__file__).with_name("caffe_ssd_subset.proto")

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"double": _F.TYPE_DOUBLE, "float": _F.TYPE_FLOAT, "int64": _F.TYPE_INT64,
            "uint64": _F.TYPE_UINT64, "int32": _F.TYPE_INT32, "uint32": _F.TYPE_UINT32,
            "bool": _F.TYPE_BOOL, "string": _F.TYPE_STRING, "bytes": _F.TYPE_BYTES}
_LABELS = {"optional": _F.LABEL_OPTIONAL, "repeated": _F.LABEL_REPEATED, "required": _F.LABEL_REQUIRED}
_TOKEN = re.compile(r'\s+|//[^\n]*|(?P<tok>"[^"]*"|[A-Za-z_][\w.]*|-?[\d.]+(?:[eE][-+]?\d+)?|[{}\[\]=;,])')


class SchemaError(ValueError):
    """The .proto file uses grammar this reader does not know."""


def _tokens(text: str) -> List[Tuple[str, int]]:
    out, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SchemaError(f"{SCHEMA.name}:{line}: unexpected {text[pos]!r}")
        if m.group("tok"):
            out.append((m.group("tok"), line))
        line += m.group(0).count("\n")
        pos = m.end()
    return out


class _Reader:
    def __init__(self, text: str):
        self.toks, self.i = _tokens(text), 0

    def peek(self) -> str:
        return self.toks[self.i][0] if self.i < len(self.toks) else ""

    def take(self, expected: str = None) -> str:
        tok, line = self.toks[self.i]
        if expected is not None and tok != expected:
            raise SchemaError(f"{SCHEMA.name}:{line}: expected {expected!r}, found {tok!r}")
        self.i += 1
        return tok

    def file(self) -> descriptor_pb2.FileDescriptorProto:
        f = descriptor_pb2.FileDescriptorProto(name=SCHEMA.name)
        while self.i < len(self.toks):
            word = self.take()
            if word == "syntax":
                self.take("=")
                f.syntax = self.take().strip('"')
                self.take(";")
            elif word == "package":
                f.package = self.take()
                self.take(";")
            elif word == "message":
                self.message(f.message_type.add())
            elif word == "enum":
                self.enum(f.enum_type.add())
            else:
                raise SchemaError(f"{SCHEMA.name}: unexpected {word!r} at top level")
        return f

    def enum(self, e) -> None:
        e.name = self.take()
        self.take("{")
        while self.peek() != "}":
            value = e.value.add(name=self.take())
            self.take("=")
            value.number = int(self.take())
            self.take(";")
        self.take("}")

    def message(self, m) -> None:
        m.name = self.take()
        self.take("{")
        while self.peek() != "}":
            word = self.take()
            if word == "enum":
                self.enum(m.enum_type.add())
            elif word == "message":
                self.message(m.nested_type.add())
            elif word in _LABELS:
                self.field(m.field.add(), word)
            else:
                raise SchemaError(f"{SCHEMA.name}: unexpected {word!r} in message {m.name}")
        self.take("}")

    def field(self, fd, label: str) -> None:
        fd.label = _LABELS[label]
        type_name = self.take()
        fd.name = self.take()
        self.take("=")
        fd.number = int(self.take())
        if type_name in _SCALARS:
            fd.type = _SCALARS[type_name]
        else:
            fd.type_name = type_name  # resolved once every name is known
        if self.peek() == "[":
            self.take("[")
            while True:
                key = self.take()
                self.take("=")
                value = self.take()
                if key == "default":
                    fd.default_value = value.strip('"')
                elif key == "packed":
                    fd.options.packed = value == "true"
                else:
                    raise SchemaError(f"{SCHEMA.name}: unknown field option {key!r} on {fd.name}")
                if self.peek() != ",":
                    break
                self.take(",")
            self.take("]")
        self.take(";")


def _resolve(f: descriptor_pb2.FileDescriptorProto) -> None:
    """Turn relative type names into fully qualified ones and set message/enum kinds."""
    kinds: Dict[str, int] = {}

    def collect(scope: str, messages, enums):
        for e in enums:
            kinds[f"{scope}.{e.name}"] = _F.TYPE_ENUM
        for m in messages:
            kinds[f"{scope}.{m.name}"] = _F.TYPE_MESSAGE
            collect(f"{scope}.{m.name}", m.nested_type, m.enum_type)

    root = "." + f.package
    collect(root, f.message_type, f.enum_type)

    def fix(scope: str, messages):
        for m in messages:
            inner = f"{scope}.{m.name}"
            for fd in m.field:
                if fd.type_name:
                    for candidate in (f"{inner}.{fd.type_name}", f"{root}.{fd.type_name}"):
                        if candidate in kinds:
                            fd.type_name, fd.type = candidate, kinds[candidate]
                            break
                    else:
                        raise SchemaError(f"{SCHEMA.name}: unknown type {fd.type_name!r} of "
                                          f"{m.name}.{fd.name}")
            fix(inner, m.nested_type)

    fix(root, f.message_type)


#: BlobProto's packed float arrays, read as raw little-endian bytes by ``caffe_pb(raw_blobs=True)``.
_PACKED_ARRAYS = ("data", "diff", "double_data", "double_diff")


@lru_cache(maxsize=None)
def caffe_pb(raw_blobs: bool = False) -> SimpleNamespace:
    """Message classes of the schema subset, by message name (``caffe_pb().NetParameter``).

    With ``raw_blobs`` the packed arrays of ``BlobProto`` are declared as
    ``repeated bytes``: a packed repeated float is one length-delimited field
    on the wire, exactly like bytes, so a caffemodel decodes (and encodes)
    with its weights as raw buffers for ``numpy.frombuffer`` instead of
    Python lists of floats, which the pure-Python protobuf runtime builds
    one value at a time (minutes for VGG16).
    """
    f = _Reader(SCHEMA.read_text()).file()
    _resolve(f)
    if raw_blobs:
        blob = next(m for m in f.message_type if m.name == "BlobProto")
        for fd in blob.field:
            if fd.name in _PACKED_ARRAYS:
                fd.type = _F.TYPE_BYTES
                fd.ClearField("options")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    factory = message_factory.MessageFactory(pool)
    classes = {m.name: factory.GetPrototype(pool.FindMessageTypeByName(f"{f.package}.{m.name}"))
               for m in f.message_type}
    return SimpleNamespace(**classes)
