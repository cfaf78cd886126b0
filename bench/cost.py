#!/usr/bin/env python3
"""CPU cost per entry of two chainbook release binaries under the same batch workload.

    bench/cost.py BIN_A BIN_B [ROUNDS]
    BATCHES=400 bench/cost.py BIN_A BIN_B     more work per round (default 100)

Throughput on these machines swings by tens of percent with the host's steal; the CPU
time each process spends on a fixed amount of work moves much less. This starts both
binaries side by side (each with its own embedded cluster in a temporary folder, ledger
b and 20 accounts, like bench/ab.sh), then for ROUNDS (4) rounds, after one unmeasured
round, posts the same BATCHES (100) atomic batches of 500 two-posting entries (4 client threads)
to each in turn, alternating which goes first, and prints the service's and
PostgreSQL's CPU microseconds per entry (user + system, from /proc; PostgreSQL is the
postmaster and every process it started) and the entries/s of the round. /proc counts
CPU in clock ticks (10 ms), so with 100 batches the service's figure moves in steps of
0.2 µs; 400 batches give steps of 0.05 µs for a change smaller than that. Needs only
Python 3's standard library.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")
BATCHES = int(os.environ.get("BATCHES", "100"))
THREADS, PER_BATCH = 4, 500
if BATCHES < THREADS or BATCHES % THREADS:
    sys.exit(f"BATCHES must be a positive multiple of {THREADS}")


def cpu_seconds(pid, with_children=False):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / HZ


def postgres_seconds(postmaster):
    total = cpu_seconds(postmaster, with_children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += cpu_seconds(int(entry))
        except (OSError, ValueError):
            pass  # the process ended between listing and reading
    return total


def postmaster_of(folder):
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = open(f"/proc/{entry}/cmdline").read().split("\0")
            except OSError:
                continue
            if "-D" in argv and any(folder in a for a in argv):
                return int(entry)
    sys.exit(f"no postmaster found for {folder}")


class Service:
    def __init__(self, binary, port):
        self.port = port
        self.folder = tempfile.mkdtemp(prefix="chainbook-cost.")
        os.chmod(self.folder, 0o755)  # the cluster runs as another user when we are root
        self.log = open(f"{self.folder}/out", "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", f"{self.folder}/data"],
            stdout=self.log, stderr=self.log)
        for _ in range(600):
            if "listening" in open(f"{self.folder}/out").read():
                break
            time.sleep(0.2)
        else:
            sys.exit(open(f"{self.folder}/out").read())
        self.key = open(f"{self.folder}/data/admin.key").read().strip()
        self.postmaster = postmaster_of(self.folder)
        self.post("ledgers", {"id": "b", "name": "B", "base_currency": "USD"})
        accounts = [("assets:cash", "asset"), ("income:sales", "income")]
        for i in range(1, 10):
            accounts += [(f"assets:till:{i:02d}", "asset"), (f"income:sales:{i:02d}", "income")]
        for code, kind in accounts:
            self.post("ledgers/b/accounts", {"code": code, "type": kind})

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/{path}", data=data,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            if answer.status not in (200, 201):
                sys.exit(f"{path}: HTTP {answer.status}")
            return answer.read()

    def stop(self):
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def entry(client, n):
    """Like http-load's api::write_entry: spread over the 20 accounts, amounts varying."""
    def code(base, first, i):
        return first if i == 0 else f"{base}:{i:02d}"
    amount = f"{1 + n % 500}.{n % 100:02d}"
    return {"description": f"bench sale {client}-{n}", "postings": [
        {"account": code("assets:till", "assets:cash", (client + n) % 10), "currency": "USD", "debit": amount},
        {"account": code("income:sales", "income:sales", (client + n // 7) % 10), "currency": "USD",
         "credit": amount}]}


BODIES = [json.dumps({"atomic": True, "entries": [entry(b, b * PER_BATCH + i) for i in range(PER_BATCH)]}).encode()
          for b in range(16)]


def measure(service):
    def client(t):
        for k in range(BATCHES // THREADS):
            service.post("ledgers/b/transactions/batch", BODIES[(t * BATCHES + k) % len(BODIES)])
    before = (cpu_seconds(service.process.pid), postgres_seconds(service.postmaster), time.time())
    threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = (cpu_seconds(service.process.pid), postgres_seconds(service.postmaster), time.time())
    entries = BATCHES * PER_BATCH
    return [(after[0] - before[0]) / entries * 1e6, (after[1] - before[1]) / entries * 1e6,
            entries / (after[2] - before[2])]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    services = [Service(os.path.realpath(b), 18441 + i) for i, b in enumerate(sys.argv[1:3])]
    totals = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    try:
        for r in range(rounds + 1):
            results = {}
            for i in ([0, 1] if r % 2 else [1, 0]):
                results[i] = measure(services[i])
            if r == 0:
                continue  # warm-up
            for i in (0, 1):
                totals[i] = [t + x for t, x in zip(totals[i], results[i])]
            print(f"round {r}: " + "   ".join(
                f"{'AB'[i]} service {results[i][0]:.2f} µs, postgres {results[i][1]:.2f} µs, {results[i][2]:,.0f}/s"
                for i in (0, 1)), flush=True)
        print("mean per entry: " + "   ".join(
            f"{'AB'[i]} service {totals[i][0] / rounds:.2f} µs, postgres {totals[i][1] / rounds:.2f} µs, "
            f"{totals[i][2] / rounds:,.0f}/s" for i in (0, 1)))
    finally:
        for s in services:
            s.stop()


if __name__ == "__main__":
    main()
