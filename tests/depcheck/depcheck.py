#!/usr/bin/env python3
"""Checks the direction of dependencies between modules by reading #include lines.

Each module under src/ may include only itself and the modules ALLOWED lists for it (ARCHITECTURE.md
draws the same graph). The delivery half and the LLM half meet only in src/cli/. Test files
(*_test.cc) may include test helpers of any module they already may include.
"""
import pathlib
import re
import sys

ALLOWED = {
    "base": set(),
    "oci": {"base"},
    "tar": {"base"},
    "http": {"base"},
    "registry": {"base", "http", "oci"},
    "store": {"base", "oci", "tar"},
    "peer": {"base", "http", "oci", "registry", "store", "tar"},
    "modelcar": {"base", "http", "oci", "peer", "registry", "store", "tar"},
    "kube": {"base", "http", "oci"},
    "llm/model": {"base"},
    "llm/ops": {"base", "llm/model"},
    "llm/engine": {"base", "llm/model", "llm/ops"},
    "llm/tokenizer": {"base"},
    "llm/template": {"base"},
    "serve": {"base", "http", "llm/engine", "llm/model", "llm/ops", "llm/template",
              "llm/tokenizer"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path: str, modules):
    best = None
    for m in modules:
        if path.startswith(m + "/") and (best is None or len(m) > len(best)):
            best = m
    return best


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    problems = []
    seen = set()
    for f in sorted(src.rglob("*")):
        if f.suffix not in (".h", ".cc") or f.parts[len(src.parts)] == "cli":
            continue
        rel = f.relative_to(src).as_posix()
        mod = module_of(rel, ALLOWED)
        if mod is None:
            problems.append(f"{rel}: module not listed in depcheck.py (add it with its allowed deps)")
            continue
        seen.add(mod)
        for inc in INCLUDE.findall(f.read_text(errors="replace")):
            dep = module_of(inc, ALLOWED)
            if dep is None or dep == mod:
                continue  # system-style or own include
            if dep not in ALLOWED[mod]:
                problems.append(f"{rel}: includes {inc} ({mod} may not depend on {dep})")
    for p in problems:
        print("depcheck:", p)
    print(f"depcheck: {len(seen)} modules, {len(problems)} problems")
    return 1 if problems or len(seen) < 10 else 0


if __name__ == "__main__":
    sys.exit(main())
