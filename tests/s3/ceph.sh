#!/usr/bin/env bash
# tests/s3/ceph.sh: a throw-away one-node Ceph (1 mon, 1 OSD, 1 RADOS gateway) with an S3
# endpoint on loopback, from Debian 12's packages, for the S3 store tests. Based on the
# measured recipe in ../shared/ceph_up.sh, but with free ports and its own directory, so
# several worktrees (or CI beside a developer) can each run one at the same time.
# No mgr (not needed for I/O), cephx keys made on the spot (Pacific's radosgw will not
# talk to a mon with auth none), pool size 1, BlueStore on a sparse file under DIR
# ($CEPH_BLOCK_GB GiB, default 16: only what is written takes disk space). A full OSD makes
# the gateway hang rather than refuse, so keep it roomy.
#
#   ceph.sh start DIR        starts everything; writes DIR/env (S3 endpoint and test keys,
#                            sourceable) and prints it
#   ceph.sh stop DIR         stops the gateway, the OSD and the monitor (pid files in DIR)
#   ceph.sh stop-rgw DIR     stops only the gateway (fault tests: a store that is down)
#   ceph.sh start-rgw DIR    starts the gateway again on the same port and waits for it
#   ceph.sh bucket DIR NAME  creates bucket NAME (signed with curl --aws-sigv4)
#   ceph.sh rgw-start DIR ID an extra gateway client.rgw.ID on the same cluster (a free port
#                            the first time, the same one after); prints its port. Fault
#                            tests stop and restart their own without disturbing others.
#   ceph.sh rgw-stop DIR ID [SIGNAL]   stops it (SIGNAL: STOP/CONT to freeze and resume)
set -euo pipefail
cmd=${1:?usage: ceph.sh start|stop|stop-rgw|start-rgw DIR}
dir=${2:?usage: ceph.sh $cmd DIR}
conf=$dir/ceph.conf
ms() { date +%s%3N; }
C() { ceph -c "$conf" --connect-timeout 30 "$@"; }
KEY=EVITRACKTESTKEY00001
SECRET=evitrack-test-secret-not-for-production

# free_port: a TCP port nobody listens on now (the OS picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# stop_pid FILE: TERM the process in FILE and wait up to 10 s for it to go.
stop_pid() {
    [ -f "$1" ] || return 0
    local pid
    pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

start_rgw() {
    local port
    port=$(cat "$dir/rgw.port")
    radosgw -c "$conf" -n client.rgw.a
    for _ in $(seq 240); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.25
    done
    echo "ceph.sh: the gateway did not answer on port $port (log: $dir/log/client.rgw.a.log)" >&2
    return 1
}

case "$cmd" in
start)
    t0=$(ms)
    for b in ceph-mon ceph-osd radosgw; do
        command -v "$b" >/dev/null || { echo "ceph.sh: $b is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
    done
    rm -rf "$dir"
    mkdir -p "$dir"/{mon,osd,run,log,rgw}
    mon_port=$(free_port)
    rgw_port=$(free_port)
    echo "$rgw_port" >"$dir/rgw.port"
    fsid=$(uuidgen 2>/dev/null || python3 -c 'import uuid; print(uuid.uuid4())')
    cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port/0
public_network = 127.0.0.0/8
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_port_min = 20000
ms_bind_port_max = 32000
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
pid_file = $dir/run/\$name.pid
mon_data = $dir/mon/\$name
osd_data = $dir/osd/\$name
keyring = $dir/keyring
[osd]
keyring = $dir/osd/\$name/keyring
osd_objectstore = bluestore
bluestore_block_path = $dir/osd/\$name.block
bluestore_block_size = $((${CEPH_BLOCK_GB:-16} * 1073741824))
bluestore_block_create = true
bluestore_block_db_create = false
bluestore_block_wal_create = false
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64
osd_memory_target = 1073741824
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$rgw_port
rgw_data = $dir/rgw
rgw_dns_name = localhost
# deleted objects' space comes back within seconds, not hours (benchmarks delete as they go)
rgw_gc_obj_min_wait = 5
rgw_gc_processor_period = 10
EOF
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
    ceph-authtool "$dir/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' >/dev/null
    monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
    ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" --keyring "$dir/keyring"
    ceph-mon -c "$conf" -i a
    C -s >/dev/null # waits for the mon
    osdid=$(C osd create)
    mkdir -p "$dir/osd/osd.$osdid"
    ceph-authtool --create-keyring "$dir/osd/osd.$osdid/keyring" --gen-key -n "osd.$osdid" >/dev/null
    C auth add "osd.$osdid" osd 'allow *' mon 'allow profile osd' -i "$dir/osd/osd.$osdid/keyring" >/dev/null 2>&1
    ceph-osd -c "$conf" -i "$osdid" --mkfs --osd-uuid "$(python3 -c 'import uuid; print(uuid.uuid4())')" 2>"$dir/log/mkfs.err" >/dev/null
    C osd crush add "osd.$osdid" 1.0 host=localhost root=default >/dev/null 2>&1 ||
        { C osd crush add-bucket localhost host >/dev/null; C osd crush move localhost root=default >/dev/null; C osd crush add "osd.$osdid" 1.0 host=localhost >/dev/null; }
    ceph-osd -c "$conf" -i "$osdid"
    for _ in $(seq 240); do C osd stat 2>/dev/null | grep -q "1 up" && break; sleep 0.5; done
    start_rgw
    radosgw-admin -c "$conf" user create --uid=evitrack --display-name=evitrack \
        --access-key="$KEY" --secret="$SECRET" >/dev/null
    cat >"$dir/env" <<EOF
EVITRACK_S3_ENDPOINT=http://127.0.0.1:$rgw_port
AWS_ACCESS_KEY_ID=$KEY
AWS_SECRET_ACCESS_KEY=$SECRET
EOF
    echo "ceph.sh: up in $(($(ms) - t0)) ms; gateway http://127.0.0.1:$rgw_port (dir $dir)"
    ;;
stop)
    stop_pid "$dir/run/client.rgw.a.pid"
    for f in "$dir"/run/osd.*.pid; do stop_pid "$f"; done
    stop_pid "$dir/run/mon.a.pid"
    ;;
stop-rgw)
    stop_pid "$dir/run/client.rgw.a.pid"
    ;;
start-rgw)
    start_rgw
    ;;
rgw-start)
    id=${3:?usage: ceph.sh rgw-start DIR ID}
    [[ "$id" =~ ^[a-z0-9]+$ ]] || { echo "ceph.sh: gateway id must be [a-z0-9]+" >&2; exit 2; }
    if [ ! -f "$dir/rgw-$id.port" ]; then
        free_port >"$dir/rgw-$id.port"
        C auth get-or-create "client.rgw.$id" mon 'allow rw' osd 'allow rwx' -o "$dir/keyring.rgw.$id" >/dev/null
    fi
    port=$(cat "$dir/rgw-$id.port")
    radosgw -c "$conf" -n "client.rgw.$id" --keyring "$dir/keyring.rgw.$id" \
        --rgw_frontends "beast endpoint=127.0.0.1:$port" --rgw_data "$dir/rgw"
    for _ in $(seq 240); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && { echo "$port"; exit 0; }
        sleep 0.25
    done
    echo "ceph.sh: gateway $id did not answer on port $port" >&2
    exit 1
    ;;
rgw-stop)
    id=${3:?usage: ceph.sh rgw-stop DIR ID [SIGNAL]}
    pidf="$dir/run/client.rgw.$id.pid"
    case "${4:-TERM}" in
    TERM) stop_pid "$pidf" ;;
    *) [ -f "$pidf" ] && kill -"$4" "$(cat "$pidf")" ;;
    esac
    ;;
bucket)
    name=${3:?usage: ceph.sh bucket DIR NAME}
    # shellcheck disable=SC1091
    . "$dir/env"
    code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
        -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
        -X PUT "$EVITRACK_S3_ENDPOINT/$name")
    [ "$code" = 200 ] || { echo "ceph.sh: creating bucket $name: HTTP $code" >&2; exit 1; }
    ;;
*)
    echo "ceph.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
