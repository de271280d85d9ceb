"""The bad-input corpus: inputs users get wrong, each run through a real command line.

Every case is judged by one rule: a non-zero exit, a one-line message on stderr
naming the culprit (file, line, record, field or flag), no traceback, and
nothing left at the output path. ``python -m tests.bad_inputs.corpus`` prints
the summary table of the README's reliability section.

A case builds its inputs in a scratch folder (small synthetic images, VOC/COCO
annotations, RecordIO files, models) and returns the command and what its
message must contain.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import cv2
import numpy as np

from common.paths import BUNDLED_MODEL, DEMO_IMAGES, REPO

PY = sys.executable
TRAIN, EVAL, DEMO, DEPLOY = (str(REPO / s) for s in ("train.py", "evaluate.py", "demo.py", "deploy.py"))


@dataclass
class Run:
    argv: List[str]          # the command line
    message: str             # what stderr must contain (the culprit's name)
    output: Path             # what must not exist afterwards


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                # the class of input, for the summary table
    build: Callable[[Path], Run]


CASES: Dict[str, Case] = {}


def case(kind: str):
    def wrap(fn):
        CASES[fn.__name__] = Case(fn.__name__, kind, fn)
        return fn
    return wrap


# --- helpers: small valid inputs to spoil ----------------------------------------------------

def voc(tmp: Path, xml_object: str = "", *, image: bytes = None, size=(64, 48), name="img") -> Path:
    """A one-image VOC folder; ``xml_object`` is inserted as the image's objects."""
    root = tmp / "voc"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    if image is None:
        image = cv2.imencode(".jpg", np.full((size[1], size[0], 3), 128, np.uint8))[1].tobytes()
    (root / "JPEGImages" / f"{name}.jpg").write_bytes(image)
    (root / "Annotations" / f"{name}.xml").write_text(
        f"<annotation><filename>{name}.jpg</filename><size><width>{size[0]}</width><height>{size[1]}</height>"
        f"<depth>3</depth></size>{xml_object}</annotation>")
    (root / "ImageSets" / "Main" / "train.txt").write_text(f"{name}\n")
    (root / "classes.txt").write_text("cat\ndog\n")
    return root


def obj(name="cat", box=(5, 5, 30, 30)) -> str:
    coords = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
    return f"<object><name>{name}</name><difficult>0</difficult><bndbox>{coords}</bndbox></object>"


def pack(root: Path, out: Path) -> List[str]:
    return [PY, "-m", "tools.prepare_dataset", "--root", str(root), "--split", "train", "--out", str(out),
            "--no-progress"]


def good_rec(tmp: Path) -> Path:
    """A valid one-image .rec (cat at the image centre)."""
    from dataset.recordio import pack_records
    from dataset.voc import load_voc
    root = voc(tmp, obj())
    rec = tmp / "good.rec"
    pack_records(load_voc(root, "train", ("cat", "dog")), rec, ("cat", "dog"), progress=False)
    return rec


def coco(tmp: Path, **changes) -> Path:
    image = tmp / "a.jpg"
    cv2.imwrite(str(image), np.full((48, 64, 3), 128, np.uint8))
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 20], "iscrowd": 0}],
            "categories": [{"id": 3, "name": "cat"}]}
    for path, value in changes.items():
        section, key = path.split(".")
        data[section][0][key] = value
    path = tmp / "instances.json"
    path.write_text(json.dumps(data))
    return path


def coco_pack(tmp: Path, annotations: Path) -> List[str]:
    return [PY, "-m", "tools.prepare_dataset", "--dataset", "coco", "--root", str(tmp), "--annotations",
            str(annotations), "--out", str(tmp / "out.rec"), "--no-progress"]


def copy_model(tmp: Path, name="m") -> Path:
    prefix = tmp / name
    for suffix in ("-symbol.json", "-0004.params", "-meta.json"):
        shutil.copy(f"{BUNDLED_MODEL}{suffix}", f"{prefix}{suffix}")
    return prefix


def edit_meta(prefix: Path, **changes) -> None:
    path = Path(f"{prefix}-meta.json")
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def onnx_model(tmp: Path) -> Path:
    """The bundled model exported to ONNX."""
    from common.modelmeta import load_meta
    from detect.onnx.export import export_onnx
    from symbol.coding import DetectionParams
    detection = DetectionParams(**load_meta(BUNDLED_MODEL).detection)
    return export_onnx(BUNDLED_MODEL, None, tmp / "ssd.onnx", detection)


def demo(prefix, tmp: Path, *extra) -> List[str]:
    return [PY, DEMO, str(DEMO_IMAGES / "000000.jpg"), "--prefix", str(prefix), "--out", str(tmp / "out"),
            *extra]


# --- images -------------------------------------------------------------------------------

@case("images")
def truncated_jpeg_in_a_voc_set(tmp):
    good = (DEMO_IMAGES / "000000.jpg").read_bytes()
    root = voc(tmp, obj(), image=good[:len(good) // 2], size=(480, 320))
    return Run(pack(root, tmp / "out.rec"), "img.jpg (from", tmp / "out.rec")


@case("images")
def zero_byte_jpeg_in_a_voc_set(tmp):
    root = voc(tmp, obj(), image=b"")
    return Run(pack(root, tmp / "out.rec"), "img.jpg (from", tmp / "out.rec")


@case("images")
def text_file_named_jpg(tmp):
    root = voc(tmp, obj(), image=b"this is not an image\n" * 20)
    return Run(pack(root, tmp / "out.rec"), "not a JPEG, PNG, BMP or WebP", tmp / "out.rec")


@case("images")
def one_pixel_training_image(tmp):
    image = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes()
    root = voc(tmp, "", image=image, size=(1, 1))
    return Run(pack(root, tmp / "out.rec"), "img.jpg", tmp / "out.rec")


@case("images")
def demo_on_a_truncated_image_only(tmp):
    bad = tmp / "cut.jpg"
    good = (DEMO_IMAGES / "000000.jpg").read_bytes()
    bad.write_bytes(good[:len(good) // 3])
    return Run([PY, DEMO, str(bad), "--out", str(tmp / "out")], "cut.jpg: truncated JPEG", tmp / "out")


# --- annotations ----------------------------------------------------------------------------

@case("VOC annotations")
def voc_nan_coordinate(tmp):
    return Run(pack(voc(tmp, obj(box=("nan", 5, 30, 30))), tmp / "out.rec"), "<xmin> is not a finite number",
               tmp / "out.rec")


@case("VOC annotations")
def voc_empty_box(tmp):
    return Run(pack(voc(tmp, obj(box=(30, 5, 30, 30))), tmp / "out.rec"), "img.xml: object 0: empty box",
               tmp / "out.rec")


@case("VOC annotations")
def voc_box_outside_the_image(tmp):
    return Run(pack(voc(tmp, obj(box=(5, 5, 300, 30))), tmp / "out.rec"), "lies outside the 64x48 image",
               tmp / "out.rec")


@case("VOC annotations")
def voc_unknown_class(tmp):
    return Run(pack(voc(tmp, obj(name="horse")), tmp / "out.rec"), "unknown class name 'horse'",
               tmp / "out.rec")


@case("VOC annotations")
def voc_malformed_xml(tmp):
    root = voc(tmp, obj())
    (root / "Annotations" / "img.xml").write_text("<annotation><size>")
    return Run(pack(root, tmp / "out.rec"), "img.xml: malformed XML", tmp / "out.rec")


@case("VOC annotations")
def voc_word_as_width(tmp):
    root = voc(tmp, obj())
    xml = root / "Annotations" / "img.xml"
    xml.write_text(xml.read_text().replace("<width>64</width>", "<width>wide</width>"))
    return Run(pack(root, tmp / "out.rec"), "<width> is not a number: 'wide'", tmp / "out.rec")


@case("COCO annotations")
def coco_width_as_string(tmp):
    return Run(coco_pack(tmp, coco(tmp, **{"images.width": "64"})),
               "images[0] (id 1): width must be an integer", tmp / "out.rec")


@case("COCO annotations")
def coco_nan_bbox(tmp):
    return Run(coco_pack(tmp, coco(tmp, **{"annotations.bbox": [5, float("nan"), 20, 20]})),
               "annotations[0] (id 1): bbox", tmp / "out.rec")


@case("COCO annotations")
def coco_unknown_category(tmp):
    return Run(coco_pack(tmp, coco(tmp, **{"annotations.category_id": 9})),
               "category_id 9 is not in categories", tmp / "out.rec")


@case("COCO annotations")
def coco_missing_image_file(tmp):
    return Run(coco_pack(tmp, coco(tmp, **{"images.file_name": "gone.jpg"})), "gone.jpg not found",
               tmp / "out.rec")


@case("COCO annotations")
def coco_invalid_json(tmp):
    path = tmp / "instances.json"
    path.write_text("{\"images\": [")
    return Run(coco_pack(tmp, path), "instances.json: not valid JSON", tmp / "out.rec")


@case("list files")
def list_file_class_out_of_range(tmp):
    cv2.imwrite(str(tmp / "a.jpg"), np.full((48, 64, 3), 128, np.uint8))
    (tmp / "train.txt").write_text("a.jpg 5,5,20,20,0\na.jpg 5,5,20,20,7\n")
    return Run([PY, "-m", "tools.prepare_dataset", "--dataset", "list", "--root", str(tmp), "--annotations",
                str(tmp / "train.txt"), "--class-names", "cat,dog", "--out", str(tmp / "out.rec")],
               "train.txt:2: box 0: class 7 is outside 0..1", tmp / "out.rec")


@case("list files")
def list_file_nan_coordinate(tmp):
    cv2.imwrite(str(tmp / "a.jpg"), np.full((48, 64, 3), 128, np.uint8))
    (tmp / "train.txt").write_text("a.jpg 5,nan,20,20,0\n")
    return Run([PY, "-m", "tools.prepare_dataset", "--dataset", "list", "--root", str(tmp), "--annotations",
                str(tmp / "train.txt"), "--class-names", "cat,dog", "--out", str(tmp / "out.rec")],
               "train.txt:1: box 0", tmp / "out.rec")


# --- RecordIO -------------------------------------------------------------------------------

def _train_on(rec: Path, tmp: Path, *extra) -> List[str]:
    return [PY, TRAIN, "--train-rec", str(rec), "--prefix", str(tmp / "ckpt" / "ssd"), "--network",
            "vgg16_reduced_tiny", "--epochs", "1", "--no-progress", *extra]


@case("RecordIO files")
def truncated_rec(tmp):
    rec = good_rec(tmp)
    data = rec.read_bytes()
    rec.write_bytes(data[:len(data) - 100])
    return Run(_train_on(rec, tmp), "good.rec: record 0 at byte 0", tmp / "ckpt")


@case("RecordIO files")
def random_bytes_as_rec(tmp):
    rec = good_rec(tmp)
    rec.write_bytes(np.random.default_rng(0).bytes(5000))
    return Run(_train_on(rec, tmp), "good.rec: record 0 at byte 0: not a RecordIO record", tmp / "ckpt")


@case("RecordIO files")
def empty_rec(tmp):
    rec = good_rec(tmp)
    rec.write_bytes(b"")
    return Run(_train_on(rec, tmp), "good.rec: empty file", tmp / "ckpt")


@case("RecordIO files")
def index_of_another_file(tmp):
    rec = good_rec(tmp)
    rec.with_suffix(".idx").write_text("0\t0\n1\t4096\n")
    return Run(_train_on(rec, tmp), "good.idx:2: offset 4096 is not the start of a record", tmp / "ckpt")


@case("RecordIO files")
def class_names_disagree_with_the_rec(tmp):
    rec = good_rec(tmp)
    return Run(_train_on(rec, tmp, "--class-names", "a,b,c"), "--class-names gives 3 classes", tmp / "ckpt")


@case("RecordIO files")
def evaluate_a_rec_of_other_classes(tmp):
    rec = good_rec(tmp)
    return Run([PY, EVAL, "--prefix", str(BUNDLED_MODEL), "--rec", str(rec), "--json", str(tmp / "r.json")],
               "good.rec: holds classes ['cat', 'dog']", tmp / "r.json")


# --- models ---------------------------------------------------------------------------------

@case("models")
def params_of_another_network(tmp):
    import mxnet as mx

    from symbol.builder import deploy_symbol
    from symbol.presets import get_preset
    prefix = copy_model(tmp)  # then a tiny VGG's parameters beside the bundled MobileNet's symbol
    sym = deploy_symbol(get_preset("vgg16_reduced_tiny", 300), 6)
    arg_shapes, _, _ = sym.infer_shape(data=(1, 3, 300, 300))
    blob = {f"arg:{n}": mx.nd.zeros(s) for n, s in zip(sym.list_arguments(), arg_shapes) if n != "data"}
    mx.nd.save(f"{prefix}-0004.params", blob)
    return Run(demo(prefix, tmp), "m-0004.params: no parameter", tmp / "out")


@case("models")
def meta_with_too_few_class_names(tmp):
    prefix = copy_model(tmp)
    edit_meta(prefix, class_names=["circle", "square"])
    return Run(demo(prefix, tmp), "m-meta.json: names 2 classes, the model", tmp / "out")


@case("models")
def meta_with_another_input_size(tmp):
    prefix = copy_model(tmp)
    edit_meta(prefix, data_shape=300)
    return Run(demo(prefix, tmp), "m-meta.json: data_shape 300 disagrees with the model's preset",
               tmp / "out")


@case("models")
def meta_written_for_another_symbol(tmp):
    prefix = copy_model(tmp)
    edit_meta(prefix, symbol_sha256="0" * 64)  # the metadata of another export, beside this symbol
    return Run(demo(prefix, tmp), "m-meta.json: field symbol_sha256 (000000000000…) disagrees with "
               "m-symbol.json", tmp / "out")


@case("models")
def deploy_meta_beside_a_training_graph(tmp):
    from symbol.builder import train_symbol
    from symbol.presets import get_preset
    prefix = copy_model(tmp)  # a deploy model's metadata beside the bundled checkpoint's training graph
    edit_meta(prefix, kind="deploy")
    train_symbol(get_preset("mobilenet0.5", 384), 6).save(f"{prefix}-symbol.json")
    return Run(demo(prefix, tmp), "m-meta.json: field kind 'deploy' disagrees with m-symbol.json, a training "
               "graph", tmp / "out")


@case("models")
def malformed_symbol_json(tmp):
    prefix = copy_model(tmp)
    Path(f"{prefix}-symbol.json").write_text("{\"nodes\": [")
    return Run(demo(prefix, tmp), "m-symbol.json: malformed symbol JSON", tmp / "out")


@case("models")
def missing_symbol_json(tmp):
    prefix = copy_model(tmp)
    Path(f"{prefix}-symbol.json").unlink()
    return Run(demo(prefix, tmp), "m-symbol.json: model symbol not found", tmp / "out")


@case("models")
def truncated_params(tmp):
    prefix = copy_model(tmp)
    path = Path(f"{prefix}-0004.params")
    path.write_bytes(path.read_bytes()[:10000])
    return Run(demo(prefix, tmp), "m-0004.params: not a readable MXNet params file", tmp / "out")


@case("models")
def truncated_onnx(tmp):
    path = tmp / "m.onnx"
    path.write_bytes(b"\x08\x07\x12\x04test" + b"\x00" * 50)
    return Run(demo(path, tmp), "m.onnx: not a readable ONNX file", tmp / "out")


@case("models")
def deploy_from_a_missing_model(tmp):
    return Run([PY, DEPLOY, "--prefix", str(tmp / "nothing"), "--out", str(tmp / "d")],
               "nothing-meta.json: model metadata not found", tmp / "d-meta.json")


# --- flags ----------------------------------------------------------------------------------

def _flag(tmp, *flags, script=TRAIN) -> Run:
    base = ([PY, script, "--train-rec", str(tmp / "t.rec"), "--prefix", str(tmp / "ckpt" / "ssd")]
            if script == TRAIN else [PY, script, str(DEMO_IMAGES / "000000.jpg"), "--out", str(tmp / "ckpt")])
    return Run(base + list(flags), f"argument {flags[0]}", tmp / "ckpt")


for _flags in (("--batch-size", "0"), ("--batch-size", "-4"), ("--epochs", "0"), ("--checkpoint-every", "0"),
               ("--log-interval", "0"), ("--val-every", "0"), ("--lr", "nan"), ("--crop-prob", "1.5"),
               ("--threads", "0")):
    def _make(flags=_flags):
        return lambda tmp: _flag(tmp, *flags)
    CASES[f"train {' '.join(_flags)}"] = Case(f"train {' '.join(_flags)}", "flags", _make())
for _flags in (("--thresh", "2"), ("--nms", "-0.1"), ("--nms-topk", "0"), ("--epoch", "-1")):
    def _make(flags=_flags):
        return lambda tmp: _flag(tmp, *flags, script=DEMO)
    CASES[f"demo {' '.join(_flags)}"] = Case(f"demo {' '.join(_flags)}", "flags", _make())


@case("flags")
def gpus_without_a_gpu(tmp):
    return Run(demo(BUNDLED_MODEL, tmp, "--gpus", "0"), "--gpus 0: MXNet sees no GPU", tmp / "out")


@case("flags")
def engine_for_an_mxnet_model(tmp):
    return Run(demo(BUNDLED_MODEL, tmp, "--engine", "openvino"), "--engine openvino runs .onnx files",
               tmp / "out")


@case("flags")
def bf16_precision_in_onnx_runtime(tmp):
    return Run(demo(onnx_model(tmp), tmp, "--engine", "onnxruntime", "--precision", "bf16"),
               "--precision bf16 needs --engine openvino", tmp / "out")


@case("flags")
def calibration_folder_without_images(tmp):
    (tmp / "empty").mkdir()
    return Run([PY, DEPLOY, "--prefix", str(BUNDLED_MODEL), "--out", str(tmp / "q"), "--quantize", "int8",
                "--calib-dir", str(tmp / "empty")],
               "empty: no images (.jpg, .png, .bmp, .webp) to calibrate on", Path(f"{tmp / 'q'}-meta.json"))


@case("flags")
def calibration_folder_that_is_a_rec(tmp):
    rec = good_rec(tmp)
    return Run([PY, DEPLOY, "--prefix", str(BUNDLED_MODEL), "--out", str(tmp / "q"), "--quantize", "int8",
                "--calib-dir", str(rec)], "--calib-dir", Path(f"{tmp / 'q'}-meta.json"))


@case("flags")
def serve_samples_that_do_not_exist(tmp):
    return Run([PY, str(REPO / "serve.py"), "--samples", str(tmp / "nowhere"), "--port", "1"],
               "--samples", tmp / "nowhere")


@case("flags")
def amp_fp16_on_the_cpu(tmp):
    return Run(_train_on(good_rec(tmp), tmp, "--amp", "fp16"), "--amp fp16 needs --gpus", tmp / "ckpt")


@case("training recipes")
def recipe_with_an_unknown_key(tmp):
    recipe = tmp / "r.toml"
    recipe.write_text('network = "vgg16_reduced_tiny"\nlearning_rate = 0.1\n')
    return Run(_train_on(good_rec(tmp), tmp, "--config", str(recipe)), "r.toml: unknown key 'learning_rate'",
               tmp / "ckpt")


@case("training recipes")
def recipe_that_is_not_toml(tmp):
    recipe = tmp / "r.toml"
    recipe.write_text("network: vgg16\n")
    return Run(_train_on(good_rec(tmp), tmp, "--config", str(recipe)), "r.toml: not valid TOML", tmp / "ckpt")


@case("video")
def video_that_is_a_text_file(tmp):
    clip = tmp / "clip.mp4"
    clip.write_text("not a video\n")
    return Run([PY, DEMO, "--video", str(clip), "--out", str(tmp / "out")], "clip.mp4", tmp / "out")


@case("video")
def video_that_does_not_exist(tmp):
    return Run([PY, DEMO, "--video", str(tmp / "none.mp4"), "--out", str(tmp / "out")], "none.mp4",
               tmp / "out")


# --- Caffe converter ------------------------------------------------------------------------

TINY = REPO / "tests" / "tools" / "caffe" / "tiny_ssd.prototxt"


@case("Caffe models")
def converter_arguments_swapped(tmp):
    weights = tmp / "w.caffemodel"
    from tools.caffe_converter.random_weights import write_random_caffemodel
    write_random_caffemodel(TINY, weights)
    return Run([PY, "-m", "tools.caffe_converter.convert_model", str(weights), str(TINY), str(tmp / "out")],
               "w.caffemodel: binary data, not a text prototxt", Path(f"{tmp / 'out'}-meta.json"))


@case("Caffe models")
def truncated_caffemodel(tmp):
    weights = tmp / "w.caffemodel"
    from tools.caffe_converter.random_weights import write_random_caffemodel
    write_random_caffemodel(TINY, weights)
    weights.write_bytes(weights.read_bytes()[:3000])
    return Run([PY, "-m", "tools.caffe_converter.convert_model", str(TINY), str(weights), str(tmp / "out")],
               "w.caffemodel: not a complete caffemodel", Path(f"{tmp / 'out'}-meta.json"))


@case("list files")
def evaluate_on_a_list_with_a_class_the_model_lacks(tmp):
    listing = tmp / "faces.lst"
    listing.write_text("000000.jpg 10,10,40,40,9\n")
    return Run([PY, EVAL, "--prefix", str(BUNDLED_MODEL), "--list", str(listing), "--image-root",
                str(DEMO_IMAGES), "--json", str(tmp / "r.json")],
               "faces.lst:1: box 0: class 9 is outside 0..5", tmp / "r.json")


@case("Caffe models")
def verify_a_missing_folder(tmp):
    return Run([PY, "-m", "tools.caffe_converter.verify", str(tmp / "nowhere"), "--work", str(tmp / "w")],
               "nowhere: no such folder", tmp / "w")


def summary_table() -> str:
    """``| class of input | cases |`` over the corpus."""
    counts: Dict[str, int] = {}
    for c in CASES.values():
        counts[c.kind] = counts.get(c.kind, 0) + 1
    lines = ["| class of input | cases |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines + [f"| **all** | **{len(CASES)}** |"])


if __name__ == "__main__":
    print(summary_table())
