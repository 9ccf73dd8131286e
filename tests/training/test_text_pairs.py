"""Text-only modality transfer (``objective: text_pairs``), both families: NLI-style pair files read by the
data layer, the text path trained alone, no audio parameter trainable or changed, and what that means for each
family's audio embeddings (WavLink: identical; Omni: the encoder's audio tokens identical, the embeddings moved
by the shared LLM, which is the transfer the blog relies on)."""

from __future__ import annotations

import dataclasses
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
import torch
from helpers import make_clip

from wavlink.data.text_pairs import read_text_pair_source, read_text_pairs
from wavlink.training import TrainingConfig, apply_training_mode
from wavlink.training.synthetic import make_toy_dataset
from wavlink.training.trainer import ContrastiveTrainer, train

AUDIO_PREFIXES = {"wavlink": ("audio_model.", "audio_projection.", "global_token"),
                  "omni": ("audio_encoder.", "audio_projection.")}
TEXT_PREFIXES = {"wavlink": ("text_model.", "text_projection."), "omni": ("language_model.",)}
SENTENCES = [
    ("A dog barks at the mailman.", "A dog is barking."),
    ("Rain falls on a tin roof all night.", "It is raining."),
    ("A man plays the guitar on a stage.", "Someone is playing music."),
    ("Children laugh in the playground.", "Kids are having fun outside."),
    ("A car engine starts in the cold.", "A vehicle is starting."),
    ("Birds sing at dawn in the forest.", "Birds are singing."),
    ("A woman speaks into a microphone.", "Someone is talking."),
    ("Waves crash against the rocks.", "The sea is loud."),
    ("A train passes over a bridge.", "A train is moving."),
    ("The crowd cheers after the goal.", "People are cheering."),
    ("A baby cries in the next room.", "An infant is crying."),
    ("Thunder rumbles in the distance.", "There is a storm."),
]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), per_kind=1, val_per_kind=1, seconds=(0.4, 0.6))


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    """An SNLI-style JSONL (sentence1 / sentence2 / gold_label), with non-entailment rows to be left out."""
    path = tmp_path_factory.mktemp("nli") / "snli_1.0_train.jsonl"
    rows = [{"sentence1": a, "sentence2": b, "gold_label": "entailment"} for a, b in SENTENCES]
    rows += [{"sentence1": "A dog barks.", "sentence2": "A cat sleeps.", "gold_label": "contradiction"},
             {"sentence1": "A dog barks.", "sentence2": "The dog is hungry.", "gold_label": "neutral"},
             {"sentence1": "A dog barks.", "sentence2": "A dog makes noise.", "gold_label": "-"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------------------------------------- reading
def test_text_pair_files_in_their_published_forms(tmp_path: Path, pairs_file: Path) -> None:
    pairs, report = read_text_pairs(pairs_file)
    assert [(p.anchor, p.positive) for p in pairs[:2]] == SENTENCES[:2]
    assert report.pairs == 12 and report.dropped_by_label == 3 and report.labels_kept == ["entailment", "0"]
    assert pairs[0].origin == "snli_1.0_train.jsonl line 1"
    # the Hugging Face snli / multi_nli encoding: 0 entailment, 1 neutral, 2 contradiction
    (tmp_path / "mnli.csv").write_text("premise,hypothesis,label\nA man sings.,Someone sings.,0\n"
                                       "A man sings.,A man sleeps.,2\nA man sings.,,0\n")
    pairs, report = read_text_pairs(tmp_path / "mnli.csv")
    assert [(p.anchor, p.positive) for p in pairs] == [("A man sings.", "Someone sings.")]
    assert report.dropped_by_label == 1 and report.empty == 1
    # sentence-transformers pair datasets and retrieval pairs (FEVER / SciFact exported as query, positive)
    (tmp_path / "st.tsv").write_text("anchor\tpositive\nq1\tp1\nq2\tp2\n")
    assert len(read_text_pairs(tmp_path / "st.tsv")[0]) == 2
    (tmp_path / "fever.jsonl").write_text('{"query": "Claim.", "positive": "Evidence."}\n')
    assert read_text_pairs(tmp_path / "fever.jsonl")[0][0].positive == "Evidence."
    # explicit columns, every label kept, other label sets
    (tmp_path / "custom.csv").write_text("claim,evidence,label\nc1,e1,SUPPORTS\nc2,e2,REFUTES\n")
    spec = {"pairs": str(tmp_path / "custom.csv"), "anchor_column": "claim", "positive_column": "evidence",
            "keep_labels": ["supports"]}
    assert [p.anchor for p in read_text_pair_source(spec)[0]] == ["c1"]
    assert len(read_text_pair_source({**spec, "label_column": None, "keep_labels": None})[0]) == 2
    with pytest.raises(ValueError, match="no text-pair columns"):
        read_text_pairs(tmp_path / "custom.csv")
    with pytest.raises(ValueError, match="unknown option"):
        read_text_pair_source({"pairs": str(pairs_file), "columns": 2})
    (tmp_path / "none.csv").write_text("anchor,positive,label\na,b,1\n")
    with pytest.raises(ValueError, match="no usable text pairs"):
        read_text_pairs(tmp_path / "none.csv")


def test_text_pairs_config() -> None:
    cfg = TrainingConfig(preset="tiny-random", train_data=["p.jsonl"], objective="text_pairs")
    assert cfg.scope == "text"
    assert TrainingConfig(preset="tiny-random", train_data=["m.csv"]).objective == "audio_text"
    for bad, match in [({"scope": "audio"}, "scope 'audio'"), ({"distill": {"teacher": "t.json"}}, "distill"),
                       ({"augment": {"gain_p": 0.5}}, "augment"), ({"val_fraction": 0.1}, "val_fraction"),
                       ({"objective": "audio_only"}, "objective")]:
        with pytest.raises(ValueError, match=match):
            TrainingConfig(preset="tiny-random", train_data=["p.jsonl"], **{"objective": "text_pairs", **bad})
    # a run of the default objective keeps the trajectory digest it had before the field existed
    digest = TrainingConfig(preset="tiny-random", train_data=["m.csv"]).trajectory_digest()
    assert digest != TrainingConfig(preset="tiny-random", train_data=["m.csv"], objective="text_pairs",
                                    scope="text").trajectory_digest()


@pytest.mark.parametrize("mode", ["full", "lora", "projector"])
@pytest.mark.parametrize(("family", "preset"), [("wavlink", "tiny-random"), ("omni", "tiny-random")])
def test_text_scope_trains_no_audio_parameter(family: str, preset: str, mode: str) -> None:
    from wavlink.families import get_family

    model, _ = get_family(family).create(preset, seed=0)
    model = apply_training_mode(model, mode, "text")
    names = [n.replace("base_model.model.", "") for n, p in model.named_parameters() if p.requires_grad]
    assert not [n for n in names if n.startswith(AUDIO_PREFIXES[family])], names
    assert "logit_scale" in names
    if mode != "projector" or family == "wavlink":  # Omni has no text head: projector mode trains the scale only
        assert any(n.startswith(TEXT_PREFIXES[family]) for n in names)
    if mode == "lora":
        with pytest.raises(ValueError, match="freezes the audio tower"):
            apply_training_mode(get_family(family).create(preset, seed=0)[0], "lora", "text", lora_towers="audio,text")


# ---------------------------------------------------------------------------------------------- training
def _audio_tokens(model, processor, waves) -> torch.Tensor:
    """Omni: the audio encoder's tokens after the projection, i.e. everything of the audio path before the LLM."""
    inputs = processor(audio=waves, sampling_rate=16000, return_tensors="pt")
    lengths = inputs["feature_attention_mask"].sum(-1)
    with torch.no_grad():
        return torch.cat([model.audio_projection(t) for t in model._audio_tokens(inputs["input_features"], lengths)])


def _embed(model, processor, waves, texts) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        audio = model.get_audio_features(**processor(audio=waves, sampling_rate=16000,
                                                     return_tensors="pt")).pooler_output
        text = model.get_text_features(**processor(text=texts, return_tensors="pt")).pooler_output
    return audio, text


@pytest.mark.parametrize(("family", "preset"), [("wavlink", "tiny-random"), ("omni", "tiny-random")])
def test_text_pair_training_leaves_the_audio_path_untouched(tmp_path: Path, toy: Path, pairs_file: Path,
                                                            family: str, preset: str) -> None:
    from wavlink.families import get_family

    cfg = TrainingConfig(family=family, preset=preset, objective="text_pairs", train_data=[str(pairs_file)],
                         eval_data=[str(toy)], output_dir=str(tmp_path / "run"), batch_size=4, lr=1e-2,
                         max_steps=3, num_workers=0, progress=False, seed=3, weight_decay=0.1)
    # 1. the trainer's own module and loss on one of its batches: gradients reach the text side only
    trainer = ContrastiveTrainer(dataclasses.replace(cfg, output_dir=str(tmp_path / "probe")))
    trainer.setup()
    batch = next(iter(trainer._loader(0, 0)))
    assert set(batch) >= {"anchor_inputs", "positive_inputs", "group_ids"}
    anchor, positive, scales = trainer.module(batch["anchor_inputs"], batch["positive_inputs"])
    trainer.loss_fn(anchor, positive, group_ids=batch["group_ids"], **scales).backward()
    named = dict(trainer.module.model.named_parameters())
    audio = {n: p for n, p in named.items() if n.startswith(AUDIO_PREFIXES[family])}
    assert audio and all(not p.requires_grad and p.grad is None for p in audio.values())
    text_grads = [p.grad for n, p in named.items() if n.startswith(TEXT_PREFIXES[family]) and p.grad is not None]
    assert text_grads and any(g.abs().sum() > 0 for g in text_grads)
    in_optimizer = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in audio.values()}

    # 2. a whole run: audio weights bit-identical, text weights moved, audio-caption retrieval evaluated
    initial, processor = get_family(family).create(preset, seed=cfg.seed)
    waves = [make_clip(0.7, seed=11), make_clip(1.1, seed=12)]
    texts = ["a dog barks", "rain on a roof"]
    audio_before, text_before = _embed(initial, processor, waves, texts)
    result = train(cfg)
    trained = result.model
    assert result.step == 3
    assert {"t2a_R@5", "a2t_R@5"} <= set(result.final_metrics)
    before = dict(initial.named_parameters())
    for name, p in trained.named_parameters():
        if name.startswith(AUDIO_PREFIXES[family]):
            assert torch.equal(p, before[name]), name
    assert any(not torch.equal(p, before[n]) for n, p in trained.named_parameters()
               if n.startswith(TEXT_PREFIXES[family]))
    audio_after, text_after = _embed(trained, processor, waves, texts)
    assert not torch.allclose(text_after, text_before, atol=1e-4)
    if family == "wavlink":  # separate towers: the audio embeddings (and any audio index) are exactly kept
        assert torch.equal(audio_after, audio_before)
    else:  # the audio path up to the LLM is kept; the shared LLM moves the audio embeddings (the transfer)
        assert torch.equal(_audio_tokens(trained, processor, waves), _audio_tokens(initial, processor, waves))
        assert not torch.allclose(audio_after, audio_before, atol=1e-4)
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report[0]["pairs"] == 12 and report[0]["dropped_by_label"] == 3


def test_text_pair_lora_run_of_the_omni_family(tmp_path: Path, pairs_file: Path) -> None:
    cfg = TrainingConfig(family="omni", preset="tiny-random", objective="text_pairs", mode="lora", lora_r=2,
                         train_data=[str(pairs_file)], output_dir=str(tmp_path / "run"), batch_size=4,
                         max_steps=2, num_workers=0, progress=False)
    result = train(cfg)
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_config.json").is_file()
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert "language_model" in str(config["target_modules"]) and "audio_encoder" not in str(config["target_modules"])


def test_text_pairs_with_grad_cache_match_the_plain_step(tmp_path: Path, pairs_file: Path) -> None:
    """GradCache embeds the anchors and positives in chunks; the step's loss and the weights after it equal the
    one-pass step's."""
    runs = {}
    for chunk in (None, 2):
        cfg = TrainingConfig(family="omni", preset="tiny-random", objective="text_pairs", train_data=[str(pairs_file)],
                             output_dir=str(tmp_path / f"run{chunk}"), batch_size=4, max_steps=1, lr=1e-3,
                             num_workers=0, progress=False, grad_cache_chunk_size=chunk)
        result = train(cfg)
        log = [json.loads(line) for line in result.log_path.read_text().splitlines()]
        runs[chunk] = (log[0]["loss"], dict(result.model.named_parameters()))
    assert runs[None][0] == pytest.approx(runs[2][0], abs=1e-6)
    for name, p in runs[None][1].items():
        assert torch.allclose(p, runs[2][1][name], atol=1e-6), name
