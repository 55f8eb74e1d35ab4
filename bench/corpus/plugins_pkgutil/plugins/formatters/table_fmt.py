import textwrap
NAME = "table"


def render(row):
    return textwrap.shorten(" | ".join(f"{k}={v}" for k, v in row.items()), 40)
