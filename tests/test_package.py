"""The package: one importable name, llmflation, a wheel built without warnings, and prefect.yaml still deploying."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import llmflation
from llmflation.flows.local_server import local_prefect_server
from tests.helpers import ROOT


def _python(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel `pip wheel .` builds, and everything pip and the build backend printed (-v)."""
    out = tmp_path_factory.mktemp("wheel")
    # from a copy without what builds and runs leave behind (build/, a virtualenv, the warehouse), as a release
    tree = out / "tree"
    top = {".git", ".venv", "build", "data", "report.html"}

    def litter(folder: str, names: list[str]) -> set[str]:
        left = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", "_cache"))}
        return left | (top & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, tree, ignore=litter)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "-w", str(out), "-v"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("llmflation-*.whl")
    return built, done.stdout + done.stderr


def test_the_wheel_builds_without_warnings(wheel: tuple[Path, str]) -> None:
    _, printed = wheel
    # pip's own notes about this machine's package index are not the build's
    warnings = [line for line in printed.splitlines() if "warn" in line.lower() and "Location 'file:" not in line]
    assert warnings == []


def test_the_wheel_installs_one_package_with_its_license_and_metadata(wheel: tuple[Path, str]) -> None:
    built, _ = wheel
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        info = f"llmflation-{llmflation.__version__}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
    assert {name.split("/")[0] for name in names} == {"llmflation", info}
    for part in (
        "py.typed",
        "__main__.py",
        "flows/cli.py",
        "flows/templates/report.html.j2",
        "extractors/sources/openai.py",
        "warehouse/db.py",
    ):
        assert f"llmflation/{part}" in names
    for data in ("views/15_offers.sql", "migrations/0001_ledger.sql", "data/landmark_prices.csv", "data/contract.csv"):
        assert f"llmflation/warehouse/{data}" in names
    assert f"{info}/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Typing :: Typed" in metadata and "Project-URL: Source, " in metadata


def test_only_llmflation_is_importable_from_the_wheel(wheel: tuple[Path, str], tmp_path: Path) -> None:
    built, _ = wheel
    with zipfile.ZipFile(built) as archive:
        archive.extractall(tmp_path / "site")
    # -S: no site-packages, so nothing but the wheel's files (and the standard library) can be imported
    code = f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); "
    for name in ("flows", "extractors", "warehouse"):
        failed = _python(code + f"import {name}", tmp_path, "-S")
        assert failed.returncode == 1 and f"No module named '{name}'" in failed.stderr
    found = _python(code + "import llmflation.flows, llmflation.warehouse as w; print(w.__file__)", tmp_path, "-S")
    assert found.returncode == 0 and found.stdout.startswith(str(tmp_path / "site" / "llmflation")), found.stderr


def test_the_installed_package_answers_to_its_name_only(tmp_path: Path) -> None:
    # outside the repository, as an installed package (this test environment installs it)
    assert "No module named 'flows'" in _python("import flows", tmp_path).stderr
    version = _python("import llmflation.flows.cli, llmflation; print(llmflation.__version__)", tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == llmflation.__version__
    helped = subprocess.run(
        [sys.executable, "-m", "llmflation", "--help"], cwd=tmp_path, capture_output=True, text=True
    )
    assert helped.returncode == 0 and helped.stdout.startswith("Usage: python -m llmflation ")


@pytest.mark.e2e
def test_prefect_deploys_every_deployment_of_prefect_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with local_prefect_server(tmp_path / "server.log") as url:
        env = {**os.environ, "PREFECT_API_URL": url}

        def prefect(*args: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "prefect", *args]
            return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

        assert prefect("work-pool", "create", "llmflation", "--type", "process").returncode == 0
        deployed = prefect("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        listed = subprocess.run(
            [sys.executable, "-c", _LIST_DEPLOYMENTS], env=env, capture_output=True, text=True, timeout=120
        )
    assert listed.returncode == 0, listed.stderr[-2000:]
    found = sorted(json.loads(listed.stdout))
    assert found == [
        ["track-adoption", "nightly", "flows/adoption.py:track_adoption"],
        ["track-prices", "nightly", "flows/pricing.py:track_prices"],
        ["verify-archive", "weekly", "flows/verify.py:verify_archive"],
    ]


_LIST_DEPLOYMENTS = """
import asyncio, json
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as client:
        deployments = await client.read_deployments()
        flows = {f.id: f.name for f in await client.read_flows()}
        print(json.dumps([[flows[d.flow_id], d.name, d.entrypoint] for d in deployments]))

asyncio.run(main())
"""
