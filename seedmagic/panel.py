"""``%seedpanel``: a live panel of the RNG states and the determinism flags, refreshed after every cell.

Everything the panel shows comes from ``engine.status()``; its controls call the same engine methods as the magics.
The widget tree is built once; a refresh only sets the values that changed. ipywidgets is imported only when a panel
is built, and a refresh imports nothing.

Without a widget front end (terminal IPython, a shell with no kernel) ``show`` prints the text table of ``%seed``;
the panel's own ``text/plain`` is that table too, for front ends that cannot draw widgets.
"""

from __future__ import annotations

import contextlib
import functools
import html
import sys
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .engine import Engine, InvalidArgument, Status, parse_seed, random_seed

#: Inline styles only use JupyterLab's theme variables, so that the panel reads well in light and dark themes.
_FONT = "font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1)"
_CODE = "font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size)"
_DIM = "color: var(--jp-ui-font-color2)"
_OK = "color: var(--jp-success-color1)"
_BAD = "color: var(--jp-error-color1); font-weight: bold"
_MOVED = "color: var(--jp-warn-color0); font-weight: bold"
_MOVED_ROW = "background: color-mix(in srgb, var(--jp-warn-color1) 22%, transparent)"
_CELL = "padding: 2px 10px 2px 0; text-align: left; vertical-align: top; border: none"
_HEAD = f"{_CELL}; {_DIM}; font-weight: normal; border-bottom: 1px solid var(--jp-border-color2)"
_VERDICTS = {True: ("ok", _OK), False: ("NOT", _BAD), None: ("-", _DIM)}


@functools.lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    return html.escape(text)


def _e(value: Any) -> str:
    # Names, versions, states and reasons repeat from one refresh to the next: escape each text once.
    return _escaped(str(value))


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__


def _table(title: str, header: Iterable[str], rows: Iterable[tuple[str, Iterable[str]]]) -> str:
    """An HTML table; each row is (its style, its cells' HTML)."""
    head = "".join(f'<th style="{_HEAD}">{_e(cell)}</th>' for cell in header)
    body = "".join(
        f'<tr style="{style}">' + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in cells) + "</tr>"
        for style, cells in rows
    )
    return (
        f'<div style="{_FONT}"><div style="{_DIM}; margin: 6px 0 2px 0">{_e(title)}</div>'
        f'<table style="border-collapse: collapse; background: transparent"><tr>{head}</tr>{body}</table></div>'
    )


def _header(status: Status) -> str:
    seed = "none (use %seed N)" if status.seed is None else f"<b>{status.seed}</b>"
    per_rank = getattr(status, "per_rank", None)
    if per_rank is not None:
        base, rank = per_rank
        seed += f" (derived from {base} for {_e(rank or 'rank 0: no parallel job found')})"
    parts = [f"session seed {seed}", f"mode <b>{_e(status.mode)}</b>"]
    if status.cell_seed is not None:
        parts.append(f"this cell's seed {status.cell_seed}")
    if status.last_cell_seed is not None:
        parts.append(f"last cell got <b>{status.last_cell_seed}</b>")
    deterministic = ("on (warn only)" if status.warn_only else "on") if status.deterministic else "off"
    parts.append(f"deterministic mode <b>{deterministic}</b>")
    return (
        f'<div style="{_FONT}"><span style="font-size: var(--jp-ui-font-size2); font-weight: bold">seedmagic</span>'
        f"&emsp;{' &middot; '.join(parts)}</div>"
    )


def _libraries(status: Status, previous: dict[str, dict[str, str]]) -> tuple[str, list[str]]:
    """The libraries table, and the libraries whose state moved since ``previous`` (the fingerprints last shown)."""
    rows, moved = [], []
    for lib in status.libraries:
        before = previous.get(lib.name) or {}
        changed = [stream for stream, value in lib.streams.items() if stream in before and before[stream] != value]
        streams = "<br>".join(
            f'<span style="{_DIM}">{_e(stream)}</span> '
            f'<span style="{_CODE}; {_MOVED if stream in changed else ""}">{_e(value)}</span>'
            for stream, value in lib.streams.items()
        )
        if changed:
            moved.append(lib.name)
            streams += f' <span style="{_MOVED}">&#9679; moved</span>'
        for text, style in ((lib.note, f"{_DIM}; font-style: italic"), (lib.error, "color: var(--jp-error-color1)")):
            if text:
                streams += f'{"<br>" if streams else ""}<span style="{style}">{_e(text)}</span>'
        name = f'<b>{_e(lib.name)}</b> <span style="{_DIM}">{_e(lib.version or "")}</span>'
        state = _e(lib.state) if lib.imported or lib.on_import else f'<span style="{_DIM}">{_e(lib.state)}</span>'
        rows.append((_MOVED_ROW if changed else "", (name, state, streams)))
    return _table("generators", ("library", "state", "fingerprint"), rows), moved


def _flags(status: Status) -> str:
    rows = []
    for flag in status.flags:
        verdict, style = _VERDICTS.get(flag.ok, ("-", _DIM))
        cells = (
            f'<span style="{_CODE}">{_e(flag.name)}</span>',
            _e(flag.value),
            f'<span style="{style}">{verdict}</span>',
            f'<span style="{_DIM}">{_e(flag.note)}</span>',
        )
        rows.append(("", cells))
    return _table("determinism flags", ("flag", "value", "verdict", "why"), rows)


def _message(text: str, error: bool = False) -> str:
    if not text:
        return ""
    color = "var(--jp-error-color1)" if error else "var(--jp-ui-font-color2)"
    return f'<div style="{_FONT}; color: {color}; white-space: pre-line; margin-top: 4px">{_e(text)}</div>'


@functools.cache
def _box_class() -> type:
    import ipywidgets

    class PanelBox(ipywidgets.VBox):
        """The panel's container. Its text/plain is the ``%seed`` table, for front ends that cannot draw widgets."""

        text: Callable[[], str] | None = None

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
            data = super()._repr_mimebundle_(**kwargs)
            if data is not None and self.text is not None:
                try:
                    data["text/plain"] = self.text()
                except Exception as exc:  # the view still shows; the text says why the table is missing
                    data["text/plain"] = f"seedmagic panel: {_error(exc)}"
            return data

    return PanelBox


class SeedPanel:
    """The widget panel for one engine. ``shell`` (optional) refreshes it after each of its cells.

    ``widget`` is the ipywidgets container to display. ``close()`` closes it and stops the refreshing; closing the
    widget (from Python or from the front end) does the same.
    """

    def __init__(self, engine: Engine, shell: Any = None) -> None:
        import ipywidgets as w

        self.engine = engine
        self.closed = False
        #: The libraries whose fingerprint moved between the last two refreshes (highlighted).
        self.moved: list[str] = []
        #: The text of the last control's result: the magic's one line, or its UsageError.
        self.notice = ""
        self._hub: _Hub | None = None
        self._shown: dict[str, dict[str, str]] = {}
        self._syncing = False

        self.header = w.HTML()
        self.libraries = w.HTML()
        self.flags = w.HTML()
        self.seed_field = w.Text(
            placeholder="seed, e.g. 7",
            description="seed",
            layout=w.Layout(width="190px"),
            style={"description_width": "36px"},
        )
        self.reseed_button = w.Button(description="Reseed", button_style="primary", tooltip="%seed N")
        self.random_button = w.Button(description="Random seed", tooltip="%seed --random")
        self.deterministic_toggle = w.ToggleButton(
            description="deterministic", tooltip="%seed --deterministic / %seed --no-deterministic"
        )
        self.auto_toggle = w.ToggleButton(description="auto", tooltip="reseed every cell (%seed N --auto)")
        self.message = w.HTML()
        self.error = w.HTML()

        controls = [self.seed_field, self.reseed_button, self.random_button, self.deterministic_toggle]
        if hasattr(engine, "set_auto"):
            controls.append(self.auto_toggle)
        self.controls = w.HBox(controls, layout=w.Layout(margin="8px 0 0 0", flex_flow="row wrap"))
        self.widget = _box_class()(
            [self.header, self.libraries, self.flags, self.controls, self.message, self.error],
            layout=w.Layout(
                border="1px solid var(--jp-border-color2)",
                padding="6px 12px",
                width="fit-content",
                max_width="100%",
            ),
        )
        self.widget.text = self.text
        self._all = [*self.widget.children, *self.controls.children, self.auto_toggle, self.widget]

        self.reseed_button.on_click(self._reseed)
        self.random_button.on_click(self._random)
        self.deterministic_toggle.observe(self._deterministic, "value")
        self.auto_toggle.observe(self._auto, "value")
        # Closed from Python (``widget.close()``, ``Widget.close_all()``) or from the front end (comm_close).
        self.widget.observe(self._widget_closed, "comm")
        if self.widget.comm is not None and hasattr(self.widget.comm, "on_close"):
            self.widget.comm.on_close(self._widget_closed)

        self.refresh()
        if shell is not None:
            self._hub = _hub(shell)
            self._hub.add(self)

    # -- showing ---------------------------------------------------------------------------------------------------

    def text(self) -> str:
        """The ``%seed`` table of the engine now."""
        return str(self.engine.status())

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def refresh(self, *, highlight: bool = True, status: Status | None = None) -> None:
        """Show the engine's status now (or ``status``, already read for several panels). Never raises.

        With ``highlight``, mark the libraries whose state moved since the last refresh: after a cell, what the cell
        drew from. A control's own reseeding is not marked.
        """
        if self.closed:
            return
        try:
            status = self.engine.status() if status is None else status
            libraries, self.moved = _libraries(status, self._shown if highlight else {})
            self._shown = {lib.name: dict(lib.streams) for lib in status.libraries}
            self._set(self.header, _header(status))
            self._set(self.libraries, libraries)
            self._set(self.flags, _flags(status))
            self._syncing = True
            try:
                for toggle, on in (
                    (self.deterministic_toggle, status.deterministic),
                    (self.auto_toggle, status.mode == "auto"),
                ):
                    self._set(toggle, on)
                    self._set(toggle, "check" if on else "", "icon")
            finally:
                self._syncing = False
            self._set(self.error, "")
        except Exception as exc:  # a refresh runs after the user's cell: it must never fail it
            with contextlib.suppress(Exception):
                self._set(self.error, _message(f"seedmagic panel could not refresh: {_error(exc)}", error=True))

    @staticmethod
    def _set(widget: Any, value: Any, name: str = "value") -> None:
        """Set a widget's trait only when it changes: an unchanged refresh sends nothing to the front end."""
        if getattr(widget, name) != value:
            setattr(widget, name, value)

    # -- controls: each does what the magic does ------------------------------------------------------------------

    def _act(self, action: Callable[[], Any], done: str = "") -> None:
        """Run one control's engine call; show its report (or its error, as the magic would), then refresh."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                result = action()
            lines = [str(result) if result is not None else done, *(str(warning.message) for warning in caught)]
            self.notice = "\n".join(line for line in lines if line)
            failed = bool(getattr(result, "failed", None)) or bool(caught)
        except InvalidArgument as exc:  # what the magic turns into a one-line UsageError
            self.notice, failed = f"UsageError: {exc}", True
        except Exception as exc:
            self.notice, failed = f"seedmagic: {_error(exc)}", True
        with contextlib.suppress(Exception):
            self._set(self.message, _message(self.notice, error=failed))
        _refresh_all(list(self._hub.panels) if self._hub is not None else [self], highlight=False)

    def _reseed(self, _button: Any = None) -> None:
        """``%seed N`` with N from the seed field."""
        self._act(lambda: self.engine.seed_all(parse_seed(self.seed_field.value)))

    def _random(self, _button: Any = None) -> None:
        """``%seed --random``."""
        seed = random_seed()
        self._set(self.seed_field, str(seed))
        self._act(lambda: self.engine.seed_all(seed))

    def _deterministic(self, change: dict[str, Any]) -> None:
        """``%seed --deterministic`` / ``%seed --no-deterministic``."""
        if not self._syncing:
            self._act(lambda: self.engine.set_deterministic(bool(change["new"])))

    def _auto(self, change: dict[str, Any]) -> None:
        """Auto mode on or off: every cell reseeded."""
        if not self._syncing:
            on = bool(change["new"])
            self._act(lambda: self.engine.set_auto(on), done=f"seedmagic: auto mode {'on' if on else 'off'}")

    # -- closing ---------------------------------------------------------------------------------------------------

    def _widget_closed(self, change: Any = None) -> None:
        if isinstance(change, dict) and change.get("name") == "comm" and change.get("new") is not None:
            return
        self.close()

    def close(self) -> None:
        """Close the widgets and stop refreshing; the last panel of a shell unregisters its callback."""
        if self.closed:
            return
        self.closed = True
        if self._hub is not None:
            self._hub.discard(self)
        for widget in self._all:
            with contextlib.suppress(Exception):
                widget.close()


class _Hub:
    """A shell's one ``post_run_cell`` callback, which refreshes every open panel of that shell."""

    def __init__(self, shell: Any) -> None:
        self._shell = weakref.ref(shell)
        self.panels: weakref.WeakSet[SeedPanel] = weakref.WeakSet()
        self.registered = False

    def add(self, panel: SeedPanel) -> None:
        self.panels.add(panel)
        shell = self._shell()
        if not self.registered and shell is not None:
            shell.events.register("post_run_cell", self.post_run_cell)
            self.registered = True

    def discard(self, panel: SeedPanel) -> None:
        self.panels.discard(panel)
        if not self.panels:
            self.unregister()

    def unregister(self) -> None:
        shell = self._shell()
        if self.registered and shell is not None:
            with contextlib.suppress(ValueError):
                shell.events.unregister("post_run_cell", self.post_run_cell)
        self.registered = False

    def post_run_cell(self, result: Any = None) -> None:
        try:
            _refresh_all(list(self.panels), highlight=True)
            if not self.panels:
                self.unregister()
        except Exception:  # never into the user's cell
            pass


def _refresh_all(panels: list[SeedPanel], *, highlight: bool) -> None:
    """Refresh several panels, reading each engine's status once, not once per panel."""
    statuses: dict[int, Status | None] = {}
    for panel in panels:
        if panel.closed:
            continue
        key = id(panel.engine)
        if key not in statuses:
            try:
                statuses[key] = panel.engine.status()
            except Exception:  # the panel's own refresh then shows the error
                statuses[key] = None
        panel.refresh(highlight=highlight, status=statuses[key])


_HUBS: weakref.WeakKeyDictionary[Any, _Hub] = weakref.WeakKeyDictionary()


def _hub(shell: Any) -> _Hub:
    hub = _HUBS.get(shell)
    if hub is None:
        hub = _HUBS[shell] = _Hub(shell)
    return hub


def panels(shell: Any) -> list[SeedPanel]:
    """The open panels that refresh after the cells of ``shell``."""
    hub = _HUBS.get(shell)
    return list(hub.panels) if hub is not None else []


def _has_widget_front_end(shell: Any) -> bool:
    terminal = sys.modules.get("IPython.terminal.interactiveshell")  # a terminal shell has imported it already
    if terminal is not None and isinstance(shell, terminal.TerminalInteractiveShell):
        return False
    return getattr(shell, "kernel", None) is not None


def show(shell: Any, engine: Engine) -> SeedPanel | None:
    """``%seedpanel``: display a live panel; without a widget front end, print the ``%seed`` table instead."""
    if not _has_widget_front_end(shell):
        print(engine.status())
        return None
    from IPython.display import display

    panel = SeedPanel(engine, shell)
    display(panel.widget)
    return panel


def close_all(shell: Any) -> None:
    """Close every panel of ``shell`` and unregister its callback (``%unload_ext seedmagic``)."""
    hub = _HUBS.pop(shell, None)
    if hub is None:
        return
    for panel in list(hub.panels):
        panel.close()
    hub.unregister()
