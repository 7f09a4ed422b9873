#!/usr/bin/env bash
# The vrouter container's entrypoint (PID 1 of the image).
#
#   entrypoint.sh [vrouter run OPTIONS]   start the appliance: the default
#   entrypoint.sh COMMAND [ARGS]          run COMMAND instead (vrouter status, bash, ...)
#
# The appliance runs under tini, which stays PID 1: it forwards SIGTERM and
# SIGINT to `vrouter run` (whose handler stops the dataplane, removes the demo
# namespaces and veths, the sockets and the DPDK runtime directory, and exits
# 0), exits with its status, and reaps orphans (processes started with
# `docker exec`/`kubectl exec` that outlive their parent).
#
# Environment:
#   VROUTER_CONFIG         the router's YAML. Default: /etc/vrouter/router.yaml (the
#                          ConfigMap or bind mount) if it exists, else the embedded demo.
#                          ${NAME} in it is replaced by the environment variable NAME
#                          (an SR-IOV device plugin passes the VF's PCI address so), and
#                          ${VROUTER_CPU_0}, ${VROUTER_CPU_1}, ... by the CPUs this
#                          container may run on, in order (lcores for a cpuset that is
#                          only known at run time: Kubernetes' static CPU manager).
#   VROUTER_RUN_DIR        sockets and the dataplane log (default /run/vrouter)
#   VROUTER_NAME           DPDK file prefix (default vrouter)
#   VROUTER_DATAPLANE_LOG  stdout (default): the dataplane's log is also copied to the
#                          container's output; file: only $VROUTER_RUN_DIR/dataplane.log
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")   # /opt/vrouter in the image, the checkout otherwise
venv=$root/.venv/bin
[ -x "$venv/vrouter" ] && PATH=$venv:$PATH

die() { echo "entrypoint: $*" >&2; exit 2; }

# Anything that is not an option of `vrouter run` is a command to run instead.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

run_dir=${VROUTER_RUN_DIR:-/run/vrouter}
name=${VROUTER_NAME:-vrouter}
default_config=/etc/vrouter/router.yaml

config=
for a in "$@"; do
    case "$a" in -c|--config|--config=*) config=given ;; esac
done
if [ -z "$config" ]; then
    if [ -n "${VROUTER_CONFIG:-}" ]; then
        config=$VROUTER_CONFIG
        [ -r "$config" ] || die "VROUTER_CONFIG=$config: no such readable file"
    elif [ -r "$default_config" ]; then
        config=$default_config
    else
        echo "entrypoint: no $default_config mounted: running the embedded demo configuration"
    fi
fi
mkdir -p "$run_dir"

args=(run --run-dir "$run_dir" --name "$name")
if [ -n "$config" ] && [ "$config" != given ]; then
    # shellcheck disable=SC2016 # a literal ${
    if grep -q '\${' "$config"; then
        # Expand ${NAME} from the environment into a copy the appliance reads.
        rendered=$run_dir/router.yaml
        python - "$config" "$rendered" <<'PY' || exit 2
import os, re, sys
src, dst = sys.argv[1:]
text = open(src).read()
env = {f"VROUTER_CPU_{i}": str(c) for i, c in enumerate(sorted(os.sched_getaffinity(0)))}
env.update(os.environ)
def sub(m):
    if m.group(1) not in env:
        line = text.count("\n", 0, m.start()) + 1
        sys.exit(f"entrypoint: {src}:{line}: ${{{m.group(1)}}} is not set in the environment")
    return env[m.group(1)]
text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)
tmp = dst + ".tmp"
with open(tmp, "w") as f:
    f.write(text)
os.replace(tmp, dst)
PY
        echo "entrypoint: $config with the environment's values: $rendered"
        config=$rendered
    fi
    args+=(-c "$config")
fi

# What the dataplane will get, said once (the appliance decides: hugepages: auto).
if grep -qs ' hugetlbfs ' /proc/mounts; then
    huge="hugetlbfs mounted at $(awk '$3 == "hugetlbfs" {print $2; exit}' /proc/mounts)"
else
    huge="no hugetlbfs mounted"
fi
echo "entrypoint: config ${config:-<embedded demo>}, run dir $run_dir, DPDK prefix $name," \
     "$huge, memlock limit $(ulimit -l)"
if ! [ -w /proc/sys/net/ipv4/ip_forward ] && { [ -z "$config" ] || grep -q '^demo_hosts:' "$config"; }; then
    echo "entrypoint: warning: /proc/sys is read-only here and demo hosts need to write" \
         "sysctls (docker: --security-opt systempaths=unconfined; see README.md ("Containers and Kubernetes"))" >&2
fi

# The dataplane writes its log to a file; copy it to our output for
# `docker logs`/`kubectl logs`. tail stops by itself once this PID (tini,
# after the exec below) is gone.
if [ "${VROUTER_DATAPLANE_LOG:-stdout}" = stdout ]; then
    : > "$run_dir/dataplane.log"
    tail -n +1 -F --pid=$$ "$run_dir/dataplane.log" 2>/dev/null &
fi

if command -v tini >/dev/null; then
    # -s: reap orphans even when not PID 1 (docker run --init, shared PID namespace)
    exec tini -s -- vrouter "${args[@]}" "$@"
fi
echo "entrypoint: warning: tini not found; vrouter runs as PID $$ and reaps no orphans" >&2
exec vrouter "${args[@]}" "$@"
