"""An SMTP server on loopback that keeps every message it accepts in a Maildir.

aiosmtpd does the protocol; this adds a Maildir and, for fault tests, a pause
between keeping a message and answering 250, so a sender killed in that window
has delivered a message it never heard was accepted.
"""

import argparse
import asyncio
import mailbox
import signal
import threading

from aiosmtpd.controller import Controller


class MaildirSink:
    def __init__(self, folder, pause_seconds):
        self.maildir = mailbox.Maildir(folder, create=True)
        self.pause_seconds = pause_seconds
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.maildir.add(envelope.original_content)
        if self.pause_seconds:
            await asyncio.sleep(self.pause_seconds)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--pause-ms", type=int, default=0)
    arguments = parser.parse_args()
    sink = MaildirSink(arguments.maildir, arguments.pause_ms / 1000)
    controller = Controller(sink, hostname="127.0.0.1", port=arguments.port)
    controller.start()
    print(f"smtp sink listening on 127.0.0.1:{arguments.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
