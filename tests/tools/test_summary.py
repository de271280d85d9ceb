import json

import mxnet as mx
import pytest

from symbol.presets import get_preset
from symbol.summary import count_macs, summarize
from tools.summary import main


def test_macs_of_small_layers_by_hand():
    x = mx.sym.var("data")
    conv = mx.sym.Convolution(x, num_filter=8, kernel=(3, 3), pad=(1, 1), name="c")
    dw = mx.sym.Convolution(conv, num_filter=8, num_group=8, kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                            name="dw")
    fc = mx.sym.FullyConnected(dw, num_hidden=5, name="fc")
    # conv: 8*3*3*3 per position x 10*10; depthwise: 8*1*3*3 x 5*5; fc: (8*5*5)*5, at batch 2.
    want = 2 * (8 * 3 * 9 * 100 + 8 * 9 * 25 + 200 * 5)
    assert count_macs(fc, data=(2, 3, 10, 10)) == want


def test_vgg16_ssd300_is_31_gmacs_with_8732_anchors():
    s = summarize(get_preset("vgg16_reduced", 300), 20)
    assert s.anchors == 8732
    assert 31.0e9 < s.macs < 31.8e9  # the commonly quoted ~31 G multiply-adds of SSD300
    assert 26.0e6 < s.params < 26.6e6  # VGG16 convs 14.7M + fc6/fc7 5.8M + extras and heads


def test_cli_writes_json_and_lists_choices(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["--network", "mobilenet0.25", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["preset"] for r in rows] == [f"mobilenet0.25_{s}" for s in (300, 384, 512, 608)]
    assert "| mobilenet0.25_608 |" in capsys.readouterr().out
    assert main(["--network", "resnet9"]) == 2
    assert "available: inceptionv3" in capsys.readouterr().err
    assert main(["--network", "resnet50", "--data-shape", "416"]) == 2
    assert "available sizes: [300, 512]" in capsys.readouterr().err


@pytest.mark.parametrize("network", ["resnet50", "mobilenetv2_1.0"])
def test_heavier_network_costs_more_at_512(network):
    small, large = (summarize(get_preset(network, s)) for s in (300, 512))
    assert large.params == small.params and large.macs > 2.5 * small.macs
