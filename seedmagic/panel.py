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

This module holds the widget and the cell callbacks that refresh it; ``watch`` reads what the last cell drew from and
changed, and ``panel_html`` draws it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .arguments import InvalidArgument, parse_seed, random_seed
from .engine import Engine
from .errors import one_line
from .panel_html import flags_html, headline_html, libraries_html, message_html, summary_html, unseeded_html
from .status import Status, Summary
from .watch import Watch

if TYPE_CHECKING:
    import ipywidgets
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult


TOOLTIPS = {
    "details": "Show or hide the libraries, the determinism flags and the controls",
    "seed": "A seed, 0 <= seed < 2**32; Enter reseeds, as %seed N does",
    "reseed": "Seed every library with the seed in the field (%seed N)",
    "random": "Draw a fresh seed from OS entropy and seed with it (%seed --random)",
    "deterministic": "Deterministic algorithms on or off (%seed --deterministic / --no-deterministic)",
    "auto": "Reseed before every cell with a seed derived from the cell (%seed N --auto / --no-auto)",
}


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
        self._watch: Watch | None = None
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
                self._watch = Watch(engine)
        self.refresh()

    # -- showing ---------------------------------------------------------------------------------------------------

    @property
    def expanded(self) -> bool:
        return self._expanded

    @property
    def watch(self) -> Watch | None:
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
                self._set(self.summary, summary_html(summary))
                self._shown = summary
            if self._expanded:
                status = self.engine.status() if status is None else status
                self._set(self.headline, headline_html(status))
                self._set(self.libraries, libraries_html(status, watch.drew or ()))
                self._set(self.flags, flags_html(status.flags, watch.changed))
                self._set(self.unseeded, unseeded_html(status))
            modes = (self.engine.determinism.enabled, self.engine.session.auto)
            if modes != self._modes:
                self._sync_toggles(modes)
            if self._failed:
                self._set(self.error, "")
                self._failed = False
        except Exception as exc:  # a refresh runs after the user's cell: it must never fail it
            with contextlib.suppress(Exception):
                self._set(self.error, message_html(f"seedmagic panel could not refresh: {one_line(exc)}", error=True))
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
            self._set(self.message, message_html(self.notice, error=failed))
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
        self._watches: dict[int, Watch] = {}
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

    def watch(self, engine: Engine) -> Watch:
        watch = self._watches.get(id(engine))
        if watch is None or watch.engine is not engine:
            watch = self._watches[id(engine)] = Watch(engine)
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


def _ended(watch: Watch) -> None:
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
