"""A minimal WebSocket client (RFC 6455) on the standard library, for tests."""
import base64
import os
import socket
import struct


class WebSocket:
    def __init__(self, url_host, port, path, timeout=10):
        self.sock = socket.create_connection((url_host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n") % (path, url_host, port, key)
        self.sock.sendall(request.encode())
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.response_head = head.decode(errors="replace")

    def _read_until(self, marker):
        while marker not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self):
        """The next text message (str); None when the server closes."""
        while True:
            b0, b1 = self._read_exact(2)
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read_exact(8))[0]
            if b1 & 0x80:
                mask = self._read_exact(4)
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(self._read_exact(length)))
            else:
                data = self._read_exact(length)
            if opcode == 0x8:
                return None
            if opcode == 0x9:  # ping: answer with pong
                self._send(0xA, data)
                continue
            if opcode in (0x1, 0x0):
                # A message may come in fragments: gather them until FIN.
                self.partial = getattr(self, "partial", b"") + data
                if b0 & 0x80:
                    message, self.partial = self.partial, b""
                    return message.decode()

    def _send(self, opcode, payload):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text):
        self._send(0x1, text.encode())

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
