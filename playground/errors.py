"""The one error type users see: a plain sentence, never a stack trace."""


class UserError(ValueError):
    """A problem with the user's input or set-up, stated in one plain sentence."""
