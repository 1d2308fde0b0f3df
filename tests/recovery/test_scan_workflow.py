""".github/workflows/error-scan.yml: runs `uet scan` on push, pull requests and every 6
hours, and uploads the SARIF file that the scan writes."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).parent.parent.parent / ".github" / "workflows" / "error-scan.yml"


def test_the_error_scan_workflow_scans_and_uploads_its_sarif() -> None:
    """Triggers, the scan step's --sarif file, upload-sarif of that file, write permission."""
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = data[True]  # YAML 1.1 reads the key `on` as true
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"].split()[1] == "*/6"
    job = data["jobs"]["scan"]
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    scan = next(s for s in steps if "uet" in s.get("run", "") and " scan " in s["run"])
    assert "--sarif uet-scan.sarif" in scan["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith(
        "github/codeql-action/upload-sarif"))  # fmt: skip
    assert upload["with"]["sarif_file"] == "uet-scan.sarif"
    assert "always()" in upload["if"]
