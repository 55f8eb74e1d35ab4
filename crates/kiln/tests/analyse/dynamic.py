import importlib
import importlib as il
from importlib import import_module
from importlib import import_module as imp


def load(name, kind):
    importlib.import_module("plugins.alpha")
    il.import_module("plugins.beta")
    import_module("plugins.gamma")
    imp("plugins.delta")
    __import__("email.mime.text")
    __import__("xml.dom", fromlist=["minidom"])
    importlib.import_module(".local_plugin", package=__name__)
    importlib.import_module("..up", package="a.b.c")
    importlib.import_module(f"services.{name}")
    importlib.import_module("connectors." + name)
    importlib.import_module("handlers.%s" % kind)
    importlib.import_module("backends.{}.impl".format(kind))
    importlib.import_module(f".sub.{name}", package=__package__)
    importlib.import_module(name)
    importlib.import_module(f"{name}.x")
    other.import_module("not.importlib")


def children():
    import subprocess, sys, os
    subprocess.run([sys.executable, "-c", "import json, sys; from email import message"], check=True)
    subprocess.Popen((sys.executable, "-X", "utf8", "-m", "http.server", "8000"))
    os.execv(sys.executable, [sys.executable, "-I", "-c", "import csv"])
    subprocess.run(["python", "-c", "import not_ours"])


def own_package_names(kind):
    __import__(__package__ + ".fft")
    importlib.import_module(__name__ + ".helpers")
    importlib.import_module(f"{__package__}.backends.{kind}")
    importlib.import_module(f"{__spec__.parent}.linalg")
