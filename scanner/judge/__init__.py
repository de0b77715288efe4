"""Pure judgement: a ScanResult in; the scanning role, region verdicts, gaps and verdict out.

No I/O and no AWS here. The wording of every gap (severity, title, explanation, remediation
command) is data, in GAP_TEXT; the logic only decides which entry applies and fills in the
region, account and analyzer names.

- `text`: the wording table (GapText, GAP_TEXT) and `make_gap`, which fills an entry in;
- `verdicts`: the frozen results (Gap, RegionVerdict, Judgement, MemberVerdict, MemberView);
- `role`: what the scanning account can see, and the gaps about where the scan ran;
- `region`: one region's verdict;
- `organization`: the organization-wide requirements, the advisories and `judge` itself;
- `members`: the member view (IAM.28, per account).
Which account is scanning and whose findings are read are rules the collector applies too:
they live in scanner/selection.py and are re-exported here.
"""

from ..selection import findings_selection, findings_source, scanning_role
from .members import judge_members
from .organization import judge
from .region import explain_error, judge_region
from .role import absence_is_conclusive
from .text import GAP_TEXT, GapText
from .verdicts import Gap, Judgement, MemberVerdict, MemberView, RegionVerdict

__all__ = [
    "GAP_TEXT",
    "Gap",
    "GapText",
    "Judgement",
    "MemberVerdict",
    "MemberView",
    "RegionVerdict",
    "absence_is_conclusive",
    "explain_error",
    "findings_selection",
    "findings_source",
    "judge",
    "judge_members",
    "judge_region",
    "scanning_role",
]
