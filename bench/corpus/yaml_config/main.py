"""PyYAML: load a config with anchors and custom tags, use the C loader when present, dump back."""
import yaml

DOC = """
defaults: &defaults
  retries: 3
  timeout: 2.5
services:
  api:
    <<: *defaults
    port: 8080
    tags: [web, public]
  worker:
    <<: *defaults
    retries: 5
    schedule: !every 15m
"""


class Every:
    def __init__(self, spec):
        self.spec = spec


def every(loader, node):
    return Every(loader.construct_scalar(node))


Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Loader.add_constructor("!every", every)
data = yaml.load(DOC, Loader=Loader)
print("libyaml:", yaml.__with_libyaml__)
print(data["services"]["api"])
print(data["services"]["worker"]["retries"], data["services"]["worker"]["schedule"].spec)
data["services"]["worker"]["schedule"] = "15m"
print(yaml.safe_dump(data, sort_keys=True, default_flow_style=False).strip())
print(list(yaml.safe_load_all("a: 1\n---\nb: 2\n")))
