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

TASK_ALIASES = {"chat": "chat", "t2i": "text_to_image", "text_to_image": "text_to_image", "image": "text_to_image",
                "caption": "captioning", "captioning": "captioning", "stt": "speech_to_text",
                "speech_to_text": "speech_to_text", "tts": "text_to_speech", "text_to_speech": "text_to_speech"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The generative AI playground: a local web UI for generative models.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1: this machine only).")
    parser.add_argument("--port", type=int, default=7860, help="Port to serve on (default 7860).")
    parser.add_argument("--data-dir", default="data", help="Folder for everything the app writes (default ./data).")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="Compute device (default auto: cuda, then mps, then cpu).")
    parser.add_argument("--preload", default="", help="Comma-separated tasks to load at start: chat,t2i,caption,stt,tts.")
    parser.add_argument("--share", action="store_true", help="Open a public Gradio share link (off by default).")
    parser.add_argument("--no-history", action="store_true",
                        help="Private mode: keep no history (no run log, output files or upload copies are written).")
    parser.add_argument("--presenter", action="store_true",
                        help="Presenter mode: large type, essential controls first, every tab's model (or --preload's) "
                             "loaded at start with a ready line.")
    parser.add_argument("--check", nargs="?", const="all", default=None, metavar="TASKS",
                        help="Check that each tab's default model is present, loads and runs a tiny input, then exit "
                             "(non-zero if not); optionally only the comma-separated TASKS.")
    args = parser.parse_args(argv)
    for flag, value in (("--preload", args.preload), ("--check", "" if args.check in (None, "all") else args.check)):
        unknown = [t for t in filter(None, value.split(",")) if t.strip() not in TASK_ALIASES]
        if unknown:
            parser.error(f"unknown task in {flag}: {', '.join(unknown)}; use {', '.join(sorted(TASK_ALIASES))}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    data_dir = Path(args.data_dir).expanduser().resolve()
    from playground.history import open_history, unwritable_reason

    problem = None if args.no_history else unwritable_reason(data_dir)
    if problem or args.no_history:  # Gradio's uploads and results go to a private folder, removed at exit
        scratch = tempfile.mkdtemp(prefix="playground-")
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        os.environ.setdefault("GRADIO_TEMP_DIR", scratch)
    else:
        os.environ.setdefault("GRADIO_TEMP_DIR", str(data_dir / "tmp"))  # uploads and outputs stay in --data-dir
    if problem:
        print(f"The data folder {data_dir} cannot be written ({problem}): history is off; results are still "
              "shown.", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from playground.devices import DeviceChoice
    from playground.errors import UserError
    from playground.registry import Registry

    registry = Registry(data_dir, DeviceChoice(args.device))
    if args.check is not None:
        from playground.selfcheck import report

        tasks = None if args.check == "all" else [TASK_ALIASES[t.strip()] for t in args.check.split(",") if t.strip()]
        sys.exit(report(registry, tasks))

    from playground.ui.app import build_app, page_css
    from playground.ui.presenter import theme

    preload = [TASK_ALIASES[t.strip()] for t in args.preload.split(",") if t.strip()]
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
    demo = build_app(registry, run_log, presenter_mode=args.presenter, preloader=preloader)
    demo.queue(default_concurrency_limit=2)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, css=page_css(),
                theme=theme() if args.presenter else None, max_file_size="200mb",
                footer_links=[] if args.presenter else ["api"], allowed_paths=run_log.served_paths())


if __name__ == "__main__":
    main()
