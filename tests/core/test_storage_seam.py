"""Only the storage modules touch the file system in the core: every other module reaches
files through `storage_for(path)`, so a new kind of storage serves all of them at once.

The check reads each module's syntax tree and names every file-system call outside the
storage modules (module:line), e.g. `open(`, `os.stat`, `Path(...).exists()`, `shutil.*`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tfr_viewer.core

CORE = Path(tfr_viewer.core.__file__).parent

# the modules that are the storage: the interface and its local implementation
STORAGE_MODULES = {"storage", "local_storage", "remote_storage"}

# probes of this machine, not data of any storage: (module, function) whose calls are allowed
SYSTEM_PROBES = {
    ("source", "cgroup_memory_limit"),  # /proc/self/cgroup and /sys/fs/cgroup memory limits
    ("processes", "_is_zombie"),  # /proc/<pid>/stat
}


OS_CALLS = {
    "stat", "lstat", "fstat", "scandir", "listdir", "walk", "open", "fdopen", "pread", "read",
    "write", "pwrite", "replace", "rename", "renames", "unlink", "remove", "mkdir", "makedirs",
    "rmdir", "removedirs", "chmod", "chown", "utime", "fsync", "truncate", "ftruncate", "link",
    "symlink", "readlink", "access", "mkfifo", "statvfs",
}
OS_PATH_CALLS = {
    "exists", "lexists", "isdir", "isfile", "islink", "ismount", "realpath", "getsize",
    "getmtime", "getatime", "getctime", "samefile",
}
PATH_METHODS = {
    "open", "stat", "lstat", "exists", "is_dir", "is_file", "is_symlink", "iterdir", "glob",
    "rglob", "mkdir", "rmdir", "unlink", "touch", "chmod", "rename", "replace", "symlink_to",
    "read_bytes", "read_text", "write_bytes", "write_text", "resolve", "samefile",
}
# `.open`/`.stat`/`.rename`/`.replace` are also the names of harmless methods: they are
# flagged only on something built as a path (`Path(...)`, `p / "x"`, a name bound to one)
AMBIGUOUS_METHODS = {"open", "stat", "rename", "replace"}
NUMPY_FILE_CALLS = {"load", "save", "fromfile", "memmap", "loadtxt", "savetxt", "genfromtxt"}
FILE_MODULES = {"shutil", "tempfile", "glob", "mmap"}
STORAGE_NAMES = {"storage", "_storage", "LOCAL"}  # what a storage object is called in the core


def _dotted(node: ast.AST) -> str:
    """`os.path.exists` for an attribute chain on a name, '' for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _builds_path(node: ast.AST, path_names: set[str]) -> bool:
    """Whether `node` is a path object: `Path(...)`, `a / b`, or a name assigned one."""
    if isinstance(node, ast.Call) and _dotted(node.func).split(".")[-1] in {"Path", "PurePath", "PosixPath"}:
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return True
    return isinstance(node, ast.Name) and node.id in path_names


def _path_names(tree: ast.AST) -> set[str]:
    """Names ever assigned a path object (`out = Path(outdir)`, `a, b = Path(x), Path(y)`) or
    annotated as one (`folder: Path`)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts))
                for name, value in pairs:
                    if isinstance(name, ast.Name) and _builds_path(value, set()):
                        names.add(name.id)
        elif isinstance(node, (ast.arg, ast.AnnAssign)):
            annotation = node.annotation
            name = node.arg if isinstance(node, ast.arg) else getattr(node.target, "id", None)
            if name and annotation is not None and "Path" in ast.unparse(annotation).replace("PathLike", ""):
                names.add(name)
    return names


def _looks_like_a_path_argument(call: ast.Call, path_names: set[str]) -> bool:
    if not call.args:
        return False
    first = call.args[0]
    return isinstance(first, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(first, "value", ""), str) or (
        _builds_path(first, path_names)
    )


def _is_storage(node: ast.AST) -> bool:
    """Whether `node` is a storage (`storage_for(p)`, `LOCAL`, a name or attribute `storage`):
    its methods are the seam itself (`storage.is_dir(path)` is not `Path.is_dir()`)."""
    if isinstance(node, ast.Call):
        return _dotted(node.func).split(".")[-1] == "storage_for"
    return _dotted(node).split(".")[-1] in STORAGE_NAMES


def _violation(call: ast.Call, path_names: set[str]) -> str | None:
    """What file-system call `call` is, or None."""
    func = call.func
    name = _dotted(func)
    if isinstance(func, ast.Name) and func.id == "open":
        return "open()"
    root, _, rest = name.partition(".")
    if root == "os" and rest in OS_CALLS:
        return name
    if name.startswith("os.path.") and name[len("os.path."):] in OS_PATH_CALLS:
        return name
    if root in FILE_MODULES and rest:
        return name
    if root in {"np", "numpy"} and rest in NUMPY_FILE_CALLS:
        return name
    if root in {"np", "numpy"} and rest.startswith("savez") and _looks_like_a_path_argument(call, path_names):
        return name  # np.savez into a buffer writes no file
    if name in {"zipfile.ZipFile", "ZipFile"} and _looks_like_a_path_argument(call, path_names):
        return name
    if isinstance(func, ast.Attribute) and func.attr in PATH_METHODS and not _is_storage(func.value):
        if func.attr not in AMBIGUOUS_METHODS or _builds_path(func.value, path_names):
            return f".{func.attr}()"
    return None


def _probe_spans(module: str, tree: ast.AST) -> list[tuple[int, int]]:
    """Line spans of the functions of `module` named in SYSTEM_PROBES."""
    return [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (module, node.name) in SYSTEM_PROBES
    ]


def file_system_calls(source: str, module: str) -> list[tuple[int, str]]:
    """(line, call) of every file-system call in `source` outside the allowed probes."""
    tree = ast.parse(source)
    path_names = _path_names(tree)
    spans = _probe_spans(module, tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            what = _violation(node, path_names)
            if what is not None and not any(a <= node.lineno <= b for a, b in spans):
                found.append((node.lineno, what))
    return sorted(found)


def _checked_modules() -> list[Path]:
    return sorted(p for p in CORE.glob("*.py") if p.stem not in STORAGE_MODULES)


def test_only_the_storage_touches_the_file_system() -> None:
    found = [
        f"tfr_viewer/core/{path.name}:{line}: {what}"
        for path in _checked_modules()
        for line, what in file_system_calls(path.read_text(encoding="utf-8"), path.stem)
    ]
    assert not found, "file-system calls outside the storage:\n" + "\n".join(found)


def test_the_allowed_probes_and_pending_modules_exist() -> None:
    """An allowance for a function or module that is gone would hide nothing, and rot."""
    for module, function in SYSTEM_PROBES:
        tree = ast.parse((CORE / f"{module}.py").read_text(encoding="utf-8"))
        assert _probe_spans(module, tree), f"{module}.{function} is gone: drop it from SYSTEM_PROBES"
    assert all((CORE / f"{name}.py").exists() for name in STORAGE_MODULES)


def test_the_check_sees_each_kind_of_call() -> None:
    sample = '''
import os, shutil, tempfile
import numpy as np
from pathlib import Path
import zipfile

def f(path, folder: Path, buf, text):
    open(path)
    os.stat(path)
    os.path.exists(path)
    os.pread(3, 1, 0)
    shutil.copyfileobj(a, b)
    tempfile.mkstemp()
    np.load(path)
    np.savez("x.npz", a)
    np.savez(buf, a)
    zipfile.ZipFile("x.zip")
    zipfile.ZipFile(buf)
    out = Path(path)
    out.mkdir()
    out.open("rb")
    folder.iterdir()
    (folder / "x").stat()
    text.replace("a", "b")
    storage.open(path)
    storage.is_dir(path)
    storage_for(path).exists(path)
    os.path.join(path, "x")
    Path(path).exists()
'''
    found = [what for _, what in file_system_calls(sample, "sample")]
    assert found == [
        "open()", "os.stat", "os.path.exists", "os.pread", "shutil.copyfileobj", "tempfile.mkstemp",
        "np.load", "np.savez", "zipfile.ZipFile", ".mkdir()", ".open()", ".iterdir()", ".stat()",
        ".exists()",
    ]
    probe = "def cgroup_memory_limit():\n    open('/proc/self/cgroup')\n\ndef other():\n    open('/x')\n"
    assert file_system_calls(probe, "source") == [(5, "open()")]
