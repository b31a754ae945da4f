"""Summarizes a kosoku (Autobahn|Testsuite) report directory.

Usage: python3 summarize.py REPORT_DIR [MIN_CASES]

Reads REPORT_DIR/index.json (the Autobahn report index kosoku writes), prints
the count of each behaviour and closing behaviour, lists every case that is
not plainly OK, and exits 1 when a case failed:

- behaviour FAILED or ERROR (a MUST-level violation, or no verdict at all);
- closing behaviour other than OK, INFORMATIONAL or UNIMPLEMENTED (FAILED, FAILED BY
  CLIENT, WRONG CODE, UNCLEAN);
- or fewer than MIN_CASES cases ran (default 1), so an empty run fails too.

NON-STRICT, INFORMATIONAL and UNIMPLEMENTED behaviours are acceptable; they
are listed with their case ids. The last line has the form
`autobahn: N passed, M failed`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ACCEPTABLE = {"OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED"}
ACCEPTABLE_CLOSE = {"OK", "INFORMATIONAL", "UNIMPLEMENTED"}


def case_key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report_dir = Path(sys.argv[1])
    min_cases = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    index_path = report_dir / "index.json"
    if not index_path.is_file():
        print(f"autobahn: no report index at {index_path}", file=sys.stderr)
        print("autobahn: 0 passed, 1 failed")
        return 1
    index = json.loads(index_path.read_text())
    cases: dict[str, dict] = {}
    for agent_cases in index.values():
        cases.update(agent_cases)
    ids = sorted(cases, key=case_key)

    behaviours = Counter(cases[c]["behavior"] for c in ids)
    closings = Counter(cases[c]["behaviorClose"] for c in ids)
    print(f"cases run: {len(ids)}")
    print("behaviour:         " + ", ".join(f"{k} {v}" for k, v in sorted(behaviours.items())))
    print("closing behaviour: " + ", ".join(f"{k} {v}" for k, v in sorted(closings.items())))

    failed = []
    noted = []
    for case_id in ids:
        case = cases[case_id]
        behaviour, closing = case["behavior"], case["behaviorClose"]
        if behaviour == "OK" and closing == "OK":
            continue
        line = (
            f"  {case_id:<8} {behaviour:<14} close {closing:<14}"
            f" remote close code {case.get('remoteCloseCode')}"
        )
        if behaviour in ACCEPTABLE and closing in ACCEPTABLE_CLOSE:
            noted.append(line)
        else:
            failed.append(line)
    if noted:
        print("acceptable, not OK:")
        print("\n".join(noted))
    if failed:
        print("FAILED:")
        print("\n".join(failed))
        print(f"details: {report_dir}/index.html and the per-case JSON files")
    too_few = len(ids) < min_cases
    if too_few:
        print(f"autobahn: expected at least {min_cases} cases, only {len(ids)} ran")
    print(f"autobahn: {len(ids) - len(failed)} passed, {len(failed) + too_few} failed")
    return 1 if failed or too_few else 0


if __name__ == "__main__":
    sys.exit(main())
