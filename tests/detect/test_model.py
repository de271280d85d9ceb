import json

import cv2
import numpy as np

from common import modelfile
from dataset.iterator import DetRecordIter
from dataset.voc import load_voc
from detect.model import MXNetDetector as Detector
from detect.model import inference_symbol
from symbol.coding import DetectionParams
from symbol.presets import get_preset
from tools.make_synthetic_voc import CLASSES


def test_detect_returns_sorted_pixel_boxes(checkpoint, images):
    det = Detector.from_prefix(checkpoint, batch_size=2)
    image = cv2.imread(str(images[0]))
    h, w = image.shape[:2]
    raw = det.forward(det.preprocess(image)[None])[0]
    rows = det.detect([image], thresh=0.05)[0]
    kept = raw[(raw[:, 0] >= 0) & (raw[:, 1] >= 0.05)]
    assert len(rows) == len(kept) > 0
    assert np.all(np.diff(rows[:, 1]) <= 0)
    best = kept[np.argmax(kept[:, 1])]
    np.testing.assert_allclose(rows[0, 2:], best[2:] * [w, h, w, h], rtol=1e-6)


def test_preprocess_matches_the_validation_iterator(checkpoint, packed, voc_root):
    det = Detector.from_prefix(checkpoint)
    meta = det.meta
    it = DetRecordIter(packed[1], batch_size=1, data_shape=meta.data_shape, mean=meta.mean, std=meta.std)
    first = load_voc(voc_root, "test", CLASSES)[0]
    from_iter = it.next().data[0].asnumpy()[0]
    ours = det.preprocess(cv2.imread(str(first.path)))
    assert ours.shape == from_iter.shape == (3, meta.data_shape, meta.data_shape)
    # Same decoder and interpolation up to JPEG decoding details: within a grey level on average.
    assert np.abs(ours - from_iter).mean() < 1.0 / 58


def test_batched_and_single_detection_agree(checkpoint, images):
    one = Detector.from_prefix(checkpoint, batch_size=1)
    four = Detector.from_prefix(checkpoint, batch_size=4)
    imgs = [cv2.imread(str(p)) for p in images[:3]]
    for a, b in zip(one.detect(imgs, thresh=0.1), four.detect(imgs, thresh=0.1)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_a_checkpoint_decodes_with_the_anchors_it_was_trained_with():
    """The bundled checkpoint was trained with smaller anchors than today's preset; its symbol keeps them."""
    prefix = "model/ssd_mobilenet0.5_synthetic"
    meta = modelfile.load_meta(prefix)
    graph = json.loads(inference_symbol(prefix, meta, DetectionParams()).tojson())
    nodes = {n["name"]: n for n in graph["nodes"]}
    sizes = nodes["head0_anchors"]["attrs"]["sizes"]
    assert sizes.startswith("(0.05,") and "_contrib_MultiBoxDetection" in {n["op"] for n in nodes.values()}
    assert get_preset(meta.network, meta.data_shape).anchors[0].sizes[0] != 0.05


def test_a_checkpoint_is_rebuilt_from_its_stored_spec_or_its_recorded_overrides():
    """The spec stored in the metadata is the authority; a checkpoint written before it was stored is
    rebuilt from its preset with the overrides its metadata recorded, not from the bare preset."""
    from common.modelmeta import ModelMeta
    from detect.model import spec_of
    from symbol.presets import get_preset, resolve_preset
    overrides = dict(anchor_scales=(0.1, 0.9, 0.05, 0.1), top_down=64)
    spec = resolve_preset("mobilenet0.5", 384, **overrides)
    base = dict(kind="train", network="mobilenet0.5", data_shape=384, class_names=("a",), mean=(0, 0, 0),
                std=(1, 1, 1))
    assert spec_of(ModelMeta(**base, spec=spec.to_json())) == spec
    older = ModelMeta(**base, made_by={"anchor_scales": [0.1, 0.9, 0.05, 0.1], "top_down": 64})
    assert spec_of(older) == spec != get_preset("mobilenet0.5", 384)
    plain = ModelMeta(**base, made_by={"anchor_scales": [], "top_down": 0})
    assert spec_of(plain) == get_preset("mobilenet0.5", 384)
