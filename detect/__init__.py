"""Inference: loading any saved model by prefix + metadata, preprocessing, prediction, drawing."""
