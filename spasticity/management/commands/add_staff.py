"""``python manage.py add_staff USERNAME --role ROLE [--password PW] [--email E]``."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from spasticity.roles import Role


class Command(BaseCommand):
    help = "Create a staff member (or update their role) with one of the five clinic roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", help="prompted for when absent")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or self._prompt_password()
        user = User(username=options["username"], email=options["email"])
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=options["username"])
            user.email = options["email"] or user.email
            user.first_name = options["first_name"] or user.first_name
            user.last_name = options["last_name"] or user.last_name
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=options["role"])])
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {user.username} as {options['role']}."))

    def _prompt_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first
