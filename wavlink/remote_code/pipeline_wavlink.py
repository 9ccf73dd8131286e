"""The model folder's own `zero-shot-audio-classification` pipeline (transformers' custom pipelines in remote
code: `config.json` names it under `custom_pipelines`, so `pipeline("zero-shot-audio-classification",
model=folder, trust_remote_code=True)` builds this class).

It is transformers' `ZeroShotAudioClassificationPipeline` with two changes. The audio is decoded the way the
processors decode it (soundfile + soxr, no ffmpeg), so it takes

* a file path (WAV, FLAC, OGG/Vorbis, MP3 and whatever else libsndfile reads), or encoded bytes;
* `{"array": waveform, "sampling_rate": sr}` or `{"raw": waveform, "sampling_rate": sr}` (any rate: resampled
  with soxr; stereo is mixed to mono), or a `datasets` Audio cell;
* a 1-D waveform (NumPy array, list or tensor), taken to be at the model's sampling rate (16 kHz).

And the scores are read the way the model was trained (`losses.logits_to_probabilities`, the read-out of
``wavlink classify`` and the web app): a softmax over the candidate labels of the model's `logits_per_audio` for
CLIP-trained models (the stock pipeline's), one sigmoid per label for SigLIP-trained ones. Labels and the prompt
("This is a sound of {}.") are the stock pipeline's.
"""

from typing import Any

from transformers.pipelines.zero_shot_audio_classification import ZeroShotAudioClassificationPipeline

from .audio_utils import coerce_audio
from .losses import logits_to_probabilities

TASK = "zero-shot-audio-classification"


class WavLinkZeroShotAudioClassificationPipeline(ZeroShotAudioClassificationPipeline):
    """Zero-shot audio classification whose audio decoding needs no ffmpeg (see the module docstring)."""

    def preprocess(self, audio: Any, candidate_labels=None, hypothesis_template="This is a sound of {}."):
        if candidate_labels is None or len(candidate_labels) == 0:
            raise ValueError("give candidate_labels=[...] (one or more labels)")
        if isinstance(audio, dict) and "raw" in audio and "array" not in audio:  # transformers' audio dicts
            audio = {**{k: v for k, v in audio.items() if k != "raw"}, "array": audio["raw"]}
        rate = self.feature_extractor.sampling_rate
        waveform = coerce_audio(audio, None, rate)
        return super().preprocess(waveform, candidate_labels=candidate_labels,
                                  hypothesis_template=hypothesis_template)

    def postprocess(self, model_outputs):
        labels = model_outputs.pop("candidate_labels")
        loss_type = getattr(self.model.config, "loss_type", "clip")
        scores = logits_to_probabilities(model_outputs["logits"][0], loss_type).tolist()
        return [{"score": score, "label": label}
                for score, label in sorted(zip(scores, labels), key=lambda pair: -pair[0])]


# What a saved folder's config.json carries under "custom_pipelines" (written by the package's folder saving).
CUSTOM_PIPELINES = {
    TASK: {
        "impl": f"pipeline_wavlink.{WavLinkZeroShotAudioClassificationPipeline.__name__}",
        "pt": ["AutoModel"],
        "type": "multimodal",
    }
}

__all__ = ["CUSTOM_PIPELINES", "TASK", "WavLinkZeroShotAudioClassificationPipeline"]
