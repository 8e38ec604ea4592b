"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import contextlib
from email import message_from_bytes

from aiosmtpd.controller import Controller

from tests.servers import free_port


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def smtp_server(port: int | None = None):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()
