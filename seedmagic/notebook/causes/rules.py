"""The table of causes and fixes: what is a cause, its fix, and what, done earlier, makes it harmless.

``RULES`` lists the causes, most specific first; ``GUARDS`` the calls that seed a generator family or switch on
deterministic mode, and ``guards_of`` what an event (a call, ``%seed``) seeds or switches on.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass

from .conditions import (
    always,
    cuda,
    draw,
    hashes_text,
    no_generator,
    object_reseeded,
    out_of_order,
    random_seed_magic,
    reads_now,
    shuffles_without_generator,
    tensor_draw,
    unseeded,
    unsorted,
    workers_without_generator,
)
from .events import Event, Position, Scope, Test, call_of, called
from .libraries import (
    DROPOUT_LAYER_NAMES,
    SKLEARN_DRAWS,
    dropout_always,
    dropout_at_inference,
    dropout_in_training,
    first_step,
    in_the_differing_cell,
    init_draw,
    pandas_sample,
    sklearn_draws,
    torch_layer,
)
from .syntax import keyword_value, seed_given, word_set

ALL_GENERATORS = frozenset({"random", "numpy", "torch", "tensorflow"})


@dataclass(frozen=True)
class Rule:
    """``names``: qualified call names (``numpy.random.default_rng``), every function of a module
    (``numpy.random.*``), a method or function by its last name on anything (``*.seed``), or an event (``%seed``,
    ``<set-order>``, ``<cuda>``). ``test``: which of those calls count. ``unless``: what, switched on earlier, makes it
    harmless (a generator family seeded, or "deterministic"). ``at``: where it draws, where that is not where it is
    written (dropout draws when the model runs): what ``unless`` must come before."""

    kind: str
    names: tuple[str, ...]
    fix: str
    test: Test = always
    unless: str | None = None
    at: Callable[[Event, Scope], Position] | None = None

    @functools.cached_property
    def _patterns(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The call names it matches: (qualified names, modules of ``module.*``, last names of ``*.name``)."""
        calls = [name for name in self.names if name[0] not in "%<"]
        exact = frozenset(name for name in calls if not name.startswith("*.") and not name.endswith(".*"))
        modules = frozenset(name[:-2] for name in calls if name.endswith(".*"))
        return exact, modules, frozenset(name[2:] for name in calls if name.startswith("*."))

    def calls(self, qualname: str | None, last: str) -> bool:
        """Whether it names the call ``qualname`` (None where it is not a dotted name), whose last part is ``last``."""
        exact, modules, lasts = self._patterns
        if last in lasts:
            return True
        return qualname is not None and (qualname in exact or qualname.rpartition(".")[0] in modules)


def _under(module: str, names: str) -> tuple[str, ...]:
    """``_under("time", "time perf_counter")`` -> ``("time.time", "time.perf_counter")``."""
    return tuple(f"{module}.{name}" for name in names.split())


FIX_SEED = "seed first: %seed N (or %seed N --auto)"
FIX_STATE = "pass random_state=SEED, or %seed N"
FIX_EVAL = "call model.eval() before inference (dropout draws in train mode), or %seed N"
FIX_HASH = 'set PYTHONHASHSEED=0 in the kernel\'s environment (kernel.json "env"), or sort: sorted(...)'
FIX_ADDRESS = "keep the objects in a list, or sort them: sorted(s, key=...)"
NUMPY_GENERATORS = _under("numpy.random", "default_rng RandomState SeedSequence PCG64 PCG64DXSM MT19937 Philox SFC64")
NUMPY_NOT_DRAWS = word_set("seed get_state set_state Generator BitGenerator get_bit_generator set_bit_generator") | {
    name.rpartition(".")[2] for name in NUMPY_GENERATORS
}
RANDOM_NOT_DRAWS = word_set("seed getstate setstate Random SystemRandom")
TF_NOT_DRAWS = word_set("set_seed Generator get_global_generator set_global_generator experimental")
TORCH_DRAWS = (
    *_under(
        "torch", "rand rand_like randn randn_like randint randint_like randperm bernoulli multinomial normal poisson"
    ),
    "torch.nn.functional.gumbel_softmax",
    "torch.utils.data.random_split",
)
DROPOUT_LAYERS = tuple(f"torch.nn.{name}" for name in sorted(DROPOUT_LAYER_NAMES))
DROPOUT_FUNCTIONS = _under(
    "torch.nn.functional", "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout"
)
TENSOR_DRAWS = _under("*", "uniform_ normal_ random_ bernoulli_ exponential_ cauchy_")
CLOCK = (
    *_under("time", "time time_ns perf_counter perf_counter_ns monotonic monotonic_ns process_time process_time_ns"),
    *_under("time", "thread_time ctime localtime gmtime asctime strftime"),
    *_under("datetime.datetime", "now today utcnow"),
    *_under("pandas.Timestamp", "now today"),
    "datetime.date.today",
)

# Most specific first: a cause found by an earlier rule is listed before one found by a later rule.
RULES: tuple[Rule, ...] = (
    Rule("local-generator", NUMPY_GENERATORS, "seed it: seedmagic.rng() or np.random.default_rng(SEED)", unseeded),
    Rule("local-generator", ("random.Random",), "seed it: random.Random(SEED)", unseeded),
    Rule(
        "local-generator", ("*.seed",), "seed it: seedmagic.torch_generator() or g.manual_seed(SEED)", object_reseeded
    ),
    Rule(
        "local-generator",
        ("tensorflow.random.Generator.from_non_deterministic_state",),
        "seed it: tf.random.Generator.from_seed(SEED)",
    ),
    Rule("os-entropy", _under("os", "urandom getrandom"), "derive it from the seed: seedmagic.rng().bytes(n)"),
    Rule(
        "os-entropy",
        _under("secrets", "token_bytes token_hex token_urlsafe"),
        "derive it from the seed: seedmagic.rng().bytes(n), .hex() for text",
    ),
    Rule(
        "os-entropy",
        _under("uuid", "uuid4 uuid1"),
        "derive it from the seed: uuid.UUID(int=random.getrandbits(128), version=4) after %seed N",
    ),
    Rule(
        "os-entropy",
        ("random.SystemRandom", *_under("secrets", "SystemRandom choice randbelow randbits")),
        "derive it from the seed: random.Random(SEED) or seedmagic.rng()",
    ),
    Rule("os-entropy", ("%seed",), "fix the seed: %seed N instead of %seed --random", random_seed_magic),
    Rule("clock", CLOCK, "keep clock readings out of the output, or mark the cell's output as varying", reads_now),
    Rule(
        "global-generator",
        ("random.seed", "numpy.random.seed", *_under("torch", "seed random.seed cuda.seed cuda.seed_all")),
        "give it a seed, or use %seed N: without one it reseeds from OS entropy",
        unseeded,
    ),
    Rule("global-generator", ("random.*",), FIX_SEED, draw(RANDOM_NOT_DRAWS), unless="random"),
    Rule("global-generator", ("numpy.random.*",), FIX_SEED, draw(NUMPY_NOT_DRAWS), unless="numpy"),
    Rule("global-generator", SKLEARN_DRAWS, FIX_STATE, sklearn_draws, unless="numpy"),
    Rule("global-generator", ("*.sample",), FIX_STATE, pandas_sample, unless="numpy"),
    Rule("global-generator", TORCH_DRAWS, FIX_SEED, no_generator, unless="torch"),
    Rule("global-generator", ("torch.nn.init.*",), FIX_SEED, init_draw, unless="torch"),
    Rule("global-generator", TENSOR_DRAWS, FIX_SEED, tensor_draw, unless="torch"),
    Rule("global-generator", ("torch.nn.*",), FIX_SEED, torch_layer, unless="torch"),
    Rule("global-generator", DROPOUT_FUNCTIONS, FIX_SEED, dropout_always, unless="torch"),
    Rule(
        "global-generator",
        (*DROPOUT_LAYERS, *DROPOUT_FUNCTIONS),
        FIX_SEED,
        dropout_in_training,
        unless="torch",
        at=first_step,
    ),
    Rule(
        "global-generator",
        (*DROPOUT_LAYERS, *DROPOUT_FUNCTIONS),
        FIX_EVAL,
        dropout_at_inference,
        unless="torch",
        at=in_the_differing_cell,
    ),
    Rule(
        "global-generator",
        ("*.DataLoader",),
        "%seed N, or generator=seedmagic.torch_generator()",
        shuffles_without_generator,
        unless="torch",
    ),
    Rule("global-generator", ("tensorflow.random.*", "keras.random.*"), FIX_SEED, draw(TF_NOT_DRAWS), "tensorflow"),
    Rule(
        "dataloader-workers",
        ("*.DataLoader",),
        "worker_init_fn=seedmagic.worker_init_fn, generator=seedmagic.torch_generator()",
        workers_without_generator,
        unless="torch",
    ),
    Rule("dataloader-workers", ("*.DataLoader",), "drop in_order=False: batches come as workers finish", out_of_order),
    Rule("hash-order", ("<set-order>",), FIX_HASH),
    Rule("hash-order", ("<address-order>",), FIX_ADDRESS),
    Rule("hash-order", ("hash",), 'set PYTHONHASHSEED=0 in the kernel\'s environment (kernel.json "env")', hashes_text),
    Rule(
        "listdir-order",
        (*_under("os", "listdir scandir"), *_under("glob", "glob iglob"), *_under("*", "iterdir glob rglob")),
        "sort it: sorted(...)",
        unsorted,
    ),
    Rule("listdir-order", _under("os", "walk fwalk"), "sort it: dirs.sort() and sorted(files) in the walk", unsorted),
    Rule("gpu-kernel", ("<cuda>", "*.cuda"), "%seed N --deterministic", cuda, unless="deterministic"),
)

# What makes a rule's ``unless`` true from here on: the generator families a call seeds, or "deterministic".
ALL = ALL_GENERATORS
GUARDS: dict[str, frozenset[str]] = {
    "random.seed": frozenset({"random"}),
    "numpy.random.seed": frozenset({"numpy"}),
    "torch.manual_seed": frozenset({"torch"}),
    "torch.random.manual_seed": frozenset({"torch"}),
    "tensorflow.random.set_seed": frozenset({"tensorflow"}),
    **dict.fromkeys(("keras.utils.set_random_seed", "tensorflow.keras.utils.set_random_seed"), ALL),
    **dict.fromkeys(("seedmagic.seed_all", "seedmagic.seeded", "*.seed_everything", "*.set_seed"), ALL),
    "torch.use_deterministic_algorithms": frozenset({"deterministic"}),
    "seedmagic.set_deterministic": frozenset({"deterministic"}),
    "tensorflow.config.experimental.enable_op_determinism": frozenset({"deterministic"}),
}


@functools.lru_cache(maxsize=4096)
def is_known(qualname: str) -> bool:
    """Whether a rule or a guard names ``qualname``: how ``from x import *`` names are told apart from others."""
    return qualname in GUARDS or any(rule.calls(qualname, qualname.rpartition(".")[2]) for rule in RULES)


def matches(rule: Rule, event: Event, scope: Scope) -> bool:
    if event.key == "call":
        call = call_of(event)
        qualname, last = scope.qualname(call.func), called(call, scope)
        named = rule.calls(qualname, last)
    else:
        named = event.key in rule.names
    return named and rule.test(event, scope)


def magic_guards(name: str, args: str) -> frozenset[str]:
    """``%seed 0 --only torch,numpy --deterministic`` -> {"torch", "numpy", "deterministic"}; ``%%seeded`` seeds with
    the session seed when it is given none; ``%seed --random`` seeds from OS entropy."""
    words = args.split()
    families: set[str] = set()
    given = bool(words) and not words[0].startswith("-")
    if (given or name == "seeded") and "--random" not in words:
        families |= ALL_GENERATORS
        for option, keep in (("--only", True), ("--skip", False)):
            if option in words[:-1]:
                listed = set(words[words.index(option) + 1].split(","))
                families = families & listed if keep else families - listed
    if "--deterministic" in words:
        families.add("deterministic")
    return frozenset(families)


def guards_of(event: Event, scope: Scope, seeders: dict[str, frozenset[str]]) -> frozenset[str]:
    """What the event seeds or switches on (empty for most events)."""
    if event.key in ("%seed", "%seeded"):
        return magic_guards(event.key[1:], event.args)
    if event.key != "call":
        return frozenset()
    call = call_of(event)
    qualname = scope.qualname(call.func) or ""
    if qualname in seeders:  # a function of the notebook's that seeds
        return seeders[qualname]
    families = GUARDS.get(qualname) or GUARDS.get(f"*.{called(call, scope)}", frozenset())
    if "deterministic" in families:  # use_deterministic_algorithms(False) switches it off
        flag = call.args[0] if call.args else keyword_value(call, "mode")
        return frozenset() if isinstance(flag, ast.Constant) and not flag.value else families
    if not seed_given(call):  # random.seed(), seed_everything(): a seed from OS entropy
        return frozenset()
    deterministic = keyword_value(call, "deterministic")
    if qualname == "seedmagic.seed_all" and isinstance(deterministic, ast.Constant) and deterministic.value:
        return families | {"deterministic"}
    return families
