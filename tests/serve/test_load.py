"""A real uvicorn on loopback under load: 50 concurrent clients, 200 requests, every answer right and
none refused with the default flags."""
import pytest

from common.paths import DEMO_IMAGES
from serve.client import Server, load, post_image

pytestmark = pytest.mark.e2e


def test_fifty_concurrent_clients_get_right_answers_and_no_503_with_default_flags():
    images = [p.read_bytes() for p in sorted(DEMO_IMAGES.glob("*.jpg"))]
    with Server() as server:
        url = server.url + "/api/v1/detect"
        expected = [post_image(url, data)[1]["detections"] for data in images]  # one at a time
        result = load(url, images, clients=50, requests=200, timeout=120)
    print("\nload test:", result.summary())
    assert result.statuses == [200] * 200
    for i, answer in enumerate(result.answers):
        # answers computed in a batch with other requests equal the single request's (the rows are
        # rounded to 0.01 px and 1e-6, so a batch's float32 rounding may move a box by 0.01)
        want = expected[i % len(images)]
        assert [d["class_id"] for d in answer["detections"]] == [d["class_id"] for d in want]
        for a, b in zip(answer["detections"], want):
            assert abs(a["score"] - b["score"]) <= 1e-5
            assert max(abs(x - y) for x, y in zip(a["box"], b["box"])) <= 0.02
