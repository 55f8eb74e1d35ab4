# Imports in an `except ImportError:` handler stand in for what the `try` body imports.
try:
    from _decimal import *
    import _speedups.core
except ImportError:
    from _pydecimal import *
    import pure.core

try:
    import fast_json as json
except (ImportError, AttributeError):
    try:
        import simplejson as json
    except ImportError:
        import json

try:
    from . import _native
except ImportError:
    _native = None
    import fallback_for_relative

try:
    import first
except ValueError:
    import not_a_fallback
