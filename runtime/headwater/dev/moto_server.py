"""The dev stack's moto server: moto's own ``moto.server``, with its request recorder made
safe for concurrent requests.

moto serves requests on several threads and its recorder appends each request (body
included, base64) to the recording with a buffered ``write``: a line longer than the buffer
goes out in several system calls, which another thread's line can land between, and the
replay then meets a broken line and loses that request. One lock around each append keeps
every line whole.
"""

from __future__ import annotations

import threading

from moto import server
from moto.moto_api._internal.recorder.models import Recorder

_append_lock = threading.Lock()
_record_request = Recorder._record_request


def _record_request_whole(self: Recorder, request, body=None) -> None:
    with _append_lock:
        _record_request(self, request, body)


Recorder._record_request = _record_request_whole

if __name__ == "__main__":
    server.main()
