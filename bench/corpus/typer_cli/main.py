"""A typer app with subcommands, typed options and rich-free output; invoked with args."""
from enum import Enum
from typing import List

import typer

app = typer.Typer(add_completion=False)


class Unit(str, Enum):
    c = "c"
    f = "f"


@app.command()
def convert(value: float, unit: Unit = typer.Option(Unit.c, help="input unit")):
    """Convert a temperature."""
    out = value * 9 / 5 + 32 if unit is Unit.c else (value - 32) * 5 / 9
    typer.echo(f"{value:g}{unit.value} -> {out:.1f}")


@app.command()
def stats(values: List[int], top: int = 2):
    typer.echo(f"n={len(values)} max={max(values)} top={sorted(values, reverse=True)[:top]}")


if __name__ == "__main__":
    app()
