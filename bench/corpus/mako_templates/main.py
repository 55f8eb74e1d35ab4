"""mako: a TemplateLookup over the app's templates directory, inheritance, defs and filters."""
import os
import tempfile

from mako.lookup import TemplateLookup
from mako.template import Template

here = os.path.dirname(os.path.abspath(__file__))
with tempfile.TemporaryDirectory() as cache:
    lookup = TemplateLookup(directories=[os.path.join(here, "templates")], module_directory=cache,
                            default_filters=["str", "h"])
    page = lookup.get_template("page.mako")
    print(page.render(heading="Report", rows=[("alpha", 3), ("beta & co", 5)]).strip())
print(Template("${x | u} ${', '.join(str(i * i) for i in range(n))}").render(x="a b&c", n=4))
