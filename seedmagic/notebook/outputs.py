"""A code cell's outputs, as ``seedmagic verify`` compares them: what always differs between two runs taken out.

Text, results, displays and errors are compared, images by their data. Execution counts, output metadata, widget
model ids, memory addresses (``0x7f...``), the kernel's process id in a cell's file name, timings (``%timeit``,
``%time``), ANSI colours and how a stream happened to be cut into messages are not: they differ between any two
runs, seeded or not.

A time or date in the text that falls within the runs (``clock_reading``) is output that changes with the clock: two
runs made at the same time can show the same one, and the next run another.
"""

from __future__ import annotations

import base64
import calendar
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
# ipykernel compiles each cell to /tmp/ipykernel_<pid>/<hash>.py: a warning's location names the process.
_KERNEL_FILE = re.compile(r"\bipykernel_[0-9]+(?=[/\\])")
_UNIT = r"(?:[nµμu]s|ms|s|min|h)"  # IPython writes µs with the Greek mu
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_RUNS = r"[0-9,]+ runs?, [0-9,]+ loops? each"
_TIMINGS = (
    # %timeit: "1.23 µs ± 4.5 ns per loop (mean ± std. dev. of 7 runs, 1,000,000 loops each)"
    (
        re.compile(rf"{_NUMBER} ?{_UNIT} ± {_NUMBER} ?{_UNIT} per loop \(mean ± std\. dev\. of {_RUNS}\)"),
        "<%timeit>",
    ),
    (
        re.compile(rf"{_NUMBER} ?{_UNIT} \+- {_NUMBER} ?{_UNIT} per loop \(mean \+- std\. dev\. of {_RUNS}\)"),
        "<%timeit>",
    ),
    (re.compile(rf"[0-9,]+ loops?, best of [0-9]+: {_NUMBER} ?{_UNIT} per loop"), "<%timeit>"),
    # %timeit's note that the slowest run took N times the fastest, which it prints in some runs and not others: the
    # line goes, with its end.
    (re.compile(r"^The slowest run took [0-9.]+ times longer than the fastest\..*(?:\n|$)", re.MULTILINE), ""),
    # tqdm's progress bar: "50/50 [00:01<00:00, 9.50it/s]", "50it [00:00, 1.2Mit/s, loss=0.3]", "1.20s/it"
    (
        re.compile(
            r"\[(?:\d+:)?\d{2}:\d{2}(?:<(?:(?:\d+:)?\d{2}:\d{2}|\?))?, *(?:\?|[0-9.]+ ?[kMGTPEZY]?)"
            r"[A-Za-z_]*/[A-Za-z_]+"
        ),
        "[<tqdm>",
    ),
    (re.compile(r"CPU times: .*"), "CPU times: <%time>"),
    (re.compile(r"Wall time: .*"), "Wall time: <%time>"),
)
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_DATE = re.compile(r"<dc:date>[^<]*</dc:date>")
_TEXT_MIME = ("text/", "application/json", "application/javascript", "image/svg+xml")
_BINARY_MIME = ("image/png", "image/jpeg", "image/gif", "image/webp")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Output(NamedTuple):
    """One output as compared: its kind (``stdout``, ``stderr``, ``result``, ``display``, ``error``), and its
    content, normalized (a MIME type to text, or to the bytes of an image)."""

    kind: str
    content: tuple[tuple[str, str | bytes], ...]

    def summary(self, width: int = 60) -> str:
        """One short line: the kind and the start of its text (or an image's size)."""
        mime, value = next((item for item in self.content if item[0] == "text/plain"), self.content[0])
        shown = f"<{mime}, {len(value)} bytes>" if isinstance(value, bytes) else " ".join(value.split())
        if len(shown) > width:
            shown = shown[: width - 1] + "…"
        return f"{self.kind}: {shown}"


def normalized_text(text: str) -> str:
    """Text with ANSI colours, memory addresses and timings taken out, each line as a terminal or a notebook shows it
    once written: a line rewritten after a carriage return (a progress bar) is its last form, however many forms the
    timing of a run made it go through."""
    if "\r" in text:
        text = "\n".join(_shown(line) for line in text.split("\n"))
    text = _ANSI.sub("", text)
    text = _ADDRESS.sub("0x…", text)
    text = _KERNEL_FILE.sub("ipykernel_…", text)
    for pattern, replacement in _TIMINGS:
        text = pattern.sub(replacement, text)
    return text


def _shown(line: str) -> str:
    """What is left of a line written over after each carriage return: its last form that is not empty."""
    forms = [form for form in line.split("\r") if form]
    return forms[-1] if forms else ""


def _svg(text: str) -> str:
    # matplotlib names clip paths and glyphs from a random salt and stamps the date: rename ids in order of first use.
    text = _SVG_DATE.sub("<dc:date/>", text)
    names: dict[str, str] = {}
    for name in _SVG_ID.findall(text):
        names.setdefault(name, f"id{len(names)}")
    for name, new in sorted(names.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"(?<=[\"#]){re.escape(name)}(?=[\")])", new, text)
    return text


def _data(bundle: Mapping[str, Any]) -> tuple[tuple[str, str | bytes], ...]:
    items: list[tuple[str, str | bytes]] = []
    for mime in sorted(bundle):
        value = bundle[mime]
        if mime == WIDGET_VIEW and isinstance(value, Mapping):
            value = {key: part for key, part in value.items() if key != "model_id"}  # random per run
        if mime in _BINARY_MIME and isinstance(value, str):
            items.append((mime, base64.b64decode("".join(value.split()))))
            continue
        if isinstance(value, list):  # nbformat may store text as a list of lines
            value = "".join(value)
        text = value if isinstance(value, str) else repr(value)
        if mime == "image/svg+xml":
            text = _svg(text)
        items.append((mime, normalized_text(text) if mime.startswith(_TEXT_MIME) else text))
    return tuple(items)


def normalized(outputs: Iterable[Mapping[str, Any]]) -> tuple[Output, ...]:
    """A cell's outputs as compared: consecutive stream messages of one stream joined (a run may cut them
    anywhere), everything that differs between any two runs taken out."""
    result: list[Output] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            name = str(output.get("name", "stdout"))
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            if result and result[-1].kind == name:
                text = str(result[-1].content[0][1]) + text
                result.pop()
            result.append(Output(name, (("text/plain", text),)))
        elif kind in ("execute_result", "display_data", "update_display_data"):
            result.append(Output("result" if kind == "execute_result" else "display", _data(output.get("data", {}))))
        elif kind == "error":
            traceback = "\n".join(output.get("traceback", []))
            content = f"{output.get('ename', '')}: {output.get('evalue', '')}\n{traceback}"
            result.append(Output("error", (("text/plain", normalized_text(content)),)))
    # Normalized last: a timing cut across two stream messages is whole again.
    return tuple(
        Output(out.kind, tuple((mime, normalized_text(v) if isinstance(v, str) else v) for mime, v in out.content))
        if out.kind in ("stdout", "stderr")
        else out
        for out in result
    )


def first_difference(first: Sequence[Output], second: Sequence[Output]) -> str | None:
    """None when the two runs' outputs are the same, else one line saying where they first differ."""
    if first == second:
        return None
    for position, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            if a.kind != b.kind:
                return f"output {position + 1}: {a.kind} in one run, {b.kind} in the other"
            return f"output {position + 1} ({a.kind}): {_parting(a, b)}"
    longer, shorter = (first, second) if len(first) > len(second) else (second, first)
    extra = longer[len(shorter)]
    return f"one run has {len(longer) - len(shorter)} more output(s), starting with {extra.summary()}"


def _parting(a: Output, b: Output, width: int = 40) -> str:
    """Where two outputs of one kind part: the first line that differs, from each run."""
    mime_a, value_a = _main(a)
    mime_b, value_b = _main(b)
    if mime_a != mime_b:
        return f"{mime_a} in one run, {mime_b} in the other"
    if isinstance(value_a, bytes) or isinstance(value_b, bytes):
        return f"{mime_a} data differs ({len(value_a)} and {len(value_b)} bytes)"
    lines_a, lines_b = value_a.splitlines() or [""], value_b.splitlines() or [""]
    for line_a, line_b in zip(lines_a, lines_b, strict=False):
        if line_a != line_b:
            return f"{_clip(line_a, width)!r} vs {_clip(line_b, width)!r}"
    if len(lines_a) != len(lines_b):
        return f"{len(lines_a)} lines vs {len(lines_b)}"
    return f"{mime_a}: the other representations differ"


def _main(output: Output) -> tuple[str, str | bytes]:
    return next((item for item in output.content if item[0] == "text/plain"), output.content[0])


def _clip(text: str, width: int) -> str:
    text = text.strip()
    return text if len(text) <= width else text[: width - 1] + "…"


# -- the clock ---------------------------------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(?P<month_name>" + "|".join(_MONTHS) + ")[a-z]*"
_HMS = r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
_CLOCK_FORMS = tuple(
    re.compile(form)
    for form in (
        # ISO 8601 and its kin: datetime.now(), str(date.today()), pandas Timestamps, logging's asctime
        rf"(?<![\d.])(?P<year>\d{{4}})[-/](?P<month>\d{{2}})[-/](?P<day>\d{{2}})(?:[T ]{_HMS})?(?![\d])",
        # datetime.datetime(2026, 3, 5, 14, 3, 22, 123456) and datetime.date(2026, 3, 5), as repr shows them
        r"datetime\.date(?:time)?\((?P<year>\d{4}), (?P<month>\d{1,2}), (?P<day>\d{1,2})"
        r"(?:, (?P<hour>\d{1,2}), (?P<minute>\d{1,2})(?:, (?P<second>\d{1,2})(?:, (?P<fraction>\d{1,6}))?)?)?\)",
        # time.localtime(): time.struct_time(tm_year=2026, tm_mon=3, tm_mday=5, tm_hour=14, tm_min=3, tm_sec=22, ...)
        r"tm_year=(?P<year>\d{4}), tm_mon=(?P<month>\d{1,2}), tm_mday=(?P<day>\d{1,2}), tm_hour=(?P<hour>\d{1,2}), "
        r"tm_min=(?P<minute>\d{1,2}), tm_sec=(?P<second>\d{1,2})",
        # time.ctime(), date(1): "Thu Mar  5 14:03:22 2026", "Thu Mar  5 14:03:22 UTC 2026"; ls -l: "Mar  5 14:03"
        rf"\b{_MONTH} +(?P<day>\d{{1,2}}),? {_HMS}(?: [A-Z]{{2,5}})?(?: (?P<year>\d{{4}}))?(?![\d:])",
        # email.utils.formatdate and HTTP dates: "Thu, 05 Mar 2026 14:03:22 GMT"
        rf"\b(?P<day>\d{{1,2}}) {_MONTH} (?P<year>\d{{4}}),? {_HMS}",
        # time.strftime("%H:%M:%S") alone: a time of day, on the day of the runs
        r"(?<![\d:.])(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,6}))?(?![\d:])",
        # time.time(), time.time_ns() and the like: seconds (or ms, µs, ns) since 1970, from 2017 to 2033
        r"(?<![\d.])(?P<epoch>(?:1[5-9]|20)\d{8}(?:\d{3}){0,3})(?:\.(?P<fraction>\d+))?(?![\d])",
    )
)
_SLACK = 1.0  # seconds either side of the runs: a file's time stamp may lag the clock


class ClockReading(NamedTuple):
    """A time written in an output, as the span of wall-clock time (seconds since 1970) it stands for."""

    text: str
    start: float
    span: float  # its resolution: a day, a minute, a second, a microsecond


def _fraction(digits: str | None) -> tuple[float, float]:
    return (int(digits) / 10 ** len(digits), 10.0 ** -len(digits)) if digits else (0.0, 1.0)


def _readings(match: re.Match[str], near: tuple[float, float]) -> Iterator[ClockReading]:
    """What one match can mean: in local time or in UTC, in the years and on the days of ``near`` where the text
    leaves them out."""
    found = {key: value for key, value in match.groupdict().items() if value is not None}
    text = match.group(0)
    if "epoch" in found:
        digits = found["epoch"]
        scale = 10 ** (len(digits) - 10)
        fraction, span = _fraction(found.get("fraction"))
        yield ClockReading(text, (int(digits) + fraction) / scale, span / scale)
        return
    fraction, span = _fraction(found.get("fraction"))
    if "second" not in found:
        span = 60.0 if "hour" in found else 86_400.0
    for utc in (False, True):
        days = {(day.tm_year, day.tm_mon, day.tm_mday) for day in map(time.gmtime if utc else time.localtime, near)}
        for year, month, day in days:
            if "month_name" in found:
                month = _MONTHS.index(found["month_name"][:3]) + 1
            elif "month" in found:
                month = int(found["month"])
            year, day = int(found.get("year", year)), int(found.get("day", day))
            clock = (year, month, day, int(found.get("hour", 0)), int(found.get("minute", 0)))
            if not (1 <= month <= 12 and 1 <= day <= 31 and clock[3] < 24 and clock[4] < 60):
                continue
            fields = (*clock, int(found.get("second", 0)), 0, 0, -1)
            try:
                start = calendar.timegm(fields) if utc else time.mktime(fields)
            except (OverflowError, ValueError):
                continue
            yield ClockReading(text, start + fraction, span)


def clock_reading(outputs: Sequence[Output], began: float, ended: float) -> tuple[int, ClockReading] | None:
    """The first time of day or date in ``outputs``' text that falls within ``began``..``ended`` (``time.time()``),
    with the position of its output: output that shows when it ran, and so changes with the clock."""
    for position, output in enumerate(outputs):
        for mime, value in output.content:
            if not isinstance(value, str) or not mime.startswith(_TEXT_MIME):
                continue
            read: list[tuple[int, int]] = []  # where a form found a time: a later form's part of it is not one
            for form in _CLOCK_FORMS:
                for match in form.finditer(value):
                    if any(start < match.end() and match.start() < end for start, end in read):
                        continue
                    read.append(match.span())
                    for reading in _readings(match, (began, ended)):
                        if reading.start < ended + _SLACK and reading.start + reading.span > began - _SLACK:
                            return position, reading
    return None
