"""Per-class AP tables: printed text and JSON."""
from __future__ import annotations

from typing import Dict


def format_table(result: Dict[str, object]) -> str:
    """A fixed-width table of a ``VOCEvaluator.result`` (with a COCO AP column when ``result["coco"]``
    holds a ``COCOEvaluator.result``)."""
    fmt = lambda v: "   -  " if v is None else f"{v:6.4f}"  # noqa: E731
    coco = result.get("coco")
    names = list(result["per_class"])
    width = max([len("class")] + [len(n) for n in names])
    head = f"{'class':<{width}}  {'GT':>5}  {'VOC07':>6}  {'area':>6}"
    lines = [head + ("  COCO AP" if coco else "")]
    for name in names:
        row = result["per_class"][name]
        line = f"{name:<{width}}  {row['num_gt']:>5}  {fmt(row['voc07_ap'])}  {fmt(row['area_ap'])}"
        lines.append(line + (f"   {fmt(coco['per_class'].get(name))}" if coco else ""))
    mean = f"{'mAP':<{width}}  {'':>5}  {fmt(result['voc07_map'])}  {fmt(result['area_map'])}"
    lines.append(mean + (f"   {fmt(coco['stats']['AP'])}" if coco else ""))
    if coco:
        stats = coco["stats"]
        lines.append("COCO: " + "  ".join(f"{k} {stats[k]:.4f}" for k in
                                          ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")))
    return "\n".join(lines)
