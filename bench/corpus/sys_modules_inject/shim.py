import json
import sys

# Aliases the standard json module under another name, as compatibility shims do.
sys.modules["fastjson"] = json
ALIASED = "fastjson" in sys.modules
