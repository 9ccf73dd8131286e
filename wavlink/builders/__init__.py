"""Build-time code: presets, assembling models from pretrained checkpoints (Whisper, text encoders, Omni
audio towers and LLMs), converters (CTranslate2 Whisper), the default model's delta, and saving folders.

None of it travels inside a saved model (that is `wavlink.remote_code`), and remote code never imports it.
The families themselves (which classes, presets and builders) are listed in `wavlink.families`.
"""

from ..families import register_families

# Importing any builder registers every family with transformers' Auto classes, and marks their classes for
# remote code, so that every folder saved through `save_model_folder` carries its `auto_map` (`import wavlink`
# itself stays light: the CLI never imports this package before a command runs).
register_families()
