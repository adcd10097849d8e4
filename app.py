"""Start the generative AI playground: parse arguments, build the app, launch."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

AUTH_FILE_VARIABLE = "PLAYGROUND_AUTH_FILE"  # names a file of user:password lines
REMOTE_KEY_VARIABLE = "PLAYGROUND_REMOTE_KEY"  # the --remote-url server's API key
REMOTE_KEY_FILE_VARIABLE = "PLAYGROUND_REMOTE_KEY_FILE"  # names a file holding that key


def task_names() -> dict[str, str]:
    """The names and aliases --check, --preload and --remote-model accept (t2i, stt …), from the task specs."""
    from playground.tasks import default_tasks, task_names

    return task_names(default_tasks())


def remote_tasks() -> tuple[str, ...]:
    """The tasks a model on an OpenAI-compatible server can serve."""
    from playground.models.remote import REMOTE_BACKENDS

    return tuple(REMOTE_BACKENDS)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The generative AI playground: a local web UI for generative models.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1: this machine only).")
    parser.add_argument("--port", type=int, default=7860, help="Port to serve on (default 7860).")
    parser.add_argument("--data-dir", default="data", help="Folder for everything the app writes (default ./data).")
    parser.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda", "mps"],
        help="Compute device (default auto: cuda, then mps, then cpu).",
    )
    parser.add_argument(
        "--preload", default="", help="Comma-separated tasks to load at start: chat,t2i,caption,stt,tts."
    )
    parser.add_argument("--share", action="store_true", help="Open a public Gradio share link (off by default).")
    parser.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="USER:PASSWORD",
        help=f"Require this login for the page and the API (repeatable); {AUTH_FILE_VARIABLE} may "
        "name a file of user:password lines instead.",
    )
    parser.add_argument(
        "--admin",
        action="append",
        default=[],
        metavar="USER",
        help="An --auth login that sees, restores, exports and deletes every login's runs in History "
        "(repeatable; every other login sees only its own).",
    )
    parser.add_argument(
        "--shared-history",
        action="store_true",
        help="Under --auth, every login sees every run in History (default: each login its own).",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="append",
        default=[],
        metavar="MODEL_ID",
        help="Let this model (hub id or path) run the code in its repository (repeatable; off for every other model).",
    )
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="Load pickle-only checkpoints (.bin/.pt/.ckpt), which can run code; safetensors only otherwise.",
    )
    parser.add_argument(
        "--max-memory",
        default=None,
        metavar="SIZE",
        help="Memory loaded models may take, like 8GB (default: half the RAM); past it the least "
        "recently used model is unloaded.",
    )
    parser.add_argument(
        "--upload-quota",
        default="1GB",
        metavar="SIZE",
        help="What one client (a login, else an address) may upload per hour, like 1GB (the default); "
        "each file is also capped at 200 MB.",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="Private mode: keep no history (no run log, output files or upload copies are written).",
    )
    parser.add_argument(
        "--deck",
        metavar="FILE.yaml",
        help="a demo deck: an ordered list of steps (tab, inputs, settings, one sentence each) that → or Space "
        "runs one by one; e.g. assets/decks/tour.yaml",
    )
    parser.add_argument(
        "--presenter",
        action="store_true",
        help="Presenter mode: large type, essential controls first, every tab's model (or --preload's) "
        "loaded at start with a ready line.",
    )
    parser.add_argument(
        "--remote-url",
        action="append",
        default=[],
        metavar="URL",
        help="An OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, LocalAI), like "
        "http://127.0.0.1:8080/v1, whose models are offered first in their tabs (repeatable).",
    )
    parser.add_argument(
        "--remote-model",
        action="append",
        default=[],
        metavar="[TASK=][URL#]NAME",
        help="A model on a --remote-url server, for chat unless TASK is stt, tts or t2i (repeatable; "
        "with several servers, name the server as URL#NAME; the first for a task is its "
        "default); a server no --remote-model names is offered for chat with its only model.",
    )
    parser.add_argument(
        "--remote-key",
        default=None,
        metavar="KEY",
        help=f"The API key sent to the --remote-url servers; prefer {REMOTE_KEY_VARIABLE} or "
        f"{REMOTE_KEY_FILE_VARIABLE} (arguments are visible to other users of the machine).",
    )
    parser.add_argument(
        "--allow-remote",
        action="append",
        default=[],
        metavar="URL_PREFIX",
        help="Also let users pick models on servers under this URL prefix, like http://10.0.0.5:8000 "
        "(repeatable); the app sends requests to no server but these and --remote-url's. A "
        "link-local address (169.254.x.x, fe80::) is used only when given itself.",
    )
    parser.add_argument(
        "--model-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="Also load local models typed as paths from under this folder (repeatable); otherwise "
        "only the data folder, assets/models and the Hugging Face cache are read.",
    )
    parser.add_argument(
        "--check",
        nargs="?",
        const="all",
        default=None,
        metavar="TASKS",
        help="Check that each tab's default model is present, loads and runs a tiny input, then exit "
        "(non-zero if not); optionally only the comma-separated TASKS.",
    )
    args = parser.parse_args(argv)
    try:
        args.auth = read_logins(args.auth, os.environ.get(AUTH_FILE_VARIABLE))
        check_history_access(args)
        if args.max_memory is not None:
            from playground.memory import parse_size

            args.max_memory = parse_size(args.max_memory)
        args.upload_quota = upload_quota_bytes(args.upload_quota)
        args.remote_models, args.remote_key = remote_models(
            args.remote_url, args.remote_model, args.remote_key, os.environ
        )
        args.allow_remote = allowed_prefixes(args.allow_remote)
        args.model_dir = model_dirs(args.model_dir)
    except ValueError as exc:
        parser.error(str(exc))
    names = task_names()
    for flag, value in (("--preload", args.preload), ("--check", "" if args.check in (None, "all") else args.check)):
        unknown = [t for t in filter(None, value.split(",")) if t.strip() not in names]
        if unknown:
            parser.error(f"unknown task in {flag}: {', '.join(unknown)}; use {', '.join(sorted(names))}")
    return args


def remote_models(urls: list[str], models: list[str], key: str | None, environ) -> tuple[list, str | None]:
    """The (task, RemoteId) pairs that --remote-url and --remote-model name, and the key for those servers:
    --remote-key, else PLAYGROUND_REMOTE_KEY, else the file PLAYGROUND_REMOTE_KEY_FILE names."""
    if not urls:
        if models or key:
            raise ValueError(f"{'--remote-model' if models else '--remote-key'} needs --remote-url")
        return [], None
    from playground.backends.openai_compat import is_remote_id, read_key_file, remote_id

    servers = [remote_id(url, "").base_url for url in urls]
    pairs, named = [], set()
    for item in models:
        task, sep, name = ("chat", "", item) if is_remote_id(item) else item.partition("=")
        if not sep:
            task, name = "chat", item
        names, remote = task_names(), remote_tasks()
        task = names.get(task.strip())
        if task not in remote:
            shortest = [min((n for n, t in names.items() if t == r), key=len) for r in remote]
            raise ValueError(f"--remote-model {item}: the task must be one of {', '.join(shortest)}")
        url, _, name = name.partition("#") if is_remote_id(name) else ("", "", name)
        if not url and len(servers) > 1:
            raise ValueError(f"--remote-model {item}: name its server as URL#NAME when there are several --remote-url")
        server = remote_id(url, "").base_url if url else servers[0]
        if server not in servers:
            raise ValueError(f"--remote-model {item}: {server} is not one of the --remote-url servers")
        pairs.append((task, remote_id(server, name)))
        named.add(server)
    pairs += [("chat", remote_id(server, "")) for server in servers if server not in named]
    if not key and environ.get(REMOTE_KEY_VARIABLE, "").strip():
        key = environ[REMOTE_KEY_VARIABLE].strip()
    elif not key and environ.get(REMOTE_KEY_FILE_VARIABLE):
        key = read_key_file(environ[REMOTE_KEY_FILE_VARIABLE])
    return pairs, key


def allowed_prefixes(prefixes: list[str]) -> list[str]:
    """The --allow-remote prefixes, each checked (a bad one is named)."""
    from playground.backends.openai_compat import parse_prefix

    for prefix in prefixes:
        parse_prefix(prefix)
    return prefixes


def model_dirs(folders: list[str]) -> list[Path]:
    """The --model-dir folders, resolved; each must be a folder."""
    paths = [Path(f).expanduser().resolve() for f in folders]
    for given, path in zip(folders, paths):
        if not path.is_dir():
            raise ValueError(f"--model-dir {given} is not a folder")
    return paths


def check_history_access(args: argparse.Namespace) -> None:
    """--admin and --shared-history only mean something with logins, and an admin must be one of them."""
    if (args.admin or args.shared_history) and not args.auth:
        flag = "--admin" if args.admin else "--shared-history"
        raise ValueError(f"{flag} needs --auth: without logins everyone who can reach the app shares History")
    unknown = [user for user in args.admin if user not in {u for u, _ in args.auth}]
    if unknown:
        raise ValueError(f"--admin {unknown[0]} is not an --auth login")


def upload_quota_bytes(text: str) -> int:
    from playground.memory import parse_size

    try:
        return parse_size(text)
    except ValueError:
        raise ValueError(f"--upload-quota {text} is not a size; use a number with a unit, like 1GB or 500MB") from None


def read_logins(pairs: list[str], auth_file: str | None) -> list[tuple[str, str]]:
    """The (user, password) logins from ``--auth`` and the file named by PLAYGROUND_AUTH_FILE."""
    lines = [(f"--auth {p.split(':', 1)[0]}:…", p) for p in pairs]
    if auth_file:
        try:
            text = Path(auth_file).expanduser().read_text()
        except OSError as exc:
            raise ValueError(
                f"{AUTH_FILE_VARIABLE} names {auth_file}, which cannot be read ({exc.strerror})."
            ) from None
        lines += [
            (f"line {n} of {auth_file}", line.strip())
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    logins = []
    for where, line in lines:
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(f"{where} is not a user:password login.")
        logins.append((user.strip(), password))
    return logins


def main(argv=None) -> None:
    args = parse_args(argv)
    data_dir = Path(args.data_dir).expanduser().resolve()
    from playground.history import HistoryAccess, open_history, unwritable_reason

    problem = None if args.no_history else unwritable_reason(data_dir)
    if problem or args.no_history:  # Gradio's uploads and results go to a private folder, removed at exit
        scratch = tempfile.mkdtemp(prefix="playground-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        os.environ.setdefault("GRADIO_TEMP_DIR", scratch)
    else:
        os.environ.setdefault("GRADIO_TEMP_DIR", str(data_dir / "tmp"))  # uploads and outputs stay in --data-dir
    if problem:
        print(
            f"The data folder {data_dir} cannot be written ({problem}): history is off; results are still shown.",
            file=sys.stderr,
            flush=True,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from playground.devices import DeviceChoice
    from playground.errors import UserError
    from playground.models.base import LoadPolicy
    from playground.registry import Registry

    policy = LoadPolicy(trust_remote_code=frozenset(args.trust_remote_code), allow_pickle=args.allow_pickle)
    registry = Registry(
        data_dir,
        DeviceChoice(args.device),
        policy=policy,
        max_memory=args.max_memory,
        model_dirs=args.model_dir,
        remote_servers=args.allow_remote,
    )
    for task, remote in reversed(args.remote_models):  # each offer goes first: the first named ends up the default
        registry.offer_remote(task, remote, args.remote_key)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.auth:
        print(
            f"Serving on {args.host} without --auth: anyone who can reach this address can use the app and "
            "see, restore and delete every run in History.",
            file=sys.stderr,
            flush=True,
        )
    if args.check is not None:
        from playground.selfcheck import report

        names = task_names()
        tasks = None if args.check == "all" else [names[t.strip()] for t in args.check.split(",") if t.strip()]
        sys.exit(report(registry, tasks))

    from playground.ui import login_throttle, upload_quota
    from playground.ui.app import build_app, page_css, page_js
    from playground.ui.presenter import theme

    names = task_names()
    preload = [names[t.strip()] for t in args.preload.split(",") if t.strip()]
    preloader = None
    if args.presenter:  # load in the background: the page is up at once and says which tabs are ready
        from playground.preload import Preloader

        preloader = Preloader(registry, preload or list(registry.catalog))
        preloader.start()
    for name in [] if args.presenter else preload:
        print(f"Preloading {name}…", flush=True)
        try:
            registry.load(name)
        except UserError as exc:
            sys.exit(f"Could not preload {name}: {exc}")
    run_log = open_history(data_dir, enabled=not args.no_history)
    access = HistoryAccess(per_login=bool(args.auth) and not args.shared_history, admins=frozenset(args.admin))
    deck = None
    if args.deck:
        from playground.decks import load_deck

        try:
            deck = load_deck(args.deck, registry)
        except UserError as exc:
            sys.exit(str(exc))
    demo = build_app(registry, run_log, presenter_mode=args.presenter, preloader=preloader, access=access, deck=deck)
    demo.queue(default_concurrency_limit=2)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        css=page_css(),
        js=page_js(),
        theme=theme() if args.presenter else None,
        max_file_size="200mb",
        footer_links=[] if args.presenter else ["api"],
        allowed_paths=run_log.served_paths(),
        auth=args.auth or None,
        app_kwargs={"middleware": [*login_throttle.middleware(), *upload_quota.middleware(args.upload_quota)]},
    )


if __name__ == "__main__":
    main()
