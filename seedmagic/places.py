"""Where code lives: the directories that hold libraries' own code, and a file's place shortened to fit a width.

The census and ``--check`` name the user's code that made a generator, passing over the frames of installed
libraries and the standard library; the status, check and trace reports show a path in the columns they have.
"""

from __future__ import annotations

import functools
import os


@functools.cache
def library_dirs() -> tuple[str, ...]:
    """The directories whose frames are a library's own: the census names the user's code that led to them. The
    longest first, so that a file is shown from its package: site-packages lies inside the virtual environment. Read
    when the census first meets a new place, not at ``%load_ext`` (sysconfig reads the build's configuration)."""
    import sysconfig

    paths = sysconfig.get_paths()
    found = {
        os.path.join(path, "") for key in ("stdlib", "platstdlib", "purelib", "platlib") if (path := paths.get(key))
    }
    return tuple(sorted(found, key=len, reverse=True))


@functools.cache
def library_files() -> tuple[str, ...]:
    """What the file name of a library's own code starts with: ``library_dirs``, and ``<frozen `` for frozen modules."""
    return (*library_dirs(), "<frozen ")


def library_place(file: str, line: int) -> str:
    """``file:line``, shown from its package where the file lies in a library directory (``scipy/stats/x.py:12``)."""
    for directory in library_dirs():
        if file.startswith(directory):
            file = file[len(directory) :]
            break
    return f"{file}:{line}"


_ELLIPSIS = "..."


def short_path(place: str, width: int) -> str:
    """A file's path (``place``, with its ``:line``) in at most ``width`` columns: as it is where it fits, else from
    the working directory or as ``~/``, else its last directories after ``.../``; its name and line always stay,
    shortened in the middle only where the name alone is too long."""
    if len(place) <= width:
        return place
    for directory, shown in ((os.getcwd(), ""), (os.path.expanduser("~"), "~" + os.sep)):
        directory = os.path.join(directory, "")
        if len(directory) > 1 and place.startswith(directory):
            place = shown + place[len(directory) :]
            if len(place) <= width:
                return place
            break
    head, _, name = place.rpartition(os.sep)
    prefix = _ELLIPSIS + os.sep
    if len(prefix) + len(name) > width:  # the name alone does not fit: keep its start, and its end with the line
        room = max(width - len(prefix) - len(_ELLIPSIS), 2)
        return prefix + name[: room // 2] + _ELLIPSIS + name[-(room - room // 2) :]
    kept = name
    for directory in reversed(head.split(os.sep)):
        if len(prefix) + len(directory) + len(os.sep) + len(kept) > width:
            break
        kept = directory + os.sep + kept
    return prefix + kept
