"""What the model was choosing from: one reply token's candidates, before and after temperature and top-p.

A step is a ``TokenStep``'s fields as a dict, so the UI can keep a reply's steps (on the server, under a
key the session holds) and redraw any of them when the temperature or top-p slider moves, without
running the model again.
"""

from __future__ import annotations

import math

from playground.errors import UserError

SHOWN = 10
CONFIDENCE_BANDS = (  # (lowest probability, label): the reply's tokens coloured by how sure the model was
    (0.5, "sure (over 50%)"),
    (0.1, "hesitant (10–50%)"),
    (0.0, "surprising (under 10%)"),
)
BAND_COLOURS = {"sure (over 50%)": "#b7e4c7", "hesitant (10–50%)": "#ffe08a", "surprising (under 10%)": "#ffadad"}


def visible(text: str) -> str:
    """Token text with its whitespace made visible (a leading space matters to a token)."""
    return text.replace(" ", "␣").replace("\n", "⏎").replace("\t", "⇥") or "∅"


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def distributions(step: dict, temperature: float, top_p: float, shown: int = SHOWN) -> list[dict]:
    """The likeliest candidates of one step with their raw and sampling probabilities.

    Raw probabilities are exact (the model's softmax over its whole vocabulary). The sampling
    probabilities apply temperature then top-p to the kept candidates, the same order the
    sampler uses; the few hundred likeliest tokens hold practically all the mass that top-p keeps.
    """
    ids, logits = step.get("choice_ids") or [], step.get("choice_logits") or []
    if not ids:
        raise UserError("This reply has no recorded choices; generate a new reply to see them.")
    if not (0.0 <= temperature <= 2.0) or not (0.0 < top_p <= 1.0):
        raise UserError(f"Temperature must be 0–2 and top-p above 0 up to 1, got {temperature} and {top_p}.")
    raw = [math.exp(v - step["logsumexp"]) for v in logits]
    if temperature == 0.0:
        best = max(range(len(logits)), key=logits.__getitem__)
        adjusted = [1.0 if i == best else 0.0 for i in range(len(logits))]
    else:
        scaled = _softmax([v / temperature for v in logits])
        order = sorted(range(len(scaled)), key=scaled.__getitem__, reverse=True)
        adjusted, cumulative = [0.0] * len(scaled), 0.0
        for rank, i in enumerate(order):
            if rank and cumulative >= top_p:
                break
            adjusted[i] = scaled[i]
            cumulative += scaled[i]
        total = sum(adjusted)
        adjusted = [a / total for a in adjusted]
    texts = step.get("choice_texts") or []
    rows = []
    for i in range(min(shown, len(texts))):
        rows.append({"token": texts[i], "raw": raw[i], "sampled": adjusted[i], "chosen": ids[i] == step["token_id"]})
    if not any(r["chosen"] for r in rows):  # the pick came from further down the list: show it too
        i = ids.index(step["token_id"])
        rows.append({"token": step.get("token_text", "?"), "raw": raw[i], "sampled": adjusted[i], "chosen": True})
    return rows


def choice_figure(step: dict, temperature: float, top_p: float, index: int | None = None):
    """Bars for the top candidates: grey as the model sees them, coloured after temperature and top-p."""
    from matplotlib.figure import Figure

    rows = distributions(step, temperature, top_p)
    labels = [f"{visible(r['token'])}{'  ← picked' if r['chosen'] else ''}" for r in rows][::-1]
    raw = [r["raw"] * 100 for r in rows][::-1]
    sampled = [r["sampled"] * 100 for r in rows][::-1]
    fig = Figure(figsize=(7.5, 0.42 * len(rows) + 1.4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    ax.barh([v + 0.2 for v in y], raw, height=0.38, color="#b0b0b0", label="what the model thinks")
    ax.barh(
        [v - 0.2 for v in y],
        sampled,
        height=0.38,
        color="#4c6ef5",
        label=f"what it draws from (temperature {temperature:g}, top-p {top_p:g})",
    )
    ax.set_yticks(y, labels, fontsize=11)
    for tick, row in zip(ax.get_yticklabels(), rows[::-1]):
        if row["chosen"]:
            tick.set_fontweight("bold")
    ax.set_xlabel("chance of being picked next (%)")
    ax.set_xlim(0, min(100.0, max(raw + sampled) * 1.15 + 1))
    where = f"token {index + 1}" if index is not None else "this token"
    ax.set_title(f"Candidates for {where}", fontsize=12, loc="left")
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def confidence_band(probability: float) -> str:
    return next(label for low, label in CONFIDENCE_BANDS if probability >= low)


def percent(probability: float) -> str:
    """A probability as people read it: whole percent, and "under 1%" rather than a misleading "0%"."""
    return f"{probability:.0%}" if probability >= 0.01 else "under 1%"


def percent_colours() -> dict[str, str]:
    """Every label ``percent`` can give, coloured by its confidence band: a ``gr.HighlightedText`` colour map
    for words labelled with their percentage, so "99%" and "100%" share a colour instead of two arbitrary ones."""
    return {percent(k / 100): BAND_COLOURS[confidence_band(k / 100)] for k in range(101)}  # 0 gives "under 1%"


def raw_probability(step: dict) -> float:
    """How likely the model itself found the token it picked, before temperature and top-p."""
    ids = step.get("choice_ids") or []
    if step["token_id"] in ids:
        return math.exp(step["choice_logits"][ids.index(step["token_id"])] - step["logsumexp"])
    return step["probability"]


def reply_highlights(steps: list[dict]) -> list[tuple[str, str]]:
    """The reply token by token (one entry per step, so a click maps to a step), labelled by how sure the model was."""
    return [(s["text"], confidence_band(raw_probability(s))) for s in steps]
