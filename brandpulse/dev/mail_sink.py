"""A local SMTP sink for the demo: a real SMTP server on 127.0.0.1 (aiosmtpd)
that saves every message as `.eml` and its HTML part as `.html` (inline
images turned into data URIs so the file opens in any browser)."""

from __future__ import annotations

import base64
import email
import re
import socket
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller


def _decoded(part: Message) -> bytes:
    """The transfer-decoded body of a leaf part (only a multipart container has none)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raise TypeError(f"{part.get_content_type()} part has no decodable body")
    return payload


def html_with_inline_images(message: Message) -> str | None:
    """The HTML part with `cid:` references replaced by data URIs."""
    html, images = None, {}
    for part in message.walk():
        if part.get_content_type() == "text/html" and html is None:
            html = _decoded(part).decode(part.get_content_charset() or "utf-8")
        elif part.get_content_maintype() == "image" and part.get("Content-ID"):
            cid = part["Content-ID"].strip("<>")
            data = base64.b64encode(_decoded(part)).decode()
            images[cid] = f"data:{part.get_content_type()};base64,{data}"
    if html is None:
        return None
    return re.sub(r"cid:([^\"'\s>]+)", lambda m: images.get(m.group(1), m.group(0)), html)


class _Saver:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.saved: list[Path] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", (message.get("Message-ID") or "message").strip("<>"))[:120]
        eml = self.out_dir / f"{stem}.eml"
        eml.write_bytes(envelope.content)
        html = html_with_inline_images(message)
        if html is not None:
            (self.out_dir / f"{stem}.html").write_text(html, encoding="utf-8")
        self.saved.append(eml)
        return "250 Message accepted"


class MailSink:
    """`with MailSink(dir) as sink:` → an SMTP server on `sink.port` until exit."""

    def __init__(self, out_dir: Path, port: int = 0) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.handler = _Saver(out_dir)
        if not port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        self.port = port
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    @property
    def saved(self) -> list[Path]:
        return self.handler.saved

    def __enter__(self) -> MailSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
