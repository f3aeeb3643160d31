"""How `make test` shares the tests among pytest-xdist's workers (``pytest -n auto``), and in what order.

Most tests are independent and go wherever a worker is free. Some go together to one worker, in order, as a group:

- a notebook's cells under nbval, which run in order in one kernel;
- the tests of a module whose module-scoped fixture is expensive (a kernel run, a record saved from a kernel, the
  docs built, an environment installed): a worker that ran another module's test in between would make the fixture
  again;
- the repeats of one notebook's verify in tests/test_verify.py, which share its verdicts.

Groups that hold a test marked ``slow`` run first, so that the longest work starts early and the workers end
together. xdist's own ``--dist loadgroup`` would say the groups with marks, but xdist 3.8 writes the group into
``item._nodeid``, which pytest 9 no longer reads, and so its groups do nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

# The modules whose tests share a module-scoped fixture worth making once.
SHARED_MODULES = frozenset(
    {
        "tests/test_census.py",
        "tests/test_docs.py",
        "tests/test_kernel.py",
        "tests/test_readme_routes.py",
        "tests/test_replay.py",
    }
)
# Parametrized tests whose instances share what their first parameter names (``[notebook-repeat]``).
BY_FIRST_PARAMETER = frozenset({"tests/test_verify.py::test_verify_finds_every_cause_and_no_control_differs"})


def group(nodeid: str) -> str:
    """The group a test belongs to: its notebook, its shared module, its first parameter, or the test alone."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") or path in SHARED_MODULES:
        return path
    function, bracket, parameters = nodeid.partition("[")
    if bracket and function in BY_FIRST_PARAMETER:
        return f"{function}[{parameters.rsplit('-', 1)[0]}"
    return nodeid


def slow_groups_first(items: list[pytest.Item]) -> None:
    """Groups that hold a slow test first; each group's tests together, in the order they were collected."""
    first: dict[str, int] = {}
    slow: set[str] = set()
    for index, item in enumerate(items):
        key = group(item.nodeid)
        first.setdefault(key, index)
        if item.get_closest_marker("slow") is not None:
            slow.add(key)
    order = {id(item): (group(item.nodeid) not in slow, first[group(item.nodeid)], i) for i, item in enumerate(items)}
    items.sort(key=lambda item: order[id(item)])


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without xdist, `pytest` runs every test in one process, and none of the scheduler is needed
    make_scheduler = None
else:

    class ByGroup(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scope scheduler, with :func:`group` as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return group(nodeid)

    def make_scheduler(config: pytest.Config, log: Any) -> Any:
        """``pytest_xdist_make_scheduler``: :class:`ByGroup` for xdist's default ``--dist load``."""
        if config.getoption("dist") != "load":  # a --dist the user chose is theirs
            return None
        return ByGroup(config, log)
