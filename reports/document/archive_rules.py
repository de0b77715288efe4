"""Whether an archive rule can hide public exposure: one rule, read by the judge (its
BROAD_ARCHIVE_RULE advisory) and by the reports (the archive-rule inventory).

An archive rule archives every finding its filter matches, now and from then on, and an
archived finding is counted nowhere as active. Its filter (Access Analyzer's FilterCriteria)
is an AND of criteria, one per filter key; a criterion's operators must all hold: `eq` (the
value is one of the list), `neq` (it is none of them), `contains` (it contains one of them),
`exists` (the key is present, or absent).

The question asked of a rule: would it archive a *new* public grant? It is put to two
archetypes of a public finding made tomorrow: isPublic true, no condition, no error, and a
principal that is either `{"AWS": "*"}` or a non-AWS principal (Federated, say), on a new
resource of any type in any account (so resource, resourceType, resourceOwnerAccount and id
are free: whatever the rule asks of them, some new finding has it). A criterion that neither
archetype meets (isPublic eq false, principal.AWS eq a named account, a condition key that
must exist, error exists) means the rule cannot archive a new public grant: **narrow**. A
rule that archives only named resources (`resource` eq) or named finding ids is narrow too
(`contains`, even of a whole ARN, names nothing: it is a substring test, and an ARN is a
prefix of every longer one), unless it also asks for public findings (isPublic eq true): it
then archives the public findings of those resources (**public of named**, flagged, at a
lower severity). Anything else is **broad**: any new public grant of a resource type it
covers would be archived without anyone seeing it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ArchiveRuleClass = Literal["broad", "public_named", "narrow"]
ARCHIVE_RULE_CLASSES: tuple[ArchiveRuleClass, ...] = ("broad", "public_named", "narrow")
FLAGGED: frozenset[ArchiveRuleClass] = frozenset({"broad", "public_named"})

# Keys every finding has a value for: `exists: false` on one of them matches no finding.
_ALWAYS_PRESENT = frozenset({"resource", "resourceType", "resourceOwnerAccount", "id",
                             "status", "isPublic"})
# Keys whose value the public archetypes fix (the rest are free).
_PUBLIC_VALUES: tuple[Mapping[str, str | None], ...] = (
    {"isPublic": "true", "principal.AWS": "*"},
    {"isPublic": "true", "principal.AWS": None},  # a public grant to a non-AWS principal
)
_ARCHETYPE_LABELS = ("a public grant to everyone (principal AWS: *)",
                     "a public grant to a federated or service principal")


@dataclass(frozen=True)
class RuleAssessment:
    """What a rule can archive: its class and why, in a sentence."""

    rule_class: ArchiveRuleClass
    why: str

    @property
    def flagged(self) -> bool:
        """Whether the rule can archive public findings (an advisory names it)."""
        return self.rule_class in FLAGGED


_FILTER_OPERATORS = {"eq": ("is", "is one of"), "neq": ("is not", "is none of"),
                     "contains": ("contains", "contains any of")}


def filter_text(rule_filter: Any) -> str:
    """An archive-rule filter as a sentence: criteria joined by AND, values within one by OR."""
    if not isinstance(rule_filter, Mapping):
        return "" if rule_filter is None else json.dumps(rule_filter, ensure_ascii=False,
                                                          default=str)
    parts = []
    for key, criterion in rule_filter.items():
        if not isinstance(criterion, Mapping):
            parts.append(f"{key} {json.dumps(criterion, ensure_ascii=False, default=str)}")
            continue
        for operator, values in criterion.items():
            if operator == "exists":
                parts.append(f"{key} {'exists' if values else 'does not exist'}")
                continue
            values = list(values) if isinstance(values, list | tuple) else [values]
            one, many = _FILTER_OPERATORS.get(operator, (operator, operator))
            parts.append(f"{key} {one if len(values) == 1 else many} "
                         f"{', '.join(str(v) for v in values)}")
    return " AND ".join(parts) or "no filter"


def _values(argument: Any) -> list[str]:
    if isinstance(argument, list | tuple):
        return [str(v) for v in argument]
    return [] if argument is None else [str(argument)]


def _holds(criterion: Mapping[str, Any], value: str | None) -> bool:
    """Whether one criterion holds for a finding whose value of its key is `value` (None:
    the key is absent). An operator this version does not know holds (it cannot be shown
    to narrow anything)."""
    for operator, argument in criterion.items():
        if operator == "eq":
            if value is None or value not in _values(argument):
                return False
        elif operator == "neq":
            if value is not None and value in _values(argument):
                return False
        elif operator == "contains":
            if value is None or not any(part in value for part in _values(argument)):
                return False
        elif operator == "exists" and (value is not None) != bool(argument):
            return False
    return True


def _satisfiable(key: str, criterion: Mapping[str, Any]) -> bool:
    """Whether some value of a free key meets the criterion (some new finding has it)."""
    if "eq" in criterion:
        candidates: list[str | None] = list(_values(criterion["eq"]))
    else:
        parts = _values(criterion.get("contains"))
        base = parts[0] if parts else "aa-scan-any"
        # A value containing the part that no `neq` names: the part itself, or longer.
        candidates = [base, base + "\u2063aa-scan"]
    if key not in _ALWAYS_PRESENT:
        candidates.append(None)
    return any(_holds(criterion, c) for c in candidates)


def _archetype_value(key: str, archetype: Mapping[str, str | None]) -> tuple[bool, str | None]:
    """(fixed, value): the archetype's value of a key it fixes; (False, None) for a free key."""
    if key in archetype:
        return True, archetype[key]
    if key == "error" or key.startswith("condition."):
        return True, None  # a new public grant: analyzed, unconditioned
    if key.startswith("principal."):
        # Beside principal.AWS: absent from the AWS archetype; the principal of the other
        # (any value, so free).
        return (True, None) if archetype.get("principal.AWS") is not None else (False, None)
    return False, None


def _named(filter_: Mapping[str, Any]) -> list[str]:
    """The criteria that limit the rule to named resources or findings: `resource` or `id`
    eq a list of values. `contains` names nothing: Access Analyzer's contains is a substring
    test, and a whole ARN is a prefix of every longer one (`contains arn:aws:s3:::acme-logs`
    also archives a new bucket acme-logs-public; `contains arn:aws:iam::111122223333:role/`
    every role of the account, present and future)."""
    return [key for key, criterion in filter_.items()
            if key in ("resource", "id") and isinstance(criterion, Mapping)
            and _values(criterion.get("eq"))]


def _targets_public(filter_: Mapping[str, Any]) -> bool:
    """Whether the rule asks for public findings: its isPublic criterion holds for public
    findings and not for the others."""
    criterion = filter_.get("isPublic")
    return isinstance(criterion, Mapping) and _holds(criterion, "true") and not _holds(
        criterion, "false")


def _scope_text(filter_: Mapping[str, Any]) -> str:
    """What else the rule limits itself to (types, accounts), as a phrase."""
    parts = []
    for key, label in (("resourceType", "of type"), ("resourceOwnerAccount",
                                                      "in account")):
        criterion = filter_.get(key)
        if isinstance(criterion, Mapping) and (values := _values(criterion.get("eq"))):
            parts.append(f"{label} {' or '.join(values)}")
    return (" " + " ".join(parts)) if parts else ""


def assess(filter_: Any) -> RuleAssessment:
    """The class of an archive rule's filter, and why (see the module's docstring)."""
    if not isinstance(filter_, Mapping):
        return RuleAssessment("broad", "Its filter cannot be read, so nothing shows it is "
                              "narrow.")
    criteria = {str(k): v for k, v in filter_.items()}
    for key, criterion in criteria.items():
        fixed = key in ("isPublic", "error") or key.startswith(("principal.", "condition."))
        if isinstance(criterion, Mapping) and not fixed and not _satisfiable(key, criterion):
            return RuleAssessment("narrow", f"No finding can meet its {key} criterion: it "
                                  "archives nothing.")
    reached = []
    excluded_by: list[str] = []
    for archetype, label in zip(_PUBLIC_VALUES, _ARCHETYPE_LABELS, strict=True):
        failing = []
        for key, criterion in criteria.items():
            fixed, value = _archetype_value(key, archetype)
            if fixed and isinstance(criterion, Mapping) and not _holds(criterion, value):
                failing.append(key)
        if failing:
            excluded_by += [k for k in failing if k not in excluded_by]
        else:
            reached.append(label)
    if not reached:
        return RuleAssessment("narrow", "It cannot archive a new public finding: "
                              + ", ".join(excluded_by) + " excludes "
                              + ("public findings" if excluded_by == ["isPublic"] else
                                 "a new public grant (to everyone, unconditioned, analyzed)")
                              + ".")
    named = _named(criteria)
    if named:
        what = "named resources" if "resource" in named else "named findings (by id)"
        if _targets_public(criteria):
            return RuleAssessment("public_named", f"It archives the public findings of {what} "
                                  "(isPublic is true): that exposure is never counted, and "
                                  "nothing records who accepted it or until when.")
        return RuleAssessment("narrow", f"It archives only the findings of {what}.")
    scope = _scope_text(criteria)
    if not criteria:
        return RuleAssessment("broad", "It has no criterion: every finding of the analyzer, "
                              "public ones included, is archived as soon as it appears.")
    if _targets_public(criteria):
        lead = "It archives public findings (isPublic is true)"
    elif any(k == "resource" or k.startswith(("principal.", "condition.")) for k in criteria):
        lead = ("Its criteria on the principal, condition or resource still let a public "
                "grant through (only `eq` names a resource: `contains`, even of a whole ARN, "
                "also matches every longer ARN)")
    else:
        lead = "Nothing in it narrows the principal, the condition or the resource"
    return RuleAssessment("broad", f"{lead}: {reached[0]} on any new resource{scope} would "
                          "be archived as soon as it appears, and counted nowhere as active.")
