"""The second process of the panel's benchmark: a real, in-process ipykernel with a live ``%seedpanel``, its cells
timed in three states (no seedmagic, auto mode, auto mode and the panel), its samples printed as JSON.

``python benchmarks/panel_child.py [--quick]``, started by ``bench_panel.py``. Each state is entered anew every round
(the order rotating), and each cell is timed alone: the sample is the median of 20 cells after 3 untimed ones, so
that the first cells after a switch, which run slower, are left out. Beside it, the panel's own callbacks are timed
where they run, and so are the readings they must make, written inline.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from baselines import AUTO_CELL
from hotspots import hotspots
from ratios import STACK, flush_history, rounds_for
from traitlets.config import Config

QUICK = "--quick" in sys.argv[1:]

PANEL_STATES = ("bare", "auto", "auto+panel")
PANEL_EVENTS = ("pre_run_cell", "post_run_cell")


def main() -> None:
    """In a fresh interpreter (``panel_child.py``): a real, in-process ipykernel, so that ``%seedpanel`` shows
    a live widget panel that refreshes after every cell, as in JupyterLab. Prints the samples as JSON."""
    from ipykernel.inprocess.manager import InProcessKernelManager

    config = Config()
    config.HistoryManager.hist_file = ":memory:"  # as in the main process; and the user's history stays untouched
    manager = InProcessKernelManager(config=config)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    shell = manager.kernel.shell
    assert shell.history_manager.hist_file == ":memory:"
    shell.user_ns.update(random=random, np=np, torch=torch)
    samples: dict[str, dict[str, list[float]]] = {"stubbed": {}, "shipped": {}}
    refresh_samples: list[float] = []
    reads_samples: list[float] = []

    def run_quiet(source: str) -> None:
        shell.run_cell(source, store_history=True).raise_error()

    def drain() -> None:  # the panel's comm messages and the display data, as a front end would read them
        with contextlib.suppress(Exception):
            while True:
                client.get_iopub_msg(timeout=0.001)

    refreshes: dict[str, Callable[..., object]] = {}  # the cell callbacks that %seedpanel added, by event

    def enter(state: str) -> None:
        run_quiet("%unload_ext seedmagic")
        if state != "bare":
            run_quiet("%load_ext seedmagic")
            run_quiet("%seed 0 --auto -q")
        if state == "auto+panel":
            before = {event: list(shell.events.callbacks[event]) for event in PANEL_EVENTS}
            run_quiet("%seedpanel")
            assert sys.modules["seedmagic.panel"].panels(shell), "%seedpanel showed no live panel"
            refreshes.clear()
            for event in PANEL_EVENTS:
                added = [call for call in shell.events.callbacks[event] if call not in before[event]]
                assert len(added) <= 1, f"%seedpanel added {len(added)} {event} callbacks"
                if added:
                    refreshes[event] = added[0]
            assert "post_run_cell" in refreshes, "%seedpanel did not add a post_run_cell callback"

    def cells() -> list[float]:
        """20 cells run back to back, after 3 untimed ones."""
        times = []
        for warm in (True,) * 3 + (False,) * 20:
            gc.disable()
            try:
                start = time.perf_counter_ns()
                shell.run_cell(AUTO_CELL, store_history=True)
                elapsed = (time.perf_counter_ns() - start) / 1000
            finally:
                gc.enable()
            if not warm:
                times.append(elapsed)
        return times

    def refresh_alone() -> list[float]:
        """The panel's own work in each of 20 cells: its cell callbacks (the reading before the cell, where it has
        one, and the refresh after), timed where they run, summed per cell."""
        spent: dict[str, list[float]] = {event: [] for event in refreshes}

        def timed(event: str, call: Callable[..., object]) -> Callable[..., None]:
            def timed_call(*args: object) -> None:
                start = time.perf_counter_ns()
                call(*args)
                spent[event].append((time.perf_counter_ns() - start) / 1000)

            return timed_call

        wrapped = {event: timed(event, call) for event, call in refreshes.items()}
        for event, call in refreshes.items():
            callbacks = shell.events.callbacks[event]
            callbacks[callbacks.index(call)] = wrapped[event]
        try:
            cells()
        finally:
            for event, call in refreshes.items():
                callbacks = shell.events.callbacks[event]
                callbacks[callbacks.index(wrapped[event])] = call
        return [sum(times) for times in zip(*spent.values(), strict=True)][3:]

    def reads_alone() -> list[float]:
        """The readings the panel must make after each cell, and their comparison with the last cell's, written
        inline with the libraries' own calls in a ``post_run_cell`` callback that stands in for the panel's
        callbacks, in the same cells: the floor under the panel's own work."""
        import ctypes

        getstate, environ_get, string_at = random.getstate, os.environ.get, ctypes.string_at
        generator, cudnn, matmul = torch.default_generator, torch.backends.cudnn, torch.backends.cuda.matmul
        bit_generator = np.random.get_bit_generator()
        numpy_state = memoryview((ctypes.c_char * (624 * 4 + 4)).from_address(bit_generator.ctypes.state_address))
        times: list[float] = []
        last: list[object] = [None]

        def read(result: object = None) -> None:
            start = time.perf_counter_ns()
            state, (_, words, gauss) = generator.get_state(), getstate()
            now = (
                (words[-1], words[0], words[311], words[623], gauss),  # as the panel: position, 3 words, gauss
                numpy_state.tobytes(),
                string_at(state.data_ptr(), state.numel()),
                generator.initial_seed(),
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                cudnn.deterministic,
                cudnn.benchmark,
                matmul.allow_tf32,
                cudnn.allow_tf32,
                torch.cuda.is_initialized(),
                environ_get("CUBLAS_WORKSPACE_CONFIG"),
            )
            last[0] = now if now != last[0] else last[0]
            del state, words, now  # freed inside the timing, as the panel frees its readings (625 ints, a tensor)
            times.append((time.perf_counter_ns() - start) / 1000)

        for event, call in refreshes.items():
            shell.events.unregister(event, call)
        shell.events.register("post_run_cell", read)
        try:
            cells()
        finally:
            shell.events.unregister("post_run_cell", read)
            for event, call in refreshes.items():
                shell.events.register(event, call)
        return times[3:]

    flush = flush_history(shell)
    run_quiet("%load_ext seedmagic")
    order = [(state, stub) for stub in (True, False) for state in PANEL_STATES]
    for index in range(rounds_for(40, QUICK)):
        shift = index % len(order)
        for state, stub in order[shift:] + order[:shift]:
            enter(state)
            with STACK.stubbed() if stub else contextlib.nullcontext():
                samples["stubbed" if stub else "shipped"].setdefault(state, []).append(statistics.median(cells()))
                if state == "auto+panel" and stub:
                    refresh_samples.append(statistics.median(refresh_alone()))
                    reads_samples.append(statistics.median(reads_alone()))
            drain()
            flush()
    enter("auto+panel")
    profile = hotspots(lambda: shell.run_cell(AUTO_CELL, store_history=True), 600, between=flush)
    shell.run_cell(AUTO_CELL, store_history=True)
    refresh_profile = hotspots(lambda: [call(None) for call in refreshes.values()], 2000)
    drain()
    result = {
        "samples": samples,
        "refresh": refresh_samples,
        "reads": reads_samples,
        "profile": profile,
        "refresh_profile": refresh_profile,
    }
    print("@@" + json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # the in-process kernel's threads would otherwise complain at exit


if __name__ == "__main__":
    main()
