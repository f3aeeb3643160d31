"""What differs between two records that can change a notebook's results: one line each (``Change``), with the
libraries each difference can change the results of."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .schema import MachineRecord, Record
from .text import described_gpus, plural

#: Libraries whose numbers depend on the CPU's float kernels and BLAS.
_NUMERIC = ("numpy", "torch", "tensorflow", "jax", "cupy")
_GPU_LIBRARIES = ("torch",)


@dataclass(frozen=True)
class Change:
    """One way two records differ that can change a notebook's results: what it is (``kind``), one line saying it,
    and the libraries whose results it can change (empty: every cell's; ``hash``: Python's str hashes)."""

    kind: str
    text: str
    libraries: tuple[str, ...] = ()

    def concerns(self, libraries: Iterable[str]) -> bool:
        """Whether this change can explain a cell that uses ``libraries``."""
        return not self.libraries or bool(set(self.libraries) & set(libraries))


_RELEASES = {
    "torch": "torch does not promise the same random numbers across releases",
    "numpy": "NumPy promises only its legacy np.random.seed stream across releases",
    "tensorflow": "TensorFlow does not promise the same random numbers across releases",
}
_BUILD_WORDS = {
    "cuda": "CUDA",
    "cudnn": "cuDNN",
    "hip": "ROCm",
    "cpu_capability": "CPU kernels",
    "blas": "BLAS",
    "blas_kernel": "BLAS kernels",
    "simd": "SIMD extensions",
}


def changes(saved: Record, now: Record) -> tuple[Change, ...]:
    """How the run's record (``now``) differs from the saved one, each difference once, in the order: session,
    versions, builds, GPU, CPU, threads, flags, environment."""
    found: list[Change] = []
    before, after = saved["session"], now["session"]
    if before["seed"] != after["seed"]:
        found.append(Change("session", f"the session seed was {before['seed']} when saved, {after['seed']} now"))
    if before["mode"] != after["mode"]:
        found.append(Change("session", f"{before['mode']} mode when saved, {after['mode']} now"))
    if sorted(before["selection"]) != sorted(after["selection"]):
        found.append(
            Change(
                "session", f"%seed seeded {_names(before['selection'])} when saved, {_names(after['selection'])} now"
            )
        )
    for switch, words in (("reach", "--reach"), ("deterministic", "deterministic mode")):
        if bool(before.get(switch)) != bool(after.get(switch)):
            found.append(
                Change("session", f"{words} {_on(before.get(switch))} when saved, {_on(after.get(switch))} now")
            )
    if saved["python"] != now["python"]:
        found.append(
            Change(
                "version",
                f"Python {saved['python']} then {now['python']}: random promises only random()'s sequence across "
                "versions",
                ("random",),
            )
        )
    if saved["seedmagic"] != now["seedmagic"]:
        found.append(Change("version", f"seedmagic {saved['seedmagic']} then {now['seedmagic']}", ("seedmagic",)))
    libraries_before, libraries_now = saved["libraries"], now["libraries"]
    common = [name for name in libraries_before if name in libraries_now and name != "random"]
    for name in common:
        old, new = libraries_before[name].get("version"), libraries_now[name].get("version")
        if old != new:
            why = _RELEASES.get(name, f"{name} may draw other random numbers in another release")
            found.append(Change("version", f"{name} {old} then {new}: {why}", (name,)))
    machine = _machine_changes(saved, now)
    cpu_changed = any(change.kind == "cpu" for change in machine)
    for name in common:
        old_build, new_build = libraries_before[name]["build"], libraries_now[name]["build"]
        for key in sorted(set(old_build) | set(new_build), key=_build_order):
            if key in _FOLLOW_THE_CPU and cpu_changed:
                continue  # what the build chose for the CPU: the CPU's change says it
            if key == "cudnn" and old_build.get("cuda") != new_build.get("cuda"):
                continue  # another CUDA build: its cuDNN goes with it
            if key in _BUILD_WORDS and old_build.get(key) != new_build.get(key):
                old_value, new_value = old_build.get(key) or "none", new_build.get(key) or "none"
                found.append(
                    Change("build", f"{name}'s {_BUILD_WORDS[key]}: {old_value} when saved, {new_value} now", (name,))
                )
    found.extend(machine)
    threads_changed = False
    for name in common:
        old_threads, new_threads = libraries_before[name].get("threads"), libraries_now[name].get("threads")
        if old_threads is not None and new_threads is not None and old_threads != new_threads:
            threads_changed = True
            found.append(
                Change(
                    "threads",
                    f"{name} used {plural(old_threads, 'thread')} when saved, {new_threads} now: a sum split over "
                    "other threads can round differently",
                    (name,),
                )
            )
    flags_before, flags_now = saved["flags"], now["flags"]
    on_gpus = bool(saved["machine"].get("gpus")) and bool(now["machine"].get("gpus"))
    for name in flags_before:
        if name not in flags_now or flags_before[name] == flags_now[name]:
            continue
        if _gpu_only(name) and not on_gpus:
            continue  # it matters only where both runs computed on a GPU: the GPU's change says the rest
        old_flag, new_flag = flags_before[name], flags_now[name]
        if name.isupper():  # an environment variable
            text = f"{name} was {old_flag}, now {new_flag}"
        else:
            text = f"{name} was {old_flag} when saved, {new_flag} now"
        found.append(Change("flag", text, _flag_libraries(name)))
    if not threads_changed:
        env_before, env_now = saved["environment"], now["environment"]
        for var in sorted(set(env_before) | set(env_now)):
            if env_before.get(var) != env_now.get(var):
                old_var, new_var = env_before.get(var) or "unset", env_now.get(var) or "unset"
                found.append(Change("environment", f"{var} was {old_var}, now {new_var}", _NUMERIC))
    return tuple(found)


_FOLLOW_THE_CPU = ("cpu_capability", "blas_kernel", "simd")


def _build_order(key: str) -> int:
    words = list(_BUILD_WORDS)
    return words.index(key) if key in words else len(words)


def _gpu_only(flag: str) -> bool:
    """A setting that changes only what a GPU computes (cuDNN, cuBLAS, TF32 matmuls)."""
    return "cudnn" in flag or ".cuda." in flag or flag == "CUBLAS_WORKSPACE_CONFIG"


def _machine_changes(saved: Record, now: Record) -> list[Change]:
    found = []
    before, after = saved["machine"], now["machine"]
    gpus_before, gpus_now = before.get("gpus") or [], after.get("gpus") or []
    if [dict(gpu) for gpu in gpus_before] != [dict(gpu) for gpu in gpus_now]:
        old = _article(described_gpus(gpus_before)) + _tf32(saved) if gpus_before else "a CPU"
        new = _article(described_gpus(gpus_now)) + _tf32(now) if gpus_now else "a CPU"
        found.append(Change("gpu", f"saved on {old}, run on {new}", _GPU_LIBRARIES))
    same_arch = before.get("arch") == after.get("arch")
    cpu_before, cpu_now = _cpu(before, not same_arch), _cpu(after, not same_arch)
    if cpu_before != cpu_now:
        found.append(
            Change(
                "cpu",
                f"saved on {cpu_before}, run on {cpu_now}: float kernels chosen for a CPU can round differently",
                _NUMERIC,
            )
        )
    return found


def _cpu(machine: MachineRecord, arch: bool) -> str:
    name = machine.get("cpu") or "an unknown CPU"
    shown = _article(name) if machine.get("cpu") else name
    return f"{shown} ({machine.get('arch')})" if arch else shown


def _tf32(record: Record) -> str:
    """`` with TF32 allowed`` where the record's GPU computes float32 in TF32 (compute capability 8.0 and newer)."""
    gpus = record["machine"].get("gpus") or []
    try:
        ampere = bool(gpus) and float(gpus[0]["capability"]) >= 8.0
    except (TypeError, ValueError, KeyError):
        ampere = False
    flags = record["flags"]
    allowed = any(
        value is True or (isinstance(value, str) and "tf32" in value)
        for name, value in flags.items()
        if name.endswith("allow_tf32")
    )
    return " with TF32 allowed" if ampere and allowed else ""


def _article(name: str) -> str:
    first = name.split()[0] if name.split() else ""
    vowel = first[:1] in tuple("AEIOUaeiou") or (first.isupper() and first[:1] in tuple("AEFHILMNORSX"))
    return f"{'an' if vowel else 'a'} {name}"


def _flag_libraries(name: str) -> tuple[str, ...]:
    if name.startswith("torch") or name == "CUBLAS_WORKSPACE_CONFIG":
        return ("torch",)
    if name.startswith("tf"):
        return ("tensorflow",)
    if name == "PYTHONHASHSEED":
        return ("hash",)
    return ()


def _names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "nothing"


def _on(value: object) -> str:
    return "on" if value else "off"


def cell_seed_change(saved: Record, now: Record, key: str) -> Change | None:
    """Where auto mode gave the cell known by ``key`` (a record key) another seed in the run than when saved."""
    before = {cell["key"]: cell["seed"] for cell in saved["cells"]}
    after = {cell["key"]: cell["seed"] for cell in now["cells"]}
    if key in before and key in after and before[key] != after[key]:
        return Change("cell-seed", f"auto mode seeded this cell with {before[key]} when saved, {after[key]} now")
    if key in before and key not in after and now["session"]["mode"] != "auto":
        return Change("cell-seed", f"auto mode seeded this cell with {before[key]} when saved, not now")
    if key in after and key not in before and saved["session"]["mode"] == "auto" and saved["cells"]:
        return Change(
            "cell-seed", f"auto mode seeded this cell with {after[key]} now; the saved record has no seed for it"
        )
    return None
