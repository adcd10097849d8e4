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
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _bpe(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Apply BPE merges (lowest rank first) to one word, like the tokenizer."""
    symbols = list(symbols)
    while len(symbols) > 1:
        pairs = [(ranks.get(p, 1 << 30), i) for i, p in enumerate(zip(symbols, symbols[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


def clip_vocab_and_merges(words: tuple[str, ...] = GRAMMAR_WORDS) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte alphabet + merges that make each of ``words`` exactly one token."""
    alphabet = list(_bytes_to_unicode().values())
    tokens: list[str] = alphabet + [c + "</w>" for c in alphabet]
    merges: list[tuple[str, str]] = []
    ranks: dict[tuple[str, str], int] = {}
    for word in words:
        # BPE sees "red" as ["r", "e", "d</w>"].  Earlier words' merges apply
        # first (e.g. "re" from "red" inside "green"), so join whatever
        # pieces they leave, left to right, with new lower-priority merges.
        # Earlier words are single tokens already, so these never touch them.
        pieces = _bpe(list(word[:-1]) + [word[-1] + "</w>"], ranks)
        left = pieces[0]
        for right in pieces[1:]:
            ranks[(left, right)] = len(merges)
            merges.append((left, right))
            left = left + right
            tokens.append(left)
    # Specials last, as in the original CLIP vocab.
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def build_clip_tokenizer(words: tuple[str, ...] = GRAMMAR_WORDS):
    """A ``CLIPTokenizer`` for a grammar (round-trips every one of ``words``)."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges(words)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def write_clip_vocab_files(folder: str | Path, words: tuple[str, ...] = GRAMMAR_WORDS) -> None:
    """Also write the classic ``vocab.json`` + ``merges.txt`` next to
    ``tokenizer.json``, for loaders that build CLIP tokenizers from them."""
    vocab, merges = clip_vocab_and_merges(words)
    folder = Path(folder)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")


def build_bert_tokenizer(words: tuple[str, ...] = GRAMMAR_WORDS):
    """A ``BertTokenizerFast`` over ``[PAD] [UNK] [CLS] [SEP] [MASK]`` + grammar words."""
    from transformers import BertTokenizerFast

    vocab = {t: i for i, t in enumerate(BERT_SPECIALS + tuple(words))}
    return BertTokenizerFast(
        vocab=vocab,
        do_lower_case=True,
        model_max_length=32,
    )
