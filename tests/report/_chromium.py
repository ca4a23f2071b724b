"""Headless Chromium over the DevTools protocol: which fonts drew each element's text."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from waiting import wait_until

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chinese_fonts_installed() -> bool:
    found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True)
    return bool(found.stdout.strip())


@cache
def font_covers(family: str, chars: frozenset[str]) -> bool:
    """Whether the installed font ``family`` has a glyph for every one of ``chars`` (asked of
    fontconfig, which Chromium itself uses on Linux)."""
    charset = " ".join(f"{ord(c):x}" for c in sorted(chars))
    found = subprocess.run(
        ["fc-list", f"{family}:charset={charset}", "family"], capture_output=True, text=True
    )
    return bool(found.stdout.strip())


def require_chromium_and_cjk_fonts() -> str:
    """The chromium binary, or a skip that says what to install (.ci/run installs both)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    if shutil.which("fc-list") is None or not chinese_fonts_installed():
        pytest.skip("no CJK font (apt-get install fonts-noto-cjk; .ci/run installs it)")
    return chromium


@dataclass
class Drawn:
    """An element's text and the platform fonts that drew it: family → glyphs drawn."""

    selector: str
    text: str
    fonts: dict[str, int]

    def draws(self, chars: list[str]) -> bool:
        """Whether fonts that have glyphs for ``chars`` drew at least that many glyphs: a
        character no font has is drawn as the box of whichever font Chromium fell back to."""
        wanted = frozenset(chars)
        covering = [family for family in self.fonts if font_covers(family, wanted)]
        return not chars or sum(self.fonts[family] for family in covering) >= len(chars)


class Page:
    """One tab: call DevTools methods and read what each element was drawn with."""

    def __init__(self, socket: Any):
        self.socket, self.next_id = socket, 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def open(self, url: str) -> None:
        for domain in ("Page", "DOM", "CSS", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        while json.loads(self.socket.recv(timeout=60)).get("method") != "Page.loadEventFired":
            pass

    def drawn(self, selector: str) -> list[Drawn]:
        root = self.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
        out = []
        for node in self.call("DOM.querySelectorAll", nodeId=root, selector=selector)["nodeIds"]:
            resolved = self.call("DOM.resolveNode", nodeId=node)["object"]["objectId"]
            text = self.call(
                "Runtime.callFunctionOn",
                objectId=resolved,
                functionDeclaration="function() { return this.textContent; }",
                returnByValue=True,
            )["result"]["value"]
            fonts = self.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
            out.append(Drawn(selector, text, {f["familyName"]: f["glyphCount"] for f in fonts}))
        return out


@contextmanager
def chromium_page(chromium: str, profile: Path) -> Iterator[Page]:
    """A headless Chromium on a free port (it writes the port to DevToolsActivePort)."""
    from websockets.sync.client import connect

    process = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"

        def listening() -> bool:
            assert process.poll() is None, "chromium exited before it listened"
            return port_file.exists() and bool(port_file.read_text().strip())

        wait_until(listening, what="chromium to open its DevTools port", every=0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=30) as answer:
            targets = json.load(answer)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with connect(url, max_size=None) as socket:
            yield Page(socket)
    finally:
        process.terminate()
        process.wait(timeout=30)
