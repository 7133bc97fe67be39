"""The evidence report: one self-contained HTML file a lawyer can read and a court can keep.

It holds no scripts and loads nothing (a Content-Security-Policy forbids it); screenshots are
embedded as data: URIs straight from the verified WARC records. Every value that came from an
archived file is HTML-escaped: captured pages are hostile input too.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from bewaar import SOFTWARE
from signing.keys import utcnow
from signing.report import FAIL, PASS, SKIP, UNSIGNED, WARN, Report, Subject

MAX_EMBEDDED_SCREENSHOTS = 40

_CSS = """
body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.25rem;border-bottom:1px solid #999;margin-top:2rem}
h3{font-size:1.05rem} table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#f0f0f0;width:14rem} code{font-family:Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.pass{color:#0a6b0a;font-weight:bold}.fail{color:#b00000;font-weight:bold}.warn{color:#8a5a00;font-weight:bold}
.skip{color:#666}.unsigned{color:#8a5a00;font-weight:bold}.verdict{font-size:1.3rem;padding:.6rem 1rem;border:2px solid;display:inline-block}
figure{margin:1rem 0;border:1px solid #ccc;padding:.5rem} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#333} .small{font-size:.85rem;color:#444}
"""

_WORDS = {PASS: "passed", FAIL: "FAILED", WARN: "warning", SKIP: "not checked", UNSIGNED: "not signed"}


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _facts_table(s: Subject) -> str:
    rows = [
        ("SHA-256 of the file", s.facts.get("sha256"), True),
        ("Size", f"{s.facts['size']:,} bytes" if isinstance(s.facts.get("size"), int) else None, False),
        ("Records", s.facts.get("records"), False),
        ("First / last capture time",
         " / ".join(x for x in (s.facts.get("first_record_date"), s.facts.get("last_record_date")) if x) or None,
         False),
        ("Signed by", s.facts.get("signer_dn") or s.facts.get("signer"), False),
        ("Signer certificate SHA-256", s.facts.get("signer_fingerprint"), True),
        ("Issued by", s.facts.get("signer_issuer"), False),
        ("Signing time (signer's clock)", s.facts.get("signed_at"), False),
        ("Trusted time (RFC 3161 TSA)", s.facts.get("tsa_time") or (
            "pending: no trusted timestamp yet" if s.facts.get("timestamp") == "pending" else None), False),
        ("Time Stamping Authority", s.facts.get("tsa"), False),
        ("TSA certificate SHA-256", s.facts.get("tsa_fingerprint"), True),
        ("Evidence renewals (later timestamps)", s.facts.get("renewals") or None, False),
        ("Signer certificate revocation", s.facts.get("signer_revocation"), False),
        ("Signing software", s.facts.get("software") or s.facts.get("signing_software"), False),
        ("WACZ created", s.facts.get("created") if s.kind == "wacz" else None, False),
    ]
    out = []
    for label, value, mono in rows:
        if value in (None, ""):
            continue
        cell = f"<code>{_e(value)}</code>" if mono else _e(value)
        out.append(f"<tr><th>{_e(label)}</th><td>{cell}</td></tr>")
    return "<table>" + "".join(out) + "</table>" if out else ""


def _checks_table(s: Subject) -> str:
    rows = "".join(
        f"<tr><td>{c.number}. {_e(c.name)}</td><td class='{c.status}'>{_WORDS[c.status]}</td>"
        f"<td>{_e(c.detail)}</td></tr>"
        for c in s.checks
    )
    return f"<table><tr><th>Check</th><th style='width:7rem'>Outcome</th><th>Details</th></tr>{rows}</table>"


def _pages_table(s: Subject) -> str:
    if not s.pages:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p.url)}</code>{('<br>' + _e(p.title)) if p.title else ''}</td>"
        f"<td>{_e(p.time)}</td><td>{_e(p.status if p.status is not None else '')}</td></tr>"
        for p in s.pages
    )
    return (
        "<h3>What was captured</h3><table><tr><th>URL (address)</th><th style='width:11rem'>"
        f"Capture time (UTC)</th><th style='width:5rem'>HTTP status</th></tr>{rows}</table>"
    )


def _summary(report: Report) -> str:
    files = [s for s in report.subjects if s.kind in ("warc", "wacz")]
    signers = sorted({str(s.facts["signer_dn"]) for s in files if s.facts.get("signer_dn")})
    tsas = sorted({str(s.facts["tsa"]) for s in files if s.facts.get("tsa")})
    times = sorted(str(s.facts["tsa_time"]) for s in files if s.facts.get("tsa_time"))
    captured = sorted(
        t for s in files for t in (s.facts.get("first_record_date"), s.facts.get("last_record_date")) if t
    )
    urls = {p.url for s in report.subjects for p in s.pages}
    rows = [
        ("Files examined", f"{len(files)} ({sum(1 for s in files if s.kind == 'wacz')} WACZ package(s))"),
        ("Pages listed", str(len(urls)) if urls else None),
        ("Captured between", f"{captured[0]} and {captured[-1]} (UTC)" if captured else None),
        ("Signed by", "; ".join(signers) or None),
        ("Time Stamping Authority", "; ".join(tsas) or None),
        ("Trusted times", f"{times[0]} to {times[-1]} (UTC)" if len(times) > 1 else (times[0] if times else None)),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    return f"<h2>Summary</h2><table>{body}</table>"


def render(report: Report, title: str = "Evidence report") -> str:
    verdict_class = (FAIL if report.failures() else UNSIGNED if report.unsigned()
                     else WARN if report.warnings() else PASS)
    shots_left = MAX_EMBEDDED_SCREENSHOTS
    sections = []
    for s in report.subjects:
        part = [f"<h2>{_e(Path(s.path).name if s.kind != 'warc' or ':' not in s.path else s.path.rsplit(':', 1)[-1])}"
                f" <span class='small'>({_e(s.kind)})</span></h2>",
                f"<p class='small'>Location: <code>{_e(s.path)}</code></p>",
                _facts_table(s), _pages_table(s)]
        if s.screenshots:
            part.append("<h3>Screenshots recorded at capture time</h3>")
            for shot in s.screenshots:
                if shots_left <= 0:
                    part.append("<p class='small'>More screenshots are in the WARC; this report shows the first "
                                f"{MAX_EMBEDDED_SCREENSHOTS}.</p>")
                    break
                shots_left -= 1
                data = base64.b64encode(shot["png"]).decode("ascii")
                part.append(
                    f"<figure><img alt='Screenshot of {_e(shot['url'])}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>Screenshot of <code>{_e(shot['url'])}</code>, recorded {_e(shot['time'])} "
                    "(taken from the WARC record whose digest was verified above).</figcaption></figure>"
                )
        part.append("<h3>Checks</h3>" + _checks_table(s))
        sections.append("\n".join(p for p in part if p))
    first = report.first_problem()
    first_text = (
        f"<p>First failure: <code>{_e(first[0].path)}</code>, check {first[1].number} "
        f"({_e(first[1].name)}): {_e(first[1].detail)}</p>" if first else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{_e(title)}</title><style>{_CSS}</style></head><body>
<h1>{_e(title)}</h1>
<p class="small">Made by {_e(SOFTWARE)} on {utcnow():%Y-%m-%d %H:%M:%S} UTC. This report describes web
captures stored as WARC files (ISO 28500) and checks that they are exactly the files that were signed.</p>
<p class="verdict {verdict_class}">Result: {_e(report.verdict)}</p>
{first_text}
{_summary(report)}
<h2>How to read this report</h2>
<ol class="small">
<li><b>Record digests</b>: each stored web response carries a fingerprint (hash) of its content; every one was recomputed.</li>
<li><b>File integrity</b>: the fingerprint of each whole file equals the one that was signed, and no file is missing or added.</li>
<li><b>Signature</b>: the signature was made with the key of the named signer, whose certificate is trusted by the verifier.</li>
<li><b>Timestamp</b>: an independent Time Stamping Authority (RFC 3161) confirms the signature existed at the stated time. The signer's certificate is judged at that time, so a certificate that has expired since does not matter; later timestamps (evidence renewals) keep that proof standing after the authority's own certificate expires.</li>
<li><b>Package</b>: for WACZ packages, the package's own table of contents and its indexes agree with the files.</li>
</ol>
{"".join(sections)}
</body></html>
"""


def write(report: Report, path: Path, title: str = "Evidence report") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(report, title), encoding="utf-8")
    tmp.replace(path)
    return path
