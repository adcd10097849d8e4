"""Checks of user text shared by every path (tabs, API, compare, chains): one sentence each, naming the value."""

from __future__ import annotations

from playground.errors import UserError


def require_text(value, what: str, limit: int) -> str:
    """Reject empty, non-text or over-long text with a plain sentence."""
    if value is None or not isinstance(value, str):
        raise UserError(f"The {what} must be text.")
    if not value.strip():
        raise UserError(f"The {what} is empty: type something first.")
    if len(value) > limit:
        raise UserError(f"The {what} is {len(value):,} characters long; the limit is {limit:,}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: JSON can carry them, tokenizers and Piper cannot
        raise UserError(f"The {what} holds characters that are not valid Unicode (lone surrogates).") from None
    return value
