"""Datasets: format readers, the RecordIO label layout, packing and iterators."""
