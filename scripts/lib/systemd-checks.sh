#!/bin/bash
# The checks scripts/systemd-test runs inside its VM, as root, with systemd as PID 1 and no Swift
# toolchain: it installs the colt-orders .deb, runs the units against the sandbox (the same
# binary) and prints one line per check to the serial console:
#   VMTEST PASS <check>: <what was seen>
#   VMTEST FAIL <check>: <what was seen>
# then `VMTEST DONE <passed> <failed>`, and powers the machine off.
set -uo pipefail
here=/opt/colt-vmtest
secret="vm-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
bravo_secret="vm-bravo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
passed=0
failed=0

pass() { echo "VMTEST PASS $1: $2"; passed=$((passed + 1)); }
fail() { echo "VMTEST FAIL $1: $2"; failed=$((failed + 1)); }
# check NAME DETAIL COMMAND...: PASS when COMMAND succeeds (its output becomes the detail of a FAIL).
check() {
  local name=$1 detail=$2 output
  shift 2
  if output=$("$@" 2>&1); then pass "$name" "$detail"; else fail "$name" "$detail; got: $(tail -c 600 <<<"$output" | tr '\n' ' ')"; fi
}
# until_true SECONDS COMMAND...: retries COMMAND every 0.5 s until it succeeds or time runs out.
until_true() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
db=/var/lib/colt-orders/orders.db
sql() { sqlite3 -cmd ".timeout 10000" "$db" "$@"; }
prop() { systemctl show -P "$2" "$1"; }
# death_report UNIT: what the unit's last main process left when it ended badly: its last lines
# (a Swift runtime error lands there, from stderr) and, when it dumped core, systemd-coredump's
# stack trace of that very process (by ExecMainPID: the watchdog's earlier core is another
# PID), as INFO lines on the console. The dump is written after the unit stops: wait for it.
death_report() {
  local pid
  pid=$(prop "$1" ExecMainPID)
  echo "VMTEST INFO   $1, pid $pid: $(prop "$1" Result), ExecMainCode $(prop "$1" ExecMainCode), status $(prop "$1" ExecMainStatus)"
  journalctl -u "$1" -b --no-pager -o cat | tail -n 12 | sed 's/^/VMTEST INFO   /'
  if [ "$(prop "$1" ExecMainCode)" = 3 ]; then  # CLD_DUMPED
    if until_true 30 coredumpctl --no-pager info "$pid" >/dev/null 2>&1; then
      coredumpctl --no-pager info "$pid" 2>&1 | grep -E -m 60 'Signal:|Stack trace|^ *#[0-9]+ ' | sed 's/^/VMTEST INFO   /'
    else
      echo "VMTEST INFO   no core dump of pid $pid after 30 s"
    fi
  fi
}
finish() {
  local status=$?
  [ -n "${reached_end:-}" ] || fail script "the checks stopped early (exit status $status); the console above shows where"
  echo "VMTEST DONE $passed $failed"
  systemctl poweroff --no-block
}
trap finish EXIT

echo "VMTEST BEGIN $(uname -r), $(systemctl --version | head -1)"

# --- The package, on a system with no Swift toolchain.
if command -v swift >/dev/null || command -v swiftc >/dev/null || ls /usr/lib/swift* >/dev/null 2>&1; then
  fail no-toolchain "a Swift toolchain is on this system"
else
  pass no-toolchain "no swift, no swiftc, no /usr/lib/swift on this system"
fi
check install "dpkg -i $(basename "$here"/*.deb), the user and group created" \
  bash -c "dpkg -i $here/*.deb && getent passwd colt-orders && getent group colt-orders"
check libraries "every library the binary loads is found, none from a toolchain" \
  bash -c "set -o pipefail; libraries=\$(ldd /usr/bin/colt-orders) && ! grep -E 'not found|swift' <<<\"\$libraries\""

# --- The sandbox: two Colt accounts, one behind HTTPS from a private CA reached by a name.
echo "127.0.0.1 colt.test" >>/etc/hosts
mkdir -p /root/tls && cd /root/tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=colt-orders VM test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=colt.test" 2>/dev/null
printf 'subjectAltName=DNS:colt.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
cd /
inventory() {  # inventory FIRST COUNT: COUNT activated London numbers from +44207100FIRST
  local i sep=""
  printf '['
  for ((i = $1; i < $1 + $2; i++)); do
    printf '%s{"number":"+442071%06d","country":"GB","serviceProfile":"ANH","status":"Activated"}' "$sep" "$i"
    sep=,
  done
  printf ']'
}
inventory 0 200 >/root/acme-inventory.json
inventory 500 20 >/root/bravo-inventory.json
# The secrets go on the command line of processes of the test, never to the journal: the units
# get a description, since systemd logs a transient unit's command line otherwise.
systemd-run --quiet --unit=sandbox-acme --description="Colt sandbox (acme)" \
  /usr/bin/colt-orders sandbox --port 8080 --client-id vm-acme --client-secret "$secret" \
  --inventory /root/acme-inventory.json --tracking-id-mode ignore --log-level warning
systemd-run --quiet --unit=sandbox-bravo --description="Colt sandbox (bravo)" \
  /usr/bin/colt-orders sandbox --port 8081 --client-id vm-bravo --client-secret "$bravo_secret" \
  --inventory /root/bravo-inventory.json --log-level warning
systemd-run --quiet --unit=tls-front --description="HTTPS front of the acme sandbox" \
  python3 "$here/tls-front.py" --cert /root/tls/server.pem --key /root/tls/server.key --upstream 127.0.0.1:8080 --port 8443
check sandbox "both sandboxes answer; the acme one through HTTPS at colt.test:8443 with the private CA" \
  until_true 60 bash -c 'curl -sf --cacert /root/tls/ca.pem https://colt.test:8443/_sandbox/stats && curl -sf http://127.0.0.1:8081/_sandbox/stats'
faults() { curl -sf -X PUT "http://127.0.0.1:$1/_sandbox/faults" -H 'Content-Type: application/json' --data-binary "$2" >/dev/null; }
orders() { curl -sf "http://127.0.0.1:$1/_sandbox/orders" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d, list) else d.get("orders", [])))'; }
export -f orders

# --- The main unit, configured as the README says.
install -m 0600 /dev/null /etc/colt-orders/client-secret
printf '%s\n' "$secret" >/etc/colt-orders/client-secret
cp /root/tls/ca.pem /etc/colt-orders/ca.pem
cat >/etc/colt-orders/config.json <<'EOF'
{
  "database": { "path": "/var/lib/colt-orders/orders.db", "poll_interval": 120 },
  "api": { "base_url": "https://colt.test:8443", "client_id": "vm-acme", "ca_file": "/etc/colt-orders/ca.pem", "request_timeout": 5 },
  "submit": { "max_in_flight": 8, "rate_per_second": 50 },
  "retry": { "initial_delay": 1, "max_delay": 2 },
  "shutdown": { "grace": 20 },
  "status": { "listen": "127.0.0.1:9464" },
  "log": { "level": "info" }
}
EOF
# A short watchdog, so its check takes seconds; everything else is the packaged unit.
mkdir -p /etc/systemd/system/colt-orders.service.d
printf '[Service]\nWatchdogSec=15s\n' >/etc/systemd/system/colt-orders.service.d/test.conf
systemctl daemon-reload

# --- Start: active (running) only once READY=1 came, i.e. with the schema already migrated.
started=$SECONDS
if systemctl start colt-orders.service; then
  state="$(prop colt-orders ActiveState)/$(prop colt-orders SubState)"
  schema=$(sqlite3 "$db" "SELECT count(*) FROM requests" 2>&1)
  if [ "$state" = active/running ] && [ "$schema" = 0 ] && [ "$(prop colt-orders Type)" = notify ]; then
    pass start "systemctl start returned after $((SECONDS - started)) s with active/running, Type=notify, the schema already there; status: $(prop colt-orders StatusText)"
  else
    fail start "state $state, schema: $schema"
  fi
else
  fail start "systemctl start failed: $(journalctl -u colt-orders -b --no-pager | tail -5)"
fi
# A configuration the daemon refuses never becomes active.
mkdir -p /etc/colt-orders/broken
echo '{ "api": { "client_id": "x", "base_url": "http://127.0.0.1:1" }, "submit": { "max_in_flight": "many" } }' >/etc/colt-orders/broken/config.json
install -m 0600 /dev/null /etc/colt-orders/broken/client-secret
echo x >/etc/colt-orders/broken/client-secret
if systemctl start colt-orders@broken.service 2>/dev/null; then
  fail start-refused "colt-orders@broken started with a bad submit.max_in_flight"
else
  check start-refused "a bad configuration fails the start ($(prop colt-orders@broken Result)), and the log names the key" \
    bash -c "[ \"\$(systemctl show -P ActiveState colt-orders@broken)\" != active ] && journalctl -u colt-orders@broken -b --no-pager | grep -q 'submit.max_in_flight'"
fi
systemctl stop colt-orders@broken.service 2>/dev/null; systemctl reset-failed colt-orders@broken.service 2>/dev/null
rm -rf /etc/colt-orders/broken

# --- Operator access: a member of group colt-orders inserts with sqlite3 while the service runs.
useradd --create-home --groups colt-orders alice
useradd --create-home bob
insert() {  # insert USER FIRST COUNT [ACTION]: rows for +442071FIRST...
  local user=$1 first=$2 count=$3 action=${4:-return} i values=""
  for ((i = first; i < first + count; i++)); do values+="${values:+,}('$action','GB','$(printf '+442071%06d' "$i")','ANH')"; done
  runuser -u "$user" -- sqlite3 -cmd ".timeout 10000" "$db" "INSERT INTO requests (action, country, range_start, service_profile) VALUES $values"
}
check operator-insert "alice (group colt-orders) inserted a row with sqlite3 while the service ran" insert alice 0 1
check operator-refused "bob (not in the group) can neither read nor write the database (permission denied)" \
  bash -c "! runuser -u bob -- sqlite3 $db 'SELECT count(*) FROM requests' 2>/tmp/bob.err && grep -qi 'unable to open\|denied' /tmp/bob.err && ! runuser -u bob -- sqlite3 $db \"INSERT INTO requests (action, country, range_start) VALUES ('return','GB','+442071999999')\" 2>/dev/null && [ \"\$(sqlite3 $db \"SELECT count(*) FROM requests WHERE range_start = '+442071999999'\")\" = 0 ]"

# --- DNS, TLS to the private CA, the credential, inotify, SQLite: alice's row becomes an order.
picked=$SECONDS
check inotify "alice's row went in_progress within 10 s although database.poll_interval is 120 s (inotify woke the daemon)" \
  until_true 10 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT state FROM requests WHERE id = 1\")\" = in_progress ]"
echo "VMTEST INFO first order after $((SECONDS - picked)) s"
check credential-used "the order went through with the secret from LoadCredential (the token endpoint accepted it)" \
  bash -c "[ \"\$(orders 8080)\" -ge 1 ]"
check credential-private "the secret file is root-only (0600), unreadable by the colt-orders user and by alice; the credential is not in the unit's environment" \
  bash -c "[ \"\$(stat -c %a:%U /etc/colt-orders/client-secret)\" = 600:root ] && ! runuser -u colt-orders -- cat /etc/colt-orders/client-secret && ! runuser -u alice -- cat /etc/colt-orders/client-secret && ! runuser -u alice -- cat /run/credentials/colt-orders.service/client-secret && pid=\$(systemctl show -P MainPID colt-orders) && [ \"\$pid\" -gt 0 ] && [ -f /run/credentials/colt-orders.service/client-secret ] && ! tr '\0' '\n' </proc/\$pid/environ | grep -qF '$secret'"
check status-endpoint "/healthz, /readyz and /metrics answer under the hardening" \
  bash -c "curl -sf http://127.0.0.1:9464/healthz && curl -sf http://127.0.0.1:9464/readyz && curl -sf http://127.0.0.1:9464/metrics | grep -q colt_orders"

# --- The journal: priorities per level, tracking ids, no secret.
insert alice 900 1   # not in the inventory: Colt refuses it (an ERROR)
faults 8080 '[{"kind":"status","status":503,"times":1}]'
insert alice 1 1     # one 503, then accepted (a WARNING, then an INFO)
until_true 30 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE state IN ('in_progress','rejected')\")\" = 3 ]"
journal_check() {
  # Every line the daemon wrote: its level word and journald's PRIORITY agree; the levels the
  # rows above cause are all there, each naming its request's tracking id.
  journalctl -u colt-orders -b -o json --no-pager | python3 -c '
import json, sys
priority = {"DEBUG": "7", "INFO": "6", "NOTICE": "5", "WARNING": "4", "ERROR": "3", "CRITICAL": "2"}
# libdispatch, not the daemon: it tries to raise the priority of its worker threads for their
# quality-of-service class, which no unprivileged process may (seccomp says EPERM, the kernel
# EACCES); it writes this once per process, and nothing changes.
dispatch = "Failed to set thread priority for worker thread"
seen, lines = {}, 0
for line in sys.stdin:
    entry = json.loads(line)
    if entry.get("_COMM") != "colt-orders": continue
    message = entry.get("MESSAGE", "")
    if isinstance(message, list): message = bytes(message).decode("utf-8", "replace")
    level = message.split(" ", 1)[0]
    if message.startswith(dispatch): continue
    if level not in priority: sys.exit(f"a line without a level: {message[:200]}")
    lines += 1
    if entry.get("PRIORITY") != priority[level]:
        got = entry.get("PRIORITY")
        sys.exit(f"PRIORITY {got} for {message[:200]}")
    if "tracking_id=" in message and level not in seen:
        seen[level] = message.split(" tracking_id=")[0][:90] + " tracking_id=" + message.split("tracking_id=")[1].split()[0]
missing = {"INFO", "WARNING", "ERROR"} - set(seen)
if missing: sys.exit(f"no {sorted(missing)} line with a tracking id among {lines}")
print(f"{lines} lines, each PRIORITY as its level; " + "; ".join(f"PRIORITY {priority[l]}: {seen[l]}" for l in ("INFO", "WARNING", "ERROR")))
'
}
# journald may not have every line yet: look again for up to 20 s.
for _ in $(seq 40); do out=$(journal_check 2>&1) && break; sleep 0.5; done
if out=$(journal_check 2>&1); then pass journal-priorities "$out"; else fail journal-priorities "$out"; fi
# The sandboxes (the fake Colt) hold the secrets on their command lines, which journald records
# with their own lines; everything else, colt-orders and systemd included, must not show them.
secret_check() {
  journalctl -b -o json --no-pager | SECRETS="$secret $bravo_secret" python3 -c '
import json, os, sys
secrets = os.environ["SECRETS"].split()
hits = []
for line in sys.stdin:
    entry = json.loads(line)
    if entry.get("_SYSTEMD_UNIT", "").startswith("sandbox-"): continue
    if any(s in line for s in secrets):
        unit = entry.get("_SYSTEMD_UNIT", entry.get("SYSLOG_IDENTIFIER"))
        fields = [k for k, v in entry.items() if any(s in str(v) for s in secrets)]
        hits.append(f"{unit}: {fields}")
if hits: sys.exit("the secret is in: " + "; ".join(hits[:5]))
'
}
check journal-no-secret "neither client secret appears in any journal entry but the sandboxes' own" secret_check

# --- Reload: a changed setting applies, debug lines appear at PRIORITY 7.
sed -i 's/"level": "info"/"level": "debug"/; s/"max_in_flight": 8/"max_in_flight": 4/' /etc/colt-orders/config.json
since_reload() { journalctl -u colt-orders -b -o json --no-pager | tail -n "+$((before_reload + 1))"; }
export -f since_reload
export before_reload=$(journalctl -u colt-orders -b -o json --no-pager | wc -l)
if systemctl reload colt-orders.service; then
  insert alice 70 1   # something to log at debug
  check reload "systemctl reload: 'setting changed' for submit.max_in_flight, then PRIORITY 7 (debug) lines, still active" \
    until_true 20 bash -c "since_reload | grep -q 'setting changed.*submit.max_in_flight' && since_reload | grep -q '\"PRIORITY\":\"7\"' && [ \"\$(systemctl show -P ActiveState colt-orders)\" = active ]"
else
  fail reload "systemctl reload failed"
fi
sed -i 's/"level": "debug"/"level": "info"/' /etc/colt-orders/config.json
systemctl reload colt-orders.service

# --- Watchdog: a frozen daemon is killed and restarted; its rows keep their tracking ids.
faults 8080 '[{"kind":"latency","ms":3000}]'
watched=$(sql "SELECT max(id) FROM requests")
insert alice 10 20
until_true 20 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE state = 'submitting'\")\" -ge 1 ]"
frozen=$(prop colt-orders MainPID)
restarts=$(prop colt-orders NRestarts)
frozen_inflight=$(sql "SELECT count(*) FROM requests WHERE state = 'submitting'")
kill -STOP "$frozen"
stopped=$SECONDS
# systemd sends SIGABRT after WatchdogSec (and SIGCONT, so that a stopped process gets it: the
# death shows as 6/ABRT), SIGKILL only after TimeoutAbortSec; it restarts after RestartSec.
if [ "$frozen_inflight" -ge 1 ] &&
   until_true 120 bash -c "[ \"\$(systemctl show -P MainPID colt-orders)\" != $frozen ] && [ \"\$(systemctl show -P MainPID colt-orders)\" != 0 ] && [ \"\$(systemctl show -P ActiveState colt-orders)\" = active ]" &&
   [ "$(prop colt-orders NRestarts)" -gt "$restarts" ] &&
   journalctl -u colt-orders -b --no-pager | grep -q 'Watchdog timeout'; then
  pass watchdog "SIGSTOPped pid $frozen, with $frozen_inflight rows in flight, was killed by the watchdog and restarted as pid $(prop colt-orders MainPID) after $((SECONDS - stopped)) s (NRestarts $restarts -> $(prop colt-orders NRestarts)); journal: $(journalctl -u colt-orders -b --no-pager | grep -m1 -o 'Watchdog timeout.*')"
else
  fail watchdog "$frozen_inflight in flight when frozen; pid $frozen now $(prop colt-orders MainPID), state $(prop colt-orders ActiveState)/$(prop colt-orders SubState)"
  kill -CONT "$frozen"
fi
faults 8080 '[]'
check watchdog-resume "all 20 rows went in_progress after the restart, each with one tracking id over all its attempts (one order each: no-duplicates, below)" \
  until_true 90 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE id > $watched AND state = 'in_progress'\")\" = 20 ] && [ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM attempts a JOIN requests r ON r.id = a.request_id WHERE a.tracking_id IS NOT r.tracking_id\")\" = 0 ]"
echo "VMTEST INFO attempts per row after the watchdog: $(sql "SELECT group_concat(n) FROM (SELECT count(*) AS n FROM attempts GROUP BY request_id)")"

# --- Stop with requests in flight: recorded, exit 0, within TimeoutStopSec.
faults 8080 '[{"kind":"latency","ms":3000}]'
stopped_rows=$(sql "SELECT max(id) FROM requests")
insert alice 40 20
until_true 20 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE state = 'submitting'\")\" -ge 1 ]"
inflight=$(sql "SELECT count(*) FROM requests WHERE state = 'submitting'")
stop_started=$SECONDS
systemctl stop colt-orders.service
took=$((SECONDS - stop_started))
left=$(sql "SELECT count(*) FROM requests WHERE state = 'submitting'")
if [ "$inflight" -ge 1 ] && [ "$(prop colt-orders Result)" = success ] && [ "$(prop colt-orders ExecMainStatus)" = 0 ] && [ "$left" = 0 ] && [ "$took" -lt 45 ]; then
  pass stop "stopped in $took s (TimeoutStopSec 45 s) with $inflight in flight, exit status 0, none left submitting: $(sql "SELECT group_concat(state || ' ' || n, ', ') FROM (SELECT state, count(*) AS n FROM requests WHERE id > $stopped_rows GROUP BY state)")"
else
  fail stop "$inflight in flight at the stop; took $took s, Result $(prop colt-orders Result), status $(prop colt-orders ExecMainStatus), $left still submitting"
  death_report colt-orders.service
fi
faults 8080 '[]'
systemctl start colt-orders.service
check stop-resume "after a start, the stopped rows went in_progress with their own tracking ids" \
  until_true 60 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE id > $stopped_rows AND state = 'in_progress'\")\" = 20 ] && [ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM attempts a JOIN requests r ON r.id = a.request_id WHERE a.tracking_id IS NOT r.tracking_id\")\" = 0 ]"
# The same stop again, five times, at other moments of the exchanges: one stop in five once
# ended on SIGABRT (exit raced the transport's TLS clean-up), so one stop proves little.
faults 8080 '[{"kind":"latency","ms":2000}]'
repeat_rows=$(sql "SELECT max(id) FROM requests")
bad_stops=""
stops_seen=""
round=0
for pause in 0.3 0.6 0.9 1.2 1.5; do
  round=$((round + 1))
  insert alice $((100 + round * 10)) 8
  until_true 20 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE state = 'submitting'\")\" -ge 1 ]"
  sleep "$pause"
  inflight=$(sql "SELECT count(*) FROM requests WHERE state = 'submitting'")
  systemctl stop colt-orders.service
  result="$(prop colt-orders Result)/$(prop colt-orders ExecMainStatus)"
  stops_seen+=" $inflight"
  if [ "$inflight" -lt 1 ]; then
    bad_stops+=" round $round: nothing in flight at the stop;"
  fi
  if [ "$result" != success/0 ]; then
    bad_stops+=" round $round: $result;"
    death_report colt-orders.service
  fi
  # A failed stop counts against StartLimitBurst: the next start must not be refused for it.
  systemctl reset-failed colt-orders.service
  if ! systemctl start colt-orders.service; then
    bad_stops+=" round $round: the start after the stop failed;"
  fi
done
faults 8080 '[]'
if [ -z "$bad_stops" ] &&
   until_true 60 bash -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE id > $repeat_rows AND state = 'in_progress'\")\" = 40 ]"; then
  pass stop-repeat "5 more stops, with$stops_seen requests in flight, 0.3 to 1.5 s into the exchanges: each exit status 0; the 40 rows went in_progress after"
else
  fail stop-repeat "${bad_stops:- the rows did not all go in_progress:} $(sql "SELECT group_concat(state || ' ' || n, ', ') FROM (SELECT state, count(*) AS n FROM requests WHERE id > $repeat_rows GROUP BY state)")"
fi
check no-duplicates "Colt holds one order per accepted row: sandbox orders = rows in_progress" \
  bash -c "[ \"\$(orders 8080)\" = \"\$(sqlite3 -cmd '.timeout 5000' $db \"SELECT count(*) FROM requests WHERE state = 'in_progress'\")\" ]"

# --- Hardening killed nothing: the only death was the watchdog's.
hardening_check() {
  local deaths aborts denied
  deaths=$(journalctl -u colt-orders -b --no-pager | grep -E 'Main process exited|Failed with result')
  # Exactly one death expected, the watchdog's: "Main process exited, code=dumped, status=6/ABRT"
  # and "Failed with result 'watchdog'".
  aborts=$(grep -c 'status=6/ABRT' <<<"$deaths")
  deaths=$(grep -v -e 'status=6/ABRT' -e "result 'watchdog'" <<<"$deaths")
  # A seccomp kill would be status=31/SYS; SystemCallErrorNumber=EPERM makes a refused call
  # fail instead, which shows only where the daemon or a library reports it.
  denied=$(journalctl -b --no-pager | grep -E 'status=31/SYS'; journalctl -u 'colt-orders*' -b --no-pager | grep -v 'Failed to set thread priority for worker thread' | grep -iE 'errno=(1|13)\b|operation not permitted|permission denied')
  [ "$aborts" -eq 1 ] && [ -z "$deaths$denied" ] || { echo "$aborts watchdog deaths; $deaths $denied"; return 1; }
}
check hardening "over DNS by name, TLS to a private CA, inotify, SQLite, the status endpoint and the reloads, the daemon died once, by the watchdog; no seccomp kill, and no refused call reported" hardening_check
score=$(systemd-analyze security colt-orders.service 2>/dev/null | sed -n 's/.*Overall exposure level for colt-orders.service: \([0-9.]*\).*/\1/p')
check security-score "systemd-analyze security colt-orders.service on the live unit: $score" \
  python3 -c "import sys; sys.exit(0 if float('${score:-99}') <= 1.5 else 1)"

# --- Two accounts side by side: colt-orders@acme and colt-orders@bravo.
for account in acme bravo; do
  mkdir -p /etc/colt-orders/$account
  install -m 0600 /dev/null /etc/colt-orders/$account/client-secret
done
printf '%s\n' "$secret" >/etc/colt-orders/acme/client-secret
printf '%s\n' "$bravo_secret" >/etc/colt-orders/bravo/client-secret
sed 's/"listen": "127.0.0.1:9464"/"listen": "127.0.0.1:9465"/' /etc/colt-orders/config.json >/etc/colt-orders/acme/config.json
cat >/etc/colt-orders/bravo/config.json <<'EOF'
{
  "api": { "base_url": "http://127.0.0.1:8081", "client_id": "vm-bravo", "request_timeout": 5 },
  "status": { "listen": "127.0.0.1:9466" },
  "log": { "level": "info" }
}
EOF
acme_before=$(orders 8080)
check instances-start "systemctl enable --now colt-orders@acme colt-orders@bravo: both active" \
  bash -c "systemctl enable --now colt-orders@acme.service colt-orders@bravo.service && [ \"\$(systemctl is-active colt-orders@acme colt-orders@bravo | sort -u)\" = active ]"
for account in acme bravo; do
  first=$([ $account = acme ] && echo 100 || echo 500)
  runuser -u alice -- sqlite3 -cmd ".timeout 10000" /var/lib/colt-orders/$account/orders.db \
    "INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return','GB','$(printf '+442071%06d' $first)','ANH'), ('return','GB','$(printf '+442071%06d' $((first + 1)))','ANH')"
done
check instances-orders "each instance sent its rows with its own credential to its own account: 2 new orders in each sandbox, each database its own, in /var/lib/colt-orders/ACCOUNT" \
  until_true 60 bash -c "[ \"\$(orders 8081)\" = 2 ] && [ \"\$(orders 8080)\" = \$(($acme_before + 2)) ] && for a in acme bravo; do [ \"\$(sqlite3 -cmd '.timeout 5000' /var/lib/colt-orders/\$a/orders.db \"SELECT group_concat(state) FROM requests\")\" = in_progress,in_progress ] || exit 1; done"
score=$(systemd-analyze security colt-orders@bravo.service 2>/dev/null | sed -n 's/.*Overall exposure level for colt-orders@bravo.service: \([0-9.]*\).*/\1/p')
check instances-score "systemd-analyze security colt-orders@bravo.service: $score" \
  python3 -c "import sys; sys.exit(0 if float('${score:-99}') <= 1.5 else 1)"

# --- Remove keeps the databases, purge deletes them.
systemctl start colt-orders.service
check remove "dpkg -r stops every unit and keeps /etc/colt-orders and the databases" \
  bash -c "dpkg -r colt-orders >/dev/null && ! systemctl is-active -q colt-orders colt-orders@acme colt-orders@bravo && [ -f $db ] && [ -f /var/lib/colt-orders/bravo/orders.db ] && [ -f /etc/colt-orders/config.json ]"
check purge "dpkg --purge deletes /etc/colt-orders and /var/lib/colt-orders" \
  bash -c "dpkg --purge colt-orders >/dev/null && [ ! -e /etc/colt-orders ] && [ ! -e /var/lib/colt-orders ]"
reached_end=1
