"""Network presets: one frozen dataclass per (backbone, input size).

A preset names the backbone layers to tap, the extra layers appended after
the last tap, the L2 normalization of taps and the anchors of each feature
layer. Feature-map sizes and anchor counts are *computed* from the symbol,
never stored.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Dict, Optional, Sequence, Tuple

from symbol.anchors import (
    AnchorSpec,
    caffe_steps,
    paper_anchors,
    ratios_for,
    rescaled,
    ssd_anchor_specs,
)
from symbol.backbones import get_backbone


@dataclass(frozen=True)
class ExtraLayer:
    """An extra feature layer: 1x1 bottleneck then a (usually 3x3) convolution.

    Parameters
    ----------
    bottleneck : int
        Channels of the 1x1 convolution.
    channels : int
        Channels of the 3x3 convolution (the tapped output).
    stride, pad, kernel : int
        Of the second convolution; 3x3 stride 2 pad 1 halves the map, 3x3
        stride 1 pad 0 shrinks it by two (SSD300's last two layers), 4x4
        stride 1 pad 1 takes 2x2 to 1x1 (SSD512's conv10_2).
    """

    bottleneck: int
    channels: int
    stride: int = 2
    pad: int = 1
    kernel: int = 3


@dataclass(frozen=True)
class CaffeLayout:
    """How the released Caffe SSD models name the layers of a preset, so that their converted
    weights load into this project's training symbol (``train.params``).

    Parameters
    ----------
    features : tuple of str
        Per feature map, the Caffe layer its heads read: heads are ``<name>_mbox_loc`` and
        ``<name>_mbox_conf`` (ours ``head<i>_loc`` and ``head<i>_cls``).
    extras : tuple of str
        Per extra layer, the Caffe base name: ``<name>_1`` (1x1) and ``<name>_2`` (3x3), ours
        ``extra<i>_1`` and ``extra<i>_2``.
    norm : str
        The Caffe Normalize layer of the first tap (its scale is ours ``head0_norm_scale``).
    """

    features: Tuple[str, ...]
    extras: Tuple[str, ...]
    norm: str = "conv4_3_norm"

    def names(self) -> Dict[str, str]:
        """Our parameter name -> the converted Caffe model's, for the layers whose names differ."""
        out = {"head0_norm_scale": f"{self.norm}_scale"}
        for i, base in enumerate(self.extras, start=1):
            for j in (1, 2):
                for kind in ("weight", "bias"):
                    out[f"extra{i}_{j}_{kind}"] = f"{base}_{j}_{kind}"
        for i, source in enumerate(self.features):
            for ours, theirs in (("loc", "loc"), ("cls", "conf")):
                for kind in ("weight", "bias"):
                    out[f"head{i}_{ours}_{kind}"] = f"{source}_mbox_{theirs}_{kind}"
        return out


@dataclass(frozen=True)
class Preset:
    """Everything that defines an SSD network except the class count.

    Parameters
    ----------
    name : str
        Registry key, ``<network>_<data_shape>``.
    network : str
        Backbone registry name (``symbol.backbones``).
    data_shape : int
        Square input side in pixels.
    taps : tuple of str
        Backbone layers used as feature maps, finest first.
    extras : tuple of ExtraLayer
        Layers appended after the last tap; each adds one feature map.
    anchors : tuple of AnchorSpec
        One per feature map (``len(taps) + len(extras)``).
    normalization : tuple of float
        Initial L2-normalization scale per tap, ``0`` for none.
    extra_batchnorm : bool
        BatchNorm in the extra layers (for backbones trained with BN).
    separable : bool
        SSDLite: depthwise-separable extra layers and prediction heads.
    activation : str
        Activation of extra layers and separable heads: ``relu`` or ``relu6``.
    top_down : int
        Channels of a feature-pyramid top-down path over the tapped layers (FPN,
        Lin et al. 2017), ``0`` for the paper's SSD (heads on the taps themselves).
        It gives the fine maps the context of the coarser ones; see ``symbol.features.top_down``.
    caffe : CaffeLayout, optional
        The layer names of the released Caffe model of the same layout, if there is one.
    """

    name: str
    network: str
    data_shape: int
    taps: Tuple[str, ...]
    extras: Tuple[ExtraLayer, ...]
    anchors: Tuple[AnchorSpec, ...]
    normalization: Tuple[float, ...] = field(default=())
    extra_batchnorm: bool = False
    separable: bool = False
    activation: str = "relu"
    top_down: int = 0
    caffe: Optional[CaffeLayout] = None

    def __post_init__(self):
        if self.activation not in ("relu", "relu6"):
            raise ValueError(f"preset {self.name}: activation must be relu or relu6, "
                             f"got {self.activation!r}")
        layers = len(self.taps) + len(self.extras)
        if len(self.anchors) != layers:
            raise ValueError(f"preset {self.name}: {len(self.anchors)} anchor specs for "
                             f"{layers} feature layers")
        if self.top_down < 0:
            raise ValueError(f"preset {self.name}: top_down must be >= 0 channels, got {self.top_down}")
        if self.normalization and len(self.normalization) != len(self.taps):
            raise ValueError(f"preset {self.name}: normalization has {len(self.normalization)} "
                             f"entries for {len(self.taps)} taps")

    @property
    def num_layers(self) -> int:
        return len(self.anchors)

    def to_json(self) -> dict:
        """The whole spec as JSON-ready data (stored in a model's metadata, ``ModelMeta.spec``)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict, where: str = "spec") -> "Preset":
        """The Preset that ``to_json`` wrote; errors name ``where`` and the field."""
        try:
            fields = dict(data)
            fields["taps"] = tuple(fields["taps"])
            fields["extras"] = tuple(ExtraLayer(**e) for e in fields["extras"])
            fields["anchors"] = tuple(AnchorSpec.from_json(a) for a in fields["anchors"])
            fields["normalization"] = tuple(fields.get("normalization", ()))
            caffe = fields.get("caffe")
            if caffe:
                fields["caffe"] = CaffeLayout(features=tuple(caffe["features"]),
                                              extras=tuple(caffe["extras"]), norm=caffe["norm"])
            return cls(**fields)
        except (KeyError, TypeError) as err:
            raise ValueError(f"{where}: not a network spec ({type(err).__name__}: {err})") from None


_PRESETS: Dict[str, Preset] = {}


def register_preset(preset: Preset) -> Preset:
    if preset.name in _PRESETS:
        raise ValueError(f"preset {preset.name!r} is registered twice")
    _PRESETS[preset.name] = preset
    return preset


def available_presets() -> list:
    """Sorted registry keys ``<network>_<data_shape>``."""
    return sorted(_PRESETS)


def all_presets() -> list:
    """Every registered Preset, sorted by name."""
    return [_PRESETS[k] for k in available_presets()]


def get_preset(network: str, data_shape: int) -> Preset:
    """The preset for ``network`` at ``data_shape``; errors list the choices."""
    key = f"{network}_{data_shape}"
    if key in _PRESETS:
        return _PRESETS[key]
    sizes = sorted(p.data_shape for p in _PRESETS.values() if p.network == network)
    if sizes:
        raise KeyError(f"network {network!r} has no preset for input size {data_shape}; "
                       f"available sizes: {sizes}")
    networks = sorted({p.network for p in _PRESETS.values()})
    raise KeyError(f"unknown network {network!r}; available: {', '.join(networks)}")


# --- VGG16-reduced (paper, table/figure 2; Caffe ssd_pascal.py / ssd_pascal_512.py) ---

def _vgg16_300(network: str, width: float) -> Preset:
    c = lambda n: max(1, int(n * width))  # noqa: E731
    return Preset(
        name=f"{network}_300", network=network, data_shape=300,
        taps=get_backbone(network).taps,
        extras=(ExtraLayer(c(256), c(512)), ExtraLayer(c(128), c(256)),
                ExtraLayer(c(128), c(256), stride=1, pad=0),
                ExtraLayer(c(128), c(256), stride=1, pad=0)),
        anchors=ssd_anchor_specs(ratios_for(6), s_min=0.2, s_max=0.9, first=(0.1, 0.2),
                                 steps=caffe_steps(300, (8, 16, 32, 64, 100, 300))),
        normalization=(20.0, 0.0),
        caffe=CaffeLayout(features=("conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2"),
                          extras=("conv6", "conv7", "conv8", "conv9")))


def _vgg16_512(network: str, width: float) -> Preset:
    c = lambda n: max(1, int(n * width))  # noqa: E731
    # conv10_2 of SSD512 is a 4x4 convolution (stride 1, pad 1): 2x2 -> 1x1.
    return Preset(
        name=f"{network}_512", network=network, data_shape=512,
        taps=get_backbone(network).taps,
        extras=(ExtraLayer(c(256), c(512)), ExtraLayer(c(128), c(256)),
                ExtraLayer(c(128), c(256)), ExtraLayer(c(128), c(256)),
                ExtraLayer(c(128), c(256), stride=1, pad=1, kernel=4)),
        anchors=ssd_anchor_specs(ratios_for(7), s_min=0.15, s_max=0.9, first=(0.04, 0.1),
                                 steps=caffe_steps(512, (8, 16, 32, 64, 128, 256, 512))),
        normalization=(20.0, 0.0),
        caffe=CaffeLayout(features=("conv4_3_norm", "fc7", "conv6_2", "conv7_2", "conv8_2", "conv9_2",
                                    "conv10_2"),
                          extras=("conv6", "conv7", "conv8", "conv9", "conv10")))


for _net, _w in (("vgg16_reduced", 1.0), ("vgg16_reduced_tiny", 1.0 / 16)):
    register_preset(_vgg16_300(_net, _w))
    register_preset(_vgg16_512(_net, _w))


def with_anchor_scales(preset: Preset, scales: Sequence[float]) -> Preset:
    """``preset`` with anchors from the linear rule at other ``scales`` (``symbol.anchors.rescaled``)."""
    return replace(preset, anchors=rescaled(preset.anchors, scales))


def resolve_preset(network: str, data_shape: int, *, anchor_scales: Optional[Sequence[float]] = None,
                   top_down: Optional[int] = None) -> Preset:
    """The one spec a network is built from: the registered preset with every override applied.

    Parameters
    ----------
    network : str
    data_shape : int
        Square input side, pixels.
    anchor_scales : sequence of float, optional
        ``s_min, s_max[, first_min, first_max]``: anchors by the paper's linear rule at these
        scales (``with_anchor_scales``); None keeps the preset's.
    top_down : int, optional
        Channels of the top-down path (0: none); None keeps the preset's.

    Training stores the result whole in the model's metadata (``ModelMeta.spec``); the detector,
    the ONNX export and the benchmark build from it.
    """
    preset = get_preset(network, data_shape)
    if anchor_scales:
        preset = with_anchor_scales(preset, anchor_scales)
    if top_down is not None:
        preset = replace(preset, top_down=top_down)
    return preset


def halving_extras(*channels: Tuple[int, int], last_valid: bool = False) -> Tuple[ExtraLayer, ...]:
    """Extra layers ``(bottleneck, channels)`` that each halve the map (3x3, stride 2, pad 1).

    ``last_valid`` makes the last one a 3x3 stride-1 unpadded convolution (3x3 -> 1x1), as
    SSD300's last layers are.
    """
    layers = [ExtraLayer(b, c) for b, c in channels]
    if last_valid:
        layers[-1] = ExtraLayer(layers[-1].bottleneck, layers[-1].channels, stride=1, pad=0)
    return tuple(layers)


def paper_preset(network: str, data_shape: int, *, extras: Tuple[ExtraLayer, ...],
                 taps: Optional[Tuple[str, ...]] = None, **kwargs) -> Preset:
    """A preset named ``<network>_<data_shape>`` with ``paper_anchors`` for its layers.

    ``taps`` defaults to the tap points the backbone declares (``symbol.backbones.register``).
    """
    taps = tuple(taps) if taps is not None else get_backbone(network).taps
    return Preset(name=f"{network}_{data_shape}", network=network, data_shape=data_shape, taps=taps,
                  extras=extras, anchors=paper_anchors(len(taps) + len(extras), data_shape),
                  **kwargs)


# --- ResNet v1: stages 3 and 4 (strides 16, 32) plus four halving extra layers ---
# 300: 19, 10, 5, 3, 2, 1; 512: 32, 16, 8, 4, 2, 1 (the original MXNet SSD's and GluonCV's layout).
_RESNET_EXTRAS = halving_extras((256, 512), (128, 256), (128, 256), (128, 256))
for _depth in (50, 101):
    for _size in (300, 512):
        register_preset(paper_preset(f"resnet{_depth}", _size, extras=_RESNET_EXTRAS, extra_batchnorm=True))

# --- Inception-v3: mixed_5d, mixed_6e, mixed_7c (35, 17, 8 at 300) plus halving extras ---
register_preset(paper_preset("inceptionv3", 300, extras=halving_extras((256, 512), (128, 256), (128, 256)),
                             extra_batchnorm=True))
register_preset(paper_preset("inceptionv3", 512,
                             extras=halving_extras((256, 512), (128, 256), (128, 256), (128, 256)),
                             extra_batchnorm=True))

# --- MobileNet v2 SSDLite (Sandler et al. 2018, section 6.2): expansion of block 13 (stride 16)
# and the 1280-channel last layer (stride 32), four extra layers of 512, 256, 256 and 128
# channels, depthwise-separable extras and heads, ReLU6 ---
_SSDLITE_EXTRAS = ((256, 512), (128, 256), (128, 256), (64, 128))
for _size, _last_valid in ((300, False), (512, False), (608, True)):
    register_preset(paper_preset("mobilenetv2_1.0", _size,
                                 extras=halving_extras(*_SSDLITE_EXTRAS, last_valid=_last_valid),
                                 extra_batchnorm=True, separable=True, activation="relu6"))


# --- MobileNet v1: strides 8, 16, 32 tapped (the backbone's taps), three extra layers (GluonCV-style) ---

def _mobilenet_small(multiplier: float, data_shape: int) -> Preset:
    """MobileNet v1 at 300 (38, 19, 10, 5, 3, 1) or 384 (48, 24, 12, 6, 3, 1).

    384 keeps SSD300's layout (a last 3x3 unpadded layer) at 1.6x its cost, for
    datasets of small objects.
    """
    c = lambda n: max(8, int(n * multiplier))  # noqa: E731
    return paper_preset(f"mobilenet{multiplier}", data_shape,
                        extras=(ExtraLayer(c(256), c(512)), ExtraLayer(c(128), c(256)),
                                ExtraLayer(c(128), c(256), stride=1, pad=0)),
                        extra_batchnorm=True)


def _mobilenet_large(multiplier: float, data_shape: int) -> Preset:
    """MobileNet v1 at 512 (64, 32, 16, 8, 4, 2, 1) or 608 (76, 38, 19, 10, 5, 3, 1)."""
    c = lambda n: max(8, int(n * multiplier))  # noqa: E731
    channels = [(c(256), c(512)), (c(128), c(256)), (c(128), c(256)), (c(128), c(256))]
    return paper_preset(f"mobilenet{multiplier}", data_shape,
                        extras=halving_extras(*channels, last_valid=data_shape == 608), extra_batchnorm=True)


for _m in (1.0, 0.5, 0.25):
    register_preset(_mobilenet_small(_m, 300))
    register_preset(_mobilenet_small(_m, 384))
    register_preset(_mobilenet_large(_m, 512))
    register_preset(_mobilenet_large(_m, 608))
