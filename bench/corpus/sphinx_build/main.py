"""Sphinx builds a one-page document (HTML and text) in a temporary directory."""
import os
import tempfile

from sphinx.cmd.build import build_main

CONF = 'project = "Corpus"\nextensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.todo"]\nhtml_theme = "alabaster"\n'
INDEX = """Corpus
======

A paragraph with *emphasis* and a code block::

    print("hello")

.. note:: A note.

.. todo:: Something to do.

.. toctree::
"""

with tempfile.TemporaryDirectory() as tmp:
    src, out = os.path.join(tmp, "src"), os.path.join(tmp, "out")
    os.makedirs(src)
    with open(os.path.join(src, "conf.py"), "w") as f:
        f.write(CONF)
    with open(os.path.join(src, "index.rst"), "w") as f:
        f.write(INDEX)
    code = build_main(["-q", "-b", "html", src, os.path.join(out, "html")])
    print("html exit:", code, "index.html exists:", os.path.exists(os.path.join(out, "html", "index.html")))
    print("static css:", os.path.exists(os.path.join(out, "html", "_static", "alabaster.css")))
    code = build_main(["-q", "-b", "text", src, os.path.join(out, "text")])
    with open(os.path.join(out, "text", "index.txt")) as f:
        print("text exit:", code, f.read().splitlines()[:3])
