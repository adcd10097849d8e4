"""The run log: every run of every tab, with everything that made it, in SQLite; its files under outputs/.

No gradio here. A tab calls ``record()`` once its result exists. Recording never raises: a failure is
logged, kept in ``note`` for the UI to show, and the result is shown all the same.

Layout under the data dir::

    history.sqlite3                 one row per run (WAL mode, versioned schema)
    outputs/<task>/<run id>.png     images, with the run card in PNG text chunks
    outputs/<task>/<run id>.wav     audio, with the run card in <run id>.json beside it
    inputs/<sha256>.<ext>           copies of uploaded inputs, shared by the runs that used them
    exports/                        zips made by export()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import random
import re
import secrets
import sqlite3
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from playground.errors import UserError

log = logging.getLogger("playground.history")

DB_NAME = "history.sqlite3"
APP = "generative-ai-playground"
CARD_VERSION = 1
CARD_KEY = "playground-run"  # PNG iTXt chunk: the run card as JSON, for the app
TEXT_KEY = "parameters"  # PNG tEXt chunk: the same settings as lines a person reads (the key A1111 uses)
BUSY_TIMEOUT_MS = 15_000
WRITE_ATTEMPTS = 8
CONTENT_HASH_LIMIT = 512 * 2**20  # larger model folders are identified by a hash of names, sizes and times
INPUT_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".m4a",
    ".aac",
    ".webm",
}
LIBRARIES = (
    "torch",
    "transformers",
    "diffusers",
    "accelerate",
    "gradio",
    "piper-tts",
    "faster-whisper",
    "ctranslate2",
    "onnxruntime",
    "numpy",
    "pillow",
    "soundfile",
)

# Each version's statements turn the previous schema into this one; never edit a released step, add one.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL UNIQUE,          -- time-sortable, also the output files' name
            created TEXT NOT NULL,                -- ISO 8601, UTC
            task TEXT NOT NULL,
            model TEXT NOT NULL,
            revision TEXT NOT NULL DEFAULT '',    -- hub commit or sha256 of the model's files
            backend TEXT NOT NULL DEFAULT '',
            device TEXT NOT NULL DEFAULT '',
            dtype TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL,               -- JSON: every parameter, named as the API names them
            seed INTEGER,                         -- the seed actually used
            input_text TEXT NOT NULL DEFAULT '',
            input_files TEXT NOT NULL DEFAULT '[]',
            output_text TEXT NOT NULL DEFAULT '',
            output_files TEXT NOT NULL DEFAULT '[]',
            timings TEXT NOT NULL DEFAULT '{}',
            versions TEXT NOT NULL DEFAULT '{}'
        )""",
    ),
    # 2: compare runs (one row per sweep) and the endpoint that replays a run.
    2: (
        "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'run'",
        "ALTER TABLE runs ADD COLUMN api_name TEXT NOT NULL DEFAULT ''",
        """UPDATE runs SET api_name = CASE task WHEN 'captioning' THEN 'caption' WHEN 'speech_to_text' THEN 'transcribe'
                                              WHEN 'text_to_speech' THEN 'synthesize' ELSE task END""",
        "CREATE INDEX runs_by_created ON runs(created)",
        "CREATE INDEX runs_by_task ON runs(task, created)",
    ),
    # 3: who made each run (the login under --auth, '' without it), so that a login can be shown only its own.
    3: (
        "ALTER TABLE runs ADD COLUMN username TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX runs_by_user ON runs(username, created)",
    ),
    # 4: how a result was cut short (a Stop, a token limit), '' when it is whole: a shortened run never reads as complete.
    4: ("ALTER TABLE runs ADD COLUMN stopped TEXT NOT NULL DEFAULT ''",),
    # 5: the blind arena's rounds and votes (playground.arena), and the summary metrics a compare run showed.
    5: (
        """CREATE TABLE arena_rounds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            round_id TEXT NOT NULL UNIQUE,        -- time-sortable with a random part; also its folder under arena/
            session TEXT NOT NULL DEFAULT '',     -- the rounds one Start played over a list of inputs
            task TEXT NOT NULL,
            username TEXT NOT NULL DEFAULT '',    -- the login that played it ('' without --auth)
            created TEXT NOT NULL,                -- ISO 8601, UTC
            input_text TEXT NOT NULL DEFAULT '',
            input_file TEXT NOT NULL DEFAULT '',  -- the kept copy of an input file (inputs/...), relative
            contestant_a TEXT NOT NULL,           -- JSON {"model": ..., "<option>": ...}, in the order shown
            contestant_b TEXT NOT NULL,
            output_kind TEXT NOT NULL DEFAULT 'text',  -- text, image or audio
            output_a TEXT NOT NULL DEFAULT '',    -- the text, or the file (arena/<round id>/a.png), relative
            output_b TEXT NOT NULL DEFAULT '',
            seed INTEGER,                         -- the one seed both contestants used
            timings TEXT NOT NULL DEFAULT '{}',
            vote TEXT NOT NULL DEFAULT '',        -- '' until voted: a, b, tie or both_bad
            voted_at TEXT NOT NULL DEFAULT '',
            run_id TEXT NOT NULL DEFAULT ''       -- the History run recorded once the vote revealed the names
        )""",
        "CREATE INDEX arena_by_task ON arena_rounds(task, username, voted_at)",
        "CREATE INDEX arena_by_session ON arena_rounds(session, created)",
        "ALTER TABLE runs ADD COLUMN metrics TEXT NOT NULL DEFAULT '[]'",
    ),
    # 6: named presets of a tab's settings (a presenter saves "crisp" and "dreamy" and applies them on stage).
    6: (
        """CREATE TABLE presets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tab TEXT NOT NULL,                    -- the endpoint whose settings these are, e.g. text_to_image
            name TEXT NOT NULL,
            username TEXT NOT NULL DEFAULT '',    -- the login that saved it ('' without --auth)
            settings TEXT NOT NULL,               -- JSON: the settings, named as the endpoint names them
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (tab, username, name)
        )""",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
JSON_COLUMNS = ("settings", "input_files", "output_files", "timings", "versions", "metrics")
PRIVATE_KEYS = ("username",)  # in the database and History, never in a file's card that may be passed on
DIGEST = re.compile(r"[0-9a-f]{64}")  # a sha256 as the log writes it; anything else is never used


class HistoryUnavailable(UserError):
    """The run log cannot be opened; the sentence says why."""


@dataclass(frozen=True)
class HistoryAccess:
    """Whose runs a login sees: with ``per_login`` (--auth) only its own, unless it is one of ``admins``."""

    per_login: bool = False
    admins: frozenset = frozenset()

    def user_of(self, username: str | None) -> str | None:
        """The login whose runs ``username`` may list and restore, or None for every run."""
        if not self.per_login or (username and username in self.admins):
            return None
        if not username:
            raise UserError("Log in to see your history.")
        return username


# ---------------------------------------------------------------- opening


def open_history(data_dir: Path, enabled: bool = True):
    """The run log in ``data_dir``, or a ``NoHistory`` that says why history is off."""
    if not enabled:
        return NoHistory("History is off (--no-history): no run, output or upload is kept.")
    try:
        return RunLog(data_dir)
    except HistoryUnavailable as exc:
        log.warning("%s", exc)
        return NoHistory(str(exc))


def unwritable_reason(folder: Path) -> str | None:
    """Why nothing can be written in ``folder`` (made if missing), or None when a probe file can be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}-{secrets.token_hex(4)}"
        probe.write_bytes(b"ok")
        probe.unlink()
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


class NoHistory:
    """Stands in for the run log when history is off: records nothing and lists nothing."""

    enabled = False

    def __init__(self, note: str):
        self.note = note

    def record(self, *args, **kwargs) -> None:
        return None

    def replay_settings(self, card: dict, file_settings: Iterable[str] = (), user=None) -> tuple[dict, list[str]]:
        """The card's settings without its files: with no data folder there is none to restore."""
        return untrusted_settings(card, file_settings)

    def served_paths(self) -> list[str]:
        return []

    def save_preset(self, tab: str, name: str, settings: dict, user: str = "") -> dict:
        raise UserError(f"{self.note} Presets are kept in History, so none can be saved.")

    def presets(self, tab: str, user: str = "") -> list[dict]:
        return []

    def preset(self, tab: str, name: str, user: str = "") -> dict:
        raise UserError(f"{self.note} Presets are kept in History, so there are none.")

    def delete_preset(self, tab: str, name: str, user: str = "") -> bool:
        return False


class RunLog:
    """The run log of one data dir. Safe to share between threads and between processes."""

    enabled = True

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.path = self.data_dir / DB_NAME
        self.note = ""  # what the user should know about history right now; empty while all is well
        self._revisions: dict[tuple, str] = {}
        self._versions: dict | None = None
        self._lock = threading.Lock()
        reason = unwritable_reason(self.data_dir)
        if reason:
            raise HistoryUnavailable(
                f"History is off: the data folder {self.data_dir} cannot be written "
                f"({reason}); results are still shown but not kept."
            )
        try:
            # WAL lets readers and one writer work at once; it is a property of the file, kept once set.
            self._with_retries(lambda: self._pragma("PRAGMA journal_mode=WAL"))
            self._write(self._migrate)
        except sqlite3.DatabaseError as exc:
            raise HistoryUnavailable(
                f"History is off: {self.path} could not be opened ({exc}); move it aside to start a new history."
            ) from None

    # ---------------------------------------------------------------- database plumbing

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")  # with WAL, a committed run survives the app being killed
        return conn

    def _with_retries(self, work: Callable[[], object]):
        """Run ``work``, retrying while another writer holds the lock.

        busy_timeout covers the usual wait; the retries cover the cases where SQLite answers
        "busy" at once (such as another process recovering the WAL).
        """
        delay = 0.02
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return work()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)

    def _write(self, work: Callable[[sqlite3.Connection], object]):
        """Run ``work`` in one short write transaction (retried while the database is busy)."""

        def transaction():
            with contextlib.closing(self._connect()) as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise

        return self._with_retries(transaction)

    def _pragma(self, statement: str):
        with contextlib.closing(self._connect()) as conn:
            return conn.execute(statement).fetchone()[0]

    def _read(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with contextlib.closing(self._connect()) as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)")
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise HistoryUnavailable(
                f"History is off: {self.path} was written by a newer version of the app (schema {current}; this "
                f"version reads up to {SCHEMA_VERSION}); update the app to see it."
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now().isoformat()))

    def schema_version(self) -> int:
        return self._read("SELECT MAX(version) FROM schema_version")[0][0]

    def journal_mode(self) -> str:
        return self._pragma("PRAGMA journal_mode")

    # ---------------------------------------------------------------- recording

    def record(
        self,
        api: str,
        wrapper,
        options=None,
        *,
        seed: int | None = None,
        settings: dict | None = None,
        files: dict | None = None,
        outputs: Iterable = (),
        seconds: float | None = None,
        stopped: str | None = None,
        user: str = "",
        metrics: list[dict] | None = None,
        kind: str | None = None,
    ) -> dict | None:
        """Keep one run: its settings, inputs, outputs and timings. Returns its run card, or None on failure.

        ``stopped`` says how a result was cut short (a Stop, a token limit), so it never reads as complete.
        ``metrics`` are the summary rows the app showed beside the result (a compare panel's distinct-n or word
        error rate, an arena round's vote), kept for reports; ``kind`` overrides the kind read from ``api``.
        ``user`` is the login that made the run ('' without --auth); it stays in the database, out of the files.

        ``api`` is the endpoint that replays the run; ``settings`` the parameters other than the model, the
        seed and the options (an Options object, or a dict already named as the endpoint names them), named as
        that endpoint names them; ``files`` the input files by parameter name
        (paths or PIL images), which are copied into the data dir; ``outputs`` PIL images, ``(rate, samples)``
        audio and strings. PIL images get the run card in their ``info``, so a copy Gradio serves carries it.
        """
        written: list[Path] = []
        try:
            card = self._new_card(api, wrapper, options, seed, settings or {}, files or {}, seconds, user)
            if stopped:
                card["stopped"] = str(stopped)
            if kind:
                card["kind"] = kind
            card["metrics"] = _plain(list(metrics or []))
            self._write_outputs(card, list(outputs), written)
            self._write(lambda conn: _insert(conn, card))
        except Exception as exc:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            self.note = self._problem(exc)
            log.warning("run not recorded: %s", exc, exc_info=not isinstance(exc, (OSError, sqlite3.Error)))
            return None
        self.note = ""
        return card

    def _new_card(self, api, wrapper, options, seed, settings, files, seconds, user="") -> dict:
        now = _now()
        run_id = f"{now:%Y%m%d-%H%M%S-%f}-{secrets.token_hex(2)}"
        inputs = []
        stored = {}
        for name, value in files.items():
            if value is None:
                continue
            path, digest = self._keep_input(value)
            inputs.append({"name": name, "path": path, "sha256": digest})
            stored[name] = path
        device = getattr(wrapper, "device", None)
        # A chain stands in for one wrapper with its stages' wrappers; its settings name each stage's model.
        stages = getattr(wrapper, "stages", None)
        revision = (
            ", ".join(dict.fromkeys(self._revision(w.source) for w in stages))
            if stages
            else self._revision(wrapper.source)
        )
        if options is not None and not isinstance(options, dict):
            options = options.model_dump()
        return {
            "app": APP,
            "card_version": CARD_VERSION,
            "run_id": run_id,
            "created": now.isoformat(),
            "task": wrapper.task,
            "kind": "compare" if api.startswith("compare") else "run",
            "api_name": api,
            "model": wrapper.model_id,
            "revision": revision,
            "backend": getattr(wrapper, "backend", ""),
            "device": getattr(device, "type", str(device or "")),
            "dtype": getattr(device, "dtype", ""),
            "settings": _plain(
                {
                    **settings,
                    **stored,
                    **({} if stages else {"model": wrapper.model_id}),
                    **({"seed": seed} if seed is not None else {}),
                    **(options or {}),
                }
            ),
            "seed": seed,
            "input_text": "\n".join(v for v in settings.values() if isinstance(v, str) and v.strip()),
            "input_files": inputs,
            "output_text": "",
            "output_files": [],
            "timings": {"seconds": round(seconds, 4)} if seconds is not None else {},
            "versions": self.library_versions(),
            "username": user or "",
        }

    def _write_outputs(self, card: dict, outputs: list, written: list[Path]) -> None:
        folder = self.data_dir / "outputs" / card["task"]
        folder.mkdir(parents=True, exist_ok=True)
        texts, files = [], []
        for value in outputs:
            if isinstance(value, str):
                texts.append(value)
            elif hasattr(value, "save") and hasattr(value, "mode"):
                files.append(("image", value))
            elif isinstance(value, tuple) and len(value) == 2:
                files.append(("audio", value))
            elif value is not None:
                raise TypeError(f"cannot record an output of type {type(value).__name__}")
        card["output_text"] = "\n\n".join(texts)
        for i, (kind, _) in enumerate(files):
            stem = card["run_id"] if i == 0 else f"{card['run_id']}-{i + 1}"
            path = folder / (stem + (".png" if kind == "image" else ".wav"))
            card["output_files"].append({"path": path.relative_to(self.data_dir).as_posix(), "kind": kind})
        for entry, (kind, value) in zip(card["output_files"], files):
            path = self.data_dir / entry["path"]
            public = {k: v for k, v in card.items() if k not in PRIVATE_KEYS}
            if kind == "image":
                written.append(path)
                _save_png(value, path, public)
            else:
                sidecar = path.with_suffix(".json")
                written += [path, sidecar]
                _save_wav(value, path)
                _atomic_write(sidecar, (json.dumps(public, indent=2, ensure_ascii=False) + "\n").encode())
            entry["sha256"] = _sha256_file(path)

    def _keep_input(self, value) -> tuple[str, str]:
        """Copy an input into inputs/, named by its content; returns (relative path, sha256)."""
        if hasattr(value, "save") and hasattr(value, "mode"):
            import io

            buffer = io.BytesIO()
            value.save(buffer, format="PNG")
            data, suffix = buffer.getvalue(), ".png"
        else:
            source = Path(value)
            data = source.read_bytes()
            suffix = source.suffix.lower() if source.suffix.lower() in INPUT_SUFFIXES else ".bin"
        digest = hashlib.sha256(data).hexdigest()
        target = self.data_dir / "inputs" / f"{digest[:32]}{suffix}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, data)
        return target.relative_to(self.data_dir).as_posix(), digest

    def _revision(self, source: str) -> str:
        """The hub commit of a hub model, or a hash of a local model's files (computed once per state)."""
        path = Path(source)
        if not path.exists():
            return _hub_revision(source)
        key = (source, _manifest(path))
        with self._lock:
            if key in self._revisions:
                return self._revisions[key]
        revision = _files_revision(path, key[1])
        with self._lock:
            self._revisions[key] = revision
        return revision

    def library_versions(self) -> dict:
        if self._versions is None:
            import importlib.metadata
            import platform

            from playground import __version__

            versions = {"playground": __version__, "python": platform.python_version()}
            for name in LIBRARIES:
                with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                    versions[name] = importlib.metadata.version(name)
            self._versions = versions
        return dict(self._versions)

    def _problem(self, exc: BaseException) -> str:
        tail = "; results are still shown but not kept."
        text = str(exc).lower()
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "full" in text:
            return f"History is paused: the disk holding {self.data_dir} is full{tail}"
        if (
            isinstance(exc, OSError)
            and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            or "readonly" in text
            or "read-only" in text
        ):
            return f"History is paused: {self.data_dir} cannot be written{tail}"
        return f"History is paused: the last run could not be kept ({type(exc).__name__}: {str(exc)[:200]}){tail}"

    # ---------------------------------------------------------------- reading

    # ``user`` names the login whose runs these read; None reads every run (no --auth, an admin, the tests).

    def runs(
        self,
        task: str | None = None,
        model: str | None = None,
        text: str | None = None,
        limit: int = 50,
        user: str | None = None,
    ) -> list[dict]:
        """Run cards, newest first, filtered by task, model (substring) and text in inputs or outputs."""
        where, params = self._filter(task, model, text, user)
        rows = self._read(f"SELECT * FROM runs{where} ORDER BY created DESC, id DESC LIMIT ?", [*params, int(limit)])
        return [_card_of(row) for row in rows]

    def count(
        self, task: str | None = None, model: str | None = None, text: str | None = None, user: str | None = None
    ) -> int:
        where, params = self._filter(task, model, text, user)
        return self._read(f"SELECT COUNT(*) FROM runs{where}", params)[0][0]

    @staticmethod
    def _filter(task, model, text, user=None) -> tuple[str, list]:
        clauses, params = [], []
        if user is not None:
            clauses.append("username = ?")
            params.append(user)
        if task:
            clauses.append("task = ?")
            params.append(task)
        if model and model.strip():
            clauses.append(r"model LIKE ? ESCAPE '\'")
            params.append(f"%{_like(model.strip())}%")
        if text and text.strip():
            clauses.append(r"(input_text LIKE ? ESCAPE '\' OR output_text LIKE ? ESCAPE '\')")
            params += [f"%{_like(text.strip())}%"] * 2
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def get(self, run_id: str, user: str | None = None) -> dict | None:
        where, params = self._filter(None, None, None, user)
        rows = self._read(f"SELECT * FROM runs{where}{' AND' if where else ' WHERE'} run_id = ?", [*params, run_id])
        return _card_of(rows[0]) if rows else None

    def models(self, user: str | None = None) -> list[str]:
        where, params = self._filter(None, None, None, user)
        return [row[0] for row in self._read(f"SELECT DISTINCT model FROM runs{where} ORDER BY model", params)]

    # ---------------------------------------------------------------- presets

    def save_preset(self, tab: str, name: str, settings: dict, user: str = "") -> dict:
        """Keep ``settings`` under ``name`` for ``tab`` (the same name again replaces them). Returns the preset."""
        name = _preset_name(name)
        now = _now().isoformat()
        text = json.dumps(_plain(settings), ensure_ascii=False, sort_keys=True)
        self._write(
            lambda conn: conn.execute(
                "INSERT INTO presets (tab, name, username, settings, created, updated) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (tab, username, name) DO UPDATE SET settings = excluded.settings, updated = excluded.updated",
                (tab, name, user or "", text, now, now),
            )
        )
        return self.preset(tab, name, user)

    def presets(self, tab: str, user: str = "") -> list[dict]:
        """The login's presets for ``tab``, by name."""
        rows = self._read(
            "SELECT name, settings, updated FROM presets WHERE tab = ? AND username = ? ORDER BY name COLLATE NOCASE",
            [tab, user or ""],
        )
        return [{"name": r["name"], "settings": json.loads(r["settings"]), "updated": r["updated"]} for r in rows]

    def preset(self, tab: str, name: str, user: str = "") -> dict:
        """One preset; an unknown name is refused with a sentence that lists the saved ones."""
        name = _preset_name(name)
        found = [p for p in self.presets(tab, user) if p["name"] == name]
        if not found:
            saved = ", ".join(repr(p["name"]) for p in self.presets(tab, user)) or "none yet"
            raise UserError(f"There is no preset named {name!r} for {tab} (saved: {saved}).")
        return found[0]

    def delete_preset(self, tab: str, name: str, user: str = "") -> bool:
        """Forget a preset; True when there was one."""
        name = _preset_name(name)
        deleted = self._write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM presets WHERE tab = ? AND username = ? AND name = ?", (tab, user or "", name)
                ).rowcount
            )
        )
        return bool(deleted)

    def find_output(self, digest: str, user: str | None = None) -> dict | None:
        """The run that made the output file with this sha256, if it is still in the log."""
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            return None
        where, params = self._filter(None, None, None, user)
        rows = self._read(
            f"SELECT * FROM runs{where}{' AND' if where else ' WHERE'} EXISTS (SELECT 1 FROM "
            "json_each(runs.output_files) WHERE json_extract(value, '$.sha256') = ?) "
            "ORDER BY id DESC LIMIT 1",
            [*params, digest],
        )
        return _card_of(rows[0]) if rows else None

    def file(self, relative: str, user: str | None = None) -> Path | None:
        """The absolute path of a file the log refers to, only if it lies inside this data dir's inputs/ or
        outputs/ once links are followed, and exists; for a ``user``, only if one of their runs keeps it."""
        if not isinstance(relative, str) or not relative or "\0" in relative:
            return None
        try:
            path = (self.data_dir / relative).resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop, a name the file system refuses
            return None
        inside = path.is_relative_to(self.data_dir / "outputs") or path.is_relative_to(self.data_dir / "inputs")
        if not inside or not path.is_file():
            return None
        return path if user is None or self._kept_by(path, user) else None

    def _kept_by(self, path: Path, user: str) -> bool:
        """Whether a run of ``user`` names ``path`` among its inputs or outputs."""
        name = path.relative_to(self.data_dir).as_posix()
        rows = self._read(
            "SELECT 1 FROM runs WHERE username = ? AND (EXISTS (SELECT 1 FROM json_each(runs.input_files) WHERE "
            "json_extract(value, '$.path') = ?) OR EXISTS (SELECT 1 FROM json_each(runs.output_files) WHERE "
            "json_extract(value, '$.path') = ?)) LIMIT 1",
            [user, name, name],
        )
        return bool(rows)

    def served_paths(self) -> list[str]:
        """Folders the web server may serve files from (thumbnails, players, exports, the arena's pending outputs)."""
        return [str(self.data_dir / name) for name in ("outputs", "inputs", "exports", "arena")]

    # ---------------------------------------------------------------- the arena's rounds (playground.arena)

    # A round is played, kept here with its two outputs (in the order shown, under arena/<round id>/), and voted on
    # once; only the login that played a round (``user``; '' without --auth) can read or vote on it.

    def new_round_id(self) -> str:
        return f"{_now():%Y%m%d-%H%M%S-%f}-{secrets.token_hex(4)}"

    def keep_input(self, value) -> str:
        """A copy of an input file (a path or a PIL image) in inputs/, named by its content; its relative path."""
        return self._keep_input(value)[0]

    def keep_round_output(self, round_id: str, name: str, value) -> str:
        """Write one of a round's outputs (a PIL image or ``(rate, samples)``) under arena/<round id>/, with no run
        card in it (the names stay hidden until the vote); returns its path relative to the data dir."""
        if not re.fullmatch(r"[0-9a-f-]+", round_id) or name not in ("a", "b"):
            raise ValueError(f"not a round output: {round_id!r}/{name!r}")
        folder = self.data_dir / "arena" / round_id
        folder.mkdir(parents=True, exist_ok=True)
        if hasattr(value, "save") and hasattr(value, "mode"):
            path = folder / f"{name}.png"
            partial = path.with_name(path.name + ".part")
            value.save(partial, format="PNG")  # no pnginfo: a plain picture
            os.replace(partial, path)
        else:
            path = folder / f"{name}.wav"
            _save_wav(value, path)
        return path.relative_to(self.data_dir).as_posix()

    def round_file(self, relative: str) -> Path | None:
        """The absolute path of a round's output file, only if it lies in arena/ and exists."""
        if not isinstance(relative, str) or not relative or "\0" in relative:
            return None
        try:
            path = (self.data_dir / relative).resolve()
        except (OSError, RuntimeError, ValueError):
            return None
        return path if path.is_relative_to(self.data_dir / "arena") and path.is_file() else None

    def add_round(self, row: dict) -> None:
        """Keep a round that is waiting for its vote (``row`` names the arena_rounds columns)."""
        row = {**row, "created": row.get("created") or _now().isoformat()}
        for key in ("contestant_a", "contestant_b", "timings"):
            if not isinstance(row.get(key), str):
                row[key] = json.dumps(row.get(key) or {}, ensure_ascii=False, sort_keys=True)
        columns = list(row)
        self._write(
            lambda conn: conn.execute(
                f"INSERT INTO arena_rounds ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns],
            )
        )

    def arena_round(self, round_id: str, user: str = "") -> dict | None:
        """The round ``user`` played, or None (another login's round reads as no round at all)."""
        rows = self._read("SELECT * FROM arena_rounds WHERE round_id = ? AND username = ?", [str(round_id), user])
        return _round_of(rows[0]) if rows else None

    def set_arena_vote(self, round_id: str, vote: str, user: str = "") -> bool:
        """Cast the round's one vote; False when it has one already (or is not ``user``'s)."""

        def cast(conn):
            return conn.execute(
                "UPDATE arena_rounds SET vote = ?, voted_at = ? WHERE round_id = ? AND username = ? AND vote = ''",
                [vote, _now().isoformat(), round_id, user],
            ).rowcount

        return self._write(cast) == 1

    def set_round_run(self, round_id: str, run_id: str) -> None:
        """Name the History run that keeps the voted round."""
        self._write(
            lambda conn: conn.execute("UPDATE arena_rounds SET run_id = ? WHERE round_id = ?", [run_id, round_id])
        )

    def arena_votes(self, task: str | None = None, user: str | None = None) -> list[dict]:
        """Voted rounds, oldest first: of ``task`` (None: every task), of ``user`` (None: every login)."""
        clauses, params = ["vote != ''"], []
        if task:
            clauses.append("task = ?")
            params.append(task)
        if user is not None:
            clauses.append("username = ?")
            params.append(user)
        rows = self._read(f"SELECT * FROM arena_rounds WHERE {' AND '.join(clauses)} ORDER BY voted_at, id", params)
        return [_round_of(row) for row in rows]

    def rounds_of_runs(self, run_ids: Iterable[str]) -> list[dict]:
        """The voted rounds the History runs ``run_ids`` keep."""
        ids = [r for r in dict.fromkeys(run_ids) if isinstance(r, str) and r]
        if not ids:
            return []
        rows = self._read(
            f"SELECT * FROM arena_rounds WHERE run_id IN ({', '.join('?' * len(ids))}) ORDER BY voted_at, id", ids
        )
        return [_round_of(row) for row in rows]

    # ---------------------------------------------------------------- replay, export, delete

    def replay_settings(
        self, card: dict, file_settings: Iterable[str] = (), user: str | None = None
    ) -> tuple[dict, list[str]]:
        """The card's settings with input files as paths in this data dir; also the inputs that are missing.

        A card may be a forged file, so no path in it is taken on trust: a file setting (an ``input_files``
        entry's name, or one of ``file_settings``, the settings the caller shows as files) is filled only from
        an ``input_files`` entry whose file lies in inputs/ or outputs/ (for a ``user``: one their runs keep).
        """
        settings, names = untrusted_settings(card, file_settings)
        filled = {}
        for entry in card.get("input_files") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in filled:
                path = self._input_copy(entry, user)
                if path is not None:
                    filled[entry["name"]] = str(path)
        settings.update(filled)
        return settings, [name for name in names if name not in filled]

    def _input_copy(self, entry: dict, user: str | None) -> Path | None:
        """The file an ``input_files`` entry names, by its path, else by its sha256 (which must match)."""
        path = self.file(entry.get("path"), user)
        digest = entry.get("sha256")
        if path is not None or not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            return path
        for suffix in sorted(INPUT_SUFFIXES | {".bin"}):  # the names _keep_input gives; no pattern from the card
            found = self.file(f"inputs/{digest[:32]}{suffix}", user)
            if found is not None and _sha256_file(found) == digest:
                return found
        return None

    def export(self, run_ids: Iterable[str], user: str | None = None) -> Path:
        """A zip of the runs: per run a folder with its run card, output files, sidecars and inputs."""
        cards = [c for c in (self.get(r, user) for r in dict.fromkeys(run_ids)) if c]
        if not cards:
            raise UserError("Pick at least one run to export.")
        folder = self.data_dir / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        name = cards[0]["run_id"] if len(cards) == 1 else f"{_now():%Y%m%d-%H%M%S}-{len(cards)}-runs"
        target = folder / f"{name}-{secrets.token_hex(4)}.zip"  # served by name: not one another login can guess
        partial = target.with_name(target.name + f".part-{secrets.token_hex(3)}")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for card in cards:
                base = card["run_id"]
                archive.writestr(f"{base}/run.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
                if card["output_text"]:
                    archive.writestr(f"{base}/output.txt", card["output_text"] + "\n")
                for entry in card["output_files"]:
                    for path in (self.file(entry["path"]), self.file(str(Path(entry["path"]).with_suffix(".json")))):
                        if path is not None:
                            archive.write(path, f"{base}/{path.name}")
                for entry in card["input_files"]:
                    path = self.file(entry["path"])
                    if path is not None:
                        archive.write(path, f"{base}/input-{entry['name']}{path.suffix}")
        os.replace(partial, target)
        return target

    def delete(self, run_ids: Iterable[str], user: str | None = None) -> int:
        """Delete runs and their files; an input copy goes when no remaining run (of anyone) uses it."""
        cards = [c for c in (self.get(r, user) for r in dict.fromkeys(run_ids)) if c]
        if not cards:
            return 0
        self._write(lambda conn: conn.executemany("DELETE FROM runs WHERE run_id = ?", [(c["run_id"],) for c in cards]))
        for card in cards:
            for entry in card["output_files"]:
                for path in (self.file(entry["path"]), self.file(str(Path(entry["path"]).with_suffix(".json")))):
                    if path is not None:
                        path.unlink(missing_ok=True)
            for entry in card["input_files"]:
                still_used = self._read("SELECT 1 FROM runs WHERE input_files LIKE ? LIMIT 1", [f"%{entry['path']}%"])
                path = self.file(entry["path"])
                if path is not None and not still_used:
                    path.unlink(missing_ok=True)
        return len(cards)


# ---------------------------------------------------------------- run cards in files


def read_card(path, run_log=None, user: str | None = None) -> dict:
    """The run card of a PNG or WAV the app made, or of a run-card JSON; one plain sentence if there is none.

    A WAV's card is its sidecar JSON beside it, or else (for a WAV downloaded and dropped back)
    the run in ``run_log`` (of ``user``, if given) that made a file with the same content.
    """
    file = Path(path)
    name = file.name
    if not file.is_file():
        raise UserError(f"The file '{name}' does not exist.")
    head = file.read_bytes()[:16]
    if head.startswith(b"\x89PNG"):
        from PIL import Image

        try:
            with Image.open(file) as image:
                text = getattr(image, "text", {}).get(CARD_KEY)
        except Exception:
            raise UserError(f"Could not read '{name}' as a PNG: the file is truncated or damaged.") from None
        if not text:
            raise UserError(
                f"'{name}' carries no run card: it was not made by this app, or was re-saved by another program."
            )
        return _check_card(_json(text, name), name)
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        sidecar = file.with_suffix(".json")
        if sidecar.is_file():
            return _check_card(_json(sidecar.read_text(encoding="utf-8"), sidecar.name), sidecar.name)
        card = run_log.find_output(_sha256_file(file), user) if getattr(run_log, "enabled", False) else None
        if card is None:
            raise UserError(
                f"'{name}' has no run card here: drop its .json sidecar instead (WAVs keep their settings beside them)."
            )
        return card
    if file.suffix.lower() == ".json" or head.lstrip().startswith(b"{"):
        return _check_card(_json(file.read_text(encoding="utf-8", errors="replace"), name), name)
    raise UserError(f"'{name}' is not a PNG, WAV or run-card JSON made by this app.")


def untrusted_settings(card: dict, file_settings: Iterable[str] = ()) -> tuple[dict, list[str]]:
    """A card's settings with no file in them, and the names of the file settings taken out.

    Out go the file settings (``input_files`` names and ``file_settings``), whatever their value, and any
    setting that holds a file reference (a dict with a "path" or "url", as in a chat message with a file):
    a component given one would copy that file from the server's disk and serve it.
    """
    entries = [
        e["name"] for e in card.get("input_files") or [] if isinstance(e, dict) and isinstance(e.get("name"), str)
    ]
    raw = card.get("settings") if isinstance(card.get("settings"), dict) else {}
    files = set(entries) | set(file_settings)
    settings, dropped = {}, list(entries)
    for name, value in raw.items():
        if name in files or _names_a_file(value):
            dropped.append(name)
        else:
            settings[name] = value
    return settings, list(dict.fromkeys(dropped))


def _names_a_file(value) -> bool:
    if isinstance(value, dict):
        return "path" in value or "url" in value or any(_names_a_file(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_names_a_file(v) for v in value)
    return False


def readable(card: dict) -> str:
    """The settings as a few lines a person reads (the PNG "parameters" chunk)."""
    settings = card.get("settings") or {}
    long = [f"{_label(k)}: {v}" for k, v in settings.items() if isinstance(v, str) and k != "model"]
    short = ", ".join(
        f"{_label(k)}: {v}" for k, v in settings.items() if not isinstance(v, (str, list, dict)) and v is not None
    )
    timing = card.get("timings", {}).get("seconds")
    return "\n".join(
        [
            *long,
            short,
            f"Model: {card['model']} ({card.get('revision') or 'unknown revision'}), {card.get('backend')} on "
            f"{card.get('device')} {card.get('dtype')}",
            f"Run: {card['run_id']}, {card['api_name']}"
            + (f", {timing:.2f} s" if timing is not None else "")
            + f", {APP} {card.get('versions', {}).get('playground', '')}",
            *([f"Cut short: {card['stopped']}"] if card.get("stopped") else []),
        ]
    )


def _save_png(image, path: Path, card: dict) -> None:
    from PIL.PngImagePlugin import PngInfo

    text, data = readable(card), json.dumps(card, ensure_ascii=False)
    info = PngInfo()
    info.add_text(TEXT_KEY, text)
    info.add_itxt(CARD_KEY, data)
    partial = path.with_name(path.name + ".part")
    image.save(partial, format="PNG", pnginfo=info)
    os.replace(partial, path)
    image.info[TEXT_KEY] = text
    image.info[CARD_KEY] = data


def _save_wav(audio, path: Path) -> None:
    import numpy as np
    import soundfile as sf

    rate, samples = audio
    samples = np.asarray(samples)
    partial = path.with_name(path.name + ".part")
    sf.write(partial, samples, int(rate), subtype="PCM_16", format="WAV")
    os.replace(partial, path)


def _atomic_write(path: Path, data: bytes) -> None:
    partial = path.with_name(f"{path.name}.part-{secrets.token_hex(3)}")
    partial.write_bytes(data)
    os.replace(partial, path)


# ---------------------------------------------------------------- helpers


def _insert(conn: sqlite3.Connection, card: dict) -> None:
    columns = [
        "run_id",
        "created",
        "task",
        "kind",
        "api_name",
        "model",
        "revision",
        "backend",
        "device",
        "dtype",
        "settings",
        "seed",
        "input_text",
        "input_files",
        "output_text",
        "output_files",
        "timings",
        "versions",
        "username",
        "stopped",
        "metrics",
    ]
    values = [json.dumps(card[c], ensure_ascii=False) if c in JSON_COLUMNS else card.get(c, "") for c in columns]
    conn.execute(f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", values)


def _card_of(row: sqlite3.Row) -> dict:
    card = {"app": APP, "card_version": CARD_VERSION}
    for key in row.keys():
        if key != "id":
            card[key] = json.loads(row[key]) if key in JSON_COLUMNS else row[key]
    return card


def _round_of(row: sqlite3.Row) -> dict:
    data = {key: row[key] for key in row.keys() if key != "id"}
    for key in ("contestant_a", "contestant_b", "timings"):
        data[key] = json.loads(data[key] or "{}")
    return data


def _check_card(card, name: str) -> dict:
    """The card, if it has the shape the app writes (its values are still not trusted: see replay_settings)."""
    if (
        not isinstance(card, dict)
        or card.get("app") != APP
        or not isinstance(card.get("settings"), dict)
        or not all(isinstance(card.get(key), str) and card[key] for key in ("api_name", "task", "run_id"))
        or not isinstance(card.get("model"), str)
        or not all(isinstance(card.get(key, []), list) for key in ("input_files", "output_files"))
    ):
        raise UserError(f"'{name}' is not a run card made by this app.")
    return card


MAX_PRESET_NAME = 80


def _preset_name(name) -> str:
    """A preset's name, trimmed; an empty or overlong one is refused with one sentence."""
    text = str(name or "").strip()
    if not text:
        raise UserError("Give the preset a name.")
    if len(text) > MAX_PRESET_NAME:
        raise UserError(f"A preset's name is at most {MAX_PRESET_NAME} characters; this one has {len(text)}.")
    return text


def _json(text: str, name: str):
    try:
        return json.loads(text)
    except ValueError:
        raise UserError(f"'{name}' is not valid JSON.") from None


def _plain(value):
    """Settings as JSON-ready data (numpy numbers and other oddities become plain values)."""
    return json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_files(path: Path) -> list[Path]:
    """The model file, or a folder's files (hidden ones, such as download caches, left out)."""
    if path.is_file():
        return [path]
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _manifest(path: Path) -> str:
    """A cheap fingerprint of a model file or folder: names, sizes and modification times."""
    digest = hashlib.sha256()
    for file in _model_files(path):
        stat = file.stat()
        digest.update(
            f"{file.name if file == path else file.relative_to(path).as_posix()}:{stat.st_size}:"
            f"{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def _files_revision(path: Path, manifest: str) -> str:
    """sha256 of the model's bytes (a folder: of each file's name and bytes); big folders use the manifest."""
    files = _model_files(path)
    if sum(f.stat().st_size for f in files) > CONTENT_HASH_LIMIT:
        return f"files:{manifest[:16]}"
    if path.is_file():
        return f"sha256:{_sha256_file(path)}"
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(path).as_posix()}\n{_sha256_file(file)}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def _hub_revision(model_id: str) -> str:
    """The commit of the cached snapshot of a hub model ("hub:unknown" when it is not cached)."""
    try:
        from huggingface_hub import constants

        ref = Path(constants.HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}" / "refs" / "main"
        return f"hub:{ref.read_text().strip()}" if ref.is_file() else "hub:unknown"
    except Exception:
        return "hub:unknown"
