"""Loading profiles: Python files in TRex's STL form.

A profile defines register() returning an object with get_streams(), or a
module-level get_streams(). `from trex_stl_lib.api import *` (and the
older `from trex.stl.api import *`, `from trex_stl_api import *`) work
inside a profile: the loader puts a small shim package (compat/) first on
the import path; it re-exports vrouter.loadgen.stl, which native profiles
import directly.

A profile name that is not a file is looked up in the repository's
profiles/ directory (`imix` -> profiles/imix.py).
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from . import packet
from .errors import ProfileError
from .streams import STLStream, call_get_streams

COMPAT = Path(__file__).resolve().parent / "compat"
REPO_PROFILES = Path(__file__).resolve().parents[3] / "profiles"

_loaded = 0


def find_profile(name: str | Path) -> Path:
    p = Path(name)
    if p.is_file():
        return p.resolve()
    for cand in (REPO_PROFILES / p, REPO_PROFILES / (str(p) + ".py")):
        if cand.is_file():
            return cand.resolve()
    known = sorted(x.stem for x in REPO_PROFILES.glob("*.py")) if REPO_PROFILES.is_dir() else []
    raise ProfileError(f"no profile {str(name)!r}: not a file"
                       + (f", nor one of {', '.join(known)}" if known else ""))


def _where(path: Path, exc: BaseException) -> str:
    """'profile.py line N' for the innermost frame inside the profile."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{path.name} line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    return f"{path.name} line {frames[-1].lineno}" if frames else path.name


def load_module(path: Path):
    """Execute the profile file; errors name the line."""
    global _loaded
    if str(COMPAT) not in sys.path:
        sys.path.insert(0, str(COMPAT))
    _loaded += 1
    spec = importlib.util.spec_from_file_location(f"_vrouter_profile_{_loaded}", path)
    if spec is None or spec.loader is None:
        raise ProfileError(f"{path}: cannot load as Python")
    mod = importlib.util.module_from_spec(spec)
    packet.PROFILE_DIR[:] = [path.parent]
    try:
        spec.loader.exec_module(mod)
    except ProfileError as e:
        raise ProfileError(f"{_where(path, e)}: {e}") from None
    except SystemExit as e:
        raise ProfileError(f"{path.name}: exited while loading ({e})") from None
    except Exception as e:  # noqa: BLE001 - whatever the profile's code raises
        raise ProfileError(f"{_where(path, e)}: {type(e).__name__}: {e}") from None
    return mod


def profile_object(mod, path: Path):
    if hasattr(mod, "register"):
        try:
            return mod.register()
        except Exception as e:  # noqa: BLE001 - whatever register() raises
            raise ProfileError(f"{_where(path, e)}: register() failed: {type(e).__name__}: "
                               f"{e}") from None
    if hasattr(mod, "get_streams"):
        return mod
    raise ProfileError(f"{path.name}: defines neither register() nor get_streams()")


def load_streams(name: str | Path, direction: int = 0, port_id: int = 0,
                 tunables: dict[str, str] | None = None) -> list[STLStream]:
    path = find_profile(name)
    mod = load_module(path)
    obj = profile_object(mod, path)
    if not hasattr(obj, "get_streams"):
        raise ProfileError(f"{path.name}: register() returned {type(obj).__name__}, which has no "
                           "get_streams()")
    packet.PROFILE_DIR[:] = [path.parent]
    try:
        return call_get_streams(obj, direction, port_id, tunables or {}, path.name)
    except ProfileError as e:
        cause = e.__cause__
        if cause is not None and cause.__traceback__ is not None:
            raise ProfileError(str(e).replace(f"{path.name}:", f"{_where(path, cause)}:", 1)) \
                from None
        raise


def parse_tunables(items: list[str] | None) -> dict[str, str]:
    """-t key=value[,key=value] (TRex's form) -> dict."""
    out: dict[str, str] = {}
    for item in items or []:
        for kv in filter(None, item.split(",")):
            k, eq, v = kv.partition("=")
            if not eq or not k.strip():
                raise ProfileError(f"tunable {kv!r}: expected key=value")
            out[k.strip()] = v.strip()
    return out
