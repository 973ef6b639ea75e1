#!/usr/bin/env python3
"""Checks the direction of dependencies between modules by reading #include lines.

Each module under src/ may include only itself and the modules ALLOWED lists for it. The delivery
half and the LLM half meet only in src/cli/. Test files (*_test.cc) may include test helpers of any
module they already may include.

ARCHITECTURE.md draws the same graph in the first code block after "## Modules": lines
"a/, b/ ──▶ c/, d/ (note)" give the direct dependencies of a and b besides base; "──▶ base/ only"
none. The check fails when that drawing and ALLOWED differ.
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
    "image": {"base", "oci", "tar"},
    "transfer": {"base", "image", "oci", "registry"},
    "node": {"base", "oci", "peer", "registry", "store"},
    "kube": {"base", "http", "oci"},
    "llm/model": {"base"},
    "llm/ops": {"base", "llm/model"},
    "llm/engine": {"base", "llm/model", "llm/ops"},
    "llm/tokenizer": {"base"},
    "llm/template": {"base"},
    "llm/grammar": {"base"},
    "serve": {"base", "http", "llm/engine", "llm/grammar", "llm/model", "llm/ops", "llm/template",
              "llm/tokenizer"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path: str, modules):
    best = None
    for m in modules:
        if path.startswith(m + "/") and (best is None or len(m) > len(best)):
            best = m
    return best


def drawn_graph(architecture: pathlib.Path):
    """{module: set of dependencies} as ARCHITECTURE.md draws them (cli and base left out)."""
    text = architecture.read_text()
    block = text.split("## Modules", 1)[1].split("```", 2)[1]
    graph = {}
    for line in block.splitlines():
        if "──▶" not in line:
            continue
        left, right = line.split("──▶", 1)
        mods = [m.strip().rstrip("/") for m in left.split(",")]
        if mods in (["cli"], ["every module"]):
            continue
        deps = {d.strip().rstrip("/") for d in re.sub(r"\([^)]*\)", "", right).split(",")}
        deps = {"base" if d == "base/ only" else d for d in deps if d}
        for m in mods:
            graph.setdefault(m, set()).update(deps)
    return graph


def compare_drawing(architecture: pathlib.Path):
    problems = []
    drawn = drawn_graph(architecture)
    for mod in sorted(set(drawn) | set(ALLOWED)):
        if mod == "base" and not ALLOWED["base"] and "base" not in drawn:
            continue  # the root: "every module ──▶ base/"
        if mod not in ALLOWED:
            problems.append(f"ARCHITECTURE.md draws {mod}/, which depcheck.py does not list")
            continue
        if mod not in drawn:
            problems.append(f"ARCHITECTURE.md does not draw {mod}/ (depcheck.py lists it)")
            continue
        want, got = ALLOWED[mod] | {"base"}, drawn[mod] | {"base"}
        for d in sorted(want - got):
            problems.append(f"ARCHITECTURE.md lacks the edge {mod}/ ──▶ {d}/ that depcheck.py allows")
        for d in sorted(got - want):
            problems.append(f"ARCHITECTURE.md draws {mod}/ ──▶ {d}/, which depcheck.py does not allow")
    return problems


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    problems = compare_drawing(src.resolve().parent / "ARCHITECTURE.md")
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
