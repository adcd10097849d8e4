"""Text metrics for comparisons: word error rate, word-level diff, and the diversity of a set of answers."""

from __future__ import annotations

import difflib
import itertools
import re

_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped: what WER and diversity count."""
    return _WORD.findall((text or "").lower())


def _edit_ops(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words; 0.0 is a perfect transcript."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return _edit_ops(ref, hyp) / len(ref)


def word_diff(reference: str, hypothesis: str) -> list[tuple[str, str | None]]:
    """Words of both texts in order, each tagged None (same), "-" (only in reference) or "+" (only in hypothesis).

    The list feeds a ``gr.HighlightedText``.
    """
    ref, hyp = words(reference), words(hypothesis)
    out: list[tuple[str, str | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=ref, b=hyp, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [(w, None) for w in ref[i1:i2]]
            continue
        out += [(w, "-") for w in ref[i1:i2]]
        out += [(w, "+") for w in hyp[j1:j2]]
    return out


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the set (Li et al. 2016); 1.0 means no n-gram repeats."""
    grams = [tuple(ws[i : i + n]) for ws in map(words, texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def similarity(a: str, b: str) -> float:
    """Word-sequence similarity in [0, 1] (difflib's ratio over words)."""
    wa, wb = words(a), words(b)
    if not wa and not wb:
        return 1.0
    return difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).ratio()


def mean_pairwise_similarity(texts: list[str]) -> float:
    """Mean similarity over all pairs; 1.0 means every answer is the same."""
    pairs = list(itertools.combinations(texts, 2))
    return sum(similarity(a, b) for a, b in pairs) / len(pairs) if pairs else 1.0
