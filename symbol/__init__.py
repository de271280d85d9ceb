"""SSD network symbols: anchors, backbones, presets and the body/head builder."""
