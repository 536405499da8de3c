#!/usr/bin/env python3
"""Runs the examples of README.md's ```console blocks and checks the answers shown under them.

Every `$ ` line of a ```console block is an example; the lines under it, up to the next `$ ` line, are
the output the README promises. Examples that talk to the server (curl to localhost:8080, or a tritonclient
script to its gRPC port localhost:8081) run against a server this script starts from --binary on free ports
(cwd: the repository root; `localhost:8080` and `localhost:8081` in the commands are rewritten to them); `deepserve inspect|run|bench` examples run with --binary in
place of `swift run -c release deepserve` / `deepserve`. Each runs with bash in a scratch folder that
links every top-level entry of the repository (so `@Tests/Fixtures/…` and `models/…` resolve) and
that is removed afterwards, with whatever the examples wrote into it (`-o digits.png`, `out/`).

An example passes when it exits 0 and its standard output matches the README:
  - `…` is a wildcard: inside a line or a JSON string any text, a line of its own any number of lines,
    in a JSON array any elements (`…16 values…`: exactly 16), in a JSON object any further keys, after a
    number the rest of its digits; `<base64 PNG>`-style placeholders match any text;
  - a line holding JSON (optionally after a prefix such as `data: `) is compared as JSON: objects
    without `…` must have exactly the keys shown, numbers agree to the last digit shown;
  - no output shown means none printed;
  - a file written with `-o FILE` must exist (and be a valid PNG if it is named .png), and
    `--output-dir DIR` must hold valid .npy files.
Prints PASS/FAIL/SKIP and the command for each example; exits 1 if any fails. Python stdlib only.

    python3 scripts/check-readme-examples.py [--binary .build/debug/deepserve] [--readme README.md]
                                             [--model-repository DIR]
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ELLIPSIS = "\u2026"
PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9 _.-]*>")  # <base64 PNG>, <model name>
SERVER_ADDRESS = re.compile(r"\b(localhost|127\.0\.0\.1):(8080|8081)\b")
CLI_PREFIX = re.compile(r"^(swift run -c release deepserve|deepserve)(?=\s|$)")
CLI_CHECKED = {"inspect", "run", "bench", "check-model"}   # cheap enough to run here (bench: a few seconds)
# Scripts of the repository that talk to the server the way a user would (the walkthrough's last step).
SERVER_SCRIPTS = ("python3 scripts/compare-with-onnxruntime.py",)


# ---------------------------------------------------------------------------------------------
# README parsing

class Example:
    def __init__(self, line, command, expected):
        self.line, self.command, self.expected = line, command, expected


def console_examples(text):
    """(line number, command, expected output lines) for every `$ ` line of every ```console block."""
    examples, block, lines = [], None, text.split("\n")
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if block is None:
            if stripped.startswith("```") and stripped[3:].strip() == "console":
                block = []
        elif stripped.startswith("```"):
            examples += _split_block(block)
            block = None
        else:
            block.append((i + 1, lines[i]))
        i += 1
    return examples


def _split_block(block):
    examples, current = [], None
    k = 0
    while k < len(block):
        number, line = block[k]
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\") and k + 1 < len(block):   # continuation lines
                k += 1
                command = command[:-1] + "\n" + block[k][1]
            current = Example(number, command, [])
            examples.append(current)
        elif current is not None:
            current.expected.append(line.rstrip())
        k += 1
    for example in examples:
        while example.expected and not example.expected[-1]:
            example.expected.pop()
    return examples


# ---------------------------------------------------------------------------------------------
# Text patterns: `…` and placeholders are wildcards

def text_regex(pattern):
    pieces = re.split("(" + ELLIPSIS + "|" + PLACEHOLDER.pattern + ")", pattern)
    regex = "".join(".*?" if (n % 2) else re.escape(piece) for n, piece in enumerate(pieces))
    return re.compile(regex, re.DOTALL)


def match_text_line(expected, actual):
    return None if text_regex(expected).fullmatch(actual) else "line differs"


# ---------------------------------------------------------------------------------------------
# JSON patterns: JSON with `…` in arrays, objects, strings and after numbers

class Wild:
    """`…` (count None) or `…16 values…` (count 16) in an array; `…` as a value."""
    def __init__(self, count=None):
        self.count = count


class Number:
    def __init__(self, literal, truncated):
        self.literal, self.truncated = literal, truncated
        self.value = float(literal)
        self.integer = not truncated and re.fullmatch(r"-?\d+", literal) is not None
        mantissa, _, exponent = literal.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        self.tolerance = 10.0 ** (-decimals + (int(exponent) if exponent else 0))


class StringPattern:
    def __init__(self, text):
        self.text = text
        self.regex = text_regex(text) if (ELLIPSIS in text or PLACEHOLDER.search(text)) else None


class ObjectPattern:
    def __init__(self, members, open_):
        self.members, self.open = members, open_


class PatternSyntaxError(ValueError):
    pass


class PatternParser:
    def __init__(self, text):
        self.text, self.pos = text, 0

    def parse(self):
        value = self.value()
        self.space()
        if self.pos != len(self.text):
            raise PatternSyntaxError(f"trailing text at {self.pos}")
        return value

    def space(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self):
        self.space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char):
        if self.peek() != char:
            raise PatternSyntaxError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def value(self):
        char = self.peek()
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            return StringPattern(self.string())
        if char == ELLIPSIS:
            return self.wild()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        found = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?").match(self.text, self.pos)
        if not found:
            raise PatternSyntaxError(f"unexpected text at {self.pos}")
        self.pos = found.end()
        truncated = self.text.startswith(ELLIPSIS, self.pos)
        if truncated:
            self.pos += 1
        return Number(found.group(), truncated)

    def wild(self):
        self.pos += 1   # the opening …
        close = self.text.find(ELLIPSIS, self.pos)
        label = self.text[self.pos:close] if close >= 0 else ""
        if close >= 0 and not re.search(r"[,\]\}\"\[\{]", label):   # `…16 values…`
            self.pos = close + 1
            count = re.match(r"\s*(\d+)", label)
            return Wild(int(count.group(1)) if count else None)
        return Wild()

    def string(self):
        found = re.compile(r'"(?:[^"\\]|\\.)*"').match(self.text, self.pos)
        if not found:
            raise PatternSyntaxError(f"bad string at {self.pos}")
        self.pos = found.end()
        return json.loads(found.group())

    def object(self):
        self.expect("{")
        members, open_ = {}, False
        if self.peek() == "}":
            self.pos += 1
            return ObjectPattern(members, open_)
        while True:
            if self.peek() == ELLIPSIS:
                self.pos += 1
                open_ = True
            else:
                if self.peek() != '"':
                    raise PatternSyntaxError(f"expected a key at {self.pos}")
                key = self.string()
                self.expect(":")
                members[key] = self.value()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("}")
            return ObjectPattern(members, open_)

    def array(self):
        self.expect("[")
        items = []
        if self.peek() == "]":
            self.pos += 1
            return items
        while True:
            items.append(self.value())
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return items


def show(value, limit=120):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def match_json(pattern, actual, path="$"):
    """None when `actual` (decoded JSON) fits `pattern`, else where and how it differs."""
    if isinstance(pattern, Wild):
        return None
    if isinstance(pattern, ObjectPattern):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {show(actual)}"
        for key, sub in pattern.members.items():
            if key not in actual:
                return f"{path}: key {key!r} missing (keys: {', '.join(actual)})"
            problem = match_json(sub, actual[key], f"{path}.{key}")
            if problem:
                return problem
        extra = [key for key in actual if key not in pattern.members]
        if extra and not pattern.open:
            return f"{path}: keys not shown in the README: {', '.join(extra)}"
        return None
    if isinstance(pattern, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {show(actual)}"
        return match_array(pattern, actual, path)
    if isinstance(pattern, StringPattern):
        if not isinstance(actual, str):
            return f"{path}: expected a string, got {show(actual)}"
        if pattern.regex is None:
            ok = actual == pattern.text
        else:
            ok = pattern.regex.fullmatch(actual) is not None
        return None if ok else f"{path}: README {show(pattern.text)}, got {show(actual)}"
    if isinstance(pattern, Number):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return f"{path}: expected a number, got {show(actual)}"
        if pattern.integer:
            ok = actual == int(pattern.literal)
        else:
            ok = abs(actual - pattern.value) <= pattern.tolerance * (1 + 1e-9) + 1e-12 * abs(actual)
        return None if ok else f"{path}: README {pattern.literal}{ELLIPSIS if pattern.truncated else ''}, got {actual!r}"
    if actual is pattern:       # true, false, null
        return None
    return f"{path}: README {show(pattern)}, got {show(actual)}"


def match_array(items, actual, path):
    failures = []

    def go(i, j):
        if i == len(items):
            if j == len(actual):
                return True
            failures.append(f"{path}: {len(actual) - j} more element(s) than the README shows")
            return False
        item = items[i]
        if isinstance(item, Wild):
            if item.count is not None:
                if j + item.count > len(actual):
                    failures.append(f"{path}: fewer than the {item.count} elements the README shows")
                    return False
                return go(i + 1, j + item.count)
            return any(go(i + 1, k) for k in range(j, len(actual) + 1))
        if j >= len(actual):
            failures.append(f"{path}: fewer elements than the README shows")
            return False
        problem = match_json(item, actual[j], f"{path}[{j}]")
        if problem:
            failures.append(problem)
            return False
        return go(i + 1, j + 1)

    return None if go(0, 0) else (failures[0] if failures else f"{path}: differs")


def match_line(expected, actual):
    """A line that holds JSON (after an optional prefix such as `data: `) is compared as JSON."""
    brace = min([p for p in (expected.find("{"), expected.find("[")) if p >= 0], default=-1)
    if brace >= 0 and expected.rstrip().endswith(("}", "]")):
        prefix = expected[:brace]
        try:
            pattern = PatternParser(expected[brace:]).parse()
        except PatternSyntaxError:
            pattern = None
        if pattern is not None and actual.startswith(prefix) and ELLIPSIS not in prefix:
            try:
                decoded = json.loads(actual[len(prefix):])
            except ValueError:
                decoded = ValueError
            if decoded is not ValueError:
                return match_json(pattern, decoded)
    return match_text_line(expected, actual)


def match_output(expected, actual):
    """Line sequences; a line that is only `…` stands for any number of lines."""
    failures = []

    def go(i, j):
        if i == len(expected):
            if j == len(actual):
                return True
            failures.append(f"output line {j + 1}: not shown in the README: {show(actual[j])}")
            return False
        if expected[i].strip() == ELLIPSIS:
            return any(go(i + 1, k) for k in range(j, len(actual) + 1))
        if j >= len(actual):
            failures.append(f"output ends before README line {show(expected[i])}")
            return False
        problem = match_line(expected[i], actual[j])
        if problem:
            failures.append(f"output line {j + 1}: {problem}\n      README: {show(expected[i], 300)}"
                            f"\n      actual: {show(actual[j], 300)}")
            return False
        return go(i + 1, j + 1)

    return None if go(0, 0) else failures[0]


# ---------------------------------------------------------------------------------------------
# Files the examples write

def check_png(path):
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "not a PNG (signature)"
    pos, idat, header = 8, b"", None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4 or struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            return f"broken chunk {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    else:
        return "no IEND chunk"
    if header is None:
        return "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or width == 0 or height == 0:
        return f"bad IHDR {header}"
    try:
        pixels = zlib.decompress(idat)
    except zlib.error as error:
        return f"IDAT does not inflate: {error}"
    if interlace == 0 and len(pixels) != height * (1 + (width * channels * depth + 7) // 8):
        return f"IDAT holds {len(pixels)} bytes, not {width}×{height}"
    return None


def written_files(argv):
    """(-o/--output files, --output-dir folders) named by a command's words."""
    files, folders = [], []
    for k, word in enumerate(argv[:-1]):
        if word in ("-o", "--output"):
            files.append(argv[k + 1])
        elif word == "--output-dir":
            folders.append(argv[k + 1])
    for word in argv:
        if word.startswith("--output-dir="):
            folders.append(word.split("=", 1)[1])
    return files, folders


def check_written(argv, cwd):
    files, folders = written_files(argv)
    for name in files:
        path = os.path.join(cwd, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            return f"{name} was not written"
        if name.lower().endswith(".png"):
            problem = check_png(path)
            if problem:
                return f"{name}: {problem}"
    for name in folders:
        path = os.path.join(cwd, name)
        arrays = sorted(f for f in os.listdir(path) if f.endswith(".npy")) if os.path.isdir(path) else []
        if not arrays:
            return f"{name} holds no .npy output"
        for array in arrays:
            with open(os.path.join(path, array), "rb") as handle:
                if handle.read(6) != b"\x93NUMPY":
                    return f"{name}{array} is not a NumPy file"
    return None


# ---------------------------------------------------------------------------------------------
# The server

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, binary, timeout, repository=None):
        self.binary, self.timeout, self.repository = binary, timeout, repository
        self.process, self.port, self.grpc_port = None, None, None
        self.log = tempfile.NamedTemporaryFile(prefix="readme-server-", suffix=".log", delete=False)

    def start(self):
        self.port = free_port()
        self.grpc_port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("DEEPSERVE_")}
        extra = ["--model-repository", self.repository] if self.repository else []
        self.process = subprocess.Popen([self.binary, "serve", "--port", str(self.port), "--grpc-port", str(self.grpc_port)] + extra, cwd=ROOT,
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=environment)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"/health/ready did not answer 200 within {self.timeout:.0f} s:\n{self.log_tail()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        os.unlink(self.log.name)

    def log_tail(self, lines=20):
        self.log.flush()
        with open(self.log.name, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])


# ---------------------------------------------------------------------------------------------

def kind_of(command):
    if SERVER_ADDRESS.search(command) and ("curl" in command or "tritonclient" in command or command.startswith(SERVER_SCRIPTS)):
        return "server"
    found = CLI_PREFIX.match(command)
    if found:
        words = command[found.end():].split()
        if words and words[0] in CLI_CHECKED:
            return "cli"
        return "skip: `deepserve " + (words[0] if words else "serve") + "` is not run here"
    return "skip: neither a server request nor a cheap deepserve command"


def scratch_folder():
    """A temporary working folder with a link to every top-level entry of the repository."""
    folder = tempfile.mkdtemp(prefix="readme-examples-")
    for entry in os.listdir(ROOT):
        if entry not in (".git", ".build"):
            os.symlink(os.path.join(ROOT, entry), os.path.join(folder, entry))
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/debug/deepserve",
                        help="deepserve executable (relative to the repository root); default: %(default)s")
    parser.add_argument("--readme", default="README.md", help="default: %(default)s")
    parser.add_argument("--model-repository", default=None,
                        help="the repository the server serves, relative to the repository root (default: the server's, models/)")
    parser.add_argument("--ready-timeout", type=float, default=180, help="seconds; default: %(default)s")
    parser.add_argument("--command-timeout", type=float, default=120, help="seconds; default: %(default)s")
    arguments = parser.parse_args()

    binary = os.path.abspath(os.path.join(ROOT, arguments.binary))
    if not os.access(binary, os.X_OK):
        sys.exit(f"check-readme-examples: {binary} is not an executable (build it, or pass --binary)")
    with open(os.path.join(ROOT, arguments.readme), encoding="utf-8") as handle:
        examples = console_examples(handle.read())
    if not examples:
        sys.exit(f"check-readme-examples: no ```console examples in {arguments.readme}")

    kinds = [kind_of(example.command) for example in examples]
    server = Server(binary, arguments.ready_timeout, arguments.model_repository) if "server" in kinds else None
    folder = scratch_folder()
    failed = passed = 0
    try:
        if server:
            server.start()
        for example, kind in zip(examples, kinds):
            shown = " ".join(example.command.split("\n"))
            if kind.startswith("skip"):
                print(f"SKIP  {shown}   ({kind[len('skip: '):]})")
                continue
            command = example.command
            if kind == "server":
                command = SERVER_ADDRESS.sub(
                    lambda m: f"{m.group(1)}:{server.port if m.group(2) == '8080' else server.grpc_port}", command)
            else:
                command = CLI_PREFIX.sub(lambda m: shlex.quote(binary), command, count=1)
            started = time.monotonic()
            try:
                result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=folder,
                                        stdin=subprocess.DEVNULL, capture_output=True,
                                        timeout=arguments.command_timeout)
                output, errors, status = result.stdout.decode(errors="replace"), \
                    result.stderr.decode(errors="replace"), result.returncode
            except subprocess.TimeoutExpired:
                output, errors, status = "", "", f"timeout after {arguments.command_timeout:.0f} s"
            lines = [line.rstrip() for line in output.rstrip("\n").split("\n")] if output.strip() else []
            while lines and not lines[-1]:
                lines.pop()
            if status != 0:
                problem = f"exit status {status}" + (f"; stderr: {errors.strip()[-500:]}" if errors.strip() else "")
            else:
                problem = match_output(example.expected, lines)
                if problem is None:
                    problem = check_written(shlex.split(command), folder)
            seconds = time.monotonic() - started
            if problem:
                failed += 1
                print(f"FAIL  {shown}   (README line {example.line}, {seconds:.1f} s)\n      {problem}")
            else:
                passed += 1
                print(f"PASS  {shown}   ({seconds:.1f} s)")
            sys.stdout.flush()
    except RuntimeError as error:
        print(f"FAIL  starting {binary}: {error}")
        failed += 1
    finally:
        if server:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    skipped = sum(kind.startswith("skip") for kind in kinds)
    not_run = len(examples) - passed - failed - skipped
    print(f"{passed} passed, {failed} failed, {skipped} skipped" + (f", {not_run} not run" if not_run else "") +
          " "
          f"({arguments.readme}, {os.path.relpath(binary, ROOT) if binary.startswith(ROOT) else binary})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
