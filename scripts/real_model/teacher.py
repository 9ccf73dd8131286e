"""YAMNet (AudioSet, 521 classes) as a teacher: clip-level class scores for soft labels and pseudo-captions.

Runs only in the data-building step (`ai-edge-litert`'s TFLite interpreter, or TensorFlow's if that is what is
installed); neither is a dependency of the package or of any model folder. YAMNet takes fixed 0.975 s windows of
16 kHz audio; a clip's scores are the mean over windows with a 0.48 s hop (YAMNet's own framing), a clip shorter
than one window is zero-padded to it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

WINDOW, HOP = 15600, 7680  # samples at 16 kHz


def _interpreter(model_path: str):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - the other runtime
        from tensorflow.lite import Interpreter
    return Interpreter(model_path=model_path, num_threads=1)


class YamnetTeacher:
    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        with open(folder / "yamnet_class_map.csv", newline="") as f:
            self.labels = [row["display_name"] for row in csv.DictReader(f)]
        self.interpreter = _interpreter(str(folder / "yamnet.tflite"))
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._scores = self.interpreter.get_output_details()[0]["index"]

    def scores(self, wave: np.ndarray) -> np.ndarray:
        """Mean sigmoid class scores (521,) of a 16 kHz mono float waveform in [-1, 1]."""
        wave = np.asarray(wave, dtype=np.float32)
        if len(wave) < WINDOW:
            wave = np.pad(wave, (0, WINDOW - len(wave)))
        starts = range(0, len(wave) - WINDOW + 1, HOP)
        out = np.zeros(len(self.labels), dtype=np.float64)
        for s in starts:
            self.interpreter.set_tensor(self._input, wave[s:s + WINDOW][None])
            self.interpreter.invoke()
            out += self.interpreter.get_tensor(self._scores)[0]
        return (out / len(starts)).astype(np.float32)
