#!/usr/bin/env python3
"""`cairn resume` of an N-step pipeline stopped halfway: time to the first new step, peak RSS.

Usage: resume_half.py CAIRN N [REPEATS]   (e.g. target/release/cairn 100000 3)

Generates the N-step noop pipeline, runs it with `cairn run --db` until its middle step
kill -9s the engine (once: a marker file), then, from a copy of that half-done database each
time, runs `/usr/bin/time -v cairn resume RUN` and prints the first new step's `running`
event time (`cairn history --json`, the store's clock) minus the spawn time, and the peak RSS.
The half-done database is kept in $RESUME_DIR (default /tmp/cairn-resume) and reused.
"""
import json, os, re, shutil, subprocess, sys, time, datetime, sqlite3


def generate(n, out, marker):
    """The bench's W3/L3 pipeline (benches/engine/main.rs `pipeline`), with step s{n/2} a
    process step that kill -9s its engine the first time it runs (a marker file), so that the
    run stops exactly halfway, reproducibly."""
    mid = n // 2
    parts = []
    for i in range(n):
        if i == 0:
            parts.append('{"id": "s0", "executor": "noop", "with": {"output": 0}}')
        elif i == mid:
            cmd = f'if [ ! -e {marker} ]; then touch {marker}; kill -9 $PPID; sleep 10; fi; echo {i}'
            parts.append(json.dumps({"id": f"s{i}", "executor": "process", "needs": [f"s{i-1}"],
                                     "with": {"command": ["sh", "-c", cmd]}}))
        else:
            p = i - 1
            parts.append(f'{{"id": "s{i}", "executor": "noop", "needs": ["s{p}"], "with": {{"output": "${{{{ steps.s{p}.output + 1 }}}}"}}}}')
    open(out, "w").write('{"name": "pipeline", "version": "1", "limits": {"max_steps": %d}, "steps": [%s]}' % (max(n, 1000), ", ".join(parts)))


cairn, n = sys.argv[1], int(sys.argv[2]); reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
d = os.path.join(os.environ.get("RESUME_DIR", "/tmp/cairn-resume"), f"p{n}"); os.makedirs(d, exist_ok=True)
wf, marker, db0 = f"{d}/wf.json", f"{d}/marker", f"{d}/half.db"
if not os.path.exists(db0):
    generate(n, wf, marker)
    if os.path.exists(marker): os.remove(marker)
    t = time.time()
    r = subprocess.run(["/usr/bin/time", "-v", cairn, "--db", db0, "run", wf], capture_output=True, text=True)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    print(f"setup run: {time.time()-t:.1f}s (killed: {r.returncode}) peak RSS {int(rss.group(1))/1024:.0f} MiB" if rss else r.stderr[-500:])
for rep in range(reps):
    db = f"{d}/r.db"
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(db + suffix): os.remove(db + suffix)
    for suffix in ["", "-wal", "-shm"]:
        if os.path.exists(db0 + suffix): shutil.copy(db0 + suffix, db + suffix)
    c = sqlite3.connect(db)
    run_id, = c.execute("SELECT id FROM runs").fetchone()
    last, = c.execute("SELECT max(seq) FROM events").fetchone()
    done, = c.execute("SELECT count(*) FROM steps WHERE state='succeeded'").fetchone()
    c.close()
    spawn = datetime.datetime.now(datetime.timezone.utc)
    r = subprocess.run(["/usr/bin/time", "-v", cairn, "--db", db, "resume", run_id], capture_output=True, text=True)
    total = (datetime.datetime.now(datetime.timezone.utc) - spawn).total_seconds()
    assert r.returncode == 0, r.stderr[-2000:]
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    h = json.loads(subprocess.run([cairn, "--db", db, "--json", "history", run_id], capture_output=True, text=True, check=True).stdout)
    ev = h if isinstance(h, list) else h.get("events", h)
    first = next(e for e in ev if e.get("seq", 0) > last and e.get("step") and e.get("to") == "running")
    at = datetime.datetime.fromisoformat(first["at"].replace("Z", "+00:00"))
    print(f"n={n} done={done} first new step {(at-spawn).total_seconds()*1000:.0f} ms after spawn ({first['step']}); resume total {total:.1f}s; peak RSS {rss/1024:.0f} MiB")
