#!/usr/bin/env bash
# audit_labels.sh: every audit action a module writes has a plain-English label in
# src/auditlog.c (auditlog_action_label), so the audit trail, timelines and exports never
# show a raw code such as "eqa.view" to a reader (the code stays in the JSON as `action`).
# An action is a "word.word" string literal on a line that calls audit_record( or that
# picks between actions with ?: next to one (the call may wrap onto the next line).
set -euo pipefail
src=${1:?usage: audit_labels.sh SRC_DIR}
actions=$(grep -hE -A1 'audit_record\(' "$src"/*.c | grep -v '^--$' \
  | grep -oE '"[a-z_]+\.[a-z_]+"' | tr -d '"' | grep -vE '^[a-z]{1,2}\.' | sort -u)
# the EQA's view and download events are chosen in policy_eqa_check before the call
actions=$(printf '%s\n%s\n' "$actions" "$(grep -ohE '"eqa\.[a-z_]+"' "$src"/policy.c | tr -d '"')" | sort -u)
[ "$(echo "$actions" | wc -l)" -ge 40 ] || { echo "audit_labels: only $(echo "$actions" | wc -l) actions found"; exit 1; }
missing=""
for a in $actions; do
  grep -qE "\{\"$a\", \"[^\"]+\"\}" "$src/auditlog.c" || missing="$missing $a"
done
if [ -n "$missing" ]; then
  echo "audit_labels: these audit actions have no label in src/auditlog.c:$missing"
  exit 1
fi
echo "audit_labels: $(echo "$actions" | wc -l) audit actions, each with a label"
