"""Tiny word-level tokenizers for the shapes-world models, in standard formats.

* ``build_clip_tokenizer`` gives a ``CLIPTokenizer`` (byte-level BPE, the
  format Stable Diffusion pipelines expect).  Its base alphabet is all 256
  byte symbols (with and without ``</w>``) so *any* text tokenizes without
  errors; merges then build each grammar word into a single token
  (``red</w>``).  Words outside the grammar fall apart into sub-word pieces,
  which the text-to-image model is trained to ignore (see
  ``playground.train.text2image``'s junk-word augmentation).
* ``build_bert_tokenizer`` gives a ``BertTokenizerFast`` whose vocab is just
  the special tokens plus the grammar words, for the BLIP captioner.
"""

from __future__ import annotations

import json
from pathlib import Path

from playground.shapes.world import GRAMMAR_WORDS

CLIP_MAX_LENGTH = 24  # grammar prompts need 10 tokens; the rest is slack
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode map."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte alphabet + left-to-right merges that make each grammar word one token."""
    alphabet = list(_bytes_to_unicode().values())
    tokens: list[str] = alphabet + [c + "</w>" for c in alphabet]
    merges: list[tuple[str, str]] = []
    known = set(tokens)
    for word in GRAMMAR_WORDS:
        # Symbols as BPE sees them: "red" -> ["r", "e", "d</w>"]; merging
        # left to right: (r, e) -> "re", (re, d</w>) -> "red</w>".
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        left = symbols[0]
        for right in symbols[1:]:
            merged = left + right
            if merged not in known:
                merges.append((left, right))
                tokens.append(merged)
                known.add(merged)
            left = merged
    # Specials last, as in the original CLIP vocab.
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def build_clip_tokenizer():
    """A ``CLIPTokenizer`` for the grammar (round-trips every grammar word)."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def write_clip_vocab_files(folder: str | Path) -> None:
    """Also write the classic ``vocab.json`` + ``merges.txt`` next to
    ``tokenizer.json``, for loaders that build CLIP tokenizers from them."""
    vocab, merges = clip_vocab_and_merges()
    folder = Path(folder)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )


def build_bert_tokenizer():
    """A ``BertTokenizerFast`` over ``[PAD] [UNK] [CLS] [SEP] [MASK]`` + grammar words."""
    from transformers import BertTokenizerFast

    vocab = {t: i for i, t in enumerate(BERT_SPECIALS + GRAMMAR_WORDS)}
    return BertTokenizerFast(
        vocab=vocab,
        do_lower_case=True,
        model_max_length=32,
    )
