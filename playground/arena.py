"""The blind arena: two contestants answer the same input, a person votes without knowing which is which, and the
votes become Bradley–Terry ratings with bootstrap intervals.

A contestant is a (model, settings) pair, given as JSON: ``{"model": "bundled/smollm2-135m-instruct",
"temperature": 0.2}``; options left out take the model's recommended values, else the option's default, so two
spellings of the same settings are the same contestant. A round runs both through the one run path
(``playground.run``) with the same input and the same seed (-1 draws one seed for both), shows the outputs as A and
B in an order drawn with ``secrets``, and keeps them on disk under ``arena/<round id>/`` with no name in them (the
History database holds the round, ``playground.history.RunLog.add_round``). The vote (A, B, tie or both bad) is
cast once, by the login that played the round; only then are the names revealed and the round recorded as a
History run of kind "arena".

No gradio here: ``playground.ui.arena`` lays out the tab and the API endpoints over these functions.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from playground import run as runs
from playground.errors import UserError, shown
from playground.jobs import Stopped
from playground.seeds import resolve_seed

VOTES = {"a": "a", "b": "b", "tie": "tie", "both bad": "both_bad", "both_bad": "both_bad", "bothbad": "both_bad"}
VOTE_NAMES = {"a": "A", "b": "B", "tie": "Tie", "both_bad": "Both bad"}
SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}  # A's share of the round; "both bad" counts as a tie
OUTPUT_KINDS = ("text", "image", "audio")
BOOTSTRAP_DRAWS = 500
BOOTSTRAP_SEED = 0  # fixed: the same votes always give the same intervals
LEADERBOARD_COLUMNS = ("contestant", "rating", "low", "high", "votes")


# ---------------------------------------------------------------- contestants


@dataclass(frozen=True)
class Contestant:
    """A model and every option value it runs with; ``label`` names it in the reveal and the leaderboard."""

    model: str
    options: dict
    label: str

    @property
    def data(self) -> dict:
        """The contestant as the API writes it: ``{"model": ..., "<option>": ...}`` with every option."""
        return {"model": self.model, **self.options}

    @property
    def key(self) -> str:
        """What makes two contestants the same: the model and every option value."""
        return json.dumps(self.data, sort_keys=True)


def parse_contestant(registry, task: str, text, which: str = "contestant_a") -> Contestant:
    """A contestant from its JSON text (or a dict); anything wrong is one sentence naming ``which``."""
    example = f'{{"model": "{registry.task(task).default}", ...}}'
    if isinstance(text, dict):
        data = text
    else:
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{which} is empty: give it as JSON, like {example}.")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(
                f"{which} is not valid JSON ({exc.msg} at character {exc.pos}): write it like {example}."
            ) from None
    if not isinstance(data, dict):
        raise UserError(f"{which} must be a JSON object, like {example}, not a {type(data).__name__}.")
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise UserError(f'{which} names no model: give its "model", like {example}.')
    model = model.strip()
    given = {k: v for k, v in data.items() if k != "model"}
    try:
        registry.get(task, model)  # an unknown or refused model id is named before any work
        options_cls = registry.options_class(task)
        spec = registry.spec(task, model)
        recommended = {k: v for k, v in (spec.recommended if spec else {}).items() if k in options_cls.model_fields}
        options = options_cls.parse(**{**recommended, **given}).model_dump()
    except UserError as exc:
        raise UserError(f"{which}: {exc}") from None
    return Contestant(model, options, contestant_label(registry, task, model, options))


def contestant_label(registry, task: str, model: str, options: dict, also: frozenset = frozenset()) -> str:
    """``model (option=value, …)`` with the options that differ from their declared defaults, and those named in
    ``also`` (the options on which the contestants being shown together differ)."""
    fields = registry.options_class(task).model_fields
    changed = [
        f"{k}={_number(v)}" for k, v in options.items() if k in also or k not in fields or fields[k].default != v
    ]
    return f"{model} ({', '.join(changed)})" if changed else model


def contestant_of(registry, task: str, data: dict, also: frozenset = frozenset()) -> Contestant:
    """A kept contestant (``Contestant.data``) back as a Contestant, for the reveal and the leaderboard."""
    options = {k: v for k, v in data.items() if k != "model"}
    return Contestant(data["model"], options, contestant_label(registry, task, data["model"], options, also))


def contestants_of(registry, task: str, kept: list[dict]) -> dict[str, Contestant]:
    """Kept contestants by key, each labelled with the options that set it apart from the others as well: with
    guidance 3 against the default 7.5, both labels name the guidance."""
    varying = frozenset(
        name
        for name in {k for data in kept for k in data if k != "model"}
        if len({json.dumps(data.get(name)) for data in kept}) > 1
    )
    found = {}
    for data in kept:
        contestant = contestant_of(registry, task, data, varying)
        found.setdefault(contestant.key, contestant)
    return found


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- rounds


def arena_input(spec):
    """The input both contestants get: the task's first required input (a message, a prompt, an image, a clip)."""
    return next((i for i in spec.inputs if not i.optional and i.kind in ("text", "image", "audio")), None)


def arena_tasks(registry) -> list:
    """The tasks an arena can run: one text, image or audio input, and a text, image or audio output."""
    return [s for s in registry.tasks.values() if arena_input(s) is not None and s.output in OUTPUT_KINDS]


def play_round(
    registry,
    run_log,
    task: str,
    value,
    contestant_a,
    contestant_b,
    seed=-1,
    *,
    user: str = "",
    session: str = "",
    on_loading: Callable[[str], None] | None = None,
    stop=None,
) -> dict:
    """Run both contestants on ``value`` with one seed, keep the round in a random order, return it.

    The returned round (``RunLog.arena_round``'s shape, plus ``files``: the outputs' absolute paths) names no
    contestant in anything a page or an API client is shown before the vote: the outputs carry no run card.
    """
    if not getattr(run_log, "enabled", False):
        raise UserError(f"The arena keeps its rounds and votes in History, which is off here: {run_log.note}")
    spec = registry.task_spec(task)
    given = arena_input(spec)
    if given is None or spec.output not in OUTPUT_KINDS:
        raise UserError(f"{spec.title} cannot run in the arena: it needs one text, image or audio input.")
    first = parse_contestant(registry, task, contestant_a, "Contestant 1 (contestant_a)")
    second = parse_contestant(registry, task, contestant_b, "Contestant 2 (contestant_b)")
    if first.key == second.key:
        raise UserError(f"Both contestants are {first.label}: change the model or a setting of one of them.")
    drawn = resolve_seed(seed)  # one seed for both, drawn once when it is -1
    prepared = runs.prepare(registry, task, {given.name: value}, model=first.model, options=first.options, seed=drawn)
    options_cls = registry.options_class(task)
    other = dataclasses.replace(
        prepared, wrapper=registry.get(task, second.model), options=options_cls.parse(**second.options)
    )
    pairs = [(first, prepared), (second, other)]
    if secrets.randbelow(2):  # the order shown: neither the page nor the API can tell which contestant is A
        pairs.reverse()
    outputs, seconds = [], {}
    for letter, (_, run) in zip("AB", pairs):
        if stop is not None and stop.is_set():
            raise Stopped("Stopped: the round was not played.")
        try:
            runs.execute(
                run,
                on_loading=(lambda message, letter=letter: on_loading(f"Loading contestant {letter}'s model…"))
                if on_loading
                else None,
                stop=stop,
            )
        except UserError as exc:
            raise UserError(f"The round was not played: a contestant's run failed ({exc})") from None
        if stop is not None and stop.is_set():
            raise Stopped("Stopped: the round was not played.")
        outputs.append(run.output)
        seconds[letter.lower()] = round(run.seconds, 4)
    round_id = run_log.new_round_id()
    kept = [
        out if spec.output == "text" else run_log.keep_round_output(round_id, letter, out)
        for letter, out in zip("ab", outputs)
    ]
    row = {
        "round_id": round_id,
        "session": session or "",
        "task": task,
        "username": user or "",
        "input_text": value if given.kind == "text" else "",
        "input_file": run_log.keep_input(value) if given.kind != "text" else "",
        "contestant_a": pairs[0][0].data,
        "contestant_b": pairs[1][0].data,
        "output_kind": spec.output,
        "output_a": "" if kept[0] is None else str(kept[0]),
        "output_b": "" if kept[1] is None else str(kept[1]),
        "seed": prepared.seed,
        "timings": seconds,
    }
    run_log.add_round(row)
    played = run_log.arena_round(round_id, user or "")
    played["files"] = (
        [str(run_log.data_dir / p) for p in (row["output_a"], row["output_b"])] if spec.output != "text" else []
    )
    return played


def round_outputs(played: dict) -> tuple:
    """What the API returns for a round: its id and the two outputs (texts or file paths), nothing else."""
    if played["output_kind"] == "text":
        return played["round_id"], played["output_a"], played["output_b"]
    return played["round_id"], *played["files"]


def parse_vote(vote) -> str:
    key = " ".join(str(vote or "").strip().lower().replace("-", " ").split())
    if key not in VOTES:
        raise UserError(f"A vote is A, B, tie or both bad; got '{shown(vote, 40)}'.")
    return VOTES[key]


@dataclass
class RoundPair:
    """A round's two wrappers, standing in for one wrapper when the run log records the voted round."""

    task: str
    stages: list
    model_id: str

    @property
    def backend(self) -> str:
        return " + ".join(dict.fromkeys(getattr(w, "backend", "") for w in self.stages))

    @property
    def device(self):
        return self.stages[0].device


def vote(registry, run_log, round_id, choice, *, user: str = "", recorder=None) -> dict:
    """Cast the round's one vote, record it as a History run (kind "arena") and return the reveal.

    ``recorder`` records the run (the tab passes the run log as the tabs see it, which names the login);
    None records through ``run_log`` itself.
    """
    choice = parse_vote(choice)
    round_id = str(round_id or "").strip()
    played = run_log.arena_round(round_id, user or "") if getattr(run_log, "enabled", False) and round_id else None
    if played is None:
        raise UserError(f"There is no round '{shown(round_id, 60)}' of yours to vote on.")
    if played["vote"]:
        raise UserError(
            f"Round {round_id} already has its vote ({VOTE_NAMES[played['vote']]}); a round takes one vote."
        )
    if not run_log.set_arena_vote(round_id, choice, user or ""):
        raise UserError(f"Round {round_id} already has its vote; a round takes one vote.")
    played = run_log.arena_round(round_id, user or "")
    card = _record_round(registry, run_log, recorder or run_log, played)
    if card is not None:
        run_log.set_round_run(round_id, card["run_id"])
        played["run_id"] = card["run_id"]
    return reveal(registry, played)


def shown_pair(registry, played: dict) -> tuple[Contestant, Contestant]:
    """The round's contestants A and B, labelled side by side."""
    kept = [played["contestant_a"], played["contestant_b"]]
    found = contestants_of(registry, played["task"], kept)
    return tuple(found[contestant_of(registry, played["task"], data).key] for data in kept)


def reveal(registry, played: dict) -> dict:
    """Who A and B were, what the vote said, the seed and the History run: the answer to a vote."""
    task = played["task"]
    a, b = shown_pair(registry, played)
    winner = {"a": a.label, "b": b.label}.get(played["vote"])
    return {
        "round_id": played["round_id"],
        "task": task,
        "vote": VOTE_NAMES.get(played["vote"], ""),
        "winner": winner,
        "A": {"contestant": a.label, **a.data, "seconds": played["timings"].get("a")},
        "B": {"contestant": b.label, **b.data, "seconds": played["timings"].get("b")},
        "seed": played["seed"],
        "run_id": played.get("run_id") or "",
    }


def reveal_line(revealed: dict) -> str:
    """The reveal as one Markdown line."""

    def side(letter):
        who = revealed[letter]
        took = f" ({who['seconds']:.2f} s)" if isinstance(who.get("seconds"), (int, float)) else ""
        return f"**{letter}** was `{who['contestant']}`{took}"

    verdict = {
        "A": f"you picked A: {revealed['A']['contestant']} wins",
        "B": f"you picked B: {revealed['B']['contestant']} wins",
        "Tie": "a tie",
        "Both bad": "both bad (counts as a tie)",
    }[revealed["vote"]]
    seed = f" · seed {revealed['seed']}" if revealed.get("seed") is not None else ""
    kept = f" · kept in History as run `{revealed['run_id']}`" if revealed.get("run_id") else ""
    return f"{side('A')} · {side('B')} · {verdict}{seed}{kept}"


def _record_round(registry, run_log, recorder, played: dict) -> dict | None:
    """Keep the voted round in History, names and all: both outputs, the contestants as shown, the vote."""
    task = played["task"]
    spec = registry.task_spec(task)
    given = arena_input(spec)
    a, b = shown_pair(registry, played)
    try:
        wrappers = [registry.get(task, c.model) for c in (a, b)]
    except UserError:
        return None  # a model no longer known here: the vote stands, there is no run to record
    settings = {
        "contestant_a": json.dumps(a.data),
        "contestant_b": json.dumps(b.data),
    }
    files = {}
    if given.kind == "text":
        settings = {given.name: played["input_text"], **settings}
    elif played["input_file"]:
        files[given.name] = str(run_log.data_dir / played["input_file"])
    outputs: list[Any] = []
    for letter, who in (("a", a), ("b", b)):
        value = played[f"output_{letter}"]
        if played["output_kind"] == "text":
            outputs.append(f"{letter.upper()} · {who.label}: {value}")
        else:
            path = run_log.round_file(value)
            if path is not None:
                outputs.append(_load_output(path, played["output_kind"]))
    result = {"a": "win", "b": "loss", "tie": "tie", "both_bad": "both bad"}[played["vote"]]
    other = {"win": "loss", "loss": "win"}.get(result, result)
    metrics = [
        {"shown as": "A", "contestant": a.label, "result": result, "seconds": played["timings"].get("a")},
        {"shown as": "B", "contestant": b.label, "result": other, "seconds": played["timings"].get("b")},
    ]
    timings = [t for t in played["timings"].values() if isinstance(t, (int, float))]
    return recorder.record(
        f"arena_{spec.api_name}",
        RoundPair(task, wrappers, f"{a.label} vs {b.label}"),
        None,
        seed=played["seed"],
        settings={**settings, **({"seed": played["seed"]} if played["seed"] is not None else {})},
        files=files,
        outputs=outputs,
        seconds=sum(timings) if timings else None,
        metrics=metrics,
        kind="arena",
    )


def _load_output(path, kind: str):
    if kind == "image":
        from PIL import Image

        with Image.open(path) as image:
            return image.copy()
    import soundfile as sf

    samples, rate = sf.read(path, dtype="int16")
    return rate, samples


# ---------------------------------------------------------------- ratings


def bradley_terry(scores: np.ndarray, games: np.ndarray, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """Bradley–Terry strengths by Hunter's (2004) MM algorithm, scaled to a geometric mean of 1.

    ``scores[i]`` is what contestant i won (a tie is half a win for each side) and ``games[i, j]`` how often i and j
    met. Each step sets p_i = W_i / Σ_j n_ij / (p_i + p_j). Every contestant needs a score above 0 and below its
    games (callers add virtual ties, ``ratings``), else its strength runs off to 0 or infinity.
    """
    strengths = np.ones(len(scores))
    for _ in range(max_iter):
        updated = scores / (games / (strengths[:, None] + strengths[None, :])).sum(axis=1)
        updated /= np.exp(np.mean(np.log(updated)))
        if np.max(np.abs(updated - strengths) / strengths) < tol:
            return updated
        strengths = updated
    return strengths


def rating_of(strength) -> np.ndarray:
    """The Elo-like scale: 1000 + 400·log10(strength); 400 points apart is 10:1 odds."""
    return 1000 + 400 * np.log10(strength)


def ratings(
    matches: list[tuple[str, str, str]], draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
) -> list[dict]:
    """Leaderboard rows from votes ``(contestant A, contestant B, vote)``: Bradley–Terry rating, its bootstrap 95%
    interval, and how many votes the contestant had, best first.

    Ties count as half a win for each side, and "both bad" as a tie. To keep a contestant that always (or never)
    wins finite, every pair that met gets one virtual tie (half a win each) on top of its votes: with A winning 2 and
    B 1, the strengths are 2.5 : 1.5, 400·log10(5/3) = 88.7 points apart.

    The interval is the 2.5th and 97.5th percentile of the ratings over ``draws`` bootstrap resamplings (a fixed
    ``seed``). Each draw resamples, with replacement, the votes together with two pseudo-votes per pair that met, one
    win for each side (what the virtual tie stands for), then adds the virtual ties: resampling the votes alone
    would give a single vote, a 3-0 sweep or ten ties an interval of zero width, every draw being the same. So few
    votes give wide intervals, and they narrow as votes come in. Contestants that never met, even through others,
    are on scales that cannot be compared.
    """
    names = sorted({n for a, b, _ in matches for n in (a, b)})
    if not names:
        return []
    index = {n: i for i, n in enumerate(names)}
    pairs = np.array([(index[a], index[b]) for a, b, _ in matches])
    shares = np.array([SCORES[parse_vote(v)] for _, _, v in matches])
    met = np.zeros((len(names), len(names)))
    met[pairs[:, 0], pairs[:, 1]] = met[pairs[:, 1], pairs[:, 0]] = 1.0
    met_pairs = np.argwhere(np.triu(met, 1))
    pool_pairs = np.vstack([pairs, met_pairs, met_pairs])  # the votes, and a win for each side of every pair
    pool_shares = np.concatenate([shares, np.ones(len(met_pairs)), np.zeros(len(met_pairs))])

    def fit(chosen_pairs: np.ndarray, chosen_shares: np.ndarray) -> np.ndarray:
        scores = 0.5 * met.sum(axis=1)  # the virtual ties
        games = met.copy()
        np.add.at(scores, chosen_pairs[:, 0], chosen_shares)
        np.add.at(scores, chosen_pairs[:, 1], 1 - chosen_shares)
        np.add.at(games, (chosen_pairs[:, 0], chosen_pairs[:, 1]), 1.0)
        np.add.at(games, (chosen_pairs[:, 1], chosen_pairs[:, 0]), 1.0)
        return rating_of(bradley_terry(scores, games))

    rated = fit(pairs, shares)
    rng = np.random.default_rng(seed)
    drawn = [rng.integers(0, len(pool_pairs), len(pool_pairs)) for _ in range(draws)]
    resampled = np.array([fit(pool_pairs[chosen], pool_shares[chosen]) for chosen in drawn])
    low, high = np.percentile(resampled, [2.5, 97.5], axis=0)
    votes = np.bincount(pairs.ravel(), minlength=len(names))
    rows = [
        {
            "contestant": name,
            "rating": round(float(rated[i]), 1),
            "low": round(float(low[i]), 1),
            "high": round(float(high[i]), 1),
            "votes": int(votes[i]),
        }
        for i, name in enumerate(names)
    ]
    return sorted(rows, key=lambda r: (-r["rating"], r["contestant"]))


def rounds_ratings(registry, rounds: list[dict]) -> list[dict]:
    """Leaderboard rows over voted rounds of one task (``RunLog.arena_votes``' shape), contestants named by their
    labels (``contestants_of``)."""
    voted = [r for r in rounds if r["vote"]]
    if not voted:
        return []
    task = voted[0]["task"]
    found = contestants_of(registry, task, [r[k] for r in voted for k in ("contestant_a", "contestant_b")])

    def key(data):
        return contestant_of(registry, task, data).key

    rows = ratings([(key(r["contestant_a"]), key(r["contestant_b"]), r["vote"]) for r in voted])
    for row in rows:
        row["contestant"] = found[row["contestant"]].label
    return sorted(rows, key=lambda r: (-r["rating"], r["contestant"]))


def leaderboard(registry, run_log, task: str, user: str | None = None) -> list[dict]:
    """The task's leaderboard over the votes of ``user`` (None: every login's)."""
    if not getattr(run_log, "enabled", False):
        return []
    return rounds_ratings(registry, run_log.arena_votes(task_named(registry, task), user))


def task_named(registry, name) -> str:
    """A task from its name, API name or CLI alias ("chat", "caption", "stt" …); one sentence if none."""
    text = str(name or "").strip().lower()
    for spec in registry.tasks.values():
        if text in (spec.name, spec.api_name, *spec.aliases):
            return spec.name
    known = ", ".join(s.name for s in arena_tasks(registry))
    raise UserError(f"Unknown task '{shown(name, 40)}'; the arena runs {known}.")
