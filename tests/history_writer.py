"""A run-log writer process for the history tests: records real runs as fast as it can.

usage: python tests/history_writer.py DATA_DIR RUNS THREADS   (RUNS -1: until killed)

Prints one line "kept <n>" per run it has recorded (after the commit), and "failed <note>" for
any run it could not keep, so the test can tell what must have survived a kill.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from PIL import Image

    from playground.devices import Device
    from playground.history import RunLog
    from playground.models.text_to_image import DiffusersText2Image
    from playground.registry import default_catalog

    data_dir, runs, threads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    spec = default_catalog()["text_to_image"].models[0]
    wrapper = DiffusersText2Image(spec.id, str(spec.locate()), Device("cpu", "float32"), data_dir / "cache")
    run_log = RunLog(data_dir)
    lock = threading.Lock()
    kept = [0]

    def write(worker: int) -> None:
        i = 0
        while runs < 0 or i < runs:
            colour = ((worker * 40 + i * 7) % 256, (i * 13) % 256, 90)
            card = run_log.record(
                "text_to_image",
                wrapper,
                wrapper.Options.parse(steps=5),
                seed=i,
                settings={"prompt": f"writer {worker} run {i}", "negative_prompt": ""},
                outputs=[Image.new("RGB", (64, 64), colour)],
                seconds=0.01,
            )
            with lock:
                if card is None:
                    print(f"failed {run_log.note}", flush=True)
                else:
                    kept[0] += 1
                    print(f"kept {kept[0]}", flush=True)
            i += 1

    workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()


if __name__ == "__main__":
    main()
