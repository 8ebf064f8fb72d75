"""A local mail server speaking just enough SMTP for :mod:`smtplib` (no TLS, no auth).

It records each session and message, and can drop every open connection, as a real server does
to a client idle past its timeout.
"""

import socket
import socketserver
import threading


class FakeSMTP:
    def __init__(self) -> None:
        self.sessions = 0
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse: set[str] = set()
        """Recipients refused with a permanent error (550), like an address that does not exist."""
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeSMTP":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop_all()
        self.server.shutdown()
        self.server.server_close()

    def drop_all(self) -> None:
        with self._lock:
            for sock in self._open:
                sock.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def _handler(self) -> type[socketserver.StreamRequestHandler]:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with fake._lock:
                    fake.sessions += 1
                    fake._open.add(self.connection)
                recipients: list[str] = []
                self.wfile.write(b"220 fake ESMTP\r\n")
                for line in self.rfile:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        reply = b"250 fake\r\n"
                    elif verb == b"MAIL":
                        recipients = []
                        reply = b"250 OK\r\n"
                    elif verb == b"RCPT":
                        recipient = line.decode().partition(":")[2].strip(" <>\r\n")
                        if recipient in fake.refuse:
                            reply = b"550 No such user\r\n"
                        else:
                            recipients.append(recipient)
                            reply = b"250 OK\r\n"
                    elif verb == b"DATA":
                        self.wfile.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        data = b""
                        for body_line in self.rfile:
                            if body_line == b".\r\n":
                                break
                            data += body_line
                        with fake._lock:
                            fake.messages.append((recipients, data))
                        reply = b"250 OK\r\n"
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 Bye\r\n")
                        break
                    else:  # RSET, NOOP
                        reply = b"250 OK\r\n"
                    self.wfile.write(reply)
                with fake._lock:
                    fake._open.discard(self.connection)

        return Handler
