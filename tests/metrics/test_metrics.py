"""Hand-checked tests for wavlink.metrics (retrieval + zero-shot), including the three loading routes."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before evaluate/huggingface_hub read it
os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")

import inspect  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import evaluate  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from wavlink.metrics import (  # noqa: E402
    DEFAULT_TEMPLATES,
    METRIC_NAMES,
    AudioTextRetrieval,
    ZeroShotAccuracy,
    class_embeddings_from_templates,
    confusion_matrix,
    metric_path,
    prettify_label,
    retrieval_metrics,
    zero_shot_accuracy,
)


@pytest.fixture(scope="module", autouse=True)
def isolated_hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep evaluate's module copies and arrow caches out of ~/.cache, offline.

    evaluate reads its cache paths at import time, so the config attributes are patched as well as the
    environment. Module scope: evaluate imports copied scripts as ``evaluate_modules.*``, a package that
    must keep a single location for the whole module; earlier imports of it are hidden and restored.
    """
    home = tmp_path_factory.mktemp("hf_home")
    modules = home / "modules"
    modules.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_EVALUATE_OFFLINE", "1")
        mp.setenv("HF_HOME", str(home))
        mp.setenv("HF_MODULES_CACHE", str(modules))
        mp.setattr(evaluate.config, "HF_MODULES_CACHE", modules)
        mp.setattr(evaluate.config, "HF_METRICS_CACHE", home / "metrics")
        mp.setattr(evaluate.config, "HF_EVALUATE_CACHE", home / "evaluate")
        mp.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
        for name in [m for m in sys.modules if m == "evaluate_modules" or m.startswith("evaluate_modules.")]:
            mp.delitem(sys.modules, name)
        mp.syspath_prepend(str(modules))
        yield home


def _s(*positions: int) -> list[float]:
    """Scores from 1-based positions (position 1 = best): score = 100 - position, exact in float."""
    return [100.0 - p for p in positions]


# --------------------------------------------------------------------------------------------------------
# A 3-clip x 15-caption case; captions 0-4 describe clip 0, 5-9 clip 1, 10-14 clip 2.
# Each column lists the position (1 = best) of every caption for that clip query.
#   clip 0 order: t5 t0 t6 t1 t7 t8 t2 t9 t3 t4 t10 t11 t12 t13 t14
#   clip 1 order: t5 t6 t0 t1 t2 t3 t4 t10 t11 t12 t7 t13 t14 t8 t9
#   clip 2 order: t0 ... t9 t10 ... t14
_POS = {
    0: [2, 4, 7, 9, 10, 1, 3, 5, 6, 8, 11, 12, 13, 14, 15],
    1: [3, 4, 5, 6, 7, 1, 2, 11, 14, 15, 8, 9, 10, 12, 13],
    2: list(range(1, 16)),
}
SIM_3x15 = np.stack([np.array(_s(*_POS[c])) for c in range(3)], axis=1)  # (15 texts, 3 clips)
REFS_3x15 = [0] * 5 + [1] * 5 + [2] * 5


def test_multi_caption_audio_to_text_by_hand() -> None:
    a2t = retrieval_metrics(SIM_3x15, REFS_3x15)["audio_to_text"]
    # clip 0: its captions at ranks 2, 4, 7, 9, 10 -> best 2; AP@10 = (1/2 + 2/4 + 3/7 + 4/9 + 5/10) / 5
    # clip 1: ranks 1, 2, 11, 14, 15 -> best 1; AP@10 = (1/1 + 2/2) / 5 = 0.4
    # clip 2: ranks 11..15 (ten irrelevant captions first) -> best 11; AP@10 = 0
    ap0 = (1 / 2 + 2 / 4 + 3 / 7 + 4 / 9 + 5 / 10) / 5
    assert a2t["R@1"] == pytest.approx(1 / 3)  # only clip 1
    assert a2t["R@5"] == pytest.approx(2 / 3)  # clips 0 and 1
    assert a2t["R@10"] == pytest.approx(2 / 3)
    assert a2t["cvR@5"] == a2t["R@5"]
    assert a2t["mAP@10"] == pytest.approx((ap0 + 0.4 + 0.0) / 3)
    assert a2t["medR"] == 2.0  # median(2, 1, 11)
    assert a2t["meanR"] == pytest.approx(14 / 3)


def test_text_to_audio_by_hand_with_ties() -> None:
    t2a = retrieval_metrics(SIM_3x15, REFS_3x15)["text_to_audio"]
    # Per caption, positions over (clip0, clip1, clip2); the smaller position wins, equal = tie (pessimistic):
    # t0 (2,3,1)->2  t1 (4,4,2)->3 (tie with clip 1)  t2 (7,5,3)->3  t3 (9,6,4)->3  t4 (10,7,5)->3
    # t5 (1,1,6)->2 (tie with clip 0)  t6 (3,2,7)->1  t7 (5,11,8)->3  t8 (6,14,9)->3  t9 (8,15,10)->3
    # t10..t14 (11..15 tied with clip 0, clip 1 better) -> 3
    # ranks: [2,3,3,3,3,2,1,3,3,3,3,3,3,3,3]
    assert t2a["R@1"] == pytest.approx(1 / 15)
    assert t2a["R@5"] == 1.0 and t2a["R@10"] == 1.0  # only 3 clips: any rank <= 3
    assert t2a["cvR@1"] == t2a["R@1"] and t2a["cvR@5"] == 1.0
    assert t2a["mAP@10"] == pytest.approx((1 / 2 + 1 / 2 + 1 + 12 / 3) / 15)  # = 6/15
    assert t2a["medR"] == 3.0
    assert t2a["meanR"] == pytest.approx(41 / 15)


def test_single_row_tie_is_pessimistic() -> None:
    # target 0 scores 0.5: one item strictly higher (0.9) and one tied (item 2) -> rank 1 + 1 + 1 = 3.
    sim = [[0.5, 0.9, 0.5, 0.1], [0.5, 0.9, 0.5, 0.1]]
    out = retrieval_metrics(sim, [0, 2], ks=(1, 2, 3), audio_to_text=False)
    assert set(out) == {"text_to_audio"}
    t2a = out["text_to_audio"]
    assert (t2a["R@2"], t2a["R@3"], t2a["medR"]) == (0.0, 1.0, 3.0)
    assert t2a["mAP@10"] == pytest.approx(1 / 3)


def test_constant_similarity_gets_worst_ranks() -> None:
    # Degenerate constant embeddings: every score equal -> no credit from ties.
    n_clips, per_clip = 12, 5
    sim = np.full((n_clips * per_clip, n_clips), 0.3)
    refs = np.repeat(np.arange(n_clips), per_clip)
    out = retrieval_metrics(sim, refs)
    # T2A: the true clip ranks after the 11 other clips -> rank 12 for every caption.
    assert out["text_to_audio"]["R@10"] == 0.0 and out["text_to_audio"]["mAP@10"] == 0.0
    assert out["text_to_audio"]["medR"] == 12.0
    # A2T: 55 irrelevant captions first, the clip's 5 captions at ranks 56..60.
    assert out["audio_to_text"]["R@10"] == 0.0 and out["audio_to_text"]["mAP@10"] == 0.0
    assert out["audio_to_text"]["medR"] == 56.0
    # An optimistic argsort would have given caption 0 rank 1 on its clip.
    assert ZeroShotAccuracy().compute(predictions=sim[:3].tolist(), references=[0, 1, 2], ks=(1,)) == {
        "top1": 0.0
    }


def test_a2t_tied_relevant_items_take_consecutive_ranks() -> None:
    # Clip 0 has captions 0, 1; both tie with irrelevant caption 2 at the top score.
    # Pessimistic order: t2 (irrelevant), then t0, t1 -> ranks 2, 3; AP@10 = (1/2 + 2/3) / 2.
    sim = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.5]])
    out = retrieval_metrics(sim, [0, 0, 1], ks=(1, 2))
    clip0_ap = (1 / 2 + 2 / 3) / 2
    # clip 1: its column is (0, 0, 0.5) -> its only caption t2 ranks 1.
    assert out["audio_to_text"]["R@1"] == 0.5 and out["audio_to_text"]["R@2"] == 1.0
    assert out["audio_to_text"]["mAP@10"] == pytest.approx((clip0_ap + 1.0) / 2)


def _reference_ranks(scores: np.ndarray, relevant: set[int]) -> list[int]:
    """Brute force: full sort by (score desc, irrelevant first, index) and read off relevant positions."""
    order = sorted(range(len(scores)), key=lambda j: (-scores[j], j in relevant, j))
    return sorted(pos + 1 for pos, j in enumerate(order) if j in relevant)


def _reference_summary(rank_lists: list[list[int]], ks: tuple[int, ...]) -> dict[str, float]:
    best = np.array([r[0] for r in rank_lists], dtype=float)
    ap = [sum((i + 1) / r for i, r in enumerate(rs) if r <= 10) / len(rs) for rs in rank_lists]
    out = {f"R@{k}": float(np.mean(best <= k)) for k in ks}
    out.update({f"cvR@{k}": float(np.mean(best <= k)) for k in ks})
    out.update({"mAP@10": float(np.mean(ap)), "medR": float(np.median(best)), "meanR": float(best.mean())})
    return out


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_heavily_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_audios = 7
    refs = np.concatenate([np.arange(n_audios), rng.integers(0, n_audios, size=20)])
    sim = rng.integers(0, 4, size=(len(refs), n_audios)).astype(float)  # 4 levels: many ties
    ks = (1, 2, 5, 10)
    out = retrieval_metrics(sim, refs, ks=ks)
    t2a = [_reference_ranks(sim[i], {int(refs[i])}) for i in range(len(refs))]
    a2t = [_reference_ranks(sim[:, a], set(np.flatnonzero(refs == a).tolist())) for a in range(n_audios)]
    assert out["text_to_audio"] == pytest.approx(_reference_summary(t2a, ks))
    assert out["audio_to_text"] == pytest.approx(_reference_summary(a2t, ks))


@pytest.mark.parametrize(
    ("sim", "refs", "kwargs", "match"),
    [
        (np.zeros((0, 3)), [], {}, "empty query set"),
        ([], [], {}, "empty query set"),
        (np.zeros((2, 3)), [0], {}, "mismatched counts"),
        (np.zeros((2, 3)), [0, 3], {}, r"\[1\] = 3 is out of range \[0, 3\)"),
        (np.zeros((2, 3)), [0, -1], {}, "out of range"),
        (np.zeros((2, 3)), [0.0, 1.0], {}, "must be integers"),
        (np.array([[0.0, np.nan, 1.0], [0.0, 0.0, 0.0]]), [0, 1], {}, r"NaN .*\[text 0, audio 1\]"),
        ([[0.1, 0.2], [0.3]], [0, 1], {}, "same length"),
        (np.zeros(3), [0, 1, 2], {}, "2-D"),
        (np.zeros((3, 3)), [0, 0, 1], {}, "audio clip 2 has no caption"),
        (np.zeros((2, 2)), [0, 1], {"ks": ()}, "at least one cut-off"),
        (np.zeros((2, 2)), [0, 1], {"ks": (0,)}, "positive integer"),
    ],
)
def test_retrieval_errors(sim: object, refs: object, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        retrieval_metrics(sim, refs, **kwargs)


def test_uncaptioned_clip_allowed_for_t2a_only() -> None:
    out = retrieval_metrics(np.eye(3)[:2], [0, 1], ks=(1,), audio_to_text=False)
    assert out == {
        "text_to_audio": pytest.approx({"R@1": 1.0, "cvR@1": 1.0, "mAP@10": 1.0, "medR": 1.0, "meanR": 1.0})
    }


# ------------------------------------------------------------------ zero-shot


def test_zero_shot_accuracy_by_hand() -> None:
    scores = [[0.1, 0.7, 0.2], [0.3, 0.3, 0.3], [0.5, 0.4, 0.5], [0.9, 0.05, 0.05]]
    labels = [1, 0, 2, 1]
    # ranks: s0 -> 1; s1 all tied -> 3; s2 tied with class 0 -> 2; s3 beaten by 0.9 and tied with 0.05 -> 3
    # (argmax would have called s1 correct: ties give no credit here)
    out = zero_shot_accuracy(scores, labels, ks=(1, 2, 3, 5))
    # top3 and top5: k >= n_classes, so 1.0 by definition
    assert out == pytest.approx({"top1": 0.25, "top2": 0.5, "top3": 1.0, "top5": 1.0})
    assert ZeroShotAccuracy().compute(predictions=scores, references=labels) == pytest.approx(
        {"top1": 0.25, "top5": 1.0}
    )


def test_zero_shot_top5_by_hand_with_ties() -> None:
    """Seven classes, so top-5 is not trivially 1.0."""
    desc = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    scores = [
        desc,  # true class 4 (0.5): 4 higher -> rank 5: top-5 hit
        desc,  # true class 5 (0.4): 5 higher -> rank 6: miss
        [0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.2],  # true class 1: 4 others tied -> rank 5 (pessimistic): hit
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.1],  # true class 0: 5 others tied -> rank 6: miss
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],  # true class 6: rank 1
    ]
    labels = [4, 5, 1, 0, 6]
    assert zero_shot_accuracy(scores, labels) == pytest.approx({"top1": 1 / 5, "top5": 3 / 5})
    assert ZeroShotAccuracy().compute(predictions=scores, references=labels, ks=(5, 6)) == pytest.approx(
        {"top5": 3 / 5, "top6": 1.0}
    )


def test_confusion_matrix_by_hand_with_ties() -> None:
    scores = [
        [0.9, 0.1, 0.0],  # true 0, predicted 0
        [0.2, 0.7, 0.1],  # true 2, predicted 1
        [0.5, 0.5, 0.1],  # true 1, tied with class 0: pessimistic, counted as 0 (as top1 counts it wrong)
        [0.1, 0.1, 0.8],  # true 2, predicted 2
        [0.3, 0.3, 0.3],  # true 2, all tied: counted as the first other class, 0
    ]
    labels = [0, 2, 1, 2, 2]
    expected = [[1, 0, 0],
                [1, 0, 0],
                [1, 1, 1]]
    matrix = confusion_matrix(scores, labels)
    assert matrix.tolist() == expected
    assert np.trace(matrix) == round(zero_shot_accuracy(scores, labels, ks=(1,))["top1"] * len(labels))
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix(scores, [0, 2, 1, 2, 3])


@pytest.mark.parametrize(
    ("scores", "labels", "ks", "match"),
    [
        ([], [], (1,), "empty label list"),
        (np.zeros((0, 3)), [], (1,), "empty label list"),
        (np.zeros((2, 3)), [0], (1,), "mismatched counts"),
        (np.zeros((2, 3)), [0, 5], (1,), r"labels\[1\] = 5 is out of range"),
        (np.zeros((2, 3)), [0, 1], (0,), "positive integer"),
        ([[0.1, np.nan]], [0], (1,), "NaN"),
        ([[0.1, 0.2], [0.3]], [0, 1], (1,), "same length"),
    ],
)
def test_zero_shot_errors(scores: object, labels: object, ks: tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        zero_shot_accuracy(scores, labels, ks=ks)


def test_template_ensembling_on_fake_encoder() -> None:
    table = {
        "a dog": [3.0, 4.0, 0.0],  # -> (0.6, 0.8, 0)
        "the dog": [0.0, 0.0, 2.0],  # -> (0, 0, 1)
        "a cat": [1.0, 0.0, 0.0],  # -> (1, 0, 0)
        "the cat": [0.0, 10.0, 0.0],  # -> (0, 1, 0)
    }
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([table[t] for t in texts])

    emb = class_embeddings_from_templates(encode, ["dog", "cat"], ["a {}", "the {}"])
    assert calls == [["a dog", "the dog", "a cat", "the cat"]]  # one call, class-major
    assert emb.dtype == np.float32 and emb.shape == (2, 3)
    # dog: mean of unit vectors (0.3, 0.4, 0.5), norm sqrt(0.5); without per-prompt normalisation it
    # would be (1.5, 2, 1) / norm -- a different direction.
    np.testing.assert_allclose(emb[0], np.array([0.3, 0.4, 0.5]) / np.sqrt(0.5), rtol=1e-6)
    np.testing.assert_allclose(emb[1], [np.sqrt(0.5), np.sqrt(0.5), 0.0], rtol=1e-6)
    # Zero-shot end to end: an audio embedding close to "dog" is classified as dog.
    audio = np.array([[0.4, 0.4, 0.8], [0.7, 0.7, 0.0]])
    assert zero_shot_accuracy(audio @ emb.T, [0, 1], ks=(1,)) == {"top1": 1.0}


def test_template_ensembling_accepts_torch_output() -> None:
    torch = pytest.importorskip("torch")
    emb = class_embeddings_from_templates(lambda t: torch.ones(len(t), 4), ["x"], ["{}"])
    np.testing.assert_allclose(emb, np.full((1, 4), 0.5), rtol=1e-6)


@pytest.mark.parametrize(
    ("names", "templates", "match"),
    [
        (["dog", "cat", "dog", "cat", "cow"], ["{}"], r"duplicate class names: \['cat', 'dog'\]"),
        ([], ["{}"], "class_names is empty"),
        (["dog", " "], ["{}"], "empty class name"),
        (["dog"], [], "templates is empty"),
        (["dog"], ["no placeholder"], "exactly once"),
        (["dog"], ["{} and {}"], "exactly once"),
    ],
)
def test_template_errors(names: list[str], templates: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        class_embeddings_from_templates(lambda t: np.ones((len(t), 2)), names, templates)


def test_template_encoder_output_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        class_embeddings_from_templates(lambda t: np.ones((1, 2)), ["a", "b"], ["{}"])
    with pytest.raises(ValueError, match="zero vector for prompt 'b'"):
        class_embeddings_from_templates(lambda t: np.array([[1.0, 0.0], [0.0, 0.0]]), ["a", "b"], ["{}"])


def test_default_templates_and_prettify() -> None:
    assert DEFAULT_TEMPLATES[0] == "This is a sound of {}."  # transformers pipeline default
    assert 6 <= len(DEFAULT_TEMPLATES) <= 10 and all(t.count("{}") == 1 for t in DEFAULT_TEMPLATES)
    assert len(set(DEFAULT_TEMPLATES)) == len(DEFAULT_TEMPLATES)
    assert prettify_label("chirping_birds") == "chirping birds"
    assert prettify_label("  door_wood__knock ") == "door wood knock"
    assert prettify_label("Dog") == "Dog"
    with pytest.raises(ValueError):
        prettify_label("__")


# ------------------------------------------------------------------ evaluate integration


def _loaded(how: str, name: str) -> evaluate.EvaluationModule:
    if how == "class":
        return {"audio_text_retrieval": AudioTextRetrieval, "zero_shot_accuracy": ZeroShotAccuracy}[name]()
    path = metric_path(name)
    return evaluate.load(path if how == "script" else str(Path(path).parent))


@pytest.mark.parametrize("how", ["class", "script", "dir"])
def test_three_loading_routes(how: str, isolated_hf_cache: Path) -> None:
    ret = _loaded(how, "audio_text_retrieval")
    assert ret.compute(predictions=SIM_3x15.tolist(), references=REFS_3x15) == retrieval_metrics(
        SIM_3x15, REFS_3x15
    )
    zs = _loaded(how, "zero_shot_accuracy")
    assert zs.compute(predictions=[[0.2, 0.8], [0.5, 0.5]], references=[1, 0], ks=(1, 2)) == {
        "top1": 0.5,
        "top2": 1.0,
    }
    if how != "class":  # the copied script was imported from the temporary cache, not ~/.cache
        assert Path(inspect.getfile(type(ret))).is_relative_to(isolated_hf_cache)
        assert type(ret).__name__ == "AudioTextRetrieval" and type(zs).__name__ == "ZeroShotAccuracy"


def test_metric_path() -> None:
    for name in METRIC_NAMES:
        p = Path(metric_path(name))
        assert p.is_absolute() and p.is_file() and p.name == f"{name}.py"
        assert (p.parent / "__init__.py").is_file()
    with pytest.raises(ValueError, match="available"):
        metric_path("accuracy")


def test_scripts_are_self_contained() -> None:
    for name in METRIC_NAMES:
        source = Path(metric_path(name)).read_text()
        assert "wavlink" not in source.replace("``wavlink``", "").replace("wavlink.metrics", "")


def test_streaming_add_batch_and_add() -> None:
    metric = AudioTextRetrieval()
    metric.add_batch(predictions=SIM_3x15[:4], references=REFS_3x15[:4])  # numpy rows are accepted
    metric.add(predictions=SIM_3x15[4].tolist(), references=REFS_3x15[4])
    metric.add_batch(predictions=SIM_3x15[5:].tolist(), references=REFS_3x15[5:])
    assert metric.compute(ks=(1, 5)) == retrieval_metrics(SIM_3x15, REFS_3x15, ks=(1, 5))


def test_compute_kwargs_and_missing_caption_message() -> None:
    metric = AudioTextRetrieval()
    with pytest.raises(ValueError, match="audio clip 2 has no caption"):
        metric.compute(predictions=SIM_3x15[:10].tolist(), references=REFS_3x15[:10])
    out = AudioTextRetrieval().compute(
        predictions=SIM_3x15[:10].tolist(), references=REFS_3x15[:10], audio_to_text=False, ks=(1,)
    )
    assert list(out) == ["text_to_audio"] and list(out["text_to_audio"]) == [
        "R@1",
        "cvR@1",
        "mAP@10",
        "medR",
        "meanR",
    ]


def test_combine_retrieval_and_zero_shot() -> None:
    combined = evaluate.combine([AudioTextRetrieval(), ZeroShotAccuracy()])
    combined.add_batch(predictions=SIM_3x15[:8].tolist(), references=REFS_3x15[:8])
    combined.add_batch(predictions=SIM_3x15[8:].tolist(), references=REFS_3x15[8:])
    out = combined.compute()
    assert set(out) == {"text_to_audio", "audio_to_text", "top1", "top5"}
    # Zero-shot top-1 over "classes" = clips is exactly T2A R@1 (same pessimistic rank).
    assert out["top1"] == out["text_to_audio"]["R@1"] == pytest.approx(1 / 15)
