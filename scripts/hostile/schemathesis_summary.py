"""Summary table of scripts/hostile/schemathesis.sh: one row per run, from its HAR and text output.

Usage: schemathesis_summary.py OUT_DIR SEED MAX_EXAMPLES PHASES (exits 1 when any run failed).
"""

import collections
import glob
import json
import re
import sys

out, seed, max_examples, phases = sys.argv[1:5]
rows = []
failed = False
for line in open(f"{out}/runs", encoding="utf-8"):
    name, rc, secs = line.split()
    text = open(f"{out}/{name}.txt", encoding="utf-8").read()
    statuses = collections.Counter()
    for har in glob.glob(f"{out}/{name}/har-*.json"):
        for e in json.load(open(har, encoding="utf-8"))["log"]["entries"]:
            statuses[e["response"]["status"]] += 1
    tested = re.search(r"Tested: (\d+)", text)
    known = re.search(r"Known failures: (\d+)", text)
    new = sum(int(n) for n in re.findall(r"❌ ST\d+ [^:]+: (\d+)", text))
    errors = sum(int(n) for n in re.findall(r"🚫 [^:]+: (\d+)", text))
    by_class = lambda lo, hi: sum(v for k, v in statuses.items() if lo <= k < hi)
    rows.append(
        {
            "run": name,
            "operations": tested.group(1) if tested else "?",
            "requests": sum(statuses.values()),
            "2xx": by_class(200, 300),
            "4xx": by_class(400, 500),
            "5xx": by_class(500, 600),
            "new failures": new,
            "errors": errors,
            "known (baseline)": known.group(1) if known else "0",
            "exit": rc,
            "s": secs,
        }
    )
    failed |= rc != "0"
    if rc != "0":
        # The failures section, with its curl repros, for the CI log.
        m = re.search(r"={5,} (?:FAILURES|ERRORS) ={5,}.*?(?=={5,} SUMMARY)", text, re.S)
        print(f"--- {name}: failures (full output in {out}/{name}.txt)")
        print(m.group(0)[:6000] if m else text[-3000:])

cols = list(rows[0])
width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
print(f"\nschemathesis: seed {seed}, max-examples {max_examples}, phases {phases}; reports in {out}")
print("| " + " | ".join(c.ljust(width[c]) for c in cols) + " |")
print("| " + " | ".join("-" * width[c] for c in cols) + " |")
for r in rows:
    print("| " + " | ".join(str(r[c]).ljust(width[c]) for c in cols) + " |")
sys.exit(1 if failed else 0)
