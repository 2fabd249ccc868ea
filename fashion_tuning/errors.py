"""The one exception type for problems a user can cause and fix."""


class UserError(Exception):
    """A problem with the user's flags, data or folders; the CLI prints it and exits 2."""


class NoCompletedTrial(Exception):
    """The search ended without a single completed trial; nothing can be retrained."""
