"""Errors a user can cause and understand. The command line prints them as one line, never a traceback."""


class CaigouError(Exception):
    """An expected condition with a message meant for the user (bad date, unknown source, unreachable database)."""


class NormaliseError(CaigouError, ValueError):
    """A portal's value (an amount, a date) that cannot be read with certainty: ``pipelines.money`` and
    ``pipelines.normalise`` raise it rather than guess."""
