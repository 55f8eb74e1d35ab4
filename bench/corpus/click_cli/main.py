"""A click CLI with a group, options, a choice, and output through click.echo."""
import click


@click.group()
@click.option("--verbose", is_flag=True)
@click.pass_context
def cli(ctx, verbose):
    ctx.obj = {"verbose": verbose}


@cli.command()
@click.option("--name", default="world")
@click.option("--count", type=click.IntRange(1, 5), default=1)
@click.option("--style", type=click.Choice(["plain", "shout"]), default="plain")
@click.pass_obj
def greet(obj, name, count, style):
    msg = f"hello {name}"
    if style == "shout":
        msg = msg.upper() + "!"
    for i in range(count):
        click.echo(f"{i + 1}: {msg}")
    if obj["verbose"]:
        click.echo(click.style("done", fg="green"), color=False)


@cli.command()
@click.argument("numbers", nargs=-1, type=float)
def total(numbers):
    click.echo(f"sum={sum(numbers):g}")


if __name__ == "__main__":
    cli()
