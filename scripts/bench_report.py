"""Shared by the benchmark scripts: each owns one section of docs/BENCHMARKS.md, between
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, and replaces only that section."""

import os
import re

HEAD = "# Benchmarks\n\nEach section is written by the script it names; these machines are shared and noisy: read medians and ratios, not single numbers.\n"


def replace_section(path, name, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else HEAD
    if not old.startswith("# Benchmarks"):
        old = HEAD
    block = f"<!-- bench:{name} -->\n{text.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip() + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)
