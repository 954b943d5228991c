"""A loopback SMTP server for crates/mail's tests (aiosmtpd, installed by scripts/install-e2e).

usage: smtp_sink.py OUTDIR [USER:PASSWORD] [--reject-rcpt ADDRESS]

Binds 127.0.0.1 on a free port and prints the port on the first line of stdout. Each
delivered message becomes OUTDIR/<n>.json: {mail_from, rcpt_tos, login, subject, from, to,
content_type, transfer_encoding, body (decoded text), raw}. With USER:PASSWORD, AUTH is
required and only that pair is accepted. Mail to ADDRESS is refused with 550. Exits when
stdin reaches EOF, so the server never outlives the test that started it.
"""

import asyncio
import email
import email.policy
import json
import os
import socket
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir, reject):
        self.outdir = outdir
        self.reject = reject
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.login_data.decode() if session.login_data else None,
            "subject": msg["subject"],
            "from": msg["from"],
            "to": msg["to"],
            "content_type": msg.get_content_type(),
            "transfer_encoding": msg.get("content-transfer-encoding"),
            "body": msg.get_content(),
            "raw": envelope.content.decode("utf-8", "replace"),
        }
        self.count += 1
        path = os.path.join(self.outdir, f"{self.count}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator_for(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: let aiosmtpd send the 535 reply itself on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


async def main():
    args = sys.argv[1:]
    reject = None
    if "--reject-rcpt" in args:
        i = args.index("--reject-rcpt")
        reject = args[i + 1]
        del args[i : i + 2]
    outdir = args[0]
    auth = {}
    if len(args) > 1:
        user, password = args[1].split(":", 1)
        auth = dict(
            authenticator=authenticator_for(user, password),
            auth_required=True,
            auth_require_tls=False,
        )
    handler = Sink(outdir, reject)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **auth), sock=sock
    )
    print(sock.getsockname()[1], flush=True)
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await stdin_closed
    server.close()


asyncio.run(main())
