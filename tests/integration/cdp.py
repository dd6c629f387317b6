"""Drives Debian's headless Chromium over the Chrome DevTools Protocol, for
tests of the lab's web pages, on the standard library only (the WebSocket is
wsclient's).

The browser talks to loopback only: background networking, component updates,
metrics, Safe Browsing and extensions are off, every host name other than
localhost and 127.* fails to resolve, and anything that would still go out is sent to a
proxy on 127.0.0.1:9 where nothing listens (loopback itself bypasses the
proxy). Pages are driven the way a user would: real key and mouse events
(Input.*), and bounded polling of the page (Runtime.evaluate) for what to see.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from wsclient import WebSocket

# Debian's /usr/bin/chromium is a wrapper that adds flags from /etc/chromium.d
# (among them --enable-remote-extensions); the binary behind it takes ours only.
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")

FLAGS = [
    "--headless=new", "--remote-debugging-port=0", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-default-apps", "--disable-extensions", "--disable-sync", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad", "--metrics-recording-only", "--no-pings",
    "--safebrowsing-disable-auto-update", "--password-store=basic", "--use-mock-keychain", "--mute-audio",
    "--hide-scrollbars", "--lang=en-US",
    "--disable-features=Translate,OptimizationHints,OptimizationGuideModelDownloading,MediaRouter,"
    "DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater,"
    "InterestFeedContentSuggestions,PrivacySandboxSettings4",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*",
    "--proxy-server=http://127.0.0.1:9",
]


def chromium_binary():
    """The Chromium executable, or None when none is installed."""
    for c in _CANDIDATES:
        path = c if os.path.isabs(c) else shutil.which(c)
        if path and os.access(path, os.X_OK):
            return path
    return None


class CdpError(Exception):
    pass


class Browser:
    """A headless Chromium with its own throw-away profile, and the browser-wide
    DevTools connection; pages are attached to it as flat sessions."""

    def __init__(self, binary=None, window=(1280, 1000), timeout=30.0):
        self.binary = binary or chromium_binary()
        if not self.binary:
            raise CdpError("chromium is not installed")
        self.dir = tempfile.mkdtemp(prefix="mailsim-chromium-")
        self.profile = os.path.join(self.dir, "profile")
        self.log = open(os.path.join(self.dir, "chromium.log"), "w+")
        cmd = [self.binary] + FLAGS + ["--user-data-dir=" + self.profile, "--window-size=%d,%d" % window, "about:blank"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.ws = None
        self.next_id = 0
        self.replies = {}  # id -> reply not yet taken
        self.events = []  # every event received, oldest first: {"method", "params", "sessionId"}
        self.handlers = {}  # method -> function(event), called as events arrive (it may call commands)
        try:
            port, path = self._devtools_port(timeout)
            self.ws = WebSocket("127.0.0.1", port, path, timeout=timeout)
            if self.ws.status != 101:
                raise CdpError("DevTools refused the WebSocket: %s" % self.ws.response_head)
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, timeout):
        """Chromium writes the port it chose, and the browser target's path, to
        DevToolsActivePort in the profile once DevTools listens."""
        name = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CdpError("chromium exited with %s: %s" % (self.proc.returncode, self.log_text()[-2000:]))
            try:
                with open(name) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].startswith("/"):
                    return int(lines[0]), lines[1].strip()
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        raise CdpError("chromium did not start DevTools within %ss: %s" % (timeout, self.log_text()[-2000:]))

    def log_text(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def call(self, method, params=None, session=None, timeout=30.0):
        """Sends one command and returns its result; events that arrive meanwhile
        are kept (and handed to `handlers`, which may send commands of their own)."""
        self.next_id += 1
        mine = self.next_id
        msg = {"id": mine, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while mine not in self.replies:
            if time.monotonic() > deadline:
                raise CdpError("%s: no answer within %ss" % (method, timeout))
            try:
                text = self.ws.recv()
            except (socket.timeout, TimeoutError):
                continue
            if text is None:
                raise CdpError("the browser closed the DevTools connection during %s" % method)
            message = json.loads(text)
            if "id" in message:
                self.replies[message["id"]] = message
            elif "method" in message:
                self.events.append(message)
                if message["method"] in self.handlers:
                    self.handlers[message["method"]](message)
        reply = self.replies.pop(mine)
        if "error" in reply:
            raise CdpError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def new_page(self, url="about:blank"):
        """A new tab, attached as a flat session, with Page, Runtime, Network and Log events on."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.call(domain + ".enable")
        if url != "about:blank":
            page.navigate(url)
        return page

    def close(self):
        if self.ws:
            try:
                self.call("Browser.close", timeout=5)
            except (CdpError, OSError):
                pass
            self.ws.close()
            self.ws = None
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: renderers and helpers too
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Page:
    """One tab: navigation, evaluation, input events and screenshots."""

    def __init__(self, browser, target, session):
        self.browser = browser
        self.target = target
        self.session = session

    def call(self, method, params=None, timeout=30.0):
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    def events(self, method):
        """The params of every `method` event of this page so far."""
        return [e.get("params", {}) for e in self.browser.events
                if e.get("sessionId") == self.session and e.get("method") == method]

    def navigate(self, url):
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError("navigating to %s: %s" % (url, result["errorText"]))

    def reload(self):
        self.call("Page.reload", {"ignoreCache": True})

    def evaluate(self, expression, timeout=30.0):
        """The value of a JavaScript expression (promises awaited), as JSON."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           timeout=timeout)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise CdpError("%s: %s" % (expression, d.get("exception", {}).get("description") or d.get("text")))
        return result.get("result", {}).get("value")

    def wait_for(self, expression, what=None, timeout=30.0, interval=0.1):
        """Evaluates `expression` until it is truthy and returns that value; real
        time only bounds the loop. An exception (the page is still loading, the
        element is not there yet) counts as not yet."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                last = self.evaluate(expression)
            except CdpError as e:
                last = e
            if last and not isinstance(last, CdpError):
                return last
            if time.monotonic() > deadline:
                raise AssertionError("gave up waiting for %s (last value %r)" % (what or expression, last))
            time.sleep(interval)

    def text(self, selector):
        """The textContent of the first element matching `selector` (None if there is none)."""
        return self.evaluate("(e => e ? e.textContent : null)(document.querySelector(%s))" % json.dumps(selector))

    def focus(self, selector):
        if not self.evaluate("(e => e ? (e.focus(), document.activeElement === e) : false)(document.querySelector(%s))"
                             % json.dumps(selector)):
            raise CdpError("cannot focus %s" % selector)

    def type(self, selector, text, clear=True):
        """Focuses a field and types into it as a keyboard would (Input.insertText)."""
        self.focus(selector)
        if clear:
            self.evaluate("document.querySelector(%s).select && document.querySelector(%s).select()"
                          % (json.dumps(selector), json.dumps(selector)))
        self.call("Input.insertText", {"text": text})

    KEYS = {"Enter": (13, "\r"), "ArrowUp": (38, None), "ArrowDown": (40, None), "Escape": (27, None),
            "Tab": (9, None)}

    def press(self, key):
        """A key press (keyDown, keyUp) on the focused element."""
        code, text = self.KEYS[key]
        down = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": key,
                "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
        if text:
            down["text"] = down["unmodifiedText"] = text
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": key,
                                             "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code})

    def click(self, selector):
        """A left click in the middle of the element (scrolled into view first)."""
        box = self.evaluate("""(e => {
            if (!e) return null;
            e.scrollIntoView({block: "center", inline: "center"});
            const r = e.getBoundingClientRect();
            return {x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height};
        })(document.querySelector(%s))""" % json.dumps(selector))
        if not box or not box["w"] or not box["h"]:
            raise CdpError("nothing to click at %s" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left",
                                                   "clickCount": 0 if kind == "mouseMoved" else 1})

    def select(self, selector, value):
        """Chooses an option of a <select> (as the user would; the page sees a change event)."""
        ok = self.evaluate("""(e => {
            if (!e || ![...e.options].some(o => o.value === %s)) return false;
            e.focus(); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true}));
            e.dispatchEvent(new Event("change", {bubbles: true})); return true;
        })(document.querySelector(%s))""" % (json.dumps(value), json.dumps(value), json.dumps(selector)))
        if not ok:
            raise CdpError("%s has no option %r" % (selector, value))

    def screenshot(self, path, full_page=True):
        """Saves a PNG of the page (all of it with full_page) and returns its bytes."""
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(self.call("Page.captureScreenshot", params, timeout=60)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def errors(self):
        """What went wrong in the page: uncaught exceptions, console errors, error log entries."""
        out = []
        for e in self.events("Runtime.exceptionThrown"):
            d = e.get("exceptionDetails", {})
            out.append("exception: %s" % (d.get("exception", {}).get("description") or d.get("text")))
        for e in self.events("Runtime.consoleAPICalled"):
            if e.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (e["type"], " ".join(str(a.get("value", a.get("description")))
                                                                    for a in e.get("args", []))))
        for e in self.events("Log.entryAdded"):
            entry = e.get("entry", {})
            if entry.get("level") == "error":
                out.append("log: %s %s" % (entry.get("text"), entry.get("url", "")))
        return out

    def requested_urls(self):
        """Every URL the page asked for: HTTP requests and WebSockets."""
        urls = [e["request"]["url"] for e in self.events("Network.requestWillBeSent")]
        urls += [e["url"] for e in self.events("Network.webSocketCreated")]
        return urls
