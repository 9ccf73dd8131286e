"""Model cards (`hub/cards.py`): what the rendered card says for each preset and licence, `wavlink eval`
results in the card and its model-index, bad results files and templates, and the templates as
package data of a wheel."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hub_helpers import ORG, WAVLINK_REPO_FILES, push, tree
from huggingface_hub import ModelCard

from wavlink.remote_code import remote_code_files


def test_all_sizes_cards_name_the_preset_and_the_standin(all_sizes: tuple[Path, int]) -> None:
    out, _ = all_sizes
    base = ModelCard.load(out / ORG / "wavlink-base" / "README.md")
    assert "Test stand-in" in base.text and "`base` preset" in base.text
    assert "WavLink-Base" in base.text and "arXiv 2601.15118" in base.text  # the paper's numbers, labelled
    assert "model-index" not in base.data.to_dict()  # no eval results given -> no metrics claimed
    assert base.data.base_model is None  # random weights are derived from nothing
    tiny = ModelCard.load(out / ORG / "wavlink-tiny-random" / "README.md")
    assert "Test stand-in" not in tiny.text and "randomly initialised" in tiny.text
    for field in ("long_audio_policy", "audio_padding", "global_token_position", "matryoshka_dims", "text_pooling"):
        assert f"`{field}`" in tiny.text, field
    assert "| 32 | yes | 128 | 64 | 32 | 4 |" in tiny.text  # Matryoshka table: dim, bytes f32/f16/int8/binary


def test_every_real_preset_config_renders_a_valid_card() -> None:
    """The stand-ins above carry tiny configs; here each preset's real architecture (config only, no weights)
    fills the template: widths, layers, mel bins and the Matryoshka rows of the real size."""
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.builders.presets import preset_config
    from wavlink.hub.cards import CardInfo, render_model_card, validate_card
    from wavlink.hub.presets import select_presets

    for entry in select_presets(["wavlink", "omni"], None):
        config = (preset_config if entry.family == "wavlink" else omni_preset_config)(entry.name)
        info = CardInfo(repo_id=entry.repo_id(ORG), family=entry.family, preset=entry.name,
                        preset_description=entry.description, weights="pretrained-components",
                        components=list(entry.components))
        text = render_model_card(config, info, [])
        card = validate_card(text)
        assert card.data.base_model == (list(entry.components) or None), entry.name
        audio, llm = config.audio_config, config.get_text_config()
        assert f"{audio.num_mel_bins} mel bins" in text and f"{llm.num_hidden_layers} layers" in text, entry.name
        dims = config.matryoshka_dims or [config.projection_dim]
        rows = [line for line in text.splitlines() if line.startswith("| ") and line.split(" | ")[1] in ("yes", "no")]
        assert [int(r.split(" | ")[0][2:]) for r in rows] == sorted(dims, reverse=True), entry.name
        assert f"| {max(dims)} | yes | {4 * max(dims)} |" in text, entry.name


def test_card_licence_follows_restrictively_licensed_components() -> None:
    """Weights initialised from Qwen2.5-3B / Qwen2.5-Omni-3B keep their research licence; random weights and an
    explicit --license do not inherit it; Apache/MIT components keep the default."""
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.builders.presets import preset_config
    from wavlink.hub.cards import CardInfo, render_model_card, validate_card
    from wavlink.hub.presets import select_presets

    licences = {}
    for entry in select_presets(["omni"], None):
        info = CardInfo(repo_id=entry.repo_id(ORG), family="omni", preset=entry.name,
                        weights="pretrained-components", components=list(entry.components))
        data = validate_card(render_model_card(omni_preset_config(entry.name), info, [])).data
        licences[entry.name] = (data.license, data.get("license_name"))
    assert licences["m1"] == ("apache-2.0", None) and licences["omni-7b-l10"] == ("apache-2.0", None)
    for name in ("m2", "m3", "m4"):
        assert licences[name] == ("other", "qwen-research"), (name, licences[name])
    m3 = next(e for e in select_presets(["omni"], ["m3"]))
    random_m3 = CardInfo(repo_id=m3.repo_id(ORG), family="omni", preset="m3", weights="random")
    assert validate_card(render_model_card(omni_preset_config("m3"), random_m3, [])).data.license == "apache-2.0"
    explicit = CardInfo(repo_id=m3.repo_id(ORG), family="omni", preset="m3", weights="pretrained-components",
                        components=list(m3.components), license="mit")
    data = validate_card(render_model_card(omni_preset_config("m3"), explicit, [])).data
    assert data.license == "mit" and data.get("license_name") is None
    base = next(e for e in select_presets(["wavlink"], ["base"]))
    info = CardInfo(repo_id=base.repo_id(ORG), family="wavlink", preset="base", weights="pretrained-components",
                    components=list(base.components))
    assert validate_card(render_model_card(preset_config("base"), info, [])).data.license == "apache-2.0"


def test_omni_card_puts_the_text_instruction_into_the_pipeline_template() -> None:
    from wavlink.builders.omni_presets import omni_preset_config
    from wavlink.hub.cards import CardInfo, render_model_card

    config = omni_preset_config("tiny-random", text_instruction='Find the "sound": ')
    text = render_model_card(config, CardInfo(repo_id=f"{ORG}/omni-x", family="omni"), [])
    assert 'hypothesis_template="Find the \\"sound\\": This is a sound of {}."' in text


def test_results_dir_fills_each_all_sizes_card_and_bad_files_fail_before_building(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = tmp_path / "results"
    (results / "wavlink-tiny-random").mkdir(parents=True)
    (results / "wavlink-tiny-random" / "esc50.json").write_text(json.dumps({"dataset": "ESC-50", "top1": 0.5}))
    args = ["--all-sizes", "--org", ORG, "--family", "wavlink", "--presets", "wavlink-tiny-random", "--no-verify",
            "--results-dir", str(results)]
    assert push(*args, "--dry-run", str(tmp_path / "dry")) == 0
    capsys.readouterr()
    card = ModelCard.load(tmp_path / "dry" / ORG / "wavlink-tiny-random" / "README.md")
    assert [(r.dataset_name, r.metric_name, r.metric_value) for r in card.data.eval_results] == [
        ("ESC-50", "top1", 50.0)]
    (results / "wavlink-tiny-random" / "bad.json").write_text(json.dumps({"dataset": "x", "loss": 1.0}))
    assert push(*args, "--dry-run", str(tmp_path / "dry2")) == 2
    captured = capsys.readouterr()
    assert "bad.json has neither" in captured.err and "building" not in captured.out
    assert not (tmp_path / "dry2").exists()


def test_card_template_with_a_missing_field_is_a_clear_error(tiny_folder: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    from wavlink.hub.cards import TEMPLATE_DIR

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, templates)
    card = templates / "_model.md.jinja"  # the body every family's card shares (wavlink.md.jinja extends it)
    card.write_text(card.read_text() + "\nTrained on {{ training_hours }} hours.\n")
    assert push("--model", str(tiny_folder), "--repo", f"{ORG}/x", "--dry-run", str(tmp_path / "d"),
                "--no-verify", "--card-templates", str(templates)) == 2
    err = capsys.readouterr().err
    assert "training_hours" in err and "not provided" in err


def test_results_in_the_wavlink_eval_format(tmp_path: Path) -> None:
    """The shape `wavlink eval --matryoshka --quantize` writes: `dim`, `scale`, `dims` with int8/binary cells."""
    from wavlink.hub.cards import load_eval_results, model_index

    cell = {"bytes_per_clip": 64, "text_to_audio": {"R@1": 0.5, "R@5": 0.75, "medR": 2.0},
            "audio_to_text": {"R@1": 0.25}, "int8": {"text_to_audio": {"R@1": 0.1}}}
    path = tmp_path / "clotho.json"
    path.write_text(json.dumps({"task": "clotho", "kind": "retrieval", "dataset": "Clotho", "split": "evaluation",
                                "dim": 32, "scale": "fraction", "text_to_audio": cell["text_to_audio"],
                                "audio_to_text": cell["audio_to_text"], "dims": {"32": cell, "16": cell}}))
    (res,) = load_eval_results([path])
    assert res.metrics == {"text_to_audio": {"R@1": 50.0, "R@5": 75.0}, "audio_to_text": {"R@1": 25.0}}
    assert sorted(res.per_dim) == [16, 32] and res.full_dim == 32
    (entry,) = model_index("m", [res])
    names = [m["name"] for r in entry["results"] for m in r["metrics"]]
    assert names == ["T2A R@1", "T2A R@5", "T2A R@1 (dim 16)", "T2A R@5 (dim 16)", "A2T R@1", "A2T R@1 (dim 16)"]
    assert entry["results"][0]["dataset"] == {"name": "Clotho", "type": "clotho", "split": "evaluation"}


def test_bad_results_files_are_refused(tmp_path: Path) -> None:
    from wavlink.hub.cards import CardError, load_eval_results

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "x", "loss": 1.0}))
    with pytest.raises(CardError, match="neither"):
        load_eval_results([bad])
    bad.write_text(json.dumps({"task": "x", "top1": "high"}))
    with pytest.raises(CardError, match="finite number"):
        load_eval_results([bad])
    bad.write_text("{not json")
    with pytest.raises(CardError, match="cannot read"):
        load_eval_results([bad])


def test_a_wheel_install_carries_the_card_templates_and_pushes(tmp_path: Path) -> None:
    """Built as a wheel and installed without the source checkout, `wavlink push --dry-run` still renders the
    card: the templates, references and assets are package data, and nothing reads files beside the package."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(root)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("wavlink-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (root / "wavlink" / "hub_cards").iterdir():
        assert f"wavlink/hub_cards/{template.name}" in names
    assert {f"wavlink/remote_code/{p.name}" for p in remote_code_files()} <= names
    assert "wavlink/assets/default/delta.safetensors" in names and "wavlink/assets/sounds/dog.flac" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a wheel install is its unpacked tree on sys.path
    script = ("import sys, wavlink; from wavlink.cli import main; assert wavlink.__file__.startswith(sys.argv[1]), "
              "wavlink.__file__; sys.exit(main(sys.argv[2:]))")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", script, str(site), "push", "--all-sizes", "--org", ORG, "--family",
                          "wavlink", "--presets", "wavlink-tiny-random", "--dry-run", str(tmp_path / "out"),
                          "--no-verify"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert tree(tmp_path / "out" / ORG / "wavlink-tiny-random") == WAVLINK_REPO_FILES
    assert "wavlink-tiny-random" in (tmp_path / "out" / ORG / "wavlink-tiny-random" / "README.md").read_text()
