"""Make the packages named in PLAYGROUND_HIDE_PACKAGES look uninstalled, for tests of "what if it is missing".

Put this folder on PYTHONPATH: Python imports ``sitecustomize`` at start-up, and this one swaps the path finder
for one that cannot see the hidden packages (their modules and their installed metadata), exactly as if they
had been uninstalled. Nothing else changes.
"""

import os
import sys
from importlib.machinery import PathFinder

HIDDEN = {name.strip() for name in os.environ.get("PLAYGROUND_HIDE_PACKAGES", "").split(",") if name.strip()}


def _normal(name: str) -> str:
    return name.lower().replace("-", "_")


class HidingPathFinder:
    """PathFinder, blind to the hidden top-level packages."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname.split(".")[0] in HIDDEN:
            return None
        return PathFinder.find_spec(fullname, path, target)

    @classmethod
    def invalidate_caches(cls):
        PathFinder.invalidate_caches()

    @classmethod
    def find_distributions(cls, *args, **kwargs):
        hidden = {_normal(h) for h in HIDDEN}
        for dist in PathFinder.find_distributions(*args, **kwargs):
            if _normal(dist.metadata["Name"] or "") not in hidden:
                yield dist


if HIDDEN:
    sys.meta_path[:] = [HidingPathFinder if finder is PathFinder else finder for finder in sys.meta_path]
