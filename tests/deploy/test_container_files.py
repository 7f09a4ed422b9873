"""The Dockerfile, the compose file and the Kubernetes manifests: they pass
their linters, and they agree with each other and with the tree (paths the
image really has, the configuration path the entrypoint reads, the socket the
probe asks, the DPDK packages the dataplane links)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from vrouter.config import parse

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
COMPOSE = DEPLOY / "compose.yaml"


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        assert found, f"{name} is not installed: ./install.sh --test installs it"
        return found
    return str(path)


# ---- the Dockerfile, parsed ----

def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """[(INSTRUCTION, arguments)] per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, args = line.partition(" ")
        if instr.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instr.upper(), args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def image_files() -> dict[str, str]:
    """Absolute path in the final image -> where it comes from (a path in the
    tree, or 'build:<path>' from the build stage), for every COPY."""
    final = dockerfile_stages()[-1]
    workdir = PurePosixPath("/")
    files: dict[str, str] = {}
    for instr, args in final:
        if instr == "WORKDIR":
            workdir = workdir / args
        if instr != "COPY":
            continue
        words = shlex.split(args)
        frm = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        paths = [w for w in words if not w.startswith("--")]
        *srcs, dest = paths
        dest_path = workdir / dest
        for src in srcs:
            name = PurePosixPath(src.rstrip("/")).name
            target = dest_path / name if dest.endswith("/") or len(srcs) > 1 else dest_path
            if frm is None and (ROOT / src).is_dir():
                for f in (ROOT / src).rglob("*"):
                    if f.is_file():
                        files[str(target / f.relative_to(ROOT / src))] = str(f.relative_to(ROOT))
            else:
                files[str(target)] = f"build:{src}" if frm else src
    return files


def final_instr(name: str) -> list[str]:
    return [args for instr, args in dockerfile_stages()[-1] if instr == name]


def manifests() -> list[tuple[Path, dict]]:
    return [(p, d) for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]


def pod_specs():
    for path, d in manifests():
        if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
            yield path, d, d["spec"]["template"]


def entrypoint_default(var: str) -> str:
    m = re.search(rf"^{var}=(\S+)$", (DEPLOY / "entrypoint.sh").read_text(), re.M)
    assert m, f"{var} not found in entrypoint.sh"
    return m.group(1)


def expand(text: str) -> str:
    """${...} as the entrypoint fills them in on a 2-CPU node with VFs."""
    values = {"VROUTER_CPU_0": "0", "VROUTER_CPU_1": "1"}

    def value(m: re.Match) -> str:
        if m.group(1) not in values:  # a device plugin's PCIDEVICE_...: a VF of its own
            values[m.group(1)] = f"0000:00:{len(values) + 2:02x}.0"
        return values[m.group(1)]

    return re.sub(r"\$\{(\w+)\}", value, text)


# ---- linters ----

def test_hadolint_passes_the_dockerfile():
    r = subprocess.run([tool("hadolint"), "--no-color", str(ROOT / "Dockerfile")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shellcheck_passes_the_entrypoint_and_install_script():
    scripts = [str(DEPLOY / "entrypoint.sh"), str(ROOT / "install.sh")]
    r = subprocess.run([tool("shellcheck"), *scripts], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("profile", [None, "host-nics"])
def test_compose_file_is_valid(profile):
    cmd = [tool("docker-compose"), "-f", str(COMPOSE)]
    cmd += ["--profile", profile] if profile else []
    r = subprocess.run([*cmd, "config", "-q"], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"})
    assert r.returncode == 0, r.stdout + r.stderr


def test_kubernetes_manifests_validate_strictly():
    import kubernetes_validate as kv

    version = kv.latest_version()
    kinds = set()
    for path, d in manifests():
        kinds.add(d["kind"])
        if d["apiVersion"] == "k8s.cni.cncf.io/v1":
            # Multus' CRD: spec.config is a CNI configuration in JSON.
            assert d["kind"] == "NetworkAttachmentDefinition"
            assert set(d) <= {"apiVersion", "kind", "metadata", "spec"}
            assert set(d["spec"]) == {"config"}
            cni = json.loads(d["spec"]["config"])
            assert {"cniVersion", "type"} <= set(cni), f"{path}: {cni}"
            continue
        kv.validate(d, version, strict=True)
    assert {"Deployment", "DaemonSet", "ConfigMap", "NetworkAttachmentDefinition"} <= kinds


# ---- the image, the entrypoint, the compose file and the manifests agree ----

def test_entrypoint_healthcheck_and_dataplane_are_where_the_image_says():
    files = image_files()
    (entry,) = final_instr("ENTRYPOINT")
    assert files.get(exec_form(entry)[0]) == "deploy/entrypoint.sh"
    (health,) = final_instr("HEALTHCHECK")
    cmd = exec_form(health.split("CMD", 1)[1].strip())
    assert files.get(cmd[0]) == "deploy/healthcheck.py"
    for f in ("deploy/entrypoint.sh", "deploy/healthcheck.py"):
        assert os.access(ROOT / f, os.X_OK), f"{f} is not executable"
    env = " ".join(final_instr("ENV"))
    dp = re.search(r"VROUTER_DATAPLANE=(\S+)", env).group(1)
    # The binary install.sh builds: meson's build dir, the executable's name.
    assert files.get(dp) == "build:/opt/vrouter/dataplane/build/vrouter-dataplane"
    assert "executable('vrouter-dataplane'" in (ROOT / "dataplane/meson.build").read_text()
    assert "dataplane/build" in (ROOT / "install.sh").read_text()
    # The environment and the sources the entrypoint finds next to itself.
    entry_dir = PurePosixPath(exec_form(entry)[0]).parent
    assert files.get(str(entry_dir.parent / ".venv")) == "build:/opt/vrouter/.venv"
    assert files.get(str(entry_dir.parent / "appliance")) == "build:/opt/vrouter/appliance"
    assert "/opt/vrouter/.venv/bin" in env
    # Both stages run install.sh; the final one only its runtime part.
    runs = [" ".join(a for i, a in stage if i == "RUN") for stage in dockerfile_stages()]
    assert runs[0].startswith("./install.sh") and "./install.sh --runtime" in runs[-1]


def test_build_context_leaves_out_the_hosts_build_products():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in (".venv", "**/build", ".git"):
        assert pattern in ignored


def test_compose_mounts_configs_where_the_entrypoint_reads_them():
    compose = yaml.safe_load(COMPOSE.read_text())
    default = entrypoint_default("default_config")
    for name, svc in compose["services"].items():
        binds = [v.split(":") for v in svc.get("volumes", []) if v.startswith(".")]
        configs = [(src, dst) for src, dst, *_ in binds if dst == default]
        assert len(configs) == 1, f"service {name} mounts no config at {default}"
        cfg = (COMPOSE.parent / configs[0][0]).resolve()
        config = parse(yaml.safe_load(expand(cfg.read_text())), str(cfg))
        assert "privileged" not in svc
        assert svc["cap_drop"] == ["ALL"]
        if config.control_plane or config.demo_hosts:
            assert "SYS_ADMIN" in svc["cap_add"], name
        if config.control_plane:
            assert "/dev/net/tun" in svc.get("devices", []), name
    build = compose["services"]["demo"]["build"]
    dockerfile = COMPOSE.parent / build["context"] / build["dockerfile"]
    assert dockerfile.resolve() == ROOT / "Dockerfile"


def test_manifests_mount_a_valid_config_where_the_entrypoint_reads_it():
    default = PurePosixPath(entrypoint_default("default_config"))
    configmaps = {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == "ConfigMap"}
    for path, _, tmpl in pod_specs():
        spec = tmpl["spec"]
        (c,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        config_path = PurePosixPath(env.get("VROUTER_CONFIG", str(default)))
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == str(config_path.parent))
        vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        cm = configmaps[vol["configMap"]["name"]]
        text = cm["data"][config_path.name]
        cfg = parse(yaml.safe_load(expand(text)), f"{path.name}: {cm['metadata']['name']}")
        # The probes ask the socket this configuration opens, with the script
        # the image has.
        assert cfg.api.socket == "/run/vrouter/api.sock"
        assert any(m["mountPath"] in ("/run", "/run/vrouter") for m in c["volumeMounts"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            cmd = c[probe]["exec"]["command"]
            assert image_files().get(cmd[0]) == "deploy/healthcheck.py", f"{path.name} {probe}"
        # A TCP listener matches the port the container declares.
        ports = {p["containerPort"] for p in c.get("ports", [])}
        if cfg.api.tcp:
            assert int(cfg.api.tcp.rsplit(":", 1)[1]) in ports
        if cfg.metrics.listen:
            metrics_port = int(cfg.metrics.listen.rsplit(":", 1)[1])
            assert metrics_port in ports
            meta = tmpl["metadata"].get("annotations", {})
            assert meta.get("prometheus.io/port") == str(metrics_port)
        assert ports <= {int(p) for args in final_instr("EXPOSE") for p in args.split()}


def test_manifests_attach_the_networks_and_devices_their_configs_use():
    nads = {d["metadata"]["name"]: d for _, d in manifests()
            if d["kind"] == "NetworkAttachmentDefinition"}
    configmaps = {d["metadata"]["name"]: d for _, d in manifests() if d["kind"] == "ConfigMap"}
    for path, _, tmpl in pod_specs():
        raw = tmpl["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"].strip()
        nets = (json.loads(raw) if raw.startswith("[") else
                [{"name": n.strip()} for n in raw.split(",")])
        assert nets and all(n["name"] in nads for n in nets), path.name
        spec = tmpl["spec"]
        (c,) = spec["containers"]
        cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        text = configmaps[cm_name]["data"]["router.yaml"]
        # af_packet ports open the interfaces Multus names in the pod.
        for n in nets:
            if "interface" in n:
                assert f"iface={n['interface']}" in text, f"{path.name}: {n}"
        # Device-plugin resources are requested, and their PCIDEVICE_ variables used.
        for n in nets:
            res = nads[n["name"]]["metadata"].get("annotations", {}).get(
                "k8s.v1.cni.cncf.io/resourceName")
            if res:
                assert c["resources"]["limits"].get(res) == "1"
                assert "${PCIDEVICE_" + re.sub(r"[./-]", "_", res).upper() + "}" in text
        huge = yaml.safe_load(expand(text))["dataplane"].get("hugepages")
        has_huge = any(k.startswith("hugepages-") for k in c["resources"]["limits"])
        assert has_huge == (huge is True or huge == "yes"), f"{path.name}: hugepages"


def test_manifests_ask_for_no_more_privilege_than_their_ports_need():
    for path, _, tmpl in pod_specs():
        spec = tmpl["spec"]
        assert not spec.get("hostNetwork") and not spec.get("hostPID")
        (c,) = spec["containers"]
        sc = c["securityContext"]
        assert not sc.get("privileged")
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"]["type"] == "RuntimeDefault"
        added = set(sc["capabilities"]["add"])
        cm = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        cmap = next(d for _, d in manifests()
                    if d["kind"] == "ConfigMap" and d["metadata"]["name"] == cm)
        text = cmap["data"]["router.yaml"]
        cfg = yaml.safe_load(expand(text))
        devices = [i["device"] for i in cfg["interfaces"].values()]
        kernel_ports = any(d.startswith(("net_af_packet", "net_af_xdp", "net_tap"))
                           for d in devices)
        pci_ports = any(not d.startswith("net_") for d in devices)
        hugepages = cfg["dataplane"].get("hugepages") in (True, "yes")
        control_plane = cfg.get("control_plane", True)
        need = set()
        if kernel_ports:
            need |= {"NET_ADMIN", "NET_RAW"}
        if pci_ports:
            need |= {"IPC_LOCK"}
        if hugepages:
            need |= {"SYS_NICE"}
        if control_plane:  # a namespace per VRF, TAP exception ports moved into it
            need |= {"SYS_ADMIN", "NET_ADMIN"}
            tun = [v for v in spec["volumes"]
                   if v.get("hostPath", {}).get("path") == "/dev/net/tun"]
            assert tun and any(m["mountPath"] == "/dev/net/tun" and m["name"] == tun[0]["name"]
                               for m in c["volumeMounts"]), f"{path.name}: no /dev/net/tun"
        else:
            assert sc.get("allowPrivilegeEscalation") is False
        assert added == need, f"{path.name}: {sorted(added)} != {sorted(need)}"


# ---- the runtime stage's packages cover what the dataplane needs ----

def test_runtime_packages_cover_the_dataplane_libraries_and_port_drivers():
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    text = (ROOT / "install.sh").read_text()
    runtime = set(re.search(r"runtime_pkgs=\((.*?)\)", text, re.S).group(1).split())
    binary = ROOT / "dataplane/build/vrouter-dataplane"
    if not binary.exists():
        pytest.skip("dataplane not built")
    with binary.open("rb") as f:
        dyn = next(s for s in ELFFile(f).iter_sections() if isinstance(s, DynamicSection))
        needed = [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
    for lib in needed:
        r = subprocess.run(["dpkg-query", "-S", f"*/{lib}"], capture_output=True, text=True)
        pkgs = {ln.split(":")[0] for ln in r.stdout.splitlines()
                if not ln.split(":")[0].endswith("-dev")}
        assert pkgs, f"no package has {lib}"
        if "libc6" in pkgs:
            continue  # the C library: in every image
        assert pkgs & runtime, f"{lib} (from {pkgs}) is not in install.sh's runtime_pkgs"
    # A mempool driver and the PMD of every port kind the README lists.
    for pkg in ("librte-mempool-ring23", "librte-net-af-packet23", "librte-net-af-xdp23",
                "librte-net-tap23", "librte-net-memif23", "librte-net-pcap23",
                "librte-net-null23", "librte-net-virtio23", "librte-net-vhost23", "tini",
                "python3", "iproute2", "ethtool", "iputils-ping", "traceroute"):
        assert pkg in runtime
    assert not runtime & {"gcc", "meson", "ninja-build", "libdpdk-dev", "dpdk-dev", "pkg-config"}
