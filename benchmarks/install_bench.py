"""Install weight, measured in one run: the README demo command's ``pip install`` steps
(``pip install .``, then the speaker embedder's wheel without its requirements) into a fresh
virtual environment.

    python benchmarks/install_bench.py              # this checkout, pip's cache as it is (warm)
    python benchmarks/install_bench.py --repo DIR   # another checkout (before/after on one machine)
    python benchmarks/install_bench.py --keep DIR   # keep the environment in DIR

Prints the wall time of those steps, the number of distributions installed, their size on
disk in all, the largest ones, and for each distribution the project requires directly the
weight it brings along alone (itself and what nothing else needs): what leaving it out of the
default install would save.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# run inside the fresh environment: every distribution, its size on disk and what it requires
PROBE = r"""
import importlib.metadata as md, json, os, re, sys
out = {}
for d in md.distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    size = 0
    for f in d.files or []:
        try:
            size += os.path.getsize(d.locate_file(f))
        except OSError:
            pass
    reqs, extras = [], {}
    for r in d.requires or []:
        head = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", r)
        dep = [re.sub(r"[-_.]+", "-", head.group(1)).lower(),
               [e.strip() for e in (head.group(2) or "").split(",") if e.strip()]]
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", r)
        if extra:
            extras.setdefault(extra.group(1), []).append(dep)
        else:
            reqs.append(dep)
    out[name] = {"size": size, "requires": reqs, "extras": extras}
json.dump(out, sys.stdout)
"""


def closure(name: str, dists: dict, without: str | None = None) -> set[str]:
    """``name`` and everything it pulls in, extras included (``celery[redis]`` brings redis...)."""
    seen: dict[str, set[str]] = {}
    todo: list[tuple[str, list[str]]] = [(name, [])]
    while todo:
        n, extras = todo.pop()
        if n not in dists or n == without:
            continue
        first = n not in seen
        new = set(extras) - seen.setdefault(n, set())
        seen[n] |= new
        if first:
            todo.extend((d, e) for d, e in dists[n]["requires"])
        for extra in new:
            todo.extend((d, e) for d, e in dists[n]["extras"].get(extra, []))
    return set(seen)


def readme_steps(repo: Path) -> list[list[str]]:
    """The ``pip install`` steps of the README's demo command (the first ``sh`` block after
    "Run the demo"), ``.`` meaning the checkout."""
    text = (repo / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Run the demo.*?```sh\n(.*?)```", text, re.S)
    if block is None:
        raise SystemExit(f"{repo / 'README.md'}: no demo command found")
    steps = []
    for part in block.group(1).replace("\\\n", " ").split("&&"):
        words = shlex.split(part)
        if words[:2] == ["pip", "install"]:
            steps.append([str(repo) if w == "." else w for w in words[2:]])
    return steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, help="make the environment here and keep it")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout to install (default: this one)")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = args.keep or Path(tmp) / "venv"
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        py = env_dir / "bin" / "python"
        steps = readme_steps(args.repo.resolve())
        seconds = 0.0
        for step in steps:
            t0 = time.perf_counter()
            proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *step],
                                  capture_output=True, text=True)
            seconds += time.perf_counter() - t0
            if proc.returncode != 0:
                print(proc.stdout[-2000:] + proc.stderr[-4000:], file=sys.stderr)
                return 3
        dists = json.loads(subprocess.run([str(py), "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    for tool in ("pip", "setuptools", "wheel"):
        dists.pop(tool, None)
    total = sum(d["size"] for d in dists.values())
    mib = 1024 * 1024
    shown = " && ".join("pip install " + " ".join("." if w == str(args.repo.resolve()) else w for w in st) for st in steps)
    print(f"{shown} into a fresh venv: {seconds:.1f} s; {len(dists)} distributions, {total / mib:.0f} MiB on disk")
    print("  largest:")
    for name, d in sorted(dists.items(), key=lambda kv: -kv[1]["size"])[:args.top]:
        print(f"    {name:28s} {d['size'] / mib:7.1f} MiB")
    root = "indextts-dub"
    everything = closure(root, dists)
    print("  weight each direct requirement brings alone (what leaving it out would save):")
    rows = []
    for req in dict.fromkeys(d for d, _ in dists.get(root, {}).get("requires", [])):
        if req not in dists:
            continue
        alone = everything - closure(root, dists, without=req)
        rows.append((sum(dists[n]["size"] for n in alone), req, sorted(alone - {req})))
    for size, req, extra in sorted(rows, reverse=True)[:args.top]:
        print(f"    {req:28s} {size / mib:7.1f} MiB" + (f"  (with {', '.join(extra)})" if extra else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
