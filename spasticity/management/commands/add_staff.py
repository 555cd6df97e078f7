"""``python manage.py add_staff USERNAME --role ROLE [--password PW] [--email E] [--with-2fa] [--reset-2fa]``.

When two-factor sign-in is required (``REQUIRE_2FA``) or ``--with-2fa`` is given, it prints the
enrolment QR code and its ``otpauth://`` link for the staff member's authenticator app; their
first sign-in asks for a code from it. ``--reset-2fa`` replaces a lost phone's device.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from spasticity.roles import Role
from spasticity.two_factor import confirmed_device, device_reset, enrolment_device, qr_text, two_factor_required


class Command(BaseCommand):
    help = "Create a staff member (or update their role) with one of the five clinic roles."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=[r.value for r in Role])
        parser.add_argument("--password", help="prompted for when absent")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--with-2fa", action="store_true", help="print a two-factor enrolment QR code and link")
        parser.add_argument("--reset-2fa", action="store_true", help="forget the user's device (a lost phone)")

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
        if options["reset_2fa"] or options["with_2fa"] or two_factor_required():
            self._print_enrolment(user, reset=options["reset_2fa"])

    def _print_enrolment(self, user: User, *, reset: bool) -> None:
        if not reset and confirmed_device(user):
            self.stdout.write(f"{user.username} already has a two-factor device; --reset-2fa replaces it.")
            return
        device = device_reset(user) if reset else enrolment_device(user)
        self.stdout.write(
            f"Two-factor enrolment for {user.username}: scan this QR code with an authenticator app "
            "(treat it like a password: it holds the secret). The first sign-in asks for a code from it."
        )
        self.stdout.write(qr_text(device.config_url))
        self.stdout.write(f"Or open this link on the phone: {device.config_url}")

    def _prompt_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first
