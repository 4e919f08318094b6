"""A real S3 API on localhost for tests and benchmarks: `moto_server` started as a process, and a
small HTTP proxy in front of it that adds a delay to every request, counts them and can drop
connections (what a slow or flaky network does to a reader)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
REFUSED_KEY_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key '
    b"Id you provided does not exist in our records.</Message></Error>"
)
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """`moto_server` on a free port of localhost, stopped by `stop()`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        moto = Path(sys.executable).with_name("moto_server")
        command = [str(moto)] if moto.exists() else [sys.executable, "-m", "moto.server"]
        self.process = subprocess.Popen(
            command + ["-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.05)

    def client(self):
        """A boto3 S3 client talking to the server directly (not through the proxy)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def objects(self, bucket: str) -> dict[str, str]:
        """Every key of `bucket` with its ETag: what a reading command must leave as it is."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class SlowProxy:
    """An HTTP proxy to `upstream` adding `delay_s` to every request; `requests` counts them,
    `log` lists each as "METHOD path [Range]" (what a test or a benchmark shows when a count
    grows), and `drop_next` closes that many connections without an answer."""

    def __init__(self, upstream: str, delay_s: float = 0.05) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.delay_s = delay_s
        self.requests = 0
        self.log: list[str] = []
        self.times: list[float] = []  # time.perf_counter() at each request of `log`
        self.drop_next = 0
        self.refused_key = "refused-key"  # requests signed with this access key id get S3's 403
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _count(self, request: str) -> bool:
        """Count one request; True when it is to be dropped."""
        with self._lock:
            self.requests += 1
            self.log.append(request)
            self.times.append(time.perf_counter())
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return False

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = " ".join(filter(None, (self.command, self.path, self.headers.get("Range"))))
                refused = proxy.refused_key and f"Credential={proxy.refused_key}/" in self.headers.get("Authorization", "")
                if refused:  # what S3 answers for an access key it does not know (moto checks none)
                    proxy._count(request)
                    self._answer(403, REFUSED_KEY_XML if self.command != "HEAD" else b"")
                    return
                if proxy._count(request):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                time.sleep(proxy.delay_s)
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                head = self.command == "HEAD"  # its Content-Length is the object's, and it has no body
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS and (head or key.lower() != "content-length"):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)
                upstream.close()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def s3_environment(endpoint: str) -> dict[str, str]:
    """The standard AWS variables that point boto/s3fs (in this process or a child) at `endpoint`."""
    env = dict(KEYS, AWS_ENDPOINT_URL=endpoint)
    env["AWS_MAX_ATTEMPTS"] = "2"  # botocore's own retries; ours come on top
    return env


def upload_folder(server: MotoServer, folder: Path, bucket: str, prefix: str) -> None:
    """Every file under `folder` as objects `prefix/<relative path>` of `bucket` (made if new)."""
    client = server.client()
    if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=bucket)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
