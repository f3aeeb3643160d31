"""A sweep as 80-column text, HTML and a plot: what ``print(sweep)``, a notebook and ``sweep.plot()`` show."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..arguments import InvalidArgument, InvalidArgumentType
from .metrics import SHORT
from .seeds import describe_seeds
from .stats import LEVEL, Summary, not_finite

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from .result import Comparison, SeedSweep

WIDTH = 80


# -- text ----------------------------------------------------------------------------------------------------------


def formatter(values: Sequence[float]) -> Callable[[float], str]:
    """One format for a metric's numbers: whole numbers as such, else about three significant digits of the spread
    (or of the values, when they do not spread)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and all(v == int(v) and abs(v) < 1e15 for v in finite):
        return lambda v: f"{v:.0f}" if math.isfinite(v) and v == int(v) else f"{v:.4g}"
    spread = max(finite) - min(finite) if len(finite) > 1 else 0.0
    reference = spread or max((abs(v) for v in finite), default=1.0) or 1.0
    largest = max((abs(v) for v in finite), default=1.0)
    decimals = min(max(2 - math.floor(math.log10(reference)), 0), 8)
    if largest >= 1e8 or (largest and largest < 1e-4 and reference < 1e-6):
        return lambda v: f"{v:.4g}"
    return lambda v: f"{v:.{decimals}f}" if math.isfinite(v) else _plain(v)


def _plain(value: float) -> str:
    return "nan" if math.isnan(value) else str(value)


def _header(sweep: SeedSweep) -> str:
    if sweep.derived_from is not None:
        seeds = f"{len(sweep.planned)} seeds derived from session seed {sweep.derived_from}"
    else:
        seeds = f"{len(sweep.planned)} seed{'s' if len(sweep.planned) != 1 else ''} ({describe_seeds(sweep.planned)})"
    name = f"{sweep.name}: " if sweep.name else ""
    what = ", ".join(sweep.metrics) or "no value"
    return f"seedmagic: {name}{what} over {seeds}"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right, strict=True)).rstrip()
        for row in rows
    ]


def text_lines(sweep: SeedSweep) -> list[str]:
    lines = [_fit(_header(sweep), WIDTH)]
    metrics = sweep.metrics
    formats = {m: formatter([v for _, v in sweep._column(m)]) for m in metrics}
    lines += _seed_lines(sweep, metrics, formats)
    summaries = sweep.summary() if sweep.seeds else ()
    if summaries:
        lines.append("")
        lines += _summary_lines(summaries, formats)
        lines += _strip_lines(sweep, summaries, formats)
    lines += _footnotes(sweep, summaries)
    return lines


def _seed_lines(sweep: SeedSweep, metrics: Sequence[str], formats: dict[str, Callable[[float], str]]) -> list[str]:
    valued = [(run.seed, run.metrics) for run in sweep.runs if run.metrics is not None]
    if not valued:
        return []
    if len(metrics) == 1:
        # One metric: seed/value pairs side by side, as many as fit in the width.
        (metric,) = metrics
        pairs = [(str(seed), formats[metric](values[metric])) for seed, values in valued]
        seed_w, value_w = max(len(s) for s, _ in pairs), max(len(v) for _, v in pairs)
        per_line = max(1, (WIDTH + 4) // (seed_w + value_w + 6))
        lines = [f"seed {metric}" if len(metric) < 60 else "seed value"]
        for start in range(0, len(pairs), per_line):
            chunk = pairs[start : start + per_line]
            lines.append("    ".join(f"{s.rjust(seed_w)}  {v.rjust(value_w)}" for s, v in chunk).rstrip())
        return lines
    lines = []
    # Several metrics: a row per seed, the metrics' columns in groups that fit the width.
    seed_w = max(4, *(len(str(seed)) for seed, _ in valued))
    groups: list[list[str]] = [[]]
    used = seed_w
    for metric in metrics:
        width = max(
            len(_fit(metric, 20)), *(len(formats[metric](values.get(metric, math.nan))) for _, values in valued)
        )
        if groups[-1] and used + 2 + width > WIDTH:
            groups.append([])
            used = seed_w
        groups[-1].append(metric)
        used += 2 + width
    for group in groups:
        rows = [["seed", *(_fit(m, 20) for m in group)]]
        rows += [
            [str(seed), *(formats[m](values[m]) if m in values else "-" for m in group)] for seed, values in valued
        ]
        lines += _table(rows, [True] * len(rows[0]))
    return lines


def _summary_lines(summaries: Sequence[Summary], formats: dict[str, Callable[[float], str]]) -> list[str]:
    head = ["n", "mean", "std", f"{summaries[0].level:.0%} CI", "min", "max"]
    cells = [[str(s.n), *_statistics_cells(s, formats[s.metric])] for s in summaries]
    # The metrics' names take what room the numbers leave, 16 characters at least.
    room = WIDTH - sum(2 + max(len(row[i]) for row in (head, *cells)) for i in range(len(head)))
    rows = [["", *head], *([_fit(s.metric, max(SHORT, room)), *row] for s, row in zip(summaries, cells, strict=True))]
    return _table(rows, [False, True, True, True, False, True, True])


def _statistics_cells(s: Summary, f: Callable[[float], str]) -> list[str]:
    """Mean, std, CI, min and max as shown: ``-`` with no value, the std and CI ``undefined`` with one."""
    if not s.n:
        return ["-"] * 5
    ci = "undefined" if math.isnan(s.ci[0]) else f"[{f(s.ci[0])}, {f(s.ci[1])}]"
    std = "undefined" if math.isnan(s.std) else f(s.std)
    return [f(s.mean), std, ci, f(s.min), f(s.max)]


_STRIP = 40


def _strip_lines(
    sweep: SeedSweep, summaries: Sequence[Summary], formats: dict[str, Callable[[float], str]]
) -> list[str]:
    """Each metric's values on a line: ``o`` for one seed, a digit for several, ``|`` the mean, ``[ ]`` its CI."""
    lines = []
    drawn = [s for s in summaries if s.n >= 2 and s.min != s.max and math.isfinite(s.max - s.min)]
    ends = max((len(formats[s.metric](s.min)) + len(formats[s.metric](s.max)) for s in drawn), default=0)
    room = max(SHORT, WIDTH - (4 + ends + _STRIP))
    name_width = max((len(_fit(s.metric, room)) for s in drawn), default=0)
    for s in drawn:
        f = formats[s.metric]
        marks = [" "] * _STRIP

        def column(value: float, s: Summary = s) -> int:
            return min(_STRIP - 1, max(0, round((value - s.min) / (s.max - s.min) * (_STRIP - 1))))

        if not math.isnan(s.ci[0]):
            marks[column(max(s.ci[0], s.min))] = "["
            marks[column(min(s.ci[1], s.max))] = "]"
        marks[column(s.mean)] = "|"
        counts: dict[int, int] = {}
        for _, value in sweep._column(s.metric):
            if math.isfinite(value):
                counts[column(value)] = counts.get(column(value), 0) + 1
        for index, count in counts.items():
            marks[index] = "o" if count == 1 else str(count) if count < 10 else "*"
        lines.append(_fit(f"{_fit(s.metric, room).ljust(name_width)}  {f(s.min)} {''.join(marks)} {f(s.max)}", WIDTH))
    if lines:
        lines.append(_fit("(o a seed, 2-9 or * several, | the mean, [ ] its CI)", WIDTH))
    return lines


def _footnotes(sweep: SeedSweep, summaries: Sequence[Summary]) -> list[str]:
    lines = []
    for s in summaries:
        left_out = _left_out_line(sweep, s.metric)
        if left_out:
            lines.append(left_out)
        if s.n == 1:
            lines.append(f"{s.metric}: one value: the std and the CI are undefined (they need two seeds or more)")
    by_error: dict[str, list[int]] = {}
    for seed, error in sweep.errors.items():
        by_error.setdefault(error, []).append(seed)
    for error, seeds in by_error.items():
        lines.append(_fit(f"seed{'s' if len(seeds) > 1 else ''} {describe_seeds(seeds)} raised {error}", WIDTH))
    if not sweep.seeds:
        lines.append("no seed gave a value")
    if sweep.interrupted:
        left = [seed for seed in sweep.planned if seed not in {run.seed for run in sweep.runs}]
        how = "interrupted" if sweep.stopped_by == "interrupt" else "stopped"
        ran = f"{how} after {len(sweep.runs)} of {len(sweep.planned)} seeds"
        lines.append(_fit(f"{ran}; not run: {describe_seeds(left)}", WIDTH))
    lines += [_fit(f"note: {note}", WIDTH) for note in sweep.notes]
    return ["", *lines] if lines else []


def _left_out_line(sweep: SeedSweep, metric: str) -> str | None:
    """``loss: 2 of 16 seeds gave inf or NaN: left out of the statistics (seeds 3, 7)``; None when all are finite."""
    column = sweep._column(metric)
    kinds = list(not_finite(value for _, value in column))
    if not kinds:
        return None
    what = kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"
    seeds = [seed for seed, value in column if not math.isfinite(value)]

    def line(rest: str) -> str:  # the metric's name shortened to leave the rest whole (to 16 characters at most)
        return _fit(f"{_fit(metric, max(16, WIDTH - len(rest)))}{rest}", WIDTH)

    if len(seeds) == len(column):
        every = "the one seed" if len(column) == 1 else f"all {len(column)} seeds"
        return line(f": {every} gave {what}: the statistics are undefined")
    rest = f": {len(seeds)} of {len(column)} seeds gave {what}: left out of the statistics"
    listed = f"{rest} (seed{'s' if len(seeds) > 1 else ''} {describe_seeds(seeds)})"
    return line(listed) if len(metric) + len(listed) <= WIDTH else line(rest)


def comparison_lines(comparison: Comparison) -> list[str]:
    a, b = comparison.a, comparison.b
    lines = [_fit(f"seedmagic: {a} - {b}, paired seed by seed", WIDTH)]
    for d in comparison.differences:
        f = formatter([*d.differences, d.mean, *d.ci, *d.unpaired_ci])
        level = f"{d.level:.0%}"
        if not d.differences:
            lines.append(f"{d.metric}: no seed with a value on both sides")
            continue
        ci = "undefined (one seed)" if math.isnan(d.ci[0]) else f"[{f(d.ci[0])}, {f(d.ci[1])}]"
        unpaired = "" if math.isnan(d.unpaired_ci[0]) else f"{f(d.unpaired_ci[0])}, {f(d.unpaired_ci[1])}"
        lines.append(f"{_fit(d.metric, 30)}: mean difference {f(d.mean)}, {level} CI {ci} over {len(d.seeds)} seeds")
        lines.append(f"  {a} higher on {d.a_higher}, {b} higher on {d.b_higher}, equal on {d.ties}")
        if unpaired:
            lines.append(f"  ignoring the pairing (Welch): [{unpaired}]")
        if d.left_out:
            left_out = describe_seeds(d.left_out)
            lines.append(_fit(f"  left out (no value, or inf or NaN, on one side): {left_out}", WIDTH))
    return [_fit(line, WIDTH) for line in lines]


# -- HTML and the plot ---------------------------------------------------------------------------------------------


def sweep_html(sweep: SeedSweep) -> str:
    escape = html.escape
    metrics = sweep.metrics
    formats = {m: formatter([v for _, v in sweep._column(m)]) for m in metrics}
    parts = [f"<div class='seedmagic-sweep'><p><b>{escape(_header(sweep))}</b></p>"]
    summaries = sweep.summary() if sweep.seeds else ()
    if summaries:
        head = "".join(f"<th>{escape(h)}</th>" for h in ("", "n", "mean", "std", f"{LEVEL:.0%} CI", "min", "max"))
        body = []
        for s in summaries:
            cells = [s.metric, str(s.n), *_statistics_cells(s, formats[s.metric])]
            body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")
        parts.append(_svg_plot(sweep))
    if sweep.runs:
        head = "<th>seed</th>" + "".join(f"<th>{escape(m)}</th>" for m in metrics)
        if sweep.errors:
            head += "<th>error</th>"
        rows = []
        for run in sweep.runs:
            cells = [str(run.seed)]
            cells += [formats[m](run.metrics[m]) if run.metrics and m in run.metrics else "-" for m in metrics]
            if sweep.errors:
                cells.append(run.error or "")
            rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(
            "<details><summary>each seed</summary><div style='max-height:20em;overflow:auto'>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></div></details>"
        )
    notes = [line for line in _footnotes(sweep, summaries) if line]
    if notes:
        parts.append("<p>" + "<br>".join(escape(line) for line in notes) + "</p>")
    parts.append("</div>")
    return "".join(parts)


def _svg_plot(sweep: SeedSweep) -> str:
    """The plot as inline SVG, the same text on every run (fixed ids, no date); empty without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return "<p>(install matplotlib for a plot of the spread)</p>"
    import io

    import numpy  # matplotlib's own: imported with it
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "seedmagic", "svg.fonttype": "none"}):
        figure = Figure(figsize=(6, 0.5 + 0.9 * len(sweep.metrics)))
        buffer = io.StringIO()
        try:
            with numpy.errstate(over="raise"):  # rather than a plot drawn from overflowed coordinates
                _draw(sweep, figure)
                figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
        except (FloatingPointError, OverflowError, ValueError):  # values near the largest float: the tables show them
            return "<p>(no plot: these values are too large for matplotlib to draw)</p>"
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def plot(sweep: SeedSweep, ax: Axes | None) -> Figure | SubFigure:
    if ax is not None:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise InvalidArgumentType(f"plot(ax) draws onto a matplotlib Axes, got {type(ax).__name__}")
        if len(sweep.metrics) != 1:
            raise InvalidArgument("plot(ax) draws one metric: use sweep['name'].plot(ax), or plot() for all")
        _draw_metric(sweep, sweep.metrics[0], ax)
        return ax.figure
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 0.5 + 0.9 * len(sweep.metrics)))
    _draw(sweep, figure)
    return figure


def _draw(sweep: SeedSweep, figure: Figure) -> None:
    metrics = sweep.metrics
    axes = figure.subplots(len(metrics), 1, squeeze=False)[:, 0]
    for metric, ax in zip(metrics, axes, strict=True):
        _draw_metric(sweep, metric, ax)
    figure.tight_layout()


def _draw_metric(sweep: SeedSweep, metric: str, ax: Axes) -> None:
    """A strip plot: one point per seed (spread vertically by rank, never by drawing random numbers), the mean as a
    line and its interval as a band. Values that are not finite are left out of the axis: ``inf`` and ``-inf`` are
    drawn as arrowheads on its right and left edges, and a note in the corner counts what was left out."""
    everything = sweep._column(metric)
    column = [(seed, value) for seed, value in everything if math.isfinite(value)]
    summary = Summary.of(metric, [value for _, value in column])
    if math.isfinite(summary.ci[0]) and math.isfinite(summary.ci[1]):
        ax.axvspan(*summary.ci, color="tab:blue", alpha=0.15, lw=0, label=f"{summary.level:.0%} CI of the mean")
    if summary.n:
        ax.axvline(summary.mean, color="tab:blue", lw=1.5, label="mean")
    offsets = [((index * 0.618) % 1) - 0.5 for index in range(len(column))]
    ax.scatter([v for _, v in column], offsets, s=18, color="black", alpha=0.7, zorder=3)
    if not column:
        ax.set_xticks([])  # no finite value: an axis of 0 to 1 would mean nothing
    kinds = not_finite(value for _, value in everything)
    edges = ax.get_yaxis_transform()  # x in axes coordinates (0 the left edge, 1 the right), y in data: no autoscale
    for kind, x, marker in (("inf", 1.0, ">"), ("-inf", 0.0, "<")):
        if kinds.get(kind):
            count = kinds[kind]
            ys = [((index * 0.618) % 1) - 0.5 for index in range(count)]
            ax.plot([x] * count, ys, marker, color="tab:red", transform=edges, clip_on=False, zorder=3)
    if kinds:
        counted = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        ax.text(1.0, 1.0, f"left out: {counted}", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.set_ylabel(metric, rotation=0, ha="right", va="center")
    ax.spines[["left", "right", "top"]].set_visible(False)
