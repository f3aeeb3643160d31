"""What a plot shows: the figures a run makes, compared by what they draw and set aside before the next run.

matplotlib is read only where the user imported it. Two runs' artists are other objects, with other figure numbers,
automatic labels and callbacks, so a figure is compared by its rendering (its pixels at its own dpi, as a saved PNG
shows them), and any other artist by the rendering of the figure it is on. The figures a run made are closed in
pyplot before the next run, so that each run draws into figures of its own and the notebook shows what one plain run
shows. A figure from before the cell that a run draws into cannot be put back: ``drawn_into`` names it.
"""

from __future__ import annotations

import contextlib
import io
import sys
import types
from typing import Any, NamedTuple


def _pyplot() -> types.ModuleType | None:
    return sys.modules.get("matplotlib.pyplot")


def is_artist(value: Any) -> bool:
    """A matplotlib artist (a figure, axes, line, text...), where matplotlib is imported."""
    artist = sys.modules.get("matplotlib.artist")
    return artist is not None and isinstance(value, artist.Artist)


def root_figure(artist: Any) -> Any:
    """The figure an artist is drawn on (the outermost, for a subfigure's), or None where it is on none."""
    try:
        figure = artist.get_figure(root=True)
    except TypeError:  # matplotlib before 3.10: ``figure`` is the root
        figure = getattr(artist, "figure", None)
    except AttributeError:
        return None
    return figure


class Rendering(NamedTuple):
    """A figure's pixels as the Agg renderer draws them (RGBA, row by row), and its size in pixels."""

    size: tuple[int, int]
    pixels: bytes


def render(figure: Any) -> Rendering:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="rgba", dpi=figure.dpi)
    width, height = (round(side) for side in figure.bbox.size)
    return Rendering((width, height), buffer.getvalue())


def rendering_difference(a: Any, b: Any) -> str | None:
    """How two figures' renderings differ, in a few words, or None where they draw the same pixels."""
    first, second = render(a), render(b)
    if first.size != second.size:
        return f"a figure of {first.size[0]}x{first.size[1]} pixels vs {second.size[0]}x{second.size[1]}"
    if first.pixels == second.pixels:
        return None
    import numpy  # matplotlib needs it: imported already

    x = numpy.frombuffer(first.pixels, numpy.uint8).reshape(-1, 4)
    y = numpy.frombuffer(second.pixels, numpy.uint8).reshape(-1, 4)
    count = int((x != y).any(axis=1).sum())
    return f"what the figure draws differs ({count} of {len(x)} pixels)"


class Figures:
    """pyplot's figures before a cell, and those each run makes: closed after the run, kept for a comparison."""

    def __init__(self, pyplot: types.ModuleType, *, made_before: bool = True) -> None:
        self.pyplot = pyplot
        self.current: Any = None
        self.before: list[Any] = []
        self.reached: dict[int, Any] = {}  # figures from before the cell that the notebook's objects reach
        for number in pyplot.get_fignums() if made_before else ():
            if self.current is None:
                self.current = pyplot.gcf()  # there is one: it creates none
            self.before.append(pyplot.figure(number))
        if self.current is not None:
            pyplot.figure(self.current)
        for figure in self.before:
            self.reached[id(figure)] = figure

    @classmethod
    def take(cls, *, made_before: bool = True) -> Figures | None:
        """pyplot's figures now, where it is imported; with ``made_before=False`` (pyplot imported by a run), none
        of them is from before the cell."""
        pyplot = _pyplot()
        return None if pyplot is None else cls(pyplot, made_before=made_before)

    def reach(self, artist: Any) -> None:
        """An artist the notebook's objects hold: its figure is watched for a run drawing into it."""
        figure = root_figure(artist)
        if figure is not None:
            self.reached.setdefault(id(figure), figure)

    def settle(self) -> None:
        """Draw the figures from before the cell that are waiting to be drawn, so that a change shows (``stale``)."""
        for figure in self.reached.values():
            if figure.stale:
                with contextlib.suppress(Exception):  # a figure that cannot draw: not watched
                    figure.draw_without_rendering()

    def drawn_into(self) -> list[str]:
        """The figures from before the cell that the last run changed."""
        return [_label(figure) for figure in self.reached.values() if figure.stale]

    def made(self) -> list[Any]:
        """The figures pyplot holds that the last run made, in the order of their numbers."""
        pyplot, before = self.pyplot, {id(figure) for figure in self.before}
        current = pyplot.gcf() if pyplot.get_fignums() else None
        made = [figure for figure in map(pyplot.figure, pyplot.get_fignums()) if id(figure) not in before]
        if current is not None:
            pyplot.figure(current)
        return made

    def set_aside(self) -> list[Any]:
        """Close the figures the last run made (they are kept, for a comparison) and make current again the figure
        that was current before the cell."""
        made = self.made()
        for figure in made:
            self.pyplot.close(figure)
        if self.current is not None and self.pyplot.fignum_exists(self.current.number):
            self.pyplot.figure(self.current)
        return made


def _label(figure: Any) -> str:
    number = getattr(figure, "number", None)
    label = figure.get_label() if hasattr(figure, "get_label") else ""
    return f"figure {number}" + (f" ({label!r})" if label else "") if number is not None else "a figure"


__all__ = ["Figures", "Rendering", "is_artist", "render", "rendering_difference", "root_figure"]
