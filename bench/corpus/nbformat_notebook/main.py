"""nbformat: build a notebook, validate it against the bundled JSON schema, round-trip it."""
import io

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
nb.cells = [new_markdown_cell("# Title"), new_code_cell("print(1 + 1)", execution_count=1,
            outputs=[new_output("stream", name="stdout", text="2\n")])]
for cell in nb.cells:
    cell.id = "cell-" + cell.cell_type
nbformat.validate(nb)
print("valid:", nbformat.v4.nbformat, nbformat.v4.nbformat_minor >= 4)
text = nbformat.writes(nb)
back = nbformat.reads(text, as_version=4)
print("cells:", [c.cell_type for c in back.cells], back.cells[1].outputs[0].text.strip())
bad = nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]})
try:
    nbformat.validate(bad)
except nbformat.ValidationError as e:
    print("invalid:", type(e).__name__)
buf = io.StringIO()
nbformat.write(back, buf)
print("bytes:", len(buf.getvalue()) > 300)
