#!/bin/sh
# A fake planner for examples/planner.json: plans one round of work, then, from that work's
# output, one more round, until ROUNDS rounds (default 3) have run; then it returns an
# empty plan, which ends the loop.
#
# stdin: the last round's work output, {"round": N}, or null before the first round.
# Run it as `sh path/to/rounds.sh`: each plan names the script by the path it was run by.
set -eu
input=$(cat)
round=$(printf '%s' "$input" | sed -n 's/.*"round": *\([0-9][0-9]*\).*/\1/p')
next=$((${round:-0} + 1))
if [ "$next" -gt "${ROUNDS:-3}" ]; then
    echo '{"steps": []}'
    exit 0
fi
# Round N's work, then a planner that sees its output and plans round N+1. Inside a plan,
# `needs` and `steps.ID` name the plan's own steps by the ids written here.
cat <<PLAN
{"steps": [
  {"id": "work", "executor": "process",
   "with": {"command": ["sh", "-c", "echo '{\"round\": $next}'"]}},
  {"id": "replan", "executor": "process", "planner": true, "needs": ["work"],
   "with": {"command": ["sh", "$0"], "input": "\${{ steps.work.output }}",
            "env": {"ROUNDS": "${ROUNDS:-3}"}}}
]}
PLAN
