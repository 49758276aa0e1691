"""Builds gearbox_gnn._C with CMake (python/CMakeLists.txt) against the installed torch.

The build needs the repository around this folder (core/ and gnn/ sources, cmake/ modules),
the Debian packages scripts/setup.sh installs, and torch importable by the building Python:
    pip install --no-build-isolation ./python
The CMake build folder is python/build/cmake (kept between installs, so a rebuild compiles only
what changed; CMAKE_CXX_COMPILER_LAUNCHER=ccache is used when ccache is on PATH).

CUDA is automatic and optional: when torch was built with CUDA (torch.version.cuda) and nvcc
of the same CUDA major version is found ($CUDACXX, PATH, $CUDA_HOME/bin, /usr/local/cuda/bin),
the gnn CUDA kernels are built in (gearbox_gnn.cuda_built() is then True); otherwise the
package is CPU-only. GEARBOX_PY_CUDA=0 forces a CPU-only build, GEARBOX_PY_CUDA=1 makes a
missing or mismatched nvcc (or one CMake cannot use) an error instead of a CPU-only build.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _find_nvcc():
    for cand in (os.environ.get("CUDACXX"), shutil.which("nvcc"),
                 os.path.join(os.environ.get("CUDA_HOME", ""), "bin", "nvcc")
                 if os.environ.get("CUDA_HOME") else None, "/usr/local/cuda/bin/nvcc"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def _nvcc_version(nvcc):
    """(major, minor) from `nvcc --version`, or None when it does not run or say."""
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"release (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def cuda_compiler(torch):
    """The nvcc to build the CUDA kernels with, or None for a CPU-only build (see above)."""
    mode = os.environ.get("GEARBOX_PY_CUDA", "")
    if mode not in ("", "0", "1"):
        raise RuntimeError(f"GEARBOX_PY_CUDA must be 0 or 1, got {mode!r}")
    if mode == "0":
        return None
    why = None
    nvcc = _find_nvcc()
    if torch.version.cuda is None:
        why = f"torch {torch.__version__} was built without CUDA"
    elif nvcc is None:
        why = "nvcc was not found ($CUDACXX, PATH, $CUDA_HOME/bin, /usr/local/cuda/bin)"
    elif _nvcc_version(nvcc) is None:
        why = f"`{nvcc} --version` did not run or name a CUDA release"
    else:
        major = _nvcc_version(nvcc)[0]
        torch_major = int(torch.version.cuda.split(".")[0])
        if major != torch_major:
            why = (f"{nvcc} is CUDA {major} but torch was built with CUDA {torch.version.cuda} "
                   f"(one CUDA runtime per process: the majors must match)")
    if why is None:
        print(f"gearbox-gnn: building with CUDA ({nvcc}, torch CUDA {torch.version.cuda})",
              file=sys.stderr)
        return nvcc
    if mode == "1":
        raise RuntimeError(f"GEARBOX_PY_CUDA=1 but {why}")
    print(f"gearbox-gnn: building CPU-only: {why}", file=sys.stderr)
    return None


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        try:
            import torch
            from torch.utils import cpp_extension
        except ImportError as e:
            raise RuntimeError(
                "gearbox-gnn builds against the installed torch: install torch first and use "
                "`pip install --no-build-isolation ./python`") from e
        if not torch._C._GLIBCXX_USE_CXX11_ABI:
            raise RuntimeError("this torch was built with the pre-C++11 string ABI; gearbox's "
                               "libraries use the system's: install torch >= 2.7 from PyPI")
        if not (ROOT / "gnn" / "CMakeLists.txt").is_file():
            raise RuntimeError(f"gearbox sources not found beside {HERE} (build from a clone)")
        out = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build = Path(os.environ.get("GEARBOX_PY_BUILD_DIR", HERE / "build" / "cmake"))
        build.mkdir(parents=True, exist_ok=True)
        args = [
            "cmake", "-S", str(HERE), "-B", str(build),
            "-DTORCH_INCLUDE_DIRS=" + ";".join(cpp_extension.include_paths()),
            "-DTORCH_LIBRARY_DIR=" + cpp_extension.library_paths()[0],
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if os.environ.get("CI") == "true":
            args.append("-DGEARBOX_WERROR=ON")
        nvcc = cuda_compiler(torch)
        args.append(f"-DGEARBOX_PY_CUDA={'ON' if nvcc else 'OFF'}")
        if nvcc:
            args.append(f"-DCMAKE_CUDA_COMPILER={nvcc}")
        if shutil.which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
            if nvcc:
                args.append("-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache")
        if subprocess.run(args).returncode != 0:
            if not nvcc or os.environ.get("GEARBOX_PY_CUDA") == "1":
                raise RuntimeError("gearbox-gnn: CMake configuration failed (output above)")
            # nvcc was found but CMake could not use it: CUDA stays optional.
            print("gearbox-gnn: CMake could not configure CUDA (output above); building "
                  "CPU-only", file=sys.stderr)
            args = [a for a in args if not a.startswith(("-DGEARBOX_PY_CUDA=",
                                                         "-DCMAKE_CUDA_"))]
            subprocess.run(args + ["-DGEARBOX_PY_CUDA=OFF"], check=True)
        jobs = os.environ.get("GEARBOX_PY_JOBS", str(min(2, os.cpu_count() or 1)))
        subprocess.run(["cmake", "--build", str(build), "--target", "_C", "-j", jobs], check=True)


setup(ext_modules=[CMakeExtension("gearbox_gnn._C")], cmdclass={"build_ext": CMakeBuild})
