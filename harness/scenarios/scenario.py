"""Scenarios as data: a TOML file in scenarios/ describes one scaleout and its sweep of N.

    [scenario]                      # the run
    title, baseline, actor, event_type, emit_mode, driver (where it came from)
    sweep = [20, 100]               # N run by default
    slow_sweep = [100000]           # N run only on request (pytest --iu-max-n / -m slow)
    not_proven = ["..."]            # what this scenario says it does not prove
    [[mix]]                         # one per template: share of N by weight
    template, kind, version, weight, suffix = "bulk-{i:05d}", event_id_base (optional)
    [expect]                        # optional pins at one N: absolute counts etc.
    n, counts, template_summary, digest_audit

Event ids are derived in SQL from the scenario name, template and index
(md5 -> uuid), or from `event_id_base` (its last 12 digits replaced by the
index, as the seeds' synthetic ids), so two runs give identical reports.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import ScenarioError
from harness.scenarios.generated import GeneratedBaseline
from harness.spec import SPEC_TABLES, SPEC_TARGET_N

KINDS = ("file", "workflow")
GATE_MODES = ("committed", "in_tx")
_SUFFIX_TOKEN = re.compile(r"\{i(?::0(\d+)d)?\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class MixItem:
    template: str
    kind: str
    version: str
    weight: int
    suffix: str
    event_id_base: str | None = None

    @property
    def suffix_parts(self) -> tuple[str, int, str]:
        """(prefix, zero-pad width, tail) around the single `{i}` token."""
        match = _SUFFIX_TOKEN.search(self.suffix)
        assert match is not None  # validated at load
        width = int(match.group(1)) if match.group(1) else 0
        return self.suffix[: match.start()], width, self.suffix[match.end():]

    def suffix_for(self, i: int) -> str:
        prefix, width, tail = self.suffix_parts
        return f"{prefix}{str(i).zfill(width)}{tail}"


@dataclass(frozen=True)
class Expectation:
    n: int
    counts: dict[str, int] = field(default_factory=dict)
    template_summary: dict[str, int] = field(default_factory=dict)
    digest_audit: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    title: str
    baseline: str | GeneratedBaseline | None  # a file baseline's name, or a [generate]d world
    actor: str
    event_type: str
    emit_mode: str
    sweep: tuple[int, ...]
    slow_sweep: tuple[int, ...]
    mix: tuple[MixItem, ...]
    driver: str = ""
    not_proven: tuple[str, ...] = ()
    expect: Expectation | None = None
    # Scaling as a check: per-instance cost at the largest N of a sweep over that at the smallest
    # may grow at most `scaling_threshold` times when the step of N is at least `scaling_min_step`;
    # `scaling_sizes` are the two N of the pytest scaling test.
    scaling_threshold: float = 3.0
    scaling_min_step: int = 10
    scaling_sizes: tuple[int, int] = (100, 1000)
    # Concurrent workers (harness/run/workers.py): 0 = the seeds' single transaction; K >= 1 = K sessions,
    # `batch` events per transaction, a `redelivered` share of events delivered to two workers.
    workers: int = 0
    batch: int = 1000
    redelivered: float = 0.0
    gates: str = "committed"
    # The N the per-call resources are extrapolated to (harness/run/resources.py); None: SPEC's 100,000.
    target_n: int | None = None

    def counts_at(self, n: int) -> list[tuple[MixItem, int]]:
        """Split N over the mix by weight (largest remainder, ties to the earlier item)."""
        total = sum(item.weight for item in self.mix)
        exact = [n * item.weight / total for item in self.mix]
        counts = [int(x) for x in exact]
        order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - counts[k]), k))
        for k in order[: n - sum(counts)]:
            counts[k] += 1
        return list(zip(self.mix, counts, strict=True))

    def all_sizes(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.sweep) | set(self.slow_sweep)))

    def sizes_within(self, max_n: int | None) -> tuple[int, ...]:
        """The default sweep, plus the slow sizes up to max_n when one is given."""
        slow = [n for n in self.slow_sweep if max_n is not None and n <= max_n]
        return tuple(sorted(set(self.sweep) | set(slow)))


class _Fields:
    """Reads one TOML table, naming the file and field in every error."""

    def __init__(self, path: Path, where: str, table: Any) -> None:
        self.path, self.where = path, where
        if not isinstance(table, dict):
            self.fail("", "a table", table)
        self.table: dict[str, Any] = table

    def fail(self, key: str, expected: str, got: Any) -> NoReturn:
        field_name = f"{self.where}.{key}" if key else self.where
        raise ScenarioError(f"{self.path}: field {field_name}: expected {expected}, got {got!r}",
                            checked="the scenario schema in harness/scenarios/scenario.py",
                            fix="correct the field (see scenarios/scaleout-mixed.toml for a full example)")

    def text(self, key: str, default: str | None = None, pattern: re.Pattern[str] | None = None) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "a non-empty string", value)
        assert isinstance(value, str)
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, f"a string matching {pattern.pattern}", value)
        return value

    def positive_ints(self, key: str, required: bool) -> tuple[int, ...]:
        value = self.table.get(key, None if required else [])
        if not isinstance(value, list) or (required and not value) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            self.fail(key, "a list of positive integers" + (" (at least one)" if required else ""), value)
        return tuple(value)

    def unknown_keys(self, allowed: set[str]) -> None:
        extra = sorted(set(self.table) - allowed)
        if extra:
            self.fail(extra[0], f"one of the known fields {sorted(allowed)}", extra[0])


def load_scenario(path: str | Path) -> Scenario:  # noqa: C901  (one branch per field it validates)
    path = Path(path)
    if path.is_dir():
        raise ScenarioError(f"scenario file {path} is a folder, not a file",
                            fix=f"pass one of its .toml files (`iu-harness list {path}` lists them)")
    if not path.is_file():
        raise ScenarioError(f"scenario file {path} does not exist",
                            fix="pass a path such as scenarios/seed-50000x-03.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}", fix="fix the TOML syntax") from exc

    top = _Fields(path, "<file>", data)
    top.unknown_keys({"scenario", "mix", "expect", "generate"})
    head = _Fields(path, "scenario", data.get("scenario"))
    head.unknown_keys({"title", "baseline", "actor", "event_type", "emit_mode", "sweep", "slow_sweep",
                       "driver", "not_proven", "scaling_threshold", "scaling_min_step", "scaling_sizes",
                       "workers", "batch", "redelivered", "gates", "target_n"})
    baseline = head.table.get("baseline")
    if baseline is not None:
        baseline = head.text("baseline", pattern=_NAME)
    if "generate" in data:  # the [scenario] baseline, if any, is what the generated world is built on
        baseline = _generated(_Fields(path, "generate", data["generate"]), baseline)
    not_proven = head.table.get("not_proven", [])
    if not isinstance(not_proven, list) or not all(isinstance(x, str) for x in not_proven):
        head.fail("not_proven", "a list of strings", not_proven)

    mix_data = data.get("mix")
    if not isinstance(mix_data, list) or not mix_data:
        top.fail("mix", "at least one [[mix]] table", mix_data)
    mix = []
    for k, raw in enumerate(mix_data):
        item = _Fields(path, f"mix[{k}]", raw)
        item.unknown_keys({"template", "kind", "version", "weight", "suffix", "event_id_base"})
        kind = item.text("kind")
        if kind not in KINDS:
            item.fail("kind", f"one of {KINDS}", kind)
        weight = item.table.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            item.fail("weight", "a positive integer", weight)
        suffix = item.text("suffix")
        if len(_SUFFIX_TOKEN.findall(suffix)) != 1:
            item.fail("suffix", "a pattern with exactly one {i} or {i:0Nd} token", suffix)
        base = item.table.get("event_id_base")
        if base is not None:
            try:
                base = str(uuid.UUID(str(base)))  # canonical 8-4-4-4-12 form, as the SQL plan slices it
            except ValueError:
                item.fail("event_id_base", "a UUID", base)
        template, version = item.text("template"), item.text("version")
        keyed = template.rsplit("/", 1)[1] if "/" in template else None
        if keyed is not None and keyed != version:  # the key names its version (tpl:.../v1): they must agree
            item.fail("version", f"{keyed!r}, the version the template key {template!r} ends with", version)
        mix.append(MixItem(template=template, kind=kind, version=version,
                           weight=weight, suffix=suffix, event_id_base=base))
    templates = [m.template for m in mix]
    if len(set(templates)) != len(templates):
        top.fail("mix", "each template at most once", templates)
    prefixes = [m.suffix_parts for m in mix]
    if len(set(prefixes)) != len(prefixes):
        top.fail("mix", "suffix patterns that differ between mix items (instance keys must not collide)",
                 [m.suffix for m in mix])

    expect = None
    if "expect" in data:
        ex = _Fields(path, "expect", data["expect"])
        ex.unknown_keys({"n", "counts", "template_summary", "digest_audit"})
        n = ex.table.get("n")
        if not isinstance(n, int) or n <= 0:
            ex.fail("n", "a positive integer (the N these pins hold at)", n)
        runs_at = set(head.positive_ints("sweep", required=True)) | set(head.positive_ints("slow_sweep", False))
        if n not in runs_at:  # pins at an N no sweep runs would never be checked
            ex.fail("n", f"an N of sweep or slow_sweep {sorted(runs_at)} (else the pins are never checked)", n)
        for key, allowed in (("counts", set(SPEC_TABLES)), ("template_summary", None),
                             ("digest_audit", {"drift", "ok", "total"})):
            table = ex.table.get(key, {})
            if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
                ex.fail(key, "a table of integers", table)
            if allowed is not None and set(table) - allowed:
                ex.fail(key, f"keys among {sorted(allowed)}", sorted(set(table) - allowed))
        expect = Expectation(n=n, counts=dict(ex.table.get("counts", {})),
                             template_summary=dict(ex.table.get("template_summary", {})),
                             digest_audit=dict(ex.table.get("digest_audit", {})))

    return Scenario(
        name=path.stem, path=path, title=head.text("title"), baseline=baseline,
        actor=head.text("actor"), event_type=head.text("event_type"),
        emit_mode=head.text("emit_mode", default="live"),
        sweep=head.positive_ints("sweep", required=True), slow_sweep=head.positive_ints("slow_sweep", False),
        mix=tuple(mix), driver=str(head.table.get("driver", "")), not_proven=tuple(not_proven),
        expect=expect, **_scaling_fields(head), **_worker_fields(head), target_n=_target_n(head),
    )


def _target_n(head: _Fields) -> int | None:
    if "target_n" not in head.table:
        return None
    # SPEC section 1's 100,000 is the floor: a scenario may ask for more, never less.
    return _count(head, "target_n", 0, SPEC_TARGET_N)


def _generated(gen: _Fields, base: str | None) -> GeneratedBaseline:
    gen.unknown_keys({"seed", "templates", "kinds", "versions", "pieces", "reuse_share", "identical_graphs",
                      "reordered_graphs", "background_instances", "manual_lineage", "lifecycle", "vector"})
    templates = _count(gen, "templates", 4, 1)
    kinds = gen.table.get("kinds", list(KINDS))
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= set(KINDS) or len(set(kinds)) != len(kinds):
        gen.fail("kinds", f"distinct kinds among {KINDS}", kinds)
    versions = gen.table.get("versions", ["v1"])
    if not isinstance(versions, list) or not versions or not all(
            isinstance(v, str) and _NAME.fullmatch(v) for v in versions) or len(set(versions)) != len(versions):
        gen.fail("versions", "distinct version names such as ['v1', 'v2']", versions)
    pieces = gen.positive_ints("pieces", required=True)
    if len(pieces) != 2 or pieces[0] > pieces[1]:
        gen.fail("pieces", "[min, max] piece counts, min <= max", list(pieces))
    share = gen.table.get("reuse_share", 0.0)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
        gen.fail("reuse_share", "a share between 0 and 1", share)
    identical, reordered = _count(gen, "identical_graphs", 0, 0), _count(gen, "reordered_graphs", 0, 0)
    if identical + reordered >= templates:
        gen.fail("templates", f"more than identical_graphs + reordered_graphs = {identical + reordered} "
                              "(they copy the other templates' graphs)", templates)
    if reordered and pieces[0] < 2:
        gen.fail("pieces", "a minimum of 2 when reordered_graphs is set (one piece has no other order)",
                 list(pieces))
    return GeneratedBaseline(
        seed=_count(gen, "seed", 0, 0), templates=templates, kinds=tuple(kinds), versions=tuple(versions),
        pieces=(pieces[0], pieces[1]), reuse_share=float(share), identical_graphs=identical,
        reordered_graphs=reordered, background_instances=_count(gen, "background_instances", 0, 0),
        manual_lineage=_count(gen, "manual_lineage", 0, 0), lifecycle=_count(gen, "lifecycle", 0, 0),
        vector=_count(gen, "vector", 0, 0), base=base)


def _count(head: _Fields, key: str, default: int, minimum: int) -> int:
    value = head.table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        head.fail(key, f"an integer of at least {minimum}", value)
    return value


def _worker_fields(head: _Fields) -> dict[str, Any]:
    share = head.table.get("redelivered", 0.0)
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
        head.fail("redelivered", "a share between 0 and 1 (events delivered to two workers)", share)
    gates = head.table.get("gates", "committed")
    if gates not in GATE_MODES:
        head.fail("gates", f"one of {GATE_MODES} (how K workers open the gates)", gates)
    workers = _count(head, "workers", 0, 0)
    if (share or "gates" in head.table or "batch" in head.table) and not workers:
        head.fail("workers", "K >= 1 when batch, redelivered or gates is set", workers)
    return {"workers": workers, "batch": _count(head, "batch", 1000, 1), "redelivered": float(share),
            "gates": gates}


def _scaling_fields(head: _Fields) -> dict[str, Any]:
    threshold = head.table.get("scaling_threshold", 3.0)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or threshold <= 1:
        head.fail("scaling_threshold", "a number above 1 (the allowed growth of per-instance cost)", threshold)
    step = head.table.get("scaling_min_step", 10)
    if not isinstance(step, int) or isinstance(step, bool) or step < 2:
        head.fail("scaling_min_step", "an integer of at least 2 (the smallest step of N the check judges)", step)
    sizes = head.positive_ints("scaling_sizes", required=False) or (100, 1000)
    if len(sizes) != 2 or sizes[0] >= sizes[1]:
        head.fail("scaling_sizes", "two increasing N, e.g. [100, 1000]", list(sizes))
    return {"scaling_threshold": float(threshold), "scaling_min_step": step,
            "scaling_sizes": (sizes[0], sizes[1])}


def discover_scenarios(folder: str | Path) -> list[Scenario]:
    if not Path(folder).is_dir():
        raise ScenarioError(f"scenario folder {folder} " + ("is a file" if Path(folder).exists() else "does not exist"),
                            fix="pass the folder of your scenario .toml files, e.g. scenarios")
    return [load_scenario(p) for p in sorted(Path(folder).glob("*.toml"))]
