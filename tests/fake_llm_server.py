"""A local stand-in for the OpenAI and Anthropic APIs, for tests and benchmarks.

It speaks enough of both wire protocols for the official SDKs pointed at it with
``base_url``: OpenAI ``POST /v1/chat/completions``, ``/v1/files``, ``/v1/batches``,
``GET /v1/batches/{id}``, ``/v1/files/{id}/content``; Anthropic ``POST /v1/messages``,
``/v1/messages/batches``, ``GET /v1/messages/batches/{id}`` and ``.../results``.
Behaviour is scriptable (errors with Retry-After, 401 that echoes the key like a real
server might, slow responses, invalid output) and every request is logged.

    with FakeLLMServer(latency=0.3) as server:
        server.script(Fail(429, retry_after=1))       # the next model call gets this
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Responder = Callable[[str, dict[str, Any]], Any]


@dataclass
class Fail:
    """Answer a model call with an error status (and a Retry-After header if given)."""

    status: int
    retry_after: float | None = None
    echo_key: bool = False  # quote the key in the error message whatever the status, as some servers do


@dataclass
class Slow:
    """Answer a model call only after ``seconds`` (to trip the client's timeout)."""

    seconds: float


@dataclass
class Garbage:
    """Answer a model call with this text instead of the structured output."""

    text: str = "Sure! Here are some examples: (not JSON)"


@dataclass
class Logged:
    method: str
    path: str
    body: Any
    started: float
    finished: float = 0.0
    status: int = 0

    @property
    def is_model_call(self) -> bool:
        return self.method == "POST" and self.path in ("/v1/chat/completions", "/v1/messages")


def prompt_of(provider: str, body: dict[str, Any]) -> str:
    """The last user message's text in a request of either provider."""
    user = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = user[-1]["content"] if user else ""
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def default_responder(provider: str, body: dict[str, Any]) -> Any:
    """A valid answer for dataprep's synthetic-examples schema, unique per request."""
    tag = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]
    return {"examples": [{"why": f"a made-up edge case {tag}", "messages": [
        {"role": "user", "content": f"synthetic question {tag}?", "tool_calls": None, "tool_call_id": None},
        {"role": "assistant", "content": f"synthetic answer {tag}.", "tool_calls": None, "tool_call_id": None},
    ]}]}


def answering_every_request(quote: str = "") -> Callable[[str, dict[str, Any]], Any]:
    """A responder for every request dataprep makes: the flag judge, the dedup judge, the knowledge
    probe (a free answer) and synth. Verdicts go either way by the request; ``quote`` is put in every
    string it answers with (a model saying what it should not: personal data, markup)."""
    def respond(provider: str, body: dict[str, Any]) -> Any:
        schema = schema_of(body) or (body.get("tool_choice") or {}).get("name")
        coin = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16) % 2 == 0
        if schema == "fact_heavy_verdict":
            return {"fact_heavy": coin, "unsupported_facts": [f"a fact {quote}"], "reason": f"a reason {quote}"}
        if schema == "same_answer_verdict":
            return {"same_answer": coin, "difference": f"a difference {quote}"}
        if schema is None:  # the knowledge probe's sample
            return f"I believe so. {quote}"
        answer = default_responder(provider, body)
        for example in answer["examples"]:
            for message in example["messages"]:
                message["content"] += f" {quote}"
        return answer
    return respond


def schema_of(body: dict[str, Any]) -> str | None:
    """The structured answer an OpenAI request asks for (None: a free answer)."""
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name")


def _tokens(value: Any) -> int:
    """About four characters a token: the usual rule of thumb."""
    return max(1, len(json.dumps(value)) // 4)


def _id(body: dict[str, Any]) -> str:
    """Ids derived from the request, so recorded responses are the same on every rebuild."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


def openai_completion(body: dict[str, Any], answer: Any) -> dict[str, Any]:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    prompt, output = _tokens(body.get("messages")), _tokens(text)
    return {"id": f"chatcmpl-{_id(body)}", "object": "chat.completion", "created": 1700000000, "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text, "refusal": None}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}}


def anthropic_message(body: dict[str, Any], answer: Any) -> dict[str, Any]:
    if isinstance(answer, str):
        content, stop = [{"type": "text", "text": answer}], "end_turn"
    else:
        tool = (body.get("tool_choice") or {}).get("name", "output")
        content, stop = [{"type": "tool_use", "id": f"toolu_{_id(body)}", "name": tool, "input": answer}], "tool_use"
    return {"id": f"msg_{_id(body)}", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": _tokens(body.get("messages")) + _tokens(body.get("system", "")),
                      "output_tokens": _tokens(content)}}


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


@dataclass
class FakeLLMServer:
    latency: float = 0.0
    responder: Responder = default_responder
    batch_polls: int = 1            # polls that still see a batch in progress
    fail_batches: int = 0           # this many OpenAI batches end "failed" (e.g. a malformed input file)
    always: Fail | None = None      # answer every model call with this error (e.g. a bad key)
    requests: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: list[Fail | Slow | Garbage] = []
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.openai_url = f"{self.url}/v1"
        self.anthropic_url = self.url  # the Anthropic SDK adds /v1 itself

    # -- control ----------------------------------------------------------------------------------
    def start(self) -> "FakeLLMServer":
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def script(self, *behaviours: Fail | Slow | Garbage) -> None:
        """The next model calls get these behaviours, one each, in order."""
        with self._lock:
            self._script.extend(behaviours)

    def model_calls(self) -> list[Logged]:
        return [r for r in self.requests if r.is_model_call]

    def next_serial(self) -> int:
        return next(self._serial)

    def next_behaviour(self) -> Fail | Slow | Garbage | None:
        with self._lock:
            return self._script.pop(0) if self._script else self.always

    # -- model calls ------------------------------------------------------------------------------
    def answer(self, provider: str, body: dict[str, Any], behaviour: Any = None) -> dict[str, Any]:
        answer = behaviour.text if isinstance(behaviour, Garbage) else self.responder(provider, body)
        shape = openai_completion if provider == "openai" else anthropic_message
        return shape(body, answer)

    # -- batches: done after ``batch_polls`` polls; results computed by the responder ----------------
    def create_openai_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"batch_{self.next_serial()}"
        lines = [json.loads(line) for line in self.files[request["input_file_id"]].decode().splitlines() if line.strip()]
        self.batches[batch_id] = {"provider": "openai", "lines": lines, "polls": 0,
                                  "object": {"id": batch_id, "object": "batch", "endpoint": request["endpoint"],
                                             "input_file_id": request["input_file_id"], "completion_window": "24h",
                                             "status": "validating", "created_at": 1700000000,
                                             "output_file_id": None, "error_file_id": None,
                                             "request_counts": {"total": len(lines), "completed": 0, "failed": 0}}}
        return self.batches[batch_id]["object"]

    def create_anthropic_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"msgbatch_{self.next_serial()}"
        self.batches[batch_id] = {"provider": "anthropic", "lines": request["requests"], "polls": 0, "object": {
            "id": batch_id, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": len(request["requests"]), "succeeded": 0, "errored": 0, "canceled": 0,
                               "expired": 0},
            "created_at": "2025-01-01T00:00:00Z", "expires_at": "2025-01-02T00:00:00Z", "ended_at": None,
            "cancel_initiated_at": None, "archived_at": None, "results_url": None}}
        return self.batches[batch_id]["object"]

    def poll_batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        batch["polls"] += 1
        if batch["polls"] > self.batch_polls and "results" not in batch:
            self._finish(batch_id, batch)
        return batch["object"]

    def _finish(self, batch_id: str, batch: dict[str, Any]) -> None:
        if batch["provider"] == "openai" and self.fail_batches:
            self.fail_batches -= 1
            batch["object"].update(status="failed", errors={"object": "list", "data": [
                {"code": "invalid_json_line", "message": "line 1 is not valid JSON", "line": 1, "param": None}]})
            batch["results"] = []
            return
        if batch["provider"] == "openai":
            results = [{"id": f"batch_req_{self.next_serial()}", "custom_id": line["custom_id"], "error": None,
                        "response": {"status_code": 200, "request_id": "req", "body": self.answer("openai", line["body"])}}
                       for line in batch["lines"]]
            file_id = f"file-{self.next_serial()}"
            self.files[file_id] = "".join(json.dumps(r) + "\n" for r in results).encode()
            batch["object"].update(status="completed", output_file_id=file_id,
                                   request_counts={"total": len(results), "completed": len(results), "failed": 0})
        else:
            results = [{"custom_id": line["custom_id"],
                        "result": {"type": "succeeded", "message": self.answer("anthropic", line["params"])}}
                       for line in batch["lines"]]
            batch["object"].update(processing_status="ended", ended_at="2025-01-01T01:00:00Z",
                                   results_url=f"{self.url}/v1/messages/batches/{batch_id}/results")
        batch["results"] = results


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # hundreds of concurrent connects must not overflow the listen backlog


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        is_json = (self.headers.get("content-type") or "").startswith("application/json")
        entry = Logged(method, self.path.split("?")[0], json.loads(raw) if is_json and raw else raw, time.time())
        with self.fake._lock:
            self.fake.requests.append(entry)
        try:
            status, payload, headers = self._route(entry)
        except (KeyError, IndexError) as exc:
            status, payload, headers = 404, {"error": {"message": f"no such thing: {exc}"}}, {}
        try:
            self._send(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
            pass
        entry.status, entry.finished = status, time.time()

    def _route(self, entry: Logged) -> tuple[int, Any, dict[str, str]]:
        fake, path = self.fake, entry.path
        if entry.is_model_call:
            return self._model_call("openai" if path == "/v1/chat/completions" else "anthropic", entry.body)
        if path == "/v1/files":
            return 200, self._upload(entry.body), {}
        if path == "/v1/batches":
            return 200, fake.create_openai_batch(entry.body), {}
        if path == "/v1/messages/batches":
            return 200, fake.create_anthropic_batch(entry.body), {}
        parts = path.strip("/").split("/")
        if path.startswith("/v1/files/") and parts[-1] == "content":
            return 200, fake.files[parts[2]], {"content-type": "application/octet-stream"}
        if path.startswith("/v1/messages/batches/") and parts[-1] == "results":
            lines = fake.batches[parts[3]]["results"]
            return 200, "".join(json.dumps(line) + "\n" for line in lines).encode(), {"content-type": "application/binary"}
        if path.startswith(("/v1/batches/", "/v1/messages/batches/")):
            return 200, fake.poll_batch(parts[-1]), {}
        return 404, {"error": {"message": f"unknown path {path}"}}, {}

    def _model_call(self, provider: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        behaviour = self.fake.next_behaviour()
        time.sleep(behaviour.seconds if isinstance(behaviour, Slow) else self.fake.latency)
        if isinstance(behaviour, Fail):
            return self._error(provider, behaviour)
        return 200, self.fake.answer(provider, body, behaviour), {}

    def _error(self, provider: str, fail: Fail) -> tuple[int, Any, dict[str, str]]:
        key = (self.headers.get("authorization") or "").removeprefix("Bearer ") or self.headers.get("x-api-key", "")
        # Like a real server, a 401 may quote the key it got: the client must never repeat it.
        message = (f"Incorrect API key provided: {key}" if fail.status == 401 or fail.echo_key
                   else f"scripted failure {fail.status}")
        kind = ERROR_TYPES.get(fail.status, "api_error")
        payload = ({"error": {"message": message, "type": kind, "param": None, "code": None}} if provider == "openai"
                   else {"type": "error", "error": {"type": kind, "message": message}})
        headers = {} if fail.retry_after is None else {"retry-after": str(fail.retry_after)}
        return fail.status, payload, headers

    def _upload(self, raw: bytes) -> dict[str, Any]:
        form = BytesParser(policy=default_policy).parsebytes(
            b"content-type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + raw)
        upload = next(part for part in form.iter_parts() if part.get_filename())
        file_id = f"file-{self.fake.next_serial()}"
        self.fake.files[file_id] = upload.get_payload(decode=True)
        return {"id": file_id, "object": "file", "bytes": len(self.fake.files[file_id]), "created_at": 1700000000,
                "filename": upload.get_filename(), "purpose": "batch", "status": "processed"}

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", headers.pop("content-type", "application/json"))
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
