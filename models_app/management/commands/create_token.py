"""`manage.py create_token USERNAME`: print a new API token for that user."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from models_app import services


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'ci'.")

    def handle(self, *args, **options):
        try:
            owner = get_user_model().objects.get_by_natural_key(options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named '{options['username']}'.")
        if not owner.is_active:
            raise CommandError(f"User '{owner.get_username()}' is inactive.")
        _, secret = services.token_create(owner=owner, name=options["name"], user=None)
        self.stdout.write(secret)
