"""The whole chain through the command-line entry points, as the quickstart runs it."""
import json

import pytest

from detect import demo, deploy
from evaluate import cli as evaluate
from tools import make_synthetic_voc, prepare_dataset
from train import cli as train


@pytest.mark.e2e
def test_generate_pack_train_evaluate_deploy_demo(tmp_path, capsys):
    assert make_synthetic_voc.main(["--out", str(tmp_path), "--trainval", "24", "--test", "8",
                                    "--seed", "4"]) == 0
    root = tmp_path / "VOCdevkit" / "synthetic"
    for split, name in (("trainval", "train"), ("test", "val")):
        assert prepare_dataset.main(["--root", str(root), "--split", split, "--out",
                                     str(tmp_path / f"{name}.rec"), "--no-progress"]) == 0
    prefix = tmp_path / "model" / "ssd"
    assert train.main(["--train-rec", str(tmp_path / "train.rec"), "--val-rec", str(tmp_path / "val.rec"),
                       "--network", "vgg16_reduced_tiny", "--batch-size", "8", "--epochs", "2",
                       "--optimizer", "adam", "--lr", "0.002", "--lr-steps", "", "--warmup-epochs", "0.5",
                       "--cpus", "2", "--prefix", str(prefix), "--no-progress",
                       "--log-dir", str(tmp_path / "tb")]) == 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert (tmp_path / "model" / "ssd-0002.params").is_file()
    meta = json.loads((tmp_path / "model" / "ssd-meta.json").read_text())
    assert meta["made_by"]["command"].startswith("python train.py --train-rec")
    capsys.readouterr()
    assert evaluate.main(["--prefix", str(prefix), "--rec", str(tmp_path / "val.rec"), "--no-progress"]) == 0
    assert "mAP" in capsys.readouterr().out
    assert deploy.main(["--prefix", str(prefix), "--out", str(tmp_path / "deploy" / "ssd")]) == 0
    assert demo.main([str(root / "JPEGImages"), "--prefix", str(tmp_path / "deploy" / "ssd"),
                      "--out", str(tmp_path / "demo"), "--thresh", "0.05"]) == 0
    assert len(list((tmp_path / "demo").glob("*.jpg"))) == 32


@pytest.mark.e2e
def test_prepare_dataset_reports_bad_input(tmp_path, capsys):
    make_synthetic_voc.main(["--out", str(tmp_path), "--trainval", "3", "--test", "1"])
    root = tmp_path / "VOCdevkit" / "synthetic"
    xml = root / "Annotations" / "000001.xml"
    xml.write_text(xml.read_text().replace("</annotation>", ""))
    assert prepare_dataset.main(["--root", str(root), "--split", "trainval", "--out",
                                 str(tmp_path / "t.rec"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "000001.xml: malformed XML" in err
    assert not (tmp_path / "t.rec").exists()


@pytest.mark.e2e
def test_coco_format_dataset_trains_and_evaluates(voc_root, tmp_path, capsys):
    """The synthetic set in COCO format: convert, pack, train, evaluate with COCO AP."""
    from tools import voc_to_coco
    images = voc_root / "JPEGImages"
    for split, name in (("trainval", "train"), ("test", "val")):
        assert voc_to_coco.main(["--root", str(voc_root), "--split", split, "--first-id", "11",
                                 "--out", str(tmp_path / f"instances_{split}.json")]) == 0
        assert prepare_dataset.main(["--dataset", "coco", "--root", str(images), "--annotations",
                                     str(tmp_path / f"instances_{split}.json"), "--out",
                                     str(tmp_path / f"{name}.rec"), "--no-progress"]) == 0
    prefix = tmp_path / "ssd"
    assert train.main(["--train-rec", str(tmp_path / "train.rec"), "--network", "vgg16_reduced_tiny",
                       "--batch-size", "8", "--epochs", "1", "--optimizer", "adam", "--lr", "0.002",
                       "--lr-steps", "", "--warmup-epochs", "0", "--prefix", str(prefix),
                       "--no-progress"]) == 0
    capsys.readouterr()
    assert evaluate.main(["--prefix", str(prefix), "--coco-json", str(tmp_path / "instances_test.json"),
                          "--image-root", str(images), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "COCO: AP " in out and "AP50" in out and "12 images" in out
