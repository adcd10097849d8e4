"""Seeds: -1 means "draw one", and the drawn seed is reported so any result can be made again."""

from __future__ import annotations

import random

from playground.errors import UserError

MAX_SEED = 2**32 - 1


def resolve_seed(seed) -> int:
    """-1 (or empty) draws a random seed; anything else must be a whole number in range."""
    if seed is None or seed == "":
        seed = -1
    try:
        value = float(seed)
    except (TypeError, ValueError):
        raise UserError(f"Seed must be a whole number, got {seed!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UserError(f"Seed must be a finite whole number, got {seed}.")
    if value != int(value):
        raise UserError(f"Seed must be a whole number, got {seed}.")
    value = int(value)
    if value == -1:
        return random.SystemRandom().randint(0, MAX_SEED)
    if not 0 <= value <= MAX_SEED:
        raise UserError(f"Seed must be -1 (random) or between 0 and {MAX_SEED}, got {value}.")
    return value
