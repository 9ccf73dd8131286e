"""`wavlink app`: the engine behind the browser demo (search, zero-shot classification, similarity) on a tiny
random model, checked against the Embedder and the transformers pipeline; and the CLI entry.

The real-browser test (Playwright + Debian's chromium) is in tests/test_app_browser.py.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_tone

from wavlink.app import AppEngine, bundled_sounds_folder, heatmap_figure, parse_captions, parse_labels
from wavlink.cli import main
from wavlink.inference import Embedder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from wavlink.builders.folder import save_model_folder
    from wavlink.builders.wavlink import create_model

    model, processor = create_model("tiny-random")
    return save_model_folder(model, processor, tmp_path_factory.mktemp("app") / "tiny")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clips")
    (out / "sub").mkdir()
    for name, freqs in [("low.wav", (220.0,)), ("mid.flac", (880.0, 1320.0)), ("sub/high.wav", (3000.0,)),
                        ("chord.wav", (330.0, 495.0, 660.0))]:
        sf.write(out / name, make_tone(1.0 + len(name) / 10, SR, freqs), SR)
    (out / "notes.txt").write_text("not audio")
    return out


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> Embedder:
    return Embedder.load(model_dir, device="cpu")


@pytest.fixture(scope="module")
def engine(embedder: Embedder, folder: Path) -> AppEngine:
    return AppEngine(embedder, folder=folder)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def test_engine_lists_the_folder_recursively_and_defaults_to_the_bundled_sounds(engine, embedder) -> None:
    assert [engine.name(p) for p in engine.files] == ["chord.wav", "low.wav", "mid.flac", "sub/high.wav"]
    bundled = AppEngine(embedder)
    assert bundled.folder == bundled_sounds_folder()
    assert sorted(engine.name(p) for p in bundled.files)[:3] == ["cat.flac", "cow.flac", "dog.flac"]


def test_search_ranks_like_the_embedder(engine: AppEngine, embedder: Embedder) -> None:
    query = "a high whistle"
    expected = _cos(embedder.encode_text([query]), embedder.encode_audio(engine.files))[0]
    hits = engine.search(query, top_k=3)
    assert len(hits) == 3
    order = np.argsort(-expected)[:3]
    assert [p for p, _ in hits] == [engine.files[i] for i in order]
    np.testing.assert_allclose([s for _, s in hits], expected[order], atol=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len(engine.search(query, top_k=50)) == len(engine.files)
    with pytest.raises(ValueError, match="query"):
        engine.search("   ")


def test_search_reuses_the_folder_embeddings(engine: AppEngine, monkeypatch) -> None:
    engine.search("one")
    calls = []
    original = engine.embedder.encode_audio
    monkeypatch.setattr(engine.embedder, "encode_audio", lambda *a, **k: calls.append(1) or original(*a, **k))
    engine.search("two")
    assert calls == []


def test_classify_matches_the_zero_shot_pipeline(model_dir: Path, embedder: Embedder, folder: Path) -> None:
    """With the single template "{}" the engine's probabilities are those of transformers'
    zero-shot-audio-classification pipeline on the same folder (an independent implementation)."""
    from transformers import pipeline

    labels = ["bird song", "engine", "rain", "speech"]
    engine = AppEngine(embedder, folder=folder, templates=["{}"])
    clip = str(folder / "mid.flac")
    probs = engine.classify(clip, labels)
    assert list(probs) == sorted(probs, key=probs.get, reverse=True)  # best first
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    clf = pipeline("zero-shot-audio-classification", model=str(model_dir), trust_remote_code=True)
    wave, sr = sf.read(clip, dtype="float32")
    ref = {d["label"]: d["score"] for d in clf(wave, candidate_labels=labels, hypothesis_template="{}")}
    assert set(ref) == set(labels)
    for label in labels:
        assert probs[label] == pytest.approx(ref[label], abs=1e-4), (probs, ref)


def test_classify_takes_arrays_and_checks_its_input(engine: AppEngine) -> None:
    wave = make_tone(1.2, SR, (880.0, 1320.0))
    from_array = engine.classify({"array": wave, "sampling_rate": SR}, ["a", "b", "c"])
    assert set(from_array) == {"a", "b", "c"}
    with pytest.raises(ValueError, match="upload or record"):
        engine.classify(None, ["a", "b"])
    with pytest.raises(ValueError, match="duplicate"):
        engine.classify(wave, ["a", "a"])


def test_similarity_and_heatmap(engine: AppEngine, embedder: Embedder) -> None:
    captions = ["a low hum", "a chord", "a whistle"]
    scores = engine.similarity(engine.files, captions)
    assert scores.shape == (len(engine.files), 3)
    np.testing.assert_allclose(scores, _cos(embedder.encode_audio(engine.files), embedder.encode_text(captions)),
                               atol=1e-5)
    pytest.importorskip("matplotlib")
    fig = heatmap_figure(scores, [engine.name(p) for p in engine.files], captions)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == captions
    assert [t.get_text() for t in ax.get_yticklabels()] == [engine.name(p) for p in engine.files]
    np.testing.assert_allclose(ax.images[0].get_array(), scores)


def test_label_and_caption_parsing() -> None:
    assert parse_labels(" dog, cat ,\nrain,, ") == ["dog", "cat", "rain"]
    with pytest.raises(ValueError, match="no labels"):
        parse_labels(" , ")
    with pytest.raises(ValueError, match="duplicate labels: \\['dog'\\]"):
        parse_labels("dog, cat, dog")
    assert parse_captions("a dog\n\n  rain on a roof \n") == ["a dog", "rain on a roof"]
    with pytest.raises(ValueError, match="no captions"):
        parse_captions("\n ")


def test_cli_without_gradio_is_a_one_line_error(model_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio -> ImportError
    assert main(["app", "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'wavlink app: error: the web app needs gradio: pip install "wavlink[app]"'


def test_cli_launches_the_blocks_app_on_the_folder(model_dir: Path, folder: Path, monkeypatch, capsys) -> None:
    gr = pytest.importorskip("gradio")
    seen = {}

    def fake_launch(self, **kwargs):
        seen.update(kwargs, blocks=self)

    monkeypatch.setattr(gr.Blocks, "launch", fake_launch)
    assert main(["app", "--model", str(model_dir), "--folder", str(folder), "--port", "7999"]) == 0
    assert seen["server_port"] == 7999 and seen["server_name"] == "127.0.0.1"
    assert seen["allowed_paths"] == [str(p) for p in sorted(folder.rglob("*.*")) if p.suffix in (".wav", ".flac")]
    assert isinstance(seen["blocks"], gr.Blocks)
    out = capsys.readouterr().out
    assert f"folder: {folder} (4 audio files)" in out


# ------------------------------------------------------------------------------------------ served over HTTP


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(engine: AppEngine, folder: Path):
    """`launch_app` as `wavlink app` runs it, on a free port, with a small session store so that the bound shows
    within a few calls (the real one is STATE_SESSIONS)."""
    pytest.importorskip("gradio")
    import httpx

    from wavlink.app import launch_app

    (folder / "secret.txt").write_text("not for the web")
    port = _free_port()
    demo = launch_app(engine, port=port, block=False, quiet=True, state_sessions=8)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
    yield demo, client
    client.close()
    demo.close()


def _call(client, api: str, data: list) -> list:
    event = client.post(f"/gradio_api/call/{api}", json={"data": data}).raise_for_status().json()["event_id"]
    kind = None
    with client.stream("GET", f"/gradio_api/call/{api}/{event}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                assert kind == "complete", line
                return json.loads(line.split(":", 1)[1])
    raise AssertionError(f"{api}: no complete event")


def test_the_app_serves_the_listed_audio_and_nothing_else_of_the_folder(served, engine: AppEngine,
                                                                        folder: Path) -> None:
    _, client = served
    for path in engine.files:  # every listed clip can be played
        response = client.get(f"/gradio_api/file={path}")
        assert response.status_code == 200 and response.content == Path(path).read_bytes()
    refused = [folder / "secret.txt", folder / "notes.txt", folder, folder / "sub",
               f"{folder}/sub/../secret.txt", f"{folder}/./notes.txt", f"{folder}//secret.txt"]
    for path in refused:
        assert client.get(f"/gradio_api/file={path}").status_code == 403, path
    # a search result is played from Gradio's cache copy, which is served too
    hits = _call(client, "search", ["a whistle", 2])
    player = hits[1]["value"]
    original = next(p for p in engine.files if Path(p).name == player["orig_name"])
    assert client.get(f"/gradio_api/file={player['path']}").content == Path(original).read_bytes()


def test_the_app_keeps_a_bounded_session_store_and_queues_concurrent_calls(served, engine: AppEngine,
                                                                          monkeypatch) -> None:
    """Every API call is a new Gradio session; its UI state copy used to be kept for 10,000 sessions (memory
    grew ~0.15 MB per call). Now at most `state_sessions` are kept, and a burst of concurrent requests waits in
    the queue (one model call at a time) and every one of them completes."""
    import concurrent.futures as cf
    import threading

    demo, client = served
    active, most, lock = [0], [0], threading.Lock()
    search = engine.search

    def counted(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            return search(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(engine, "search", counted)
    with cf.ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda i: _call(client, "search", [f"query {i}", 3]), range(48)))
    assert all(len(r[0]["data"]) == 3 for r in results)  # every request answered, none refused
    assert most[0] == 1  # queued, not run 24 at once
    assert len(demo.state_holder.session_data) <= 8


# ------------------------------------------------------------------------ search by clip, export, shared work
def test_search_by_clip_ranks_like_the_embedder_and_leaves_the_clip_out(engine: AppEngine,
                                                                        embedder: Embedder) -> None:
    query = engine.files[1]
    hits = engine.search_audio(query, top_k=10)
    expected = _cos(embedder.encode_audio([query]), embedder.encode_audio(engine.files))[0]
    order = [i for i in np.argsort(-expected) if engine.files[i] != query]
    assert [p for p, _ in hits] == [engine.files[i] for i in order]
    np.testing.assert_allclose([s for _, s in hits], expected[order], atol=1e-5)
    outside = make_tone(1.0, SR, (880.0, 1320.0))  # an array: nothing to leave out
    assert len(engine.search_audio({"array": outside, "sampling_rate": SR}, top_k=10)) == len(engine.files)
    with pytest.raises(ValueError, match="upload or record a clip"):
        engine.search_audio(None)


def test_tabs_share_the_folder_embeddings(engine: AppEngine, embedder: Embedder, monkeypatch,
                                          tmp_path: Path) -> None:
    engine.folder_embeddings()
    embedded: list[int] = []
    original = engine.embedder.encode_audio
    monkeypatch.setattr(engine.embedder, "encode_audio",
                        lambda clips, *a, **k: embedded.append(len(clips)) or original(clips, *a, **k))
    scores = engine.similarity(engine.files, ["a tone"])  # Compare on the folder: nothing re-embedded
    engine.search_audio(engine.files[0])
    assert embedded == []
    np.testing.assert_allclose(scores, _cos(original(engine.files), embedder.encode_text(["a tone"])), atol=1e-5)
    upload = tmp_path / "upload.wav"
    sf.write(upload, make_tone(1.0, SR, (500.0,)), SR)
    engine.similarity([engine.files[0], str(upload)], ["a tone"])
    assert embedded == [1]  # only the clip from outside the folder


def test_results_export_as_csv_and_json(engine: AppEngine, folder: Path) -> None:
    import csv

    hits = engine.search("a high whistle", top_k=3)
    csv_path, json_path = engine.export(hits, "a high whistle")
    assert not csv_path.startswith(str(folder)) and csv_path.endswith(".csv") and json_path.endswith(".json")
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["path"], float(r["score"])) for r in rows] == [(p, pytest.approx(s, abs=1e-6)) for p, s in hits]
    assert [r["file"] for r in rows] == [engine.name(p) for p, _ in hits]
    doc = json.loads(Path(json_path).read_text())
    assert doc["query"] == "a high whistle" and [r["rank"] for r in doc["results"]] == [1, 2, 3]
    assert [r["path"] for r in doc["results"]] == [p for p, _ in hits]


def test_exports_do_not_accumulate_and_go_with_the_engine(embedder: Embedder, folder: Path) -> None:
    from wavlink.app import KEPT_EXPORTS

    engine = AppEngine(embedder, folder)
    hits = engine.search("a tone", top_k=2)
    files = [engine.export(hits, f"query {i}") for i in range(KEPT_EXPORTS + 5)]
    where = Path(files[0][0]).parent
    assert sorted(os.listdir(where)) == sorted(Path(f).name for pair in files[-KEPT_EXPORTS:] for f in pair)
    assert all(Path(f).is_file() for f in files[-1])  # the newest export is there to download
    engine.close()
    assert not where.exists()


def test_model_name_and_licence_come_from_the_card(tmp_path: Path) -> None:
    from wavlink.model_identity import licence_notice, model_identity

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "README.md").write_text("---\nlicense: cc-by-nc-3.0\ntags:\n  - audio\n---\n\n"
                                              "# wavlink-default (Whisper base + MiniLM)\n\ntext\n")
    assert model_identity(tmp_path / "m") == ("wavlink-default", "cc-by-nc-3.0")
    assert licence_notice("cc-by-nc-3.0") == "licence: cc-by-nc-3.0 (non-commercial use only)"
    assert licence_notice("apache-2.0") == "licence: apache-2.0"
    (tmp_path / "bare").mkdir()
    assert model_identity(tmp_path / "bare") == ("bare", None)
    assert licence_notice(None) == "licence: not stated in the model card"
    assert model_identity("org/some-model") == ("org/some-model", None)


def _components(demo) -> dict[str, object]:
    return {c.elem_id: c for c in demo.blocks.values() if getattr(c, "elem_id", None)}


def test_the_page_opens_with_results_examples_and_the_licence(engine: AppEngine, embedder: Embedder,
                                                              folder: Path) -> None:
    gr = pytest.importorskip("gradio")
    from wavlink.app import EXAMPLE_QUERIES, MAX_TOP_K, build_app

    named = AppEngine(embedder, folder=folder, model_name="wavlink-default", licence="cc-by-nc-3.0")
    demo = build_app(named)
    parts = _components(demo)
    header = parts["header"].value
    assert "**wavlink-default**" in header and "(non-commercial use only)" in header
    # no empty placeholder tables (columns "1 2 3"): the first example query's results, the folder vs the captions
    assert parts["search-results"].value["headers"] == ["rank", "score", "file"]
    assert parts["similarity-table"].value["headers"][0] == "clip"
    assert len(parts["similarity-table"].value["data"]) == len(named.files)
    first = named.search(EXAMPLE_QUERIES[0], 4)
    assert [row[2] for row in parts["search-results"].value["data"]] == [named.name(p) for p, _ in first]
    assert parts["search-player-0"].visible and not parts["search-player-9"].visible
    assert parts["search-top-k"].maximum == min(MAX_TOP_K, len(named.files))
    examples = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    assert any([EXAMPLE_QUERIES[0]] in [list(s) for s in ex.samples] for ex in examples)
    assert parts["search-export"].value  # the opening results can be downloaded too


def test_an_error_is_shown_beside_the_results_which_stay(served, engine: AppEngine) -> None:
    _, client = served
    good = _call(client, "search", ["a whistle", 2])
    assert good[1 + 10] == "" and len(good[0]["data"]) == 2
    bad = _call(client, "search", ["   ", 2])  # completes (no error event, no toast); the results are untouched
    assert bad[1 + 10] == "**error:** type a query"
    assert all(isinstance(x, dict) and x.get("__type__") == "update" and "value" not in x for x in bad[:11])
    classify = _call(client, "classify", [None, "dog, cat"])
    assert classify[1] == "**error:** upload or record a clip first"
    exports = good[-1]
    assert [Path(f["orig_name"]).suffix for f in exports] == [".csv", ".json"]
