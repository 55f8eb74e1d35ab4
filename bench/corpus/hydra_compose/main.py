"""hydra-core + omegaconf: compose a config from a config dir written in a temp dir, with
overrides; hydra discovers its plugins (config sources, launchers) with pkgutil over
hydra_plugins and loads its own primary config from package data (pkg://hydra.conf)."""
import os, tempfile
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

d = tempfile.mkdtemp()
os.makedirs(os.path.join(d, "db"))
with open(os.path.join(d, "config.yaml"), "w") as f:
    f.write("defaults:\n  - db: sqlite\n  - _self_\napp:\n  name: demo\n  workers: 2\n  url: ${db.driver}://${db.host}\n")
with open(os.path.join(d, "db", "sqlite.yaml"), "w") as f:
    f.write("driver: sqlite\nhost: local\n")
with open(os.path.join(d, "db", "pg.yaml"), "w") as f:
    f.write("driver: postgresql\nhost: db.example\n")
with initialize_config_dir(config_dir=d, version_base="1.3"):
    cfg = compose(config_name="config", overrides=["app.workers=4", "db=pg"])
    print(OmegaConf.to_yaml(cfg, resolve=True).strip())
    cfg2 = compose(config_name="config", return_hydra_config=True)
    print(cfg2.hydra.job.name if "job" in cfg2.hydra else None, cfg2.hydra.runtime.version.split(".")[0])
oc = OmegaConf.merge(OmegaConf.create({"a": 1, "b": {"c": "${a}"}}), OmegaConf.from_dotlist(["a=7"]))
print(OmegaConf.to_container(oc, resolve=True))
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigSource
print(sorted(p.__name__ for p in Plugins.instance().discover(ConfigSource)))
