"""Django project: settings module by string, migrate, ORM rows, app-directory templates, i18n, test Client."""
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django
from django.core.management import call_command


def main():
    django.setup()
    import io
    out = io.StringIO()
    call_command("migrate", verbosity=1, interactive=False, stdout=out)
    applied = sorted({l.split()[1].split(".")[0] for l in out.getvalue().splitlines() if l.strip().startswith("Applying")})
    print("migrated apps:", applied)
    from django.contrib.auth.models import User, Group
    from blog.models import Post
    g = Group.objects.create(name="editors")
    u = User.objects.create_user("alice", "a@example.com", "s3cret-pass")
    u.groups.add(g)
    for i in range(3):
        Post.objects.create(title=f"Post {i}", body="hello " * i, author=u)
    print("users:", User.objects.count(), "posts:", Post.objects.count())
    print("password ok:", u.check_password("s3cret-pass"), u.password.split("$")[0])
    from django.test import Client
    c = Client()
    r = c.get("/posts/")
    print("GET /posts/", r.status_code, r["Content-Type"])
    print(r.content.decode().strip())
    r = c.get("/api/")
    print("GET /api/", r.status_code, r.json())
    r = c.get("/admin/login/")
    print("GET /admin/login/", r.status_code, b"csrfmiddlewaretoken" in r.content)
    from django.utils import translation
    from django.utils.translation import gettext
    for lang in ("de", "fr", "ja"):
        with translation.override(lang):
            print(lang, gettext("Yes"), gettext("This field is required."))
    from django.template import engines
    t = engines["django"].from_string("{% load humanize %}{{ n|intcomma }} {{ d|naturalday }}")
    import datetime
    print(t.render({"n": 1234567, "d": datetime.date(2001, 1, 1)}))
    call_command("check", stdout=out)
    print("check ok")


if __name__ == "__main__":
    main()
