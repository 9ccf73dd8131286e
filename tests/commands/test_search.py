"""`wavlink search`: the per-folder embedding cache (reuse, changed / new / deleted files, damaged caches, where it
lives), queries by example clip (--query-audio) on folders and indexes, one positional form for folders and
indexes, and errors that name the fix. Also: a folder ranked recursively, undecodable files skipped with one
note (search and embed), and --json as the only stdout."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import SR, make_tone

from wavlink.cli import main
from wavlink.inference import Embedder

FREQS = {"a.wav": (220.0,), "b.wav": (880.0, 1320.0), "sub/c.flac": (3000.0,), "d.wav": (500.0, 4000.0)}


@pytest.fixture
def fresh_sounds(tmp_path: Path) -> Path:
    """A new folder per test (the cache tests change its files); `sounds` (conftest) is shared."""
    folder = tmp_path / "sounds"
    (folder / "sub").mkdir(parents=True)
    for name, freqs in FREQS.items():
        sf.write(folder / name, make_tone(1.0 + len(freqs) / 3, SR, freqs), SR)
    return folder


@pytest.fixture
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "user-cache"
    monkeypatch.setenv("WAVLINK_CACHE", str(root))
    return root


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many clips each `Embedder.encode_audio` call embedded."""
    calls: list[int] = []
    real = Embedder.encode_audio

    def counting(self, audio, *args, **kwargs):
        calls.append(len(audio))
        return real(self, audio, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode_audio", counting)
    return calls


def search_json(capsys, *args: str) -> list[dict]:
    assert main(["search", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def expected_ranking(model_dir: Path, query_vector: np.ndarray, files: list[str]) -> list[tuple[str, float]]:
    emb = Embedder.load(model_dir)
    audio = emb.encode_audio(files)
    audio = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    q = query_vector / np.linalg.norm(query_vector)
    scores = audio @ q
    return [(files[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")]


def as_pairs(result: dict) -> list[tuple[str, float]]:
    return [(r["path"], r["score"]) for r in result["results"]]


def test_second_search_embeds_nothing_and_ranks_the_same(model_dir: Path, fresh_sounds: Path, cache_root: Path,
                                                         embedded: list[int], capsys) -> None:
    args = [str(fresh_sounds), "a high whistle", "--model", str(model_dir), "--top-k", "4"]
    first = search_json(capsys, *args)
    assert embedded == [4]  # every clip once (the text query is not audio)
    second = search_json(capsys, *args)
    assert embedded == [4]  # nothing re-embedded
    assert [r["path"] for r in second[0]["results"]] == [r["path"] for r in first[0]["results"]]
    np.testing.assert_allclose([r["score"] for r in second[0]["results"]],
                               [r["score"] for r in first[0]["results"]], atol=1e-6)
    fresh = search_json(capsys, *args, "--no-cache")
    assert embedded == [4, 4]
    np.testing.assert_allclose([s for _, s in as_pairs(fresh[0])], [s for _, s in as_pairs(second[0])], atol=1e-5)
    # the cache lives in the user's cache folder, never in the audio folder
    assert sorted(p.relative_to(fresh_sounds).as_posix() for p in fresh_sounds.rglob("*")) == [
        "a.wav", "b.wav", "d.wav", "sub", "sub/c.flac"]
    entries = list((cache_root / "search").glob("*/entries.json"))
    assert len(entries) == 1
    meta = json.loads(entries[0].read_text())
    assert sorted(f[0] for f in meta["files"]) == ["a.wav", "b.wav", "d.wav", os.path.join("sub", "c.flac")]


def test_changed_new_and_deleted_files(model_dir: Path, fresh_sounds: Path, cache_root: Path, embedded: list[int],
                                       capsys) -> None:
    args = [str(fresh_sounds), "a low hum", "--model", str(model_dir), "--top-k", "10"]
    search_json(capsys, *args)
    assert embedded == [4]
    sf.write(fresh_sounds / "b.wav", make_tone(2.5, SR, (150.0,)), SR)  # other content, other size
    st = os.stat(fresh_sounds / "b.wav")
    os.utime(fresh_sounds / "b.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    sf.write(fresh_sounds / "e.wav", make_tone(1.2, SR, (6000.0,)), SR)  # new
    (fresh_sounds / "d.wav").unlink()  # deleted
    result = search_json(capsys, *args)
    assert embedded == [4, 2]  # b (changed) and e (new) only
    paths = sorted(p for p, _ in as_pairs(result[0]))
    assert sorted(Path(p).name for p in paths) == ["a.wav", "b.wav", "c.flac", "e.wav"]
    text = Embedder.load(model_dir).encode_text(["a low hum"])[0]
    want = expected_ranking(model_dir, text, paths)
    assert [p for p, _ in as_pairs(result[0])] == [p for p, _ in want]
    np.testing.assert_allclose([s for _, s in as_pairs(result[0])], [s for _, s in want], atol=1e-5)


def test_the_cache_note_counts_clips(model_dir: Path, fresh_sounds: Path, cache_root: Path, capsys) -> None:
    args = [str(fresh_sounds), "rain", "--model", str(model_dir)]
    assert main(["search", *args]) == 0
    assert "search cache: embedded 4 new or changed clip(s), reused 0" in capsys.readouterr().err
    (fresh_sounds / "a.wav").unlink()
    assert main(["search", *args]) == 0
    assert "embedded 0 new or changed clip(s), reused 3, dropped 1 deleted" in capsys.readouterr().err
    assert main(["search", *args]) == 0
    assert "search cache" not in capsys.readouterr().err  # nothing changed, nothing to say
    st = os.stat(fresh_sounds / "b.wav")
    os.utime(fresh_sounds / "b.wav", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: same size, newer mtime
    assert main(["search", *args]) == 0
    err = capsys.readouterr().err
    assert "embedded 1 new or changed clip(s), reused 2" in err and "dropped" not in err


def _entry(cache_root: Path) -> Path:
    (entry,) = list((cache_root / "search").iterdir())
    return entry


@pytest.mark.parametrize("damage", ["garbage-vectors", "truncated-entries", "pickled-vectors", "other-count"])
def test_a_damaged_cache_is_ignored_and_rebuilt(model_dir: Path, fresh_sounds: Path, cache_root: Path,
                                                embedded: list[int], capsys, monkeypatch, damage: str) -> None:
    args = [str(fresh_sounds), "a dog barking", "--model", str(model_dir), "--top-k", "4"]
    good = search_json(capsys, *args)
    entry = _entry(cache_root)
    meta = json.loads((entry / "entries.json").read_text())
    if damage == "garbage-vectors":
        (entry / "vectors.npy").write_bytes(b"\x93NUMPY not really")
    elif damage == "truncated-entries":
        (entry / "entries.json").write_text((entry / "entries.json").read_text()[:40])
    else:
        if damage == "pickled-vectors":  # a file whose checksum matches but which would need unpickling
            buffer = io.BytesIO()
            np.save(buffer, np.array([{"evil": 1}] * 4, dtype=object), allow_pickle=True)
        else:
            buffer = io.BytesIO()
            np.save(buffer, np.zeros((3, 32), np.float32))
        raw = buffer.getvalue()
        (entry / "vectors.npy").write_bytes(raw)
        import hashlib

        meta["vectors_sha256"] = hashlib.sha256(raw).hexdigest()
        (entry / "entries.json").write_text(json.dumps(meta))
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("the cache was unpickled")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    again = search_json(capsys, *args)
    assert embedded == [4, 4]  # rebuilt
    assert [r["path"] for r in again[0]["results"]] == [r["path"] for r in good[0]["results"]]
    monkeypatch.undo()
    assert json.loads((entry / "entries.json").read_text())["count"] == 4  # and written back whole


def test_another_model_or_dim_gets_its_own_entry(model_dir: Path, fresh_sounds: Path, cache_root: Path,
                                                 embedded: list[int], capsys, tmp_path: Path) -> None:
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["logit_scale_init"] = 1.0  # other files: another fingerprint, even with the same weights
    (other / "config.json").write_text(json.dumps(config))
    search_json(capsys, str(fresh_sounds), "x", "--model", str(model_dir))
    search_json(capsys, str(fresh_sounds), "x", "--model", str(other))
    dims = Embedder.load(model_dir).dims
    assert len(dims) > 1
    search_json(capsys, str(fresh_sounds), "x", "--model", str(model_dir), "--dim", str(dims[1]))
    assert embedded == [4, 4, 4]
    assert len(list((cache_root / "search").iterdir())) == 3
    search_json(capsys, str(fresh_sounds), "x", "--model", str(other))
    assert embedded == [4, 4, 4]


def test_no_cache_writes_nothing(model_dir: Path, fresh_sounds: Path, cache_root: Path, capsys) -> None:
    search_json(capsys, str(fresh_sounds), "rain", "--model", str(model_dir), "--no-cache")
    assert not (cache_root / "search").exists()


def test_xdg_cache_home_is_the_default_place(model_dir: Path, fresh_sounds: Path, tmp_path: Path, capsys,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAVLINK_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    search_json(capsys, str(fresh_sounds), "rain", "--model", str(model_dir))
    assert len(list((tmp_path / "xdg" / "wavlink" / "search").glob("*/vectors.npy"))) == 1


def test_query_audio_ranks_a_folder_by_similarity_and_leaves_the_clip_out(model_dir: Path, fresh_sounds: Path,
                                                                          cache_root: Path, capsys) -> None:
    query = str(fresh_sounds / "b.wav")
    (result,) = search_json(capsys, str(fresh_sounds), "--query-audio", query, "--model", str(model_dir), "--top-k", "10")
    assert result["query_audio"] == os.path.abspath(query) and "query" not in result
    files = sorted(str(p) for p in fresh_sounds.rglob("*") if p.is_file())
    emb = Embedder.load(model_dir)
    want = [(p, s) for p, s in expected_ranking(model_dir, emb.encode_audio([query])[0], files) if p != query]
    assert [p for p, _ in as_pairs(result)] == [p for p, _ in want]  # the clip itself is not its own answer
    np.testing.assert_allclose([s for _, s in as_pairs(result)], [s for _, s in want], atol=1e-5)


def test_text_and_audio_queries_together_in_the_table(model_dir: Path, fresh_sounds: Path, cache_root: Path,
                                                      tmp_path: Path, capsys) -> None:
    outside = tmp_path / "q.wav"
    sf.write(outside, make_tone(1.0, SR, (880.0, 1320.0)), SR)  # b.wav's tones, shorter
    assert main(["search", str(fresh_sounds), "a whistle", "--query-audio", str(outside), "--model", str(model_dir),
                 "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "query: 'a whistle'" in out and "query audio: " in out
    assert out.count("\n1  ") == 2


@pytest.fixture
def index_dir(model_dir: Path, fresh_sounds: Path, tmp_path: Path) -> Path:
    pytest.importorskip("faiss")
    out = tmp_path / "sounds.idx"
    assert main(["index", str(fresh_sounds), "--out", str(out), "--model", str(model_dir)]) == 0
    return out


def test_an_index_is_searched_in_the_same_positional_form(model_dir: Path, fresh_sounds: Path, index_dir: Path,
                                                          cache_root: Path, capsys) -> None:
    capsys.readouterr()
    from_folder = search_json(capsys, str(fresh_sounds), "a dog barking", "--model", str(model_dir), "--top-k", "4")
    positional = search_json(capsys, str(index_dir), "a dog barking", "--top-k", "4")
    alias = search_json(capsys, "--index", str(index_dir), "a dog barking", "--top-k", "4")
    assert positional == alias
    assert [r["path"] for r in positional[0]["results"]] == [r["path"] for r in from_folder[0]["results"]]
    np.testing.assert_allclose([r["score"] for r in positional[0]["results"]],
                               [r["score"] for r in from_folder[0]["results"]], atol=1e-4)


def test_query_audio_on_an_index(model_dir: Path, fresh_sounds: Path, index_dir: Path, cache_root: Path, capsys) -> None:
    query = str(fresh_sounds / "a.wav")
    (from_index,) = search_json(capsys, str(index_dir), "--query-audio", query, "--top-k", "3")
    (from_folder,) = search_json(capsys, str(fresh_sounds), "--query-audio", query, "--model", str(model_dir),
                                 "--top-k", "3")
    assert len(from_index["results"]) == 3 and query not in [r["path"] for r in from_index["results"]]
    assert [r["path"] for r in from_index["results"]] == [r["path"] for r in from_folder["results"]]


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a folder or an index folder, then queries"),
    (["{sounds}"], "give at least one text query or --query-audio FILE"),
    (["{missing}", "rain"], "no such folder or index: {missing} (the first argument is what to search"),
    (["{sounds}/a.wav", "rain"], "is an audio file; search takes the folder or index to search first. To find "
                                 "clips that sound like it: wavlink search FOLDER --query-audio {sounds}/a.wav"),
    (["{sounds}", "--query-audio", "{missing}.wav"], "--query-audio: audio file not found: {missing}.wav"),
])
def test_errors_name_the_fix(model_dir: Path, fresh_sounds: Path, tmp_path: Path, capsys, args: list[str],
                             message: str) -> None:
    fill = {"sounds": str(fresh_sounds), "missing": str(tmp_path / "nope")}
    assert main(["search", *[a.format(**fill) for a in args], "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert message.format(**fill) in err and "Traceback" not in err


def test_an_unfinished_index_is_not_searched_as_a_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "half.idx" / "chunks").mkdir(parents=True)
    assert main(["search", str(tmp_path / "half.idx"), "rain"]) == 2
    assert "an unfinished build: run wavlink index again" in capsys.readouterr().err


def test_help_points_to_index_for_big_collections(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "wavlink index FOLDER --out IDX" in out and "--query-audio FILE" in out and "--no-cache" in out


def test_a_manifest_is_searched_through_the_data_reader(model_dir: Path, fresh_sounds: Path, cache_root: Path,
                                                        embedded: list[int], capsys) -> None:
    """A manifest target ranks exactly the clips it lists (paths relative to it, duplicates once), as a folder
    search of those clips would, and caches them under its own key."""
    sounds = fresh_sounds
    manifest = sounds / "picked.csv"
    manifest.write_text("audio,caption\nb.wav,one\nsub/c.flac,two\nb.wav,three\n")
    result = search_json(capsys, str(manifest), "a low hum", "--model", str(model_dir), "--top-k", "10")
    listed = [str(sounds / "b.wav"), str(sounds / "sub" / "c.flac")]
    assert sorted(r["path"] for r in result[0]["results"]) == sorted(listed)
    assert embedded == [2]
    query = Embedder.load(model_dir).encode_text(["a low hum"])[0]
    np.testing.assert_allclose([s for _, s in as_pairs(result[0])],
                               [s for _, s in expected_ranking(model_dir, query, listed)], atol=1e-5)
    before = list(embedded)  # expected_ranking embedded the clips once more
    search_json(capsys, str(manifest), "a low hum", "--model", str(model_dir))
    assert embedded == before  # the second search reuses the manifest's cache entry


def test_search_ranks_the_folder_recursively(model_dir: Path, sounds: Path, capsys) -> None:
    assert main(["search", str(sounds), "a high whistle", "--model", str(model_dir), "--top-k", "3"]) == 0
    out = capsys.readouterr().out
    files = [line.split()[-1] for line in out.splitlines() if line[:1].isdigit()]
    assert sorted(Path(f).relative_to(sounds).as_posix() for f in files) == ["low.wav", "mid.flac", "sub/high.wav"]
    emb = Embedder.load(model_dir)
    scores = (emb.encode_text(["a high whistle"]) @ emb.encode_audio(files).T)[0]  # printed paths open as they are
    assert list(scores) == sorted(scores, reverse=True)


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    """A real .wav next to files soundfile cannot decode (a fake .m4a and .aac) and a non-audio file."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "real.wav", make_tone(1.0, SR, (440.0,)), SR)
    (folder / "phone.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    (folder / "sub" / "radio.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    (folder / "sub" / "clip.aac").write_bytes(b"\xff\xf1" + bytes(64))
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_search_and_embed_skip_undecodable_files_with_one_note(model_dir: Path, mixed_folder: Path,
                                                               tmp_path: Path, capsys) -> None:
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir)]) == 0
    captured = capsys.readouterr()
    files = [line.split()[-1] for line in captured.out.splitlines() if line[:1].isdigit()]
    assert files == [str(mixed_folder / "real.wav")]  # a path that opens from the current directory
    notes = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(notes) == 1 and "skipped 3 audio file(s)" in notes[0] and "1 .aac, 2 .m4a" in notes[0], captured.err
    out = tmp_path / "mixed.npy"
    assert main(["embed", str(mixed_folder), "--model", str(model_dir), "--out", str(out)]) == 0
    assert np.load(out).shape[0] == 1
    assert (tmp_path / "mixed.npy.inputs.jsonl").read_text() == json.dumps(str(mixed_folder / "real.wav")) + "\n"
    assert "skipped 3 audio file(s)" in capsys.readouterr().err


def test_a_folder_of_only_undecodable_audio_is_a_one_line_error(model_dir: Path, mixed_folder: Path,
                                                                capsys) -> None:
    (mixed_folder / "real.wav").unlink()
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert "no decodable audio files" in err and "2 .m4a" in err and "Traceback" not in err, err


def test_search_json_is_the_only_stdout(model_dir: Path, mixed_folder: Path, sounds: Path, capsys,
                                        loud_load) -> None:
    emb = Embedder.load(model_dir)
    loud_load()
    queries = ["a high whistle", "a low hum"]
    assert main(["search", str(sounds), *queries, "--model", str(model_dir), "--top-k", "2", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert [r["query"] for r in result] == queries and "assembling" in captured.err
    for r, query in zip(result, queries):
        assert [x["rank"] for x in r["results"]] == [1, 2]
        paths = [x["path"] for x in r["results"]]
        assert all(Path(p).is_file() and Path(p).is_relative_to(sounds) for p in paths)
        expected = (emb.encode_text([query]) @ emb.encode_audio(paths).T)[0]
        np.testing.assert_allclose([x["score"] for x in r["results"]], expected, atol=1e-5)
        assert expected[0] >= expected[1]
    # the skipped-files note of a mixed folder stays off stdout too
    assert main(["search", str(mixed_folder), "a tone", "--model", str(model_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert [x["path"] for x in json.loads(captured.out)[0]["results"]] == [str(mixed_folder / "real.wav")]
    assert "skipped 3 audio file(s)" in captured.err
