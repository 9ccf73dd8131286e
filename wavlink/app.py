"""The browser demo behind `wavlink app`: search a folder with text or an example clip, classify a clip
zero-shot, and compare clips with captions in a heat map.

:class:`AppEngine` does the work with plain numpy and the package's :class:`~wavlink.inference.Embedder`
(no gradio needed, so it is tested directly); :func:`build_app` wraps it in a Gradio ``Blocks`` UI
(gradio is imported only there: ``pip install "wavlink[app]"``).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from .inference import Embedder, check_labels, list_audio_files
from .metrics import DEFAULT_TEMPLATES, class_embeddings_from_templates, prettify_label
from .model_identity import licence_notice
from .remote_code.losses import zero_shot_probabilities

KEPT_EXPORTS = 20  # the exports of the last 20 searches stay on disk (Gradio has copied older ones to its cache)
MAX_RESULTS = 10  # audio players in the search tab (the table and the exports hold every result up to MAX_TOP_K)
MAX_TOP_K = 100
EXAMPLE_QUERIES = ["a dog barking", "rain falling", "a church bell ringing", "footsteps", "a car horn"]
# Serving limits (`launch_app`). Gradio keeps a copy of the UI's component state for every session it has seen
# (every page load and every API call without a session is one), 10,000 by default: with this UI that is ~0.15 MB
# a session, so memory grew by that much per call for 10,000 calls. STATE_SESSIONS bounds it; the oldest
# sessions' state is dropped, which costs this app nothing (it keeps no per-user gr.State).
STATE_SESSIONS = 100
# Model calls running at once per kind of request (search, classify, similarity); the rest wait in Gradio's
# queue, which has no size limit, so a burst of requests is served late rather than refused.
CONCURRENCY = 1
ANALYTICS_EVENTS = 1000  # request records Gradio's queue keeps (GRADIO_ANALYTICS_MAX_EVENTS; its default is 10,000)
DEFAULT_LABELS = "dog, cat, cow, rooster, frog, horse, rain, car horn, church bells, footsteps"
DEFAULT_CAPTIONS = "a dog barking\na cat meowing\na cow mooing\na rooster crowing"
GRADIO_MISSING = 'the web app needs gradio: pip install "wavlink[app]"'


def bundled_sounds_folder() -> str:
    """The package's real CC0 recordings (wavlink/assets/sounds)."""
    return str(resources.files("wavlink") / "assets" / "sounds")


def parse_labels(text: str) -> list[str]:
    """Comma-separated (or one-per-line) labels: stripped, non-empty, no duplicates."""
    return check_labels([x.strip() for line in (text or "").splitlines() for x in line.split(",") if x.strip()])


def parse_captions(text: str) -> list[str]:
    captions = [x.strip() for x in (text or "").splitlines() if x.strip()]
    if not captions:
        raise ValueError("no captions given (one per line)")
    return captions


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class AppEngine:
    """Search, zero-shot classification and similarity over one model and one folder of audio.

    The folder's audio embeddings are computed once, on first use, and reused by every search.
    """

    def __init__(self, embedder: Embedder, folder: str | os.PathLike | None = None, dim: int | None = None,
                 templates: Sequence[str] | None = None, model_name: str = "", licence: str | None = None) -> None:
        self.embedder = embedder
        self.folder = os.path.abspath(os.fspath(folder)) if folder is not None else bundled_sounds_folder()
        self.files = list_audio_files(self.folder)
        self.dim = dim
        self.templates = list(templates or DEFAULT_TEMPLATES)
        self.model_name = model_name
        self.licence = licence
        self._folder_embeddings: np.ndarray | None = None
        self._row = {os.path.realpath(p): i for i, p in enumerate(self.files)}
        self._exports = tempfile.mkdtemp(prefix="wavlink-app-exports-")
        self._written: collections.deque[str] = collections.deque()
        # the export folder goes with the engine (or at exit): a long-running app leaves nothing behind
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._exports, ignore_errors=True)

    def name(self, path: str) -> str:
        return os.path.relpath(path, self.folder) if path.startswith(self.folder + os.sep) else os.path.basename(path)

    def folder_embeddings(self) -> np.ndarray:
        """The folder's clip embeddings, computed once and shared by every tab (search, audio search,
        similarity)."""
        if self._folder_embeddings is None:
            self._folder_embeddings = self.embedder.encode_audio(self.files, truncate_dim=self.dim,
                                                                 progress=len(self.files) > 32)
        return self._folder_embeddings

    def search(self, query: str, top_k: int = 5) -> list[tuple[str, float]]:
        """The folder's clips ranked for a text query: ``[(path, cosine), ...]``, best first."""
        if not query or not query.strip():
            raise ValueError("type a query")
        text = self.embedder.encode_text([query.strip()], truncate_dim=self.dim)
        return self._rank(text[0], top_k)

    def search_audio(self, clip: Any, top_k: int = 5) -> list[tuple[str, float]]:
        """The folder's clips ranked by similarity to a clip (path, array or audio dict), best first; a clip of
        the folder is left out of its own results."""
        if clip is None:
            raise ValueError("upload or record a clip to search with")
        leave_out = self._row.get(os.path.realpath(clip)) if isinstance(clip, (str, os.PathLike)) else None
        vector = self.clip_embeddings([clip])[0]
        return self._rank(vector, top_k, leave_out)

    def _rank(self, vector: np.ndarray, top_k: int, leave_out: int | None = None) -> list[tuple[str, float]]:
        scores = _unit(self.folder_embeddings()) @ _unit(vector)
        order = [i for i in np.argsort(-scores, kind="stable") if i != leave_out]
        return [(self.files[i], float(scores[i])) for i in order[: max(1, int(top_k))]]

    def clip_embeddings(self, clips: Sequence[Any]) -> np.ndarray:
        """Embeddings of clips: a file of the folder from the folder's embeddings (never embedded twice), any
        other clip embedded now."""
        rows = [self._row.get(os.path.realpath(c)) if isinstance(c, (str, os.PathLike)) else None for c in clips]
        others = [c for c, row in zip(clips, rows) if row is None]
        fresh = iter(self.embedder.encode_audio(others, truncate_dim=self.dim) if others else [])
        folder = self.folder_embeddings() if any(row is not None for row in rows) else None
        return np.stack([folder[row] if row is not None else next(fresh) for row in rows])

    def export(self, hits: Sequence[tuple[str, float]], query: str) -> list[str]:
        """The results as a CSV and a JSON file (rank, score, file relative to the folder, absolute path), for
        download; written to a temporary folder of this app, never the audio folder. Only the last
        `KEPT_EXPORTS` searches' files are kept, so the folder does not grow with every search."""
        rows = [{"rank": r + 1, "score": round(s, 6), "file": self.name(p), "path": p}
                for r, (p, s) in enumerate(hits)]
        stem = os.path.join(self._exports, f"wavlink-search-{uuid.uuid4().hex[:8]}")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["rank", "score", "file", "path"])
        writer.writeheader()
        writer.writerows(rows)
        with open(stem + ".csv", "w", encoding="utf-8", newline="") as f:
            f.write(buffer.getvalue())
        with open(stem + ".json", "w", encoding="utf-8") as f:
            json.dump({"query": query, "model": self.model_name, "folder": self.folder, "results": rows}, f,
                      indent=2)
        self._written.append(stem)
        while len(self._written) > KEPT_EXPORTS:
            old = self._written.popleft()
            for suffix in (".csv", ".json"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(old + suffix)
        return [stem + ".csv", stem + ".json"]

    def close(self) -> None:
        """Remove the export folder now (it also goes when the engine is garbage-collected, or at exit)."""
        self._cleanup()

    def classify(self, audio: Any, labels: Sequence[str]) -> dict[str, float]:
        """Zero-shot label probabilities of one clip (path, array or audio dict), prompt-template ensembled.

        Probabilities on the model's trained logit scale (`zero_shot_probabilities`: a softmax over the labels
        for CLIP-trained models, one sigmoid per label for SigLIP-trained ones), as ``wavlink classify`` and the
        folder's pipeline give them. The dict is ordered best first.
        """
        if audio is None:
            raise ValueError("upload or record a clip first")
        labels = list(labels)
        classes = class_embeddings_from_templates(
            lambda texts: self.embedder.encode_text(texts, truncate_dim=self.dim),
            [prettify_label(x) for x in labels], self.templates)
        clip = self.embedder.encode_audio([audio], truncate_dim=self.dim)
        probs = zero_shot_probabilities(clip, classes, self.embedder.model)[0].numpy()
        order = np.argsort(-probs, kind="stable")
        return {labels[i]: float(probs[i]) for i in order}

    def similarity(self, clips: Sequence[Any], captions: Sequence[str]) -> np.ndarray:
        """``(len(clips), len(captions))`` cosine similarities (the folder's clips from its shared embeddings)."""
        if not clips:
            raise ValueError("no clips")
        audio = self.clip_embeddings(list(clips))
        text = self.embedder.encode_text(list(captions), truncate_dim=self.dim)
        return _unit(audio) @ _unit(text).T


def heatmap_figure(scores: np.ndarray, clip_names: Sequence[str], captions: Sequence[str]):
    """A matplotlib figure of the clip x caption cosines (each row's best caption outlined)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n_clips, n_caps = scores.shape
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * n_caps, 1.0 + 0.45 * n_clips))
    image = ax.imshow(scores, cmap="viridis", aspect="auto")
    ax.set_xticks(range(n_caps), [c if len(c) <= 28 else c[:26] + "…" for c in captions], rotation=30, ha="right")
    ax.set_yticks(range(n_clips), list(clip_names))
    span = float(scores.max() - scores.min()) or 1.0
    for i in range(n_clips):
        for j in range(n_caps):
            light = (scores[i, j] - scores.min()) / span > 0.6
            ax.text(j, i, f"{scores[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if light else "white")
        j = int(scores[i].argmax())
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=1.5))
    fig.colorbar(image, ax=ax, label="cosine")
    ax.set_title("clips vs captions (red: each clip's best caption)")
    fig.tight_layout()
    return fig


def error_text(err: Exception) -> str:
    """The line shown beside the results when a request fails (the results stay as they were)."""
    return f"**error:** {err}"


def build_app(engine: AppEngine):
    """The Gradio ``Blocks`` app (three tabs) around ``engine``; serve it with `launch_app`, which lets the
    browser fetch the listed audio files and nothing else of the folder.

    The page opens with results (the first example query, the folder against the default captions), not empty
    tables. A failed request shows its error in a line beside the results and leaves the last good results in
    place (no error box replacing every output, no toast outliving the next good request)."""
    try:
        import gradio as gr
    except ImportError as err:
        raise ImportError(GRADIO_MISSING) from err
    import pandas as pd

    n_files = len(engine.files)

    def search_outputs(hits: list[tuple[str, float]], query: str) -> list[Any]:
        table = pd.DataFrame({"rank": list(range(1, len(hits) + 1)), "score": [round(s, 4) for _, s in hits],
                              "file": [engine.name(p) for p, _ in hits]})
        players = [gr.Audio(value=p, label=f"#{r + 1}  {engine.name(p)}  ({s:.3f})", visible=True)
                   for r, (p, s) in enumerate(hits[:MAX_RESULTS])]
        players += [gr.Audio(value=None, visible=False)] * (MAX_RESULTS - len(players))
        return [table, *players, "", engine.export(hits, query)]

    def search_failed(err: Exception) -> list[Any]:
        return [gr.update()] * (1 + MAX_RESULTS) + [error_text(err), gr.update()]

    def do_search(query: str, top_k: float):
        try:
            return search_outputs(engine.search(query, int(top_k)), (query or "").strip())
        except ValueError as err:
            return search_failed(err)

    def do_search_audio(clip: str | None, top_k: float):
        try:
            return search_outputs(engine.search_audio(clip, int(top_k)), f"audio: {os.path.basename(clip or '')}")
        except ValueError as err:
            return search_failed(err)

    def do_classify(audio: str | None, labels_text: str):
        try:
            return engine.classify(audio, parse_labels(labels_text)), ""
        except ValueError as err:
            return gr.update(), error_text(err)

    def similarity_outputs(paths: list[str], captions: list[str]):
        names = [engine.name(p) for p in paths]
        scores = engine.similarity(paths, captions)
        table = pd.DataFrame(scores.astype(np.float64).round(4), columns=captions)
        table.insert(0, "clip", names)
        try:
            figure = heatmap_figure(scores, names, captions)
        except ImportError:  # matplotlib missing: the table alone
            figure = None
        return figure, table

    def do_similarity(files: list[Any] | None, captions_text: str):
        try:
            paths = [getattr(f, "name", f) for f in files] if files else engine.files
            return (*similarity_outputs(paths, parse_captions(captions_text)), "")
        except ValueError as err:
            return gr.update(), gr.update(), error_text(err)

    first_query = EXAMPLE_QUERIES[0]
    start_k = min(5, n_files)
    initial_hits = engine.search(first_query, start_k)
    initial = search_outputs(initial_hits, first_query)
    initial_figure, initial_table = similarity_outputs(engine.files[:12], parse_captions(DEFAULT_CAPTIONS))
    header = (f"# wavlink: audio-text embeddings\nmodel: **{engine.model_name or 'given'}** · "
              f"{licence_notice(engine.licence)} · folder: `{engine.folder}` ({n_files} clips)")
    with gr.Blocks(title="wavlink") as demo:
        gr.Markdown(header, elem_id="header")
        with gr.Tab("Search", id="search"):
            with gr.Row():
                query = gr.Textbox(label="text query", value=first_query, elem_id="search-query", scale=4)
                top_k = gr.Slider(1, min(MAX_TOP_K, n_files), value=start_k, step=1, label="results",
                                  elem_id="search-top-k")
            gr.Examples([[q] for q in EXAMPLE_QUERIES], inputs=[query], label="example queries")
            search_btn = gr.Button("Search", variant="primary", elem_id="search-button")
            with gr.Accordion("search by a clip (sounds like this one)", open=False):
                query_clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="query clip",
                                      elem_id="search-audio")
                search_audio_btn = gr.Button("Search by clip", elem_id="search-audio-button")
            search_error = gr.Markdown(initial[1 + MAX_RESULTS], elem_id="search-error")
            results = gr.Dataframe(value=initial[0], label="ranked clips", interactive=False,
                                   elem_id="search-results")
            export = gr.File(value=initial[-1], label="results as CSV / JSON", file_count="multiple",
                             interactive=False, elem_id="search-export")
            shown = initial_hits[:MAX_RESULTS]
            players = [gr.Audio(value=shown[i][0] if i < len(shown) else None,
                                label=f"#{i + 1}  {engine.name(shown[i][0])}  ({shown[i][1]:.3f})" if i < len(shown)
                                else None, visible=i < len(shown), interactive=False, elem_id=f"search-player-{i}")
                       for i in range(MAX_RESULTS)]
            outputs = [results, *players, search_error, export]
            search_btn.click(do_search, [query, top_k], outputs, api_name="search")
            query.submit(do_search, [query, top_k], outputs, api_name=False)
            search_audio_btn.click(do_search_audio, [query_clip, top_k], outputs, api_name="search_audio")
        with gr.Tab("Classify", id="classify"):
            with gr.Row():
                clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="clip",
                                elem_id="classify-audio")
                with gr.Column():
                    labels = gr.Textbox(label="labels (comma-separated)", value=DEFAULT_LABELS, lines=2,
                                        elem_id="classify-labels")
                    classify_btn = gr.Button("Classify", variant="primary", elem_id="classify-button")
            classify_error = gr.Markdown("", elem_id="classify-error")
            scores = gr.Label(label="zero-shot probabilities (the model's trained scale)", num_top_classes=10,
                              elem_id="classify-scores")
            classify_btn.click(do_classify, [clip, labels], [scores, classify_error], api_name="classify")
            gr.Examples([[p] for p in engine.files[:6]], inputs=[clip], label="clips from the folder")
        with gr.Tab("Similarity", id="similarity"):
            gr.Markdown("Upload clips (or leave empty to use the folder's clips) and write one caption per line.")
            with gr.Row():
                sim_files = gr.File(file_count="multiple", file_types=["audio"], label="clips",
                                    elem_id="similarity-files")
                captions = gr.Textbox(label="captions (one per line)", value=DEFAULT_CAPTIONS, lines=5,
                                      elem_id="similarity-captions")
            sim_btn = gr.Button("Compare", variant="primary", elem_id="similarity-button")
            similarity_error = gr.Markdown("", elem_id="similarity-error")
            heat = gr.Plot(value=initial_figure, label="similarity heat map", elem_id="similarity-plot")
            sim_table = gr.Dataframe(value=initial_table, label="cosine similarities", interactive=False,
                                     elem_id="similarity-table")
            sim_btn.click(do_similarity, [sim_files, captions], [heat, sim_table, similarity_error],
                          api_name="similarity")
    return demo


def launch_app(engine: AppEngine, host: str = "127.0.0.1", port: int | None = 7860, block: bool = True,
               state_sessions: int = STATE_SESSIONS, concurrency: int = CONCURRENCY, **launch_kwargs: Any):
    """Serve `build_app(engine)`; returns the Blocks (with ``block=False`` it is running; ``.close()`` stops it).

    Files: only ``engine.files`` (the audio the app lists) are in ``allowed_paths``, each by its exact path, so
    ``/gradio_api/file=<folder>/anything-else`` is refused (403); uploads and Gradio's own cache are served as
    Gradio always does. Load: `concurrency` model calls per request kind at once, an unbounded queue for the
    rest, and the state of at most `state_sessions` sessions kept (see `STATE_SESSIONS`).
    """
    # Gradio keeps a record of the last 10,000 requests for its analytics page by default; 1,000 is plenty here
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", str(ANALYTICS_EVENTS))
    demo = build_app(engine)
    demo.queue(default_concurrency_limit=concurrency, max_size=None)
    demo.launch(server_name=host, server_port=port, allowed_paths=list(engine.files), show_error=True,
                state_session_capacity=state_sessions, prevent_thread_lock=not block, **launch_kwargs)
    return demo


__all__ = ["CONCURRENCY", "STATE_SESSIONS", "AppEngine", "build_app", "bundled_sounds_folder", "heatmap_figure",
           "launch_app", "parse_captions", "parse_labels"]
