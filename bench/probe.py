"""One function's memory, in an interpreter of its own (run by ``bench.memory``).

``python -m bench.probe SPEC RESULT``: imports the handler named in SPEC (a JSON file) as
Lambda would, invokes it with each of SPEC's events in turn, and writes RESULT (JSON):

- ``rss_import_kb``: the process's peak resident set (VmHWM) after the import;
- ``rss_warm_kb``: the peak after the second (warm) invocation: what Lambda reports as
  "Max Memory Used" for a sandbox that has served two requests;
- ``heap_peak_bytes``: the peak of Python allocations during the third invocation
  (``tracemalloc``, started right before it, so it counts that invocation only; not used for
  the RSS figure, since tracing allocations takes memory of its own).

Nothing here but the standard library and the handler, so the figures are the handler's.
"""

import importlib.util
import json
import os
import resource
import sys
import time
import tracemalloc
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Context:
    """What the Lambda service passes as ``context``."""

    function_name: str
    timeout_seconds: float
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/bench"
    log_stream_name: str = "bench"
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def _max_rss_kb() -> int:
    """This process's peak resident set. On Linux, VmHWM: ``ru_maxrss`` would carry over the
    parent's peak through fork and exec, and the parent holds moto with all its data."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes there, KB on Linux


def _outcome(answer: Any) -> str:
    if isinstance(answer, dict) and "statusCode" in answer:
        return str(answer["statusCode"])
    if isinstance(answer, dict) and "batchItemFailures" in answer:
        return f"{len(answer['batchItemFailures'])} failed"
    if isinstance(answer, dict) and "completed" in answer:
        return f"{answer['completed']} completed"
    return type(answer).__name__


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    # The handlers log and print metrics to stdout; keep them out of the bench's output.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    loaded = importlib.util.spec_from_file_location("lambda_function", spec["path"])
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    sys.modules[loaded.name] = module
    loaded.loader.exec_module(module)
    handler = getattr(module, spec["attribute"])
    result: dict[str, Any] = {"rss_import_kb": _max_rss_kb(), "outcomes": []}

    travel = None
    for n, event in enumerate(spec["events"]):
        advance = spec.get("advance_seconds", [0] * len(spec["events"]))[n]
        if advance:
            # Imported only when a probe moves time, as the local stack does: the functions'
            # clock, replaced from outside.
            from local import time_travel

            travel = travel or time_travel.install()
            travel.advance(advance)
        context = Context(spec["function"], spec["timeout"], spec["memory_mb"])
        if n == 2:
            tracemalloc.start()
        started = time.perf_counter()
        answer = handler(event, context)
        result.setdefault("seconds", []).append(time.perf_counter() - started)
        if n == 2:
            result["heap_peak_bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if n == 1:
            result["rss_warm_kb"] = _max_rss_kb()
        result["outcomes"].append(_outcome(answer))
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
