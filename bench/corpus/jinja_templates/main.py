"""jinja2 with a templates directory loaded by FileSystemLoader relative to the script."""
import os
from datetime import date

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

here = os.path.dirname(os.path.abspath(__file__))
env = Environment(loader=FileSystemLoader(os.path.join(here, "templates")),
                  autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)
env.filters["money"] = lambda v: f"{v:,.2f} EUR"
env.globals["today"] = date(2024, 5, 1)

invoice = {"number": 42, "customer": "Ada <ada@example.com>",
           "lines": [{"item": "Widget", "qty": 2, "price": 9.99}, {"item": "Gadget", "qty": 1, "price": 1200}]}
print(env.get_template("invoice.html").render(invoice=invoice))
print(env.get_template("plain.txt").render(invoice=invoice))
print(sorted(env.list_templates()))
