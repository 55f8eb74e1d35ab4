"""tomlkit, cattrs, pydantic-settings and dynaconf: style-preserving TOML edit, structuring
attrs classes, settings from env and a .env file, and dynaconf loading TOML/YAML/JSON files
(its loaders imported by computed names) from a temp dir."""
import os, tempfile
import attrs, cattrs
import tomlkit
from pydantic_settings import BaseSettings, SettingsConfigDict
from dynaconf import Dynaconf

doc = tomlkit.parse('# top\n[server]\nport = 80 # the port\nhosts = ["a", "b"]\n')
doc["server"]["port"] = 8080; doc["server"]["hosts"].append("c")
print(tomlkit.dumps(doc).strip())

@attrs.define
class Point: x: int; y: int
@attrs.define
class Shape: name: str; pts: list[Point]
conv = cattrs.Converter()
s = conv.structure({"name": "tri", "pts": [{"x": 1, "y": 2}, {"x": "3", "y": 4}]}, Shape)
print(s, conv.unstructure(s))

d = tempfile.mkdtemp()
with open(os.path.join(d, ".env"), "w") as f: f.write("APP_DEBUG=true\nAPP_PORT=9000\n")
class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_file=os.path.join(d, ".env"))
    debug: bool = False; port: int = 80; name: str = "x"
os.environ["APP_NAME"] = "fromenv"
print(Settings().model_dump())

with open(os.path.join(d, "settings.toml"), "w") as f: f.write('[default]\nport = 1\nname = "toml"\n[development]\nport = 2\n')
with open(os.path.join(d, "extra.yaml"), "w") as f: f.write("default:\n  color: blue\n")
with open(os.path.join(d, "more.json"), "w") as f: f.write('{"default": {"size": 3}}')
cfg = Dynaconf(settings_files=[os.path.join(d, n) for n in ("settings.toml", "extra.yaml", "more.json")],
               environments=True, env="development", envvar_prefix="DYN")
print(cfg.port, cfg.name, cfg.color, cfg.size, cfg.get("missing", "dflt"))
