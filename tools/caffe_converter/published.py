"""Published Caffe SSD models the converter recognizes by the SHA-256 of their ``.caffemodel``.

A Caffe deploy file carries no preprocessing (mean, scale, channel order) and
no class names, and a wrong guess gives a model that runs and detects
nonsense. For the files listed here the facts are known, so converting them
needs no flags. Only hashes checked against the real file enter the table.

No MXNet here: the table is read by the converter's command line before
anything heavy is loaded.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from common.digest import file_sha256
from symbol.defaults import CAFFE_SSD_MEAN


@dataclass(frozen=True)
class PublishedModel:
    """What a published caffemodel needs to run as its authors ran it.

    Attributes
    ----------
    key : str
        Short name, also the default output name (``build/models/<key>``).
    display_name : str
        Name shown to users (web service, model card).
    mean : (float, float, float)
        Per-channel mean in **BGR** order, pixels (Caffe's ``transform_param``).
    scale : float
        Multiplier after mean subtraction.
    channel_order : str
        The order the model was trained on (Caffe models: ``"BGR"``).
    input_size : int
        Square input side, pixels.
    class_names : tuple of str
        Foreground classes, in label order (Caffe label 1 first).
    source : str
        Where the preprocessing facts come from.
    """

    key: str
    display_name: str
    mean: Tuple[float, float, float]
    scale: float
    channel_order: str
    input_size: int
    class_names: Tuple[str, ...]
    source: str

    def settings(self) -> Dict[str, object]:
        """The conversion settings this model fixes, by the converter's keyword names."""
        return {"mean": self.mean, "scale": self.scale, "input_size": self.input_size,
                "class_names": self.class_names, "display_name": self.display_name}


#: SHA-256 of the caffemodel -> its facts. Checked against the file itself (``make face-model``).
KNOWN: Dict[str, PublishedModel] = {
    # OpenCV's face detector (samples/dnn/face_detector, res10_300x300_ssd_iter_140000.caffemodel,
    # SHA-1 15aa726b4d46d9f023526d85537db81cbc8dd566): OpenCV's face sample feeds it 300x300 BGR
    # with the mean (104, 177, 123) and scale 1.
    "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d": PublishedModel(
        key="res10_face", display_name="OpenCV face detector (ResNet-10 SSD300)",
        mean=(104.0, 177.0, 123.0), scale=1.0, channel_order="BGR", input_size=300, class_names=("face",),
        source="OpenCV samples/dnn/face_detector"),
}


def lookup(caffemodel: Path) -> Tuple[str, Optional[PublishedModel]]:
    """``(sha256, PublishedModel or None)`` of a caffemodel file."""
    digest = file_sha256(caffemodel)
    return digest, KNOWN.get(digest)


#: Generic settings for a caffemodel the table does not know: the original SSD's preprocessing.
GENERIC = {"mean": CAFFE_SSD_MEAN, "scale": 1.0}


@dataclass
class Preprocessing:
    """The settings a conversion uses and where each came from.

    Attributes
    ----------
    values : dict
        ``mean`` (BGR pixels), ``scale``, ``input_size`` (None: the prototxt's), ``class_names``
        (None: ``class1``...), ``display_name`` (None: the output prefix's file name).
    sources : dict
        For each key of ``values``: ``"flag"`` (given explicitly), ``"published"`` (the table),
        ``"assumed"`` (a generic default) or ``"prototxt"``.
    caffemodel_sha256 : str
    published : PublishedModel or None
    """

    values: Dict[str, object]
    sources: Dict[str, str]
    caffemodel_sha256: str
    published: Optional[PublishedModel]

    @property
    def given(self) -> Tuple[str, ...]:
        """The settings given explicitly, as their flags (``--mean``...)."""
        return tuple(f"--{k.replace('_', '-')}" for k, s in self.sources.items() if s == "flag")

    def record(self) -> dict:
        """How the settings were chosen, for the model's metadata (``made_by``)."""
        return {"caffemodel_sha256": self.caffemodel_sha256,
                "published": self.published.key if self.published else None,
                "settings_from": dict(self.sources), "flags_given": list(self.given)}


def resolve(caffemodel: Path, **given) -> Preprocessing:
    """The conversion settings of ``caffemodel``: flags given (not None) win, then the table, then generic.

    ``given`` takes ``mean``, ``scale``, ``input_size``, ``class_names`` and ``display_name``,
    each None when not given.
    """
    digest, known = lookup(caffemodel)
    table = {} if known is None else known.settings()
    values, sources = {}, {}
    for key in ("mean", "scale", "input_size", "class_names", "display_name"):
        if given.get(key) is not None:
            values[key], sources[key] = given[key], "flag"
        elif key in table:
            values[key], sources[key] = table[key], "published"
        elif key in GENERIC:
            values[key], sources[key] = GENERIC[key], "assumed"
        else:
            values[key], sources[key] = None, "prototxt" if key == "input_size" else "default"
    return Preprocessing(values, sources, digest, known)


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def messages(pre: Preprocessing, caffemodel: Path) -> List[Tuple[int, str]]:
    """What a user must be told about the settings, as ``(logging level, line)``.

    A published model recognized (INFO); each setting given explicitly (WARNING where it replaces
    the published model's value, else INFO); the preprocessing assumed for an unknown model when
    no ``--mean`` was given (WARNING).
    """
    lines = []
    known = pre.published
    table = known.settings() if known else {}
    if known is not None:
        lines.append((logging.INFO, f"{caffemodel.name}: the published {known.display_name} (SHA-256 "
                                    f"{pre.caffemodel_sha256[:12]}…): mean {_shown(known.mean)}, scale "
                                    f"{_shown(known.scale)}, {known.channel_order}, {known.input_size}x"
                                    f"{known.input_size}, classes {_shown(known.class_names)}"))
    for key, source in pre.sources.items():
        if source != "flag":
            continue
        flag = f"--{key.replace('_', '-')} {_shown(pre.values[key])} given"
        if key in table and _shown(pre.values[key]) != _shown(table[key]):
            lines.append((logging.WARNING, f"{flag}: replaces the published model's {_shown(table[key])}"))
        else:
            lines.append((logging.INFO, flag))
    if known is None and pre.sources["mean"] == "assumed":
        assumed = f"BGR mean {_shown(pre.values['mean'])} and scale {_shown(pre.values['scale'])}"
        lines.append((logging.WARNING, f"{caffemodel.name}: not a published model this converter knows and "
                                       f"no --mean given: assuming the original SSD's {assumed}; pass "
                                       "--mean/--scale as the model was trained"))
    return lines
