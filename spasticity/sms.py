"""Text messages through a small backend interface, chosen by ``settings.SMS_BACKEND``.

As Django does for email: the outbox (``alerts.notifications``) calls ``send_sms`` and never
knows which backend delivers. Backends:

* ``console``: prints the message (the demo);
* ``file``: appends one JSON line per message to ``SMS_FILE_PATH`` (the demo, and tests that
  read what was sent);
* ``locmem``: keeps the messages in ``outbox`` (tests);
* ``http``: POSTs ``{"to", "from", "text"}`` as JSON to a gateway at ``SMS_HTTP_URL`` with
  ``SMS_HTTP_TOKEN`` as a bearer token; any answer but 2xx is a failure, which the outbox
  records and retries. Written to the common shape of SMS gateways; not tested against a
  real provider;
* or the dotted path of any class with ``send(to, text)``.

A backend raises on failure; the outbox marks the row failed with the error and retries it.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The message was not accepted for delivery."""


class SmsBackend(Protocol):
    def send(self, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    to: str
    text: str


# What the locmem backend sent (tests empty it between runs).
outbox: list[SentSms] = []
_outbox_lock = threading.Lock()


class ConsoleBackend:
    def send(self, to: str, text: str) -> None:
        sys.stdout.write(f"SMS to {to}:\n{text}\n{'-' * 40}\n")
        sys.stdout.flush()


class LocmemBackend:
    def send(self, to: str, text: str) -> None:
        with _outbox_lock:
            outbox.append(SentSms(to=to, text=text))


class FileBackend:
    """One JSON object per line: ``{"sent_at", "to", "text"}``."""

    _lock = threading.Lock()

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, to: str, text: str) -> None:
        line = json.dumps({"sent_at": timezone.now().isoformat(), "to": to, "text": text})
        with self._lock, self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")


class HttpGatewayBackend:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        sender: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.url = url if url is not None else settings.SMS_HTTP_URL
        self.token = token if token is not None else settings.SMS_HTTP_TOKEN
        self.sender = sender if sender is not None else settings.SMS_HTTP_SENDER
        self.timeout_s = timeout_s if timeout_s is not None else settings.SMS_HTTP_TIMEOUT_S

    def send(self, to: str, text: str) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise SmsError("SMS_HTTP_URL must be an http:// or https:// address.")
        body = json.dumps({"to": to, "from": self.sender, "text": text}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (scheme checked)
                status = response.status
        except urllib.error.HTTPError as error:
            raise SmsError(f"The SMS gateway answered {error.code}.") from error
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SmsError(f"The SMS gateway could not be reached: {error}") from error
        if not 200 <= status < 300:
            raise SmsError(f"The SMS gateway answered {status}.")


BACKENDS: dict[str, type] = {
    "console": ConsoleBackend,
    "file": FileBackend,
    "locmem": LocmemBackend,
    "http": HttpGatewayBackend,
}


def sms_backend() -> SmsBackend:
    """The configured backend: a short name from ``BACKENDS`` or a dotted path."""
    name = settings.SMS_BACKEND
    backend_class = BACKENDS.get(name) or import_string(name)
    backend: SmsBackend = backend_class()
    return backend


def send_sms(to: str, text: str) -> None:
    """Send one text message (raises when it was not accepted)."""
    if not to.strip():
        raise SmsError("No phone number to send to.")
    sms_backend().send(to.strip(), text)
