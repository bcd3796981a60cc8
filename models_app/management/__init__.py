"""Shared by the management commands."""

import shlex
import sys
from pathlib import Path


def manage_command(*args: str) -> str:
    """How to run `manage.py ARGS` again from a new shell in the current folder.

    Names the interpreter that runs now (a checkout's `.venv/bin/python`, since a bare
    `python` there may be another one without Django), or `python` outside a virtualenv.
    """
    python = Path(sys.executable)
    if sys.prefix == sys.base_prefix:
        shown = "python"
    else:
        try:
            shown = str(python.relative_to(Path.cwd()))
        except ValueError:
            shown = str(python)
    return shlex.join([shown, "manage.py", *args])


__all__ = ["manage_command"]
