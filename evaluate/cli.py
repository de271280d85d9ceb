"""Evaluate a detector: VOC07 11-point and area-under-curve mAP per class.

The command line of ``evaluate.py``; usage examples are in that file.
"""
import argparse
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from common import cli
from common.atomic import write_json
from dataset.iterator import DetRecordIter
from dataset.recordio import normalized_objects
from dataset.records import DatasetError
from dataset.voc import load_voc
from detect.model import detector_from_args
from evaluate.report import format_table, summary
from evaluate.runner import evaluate_module
from evaluate.voc_ap import VOCEvaluator


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Evaluate a detector (VOC mAP).")
    cli.add_model_args(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--rec", type=Path, help="packed evaluation set (.rec)")
    src.add_argument("--voc-root", type=Path, help="VOC folder (Annotations/, JPEGImages/, ImageSets/)")
    p.add_argument("--split", default="test", help="image set of --voc-root (default: test)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--iou", type=float, default=0.5, help="IoU threshold of a true positive")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    cli.add_detection_args(p)
    cli.add_device_args(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    return p


def _evaluate_rec(detector, rec: Path, evaluator, batch_size: int, progress: bool):
    meta = detector.meta
    bgr = meta.channel_order == "BGR"
    # The iterator normalizes RGB; a BGR model's mean/std are given in its own order.
    mean, std = (meta.mean[::-1], meta.std[::-1]) if bgr else (meta.mean, meta.std)
    it = DetRecordIter(rec, batch_size=batch_size, data_shape=meta.data_shape, mean=mean, std=std,
                       wrap_last_batch=False)
    return evaluate_module(detector.module, it, evaluator, progress=progress, bgr=bgr)


def _evaluate_voc(detector, root: Path, split: str, evaluator, progress: bool):
    records = load_voc(root, split, detector.meta.class_names)
    for record in tqdm(records, desc="evaluating", unit="img", disable=not progress, leave=False):
        image = cv2.imread(str(record.path), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError(f"{record.path}: not a readable image")
        dets = detector.detect([image])[0]
        h, w = image.shape[:2]
        dets[:, 2:6] /= np.array([w, h, w, h], np.float32)
        evaluator.update(dets, normalized_objects(record), (w, h))
    return evaluator


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging()
    try:
        batch = args.batch_size if args.rec else 1
        detector = detector_from_args(args, batch_size=batch)
        evaluator = VOCEvaluator(detector.meta.class_names, iou_thresh=args.iou)
        if args.rec:
            _evaluate_rec(detector, args.rec, evaluator, batch, args.progress)
        else:
            _evaluate_voc(detector, args.voc_root, args.split, evaluator, args.progress)
    except (DatasetError, ValueError, KeyError, FileNotFoundError) as err:
        return cli.print_error(err)
    result = summary(evaluator)
    result.update(model=str(args.prefix), epoch=detector.epoch, data=str(args.rec or args.voc_root))
    print(f"{args.prefix} (epoch {detector.epoch}) on {args.rec or args.voc_root}: "
          f"{evaluator.num_images} images")
    print(format_table(result))
    if args.json:
        write_json(args.json, result)
    return 0

