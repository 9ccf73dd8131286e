"""The data layer shared by training, evaluation, the index and search: one reader of every layout (`sources`:
manifests, audio folders, `datasets` datasets, WebDataset shards) with its caption and label views (`records`),
one table reader (`tables`), one split vocabulary (`splits`) and audio probing (`audio`). Decoding itself is
`remote_code.audio_utils.decode_audio`, the same function the processors use, so a clip decodes identically
everywhere.
"""

from .audio import decode_audio, probe_audio
from .splits import SPLIT_ALIASES, SPLITS, normalize_split
from .tables import TABLE_SUFFIXES, Table, read_table

__all__ = ["SPLITS", "SPLIT_ALIASES", "TABLE_SUFFIXES", "Table", "decode_audio", "normalize_split", "probe_audio",
           "read_table"]
