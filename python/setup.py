"""Builds gearbox_gnn._C with CMake (python/CMakeLists.txt) against the installed torch.

The build needs the repository around this folder (core/ and gnn/ sources, cmake/ modules),
the Debian packages scripts/setup.sh installs, and torch importable by the building Python:
    pip install --no-build-isolation ./python
The CMake build folder is python/build/cmake (kept between installs, so a rebuild compiles only
what changed; CMAKE_CXX_COMPILER_LAUNCHER=ccache is used when ccache is on PATH).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


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
        if shutil.which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        subprocess.run(args, check=True)
        jobs = os.environ.get("GEARBOX_PY_JOBS", str(min(2, os.cpu_count() or 1)))
        subprocess.run(["cmake", "--build", str(build), "--target", "_C", "-j", jobs], check=True)


setup(ext_modules=[CMakeExtension("gearbox_gnn._C")], cmdclass={"build_ext": CMakeBuild})
