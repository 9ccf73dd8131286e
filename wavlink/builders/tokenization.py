"""A self-contained byte-level tokenizer for randomly initialised models (tests, offline `create`).

Real checkpoints use their text encoder's own tokenizer. A random model still needs *some* tokenizer to be
a complete, loadable folder; this one covers every UTF-8 string with 256 byte tokens and needs no download.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoTokenizer, PreTrainedTokenizerFast

BYTE_LEVEL = "byte-level"  # `tokenizer=` value of the built-in tokenizer below
BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"


def byte_level_tokenizer(model_max_length: int = 77) -> PreTrainedTokenizerFast:
    """256 byte tokens + BOS/EOS/PAD (ids 256, 257, 258); lower-cases like CLIP's tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    for tok in (BOS, EOS, PAD):
        vocab[tok] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD, model_max_length=model_max_length
    )


BYTE_LEVEL_IDS = {"vocab_size": 259, "bos_token_id": 256, "eos_token_id": 257, "pad_token_id": 258}


def load_tokenizer(source: str, max_length: int | None = None) -> Any:
    """A tokenizer from a folder/Hub id, or the built-in byte-level one; capped at the text tower's positions."""
    if source == BYTE_LEVEL:
        tok = byte_level_tokenizer()
    else:
        try:
            tok = AutoTokenizer.from_pretrained(source)
        except OSError as err:
            raise ValueError(
                f"cannot load the tokenizer {source!r} ({err.__class__.__name__}). Offline? Pass a local "
                f"folder, or tokenizer='{BYTE_LEVEL}' for a randomly initialised model."
            ) from err
    if max_length is not None and (tok.model_max_length is None or tok.model_max_length > max_length):
        tok.model_max_length = max_length
    return tok
