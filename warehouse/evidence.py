"""The raw archive checked against raw_documents: every archived document read back and re-hashed.

raw_documents vouches for each document's sha256 (price history and events cite it as evidence), so a file that went
missing, was cut short or was overwritten must be found, not trusted."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llmflation.warehouse import archive, db

PAGE = 5000  # raw_documents rows read per short read-only connection
KINDS = ("missing", "truncated", "mismatched")


@dataclass(frozen=True)
class Finding:
    """One archived document that no longer holds what raw_documents says."""

    path: str
    sha256: str
    size: int | None
    damage: archive.Damage

    def __str__(self) -> str:
        return f"{self.path}: {self.damage}"


@dataclass
class Verification:
    """What a verification found: documents checked, the damaged ones, and those a repair restored."""

    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    restored: list[Finding] | None = None  # None: no repair was tried

    @property
    def damaged(self) -> list[Finding]:
        """The findings still damaged (not restored)."""
        restored = {finding.sha256 for finding in self.restored or ()}
        return [finding for finding in self.findings if finding.sha256 not in restored]

    def summary(self) -> str:
        """One line: how many were checked and what was wrong with them."""
        if not self.findings:
            return f"{self.checked} raw documents checked: all intact"
        kinds = Counter(finding.damage.kind for finding in self.findings)
        found = ", ".join(f"{kinds[kind]} {kind}" for kind in KINDS if kinds[kind])
        line = f"{self.checked} raw documents checked: {self.checked - len(self.findings)} intact, {found}"
        if self.restored is not None:
            line += f"; {len(self.restored)} restored, {len(self.damaged)} still damaged"
        return line

    def as_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "damaged": [str(finding) for finding in self.damaged],
            "restored": [str(finding) for finding in self.restored or ()],
        }


def count(db_path: Path) -> int:
    """How many documents raw_documents records."""
    con = db.connect(db_path, read_only=True, wait_s=60)
    try:
        return int(con.execute("SELECT count(*) FROM raw_documents").fetchall()[0][0])
    finally:
        con.close()


def documents(db_path: Path, page: int = PAGE) -> Iterator[tuple[str, str, int | None]]:
    """(path, sha256, bytes) of every archived document in path order (a pack's members one after another), read a
    page at a time on short read-only connections, so that a run is never kept waiting for a long verification."""
    after = ""
    while True:
        con = db.connect(db_path, read_only=True, wait_s=60)
        try:
            rows = con.execute(
                "SELECT path, sha256, bytes FROM raw_documents WHERE path > ? ORDER BY path LIMIT ?", [after, page]
            ).fetchall()
        finally:
            con.close()
        if not rows:
            return
        yield from rows
        after = rows[-1][0]


def verify(db_path: Path, data_dir: Path, on_document: Callable[[Finding | None], None] | None = None) -> Verification:
    """Re-hash every archived document against raw_documents; on_document hears of each one (its Finding, or None
    when it is intact)."""
    result = Verification()
    for path, sha256, size in documents(db_path):
        damage = archive.check(data_dir, path, sha256, size)
        finding = Finding(path, sha256, size, damage) if damage else None
        result.checked += 1
        if finding:
            result.findings.append(finding)
        if on_document:
            on_document(finding)
    return result


def restore(data_dir: Path, finding: Finding, content: bytes) -> bool:
    """Rewrite a damaged document that has a file of its own from content fetched again, if that is the same document
    (same sha256); whether it is intact now. A pack member is never rewritten in place."""
    codec = finding.path.rsplit(".", 1)[-1]
    if codec not in archive.CODECS or finding.path != archive.raw_path(finding.sha256, codec):
        return False
    if hashlib.sha256(content).hexdigest() != finding.sha256:
        return False
    archive.store(data_dir, finding.sha256, content, codec=codec)  # it finds the damaged copy and replaces it
    return archive.check(data_dir, finding.path, finding.sha256, finding.size) is None
