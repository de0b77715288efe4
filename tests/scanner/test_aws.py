"""The session plumbing: the fast timestamp parser agrees with botocore's own."""

from __future__ import annotations

import datetime as dt

from botocore.utils import parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from scanner.aws import fast_timestamp

moments = st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1),
                       timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5,
                                                                                   minutes=30)),
                                                  dt.timezone(dt.timedelta(hours=-8))]))


@given(moment=moments, style=st.sampled_from(["Z", "ms", "offset", "space", "epoch"]))
def test_fast_timestamp_matches_botocore(moment, style):
    utc = moment.astimezone(dt.UTC)
    if style == "Z":
        text = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif style == "ms":
        text = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    elif style == "offset":
        text = moment.isoformat()
    elif style == "space":
        text = moment.isoformat(sep=" ")
    else:
        text = utc.timestamp()
    ours = fast_timestamp(text)
    theirs = parse_timestamp(text)
    assert ours.tzinfo is not None and ours.utcoffset() == dt.timedelta(0)
    assert ours == theirs.astimezone(dt.UTC)
