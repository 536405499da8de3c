#!/usr/bin/env python3
"""Rewrites README.md's operator paragraph and count from the engine's registry, as printed by the failing
EngineTests.ReadmeOperatorListTests (run: swift test --filter ReadmeOperatorListTests 2>&1 | scripts/update-readme-operators.py)."""
import re
import sys
import textwrap
from pathlib import Path

MARKER = ("Supported operators (default domain, the opset-dependent attribute forms included; float32 compute with "
          "int64/int32/bool where ONNX uses them): ")
log = sys.stdin.read()
def loose(text):
    """`text` as a pattern that allows any whitespace (a line break) between its words."""
    return r"\s+".join(re.escape(word) for word in text.split())


found = re.search(loose(MARKER) + r"\s*([A-Za-z0-9 ]+)\.", log)
if not found:
    sys.exit("no operator list in the input: is ReadmeOperatorListTests already passing?")
names = found.group(1).split()
readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
located = re.search(loose(MARKER), text)
if not located:
    sys.exit("README.md has no operator paragraph")
start = located.start()
end = text.index(".\n", start)
paragraph = "\n".join(textwrap.wrap(MARKER + " ".join(names) + ".", width=118, break_long_words=False, break_on_hyphens=False))
text = text[:start] + paragraph[:-1] + text[end:]
text = re.sub(r"\| \d+ ONNX operators", f"| {len(names)} ONNX operators", text)
readme.write_text(text)
print(f"README.md: {len(names)} operators")
