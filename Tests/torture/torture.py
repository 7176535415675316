#!/usr/bin/env python3
"""Bounded kill -9 torture test for engine-run (README, Guarantees 1-3).

Performs --kills random SIGKILLs in total, spread over several trials. Each trial runs in a fresh
temporary folder: it writes a spec (synthetic collector, JSONL or SQLite sink, checkpoint sync
normal or full), starts `engine-run run`, `engine-run resume` or `engine-run serve` a few times,
SIGKILLs each after a random delay or at a random amount of store progress, then runs
`engine-run resume` to completion and checks that every item succeeded, that the sink holds every
document exactly once and that the SQLite files pass `PRAGMA integrity_check`.

The last line printed is `kills: N, lost: L, duplicated: D`. Exit code 0 when everything held,
1 otherwise (2 for bad arguments or a missing binary). Standard library only.
"""

import argparse
import errno
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

DEFAULT_BINARY = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "engine-run"))
DB = "engine.sqlite"
SINK_DB = "sink.sqlite"
RESUME_TIMEOUT = 120.0      # seconds per final `engine-run resume`
RESUME_ATTEMPTS = 3
HELPER_TIMEOUT = 60.0       # `run --enqueue`, `items --json`
CYCLE_DEADLINE = 30.0       # longest wait for a kill instant before killing anyway
POLL = 0.005                # progress polling interval
LIVE = set()                # started processes, killed if the script itself is interrupted


def log(line=""):
    print(line, flush=True)


# --------------------------------------------------------------------------------------------
# The binary

def wait_for_binary(path, patience):
    """Waits (up to `patience` seconds) until `path` exists, is executable and has not changed for
    a few seconds (a build may still be linking it). Returns True when usable."""
    deadline = time.monotonic() + patience
    announced = False
    while True:
        try:
            st = os.stat(path)
            if os.access(path, os.X_OK) and time.time() - st.st_mtime >= 3:
                probe = subprocess.run([path, "--help"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, timeout=60)
                if probe.returncode == 0:
                    return True
        except (OSError, subprocess.SubprocessError):
            pass
        if time.monotonic() >= deadline:
            return False
        if not announced:
            log(f"waiting for {path} (up to {int(patience)} s; a build may be running)...")
            announced = True
        time.sleep(5)


def engine_env():
    env = dict(os.environ)
    # The store is always --db engine.sqlite in the trial folder; serve gets --insecure-no-auth,
    # which an inherited API key would contradict.
    for name in ("ENGINE_DB", "ENGINE_API_KEY"):
        env.pop(name, None)
    return env


# --------------------------------------------------------------------------------------------
# Reading the store

def connect(path, timeout=2.0):
    connection = sqlite3.connect(path, timeout=timeout)
    connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return connection


def progress(folder):
    """Documents staged plus documents delivered over all items, or None while there is no store."""
    path = os.path.join(folder, DB)
    if not os.path.exists(path):
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            row = connection.execute(
                "SELECT COALESCE(SUM(collected), 0) + COALESCE(SUM(ingested), 0) FROM work_items").fetchone()
            return int(row[0] or 0)
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def unfinished(folder, job):
    """Items of `job` not succeeded, or None when the job is not recorded yet."""
    path = os.path.join(folder, DB)
    if not os.path.exists(path):
        return None
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
        try:
            rows = connection.execute(
                "SELECT w.status FROM work_items w JOIN jobs j ON j.id = w.job_id WHERE j.name = ?",
                (job,)).fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    if not rows:
        return None
    return sum(1 for (status,) in rows if status != "succeeded")


def integrity(path):
    try:
        connection = connect(path, timeout=10.0)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"cannot check: {error}"
    result = "; ".join(str(row[0]) for row in rows)
    return "ok" if result == "ok" else result


# --------------------------------------------------------------------------------------------
# A trial

class Trial:
    def __init__(self, index, seed, binary, root, remaining_kills):
        self.index = index
        self.binary = binary
        # Every choice of the trial comes from its own generator, so one trial's plan does not
        # depend on how earlier trials went (kills that landed or not).
        rng = random.Random(seed * 1_000_003 + index)
        self.rng = rng
        self.sink = "jsonl" if index % 2 == 0 else "sqlite"
        self.sync = "normal" if (index // 2) % 2 == 0 else "full"
        self.items = [chr(ord("a") + i) for i in range(rng.randint(3, 4))]
        self.documents = rng.randint(150, 400)
        self.page_size = rng.randint(10, 30)
        self.batch_size = rng.randint(10, 40)
        self.document_bytes = rng.randint(64, 256)
        self.latency_ms = rng.randint(2, 6)
        self.concurrency = rng.randint(1, 3)
        self.name = f"torture-{index}"
        self.total = 2 * len(self.items) * self.documents   # the progress of a finished job
        # Roughly how long a whole run takes: ~40 ms to start, then the items in waves of
        # `concurrency`, each page costing its latency plus ~1 ms of checkpointing.
        pages = -(-self.documents // self.page_size)
        waves = -(-len(self.items) // self.concurrency)
        self.expected_ms = 40 + waves * pages * (self.latency_ms + 1)
        cycles = min(rng.randint(1, 4), remaining_kills)
        self.plan = []
        for cycle in range(cycles):
            # The first start has to submit the job: `run`, or `serve` after `run --enqueue`.
            command = rng.choice(["run", "run", "serve"] if cycle == 0 else ["run", "resume", "serve"])
            if rng.random() < 0.5:
                # A fraction of the job's expected duration (the runs here take 0.1-1.5 s, so a fixed
                # 50-1500 ms delay would mostly come after the end).
                self.plan.append((command, "delay", int(5 + rng.random() * self.expected_ms)))
            else:
                self.plan.append((command, "progress", rng.uniform(0.03, 0.97)))
        self.folder = tempfile.mkdtemp(prefix=f"torture-s{seed}-t{index}-", dir=root)
        os.makedirs(os.path.join(self.folder, "logs"))
        self.kills = 0
        self.lost = 0
        self.duplicated = 0
        self.failures = []     # make the run fail
        self.notes = []        # worth a look, do not fail the run
        self.steps = []        # what happened, for the trial line and commands.txt
        self.process_count = 0

    # -- spec and processes

    def spec(self):
        if self.sink == "jsonl":
            ingester = {"type": "jsonl", "path": "out/{item}.jsonl", "batch_size": self.batch_size}
        else:
            ingester = {"type": "sqlite", "path": SINK_DB, "table": "documents", "batch_size": self.batch_size}
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "checkpoint": {"sync": self.sync},
            "collector": {"type": "synthetic", "documents": self.documents, "page_size": self.page_size,
                          "document_bytes": self.document_bytes, "latency_ms": self.latency_ms},
            "ingester": ingester,
            "items": [{"name": name} for name in self.items],
        }

    def arguments(self, command):
        if command == "run":
            return ["run", "spec.json", "--quiet", "--db", DB]
        if command == "enqueue":
            return ["run", "spec.json", "--enqueue", "--db", DB]
        if command == "resume":
            return ["resume", "--quiet", "--db", DB]
        if command == "serve":
            return ["serve", "--insecure-no-auth", "--port", "0", "--poll-seconds", "0.2", "--db", DB]
        if command == "items":
            return ["items", "--json", "--db", DB]
        raise ValueError(command)

    def record(self, text):
        self.steps.append(text)
        with open(os.path.join(self.folder, "commands.txt"), "a") as handle:
            handle.write(text + "\n")

    def start(self, command):
        self.process_count += 1
        stem = os.path.join(self.folder, "logs", f"{self.process_count:02d}-{command}")
        out = open(stem + ".out", "wb")
        err = open(stem + ".err", "wb")
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    process = subprocess.Popen([self.binary] + self.arguments(command), cwd=self.folder,
                                               env=engine_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                               start_new_session=True)
                    break
                except OSError as error:
                    # ETXTBSY: a build is relinking the binary right now; wait for it to finish.
                    if error.errno != errno.ETXTBSY or time.monotonic() > deadline:
                        raise
                    time.sleep(1)
        finally:
            out.close()
            err.close()
        process.log_stem = stem
        LIVE.add(process)
        return process

    def run_to_end(self, command, timeout):
        """Runs `command` to its end; returns (exit code or None on timeout, stdout, stderr)."""
        process = self.start(command)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        else:
            code = process.returncode
        with open(process.log_stem + ".out", errors="replace") as handle:
            stdout = handle.read()
        with open(process.log_stem + ".err", errors="replace") as handle:
            stderr = handle.read()
        return code, stdout, stderr

    # -- kill cycles

    def cycle(self, number, command, strategy, value):
        if command == "serve" and unfinished(self.folder, self.name) is None:
            code, _, stderr = self.run_to_end("enqueue", HELPER_TIMEOUT)
            self.record(f"engine-run {' '.join(self.arguments('enqueue'))} -> exit {code}")
            if code != 0:
                self.failures.append(f"`run spec.json --enqueue` exited {code}: {stderr.strip()[-500:]}")
                return
        start_progress = progress(self.folder) or 0
        if strategy == "delay":
            instant = f"after {value} ms"
            target_time, target_progress = value / 1000.0, None
        else:
            target_progress = start_progress + max(1, int(value * (self.total - start_progress)))
            instant = f"at progress {target_progress}/{self.total}"
            target_time = None
        process = self.start(command)
        started = time.monotonic()
        while process.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed >= CYCLE_DEADLINE:
                break
            if target_time is not None:
                if elapsed >= target_time:
                    break
            elif (progress(self.folder) or 0) >= target_progress:
                break
            time.sleep(POLL)
        alive = process.poll() is None
        if alive:
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()
        elapsed_ms = int((time.monotonic() - started) * 1000)
        seen = progress(self.folder) or 0
        if process.returncode == -signal.SIGKILL:
            self.kills += 1
            outcome = f"KILLED after {elapsed_ms} ms at progress {seen}/{self.total}"
        else:
            outcome = f"exited {process.returncode} by itself after {elapsed_ms} ms (no kill)"
            if process.returncode != 0:
                with open(process.log_stem + ".err", errors="replace") as handle:
                    tail = handle.read().strip()[-300:]
                self.notes.append(f"cycle {number}: `{command}` exited {process.returncode} on its own: {tail}")
        self.record(f"engine-run {' '.join(self.arguments(command))}  [kill {instant}] -> {outcome}")

    # -- recovery and checks

    def recover(self):
        """`engine-run resume` to completion; True when one attempt exited 0."""
        if unfinished(self.folder, self.name) is None:
            # Every run was killed before the job was recorded: nothing for resume to do.
            code, _, stderr = self.run_to_end("run", RESUME_TIMEOUT)
            self.record(f"(job never recorded) engine-run {' '.join(self.arguments('run'))} -> exit {code}")
            if code != 0:
                self.notes.append(f"final `run spec.json` exited {code}: {stderr.strip()[-300:]}")
        for attempt in range(1, RESUME_ATTEMPTS + 1):
            code, stdout, stderr = self.run_to_end("resume", RESUME_TIMEOUT)
            shown = "timed out" if code is None else f"exit {code}"
            self.record(f"final engine-run {' '.join(self.arguments('resume'))} (attempt {attempt}) -> {shown}: "
                        f"{' | '.join(stdout.strip().splitlines())}")
            if code == 0:
                return True
            self.notes.append(f"final resume attempt {attempt}: {shown}: {(stdout + stderr).strip()[-500:]}")
        self.failures.append(f"resume failed {RESUME_ATTEMPTS} times in a row")
        return False

    def check_items(self):
        code, stdout, stderr = self.run_to_end("items", HELPER_TIMEOUT)
        if code != 0:
            self.failures.append(f"`items --json` exited {code}: {stderr.strip()[-300:]}")
            return
        try:
            items = json.loads(stdout)
        except ValueError as error:
            self.failures.append(f"`items --json` printed no JSON ({error}): {stdout[:300]}")
            return
        ours = [item for item in items if item.get("job") == self.name]
        names = sorted(item.get("name") for item in ours)
        if names != sorted(self.items):
            self.failures.append(f"items of job {self.name}: {names}, expected {sorted(self.items)}")
        for item in ours:
            if item.get("status") != "succeeded":
                self.failures.append(
                    f"item {item.get('name')} ({item.get('id')}) is {item.get('status')} in phase {item.get('phase')}, "
                    f"attempt {item.get('attempt')}, collected {item.get('collected')}, ingested {item.get('ingested')}, "
                    f"error {item.get('error_kind')}: {item.get('error')}")
            elif item.get("collected_total") != self.documents:
                # Recover never fetches a committed page again, so this should be exact; reported, not failed.
                self.notes.append(f"item {item.get('name')}: collected_total {item.get('collected_total')}, "
                                  f"expected {self.documents}")

    def tally(self, name, counts):
        """Adds lost/duplicated for one item from {seq: occurrences}."""
        expected = range(self.documents)
        lost = [seq for seq in expected if counts.get(seq, 0) == 0]
        extra = {seq: n - 1 for seq, n in counts.items() if 0 <= seq < self.documents and n > 1}
        strays = {seq: n for seq, n in counts.items() if not 0 <= seq < self.documents}
        duplicated = sum(extra.values()) + sum(strays.values())
        self.lost += len(lost)
        self.duplicated += duplicated
        if lost:
            self.failures.append(f"item {name}: {len(lost)} document(s) lost, seqs {compact(lost)}")
        if extra:
            self.failures.append(f"item {name}: {sum(extra.values())} duplicate(s), seqs {compact(sorted(extra))}")
        if strays:
            self.failures.append(f"item {name}: {sum(strays.values())} row(s) with unexpected seqs "
                                 f"{compact(sorted(strays))}")

    def check_sink(self):
        if self.sink == "jsonl":
            for name in self.items:
                path = os.path.join(self.folder, "out", f"{name}.jsonl")
                counts = {}
                if not os.path.exists(path):
                    self.failures.append(f"item {name}: {path} does not exist")
                else:
                    with open(path, "rb") as handle:
                        data = handle.read()
                    if data and not data.endswith(b"\n"):
                        self.failures.append(f"item {name}: {path} ends with a partial line")
                    for number, line in enumerate(data.split(b"\n"), 1):
                        if not line.strip():
                            continue
                        try:
                            document = json.loads(line)
                            seq = document["seq"]
                            if not isinstance(seq, int):
                                raise ValueError("seq is not an integer")
                        except (ValueError, KeyError, TypeError) as error:
                            self.failures.append(f"item {name}: {path} line {number} is not a document ({error}): "
                                                 f"{line[:120]!r}")
                            continue
                        if document.get("item") not in (None, name):
                            self.failures.append(f"item {name}: line {number} belongs to item {document.get('item')}")
                        counts[seq] = counts.get(seq, 0) + 1
                self.tally(name, counts)
        else:
            path = os.path.join(self.folder, SINK_DB)
            rows = []
            if not os.path.exists(path):
                self.failures.append(f"{path} does not exist")
            else:
                try:
                    connection = connect(path, timeout=10.0)
                    try:
                        rows = connection.execute(
                            "SELECT item, seq, COUNT(*) FROM documents GROUP BY item, seq").fetchall()
                    finally:
                        connection.close()
                except sqlite3.Error as error:
                    self.failures.append(f"{path}: cannot read table documents: {error}")
            per_item = {name: {} for name in self.items}
            for item, seq, count in rows:
                if item not in per_item:
                    self.failures.append(f"{path}: {count} row(s) for unknown item {item!r}")
                    self.duplicated += count
                    continue
                per_item[item][seq] = per_item[item].get(seq, 0) + count
            for name in self.items:
                self.tally(name, per_item[name])

    def check_integrity(self):
        paths = [DB] + ([SINK_DB] if self.sink == "sqlite" else [])
        for name in paths:
            path = os.path.join(self.folder, name)
            if not os.path.exists(path):
                self.failures.append(f"{name} does not exist")
                continue
            result = integrity(path)
            if result != "ok":
                self.failures.append(f"PRAGMA integrity_check on {name}: {result}")

    def run(self):
        with open(os.path.join(self.folder, "spec.json"), "w") as handle:
            json.dump(self.spec(), handle, indent=2)
        self.record(f"# cwd {self.folder}; spec.json as written; binary {self.binary}")
        for number, (command, strategy, value) in enumerate(self.plan, 1):
            if unfinished(self.folder, self.name) == 0:
                self.record(f"(cycle {number} skipped: every item already succeeded)")
                continue
            self.cycle(number, command, strategy, value)
        if self.recover():
            self.check_items()
        self.check_sink()
        self.check_integrity()

    def describe(self):
        return (f"{self.sink}/{self.sync}, {len(self.items)} items x {self.documents} docs "
                f"(page {self.page_size}, batch {self.batch_size}, {self.document_bytes} B, "
                f"latency {self.latency_ms} ms, concurrency {self.concurrency})")


def compact(numbers, limit=12):
    """1,2,3,7 -> '1-3, 7' (at most `limit` ranges)."""
    ranges = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges[:limit])
    return text + (f", ... ({len(ranges) - limit} more ranges)" if len(ranges) > limit else "")


# --------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description="kill -9 torture test for engine-run")
    parser.add_argument("--kills", type=int, required=True, help="SIGKILLs to perform in total")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    parser.add_argument("--binary", default=DEFAULT_BINARY, help=f"the engine-run binary (default {DEFAULT_BINARY})")
    parser.add_argument("--keep", action="store_true", help="keep every trial folder, not only failed ones")
    parser.add_argument("--wait-binary", type=float, default=900,
                        help="seconds to wait for the binary to appear (default 900)")
    parser.add_argument("--workdir", default=None, help="where trial folders go (default: the system temp folder)")
    args = parser.parse_args()
    if args.kills < 1:
        parser.error("--kills must be at least 1")
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 1_000_000
    binary = os.path.abspath(args.binary)
    if not wait_for_binary(binary, args.wait_binary):
        log(f"error: {binary} is not a working engine-run binary (waited {int(args.wait_binary)} s)")
        return 2
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)

    binary_mtime = os.stat(binary).st_mtime
    log(f"torture: {args.kills} kills, seed {seed} (rerun: --seed {seed}), binary {binary} "
        f"(built {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(binary_mtime))})")
    began = time.monotonic()
    kills = lost = duplicated = 0
    failed_trials = []
    trial_index = 0
    cycles_run = 0
    max_cycles = 3 * args.kills + 10   # kills that do not land (process already done) still end the loop
    while kills < args.kills and cycles_run < max_cycles:
        trial = Trial(trial_index, seed, binary, args.workdir, args.kills - kills)
        trial_index += 1
        cycles_run += len(trial.plan)
        trial_began = time.monotonic()
        try:
            trial.run()
        except BaseException:
            log(f"trial {trial.index}: interrupted; folder kept: {trial.folder}")
            raise
        kills += trial.kills
        lost += trial.lost
        duplicated += trial.duplicated
        verdict = "FAILED" if trial.failures else "ok"
        log(f"trial {trial.index}: {trial.describe()}: {trial.kills} kill(s), lost {trial.lost}, "
            f"duplicated {trial.duplicated}, {time.monotonic() - trial_began:.1f} s: {verdict}")
        for step in trial.steps[1:]:
            log(f"    {step}")
        for note in trial.notes:
            log(f"    note: {note}")
        for failure in trial.failures:
            log(f"    FAILURE: {failure}")
        if trial.failures:
            failed_trials.append(trial)
        if trial.failures or trial.notes or args.keep:
            log(f"    folder kept: {trial.folder}")
        else:
            remove_tree(trial.folder)

    elapsed = time.monotonic() - began
    if file_mtime(binary) != binary_mtime:
        log(f"warning: {binary} was rebuilt during the run; later trials used the new binary")
    if kills < args.kills:
        log(f"warning: only {kills} of {args.kills} kills landed in {cycles_run} cycles (processes finished first)")
    if failed_trials:
        log(f"failed trials: {', '.join(str(t.index) for t in failed_trials)} "
            f"(folders: {', '.join(t.folder for t in failed_trials)})")
    log(f"{trial_index} trials, elapsed {elapsed:.1f} s")
    log(f"kills: {kills}, lost: {lost}, duplicated: {duplicated}")
    return 1 if failed_trials or lost or duplicated else 0


def file_mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def remove_tree(path):
    for root, folders, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in folders:
            os.rmdir(os.path.join(root, name))
    os.rmdir(path)


def kill_leftovers():
    for process in list(LIVE):
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_leftovers()
