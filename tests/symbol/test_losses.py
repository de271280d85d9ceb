"""The training head on tiny inputs against the same losses computed in numpy."""
import mxnet as mx
import numpy as np

from symbol.builder import training_head
from symbol.coding import VARIANCES


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    anchors = np.array([[[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5], [0.0, 0.5, 0.5, 1.0],
                         [0.5, 0.5, 1.0, 1.0], [0.2, 0.2, 0.8, 0.8], [0.1, 0.1, 0.3, 0.3]]], np.float32)
    label = np.full((2, 2, 6), -1.0, np.float32)
    label[0, 0] = [1, 0.05, 0.05, 0.45, 0.5, 0]
    label[0, 1] = [0, 0.55, 0.5, 0.95, 0.95, 1]
    label[1, 0] = [1, 0.25, 0.2, 0.75, 0.8, 0]
    cls_preds = rng.normal(size=(2, 3, 6)).astype(np.float32)
    loc_preds = rng.normal(scale=0.5, size=(2, 24)).astype(np.float32)
    return anchors, label, cls_preds, loc_preds


def _smooth_l1(x):
    ax = np.abs(x)
    return np.where(ax < 1, 0.5 * x * x, ax - 0.5)


def test_losses_and_gradients_match_numpy():
    anchors, label, cls_preds, loc_preds = _inputs()
    names = ["cls_preds", "loc_preds", "anchors", "label"]
    sym = training_head(*(mx.sym.var(n) for n in names))
    values = dict(zip(names, (cls_preds, loc_preds, anchors, label)))
    args = {k: mx.nd.array(v) for k, v in values.items()}
    grads = {k: mx.nd.zeros(v.shape) for k, v in values.items() if k in ("cls_preds", "loc_preds")}
    exe = sym.bind(mx.cpu(), args, args_grad=grads,
                   grad_req={k: ("write" if k in grads else "null") for k in names})
    loss, cls_loss, loc_loss, num_pos = (o.asnumpy() for o in exe.forward(is_train=True))
    exe.backward()

    loc_t, loc_m, cls_t = (o.asnumpy() for o in mx.nd.contrib.MultiBoxTarget(
        args["anchors"], args["label"][:, :, :5], args["cls_preds"], overlap_threshold=0.5,
        negative_mining_ratio=3, negative_mining_thresh=0.5, variances=VARIANCES))
    prob = np.exp(cls_preds - cls_preds.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    valid = cls_t >= 0
    target = np.where(valid, cls_t, 0).astype(int)
    picked = np.take_along_axis(prob, target[:, None, :], axis=1)[:, 0]
    want_cls = -(np.log(picked) * valid).sum(1)
    diff = loc_m * (loc_preds - loc_t)
    want_loc = _smooth_l1(diff).sum(1)

    assert (cls_t > 0).sum() >= 2  # both images have matched anchors
    np.testing.assert_allclose(num_pos, (cls_t > 0).sum(1))
    np.testing.assert_allclose(cls_loss, want_cls, rtol=1e-5)
    np.testing.assert_allclose(loc_loss, want_loc, rtol=1e-5)
    np.testing.assert_allclose(loss, want_cls + want_loc, rtol=1e-5)
    # d(sum of losses)/d logits = (softmax - onehot) on positives and mined negatives.
    onehot = np.zeros_like(prob)
    np.put_along_axis(onehot, target[:, None, :], 1.0, axis=1)
    np.testing.assert_allclose(grads["cls_preds"].asnumpy(), (prob - onehot) * valid[:, None, :],
                               atol=1e-5)
    np.testing.assert_allclose(grads["loc_preds"].asnumpy(),
                               loc_m * np.clip(loc_preds - loc_t, -1, 1) * (loc_m > 0), atol=1e-5)


def test_hard_negative_mining_keeps_the_three_hardest_negatives_per_positive():
    # One object, one anchor on it, 20 anchors elsewhere (IoU 0 with the object).
    rng = np.random.default_rng(2)
    far = np.stack([np.full(20, 0.6), np.linspace(0.5, 0.9, 20), np.full(20, 0.7),
                    np.linspace(0.55, 0.95, 20)], axis=1)
    anchors = np.concatenate([[[0.0, 0.0, 0.5, 0.5]], far])[None].astype(np.float32)
    label = np.array([[[0, 0.0, 0.0, 0.5, 0.5]]], np.float32)
    cls_preds = rng.normal(size=(1, 3, 21)).astype(np.float32)
    _, _, cls_t = mx.nd.contrib.MultiBoxTarget(
        mx.nd.array(anchors), mx.nd.array(label), mx.nd.array(cls_preds),
        negative_mining_ratio=3, negative_mining_thresh=0.5, variances=VARIANCES)
    cls_t = cls_t.asnumpy()[0]
    assert cls_t[0] == 1 and (cls_t > 0).sum() == 1
    # Hardest negatives = lowest softmax background probability.
    prob = np.exp(cls_preds[0]) / np.exp(cls_preds[0]).sum(0)
    hardest = set((1 + np.argsort(prob[0, 1:])[:3]).tolist())
    assert set(np.nonzero(cls_t == 0)[0].tolist()) == hardest
    assert (cls_t == -1).sum() == 17
