"""mypy used as a library: type-check a snippet with mypy.api.run."""
import os
import sys
import tempfile

from mypy import api

SNIPPET = '''
from typing import Optional
import json

def greet(name: str, times: int = 1) -> str:
    return ", ".join([f"hi {name}"] * times)

def find(xs: list[int], x: int) -> Optional[int]:
    return xs.index(x) if x in xs else None

greet(3)
n: int = find([1, 2], 2)
data: dict[str, int] = json.loads("{}")
reveal_type(greet)
'''

with tempfile.TemporaryDirectory() as tmp:
    stdout, stderr, status = api.run(["--no-incremental", "--cache-dir", os.devnull, "--no-error-summary",
                                      "--hide-error-context", "-c", SNIPPET])
print("status:", status)
for line in stdout.splitlines():
    print(line)
print("stderr empty:", stderr == "")
if stderr:
    print(stderr, file=sys.stderr)
