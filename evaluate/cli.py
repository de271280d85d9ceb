"""Evaluate a detector: VOC07 / VOC area mAP and COCO AP per class.

The command line of ``evaluate.py``; usage examples are in that file.
"""
import argparse
import json
from pathlib import Path
from typing import List, Optional, Sequence

from common import cli
from symbol import options


def build_parser() -> argparse.ArgumentParser:
    p = cli.make_parser("python evaluate.py", "Evaluate a detector (VOC mAP and COCO AP).")
    cli.add_model_args(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--rec", type=Path, help="packed evaluation set (.rec)")
    src.add_argument("--voc-root", type=Path, help="VOC folder (Annotations/, JPEGImages/, ImageSets/)")
    src.add_argument("--coco-json", type=Path, help="COCO instances json (with --image-root)")
    src.add_argument("--list", type=Path,
                     help="list file, one image per line: path x1,y1,x2,y2,cls ... (pixel corners, class "
                          "index of the model's classes; paths relative to --image-root, default: the list "
                          "file's folder)")
    p.add_argument("--split", default="test", help="image set of --voc-root")
    p.add_argument("--image-root", type=Path, default=None,
                   help="folder the file names of --coco-json or --list are relative to")
    p.add_argument("--batch-size", type=cli.positive_int, default=8, help="batch of --rec evaluation")
    p.add_argument("--iou", type=cli.unit_float, default=0.5, help="IoU threshold of a VOC true positive")
    p.add_argument("--coco", action=argparse.BooleanOptionalAction, default=True,
                   help="also compute COCO AP@[.5:.95] with pycocotools")
    p.add_argument("--breakdown", type=cli.unit_float, default=None, nargs="?", const=0.05, metavar="SCORE",
                   help="also print recall by object size and a class confusion matrix, for "
                        "detections scoring >= SCORE (default: off; SCORE 0.05 when given alone)")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    p.add_argument("--coco-results", type=Path, default=None,
                   help="write the detections in COCO results format (json) here")
    p.add_argument("--plot-dir", type=Path, default=None, help="write precision-recall plots here")
    p.add_argument("--examples", type=cli.nonnegative_int, default=0, metavar="N",
                   help="with --plot-dir: a grid of the first N images, ground truth vs predictions")
    p.add_argument("--examples-thresh", type=cli.unit_float, default=0.3,
                   help="score threshold of drawn predictions")
    options.add_detection_args(p)
    cli.add_engine_args(p)
    cli.add_device_args(p)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    return p


def _evaluators(args, names, data) -> dict:
    """The evaluators of the run by name (``evaluate.protocol``): VOC always, COCO unless --no-coco (scored
    against the original json when there is one), the error breakdown with --breakdown."""
    from evaluate.breakdown import ErrorBreakdown
    from evaluate.coco_eval import COCOEvaluator
    from evaluate.voc_ap import VOCEvaluator
    evaluators = {"voc": VOCEvaluator(names, iou_thresh=args.iou)}
    if data is not None:
        evaluators["coco"] = COCOEvaluator(names, data.categories.ids, ground_truth=data.json)
    elif args.coco:
        evaluators["coco"] = COCOEvaluator(names)
    if args.breakdown is not None:
        evaluators["breakdown"] = ErrorBreakdown(names, score=args.breakdown, iou=args.iou)
    return evaluators


def _coco_data(args, names):
    """The COCO json and its images (``--coco-json``), checked against the model's classes; else None."""
    if not args.coco_json:
        return None
    from dataset.coco import load_coco
    if args.image_root is None:
        raise ValueError("--coco-json needs --image-root")
    data = load_coco(args.coco_json, args.image_root)
    if data.categories.names != names:
        raise ValueError(f"{args.coco_json}: categories {list(data.categories.names)} differ from "
                         f"the model's classes {list(names)}")
    return data


def _evaluate(args, detector, evaluators: dict, coco_data):
    """Fill ``evaluators`` over the chosen data; returns the kept samples and their images."""
    from common.images import read_image
    from evaluate.runner import evaluate_rec, evaluate_records
    names = detector.meta.class_names
    keep = args.examples if args.plot_dir else 0
    every = list(evaluators.values())
    if coco_data is not None:
        samples = evaluate_records(detector, coco_data.records, every, image_ids=coco_data.image_ids,
                                   progress=args.progress, keep=keep)
        return samples, [read_image(s.path) for s in samples]
    if args.rec:
        from dataset.recordio import read_images, read_sidecar  # MXNet's reader: only for a .rec
        stored = read_sidecar(args.rec).get("class_names")
        if stored and tuple(stored) != tuple(names):
            raise ValueError(f"{args.rec}: holds classes {stored}; the model predicts {list(names)}")
        samples = evaluate_rec(detector, args.rec, every, batch_size=args.batch_size, progress=args.progress,
                               keep=keep)
        return samples, read_images(args.rec, len(samples))
    if args.list:
        from dataset.listfile import load_list
        records = load_list(args.list, args.image_root or args.list.parent, names)
    else:
        from dataset.voc import load_voc
        records = load_voc(args.voc_root, args.split, names)
    samples = evaluate_records(detector, records, every, progress=args.progress, keep=keep)
    return samples, [read_image(s.path) for s in samples]


def _write_outputs(args, evaluators: dict, samples: List, images, result) -> None:
    from common.atomic import write_json, write_text
    if args.json:
        write_json(args.json, result)
    if args.coco_results and "coco" in evaluators:
        write_text(args.coco_results, json.dumps(evaluators["coco"].results) + "\n")
    if args.plot_dir:
        from evaluate.plots import plot_pr_curves, save_examples
        voc = evaluators["voc"]
        written = plot_pr_curves(voc, args.plot_dir)
        if samples:
            written.append(save_examples(images, samples, voc.class_names, args.plot_dir / "examples.jpg",
                                         thresh=args.examples_thresh))
        print(f"wrote {len(written)} plots to {args.plot_dir}")


def run(args: argparse.Namespace) -> int:
    from detect.loading import detector_from_args
    from evaluate.report import format_table
    detector = detector_from_args(args, batch_size=args.batch_size if args.rec else 1)
    names = detector.meta.class_names
    coco_data = _coco_data(args, names)
    evaluators = _evaluators(args, names, coco_data)
    samples, images = _evaluate(args, detector, evaluators, coco_data)
    result = evaluators["voc"].result()
    result.update({name: ev.result() for name, ev in evaluators.items() if name != "voc"})
    data = args.rec or args.voc_root or args.coco_json or args.list
    result.update(model=str(args.prefix), epoch=detector.epoch, data=str(data))
    epoch = "" if detector.epoch is None else f" (epoch {detector.epoch})"
    print(f"{args.prefix}{epoch} on {data}: {evaluators['voc'].num_images} images")
    print(format_table(result))
    if "breakdown" in evaluators:
        print("\n" + evaluators["breakdown"].format())
    _write_outputs(args, evaluators, samples, images, result)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_main(build_parser, run, argv)
