"""Accepted risk: the exceptions of a configuration, and the rules that apply them, each once.

An exception names what it accepts (a gap: `region` or "*" and `code`; a finding: its
`finding_id`, or its `resource`, an ARN or an ARN pattern with `*`, optionally in one
`region`) and who accepted it until when (`reason`, `owner`, `expires`, `ticket`). The judge
applies these rules to a scan; a re-render (`--from-json`) applies them again to the document
and refuses one whose acceptances disagree (reports.document.consistency); the reports read
what they decided. (No postponed annotations here, as in document.schema: TypedDict must see
NotRequired as a type.)

- **When**: an exception is judged on the day its scan started (`as_of`, the document's
  `started_at`, in UTC), never on the day a report is rendered: a re-render of an old
  scan.json says what held then. `expires` is the last day it accepts (inclusive, UTC).
- **States**: `expired` (that day is past: it accepts nothing, and what it matches counts
  again), `unused` (it matches nothing in this scan: stale, mistyped, or its region was not
  assessed, said in its note), `expiring` (it accepts something and expires within
  EXPIRING_DAYS days), `active`.
- **Matching**: a gap exception matches the gaps of its code in its region ("*": every
  region, and the organization's gaps of that code), of its `analyzer_type` when it names
  one; a finding exception matches ACTIVE findings with its id, or whose resource its pattern
  matches (`*` is any run of characters, every other character is itself: no regular
  expression), in its region ("*": any).
- **Accepting**: an unexpired exception accepts what it matches, except (`refused`, listed in
  its entry and named by an advisory, counted by every gate):
  - a public finding, unless the exception says `public: true`: what was approved for a
    cross-account share is not approved for everyone when the grant widens under the same
    finding id or resource;
  - for a code about an analyzer type (TYPE_CODES), where the configuration requires more
    than one type and the exception names none: every gap it matches (which type it was
    written for is not said, and a gap of another type can take the place of the one it
    was written for from one week to the next).
  When several unexpired exceptions would accept one item, the most specific accepts it (a
  named region before "*", then one naming its analyzer type; a finding id, then an exact
  ARN, then a pattern), then the first configured.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict, cast

from reports.document.rules import access_of

ExceptionKind = Literal["gap", "finding"]
ExceptionState = Literal["active", "expiring", "expired", "unused"]
EXCEPTION_STATES: tuple[ExceptionState, ...] = ("active", "expiring", "expired", "unused")
EXPIRING_DAYS = 14  # an exception expiring within this many days is an advisory
ANY_REGION = "*"
# The gap codes an exception may accept: gaps about the organization's coverage. A gap about
# where the scan ran holds regions back from being assessed (accepting it would prove
# nothing), and advisories are counted by no gate.
ACCEPTABLE_CODES: tuple[str, ...] = (
    "NO_ANALYZER", "ACCOUNT_SCOPE_ONLY", "NOT_ACTIVE", "MISSING_REQUIRED_TYPE",
    "TRUSTED_ACCESS_DISABLED", "NOT_IN_ORGANIZATION")
# The gap codes that are about an analyzer type (the gap carries it): those an exception may
# name `analyzer_type` for. NOT_ACTIVE and MISSING_REQUIRED_TYPE can be about any required
# type; NO_ANALYZER and ACCOUNT_SCOPE_ONLY only about the primary one.
TYPED_CODES: tuple[str, ...] = (
    "NO_ANALYZER", "ACCOUNT_SCOPE_ONLY", "NOT_ACTIVE", "MISSING_REQUIRED_TYPE")
# Of those, the codes an exception that names no type is ambiguous for, when more than one
# analyzer type is required.
TYPE_CODES: tuple[str, ...] = ("NOT_ACTIVE", "MISSING_REQUIRED_TYPE")


class ExceptionSpec(TypedDict):
    """An exception as configured, validated (scanner.config): what it matches, who accepted
    it and until when, and where it was written."""

    key: str  # its identity from run to run: what it matches (see spec_key)
    kind: ExceptionKind
    region: str  # a region, or "*"
    code: str | None  # a gap exception's gap code
    finding_id: str | None  # a finding exception's finding id ...
    resource: str | None  # ... or the resource ARN (pattern) of its findings
    reason: str
    owner: str
    expires: str  # YYYY-MM-DD: the last day it accepts (UTC)
    ticket: str | None
    # Where it was configured: "exceptions.yaml:12", "the demo's own settings (...)".
    source: str
    # Added after the first release, present only when configured: a gap exception's
    # analyzer type (part of its key), and a finding exception's `public: true` (it accepts
    # public findings too; without it, a public finding it matches is refused).
    analyzer_type: NotRequired[str]
    public: NotRequired[bool]


class AcceptedBy(TypedDict):
    """What an accepted gap or finding carries: the exception that accepts it."""

    key: str
    reason: str
    owner: str
    expires: str
    ticket: str | None
    state: ExceptionState  # active or expiring


class MatchedGap(TypedDict):
    """A gap an exception matched (a gap's identity)."""

    scope: str
    region: str | None
    code: str
    analyzer_type: str | None


class MatchedFinding(TypedDict):
    """A finding an exception matched."""

    region: str
    id: str
    resource: str | None
    is_public: bool | None


class Matched(TypedDict):
    """What an exception matched in the scan (an expired one too: that counts again)."""

    gaps: list[MatchedGap]
    findings: list[MatchedFinding]


class ExceptionEntry(ExceptionSpec):
    """An exception as scan.json records it: as configured, judged on the scan's day."""

    state: ExceptionState
    days_left: int  # days from the scan's day to its last day (negative: expired)
    matched: Matched
    # What it accepted: the matches no more specific exception accepted first.
    accepted: int
    note: str | None  # why it matched nothing, or why it refused what it matched
    # What it matched and does not accept (a public finding without `public: true`, a gap of
    # an analyzer type it does not name): counted by every gate. Present when not empty.
    refused: NotRequired[Matched]


class ExceptionsBlock(TypedDict):
    """scan.json's `exceptions`: the register, judged as of the scan's start."""

    as_of: str  # the scan's started_at: the day every state is judged on
    expiring_days: int
    entries: list[ExceptionEntry]


class AcceptedCounts(TypedDict):
    """summary.accepted: what exceptions accepted (none of it counted by a gate)."""

    exceptions: int  # exceptions that accepted something
    gaps: int
    findings: int  # active findings
    public_findings: int
    # Added with the expiry advisories: exceptions expired, expiring and unused.
    expired: NotRequired[int]
    expiring: NotRequired[int]
    unused: NotRequired[int]


# -- the rules ---------------------------------------------------------------------------------


def spec_key(kind: ExceptionKind, region: str, code: str | None = None,
             finding_id: str | None = None, resource: str | None = None,
             analyzer_type: str | None = None) -> str:
    """An exception's identity: what it matches (two exceptions may not match the same)."""
    if kind == "gap":
        return f"gap:{region}:{code}" + (f":{analyzer_type}" if analyzer_type else "")
    if finding_id is not None:
        return f"finding:{region}:id:{finding_id}"
    return f"finding:{region}:resource:{resource}"


def day_of(moment: str) -> dt.date | None:
    """The UTC day of a document time ("2026-12-05T00:30:00Z"); None: not a time."""
    try:
        stamp = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.date()


def days_left(expires: str, as_of: str) -> int:
    """Days from the scan's UTC day to the exception's last day (0: it expires that day;
    negative: expired). A date that cannot be read counts as long expired."""
    try:
        last = dt.date.fromisoformat(expires)
    except ValueError:
        return -(10**6)
    today = day_of(as_of)
    return -(10**6) if today is None else (last - today).days


def pattern_matches(pattern: str, text: str | None) -> bool:
    """Whether `text` matches `pattern`, where `*` is any run of characters (none included)
    and every other character stands for itself. Linear: the literal parts are found in
    order (the leftmost place of each is always right for `*`), no regular expression."""
    if text is None:
        return False
    parts = pattern.split("*")
    if len(parts) == 1:
        return text == pattern
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(
            last):
        return False
    position, end = len(first), len(text) - len(last)
    for part in parts[1:-1]:
        if not part:
            continue
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def matches_gap(spec: ExceptionSpec, gap: MatchedGap) -> bool:
    """Whether a gap exception matches a gap."""
    typed = spec.get("analyzer_type")
    return (spec["kind"] == "gap" and spec["code"] == gap["code"]
            and (spec["region"] == ANY_REGION or spec["region"] == gap["region"])
            and (typed is None or typed == gap["analyzer_type"]))


def refuses_finding(spec: ExceptionSpec, is_public: bool | None) -> bool:
    """Whether a finding exception refuses a finding it matches: a public one, unless it
    says `public: true` (approved for a partner account is not approved for everyone)."""
    return is_public is True and not spec.get("public", False)


def refused_gaps(spec: ExceptionSpec, gaps: Sequence[MatchedGap],
                 coverage_types: Sequence[str]) -> list[bool]:
    """Which of the gaps a gap exception matches it refuses (see the module's docstring):
    every one, for an exception that names no analyzer type, for a code about one, where the
    configuration requires more than one type. Which type it was written for cannot be told
    from one run (the gap it was written for may be fixed and another type's take its
    place, the next week), so it accepts none until it names its `analyzer_type`."""
    if (spec.get("analyzer_type") is not None or spec["code"] not in TYPE_CODES
            or len(set(coverage_types)) < 2):
        return [False] * len(gaps)
    return [True] * len(gaps)


def matches_finding(spec: ExceptionSpec, region: str, finding_id: str,
                    resource: str | None) -> bool:
    """Whether a finding exception matches an (active) finding."""
    if spec["kind"] != "finding" or spec["region"] not in (ANY_REGION, region):
        return False
    if spec["finding_id"] is not None:
        return spec["finding_id"] == finding_id
    return spec["resource"] is not None and pattern_matches(spec["resource"], resource)


def _rank(spec: ExceptionSpec) -> int:
    """How specific an exception is (lower: more): which of several accepts an item."""
    region = 0 if spec["region"] != ANY_REGION else 1
    if spec["kind"] == "gap":
        return 2 * region + (0 if spec.get("analyzer_type") else 1)
    if spec["finding_id"] is not None:
        return region
    resource = spec["resource"] or ""
    return 2 + region + (2 if "*" in resource else 0)


def _candidates(specs: Sequence[ExceptionSpec]
                ) -> Callable[[str, str | None], list[ExceptionSpec]]:
    """A function giving the finding exceptions that may match a finding (by id, exact ARN,
    or a pattern whose literal prefix the resource starts with or whose literal suffix it
    ends with), most specific first (the order of `specs`): matches_finding decides;
    each finding is looked up, not compared with every exception (100,000 findings against
    1,000 patterns would be a hundred million comparisons)."""
    order = {id(s): i for i, s in enumerate(specs)}
    by_id: dict[str, list[ExceptionSpec]] = {}
    exact: dict[str, list[ExceptionSpec]] = {}
    by_prefix: dict[str, list[ExceptionSpec]] = {}
    by_suffix: dict[str, list[ExceptionSpec]] = {}
    for spec in specs:
        resource = spec["resource"]
        if spec["finding_id"] is not None:
            by_id.setdefault(spec["finding_id"], []).append(spec)
        elif resource is not None and "*" not in resource:
            exact.setdefault(resource, []).append(spec)
        elif resource is not None:
            # Indexed by the longer of its literal ends (arn:aws:s3:::*-logs by "-logs").
            prefix, suffix = resource.split("*", 1)[0], resource.rsplit("*", 1)[1]
            # ([-1]: a prefix may have no colon at all, "*:aws:s3:::site" has none.)
            if len(suffix) > len(prefix.rsplit(":", 1)[-1]) + 1:
                by_suffix.setdefault(suffix, []).append(spec)
            else:
                by_prefix.setdefault(prefix, []).append(spec)
    prefixes = sorted({len(p) for p in by_prefix})
    suffixes = sorted({len(p) for p in by_suffix})

    def candidates(finding_id: str, resource: str | None) -> list[ExceptionSpec]:
        found = list(by_id.get(finding_id, ()))
        if resource is not None:
            found += exact.get(resource, ())
            for length in prefixes:
                found += by_prefix.get(resource[:length], ())
            for length in suffixes:
                if length <= len(resource):
                    found += by_suffix.get(resource[len(resource) - length:], ())
        if len(found) > 1:
            found.sort(key=lambda s: order[id(s)])
        return found

    return candidates


@dataclass(frozen=True)
class Acceptance:
    """What the exceptions of a scan decided: the register, and which exception accepts
    each gap (by its position) and each finding (by region and id)."""

    entries: list[ExceptionEntry]
    gaps: list[str | None]
    findings: dict[tuple[str, str], str] = field(default_factory=dict)

    def by_key(self) -> dict[str, ExceptionEntry]:
        """The register by exception key."""
        return {e["key"]: e for e in self.entries}

    def accepted_by(self, key: str) -> AcceptedBy:
        """What an item accepted by the exception `key` carries."""
        entry = self.by_key()[key]
        state: ExceptionState = "expiring" if entry["state"] == "expiring" else "active"
        return {"key": key, "reason": entry["reason"], "owner": entry["owner"],
                "expires": entry["expires"], "ticket": entry["ticket"], "state": state}


class FindingRef(TypedDict):
    """The part of a finding the rules read (scan.json's finding has these keys)."""

    region: str
    id: str
    resource: str | None
    status: str
    is_public: bool | None


def _state(left: int, matched: bool) -> ExceptionState:
    if left < 0:
        return "expired"
    if not matched:
        return "unused"
    return "expiring" if left <= EXPIRING_DAYS else "active"


def _note(spec: ExceptionSpec, regions: Mapping[str, str], findings_read: bool) -> str:
    """Why an exception matched nothing, where the scan says it."""
    region = spec["region"]
    if spec["kind"] == "finding" and not findings_read:
        return "findings were not collected in this scan (coverage only)"
    if region == ANY_REGION:
        return ("nothing in this scan matches it: it may be stale (what it accepted is fixed) "
                "or mistyped")
    status = regions.get(region)
    if status is None:
        return f"region {region} is not in this scan's region list"
    if status == "ERROR":
        return (f"region {region} was not assessed in this scan: whether what it accepts is "
                "still there is unknown")
    if status == "EXCLUDED":
        return f"region {region} was excluded from this scan"
    if status == "NOT_ENABLED":
        return f"region {region} is not enabled"
    if spec["kind"] == "gap" and status == "COVERED":
        return (f"region {region} is covered: the gap it accepted is gone, and the exception "
                "can be removed")
    return ("nothing in this scan matches it: it may be stale (what it accepted is fixed) or "
            "mistyped")


def _refusal_note(found: Matched) -> str:
    """Why an exception does not accept some of what it matches, in a sentence."""
    parts = []
    if found["findings"]:
        count = len(found["findings"])
        parts.append(f"{count} public finding{'s' if count != 1 else ''} it matches "
                     f"{'are' if count != 1 else 'is'} not accepted: it does not say "
                     "public: true")
    if found["gaps"]:
        count = len(found["gaps"])
        types = ", ".join(sorted({str(g["analyzer_type"]) for g in found["gaps"]}))
        parts.append(f"{count} gap{'s' if count != 1 else ''} it matches ({types}) "
                     f"{'are' if count != 1 else 'is'} not accepted: it names no "
                     "analyzer_type, and more than one analyzer type is required")
    return "; ".join(parts)


def judge_exceptions(specs: Sequence[ExceptionSpec], gaps: Sequence[MatchedGap],
                     findings: Iterable[FindingRef], as_of: str,
                     regions: Mapping[str, str], findings_read: bool = True,
                     coverage_types: Sequence[str] = ("ORGANIZATION",)) -> Acceptance:
    """Apply the exceptions to a scan's gaps and active findings, as of its start (`as_of`).
    `regions`: each region's status (for the notes of exceptions that matched nothing);
    `findings_read`: whether findings were collected at all; `coverage_types`: the analyzer
    types the configuration requires, the primary first. Pure."""
    left = {s["key"]: days_left(s["expires"], as_of) for s in specs}
    ordered = sorted(range(len(specs)), key=lambda i: (_rank(specs[i]), i))
    gap_specs = [specs[i] for i in ordered if specs[i]["kind"] == "gap"]
    finding_specs = [specs[i] for i in ordered if specs[i]["kind"] == "finding"]
    matched: dict[str, Matched] = {s["key"]: {"gaps": [], "findings": []} for s in specs}
    refused: dict[str, Matched] = {s["key"]: {"gaps": [], "findings": []} for s in specs}
    accepted: dict[str, int] = dict.fromkeys(matched, 0)
    # Which gaps (by position) each gap exception matches, then which of them it refuses:
    # whether it refuses one depends on everything it matches.
    gap_matches = {spec["key"]: [i for i, gap in enumerate(gaps) if matches_gap(spec, gap)]
                   for spec in gap_specs}
    gap_sets = {key: set(positions) for key, positions in gap_matches.items()}
    refuses: set[tuple[str, int]] = set()
    for spec in gap_specs:
        positions = gap_matches[spec["key"]]
        for i, no in zip(positions, refused_gaps(spec, [gaps[i] for i in positions],
                                                 coverage_types), strict=True):
            if no:
                refuses.add((spec["key"], i))
    gap_keys: list[str | None] = []
    for index, gap in enumerate(gaps):
        chosen = None
        for spec in gap_specs:
            key = spec["key"]
            if index not in gap_sets[key]:
                continue
            matched[key]["gaps"].append(gap)
            if (key, index) in refuses:
                refused[key]["gaps"].append(gap)
            elif chosen is None and left[key] >= 0:
                chosen = key
        gap_keys.append(chosen)
        if chosen is not None:
            accepted[chosen] += 1
    finding_keys: dict[tuple[str, str], str] = {}
    if finding_specs:
        candidates_of = _candidates(finding_specs)
        for finding in findings:
            if finding["status"] != "ACTIVE":
                continue
            candidates = candidates_of(finding["id"], finding["resource"])
            chosen = None
            for spec in candidates:
                if matches_finding(spec, finding["region"], finding["id"],
                                   finding["resource"]):
                    ref: MatchedFinding = {
                        "region": finding["region"], "id": finding["id"],
                        "resource": finding["resource"], "is_public": finding["is_public"]}
                    matched[spec["key"]]["findings"].append(ref)
                    if refuses_finding(spec, finding["is_public"]):
                        refused[spec["key"]]["findings"].append(ref)
                    elif chosen is None and left[spec["key"]] >= 0:
                        chosen = spec["key"]
            if chosen is not None:
                finding_keys[(finding["region"], finding["id"])] = chosen
                accepted[chosen] += 1
    entries: list[ExceptionEntry] = []
    for spec in specs:
        key = spec["key"]
        found = matched[key]
        any_match = bool(found["gaps"] or found["findings"])
        # Its state is what it accepts: one that refuses all it matches accepts nothing, and
        # is never "active" or "expiring" (that would read as accepting something).
        state = _state(left[key], accepted[key] > 0)
        note = None if any_match or state == "expired" else _note(spec, regions,
                                                                   findings_read)
        declined = refused[key]
        if state != "expired" and (declined["gaps"] or declined["findings"]):
            entries.append({**spec, "state": state, "days_left": left[key], "matched": found,
                            "accepted": accepted[key], "note": _refusal_note(declined),
                            "refused": declined})
            continue
        # (cast: mypy asks a ** literal for every NotRequired key of the target, refused too.)
        entries.append(cast(ExceptionEntry, {
            **spec, "state": state, "days_left": left[key], "matched": found,
            "accepted": accepted[key] if state != "expired" else 0, "note": note}))
    return Acceptance(entries, gap_keys, finding_keys)


def spec_of(entry: ExceptionSpec) -> ExceptionSpec:
    """The configured part of a register entry (what a re-render applies again)."""
    spec: ExceptionSpec = {
        "key": entry["key"], "kind": entry["kind"], "region": entry["region"],
        "code": entry["code"], "finding_id": entry["finding_id"],
        "resource": entry["resource"], "reason": entry["reason"], "owner": entry["owner"],
        "expires": entry["expires"], "ticket": entry["ticket"], "source": entry["source"]}
    if "analyzer_type" in entry:
        spec["analyzer_type"] = entry["analyzer_type"]
    if "public" in entry:
        spec["public"] = entry["public"]
    return spec


class CountedFinding(FindingRef):
    """A finding as counted: FindingRef and the error that makes it neither public nor
    cross-account."""

    error: str | None


def counts_of(acceptance: Acceptance, findings: Iterable[CountedFinding]) -> AcceptedCounts:
    """summary.accepted: the exceptions that accepted something, the gaps and the active
    findings they accepted (public ones by the counting rule of document.rules), and the
    exceptions expired, expiring and unused."""
    states = [e["state"] for e in acceptance.entries]
    accepted = [f for f in findings if (f["region"], f["id"]) in acceptance.findings]
    public = sum(1 for f in accepted if access_of(f["is_public"], f["error"]) == "public")
    return {"exceptions": sum(1 for e in acceptance.entries if e["accepted"]),
            "gaps": sum(1 for key in acceptance.gaps if key is not None),
            "findings": len(accepted), "public_findings": public,
            "expired": states.count("expired"), "expiring": states.count("expiring"),
            "unused": states.count("unused")}


def verdict_text(verdict: str, accepted: AcceptedCounts | None) -> str:
    """The verdict as every report states it: never a plain COMPLIANT when it rests on
    exceptions ("COMPLIANT with 2 accepted exceptions")."""
    if verdict != "COMPLIANT" or not accepted or not accepted["exceptions"]:
        return verdict
    count = accepted["exceptions"]
    return f"{verdict} with {count} accepted exception{'s' if count != 1 else ''}"


def what_text(spec: ExceptionSpec) -> str:
    """What an exception accepts, in words."""
    where = "every region" if spec["region"] == ANY_REGION else spec["region"]
    if spec["kind"] == "gap":
        # A wildcard also accepts the gap in a region enabled after it was approved: said.
        later = " (regions enabled later included)" if spec["region"] == ANY_REGION else ""
        typed = spec.get("analyzer_type")
        of = f" of the {typed} analyzer" if typed else ""
        return f"gap {spec['code']}{of} in {where}{later}"
    public = ", public ones included" if spec.get("public") else ""
    if spec["finding_id"] is not None:
        return f"finding {spec['finding_id']} in {where}{public}"
    return f"findings of {spec['resource']} in {where}{public}"
