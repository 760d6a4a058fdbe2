"""The wheel as a worker installs it: every module imports from the installed
wheel in a fresh virtual environment (not from this checkout), with its
package data, and the wheel ships exactly the documented top-level names."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL = {"brandpulse", "listeners", "nlp", "indexing", "alerts"}  # README "Packaging"
DATA = [
    "indexing/templates/mentions.json",
    "alerts/templates/alert_email.html.j2",
    "brandpulse/analyst/templates/report.html.j2",
    "brandpulse/kibana/saved_objects/saved_objects.ndjson",
    "nlp/models/e5-sentiment/metrics.json",
]

CHECK = """
import importlib, json, pkgutil, sys
site = sys.argv[1]
seen, outside = [], []
for top in sys.argv[2].split(","):
    package = importlib.import_module(top)
    names = [top] + [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")]
    for name in names:
        module = importlib.import_module(name)
        seen.append(name)
        if not (module.__file__ or "").startswith(site):
            outside.append(f"{name}: {module.__file__}")
print(json.dumps({"seen": seen, "outside": outside}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [built] = out.glob("brandpulse-*.whl")
    return built


def test_the_wheel_ships_the_documented_top_level_names_and_data(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == TOP_LEVEL
    for path in DATA:
        assert path in names, f"{path} is missing from the wheel"
    assert not any(n.startswith(("tests/", "dags/", "benchmarks/", "tools/")) for n in names)


def test_every_module_imports_from_the_installed_wheel_in_a_fresh_venv(wheel: Path, tmp_path: Path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-compile",
            "--target",
            site,
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    # the third-party dependencies come from this environment, after the wheel
    (Path(site) / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [str(python), "-c", CHECK, site, ",".join(sorted(TOP_LEVEL))],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: nothing may come from it
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BRANDPULSE_STATE_DIR": str(tmp_path / "state")},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["outside"], result["outside"]
    assert {"brandpulse.tasks", "brandpulse.pipeline.ingest", "listeners.loop", "nlp.sentiment"} <= set(
        result["seen"]
    )
