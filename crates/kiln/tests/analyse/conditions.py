from typing import TYPE_CHECKING
import typing

try:
    import ujson as json
except ImportError:
    import json

try:
    import yaml
except (ValueError, ModuleNotFoundError):
    yaml = None
else:
    import yaml.loader

try:
    import always_in_try
except ValueError:
    pass
finally:
    import in_finally

if TYPE_CHECKING:
    from never_at_runtime import Thing
else:
    import runtime_fallback

if typing.TYPE_CHECKING:
    import also_typing_only

if some_flag:
    import in_branch
elif other_flag:
    import in_elif
else:
    import in_else

match command:
    case "go":
        import in_case

for _ in range(3):
    import in_loop

with open("x") as f:
    import in_with
