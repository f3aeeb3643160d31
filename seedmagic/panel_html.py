"""The panel's HTML: its folded line, its headline and its tables (generators, determinism flags, generators made
without a seed), in JupyterLab's theme colours.

Each function takes what the engine and the watch read (``Status``, ``Summary``, ``Flag``) and returns HTML; none reads
the engine or imports ipywidgets. Texts are escaped once each: names, versions and states repeat from one refresh to the
next.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable

from .sources import Flag
from .status import Status, Summary

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


@functools.lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    return html.escape(text)


def _e(value: object) -> str:
    # Names, versions, states and reasons repeat from one refresh to the next: escape each text once.
    return _escaped(str(value))


def summary_html(summary: Summary) -> str:
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


def headline_html(status: Status) -> str:
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


def libraries_html(status: Status, drew: Iterable[str]) -> str:
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


def flags_html(flags: Iterable[Flag], changed: Iterable[str]) -> str:
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


def unseeded_html(status: Status) -> str:
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


def message_html(text: str, error: bool = False) -> str:
    if not text:
        return ""
    color = "var(--jp-error-color1)" if error else "var(--jp-ui-font-color2)"
    return f'<div style="{_FONT}; color: {color}; white-space: pre-line; margin-top: 4px">{_e(text)}</div>'


__all__ = ["flags_html", "headline_html", "libraries_html", "message_html", "summary_html", "unseeded_html"]
