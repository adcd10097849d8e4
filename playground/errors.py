"""The one error type users see: a plain sentence, never a stack trace."""

MARKUP = str.maketrans({c: "?" for c in "<>&\"`[]*"})  # what a page could read as HTML or Markdown


class UserError(ValueError):
    """A problem with the user's input or set-up, stated in one plain sentence."""


def shown(value: str, limit: int = 100) -> str:
    """A value the user typed, as a sentence may quote it: one line, at most ``limit`` characters, and no
    characters a page could read as markup (error texts are shown in toasts and Markdown status lines)."""
    text = " ".join(str(value).split()).translate(MARKUP)
    text = "".join(c for c in text if c.isprintable())
    return text if len(text) <= limit else text[: limit - 1] + "…"
