"""What a sweep shows while it runs: nothing, a line on a terminal's stderr, or a display in a notebook."""

from __future__ import annotations

import html
import math
import sys
import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import SeedSweep

_PROGRESS_EVERY_S = 0.1  # the progress display is updated at most this often (and after the last seed)


class Progress:
    """What a sweep shows while it runs: nothing, by default."""

    def start(self, total: int) -> None:
        pass

    def step(self, done: int, seed: int) -> None:
        pass

    def finish(self, sweep: SeedSweep) -> None:
        pass


def _progress_line(done: int, total: int, seed: int) -> str:
    """``seedmagic: 3 of 16 seeds ran; running seed 3``; without the seed once every seed ran (``seed`` -1)."""
    return f"seedmagic: {done} of {total} seeds ran" + (f"; running seed {seed}" if seed >= 0 else "")


class TextProgress(Progress):
    """A line on ``stream`` (the terminal's stderr), rewritten in place; cleared when the sweep ends. Nothing where
    the stream is not a terminal (redirected to a file or a pipe), which would keep every form of the line."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self.total = 0
        self.shown = 0
        self.last = -math.inf

    def start(self, total: int) -> None:
        self.total = total

    def step(self, done: int, seed: int) -> None:
        now = time.monotonic()
        if done and done < self.total and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        self._write(_progress_line(done, self.total, seed))

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        try:
            terminal = stream.isatty()
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            terminal = False
        if not terminal:
            return
        stream.write("\r" + text.ljust(self.shown))
        stream.flush()
        self.shown = len(text)

    def finish(self, sweep: SeedSweep) -> None:
        if self.shown:
            stream = self.stream or sys.stderr
            stream.write("\r" + " " * self.shown + "\r")
            stream.flush()


class NotebookProgress(Progress):
    """The progress in a notebook: a display that shows a bar and a line of text while the sweep runs, and is emptied
    when it ends, so that the saved notebook keeps no progress, only an empty display (no widget either: a runner
    that saves widget state, nbclient, would keep it). It starts empty too: a runner that ignores display updates
    (nbval) sees the very display the saved notebook holds, on every run."""

    def __init__(self) -> None:
        self.handle: Any = None
        self.total = 0
        self.last = -math.inf

    def start(self, total: int) -> None:
        from IPython.display import display

        self.total = total
        self.handle = display({}, raw=True, display_id=True)  # type: ignore[no-untyped-call]  # unannotated

    def step(self, done: int, seed: int) -> None:
        now = time.monotonic()
        if done and done < self.total and now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        line = _progress_line(done, self.total, seed)
        bar = f"<progress value='{done}' max='{self.total}'></progress> {html.escape(line)}"
        self.handle.update({"text/plain": line, "text/html": bar}, raw=True)

    def finish(self, sweep: SeedSweep) -> None:
        if self.handle is not None:
            self.handle.update({}, raw=True)
