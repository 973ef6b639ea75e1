#!/usr/bin/env python3
"""Fails on `CMD | grep -q` in the project's shell scripts (tests/, bench/, scripts/).

Every script runs with `set -o pipefail`. `grep -q` exits at its first match; a CMD that is still
writing then dies of SIGPIPE and the pipeline fails although the text was there. Whether that
happens depends on how CMD writes (ctr and openssl write their output in many pieces) and on the
machine's load, so the test that uses it fails now and then. `mc_contains` (tests/lib/common.sh)
is grep -q that reads its input to the end; a here-string (`grep -q PAT <<<"$out"`) is fine too.
"""
import pathlib
import re
import sys

PIPE_GREP_Q = re.compile(r"\|\s*grep\s+(-\w*q|--quiet)")


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    bad = []
    for top in ("tests", "bench", "scripts"):
        for path in sorted((root / top).rglob("*")):
            if not path.is_file() or path.suffix not in ("", ".sh"):
                continue
            text = path.read_text(errors="replace")
            if path.suffix == "" and not text.startswith("#!/usr/bin/env bash"):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if PIPE_GREP_Q.search(line) and not line.lstrip().startswith("#"):
                    bad.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} pipes into grep -q: use mc_contains or a here-string (see {__file__})")
        return 1
    print("no pipe into grep -q")
    return 0


if __name__ == "__main__":
    sys.exit(main())
