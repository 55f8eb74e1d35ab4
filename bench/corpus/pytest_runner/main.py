"""pytest used as a library: run the test file shipped beside the app and report outcomes."""
import contextlib
import io
import os
import sys

import pytest

here = os.path.dirname(os.path.abspath(__file__))


class Recorder:
    def __init__(self):
        self.outcomes = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            self.outcomes.append((report.nodeid.split("::")[-1], report.when, report.outcome))


rec = Recorder()
log = io.StringIO()
with contextlib.redirect_stdout(log):
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "python_files=test_*.py",
                        os.path.join(here, "tests", "test_sample.py")], plugins=[rec])
for outcome in sorted(rec.outcomes):
    print(*outcome)
print("exit code:", int(code))
print("assert rewriting explained the failure:", "assert 3 == 4" in log.getvalue())
if int(code) not in (0, 1):  # pytest itself failed: show why (on stderr, stdout stays comparable)
    print(log.getvalue(), file=sys.stderr)
sys.exit(0)
