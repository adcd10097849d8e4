"""Demo decks: an ordered list of steps, each a tab, its inputs, its settings and one sentence for the audience.

No Gradio here. ``load_deck(path, registry)`` reads a YAML file such as ``assets/decks/tour.yaml``::

    title: A tour of the playground
    steps:
      - tab: text_to_image          # a task's name or its endpoint name, or a chain: chain_talk, ...
        say: A picture from a sentence, on a laptop CPU.
        inputs: {prompt: a cat on the beach}
        settings: {steps: 20, seed: 1}
        limit_s: 20                 # optional: slower than this, the step shows its last result from History

A bad file is refused with one sentence that names the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playground.errors import UserError

CHAINS = {"chain_talk": "Talk to it", "chain_draw_describe": "Draw and describe", "chain_say_back": "Say it back"}
STEP_KEYS = {"tab", "say", "inputs", "settings", "limit_s"}
MAX_STEPS = 100
MAX_SAY = 300


@dataclass(frozen=True)
class Step:
    """One step: where it runs (``task`` and ``kind``: "run", or a chain's endpoint), what goes in, what to say."""

    task: str  # a task name, or "chains"
    kind: str  # "run" for a task's main action, else the chain's endpoint name
    say: str
    inputs: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    limit_s: float | None = None
    line: int = 0  # where the step starts in its file (1-based)

    @property
    def values(self) -> dict:
        """The step's inputs and settings together, named as its endpoint names them."""
        return {**self.inputs, **self.settings}


@dataclass(frozen=True)
class Deck:
    title: str
    steps: tuple[Step, ...]
    path: str = ""


def load_deck(path, registry) -> Deck:
    """Read and check a deck file; every problem is one sentence naming the file and the line."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"The deck file {path} could not be read ({exc.__class__.__name__}).") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise UserError(f"The deck file {path} has an error{where}: {problem}.") from None

    def fail(node, message: str):
        line = node.start_mark.line + 1 if node is not None else 1
        raise UserError(f"The deck file {path}, line {line}: {message}")

    if not isinstance(root, yaml.MappingNode):
        fail(root, "a deck is a mapping with a title and a list of steps.")
    top = {key.value: value for key, value in root.value}
    steps_node = top.get("steps")
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        fail(steps_node or root, "the deck needs a non-empty list under steps.")
    if len(steps_node.value) > MAX_STEPS:
        fail(steps_node, f"a deck has at most {MAX_STEPS} steps, this one has {len(steps_node.value)}.")
    title = yaml.safe_load(yaml.serialize(top["title"])) if "title" in top else path.stem
    tabs = {spec.name: spec.name for spec in registry.tasks.values()}
    tabs.update({spec.api_name: spec.name for spec in registry.tasks.values()})
    steps = []
    for node in steps_node.value:
        if not isinstance(node, yaml.MappingNode):
            fail(node, "each step is a mapping with tab, say, inputs and settings.")
        data = yaml.safe_load(yaml.serialize(node))
        extra = sorted(set(data) - STEP_KEYS)
        if extra:
            fail(node, f"a step has no key {extra[0]!r}; it takes {', '.join(sorted(STEP_KEYS))}.")
        tab = str(data.get("tab") or "")
        if tab in CHAINS:
            task, kind = "chains", tab
        elif tab in tabs:
            task, kind = tabs[tab], "run"
        else:
            known = ", ".join([*dict.fromkeys(tabs.values()), *CHAINS])
            fail(node, f"the step's tab {tab!r} is not one of {known}.")
        say = str(data.get("say") or "").strip()
        if not say or len(say) > MAX_SAY:
            fail(node, f"each step needs a sentence for the audience under say (at most {MAX_SAY} characters).")
        inputs, settings = data.get("inputs") or {}, data.get("settings") or {}
        for name, value in (("inputs", inputs), ("settings", settings)):
            if not isinstance(value, dict):
                fail(node, f"{name} is a mapping of names and values.")
        if kind == "run":
            options = {k: v for k, v in settings.items() if k in registry.options_class(task).model_fields}
            try:
                registry.options_class(task).parse(**options)
            except UserError as exc:
                fail(node, str(exc))
        limit = data.get("limit_s")
        if limit is not None and (not isinstance(limit, (int, float)) or isinstance(limit, bool) or limit <= 0):
            fail(node, f"limit_s is a number of seconds above 0, got {limit!r}.")
        steps.append(Step(task, kind, say, inputs, settings, float(limit) if limit else None, node.start_mark.line + 1))
    return Deck(str(title), tuple(steps), str(path))


def missing_model(registry, step: Step) -> str | None:
    """Why the step's model cannot run here (one sentence), or None when it is here: a bundled model's files, a
    local folder, or a hub model already in the cache (offline, nothing is downloaded to find out)."""
    if step.kind != "run":
        return None
    model = step.settings.get("model") or registry.task(step.task).default
    spec = registry.spec(step.task, model)
    try:
        if spec is not None and spec.bundled:
            spec.locate()
            return None
        source = str(registry.get(step.task, model).source)
    except UserError as exc:
        return str(exc)
    if Path(source).exists() or "://" in source or source.count("/") != 1:
        return None  # a local folder, a remote server's model, or an id no hub holds
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(source, local_files_only=True)
    except Exception:
        return f"Model '{model}' is not downloaded."
    return None
