#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_api (fuzz/corpus/fuzz_api/): a few valid inputs per layer, so that the
fuzzer starts from requests that get past the parsers instead of having to discover HTTP, multipart and
JWTs byte by byte. The first byte of each seed picks the layer (see fuzz/fuzz_api.cc). Tokens are signed
with the harness's fixed secret and expire in 2100, so the seeds stay valid.

    fuzz/make_api_corpus.py            # rewrites fuzz/corpus/fuzz_api/
"""
import base64
import hashlib
import hmac
import json
import pathlib

SECRET = b"fuzz-secret-that-is-at-least-32-bytes-long"  # api_app_harness.cc, fuzz_api.cc
EXP_2100 = 4102444800
OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "fuzz_api"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(payload: dict, header=None) -> str:
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
    sig = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def request(method: str, target: str, headers=(), body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8080", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"p" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"j" * 24
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"w" * 24
USER_TOKEN = token({"sub": "user_1", "exp": EXP_2100})
BEARER = "Authorization: Bearer " + USER_TOKEN
TASK = json.dumps({"mode": "HEAD_SWAP", "priority": 5, "config": {"background": "beach"}}).encode()
TASK_WITH_IMAGE = json.dumps({"mode": "POSE_CHANGE", "source_image": "img_20231117_abc", "max_retries": 1,
                              "timeout_ms": 60000, "config": {"mask": "img_20231117_def"}}).encode()
# Tasks the harness creates with these ids (api_app_harness.cc), owned by USER_TOKEN's subject.
PENDING = "task_20231117_000000fuzzpending"
DONE = "task_20231117_000000fuzzdone"


def multipart(boundary: str, name: str, filename: str, ctype: str, data: bytes) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()


def http_seeds(extra: list) -> dict:
    mp = multipart("XyZ", "file", "face.png", "image/png", PNG)
    return {
        "get-task": request("GET", f"/api/v1/tasks/{DONE}", extra),
        "submit-huge-number": request("POST", "/api/v1/tasks",  # was a 500 (routes_tasks.cc)
                                      extra + ["Content-Type: application/json"], b'{"mode":"HEAD_SWAP","priority":1e999}'),
        "submit-image": request("POST", "/api/v1/tasks", extra + ["Content-Type: application/json"],
                                TASK_WITH_IMAGE),
        "submit": request("POST", "/api/v1/tasks", extra + ["Content-Type: application/json"], TASK),
        "list": request("GET", "/api/v1/tasks?page=1&page_size=20&status=pending&mode=HEAD_SWAP", extra),
        "stats-then-cancel": request("GET", "/api/v1/tasks/stats", extra)
        + request("POST", f"/api/v1/tasks/{PENDING}/cancel", extra + ["Connection: close"]),
        "upload-multipart": request("POST", "/api/v1/files",
                                    extra + ["Content-Type: multipart/form-data; boundary=XyZ"], mp),
        "upload-raw": request("POST", "/api/v1/files",
                              extra + ["Content-Type: image/jpeg", 'Content-Disposition: inline; filename="a.jpg"'],
                              JPEG),
        "upload-name-not-utf8": request("POST", "/api/v1/files",  # was a 500 (file_store.cc)
                                        extra + ["Content-Type: image/png"], PNG).replace(
            b"Content-Type: image/png", b'Content-Type: image/png\r\nContent-Disposition: inline; filename="a\xff.png"'),
        "file-info": request("GET", "/api/v1/files/img_20231117_abc/info", extra),
        "output": request("GET", f"/api/v1/tasks/{DONE}/outputs/dir/b.png", extra)
        + request("GET", f"/api/v1/tasks/{DONE}/outputs/a%2Epng", extra),
        "preflight": request("OPTIONS", "/api/v1/tasks",
                             ["Origin: https://formy.example", "Access-Control-Request-Method: POST"]),
        "websocket": request("GET", f"/api/v1/tasks/{PENDING}/ws?token=" + USER_TOKEN,
                             ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Origin: http://127.0.0.1:8080"]),
        "system": request("GET", "/healthz") + request("HEAD", "/readyz") + request("GET", "/metrics"),
        "dashboard": request("GET", "/", ['If-None-Match: "0"']),
        "not-a-path": request("GET", "?metrics") + request("OPTIONS", "*"),  # was a 500 (static_files.cc)
        # Issue 17: 70 000 '[' crashed the server (a recursive dump); deeper than 64 levels must be a 400.
        "submit-deep-nesting": request("POST", "/api/v1/tasks", extra + ["Content-Type: application/json"],
                                       b'{"mode":"HEAD_SWAP","config":{"a":' + b"[" * 2000 + b"]" * 2000 + b"}}"),
        "submit-deep-unclosed": request("POST", "/api/v1/tasks", extra + ["Content-Type: application/json"],
                                        b"[{" * 1000),
        # Issue 17: a Transfer-Encoding not ending in chunked must be a 400, not a body and a second request.
        "te-not-chunked": b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n"
                          + ("\r\n".join(extra) + "\r\n" if extra else "").encode()
                          + f"Content-Length: {len(TASK)}\r\n\r\n".encode() + TASK + request("GET", "/healthz"),
        "upload-cross-origin": request("POST", "/api/v1/files", extra + [
            "Origin: https://evil.example", "Content-Type: multipart/form-data; boundary=XyZ"], mp),
        "chunked": b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   + ("\r\n".join(extra) + "\r\n" if extra else "").encode()
                   + b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
                   + f"{len(TASK):x}\r\n".encode() + TASK + b"\r\n0\r\n\r\n",
    }


def seeds() -> dict:
    s = {
        "multipart": b"0XyZ\n" + b"preamble\r\n" + multipart("XyZ", "file", "a.png", "image/png", PNG),
        "multipart-lf": b"0b\n--b\nContent-Disposition: form-data; name=x\n\nhello\n--b\nContent-Disposition: "
                        b"form-data; name=\"file\"; filename=\"w.webp\"\n\n" + WEBP + b"\n--b--",
        "query": b"1page=1&page_size=20&status=pending&mode=HEAD%5FSWAP&token=a+b&&flag",
        "media-type": b'2multipart/form-data; boundary="----WebKitFormBoundary7MA4 \\"x"; charset=utf-8',
        "jwt-valid": b"3" + USER_TOKEN.encode(),
        "jwt-alg-none": b"3" + (b64url(b'{"alg":"none"}') + "." + b64url(b'{"sub":"a","exp":1}') + ".").encode(),
        "jwt-claims": b'4{"alg":"HS256","typ":"JWT"}\n{"sub":"auth0|5f0c","exp":4102444800,"nbf":1700000000.5,'
                      b'"iss":"https://auth.formy.example","aud":["other","wasmq"]}',
        "jwt-claims-bad": b'4{"alg":"HS256","crit":["x"]}\n{"sub":"../x","exp":"soon"}',
        "jwt-claims-deep": b'4{"alg":"HS256","x":' + b"[" * 500 + b"]" * 500 + b'}\n{"sub":"a","exp":4102444800}',
        "magic-png": b"5" + PNG,
        "magic-name": b'5text/html; charset=utf-8\ndir/a b".HTML',
        "route-pattern": b"6/api/v1/tasks/{id}/outputs/{path...}\n/api/v1/tasks/task_1/outputs/a%20b/c.png",
        "route-method": b"6HEAD\n/api/v1/tasks/stats",
    }
    for name, body in http_seeds([]).items():
        s["http-" + name] = b"7" + body
    for name, body in http_seeds([BEARER, "Origin: https://formy.example"]).items():
        s["http-auth-" + name] = b"8" + body
    return s


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, data in seeds().items():
        (OUT / name).write_bytes(data)
    print(f"{len(seeds())} seeds in {OUT}")


if __name__ == "__main__":
    main()
