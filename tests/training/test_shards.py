"""WebDataset shards: writing from a manifest, streaming split across processes and workers, exact resume,
bad members, and training / evaluation from shards through the trainer."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("webdataset")

from helpers import SR, make_clip  # noqa: E402

from wavlink.cli import main  # noqa: E402
from wavlink.data.records import read_shards  # noqa: E402
from wavlink.data.shards import count_samples, expand_shards, is_shard_spec  # noqa: E402
from wavlink.training.shard_writer import write_shards  # noqa: E402
from wavlink.training.shards import ShardStream, StreamLoader  # noqa: E402


def _manifest(folder: Path, n: int, seconds: float = 0.2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        name = f"clip{i:03d}.{'flac' if i % 2 else 'wav'}"
        sf.write(folder / name, make_clip(seconds, seed=i), SR)
        rows.append({"audio": name, "caption": f"sound number {i}"})
    path = folder / "data.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, ["audio", "caption"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """40 clips in 8 shards of 5."""
    root = tmp_path_factory.mktemp("shards")
    out = root / "shards"
    assert main(["shard", str(_manifest(root / "clips", 40)), "--out", str(out), "--shard-size", "5"]) == 0
    return out


class Keys:
    """A collator that keeps what identifies each example."""

    def __call__(self, items):
        return {"captions": [it["caption"] for it in items], "lengths": torch.tensor([len(it["audio"]) for it in items])}


def _batches(loader) -> list[list[str]]:
    return [b["captions"] for b in loader]


def test_shard_command_writes_tars_and_an_index(shards):
    index = json.loads((shards / "shards.json").read_text())
    assert index["samples"] == 40 and len(index["shards"]) == 8
    assert all(index["counts"][n] == 5 for n in index["shards"])
    assert not list(shards.glob("*.partial"))
    pattern = str(shards / "shard-{000000..000007}.tar")
    assert is_shard_spec(pattern) and is_shard_spec(str(shards)) and not is_shard_spec(str(shards / "x.csv"))
    assert expand_shards(pattern) == expand_shards(str(shards))
    (shards / "copy").mkdir(exist_ok=True)  # without shards.json the count comes from the tar headers
    shutil.copy(shards / "shard-000003.tar", shards / "copy" / "s.tar")
    assert count_samples(str(shards / "copy" / "s.tar")) == 5
    clips, pairs, rows, _ = read_shards(pattern)
    assert sorted(p.caption for p in pairs) == sorted(f"sound number {i}" for i in range(40))
    assert len(clips) == len(rows) == 40
    wave, rate = sf.read(__import__("io").BytesIO(rows[0]["audio"]["bytes"]))
    assert rate == SR and len(wave) == int(0.2 * SR)


def test_two_ranks_two_workers_cover_every_sample_exactly_once(shards):
    seen: list[str] = []
    per_rank = []
    for rank in range(2):
        stream = ShardStream(str(shards), batch_size=5, rank=rank, world_size=2, num_workers=2, max_seconds=None,
                             shuffle_buffer=8, seed=3)
        batches = _batches(StreamLoader(stream, Keys(), epoch=0))
        per_rank.append(len(batches))
        seen.extend(c for b in batches for c in b)
    assert per_rank == [4, 4]  # equal step counts on every process
    assert len(seen) == len(set(seen)) == 40  # no duplicates, full coverage
    # another epoch: another order, the same samples
    stream = ShardStream(str(shards), batch_size=5, rank=0, world_size=2, num_workers=2, shuffle_buffer=8, seed=3)
    again = _batches(StreamLoader(stream, Keys(), epoch=1))
    assert [c for b in again for c in b] != [c for b in _batches(StreamLoader(stream, Keys(), epoch=0)) for c in b]


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_continues_the_stream_exactly(shards, workers):
    def stream():
        return ShardStream(str(shards), batch_size=3, world_size=1, num_workers=workers, max_seconds=0.1,
                           shuffle_buffer=7, seed=5)

    full = _batches(StreamLoader(stream(), Keys(), epoch=2))
    assert len(full) == (13 if workers == 0 else 12)
    for cut in (1, 4, 7):
        loader = StreamLoader(stream(), Keys(), epoch=2)
        it = iter(loader)
        head = [next(it)["captions"] for _ in range(cut)]
        state = json.loads(json.dumps(loader.state()))  # as the checkpoint stores it
        del it
        tail = _batches(StreamLoader(stream(), Keys(), epoch=2, batches_done=cut, state=state))
        assert head + tail == full, cut


def _with_bad_member(shards: Path, tmp_path: Path) -> str:
    import webdataset as wds

    out = tmp_path / "bad"
    shutil.copytree(shards, out)
    names = json.loads((out / "shards.json").read_text())["shards"]
    with wds.TarWriter(str(out / "shard-000008.tar")) as w:
        w.write({"__key__": "broken", "flac": b"this is not audio", "json": b'{"caption": "broken"}'})
        for i in range(4):
            w.write({"__key__": f"extra{i}", "wav": (shards / "../clips" / "clip000.wav").resolve().read_bytes(),
                     "txt": f"extra {i}".encode()})
    index = json.loads((out / "shards.json").read_text())
    index["shards"] = names + ["shard-000008.tar"]
    index["counts"]["shard-000008.tar"] = 5
    (out / "shards.json").write_text(json.dumps(index))
    return str(out)


def test_corrupt_member_fails_naming_shard_and_key_or_is_skipped(shards, tmp_path):
    bad = _with_bad_member(shards, tmp_path)
    with pytest.raises(ValueError, match=r"shard-000008\.tar key 'broken'"):
        _batches(StreamLoader(ShardStream(bad, batch_size=5, num_workers=0, shuffle_buffer=4), Keys(), epoch=0))
    stream = ShardStream(bad, batch_size=5, num_workers=0, shuffle_buffer=4, on_bad_audio="skip")
    batches = _batches(StreamLoader(stream, Keys(), epoch=0))
    flat = [c for b in batches for c in b]
    assert "broken" not in flat and len(flat) == 45 and stream.bad_samples == 1
    # resuming after the skipped member still continues exactly (positions count the bad sample)
    loader = StreamLoader(ShardStream(bad, batch_size=5, num_workers=0, shuffle_buffer=4, on_bad_audio="skip"),
                          Keys(), epoch=0)
    it = iter(loader)
    head = [next(it)["captions"] for _ in range(8)]
    tail = _batches(StreamLoader(ShardStream(bad, batch_size=5, num_workers=0, shuffle_buffer=4, on_bad_audio="skip"),
                                 Keys(), epoch=0, batches_done=8, state=loader.state()))
    assert head + tail == batches


def _with_truncated_shard(shards: Path, tmp_path: Path, keep_index: bool) -> Path:
    """A copy whose shard-000003.tar is cut in the middle of its third sample (an interrupted copy)."""
    out = tmp_path / f"cut-{keep_index}"
    shutil.copytree(shards, out)
    tar = out / "shard-000003.tar"
    data = tar.read_bytes()
    tar.write_bytes(data[: int(len(data) * 0.55)])
    if not keep_index:
        (out / "shards.json").unlink()
    return out


@pytest.mark.parametrize("keep_index", [True, False])
def test_a_truncated_shard_is_named_or_skipped_and_counted(shards, tmp_path, caplog, keep_index):
    """Issue 25, item 11: a cut-short tar raised tarfile.ReadError (a traceback naming no file)."""
    cut = _with_truncated_shard(shards, tmp_path, keep_index)
    spec = str(cut) if keep_index else str(cut / "shard-{000000..000007}.tar")
    with pytest.raises(ValueError, match=r"shard .*shard-000003\.tar is truncated or damaged: reading stopped "
                                         r"after \d sample\(s\)"):
        _batches(StreamLoader(ShardStream(spec, batch_size=5, num_workers=0, shuffle_buffer=4), Keys(), epoch=0))
    stream = ShardStream(spec, batch_size=5, num_workers=0, shuffle_buffer=4, on_bad_audio="skip")
    with caplog.at_level("WARNING"):
        batches = _batches(StreamLoader(stream, Keys(), epoch=0))
    flat = [c for b in batches for c in b]
    shard3 = {f"sound number {i}" for i in range(15, 20)}
    lost = shard3 - set(flat)
    assert len(lost) >= 2 and "sound number 19" in lost  # the samples after the cut
    assert len(flat) == stream.plan.examples_per_worker  # the epoch is still full (a second pass tops it up)
    if keep_index:  # the index says 5: the missing ones are counted as bad samples, once per shard in the log
        assert set(flat) | lost == {f"sound number {i}" for i in range(40)}
        assert stream.bad_samples == len(lost)
        assert sum("skipping the rest of a shard" in r.message for r in caplog.records) == 1
        assert "(empty header)" in caplog.text or "unexpected end of data" in caplog.text
    # reading the shards whole (evaluation) names the shard too
    with pytest.raises(ValueError, match=r"shard-000003\.tar is truncated or damaged"):
        read_shards(spec)


def test_too_few_shards_for_the_readers_is_an_error(shards):
    with pytest.raises(ValueError, match="8 shard.*cannot feed 2 process.*x 8 worker"):
        ShardStream(str(shards), batch_size=2, world_size=2, num_workers=8)


def test_train_and_evaluate_from_shards_and_resume_exactly(shards, tmp_path):
    from safetensors.torch import load_file

    from wavlink.training.config import TrainingConfig
    from wavlink.training.trainer import train

    torch.set_num_threads(1)
    options = dict(preset="tiny-random", train_data=[str(shards / "shard-{000000..000007}.tar")],
                   eval_data=[str(shards)], batch_size=4, lr=3e-3, max_steps=4, save_every=2, keep_last=5,
                   num_workers=0, progress=False, seed=1, shuffle_buffer=6, max_train_seconds=0.1)
    ref = train(TrainingConfig(**options, output_dir=str(tmp_path / "ref")))
    assert ref.step == 4 and ref.final_metrics and "t2a_R@1" in ref.final_metrics
    ckpt = tmp_path / "ref" / "checkpoints" / "step-00000002"
    assert json.loads((ckpt / "stream_state_0.json").read_text())["batches"] == 2
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(ckpt, resumed_dir / "checkpoints" / ckpt.name)
    resumed = train(TrainingConfig(**options, output_dir=str(resumed_dir)), resume="latest")
    assert resumed.step == 4
    a = load_file(str(tmp_path / "ref" / "checkpoints" / "step-00000004" / "model.safetensors"))
    b = load_file(str(resumed_dir / "checkpoints" / "step-00000004" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_write_shards_bad_clip_fails_or_is_skipped(tmp_path):
    manifest = _manifest(tmp_path / "m", 3)
    (tmp_path / "m" / "clip001.flac").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="clip001.flac"):
        write_shards(manifest, tmp_path / "out")
    index = write_shards(manifest, tmp_path / "out2", on_bad_audio="skip")
    assert index["samples"] == 2 and index["skipped"] == 1
    assert np.isfinite(index["samples"])


def test_stream_group_ids_follow_the_dataset_caption_rule():
    from wavlink.training.dataset import normalize_caption
    from wavlink.training.shards import caption_group

    a, b, c = "A dog  barking.", "a dog barking", "a cat"
    assert normalize_caption(a) == normalize_caption(b) and caption_group(a) == caption_group(b)
    assert caption_group(a) != caption_group(c)
