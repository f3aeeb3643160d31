"""``%seedpanel``: a live panel of the RNG states and the determinism flags, refreshed after every cell.

Folded, it is one line: the seed, the mode, the last cell's seed, how many imported libraries are seeded, how many
flags are not deterministic, and what the last cell drew from. Unfolded, it shows what ``%seed`` shows, the libraries
the last cell drew from and the flags it changed highlighted, and controls that do what the magics do.

What the last cell drew from: each library's generators as the cell left them, compared with how they were before it,
that is, after the cell before, read anew wherever seedmagic itself seeded or restored them (``%%seeded``, auto mode,
``%seed``, ``--isolate``, seeding at import) or a control acted. Those readings are cheap marks
(``Engine.marks``); the folded panel reads nothing else, and the fingerprints and flags are read in full only when
unfolded or when a flag changed. ipywidgets is imported only when a panel is built, and a refresh imports nothing.

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
from typing import TYPE_CHECKING, Any

from .engine import Engine, InvalidArgument, Marks, parse_seed, random_seed
from .errors import one_line
from .sources import Flag
from .status import Status, Summary, unseeded_count

if TYPE_CHECKING:
    import ipywidgets
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

#: Inline styles only use JupyterLab's theme variables, so that the panel reads well in light and dark themes.
_FONT = "font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1)"
_CODE = "font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size)"
_DIM = "color: var(--jp-ui-font-color2)"
_SMALL = "font-size: var(--jp-ui-font-size0)"
_OK = "color: var(--jp-success-color1)"
_BAD = "color: var(--jp-error-color1); font-weight: bold"
_MOVED = "color: var(--jp-warn-color0); font-weight: bold"
_MOVED_ROW = "background: color-mix(in srgb, var(--jp-warn-color1) 22%, transparent)"
# Tight rows: the unfolded panel fits in about 600 px of a laptop's window.
_CELL = (
    "padding: 0 10px 0 0; line-height: 1.35; text-align: left; vertical-align: top; border: none; white-space: normal"
)
_NOTE = (
    f"padding: 0 0 2px 16px; line-height: 1.3; text-align: left; border: none; {_DIM}; {_SMALL}; white-space: normal"
)
_HEAD = f"{_CELL}; {_DIM}; font-weight: normal; border-bottom: 1px solid var(--jp-border-color2)"
_VERDICTS = {True: ("ok", _OK), False: ("NOT", _BAD), None: ("-", _DIM)}
_LINE = "line-height: 1.5; overflow-wrap: anywhere"

TOOLTIPS = {
    "details": "Show or hide the libraries, the determinism flags and the controls",
    "seed": "A seed, 0 <= seed < 2**32; Enter reseeds, as %seed N does",
    "reseed": "Seed every library with the seed in the field (%seed N)",
    "random": "Draw a fresh seed from OS entropy and seed with it (%seed --random)",
    "deterministic": "Deterministic algorithms on or off (%seed --deterministic / --no-deterministic)",
    "auto": "Reseed before every cell with a seed derived from the cell (%seed N --auto / --no-auto)",
}


@functools.lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    return html.escape(text)


def _e(value: object) -> str:
    # Names, versions, states and reasons repeat from one refresh to the next: escape each text once.
    return _escaped(str(value))


def _summary(summary: Summary) -> str:
    """The folded panel's line, as HTML: the text of ``Summary.parts``, what needs a look in colour."""
    shown = []
    for part in summary.parts():
        style = ""
        if part.endswith("NOT deterministic"):
            style = _BAD if summary.not_deterministic else _OK
        elif (part.startswith(("drew from ", "changed ")) and part != "drew from nothing") or part.endswith(
            "made without a seed"
        ):
            style = _MOVED
        shown.append(f'<span style="{style}">{_e(part)}</span>' if style else _e(part))
    return f'<div style="{_FONT}; {_LINE}"><b>seedmagic</b>&ensp;{" &middot; ".join(shown)}</div>'


def _headline(status: Status) -> str:
    seed = "none (use %seed N)" if status.seed is None else f"<b>{status.seed}</b>"
    if status.per_rank is not None:
        seed += f" ({_e(status.per_rank)})"
    parts = [f"session seed {seed}", f"mode <b>{_e(status.mode)}</b>"]
    if status.cell_seed is not None:
        parts.append(f"this cell's seed {status.cell_seed}")
    if status.last_cell_seed is not None:
        parts.append(f"last cell got <b>{status.last_cell_seed}</b>")
    deterministic = ("on (warn only)" if status.warn_only else "on") if status.deterministic else "off"
    parts.append(f"deterministic mode <b>{deterministic}</b>")
    if status.reach:
        parts.append("reach <b>on</b>")
    return f'<div style="{_FONT}; {_LINE}; margin: 4px 0">{" &middot; ".join(parts)}</div>'


def _table(title: str, header: Iterable[str], rows: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> str:
    """An HTML table; each row is (its style, its cells' HTML, the HTML of the notes shown under it)."""
    header = list(header)
    head = "".join(f'<th style="{_HEAD}">{_e(cell)}</th>' for cell in header)
    body = []
    for style, cells, notes in rows:
        body.append(f'<tr style="{style}">' + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in cells) + "</tr>")
        body += [f'<tr style="{style}"><td colspan="{len(header)}" style="{_NOTE}">{note}</td></tr>' for note in notes]
    return (
        f'<div style="{_FONT}"><div style="{_DIM}; margin: 6px 0 2px 0">{_e(title)}</div>'
        f'<table style="border-collapse: collapse; background: transparent; width: 100%">'
        f"<tr>{head}</tr>{''.join(body)}</table></div>"
    )


def _libraries(status: Status, drew: Iterable[str]) -> str:
    """The libraries table; the rows of ``drew`` (what the last cell drew from) highlighted."""
    drew = set(drew)
    rows = []
    for lib in status.libraries:
        moved = lib.name in drew
        streams = "<br>".join(
            f'<span style="{_DIM}">{_e(stream)}</span>&nbsp;<span style="{_CODE}">{_e(value)}</span>'
            for stream, value in lib.streams.items()
        )
        if moved:
            streams += f' <span style="{_MOVED}">&#9679;&nbsp;drew</span>'
        notes = [f'<span style="{_BAD}">{_e(lib.outside)}</span>'] if lib.outside else []
        tip = ""
        if lib.note and (lib.imported or lib.on_import):
            notes.append(_e(lib.note))
        elif lib.note:  # about a library not imported: under the pointer, out of the way
            tip = f' title="{_e(lib.note)}"'
        if lib.error:
            notes.append(f'<span style="color: var(--jp-error-color1)">{_e(lib.error)}</span>')
        name = f'<span{tip}><b>{_e(lib.name)}</b> <span style="{_DIM}">{_e(lib.version or "")}</span></span>'
        state = _e(lib.state) if lib.imported or lib.on_import else f'<span style="{_DIM}">{_e(lib.state)}</span>'
        rows.append((_MOVED_ROW if moved else "", (name, state, streams), notes))
    return _table("generators", ("library", "state", "fingerprint"), rows)


def _flags(flags: Iterable[Flag], changed: Iterable[str]) -> str:
    """The flags table; the reason under a row that needs a look (NOT deterministic, or changed by the last cell),
    under the pointer for the others; the flags in ``changed`` highlighted."""
    changed = set(changed)
    rows = []
    for flag in flags:
        verdict, style = _VERDICTS.get(flag.ok, ("-", _DIM))
        value = _e(flag.value)
        if flag.name in changed:
            value += f' <span style="{_MOVED}">&#9679;&nbsp;changed</span>'
        shown = flag.ok is False or flag.name in changed
        tip = f' title="{_e(flag.note)}"' if flag.note and not shown else ""
        cells = (
            f'<span style="{_CODE}; overflow-wrap: anywhere"{tip}>{_e(flag.name)}</span>',
            value,
            f'<span style="{style}">{verdict}</span>',
        )
        notes = [_e(flag.note)] if flag.note and shown else []
        rows.append((_MOVED_ROW if flag.name in changed else "", cells, notes))
    return _table("determinism flags", ("flag", "value", "verdict"), rows)


def _unseeded(status: Status) -> str:
    """The census: where generators were made without a seed, and whether reach seeded them (empty without any)."""
    rows = []
    for site in status.unseeded:
        left = site.count - site.reached
        reached = f"{site.reached} seeded" + (f", last with {site.last_seed}" if site.last_seed is not None else "")
        notes = [_e(text) for text in (f"via {site.via}" if site.via else "", site.note) if text]
        cells = (f"<b>{_e(site.library)}</b>", _e(site.where), _e(site.count), _e(reached if site.reached else "-"))
        rows.append((_MOVED_ROW if left else "", cells, notes))
    if status.not_reached:
        rows.append(("", (_e("NOT reached"), _e(", ".join(status.not_reached)), "", ""), [_e("bound before --reach")]))
    if not rows:
        return ""
    hint = "" if status.reach else " (%seed N --reach seeds them from the seed in force)"
    return _table(f"made without a seed{hint}", ("library", "at", "times", "reach"), rows)


def _message(text: str, error: bool = False) -> str:
    if not text:
        return ""
    color = "var(--jp-error-color1)" if error else "var(--jp-ui-font-color2)"
    return f'<div style="{_FONT}; color: {color}; white-space: pre-line; margin-top: 4px">{_e(text)}</div>'


def _changed_flags(before: Iterable[Flag], after: Iterable[Flag]) -> tuple[str, ...]:
    """The flags present before and after whose value or verdict differs (a flag that appears is not a change)."""
    old = {flag.name: (flag.value, flag.ok) for flag in before}
    return tuple(f.name for f in after if f.name in old and old[f.name] != (f.value, f.ok))


class _Watch:
    """One engine's generators and flags, read after every cell and compared with the reading before it: what the
    last cell drew from, and which flags it changed.

    The reading before a cell is the one after the cell before, taken anew for the libraries seedmagic seeds,
    restores or sees imported (the engine tells its listeners), and after a control acted. Code that draws between
    cells, outside any cell (a widget's callback, a thread), counts for the next cell. A library's mark right after
    seeding depends only on the seed: it is kept, so that a cell run again under the same seed (``%%seeded N``,
    auto mode) costs one reading, not two.

    Nothing is read before a cell: what a cell did is gathered as it runs (an isolated cell's generators put back)
    and taken when it ends."""

    _KEPT = 256

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.before: Marks = engine.marks()
        self._read_flags(engine.shown_flags(), self.before.flags)
        #: What the last cell drew from and the flags it changed; None before a cell has been watched.
        self.drew: tuple[str, ...] | None = None
        self.changed: tuple[str, ...] = ()
        # Drawn from, and flags changed, in the running cell before an isolated cell's generators were put back.
        self._drawn: set[str] = set()
        self._changing: tuple[str, ...] = ()
        self._seeded: dict[tuple[str, int], Any] = {}
        self._seedable = frozenset(source.name for source in engine.sources if source.seedable)
        self.closed = False
        engine.listeners.append(self.heard)
        engine.refresh_hook()  # a library the next cell imports is read as it is imported

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(ValueError):
            self.engine.listeners.remove(self.heard)
        self.engine.refresh_hook()

    def heard(self, event: str, libraries: tuple[str, ...], seed: int | None) -> None:
        """The engine changed generators itself: read them anew (from what is kept, after a seeding)."""
        before = self.before
        if event == "seeded" and seed is not None:
            missing = [name for name in libraries if (name, seed) not in self._seeded]
            if missing:
                read = self.engine.marks(missing).states
                if len(self._seeded) > self._KEPT:
                    self._seeded.clear()
                self._seeded.update(((name, seed), mark) for name, mark in read.items())
            for name in libraries:
                if (name, seed) in self._seeded:
                    before.states[name] = self._seeded[name, seed]
                # Seeded by seedmagic just now, so not by the code: its own seed is read with the next marks.
                before.seeds.pop(name, None)
        elif event == "imported":
            marks = self.engine.marks(libraries)
            before.states.update(marks.states)
            before.seeds.update(marks.seeds)
        elif event == "restoring":
            now = self.engine.marks()
            self._drawn.update(self._drew(now))
            self._changing = (*self._changing, *self._new_flags(now))
        elif event == "restored":
            self.rebase()

    def _drew(self, now: Marks) -> list[str]:
        before = self.before.states
        return [name for name, mark in now.states.items() if name in before and before[name] != mark]

    def _new_flags(self, now: Marks) -> tuple[str, ...]:
        """The flags that differ from the last full reading, which is read anew (only where a mark moved)."""
        if now.flags == self._flags_mark:
            return ()
        flags = self.engine.shown_flags()
        changed = _changed_flags(self.flags, flags)
        self._read_flags(flags, now.flags)
        return changed

    def _read_flags(self, flags: tuple[Flag, ...], mark: tuple[Any, ...]) -> None:
        self.flags, self._flags_mark = flags, mark
        self._not_deterministic = sum(flag.ok is False for flag in flags)

    def cell_ended(self) -> None:
        """A cell ended (also when it raised): what it drew from and which flags it changed."""
        now = self.engine.marks()
        drew = self._drew(now)
        if self._drawn:  # an isolated cell's, drawn before its generators were put back
            drawn = self._drawn.union(drew)
            drew = [name for name in now.states if name in drawn]
            self._drawn.clear()
        self.drew = tuple(drew)
        changed = self._changing
        if now.flags != self._flags_mark:
            changed = (*changed, *self._new_flags(now))
        if changed:
            self._changing = ()
            changed = tuple(dict.fromkeys(changed))
        self.changed = changed
        self.before = now

    def rebase(self) -> None:
        """Read everything anew (a control acted): what follows is compared with now."""
        self.before = self.engine.marks()
        self._new_flags(self.before)

    def summary(self) -> Summary:
        """The folded line, from the engine and what this watch read: no generator state is read for it."""
        engine = self.engine
        session, seedings, census = engine.session, engine.seedings, engine.census
        seedable = self._seedable
        imported = seeded = 0
        for name in self.before.states:
            if name in seedable:
                imported += 1
                seeded += name in seedings
        if seeded and self.before.seeds:  # a library the code seeded since (torch.manual_seed) is not seedmagic's
            seeded -= len(engine.reseeded_by_code(self.before.seeds))
        return Summary(
            session.seed,
            session.mode,
            engine.last_cell_seed,
            seeded,
            imported,
            self._not_deterministic,
            self.drew,
            self.changed,
            # The census is off by default: then this reads nothing.
            unseeded_count(census.unseeded()) if census.enabled or census.reaching else 0,
            census.reaching,
            () if session.seed is not None else tuple(name for name in self.drew or () if name not in seedings),
        )


@functools.cache
def _box_class() -> type:
    import ipywidgets

    class PanelBox(ipywidgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped: VBox is Any
        """The panel's container. Its text/plain is the ``%seed`` table, for front ends that cannot draw widgets."""

        text: Callable[[], str] | None = None

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
            data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)
            if data is not None and self.text is not None:
                try:
                    data["text/plain"] = self.text()
                except Exception as exc:  # the view still shows; the text says why the table is missing
                    data["text/plain"] = f"seedmagic panel: {one_line(exc)}"
            return data

    return PanelBox


class SeedPanel:
    """The widget panel for one engine. ``shell`` (optional) refreshes it after each of its cells.

    ``widget`` is the ipywidgets container to display. It starts folded (``expanded=False``): one summary line;
    ``details_toggle`` unfolds it. ``close()`` closes it and stops the refreshing; closing the widget (from Python
    or from the front end) does the same.
    """

    def __init__(self, engine: Engine, shell: Any = None, *, expanded: bool = False) -> None:
        import ipywidgets as w

        self.engine = engine
        self.closed = False
        #: The text of the last control's result: the magic's one line, or its UsageError. Cleared by the next cell.
        self.notice = ""
        self._hub: _Hub | None = None
        self._syncing = False
        # The hub's watch of the engine, kept (a panel without a shell has its own).
        self._watch: _Watch | None = None
        self._shown: Summary | None = None
        self._modes: tuple[bool, bool] | None = None  # what the toggles show: deterministic mode, auto mode
        self._failed = True  # the error line may show something
        self._expanded = expanded

        self.details_toggle = w.ToggleButton(
            value=expanded,
            icon="chevron-down" if expanded else "chevron-right",
            tooltip=TOOLTIPS["details"],
            layout=w.Layout(width="32px", min_width="32px", height="26px", padding="0"),
        )
        self.summary = w.HTML(layout=w.Layout(margin="0 0 0 6px", flex="1 1 auto", min_width="0"))
        self.summary.add_class("seedmagic-summary")
        self.top = w.HBox([self.details_toggle, self.summary], layout=w.Layout(align_items="center", width="100%"))
        self.headline = w.HTML()
        self.libraries = w.HTML()
        self.flags = w.HTML()
        self.unseeded = w.HTML()
        # No description: ipywidgets shows the tooltip on the field only when it has none.
        self.seed_field = w.Text(placeholder="seed, e.g. 7", tooltip=TOOLTIPS["seed"], layout=w.Layout(width="130px"))
        with warnings.catch_warnings():  # Enter, not leaving the field, reseeds: the submit event is the one for it
            warnings.simplefilter("ignore", DeprecationWarning)
            self.seed_field.on_submit(self._reseed)
        self.reseed_button = w.Button(description="Reseed", button_style="primary", tooltip=TOOLTIPS["reseed"])
        self.random_button = w.Button(description="Random seed", tooltip=TOOLTIPS["random"])
        self.deterministic_toggle = w.ToggleButton(description="deterministic", tooltip=TOOLTIPS["deterministic"])
        self.auto_toggle = w.ToggleButton(description="auto", tooltip=TOOLTIPS["auto"])
        for button in (self.reseed_button, self.random_button, self.deterministic_toggle, self.auto_toggle):
            button.layout = w.Layout(width="auto")
        self.message = w.HTML()
        self.error = w.HTML()

        controls = [
            self.seed_field,
            self.reseed_button,
            self.random_button,
            self.deterministic_toggle,
            self.auto_toggle,
        ]
        self.controls = w.HBox(controls, layout=w.Layout(margin="6px 0 0 0", flex_flow="row wrap"))
        self.details = w.VBox(  # the controls first: in view however long the tables are
            [self.headline, self.controls, self.libraries, self.flags, self.unseeded],
            layout=w.Layout(display="" if expanded else "none"),
        )
        self.details.add_class("seedmagic-details")
        self.widget = _box_class()(
            [self.top, self.message, self.error, self.details],  # what a control said, beside it
            layout=w.Layout(border="1px solid var(--jp-border-color2)", padding="4px 10px", max_width="100%"),
        )
        self.widget.add_class("seedmagic-panel")
        self.widget.text = self.text
        self._all = [*self.widget.children, *self.top.children, *self.details.children, *self.controls.children]
        self._all.append(self.auto_toggle)
        self._all.append(self.widget)

        self.details_toggle.observe(self._unfold, "value")
        self.reseed_button.on_click(self._reseed)
        self.random_button.on_click(self._random)
        self.deterministic_toggle.observe(self._deterministic, "value")
        self.auto_toggle.observe(self._auto, "value")
        # Closed from Python (``widget.close()``, ``Widget.close_all()``) or from the front end (comm_close).
        self.widget.observe(self._widget_closed, "comm")
        if self.widget.comm is not None and hasattr(self.widget.comm, "on_close"):
            self.widget.comm.on_close(self._widget_closed)

        if shell is not None:
            self._hub = _hub(shell)
            self._hub.add(self)
        else:
            with contextlib.suppress(Exception):
                self._watch = _Watch(engine)
        self.refresh()

    # -- showing ---------------------------------------------------------------------------------------------------

    @property
    def expanded(self) -> bool:
        return self._expanded

    @property
    def watch(self) -> _Watch | None:
        watch = self._watch
        if self._hub is not None and (watch is None or watch.closed):
            watch = self._watch = self._hub.watch(self.engine)
        return watch

    @property
    def drew(self) -> tuple[str, ...]:
        """The libraries the last cell drew from (highlighted)."""
        watch = self.watch
        return (watch.drew or ()) if watch is not None else ()

    @property
    def changed(self) -> tuple[str, ...]:
        """The flags the last cell changed (highlighted)."""
        watch = self.watch
        return watch.changed if watch is not None else ()

    def text(self) -> str:
        """The ``%seed`` table of the engine now."""
        return str(self.engine.status())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle: dict[str, Any] | None = self.widget._repr_mimebundle_(**kwargs)
        return bundle

    def refresh(self, status: Status | None = None) -> None:
        """Show the engine's state now (``status``: already read for several panels). Never raises.

        Folded, only the summary line is computed, from the engine and the watch's cheap readings; unfolded, the full
        status is read and drawn."""
        if self.closed:
            return
        try:
            watch = self._watch
            if watch is None or watch.closed:
                watch = self.watch
            if watch is None:
                raise RuntimeError("the panel's watch could not read the engine")
            summary = watch.summary()
            if summary != self._shown:  # the line is built only when it says something new
                self._set(self.summary, _summary(summary))
                self._shown = summary
            if self._expanded:
                status = self.engine.status() if status is None else status
                self._set(self.headline, _headline(status))
                self._set(self.libraries, _libraries(status, watch.drew or ()))
                self._set(self.flags, _flags(status.flags, watch.changed))
                self._set(self.unseeded, _unseeded(status))
            modes = (self.engine.determinism.enabled, self.engine.session.auto)
            if modes != self._modes:
                self._sync_toggles(modes)
            if self._failed:
                self._set(self.error, "")
                self._failed = False
        except Exception as exc:  # a refresh runs after the user's cell: it must never fail it
            with contextlib.suppress(Exception):
                self._set(self.error, _message(f"seedmagic panel could not refresh: {one_line(exc)}", error=True))
                self._failed = True

    def _sync_toggles(self, modes: tuple[bool, bool]) -> None:
        self._syncing = True
        try:
            for toggle, on in zip((self.deterministic_toggle, self.auto_toggle), modes, strict=True):
                self._set(toggle, on)
                self._set(toggle, "check" if on else "", "icon")
        finally:
            self._syncing = False
        self._modes = modes

    @staticmethod
    def _set(widget: ipywidgets.Widget, value: object, name: str = "value") -> None:
        """Set a widget's trait only when it changes: an unchanged refresh sends nothing to the front end."""
        if getattr(widget, name) != value:
            setattr(widget, name, value)

    def _unfold(self, change: dict[str, Any]) -> None:
        on = self._expanded = bool(change["new"])
        self.details.layout.display = "" if on else "none"
        self.details_toggle.icon = "chevron-down" if on else "chevron-right"
        self.refresh()

    def clear_message(self) -> None:
        """A cell runs: the last control's message is about the past."""
        if self.notice or self.message.value:
            self.notice = ""
            self._set(self.message, "")

    # -- controls: each does what the magic does ------------------------------------------------------------------

    def _act(self, action: Callable[[], object], done: str = "") -> None:
        """Run one control's engine call; show its report (or its error, as the magic would), then refresh."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = action()
            lines = [str(result) if result is not None else done, *(str(warning.message) for warning in caught)]
            self.notice = "\n".join(line for line in lines if line)
            failed = bool(getattr(result, "failed", None)) or bool(caught)
        except InvalidArgument as exc:  # what the magic turns into a one-line UsageError
            self.notice, failed = f"UsageError: {exc}", True
        except Exception as exc:
            self.notice, failed = f"seedmagic: {one_line(exc)}", True
        with contextlib.suppress(Exception):
            self._set(self.message, _message(self.notice, error=failed))
        if self._hub is not None:
            self._hub.spoke()
        self._modes = None  # a toggle the engine refused goes back
        watch = self.watch
        if watch is not None:
            with contextlib.suppress(Exception):
                watch.rebase()
        _refresh_all(list(self._hub.panels) if self._hub is not None else [self])

    def _reseed(self, _widget: ipywidgets.Widget | None = None) -> None:
        """``%seed N`` with N from the seed field (the Reseed button, or Enter in the field)."""
        self._act(lambda: self.engine.seed_all(parse_seed(self.seed_field.value)))

    def _random(self, _button: ipywidgets.Button | None = None) -> None:
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

    def _widget_closed(self, change: object = None) -> None:
        if isinstance(change, dict) and change.get("name") == "comm" and change.get("new") is not None:
            return
        self.close()

    def close(self) -> None:
        """Close the widgets and stop refreshing; the last panel of a shell unregisters its callbacks."""
        if self.closed:
            return
        self.closed = True
        if self._hub is not None:
            self._hub.discard(self)
        if self._hub is None and self._watch is not None:
            self._watch.close()
        for widget in self._all:
            with contextlib.suppress(Exception):
                widget.close()


class _Hub:
    """A shell's one ``post_run_cell`` callback, for every open panel of that shell, and one watch per engine shown.
    Nothing runs before a cell, except once after a control spoke: its message is cleared as the next cell starts."""

    def __init__(self, shell: Any) -> None:
        self._shell = weakref.ref(shell)
        # Weak: a panel whose output was cleared goes. A list of references rather than a WeakSet, whose iteration
        # costs several µs after every cell.
        self._panels: list[weakref.ref[SeedPanel]] = []
        self._watches: dict[int, _Watch] = {}
        self.registered = False
        #: Whether a panel shows a control's message, which the next cell clears.
        self.messages = False

    @property
    def panels(self) -> list[SeedPanel]:
        """The open panels, in the order they were shown."""
        refs = self._panels
        if len(refs) == 1 and (only := refs[0]()) is not None:  # the usual case, after every cell
            return [only]
        found = [panel for ref in refs if (panel := ref()) is not None]
        if len(found) < len(self._panels):
            self._panels = [ref for ref in self._panels if ref() is not None]
        return found

    def add(self, panel: SeedPanel) -> None:
        if panel not in self.panels:
            self._panels.append(weakref.ref(panel))
        with contextlib.suppress(Exception):  # else the panel's refresh says why
            self.watch(panel.engine)
        shell = self._shell()
        if not self.registered and shell is not None:
            shell.events.register("post_run_cell", self.post_run_cell)
            self.registered = True

    def watch(self, engine: Engine) -> _Watch:
        watch = self._watches.get(id(engine))
        if watch is None or watch.engine is not engine:
            watch = self._watches[id(engine)] = _Watch(engine)
        return watch

    def discard(self, panel: SeedPanel) -> None:
        self._panels = [ref for ref in self._panels if ref() not in (None, panel)]
        if not self._panels:
            self.unregister()

    def spoke(self) -> None:
        """A panel shows a control's message: clear it as the next cell starts."""
        shell = self._shell()
        if not self.messages and shell is not None:
            shell.events.register("pre_run_cell", self.pre_run_cell)
            self.messages = True

    def unregister(self) -> None:
        shell = self._shell()
        if shell is not None:
            for event, callback, on in (
                ("pre_run_cell", self.pre_run_cell, self.messages),
                ("post_run_cell", self.post_run_cell, self.registered),
            ):
                if on:
                    with contextlib.suppress(ValueError):
                        shell.events.unregister(event, callback)
        self.registered = self.messages = False
        for watch in self._watches.values():
            watch.close()
        self._watches.clear()

    def pre_run_cell(self, info: ExecutionInfo | None = None) -> None:
        """Registered only while a control's message shows: the cell that starts makes it the past."""
        try:
            shell = self._shell()
            if self.messages and shell is not None:
                shell.events.unregister("pre_run_cell", self.pre_run_cell)
            self.messages = False
            for panel in self.panels:
                panel.clear_message()
        except Exception:  # never into the user's cell
            pass

    def post_run_cell(self, result: ExecutionResult | None = None) -> None:
        try:
            refs, watches = self._panels, self._watches
            if len(refs) == 1 and len(watches) == 1:  # the usual case, after every cell: one panel, one engine
                panel = refs[0]()
                if panel is not None and not panel.expanded:
                    for watch in watches.values():
                        _ended(watch)
                    panel.refresh()
                    return
            panels = self.panels
            if not panels:
                self.unregister()
                return
            for watch in self._watches.values():
                _ended(watch)
            _refresh_all(panels)
        except Exception:  # never into the user's cell
            pass


def _ended(watch: _Watch) -> None:
    try:
        watch.cell_ended()
    except Exception:  # the panel's own refresh then shows the error
        watch.drew = None


def _refresh_all(panels: list[SeedPanel]) -> None:
    """Refresh several panels; the unfolded ones of one engine read its status once, not once each."""
    if len(panels) == 1 and not panels[0].expanded:
        panels[0].refresh()
        return
    statuses: dict[int, Status | None] = {}
    for panel in panels:
        if panel.closed:
            continue
        key = id(panel.engine)
        if panel.expanded and key not in statuses:
            try:
                statuses[key] = panel.engine.status()
            except Exception:  # the panel's own refresh then shows the error
                statuses[key] = None
        panel.refresh(statuses.get(key))


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


def show(shell: Any, engine: Engine, *, expanded: bool = False) -> SeedPanel | None:
    """``%seedpanel``: display a live panel; without a widget front end, print the ``%seed`` table instead."""
    if not _has_widget_front_end(shell):
        print(engine.status())
        return None
    from IPython.display import display

    panel = SeedPanel(engine, shell, expanded=expanded)
    display(panel.widget)  # type: ignore[no-untyped-call]  # unannotated
    return panel


def close_all(shell: Any) -> None:
    """Close every panel of ``shell`` and unregister its callbacks (``%unload_ext seedmagic``)."""
    hub = _HUBS.pop(shell, None)
    if hub is None:
        return
    for panel in list(hub.panels):
        panel.close()
    hub.unregister()
