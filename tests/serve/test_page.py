"""The web page in a real browser (Debian's headless Chromium through selenium), against a real uvicorn server.

`bash scripts/setup.sh --dev` installs the browser; without it these tests fail rather than skip, unless
HUMANPARSE_SKIP_BROWSER=1 says to skip them (each then reports as skipped, with that reason). `-m "not browser"`
leaves them out.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from serve_fixtures import RECIPE, SETUP_HINT, encode, require, synthetic_person

from humanparse.data.labels import get_palette
from humanparse.inference.masks import compute_mask
from humanparse.inference.predictor import Predictor

require("fastapi", "uvicorn", "selenium")

pytestmark = pytest.mark.browser
SKIP_BROWSER = "HUMANPARSE_SKIP_BROWSER"  # =1: skip the browser tests (no root to install chromium)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class LiveServer:
    """uvicorn serving `app` on a free loopback port in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


def chromium(width: int = 1280, height: int = 860):
    """Headless Chromium driven through Debian's chromedriver (never selenium-manager's downloads)."""
    if os.environ.get(SKIP_BROWSER) == "1":
        pytest.skip(
            f"{SKIP_BROWSER}=1: the page's browser test is skipped (it needs chromium and chromedriver)"
        )
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        pytest.fail(f"the browser test needs {', '.join(missing)}: {SETUP_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(RECIPE, tiny_checkpoint)


@pytest.fixture(scope="module")
def server(predictor):
    from humanparse.serve.app import ServeSettings, create_app

    with LiveServer(create_app(predictor, ServeSettings(max_wait_ms=5))) as live:
        yield live


def _canvas_pixels(driver) -> np.ndarray:
    url = driver.execute_script("return document.getElementById('overlay').toDataURL('image/png');")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def _set_opacity(driver, percent: int) -> None:
    script = "const s = document.getElementById('opacity'); s.value = arguments[0]; s.dispatchEvent(new Event('input'));"
    driver.execute_script(script, percent)


def test_page_parses_a_photo_and_toggles_classes(server, predictor, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = synthetic_person(3, size=(256, 176))
    path = tmp_path / "person.png"
    cv2.imwrite(str(path), photo)
    labels = predictor(photo)
    present = np.flatnonzero(np.bincount(labels.ravel(), minlength=predictor.num_classes))
    assert len(present) >= 2, "the test photo must show several classes"

    driver = chromium()
    try:
        driver.get(server.url + "/")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: RECIPE in d.find_element(By.ID, "model-name").text)
        driver.find_element(By.ID, "file").send_keys(str(path))
        wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("data-ready") == "true")

        rows = driver.find_elements(By.CSS_SELECTOR, "#legend li")
        names = [row.find_element(By.CLASS_NAME, "name").text for row in rows]
        assert names == [predictor.class_names[i].replace("_", " ") for i in present]
        assert "px" in driver.find_element(By.ID, "status").text

        before = _canvas_pixels(driver)
        assert before.shape == photo.shape
        counts = np.bincount(labels.ravel())
        toggled = max((i for i in present if i != 0), key=lambda i: counts[i])
        row = next(r for r in rows if int(r.get_attribute("data-index")) == toggled)
        row.click()
        assert "off" in row.get_attribute("class")
        after = _canvas_pixels(driver)
        changed = np.any(before != after, axis=-1)
        inside = labels == toggled
        assert changed.any() and not changed[~inside].any()  # only the toggled class's pixels changed
        assert changed[inside].mean() > 0.5
        row.click()
        np.testing.assert_array_equal(_canvas_pixels(driver), before)

        _set_opacity(driver, 100)  # full opacity paints the shown classes in their palette colours
        opaque = _canvas_pixels(driver)
        colour = get_palette("lip")[toggled]
        np.testing.assert_array_equal(opaque[inside], np.broadcast_to(colour, opaque[inside].shape))
        _set_opacity(driver, 60)

        # the downloads: the server's label PNG, and the mask of the shown classes (all but background)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        driver.find_element(By.ID, "download-labels").click()
        driver.find_element(By.ID, "download-mask").click()
        names = ("person_labels.png", "person_mask.png")
        WebDriverWait(driver, 20).until(lambda d: all((downloads / name).exists() for name in names))
        time.sleep(0.2)  # the file appears before its last write
        np.testing.assert_array_equal(np.asarray(Image.open(downloads / names[0])), labels)
        mask = np.asarray(Image.open(downloads / names[1]).convert("L"))
        np.testing.assert_array_equal(mask, compute_mask(labels, [i for i in present if i != 0]))

        assert driver.save_screenshot(str(tmp_path / "serve.png"))
        assert Image.open(tmp_path / "serve.png").size[0] >= 1000
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_page_asks_for_the_api_key(predictor, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from humanparse.serve.app import ServeSettings, create_app

    path = tmp_path / "person.png"
    cv2.imwrite(str(path), synthetic_person(4, size=(96, 72)))
    app = create_app(predictor, ServeSettings(api_key="page-key", warmup=False))
    with LiveServer(app) as live:
        driver = chromium()
        try:
            driver.get(live.url + "/")
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: d.find_element(By.ID, "key-form").is_displayed())
            assert "API key" in driver.find_element(By.ID, "status").text
            driver.find_element(By.ID, "api-key").send_keys("page-key")
            driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
            wait.until(lambda d: RECIPE in d.find_element(By.ID, "model-name").text)
            assert not driver.find_element(By.ID, "key-form").is_displayed()
            driver.find_element(By.ID, "file").send_keys(str(path))
            wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("data-ready") == "true")
        finally:
            driver.quit()


def test_a_client_that_disconnects_does_not_disturb_the_others(server, predictor):
    photo = synthetic_person(5, size=(96, 72))
    body = encode(photo)
    request = (
        f"POST /v1/parse HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(3):  # send whole requests and hang up before the answer
        with socket.create_connection(server.socket.getsockname()) as gone:
            gone.sendall(request + body)
    with socket.create_connection(server.socket.getsockname()) as half:  # and one that stops mid-body
        half.sendall(request + body[: len(body) // 2])
    answer = urllib.request.urlopen(urllib.request.Request(server.url + "/v1/parse?format=json", data=body))
    assert answer.status == 200
    decoded = json.loads(answer.read())
    expected = np.flatnonzero(np.bincount(predictor(photo).ravel()))
    assert [c["index"] for c in decoded["classes"]] == expected.tolist()
    assert urllib.request.urlopen(server.url + "/healthz").status == 200
