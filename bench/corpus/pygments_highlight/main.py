"""pygments: lexers and formatters looked up by name, filename and guessing; styles by name."""
from pygments import highlight
from pygments.formatters import HtmlFormatter, TerminalFormatter, get_formatter_by_name
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, guess_lexer
from pygments.styles import get_style_by_name

CODE = "def add(a, b):\n    return a + b  # sum\n"
html = highlight(CODE, get_lexer_by_name("python3"), HtmlFormatter(style="friendly", nowrap=True))
print(html.strip())
print(highlight("SELECT * FROM t WHERE x = 1;", get_lexer_for_filename("q.sql"), TerminalFormatter()).strip().count("\x1b["))
for name in ("rust", "yaml", "bash", "toml", "dockerfile"):
    lexer = get_lexer_by_name(name)
    print(name, "->", type(lexer).__name__)
print("guess:", type(guess_lexer("#!/bin/bash\necho hi\n")).__name__)
print("style:", get_style_by_name("monokai").background_color)
fmt = get_formatter_by_name("latex")
print("latex:", type(fmt).__name__, len(fmt.get_style_defs()) > 100)
