"""Training and validation iterators over ``.rec`` files.

``mx.io.ImageDetRecordIter`` decodes, augments (SSD's crop samplers,
expansion, colour jitter, mirror), resizes to the square input and
normalizes ``(pixel - mean) / std`` in RGB order. ``DetRecordIter`` wraps it
and turns its flat label rows into a ``label`` of shape
(B, max_objects, 6) with rows ``[class_id, xmin, ymin, xmax, ymax, difficult]``,
normalized, ``class_id = -1`` for padding. Each batch is a ``DetBatch``,
which also carries ``image_sizes``, the (B, 2) original ``(width, height)``
in pixels (None for records without a size) that evaluation uses to compare
boxes in pixels; it describes the images before augmentation.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple

import mxnet as mx
import numpy as np

from dataset import label_layout
from dataset.augmentation import NO_AUGMENTATION, Augmentation
from dataset.recordio import check_recordio, num_records, read_sidecar
from dataset.records import DatasetError


class DetBatch(mx.io.DataBatch):
    """A DataBatch that also carries the original image sizes.

    Parameters
    ----------
    image_sizes : ndarray (B, 2) of int, or None
        ``(width, height)`` in pixels of each image before augmentation; None
        for records written without a size (other tools' 2-wide label headers).
    **kwargs
        Those of ``mx.io.DataBatch``.
    """

    def __init__(self, *, image_sizes: Optional[np.ndarray] = None, **kwargs):
        super().__init__(**kwargs)
        self.image_sizes = image_sizes


#: Size in MB of the parts a shuffled pass visits in random order (MXNet warns below 4 MB).
SHUFFLE_CHUNK_MB = 4


class DetRecordIter(mx.io.DataIter):
    """Batches ``data`` (B, 3, S, S) and ``label`` (B, M, 6) from a ``.rec`` file.

    Parameters
    ----------
    rec_path : path
        Packed dataset (``.idx`` beside it).
    batch_size : int
    data_shape : int
        Square input side ``S`` in pixels.
    mean, std : (float, float, float)
        Per-channel normalization in pixel units, in ``channel_order``.
    augmentation : Augmentation
    shuffle : bool
        Shuffle the file's records: parts of ``SHUFFLE_CHUNK_MB`` are visited in a
        random order and the records inside each part are shuffled. (Without the
        parts, ImageDetRecordIter only shuffles inside the chunk it has read, so
        every epoch would follow the file's order.)
    seed : int
        Seed of shuffling and augmentation.
    max_objects : int, optional
        Label rows per image; by default the dataset's largest object count
        (from the packer's sidecar, or a scan of the file).
    threads : int, optional
        Decoding threads (default: all cores).
    wrap_last_batch : bool
        Fill the last batch with images from the start of the file (training).
        With False the last batch is padded and ``batch.pad`` counts the
        padding, so that every image is seen exactly once per pass, on every
        pass (evaluation); with True ImageDetRecordIter carries the wrapped
        images over and later passes can be a batch shorter.
    channel_order : {"RGB", "BGR"}
        Channel order of the batches (ImageDetRecordIter decodes RGB; BGR
        batches are reversed after normalization, for models such as
        converted Caffe ones).
    num_parts, part_index : int
        Read only part ``part_index`` of ``num_parts`` equal byte ranges of the file
        (distributed training: one part per worker, disjoint).
    """

    def __init__(self, rec_path, *, batch_size: int, data_shape: int,
                 mean: Tuple[float, float, float], std: Tuple[float, float, float],
                 augmentation: Augmentation = NO_AUGMENTATION, shuffle: bool = False, seed: int = 0,
                 max_objects: Optional[int] = None, threads: Optional[int] = None,
                 wrap_last_batch: bool = True, channel_order: str = "RGB", num_parts: int = 1,
                 part_index: int = 0):
        super().__init__(batch_size)
        if channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be RGB or BGR, got {channel_order!r}")
        self._bgr = channel_order == "BGR"
        if self._bgr:  # ImageDetRecordIter normalizes RGB channels
            mean, std = tuple(mean)[::-1], tuple(std)[::-1]
        rec_path = Path(rec_path)
        idx_path = rec_path.with_suffix(".idx")
        for p in (rec_path, idx_path):
            if not p.is_file():
                raise DatasetError(f"{p}: not found")
        check_recordio(rec_path)  # MXNet would crash or hang on a damaged file
        if max_objects is None:
            max_objects = int(read_sidecar(rec_path)["max_objects"])
        self.max_objects = max(1, max_objects)
        self.data_shape = data_shape
        self.num_images = num_records(rec_path)
        self._iter = mx.io.ImageDetRecordIter(
            path_imgrec=str(rec_path), path_imgidx=str(idx_path), batch_size=batch_size,
            data_shape=(3, data_shape, data_shape), shuffle=shuffle, seed=seed,
            shuffle_chunk_size=SHUFFLE_CHUNK_MB if shuffle else 0, shuffle_chunk_seed=seed,
            label_pad_width=label_layout.pad_width(self.max_objects),
            label_pad_value=label_layout.PAD_VALUE,
            mean_r=mean[0], mean_g=mean[1], mean_b=mean[2],
            std_r=std[0], std_g=std[1], std_b=std[2],
            resize_mode="force", inter_method=1, round_batch=wrap_last_batch,
            num_parts=num_parts, part_index=part_index,
            preprocess_threads=threads or os.cpu_count() or 1,
            **augmentation.iter_kwargs(mean))
        self.provide_data = [mx.io.DataDesc("data", (batch_size, 3, data_shape, data_shape))]
        self.provide_label = [mx.io.DataDesc("label", (batch_size, self.max_objects,
                                                       label_layout.OBJECT_WIDTH))]

    def num_batches(self) -> int:
        """Batches of one pass (the last may be padded or wrapped)."""
        return -(-self.num_images // self.batch_size)

    def reset(self):
        self._iter.reset()

    def next(self):
        batch = self._iter.next()
        rows = batch.label[0]
        rows_np = rows.asnumpy()
        start, width, count = label_layout.iter_layout(rows_np[0])
        count = min(count, self.max_objects)
        objects = rows[:, start:start + count * width].reshape((rows.shape[0], count, width))
        objects = objects[:, :, :label_layout.OBJECT_WIDTH]
        # MXNet's iterator refills the same buffers: each batch gets arrays of its own, so that
        # batches can be kept (a list of them, a prefetch queue) without changing under the holder.
        data = [mx.nd.flip(batch.data[0], axis=1) if self._bgr else batch.data[0].copy()]
        return DetBatch(data=data, label=[objects], pad=batch.pad, index=np.array(batch.index),
                        provide_data=self.provide_data, provide_label=self.provide_label,
                        image_sizes=label_layout.iter_image_sizes(rows_np))
