"""SSD data augmentation settings and their translation into ``mx.io.ImageDetRecordIter`` arguments.

Importing this module does not load MXNet (command lines show these defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple


@dataclass(frozen=True)
class Augmentation:
    """SSD data augmentation (paper, section 2.2 "Data augmentation" and 3.6).

    Each of the ``min_overlaps`` defines one crop sampler: a patch of
    ``scale`` x the image side (aspect ratio in ``aspect``) whose IoU with
    some object is at least that overlap; an object is kept when its centre
    lies in the patch. ``crop_prob`` is the chance to crop at all (the paper
    picks uniformly among "whole image" and the samplers, 5/6 for five).
    ``expand_prob``/``max_expand`` implement the "zoom out" of section 3.6:
    the image is placed on a canvas up to ``max_expand`` times its side,
    filled with the mean colour.
    """

    crop_prob: float = 5.0 / 6.0
    min_overlaps: Tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    scale: Tuple[float, float] = (0.3, 1.0)
    aspect: Tuple[float, float] = (0.5, 2.0)
    max_trials: int = 25
    expand_prob: float = 0.5
    max_expand: float = 4.0
    mirror_prob: float = 0.5
    color_prob: float = 0.5
    max_hue: int = 18
    max_saturation: int = 32
    max_illumination: int = 32
    max_contrast: float = 0.5

    def iter_kwargs(self, mean: Tuple[float, float, float]) -> dict:
        """Keyword arguments of ImageDetRecordIter for this augmentation."""
        n = len(self.min_overlaps)
        if n == 0:
            crop = dict(rand_crop_prob=0.0)
        else:
            # ImageDetRecordIter needs num_crop_sampler equal to every tuple's length.
            crop = dict(
                rand_crop_prob=self.crop_prob, num_crop_sampler=n,
                min_crop_overlaps=tuple(self.min_overlaps), max_crop_overlaps=(1.0,) * n,
                min_crop_scales=(self.scale[0],) * n, max_crop_scales=(self.scale[1],) * n,
                min_crop_aspect_ratios=(self.aspect[0],) * n, max_crop_aspect_ratios=(self.aspect[1],) * n,
                min_crop_sample_coverages=(0.0,) * n, max_crop_sample_coverages=(1.0,) * n,
                min_crop_object_coverages=(0.0,) * n, max_crop_object_coverages=(1.0,) * n,
                max_crop_trials=(self.max_trials,) * n, crop_emit_mode="center")
        return dict(
            crop,
            rand_pad_prob=self.expand_prob, max_pad_scale=self.max_expand,
            fill_value=int(round(sum(mean) / 3)),
            rand_mirror_prob=self.mirror_prob,
            random_hue_prob=self.color_prob, max_random_hue=self.max_hue,
            random_saturation_prob=self.color_prob, max_random_saturation=self.max_saturation,
            random_illumination_prob=self.color_prob, max_random_illumination=self.max_illumination,
            random_contrast_prob=self.color_prob, max_random_contrast=self.max_contrast)


#: No augmentation at all (validation, deterministic tests).
NO_AUGMENTATION = Augmentation(crop_prob=0.0, min_overlaps=(), expand_prob=0.0, mirror_prob=0.0,
                               color_prob=0.0)
