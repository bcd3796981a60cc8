"""`manage.py ensure_admin`: create the demo administrator once, never with a fixed password."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from models_app.management import manage_command


class Command(BaseCommand):
    help = (
        "Create a superuser if none exists. The password comes from DJANGO_ADMIN_PASSWORD or is "
        "generated and printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_ADMIN_USERNAME", "admin"))

    def handle(self, *args, **options):
        User = get_user_model()
        username = options["username"]
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Administrator '{username}' exists (password printed when it was created; "
                f"reset with: {manage_command('changepassword', username)})."
            )
            return
        password = os.environ.get("DJANGO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("DJANGO_ADMIN_PASSWORD"):
            self.stdout.write(f"Created administrator '{username}' with DJANGO_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created administrator  user: {username}  password: {password}  "
                    "(shown once; keep it)"
                )
            )
