"""Output: lines to the sink in order and while running, every byte in the log, a bounded tail."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.execution.conftest import Sink, collect, job, run_one, wait_for
from uet.execution import OUTPUT_LINE_MAX_BYTES, OUTPUT_TAIL_BYTES, Finished, LocalExecutor
from uet.execution.output import OutputStream
from uet.states import AttemptState

PY = sys.executable


def test_lines_reach_the_sink_in_order_and_the_log_has_every_byte(
    executor: LocalExecutor, sink: Sink, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "run-1" / "task.log"  # folders created on demand
    outcome = run_one(executor, job(1, "seq 1 20000", log_path=log))
    expected = [str(n) for n in range(1, 20001)]
    assert outcome.state is AttemptState.SUCCEEDED
    assert sink.lines(1) == expected
    assert log.read_text() == "\n".join(expected) + "\n"


def test_stdout_and_stderr_share_one_stream_in_order(executor: LocalExecutor, sink: Sink) -> None:
    run_one(executor, job(1, "echo one; echo two >&2; echo three"))
    assert sink.lines(1) == ["one", "two", "three"]


def test_a_last_line_without_newline_is_a_line(
    executor: LocalExecutor, sink: Sink, tmp_path: Path
) -> None:
    log = tmp_path / "task.log"
    outcome = run_one(executor, job(1, "printf 'first\\nlast'", log_path=log))
    assert sink.lines(1) == ["first", "last"]
    assert log.read_bytes() == b"first\nlast"
    assert outcome.output_tail == "first\nlast"


def test_the_log_file_is_appended_to(executor: LocalExecutor, tmp_path: Path) -> None:
    """A retry writes after the previous attempt's output instead of replacing it."""
    log = tmp_path / "task.log"
    run_one(executor, job(1, "echo attempt 1", log_path=log))
    run_one(executor, job(2, "echo attempt 2", log_path=log))
    assert log.read_text() == "attempt 1\nattempt 2\n"


def test_a_long_line_is_cut_into_pieces(
    executor: LocalExecutor, sink: Sink, tmp_path: Path
) -> None:
    size = 3 * OUTPUT_LINE_MAX_BYTES + 100
    log = tmp_path / "task.log"
    code = f"import sys; sys.stdout.write('x' * {size} + '\\nend\\n')"
    run_one(executor, job(1, argv=[PY, "-c", code], log_path=log))
    lines = sink.lines(1)
    assert lines[-1] == "end"
    assert [len(piece) for piece in lines[:-1]] == [OUTPUT_LINE_MAX_BYTES] * 3 + [100]
    assert log.stat().st_size == size + len("\nend\n")


def test_invalid_utf8_is_replaced(executor: LocalExecutor, sink: Sink) -> None:
    run_one(executor, job(1, "printf 'caf\\303\\251 \\377ok\\n'"))
    assert sink.lines(1) == ["café \ufffdok"]


def test_the_tail_is_bounded_and_ends_with_the_last_output(executor: LocalExecutor) -> None:
    outcome = run_one(executor, job(1, "seq 1 100000"))
    assert len(outcome.output_tail.encode()) <= OUTPUT_TAIL_BYTES
    assert outcome.output_tail.endswith("99999\n100000\n")


def test_lines_arrive_while_the_job_is_still_running(
    executor: LocalExecutor, sink: Sink, tmp_path: Path
) -> None:
    """The job waits for a file that the test creates only after the sink saw its first line."""
    marker = tmp_path / "go"
    executor.submit(
        job(1, f"echo first; while [ ! -e {marker} ]; do sleep 0.01; done; echo second")
    )
    wait_for(lambda: sink.lines(1) == ["first"], "the first line")
    marker.touch()
    reports = collect(executor, 1)
    assert isinstance(reports[-1], Finished)
    assert sink.lines(1) == ["first", "second"]


def test_a_failing_sink_does_not_stop_the_job() -> None:
    def broken(attempt_id: int, lines: object) -> None:
        raise RuntimeError("sink down")

    with LocalExecutor(output=broken) as executor:
        outcome = run_one(executor, job(1, "echo hello"))
    assert outcome.state is AttemptState.SUCCEEDED
    assert outcome.output_tail == "hello\n"


# -- OutputStream on its own: chunk boundaries the kernel would rarely produce on demand --------


def test_stream_joins_lines_split_across_chunks() -> None:
    stream = OutputStream(None)
    for chunk in (b"al", b"pha\nbe", b"ta\n\ngam", b"ma"):
        stream.feed(chunk)
    stream.finish()
    assert stream.take() == ["alpha", "beta", "", "gamma"]


def test_stream_cuts_a_long_partial_line_without_splitting_a_character() -> None:
    stream = OutputStream(None)
    text = ("é" * OUTPUT_LINE_MAX_BYTES).encode()  # two bytes each
    stream.feed(text[:100_000])
    stream.feed(text[100_000:] + b"\n")
    pieces = stream.take()
    assert "".join(pieces) == "é" * OUTPUT_LINE_MAX_BYTES
    assert all(len(piece.encode()) <= OUTPUT_LINE_MAX_BYTES for piece in pieces)
    assert "\ufffd" not in "".join(pieces)


def test_stream_tail_drops_a_character_cut_in_half() -> None:
    stream = OutputStream(None)
    stream.feed(("é" * OUTPUT_TAIL_BYTES).encode())
    tail = stream.tail()
    assert tail == "é" * (OUTPUT_TAIL_BYTES // 2)


def test_two_streams_sharing_a_log_never_glue_a_prompt_to_the_other_streams_line(
    tmp_path: Path,
) -> None:
    """A passthrough job's stdout and stderr append to one log in whole lines: a prompt
    without a newline on stderr waits for its end, whatever order the pipes are read in."""
    log = tmp_path / "job.log"
    out = OutputStream(log, whole_lines=True)
    err = OutputStream(log, tail=out._tail, whole_lines=True)
    out.feed(b"out1\n")
    err.feed(b"Password: ")  # read before stdout's next line, as a busy machine may
    out.feed(b"out2\nout")
    err.feed(b"\nagain: ")
    out.feed(b"3\n")
    long = b"x" * (OUTPUT_LINE_MAX_BYTES + 1)
    err.feed(long)  # too long to hold: written as it is
    for stream in (out, err):
        stream.finish()
        stream.close()
    lines = log.read_bytes().split(b"\n")
    assert lines == [b"out1", b"out2", b"Password: ", b"out3", b"again: " + long]
    size = log.stat().st_size
    err.close()  # closing twice writes nothing more
    assert log.stat().st_size == size
