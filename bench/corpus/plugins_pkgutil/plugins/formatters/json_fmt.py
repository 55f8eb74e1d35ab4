import json
NAME = "json"


def render(row):
    return json.dumps(row, sort_keys=True)
