"""Build-time code: presets, assembling models from pretrained checkpoints (Whisper, text encoders, Omni
audio towers and LLMs), converters (CTranslate2 Whisper), the default model's delta, and saving folders.

None of it travels inside a saved model (that is `wavlink.remote_code`), and remote code never imports it.
"""
