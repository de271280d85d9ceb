"""The page in real headless Chromium: upload, boxes drawn, table filled, the slider filters rows.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); without them the test
is skipped, saying so. The screenshot is kept in build/test-artifacts/page.png.
"""
import json
import shutil
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

from common.paths import DEMO_IMAGES, REPO
from serve.client import Server

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = REPO / "build" / "test-artifacts"


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _wait(condition, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the page")


def _answer(server, image: Path, threshold: float) -> list:
    """The API's detections for ``image`` (what the page asks for), by descending score."""
    request = urllib.request.Request(f"{server.url}/api/v1/detect?threshold={threshold}",
                                     data=image.read_bytes(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())["detections"]


def _table(browser):
    from selenium.webdriver.common.by import By
    rows = browser.find_elements(By.CSS_SELECTOR, "#detections tbody tr")
    return [(r.find_elements(By.TAG_NAME, "td")[1].text, float(r.find_elements(By.TAG_NAME, "td")[2].text))
            for r in rows]


def _slide(browser, value: float) -> None:
    browser.execute_script("const s = document.getElementById('threshold'); s.value = arguments[0]; "
                           "s.dispatchEvent(new Event('input'));", str(value))


def test_upload_draws_boxes_fills_the_table_and_the_slider_filters(browser):
    from selenium.webdriver.common.by import By
    with Server() as server:
        browser.get(server.url + "/")
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#gallery img"))
        shown = browser.find_elements(By.CSS_SELECTOR, "#gallery img")
        assert len(shown) == len(list(DEMO_IMAGES.glob("*.jpg")))
        sample = DEMO_IMAGES / "000004.jpg"
        browser.find_element(By.ID, "file").send_keys(str(sample))
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#detections tbody tr"))
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "page.png"))
        api = _answer(server, sample, 0.05)  # the page asks for everything above 0.05 once
        scores = sorted({round(d["score"], 2) for d in api})
        assert len(scores) >= 2, "the sample image needs detections of several scores"
        canvas = browser.find_element(By.ID, "canvas")
        assert int(canvas.get_attribute("width")) == cv2.imread(str(sample)).shape[1]
        for value in (0.05, scores[len(scores) // 2], 1.0):
            _slide(browser, value)  # filters in the page, no new request
            want = [(d["class_name"], round(d["score"], 3)) for d in api if d["score"] >= value]
            assert _table(browser) == want, value
            assert int(canvas.get_attribute("data-boxes")) == len(want)
        assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")


def _drop(browser, photo: Path) -> None:
    """Drop ``photo`` on the page's drop zone, as a user dragging a file does (a DataTransfer holding it)."""
    import base64
    browser.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], arguments[1], {type: "image/jpeg"}));
        const zone = document.getElementById("drop");
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
    """, base64.b64encode(photo.read_bytes()).decode(), photo.name)


def test_a_dropped_photo_shows_as_many_boxes_as_the_api_returns_with_the_face_model(browser, face_model,
                                                                                    face_photos):
    from selenium.webdriver.common.by import By
    group = next(p for p in face_photos if p.name == "face_detection_input.jpg")
    with Server("--prefix", str(face_model), "--samples", str(group.parent)) as server:
        browser.get(server.url + "/")
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#gallery img"))
        assert browser.find_element(By.ID, "model-name").text == "OpenCV face detector (ResNet-10 SSD300)"
        assert str(face_model) not in browser.page_source
        _drop(browser, group)
        _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#detections tbody tr"))
        api = _answer(server, group, 0.5)  # the page's default threshold
        canvas = browser.find_element(By.ID, "canvas")
        assert len(api) == 5
        assert int(canvas.get_attribute("data-boxes")) == len(api) == len(_table(browser))
        browser.save_screenshot(str(ARTIFACTS / "page_faces.png"))
