"""rich: tables, panels, syntax highlighting, markdown and a tree rendered to a string."""
import io

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

buf = io.StringIO()
console = Console(file=buf, width=80, force_terminal=True, color_system="truecolor")
table = Table(title="Planets")
for col in ("name", "moons", "rings"):
    table.add_column(col)
for row in (("Earth", "1", "no"), ("Saturn", "146", "yes")):
    table.add_row(*row)
console.print(table)
console.print(Panel("[bold]framed[/bold] text", title="panel"))
console.print(Syntax("def f(x):\n    return x * 2\n", "python", theme="monokai", line_numbers=True))
console.print(Markdown("# Title\n\n* one\n* **two**\n\n```json\n{\"a\": 1}\n```"))
tree = Tree("root")
tree.add("leaf").add("deeper")
console.print(tree)
text = buf.getvalue()
print(text)
print("escape codes:", text.count("\x1b["))
