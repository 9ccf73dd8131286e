"""`wavlink app` in a real browser: the CLI serves a tiny random model on a free port, and Playwright drives
Debian's chromium through a search and a classification of an uploaded clip. The page must show what the
engine computes in-process on the same model (same ranking, same scores).

Needs `pip install playwright gradio` and `apt-get install chromium` (never `playwright install`: the test
uses the system browser, /usr/bin/chromium or $WAVLINK_CHROMIUM). Skipped cleanly when any is missing.
Run it alone with `pytest -m browser`; it is also part of `-m "not slow"` when the tools are there (~30 s).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_tone

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in (os.environ.get("WAVLINK_CHROMIUM"), shutil.which("chromium"),
                              shutil.which("chromium-browser")) if p and os.path.isfile(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sync_playwright():
    pytest.importorskip("gradio", reason='needs gradio (pip install "wavlink[app]")')
    api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    if not CHROMIUM:
        pytest.skip("needs a chromium binary (apt-get install chromium, or set WAVLINK_CHROMIUM)")
    return api.sync_playwright


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random", seed=3)
    return save_model_folder(model, processor, tmp_path_factory.mktemp("browser") / "tiny")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clips")
    (out / "sub").mkdir()
    for i, (name, freqs) in enumerate([("low.wav", (150.0,)), ("mid.flac", (900.0, 1300.0)),
                                       ("sub/high.wav", (3500.0,)), ("chord.wav", (330.0, 495.0, 660.0)),
                                       ("buzz.wav", (60.0, 120.0, 180.0, 240.0))]):
        sf.write(out / name, make_tone(1.0 + 0.3 * i, SR, freqs), SR)
    return out


@pytest.fixture(scope="module")
def server(sync_playwright, model_dir: Path, folder: Path, tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(tmp_path_factory.mktemp("gradio-tmp")),
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    log = tmp_path_factory.mktemp("log") / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wavlink", "app", "--model", str(model_dir), "--folder",
                                 str(folder), "--port", str(port), "--device", "cpu"],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"wavlink app exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError(f"wavlink app did not answer on {url}:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(sync_playwright, server: str):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(server)
        page.locator("#search-button").wait_for()
        yield page
        browser.close()


@pytest.fixture(scope="module")
def engine(model_dir: Path, folder: Path):
    from wavlink.app import AppEngine
    from wavlink.inference import Embedder

    return AppEngine(Embedder.load(model_dir, device="cpu"), folder=folder)


def test_search_shows_ranked_playable_clips(page, engine, server: str) -> None:
    from playwright.sync_api import expect

    query = "a deep electric hum"
    expected = engine.search(query, top_k=3)
    page.get_by_role("tab", name="Search").click()
    page.locator("#search-query textarea").fill(query)
    slider = page.locator("#search-top-k input[type=number]")
    slider.fill("3")
    slider.press("Enter")
    page.locator("#search-button").click()
    for rank, (path, score) in enumerate(expected):
        label = page.locator(f"#search-player-{rank} [data-testid=block-label]")
        expect(label).to_have_text(f"#{rank + 1}  {engine.name(path)}  ({score:.3f})")
    expect(page.locator("#search-player-3")).to_be_hidden()  # only top_k players
    expect(page.locator("#search-results")).to_contain_text(engine.name(expected[0][0]))
    # the player serves the ranked file's audio
    href = page.locator("#search-player-0 a[data-testid=download-link]").get_attribute("href")
    assert href.endswith("/" + os.path.basename(expected[0][0]))
    body = page.request.get(href).body()
    served, sr = sf.read(io.BytesIO(body), dtype="float32")
    original, _ = sf.read(expected[0][0], dtype="float32")
    assert sr == SR and np.allclose(served, original, atol=1e-4)


def test_classify_an_uploaded_clip(page, engine, folder: Path) -> None:
    from playwright.sync_api import expect

    labels = ["hum", "whistle", "chord", "silence"]
    clip = folder / "chord.wav"
    expected = engine.classify(str(clip), labels)
    page.get_by_role("tab", name="Classify").click()
    page.locator("#classify-audio input[type=file]").set_input_files(str(clip))
    page.locator("#classify-labels textarea").fill(", ".join(labels))
    page.locator("#classify-button").click()
    top = next(iter(expected))
    expect(page.locator("#classify-scores [data-testid=label-output-value]")).to_have_text(top)
    for label, prob in expected.items():
        meter = page.locator(f"#classify-scores [data-testid='{label}-confidence-set'] meter")
        expect(meter).to_have_count(1)
        assert float(meter.get_attribute("value")) == pytest.approx(prob, abs=1e-4)
    assert page.locator("#classify-scores meter").count() == len(labels)  # the edited labels, not the defaults


def test_similarity_heat_map(page, engine) -> None:
    from playwright.sync_api import expect

    captions = ["a low hum", "a high whistle"]
    page.get_by_role("tab", name="Similarity").click()
    page.locator("#similarity-captions textarea").fill("\n".join(captions))
    page.locator("#similarity-button").click()
    expect(page.locator("#similarity-plot img, #similarity-plot svg").first).to_be_visible()
    table = page.locator("#similarity-table")
    expect(table).to_contain_text("a high whistle")
    scores = engine.similarity(engine.files, captions)
    expect(table).to_contain_text(f"{scores[0, 1]:.4f}".rstrip("0"))


def test_an_error_shows_beside_the_results_and_the_results_download(page, engine) -> None:
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Search").click()
    page.locator("#search-query textarea").fill("a high whistle")
    page.locator("#search-button").click()
    best = engine.search("a high whistle", top_k=3)[0][0]
    expect(page.locator("#search-player-0 [data-testid=block-label]")).to_contain_text(engine.name(best))
    expect(page.locator("#search-export")).to_contain_text(".csv")
    expect(page.locator("#search-export")).to_contain_text(".json")
    page.locator("#search-query textarea").fill("   ")
    page.locator("#search-button").click()
    expect(page.locator("#search-error")).to_contain_text("error: type a query")
    expect(page.locator("#search-results")).to_contain_text(engine.name(best))  # the last results stay
    expect(page.locator("#search-player-0")).to_be_visible()
