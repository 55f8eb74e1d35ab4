"""An app written for PyInstaller: finds its data through sys._MEIPASS when frozen."""
import json
import os
import sys


def resource_path(*parts):
    if getattr(sys, "frozen", False):
        base = getattr(sys, "_MEIPASS", os.path.dirname(sys.executable))
    else:
        base = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(base, *parts)


with open(resource_path("data", "config.json")) as f:
    config = json.load(f)
print("app:", config["name"], "version", config["version"])
with open(resource_path("data", "banner.txt")) as f:
    print(f.read().rstrip())
print("features:", ", ".join(sorted(k for k, v in config["features"].items() if v)))
