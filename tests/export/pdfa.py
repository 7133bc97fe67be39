"""PDF/A checks with Apache PDFBox Preflight, the strongest PDF/A validator that installs from
the package registries here (Debian's libpdfbox2-java 2.0.27; veraPDF is on none of PyPI, npm
or Debian, and Maven Central is out of reach).

Preflight implements PDF/A-1b (ISO 19005-1). bewaar writes PDF/A-2b (ISO 19005-2), whose rules
are PDF/A-1b's minus some restrictions, so a PDF/A-2b file is checked against the stricter
PDF/A-1b rules and only the findings that are PDF/A-1-only rules are accepted:

  7.11.2  "part must be 1": the file identifies itself as part 2, as it must
  3.1.11  "CIDSet entry is missing": PDF/A-1 requires a CIDSet for subset CID fonts;
          ISO 19005-2 6.2.11.4.2 makes it optional (and a present one must be complete)

Any other finding fails the test. PDF/A-2-only rules that Preflight cannot know are checked by
the tests themselves (identification in XMP, output intent, embedded fonts, no .notdef: the
exporter writes characters without a glyph as [U+XXXX]).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

JARS = ("preflight", "pdfbox2", "xmpbox", "fontbox2", "commons-logging", "javax.activation", "jaxb-api")
JAVA_DIR = Path("/usr/share/java")
PDFA1_ONLY = (
    re.compile(r"^7\.11\.2 : .*part must be 1"),
    re.compile(r"^3\.1\.11 : .*The CIDSet entry is missing for the Composite Subset"),
)
INSTALL = "apt-get install libpdfbox2-java libactivation-java libjaxb-api-java default-jre-headless (make test-tools)"


@dataclass
class PreflightResult:
    report: str
    findings: list[str]
    unexpected: list[str]


def preflight(pdf: Path) -> PreflightResult:
    java = shutil.which("java")
    missing = [j for j in JARS if not (JAVA_DIR / f"{j}.jar").is_file()]
    if java is None or missing:
        raise AssertionError(f"PDFBox Preflight is not installed ({missing or 'java'} missing): {INSTALL}")
    cp = ":".join(str(JAVA_DIR / f"{j}.jar") for j in JARS)
    p = subprocess.run([java, "-cp", cp, "org.apache.pdfbox.preflight.Validator_A1b", str(pdf)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    report = p.stdout + p.stderr
    if "Exception" in report and "error(s)" not in report and "is a valid PDF/A-1b" not in report:
        raise AssertionError(f"Preflight did not run: {report[-2000:]}")
    findings = [line.strip() for line in report.splitlines() if re.match(r"^\s*\d+(\.\d+)+ : ", line)]
    unexpected = [f for f in findings if not any(rx.search(f) for rx in PDFA1_ONLY)]
    return PreflightResult(report, findings, unexpected)
