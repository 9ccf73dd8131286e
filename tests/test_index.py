"""`wavlink index` / `wavlink search --index`: FAISS indexes built with a tiny random model, checked against
brute force, resumed after a failure, merged across processes, and refused for another model or dim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("faiss")

from helpers import SR, make_clip  # noqa: E402

from wavlink.cli import main  # noqa: E402
from wavlink.index import SearchIndex, build_index, make_index, read_paths  # noqa: E402
from wavlink.inference import Embedder  # noqa: E402

QUERIES = ["a high beep", "low noise", "clicks"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    for seed in (0, 1):
        assert main(["create", "--preset", "tiny-random", "--seed", str(seed), "--out", str(root / f"m{seed}")]) == 0
    clips = root / "clips"
    (clips / "sub").mkdir(parents=True)
    for i in range(14):
        sf.write(clips / ("sub" if i % 3 == 0 else "") / f"c{i:02d}.wav", make_clip(0.2 + 0.05 * i, seed=i), SR)
    return root


def _search_json(capsys, *argv) -> list[dict]:
    capsys.readouterr()
    assert main(["search", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_flat_index_search_equals_brute_force(setup, capsys):
    model, idx = str(setup / "m0"), str(setup / "flat.idx")
    assert main(["index", str(setup / "clips"), "--out", idx, "--model", model, "--chunk-size", "4"]) == 0
    meta = json.loads(Path(idx, "meta.json").read_text())
    assert meta["index_type"] == "flat" and meta["count"] == 14 and meta["dim"] == 32 and not meta["int8"]
    assert not Path(idx, "chunks").exists()
    results = _search_json(capsys, "--index", idx, *QUERIES, "--top-k", "5")  # the index's model is used
    embedder = Embedder.load(model)
    paths = read_paths(Path(idx))
    audio = embedder.encode_audio(paths)
    scores = embedder.encode_text(QUERIES) @ audio.T
    for query, row, result in zip(QUERIES, scores, results):
        assert result["query"] == query
        best = np.argsort(-row)[:5]
        assert [r["path"] for r in result["results"]] == [paths[i] for i in best]
        np.testing.assert_allclose([r["score"] for r in result["results"]], row[best], atol=1e-5)
    # the table output names the same best file
    capsys.readouterr()
    assert main(["search", "--index", idx, QUERIES[0], "--top-k", "2"]) == 0
    assert paths[int(np.argmax(scores[0]))] in capsys.readouterr().out


def test_matryoshka_int8_index_and_refusals(setup, capsys):
    model, idx = str(setup / "m0"), str(setup / "small.idx")
    assert main(["index", str(setup / "clips"), "--out", idx, "--model", model, "--dim", "16", "--vectors", "int8"]) == 0
    meta = json.loads(Path(idx, "meta.json").read_text())
    assert meta["dim"] == 16 and meta["truncate_dim"] == 16 and meta["int8"]
    assert "ScalarQuantizer" in type(SearchIndex(idx).index).__name__
    results = _search_json(capsys, "--index", idx, QUERIES[0], "--top-k", "14")
    embedder = Embedder.load(model)
    paths = read_paths(Path(idx))
    exact = embedder.encode_text(QUERIES[:1], truncate_dim=16) @ embedder.encode_audio(paths, truncate_dim=16).T
    got = [r["path"] for r in results[0]["results"]]
    assert sorted(got) == sorted(paths)  # every clip, int8 scores close to the exact ones
    np.testing.assert_allclose([r["score"] for r in results[0]["results"]],
                               exact[0][[paths.index(p) for p in got]], atol=0.03)
    capsys.readouterr()
    assert main(["search", "--index", idx, "x", "--dim", "32"]) == 2
    assert "16-d" in capsys.readouterr().err
    assert main(["search", "--index", idx, "x", "--model", str(setup / "m1")]) == 2
    assert "not comparable" in capsys.readouterr().err
    with pytest.raises(ValueError, match="another model|other weights"):
        SearchIndex(idx).check(Embedder.load(str(setup / "m1")).model, None)


class Flaky:
    """An embedder that fails after `fail_after` batches (a killed run) and counts what it embedded."""

    def __init__(self, embedder, fail_after=None):
        self.inner, self.model, self.dims, self.fail_after, self.embedded = embedder, embedder.model, embedder.dims, fail_after, []

    def encode_audio(self, paths, truncate_dim=None):
        if self.fail_after is not None and len(self.embedded) >= self.fail_after:
            raise KeyboardInterrupt
        self.embedded.append(list(paths))
        return self.inner.encode_audio(paths, truncate_dim=truncate_dim)


class FakeState:
    def __init__(self, rank, world):
        self.process_index, self.num_processes = rank, world

    def wait_for_everyone(self):
        pass


def test_killed_build_resumes_and_ranks_embed_their_slices(setup):
    embedder = Embedder.load(str(setup / "m0"))
    clips = setup / "clips"
    ref = build_index(clips, setup / "ref.idx", embedder, model_source="m0", chunk_size=4, progress=False)
    killed = Flaky(embedder, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        build_index(clips, setup / "resumed.idx", killed, model_source="m0", chunk_size=4, progress=False)
    assert sorted(p.name for p in (setup / "resumed.idx" / "chunks").glob("chunk-*")) == [
        "chunk-000000.npy", "chunk-000001.npy"]
    again = Flaky(embedder)
    meta = build_index(clips, setup / "resumed.idx", again, model_source="m0", chunk_size=4, progress=False)
    assert [len(b) for b in again.embedded] == [4, 2]  # only chunks 2 and 3 (14 clips)
    # two processes: rank 1 embeds chunks 1, 3; rank 0 embeds 0, 2 and merges
    r1, r0 = Flaky(embedder), Flaky(embedder)
    assert build_index(clips, setup / "multi.idx", r1, model_source="m0", chunk_size=4, progress=False,
                       state=FakeState(1, 2)) is None
    build_index(clips, setup / "multi.idx", r0, model_source="m0", chunk_size=4, progress=False, state=FakeState(0, 2))
    assert [len(b) for b in r1.embedded] == [4, 2] and [len(b) for b in r0.embedded] == [4, 4]
    q = embedder.encode_text(QUERIES)
    expected = SearchIndex(setup / "ref.idx").search(q, 6)
    for other in ("resumed.idx", "multi.idx"):
        got = SearchIndex(setup / other).search(q, 6)
        assert [[p for p, _ in r] for r in got] == [[p for p, _ in r] for r in expected]
    assert meta["count"] == ref["count"] == 14


def test_hnsw_beyond_the_threshold_finds_the_exact_neighbours(monkeypatch):
    import wavlink.index as index_module

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    monkeypatch.setattr(index_module, "EXACT_MAX", 1000)
    for int8 in (False, True):
        index, kind = make_index(vectors, int8=int8)
        assert kind == "hnsw" and ("SQ" in type(index).__name__) == int8
        queries = vectors[:50] + 0.05 * rng.standard_normal((50, 32)).astype(np.float32)
        exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        _, found = index.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)])
        assert recall > 0.9, recall


def test_manifest_source_and_unfinished_index_message(setup, tmp_path):
    from wavlink.index import collection_paths

    manifest = tmp_path / "m.csv"
    manifest.write_text("audio,caption\n" + "".join(f"{setup}/clips/c{i:02d}.wav,x\n" for i in (1, 2, 2)))
    assert collection_paths(manifest) == [f"{setup}/clips/c01.wav", f"{setup}/clips/c02.wav"]
    (tmp_path / "half.idx" / "chunks").mkdir(parents=True)
    with pytest.raises(ValueError, match="unfinished build"):
        SearchIndex(tmp_path / "half.idx")


def test_any_file_name_round_trips_and_printed_paths_open_from_any_cwd(setup, tmp_path, capsys, monkeypatch):
    """Issue 25, items 8 and 9: names with a newline or U+2028 used to give "2 vectors but 3 paths", and paths
    were stored relative to the build's cwd, so `cd / && wavlink search --index` printed paths that do not exist."""
    clips = tmp_path / "odd"
    clips.mkdir()
    names = ["line\nbreak.wav", "sep\u2028arator.wav", "plain.wav", "tab\tand space.wav"]
    for i, name in enumerate(names):
        sf.write(clips / name, make_clip(0.3 + 0.05 * i, seed=20 + i), SR)
    monkeypatch.chdir(tmp_path)  # build from a relative folder ...
    assert main(["index", "odd", "--out", "odd.idx", "--model", str(setup / "m0")]) == 0
    index = SearchIndex(tmp_path / "odd.idx")
    assert sorted(index.paths) == sorted(str(clips / n) for n in names)
    monkeypatch.chdir("/")  # ... search from elsewhere
    results = _search_json(capsys, "--index", str(tmp_path / "odd.idx"), "a tone", "--top-k", "4")
    assert sorted(r["path"] for r in results[0]["results"]) == sorted(str(clips / n) for n in names)
    capsys.readouterr()
    assert main(["search", "--index", str(tmp_path / "odd.idx"), "a tone", "--top-k", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:1].isdigit()]
    assert len(rows) == 4  # one line per hit: the newline and U+2028 are escaped in the table
    shown = [line.split(None, 2)[2].strip() for line in rows]
    unescaped = [p.encode("latin-1", "backslashreplace").decode("unicode_escape") for p in shown]
    assert all(Path(p).is_file() for p in unescaped), shown
    monkeypatch.chdir(tmp_path)  # under the cwd, the table shows paths relative to it, which open too
    assert main(["search", "--index", str(tmp_path / "odd.idx"), "a tone", "--top-k", "1"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line[:1].isdigit())
    assert row.split(None, 2)[2].startswith("odd/")
