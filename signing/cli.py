"""Sub-commands: keys, sign, package, verify."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

from bewaar.config import SigningConfig, load_root_config, parse_duration
from bewaar.errors import FAILED, OK, InputError
from bewaar.lock import collection_dir_of, collection_lock
from bewaar.model import WARC_SUFFIX, VolatileParameters
from signing import api, keys, ledger, manifest, renewal, sign, trust, verify


def _root_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", type=Path, default=Path("."), metavar="DIR",
                   help="the bewaar root (bewaar.yaml, keys/, trust/, collections/); default: .")


def _cfg(args: argparse.Namespace) -> SigningConfig:
    return load_root_config(args.root).signing


def register(sub: argparse._SubParsersAction) -> None:
    # ---------------------------------------------------------------- keys
    k = sub.add_parser("keys", help="signing identity and trusted roots")
    ksub = k.add_subparsers(dest="keys_command", metavar="ACTION")
    ksub.required = True

    init = ksub.add_parser(
        "init",
        help="create a signing key + certificate (self-managed), or adopt an organisation's",
        description="Without --key/--cert: a new ECDSA P-256 key and a self-signed certificate. "
        "With --key and --cert: your organisation's key and certificate chain (leaf first). "
        "The certificate (or the chain's root) is added to the root's trusted roots.",
    )
    _root_arg(init)
    init.add_argument("--dir", type=Path, help="where to write the key and certificate (default: ROOT/keys)")
    init.add_argument("--key", type=Path, help="an existing ECDSA private key (PEM) of your organisation")
    init.add_argument("--cert", type=Path, help="its certificate chain (PEM, leaf first, root last)")
    init.add_argument("--name", help="common name for a self-managed certificate")
    init.add_argument("--organisation", help="organisation name for a self-managed certificate")
    init.add_argument("--tsa-url", help="also set the RFC 3161 Time Stamping Authority URL")
    init.set_defaults(func=cmd_keys_init)

    tr = ksub.add_parser("trust", help="trust a root certificate for signers (default) or TSAs")
    _root_arg(tr)
    tr.add_argument("pem", type=Path, help="a PEM certificate file")
    tr.add_argument("--tsa", action="store_true", help="trust it as a TSA root instead")
    tr.set_defaults(func=cmd_keys_trust)

    tsa = ksub.add_parser("tsa", help="set the Time Stamping Authority URL (and trust its root)")
    _root_arg(tsa)
    tsa.add_argument("url", help="the TSA's URL, e.g. https://freetsa.org/tsr")
    tsa.add_argument("--trust-root", type=Path, metavar="PEM", help="the TSA's root certificate")
    tsa.set_defaults(func=cmd_keys_tsa)

    show = ksub.add_parser("show", help="show the signing identity, TSA and trusted roots")
    _root_arg(show)
    show.set_defaults(func=cmd_keys_show)

    # ---------------------------------------------------------------- sign
    s = sub.add_parser("sign", help="sign finished WARC files (writes NAME.warc.gz.sig.json)")
    _root_arg(s)
    s.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="WARC files or collection directories (with --renew also collection "
                   "names; default: every collection of the root)")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--retimestamp", action="store_true",
                      help="add the missing RFC 3161 timestamp to manifests marked 'timestamp pending'")
    mode.add_argument("--renew", action="store_true",
                      help="evidence renewal: add a new timestamp over each file's hash and its newest "
                      "timestamp, so the proof outlives the TSA certificate (run before it expires)")
    s.add_argument("--due", metavar="DURATION",
                   help="with --renew: only files whose newest timestamp expires within DURATION "
                   "(e.g. 90d, 12w), for cron")
    s.add_argument("--tsa-url", help="use this TSA instead of signing.tsa_url")
    s.set_defaults(func=cmd_sign)

    # ---------------------------------------------------------------- package
    # `bewaar package` is registered by the application layer (bewaar/app/package.py), which
    # checks the root's access restrictions first, with add_package_arguments and cmd_package.

    # ---------------------------------------------------------------- verify
    v = sub.add_parser(
        "verify",
        help="prove WARCs, collections or WACZ packages are unmodified, signed and timestamped",
        description="Checks: 1 record digests, 2 file integrity, 3 signature and trust, "
        "4 RFC 3161 timestamp, 5 WACZ package. Exit 0 all pass, 1 a check failed, "
        "2 input unreadable.",
    )
    _root_arg(v)
    v.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="WARC, WACZ or collection directory (default: every collection of the root)")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.add_argument("--report", type=Path, metavar="FILE.html", help="write a self-contained evidence report")
    v.add_argument("--strict", action="store_true", help="warnings (e.g. timestamp pending) fail too")
    v.add_argument("--trusted-roots", type=Path, metavar="FILE",
                   help="signer trust anchors (PEMs/fingerprints); default: signing.trusted_roots")
    v.add_argument("--trusted-tsa-roots", type=Path, metavar="FILE",
                   help="TSA trust anchors; default: signing.trusted_tsa_roots")
    v.add_argument("--roots", type=Path, metavar="ROOTS.yaml",
                   help="an authsign roots.yaml (sha-256 fingerprints of domain and timestamp "
                   "roots): trust its domain roots for signers and its timestamp roots for TSAs")
    v.set_defaults(func=cmd_verify)

    # ---------------------------------------------------------------- ledger
    led = sub.add_parser("ledger", help="a collection's signed ledger: what was added and what "
                         "was lawfully removed")
    lsub = led.add_subparsers(dest="ledger_command", metavar="ACTION")
    lsub.required = True
    up = lsub.add_parser("update", help="start the ledger of collections that have none (from the "
                         "files present, marked as such) and add signed WARCs it does not list yet")
    _root_arg(up)
    up.add_argument("collections", nargs="*", metavar="COLLECTION",
                    help="collection names (default: every collection of the root)")
    up.set_defaults(func=cmd_ledger_update)
    seal = lsub.add_parser("seal", help="add a signed, timestamped seal (e.g. when the last one's "
                           "timestamp stayed pending)")
    _root_arg(seal)
    seal.add_argument("collections", nargs="+", metavar="COLLECTION")
    seal.set_defaults(func=cmd_ledger_seal)
    show = lsub.add_parser("show", help="print a collection's ledger, one event a line")
    _root_arg(show)
    show.add_argument("collection", metavar="COLLECTION")
    show.add_argument("--json", action="store_true", help="the ledger's own lines")
    show.set_defaults(func=cmd_ledger_show)


# --------------------------------------------------------------------------- keys


def cmd_keys_init(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    cfg, message = api.init_keys(
        args.root, cfg, directory=args.dir, org_key=args.key, org_cert=args.cert,
        common_name=args.name, organisation=args.organisation,
    )
    print(message)
    if args.tsa_url:
        api.set_tsa_url(args.root, args.tsa_url)
        print(f"TSA: {args.tsa_url}")
    return OK


def cmd_keys_trust(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    cert = keys.load_certificates(args.pem)[0]
    target = api.resolve(args.root, cfg.trusted_tsa_roots if args.tsa else cfg.trusted_roots)
    added = trust.add_trusted(target, cert, "TSA root" if args.tsa else "signer root")
    state = "now trusted" if added else "already trusted"
    print(f"'{keys.subject_name(cert)}' (sha256 {keys.fingerprint(cert)}) {state} in {target}")
    return OK


def cmd_keys_tsa(args: argparse.Namespace) -> int:
    cfg = api.set_tsa_url(args.root, args.url)
    print(f"TSA set to {args.url}")
    if args.trust_root:
        api.trust_tsa_root(args.root, cfg, args.trust_root)
        print(f"trusted TSA root from {args.trust_root} in {api.resolve(args.root, cfg.trusted_tsa_roots)}")
    return OK


def cmd_keys_show(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    identity = api.load_identity(args.root, cfg)
    cert = identity.certificate
    print(f"signer:       {cert.subject.rfc4514_string()}")
    print(f"fingerprint:  sha256 {keys.fingerprint(cert)}")
    print(f"valid:        {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}")
    print(f"chain:        {' <- '.join(keys.subject_name(c) for c in identity.chain)}")
    print(f"TSA:          {cfg.tsa_url or '(none: timestamps stay pending)'}")
    for label, rel in (("trusted roots", cfg.trusted_roots), ("TSA roots", cfg.trusted_tsa_roots)):
        role = "tsa" if rel == cfg.trusted_tsa_roots else "signer"
        print(f"{label + ':':<14}{trust.load_trust(api.resolve(args.root, rel), role).describe()}")
    return OK


# --------------------------------------------------------------------------- sign


def _warcs_for(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            archive = p / "archive" if (p / "archive").is_dir() else p
            found = sorted(x for x in archive.iterdir() if x.name.endswith((WARC_SUFFIX, ".warc")))
            if not found:
                raise InputError(f"{p}: no WARC files found")
            out.extend(found)
        elif not p.exists():
            raise InputError(f"{p}: file not found")
        else:
            out.append(p)
    return out


def _renew(args: argparse.Namespace, cfg: SigningConfig, tsa_url: str | None) -> int:
    due = None
    if args.due:
        try:
            due = dt.timedelta(seconds=parse_duration(args.due))
        except ValueError as e:
            raise InputError(f"--due: {e}") from None
    # collection names (as `bewaar package` takes them) or paths; none: every collection
    named = [args.root / "collections" / str(p) if not p.exists() and len(p.parts) == 1
             and (args.root / "collections" / str(p) / "archive").is_dir() else p for p in args.paths]
    paths = named or [args.root / "collections" / c.name for c in
                      sorted((args.root / "collections").glob("*")) if (c / "archive").is_dir()]
    if not paths:
        raise InputError(f"{args.root}: no collections to renew (give WARCs or collection directories)")
    pool = api.tsa_pool(args.root, cfg)
    chain = api.load_identity(args.root, cfg).chain if api.resolve(args.root, cfg.key).exists() else []
    counts = {"renewed": 0, "not due": 0, "pending": 0, "refused": 0}
    warcs = _warcs_for(paths)
    renewed: list[Path] = []
    with _writer_locks(warcs):  # renewal rewrites manifests in archive/
        for w in warcs:
            r = renewal.renew(w, tsa_url, cfg.tsa_timeout, tsa_pool=pool, signer_chain=chain,
                              due=due, fetch_revocation=cfg.fetch_revocation)  # fmt: skip
            counts[r.state] += 1
            if r.state != "not due":
                print(f"{w.name}: {r.state}: {r.message}")
            if r.state == "renewed":
                renewed.append(w)
        _ledger_events(args.root, cfg, warcs, renewed, "renewed")
    print(f"renewal: {counts['renewed']} renewed, {counts['not due']} not due, "
          f"{counts['pending']} waiting for a TSA or a first timestamp, {counts['refused']} refused")
    return FAILED if counts["pending"] or counts["refused"] else OK


def cmd_sign(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    tsa_url = args.tsa_url or cfg.tsa_url
    if args.due and not args.renew:
        raise InputError("--due only makes sense with --renew")
    if args.renew:
        return _renew(args, cfg, tsa_url)
    if not args.paths:
        raise InputError("give WARC files or collection directories to sign")
    warcs = _warcs_for(args.paths)
    pool = api.tsa_pool(args.root, cfg)
    with _writer_locks(warcs):
        if args.retimestamp:
            done: list[Path] = []
            code = _retimestamp_all(warcs, cfg, tsa_url, pool, done)
            _ledger_events(args.root, cfg, warcs, done, "retimestamped")
            return code
        identity = api.load_identity(args.root, cfg)
        code = _sign_all(warcs, cfg, identity, tsa_url, pool)
        _ledger_events(args.root, cfg, warcs, [], "added")
        return code


def _ledger_events(root: Path, cfg: SigningConfig, warcs: list[Path], changed: list[Path],
                   event: str) -> None:
    """Each collection touched: its ledger records the WARCs new to it, and `event` for the
    manifests that changed (renewed, retimestamped), under one seal per collection."""
    by_collection: dict[Path, list[Path]] = {}
    for w in warcs:
        d = collection_dir_of(w)
        if d is not None:
            by_collection.setdefault(d, [])
    for w in changed:
        d = collection_dir_of(w)
        if d is not None:
            by_collection[d].append(w)
    for d, files in sorted(by_collection.items()):
        extra = []
        for w in files:
            m = manifest.load_for(w)
            mbytes = m.path.read_bytes() if m.path else b""
            extra.append({"event": event, "file": w.name,
                          "manifest_file_sha256": hashlib.sha256(mbytes).hexdigest(),
                          "renewals": len(m.renewals),
                          "tsa_time": (m.renewals[-1].get("time") if m.renewals
                                       else m.timestamp.get("time", ""))})
        pos = api.update_ledger(root, cfg, d, extra=extra)
        if pos is not None:
            print(f"ledger of {d.name}: {_sealed(pos)}")


def _writer_locks(warcs: list[Path]) -> contextlib.ExitStack:
    """One writer per collection (bewaar/lock.py): signing writes manifests into archive/,
    so it waits for no crawl but stops (exit 3) while one of the collections is written."""
    stack = contextlib.ExitStack()
    with stack:
        for d in sorted({c for w in warcs if (c := collection_dir_of(w)) is not None}):
            stack.enter_context(collection_lock(d))
        return stack.pop_all()


def _retimestamp_all(warcs: list[Path], cfg: SigningConfig, tsa_url: str | None, pool: object,
                     done: list[Path]) -> int:
    pending = 0
    for w in warcs:
        r = sign.retimestamp(w, tsa_url, cfg.tsa_timeout, tsa_pool=pool,
                             fetch_revocation=cfg.fetch_revocation)  # fmt: skip
        if r.skipped:
            print(f"{w.name}: already timestamped")
        elif r.timestamp == "granted":
            done.append(w)
            print(f"{w.name}: timestamp added")
        else:
            pending += 1
            print(f"{w.name}: timestamp still pending: {r.reason}")
    return FAILED if pending else OK


def _sign_all(
    warcs: list[Path], cfg: SigningConfig, identity: keys.Identity, tsa_url: str | None, pool: object
) -> int:
    pending = 0
    for w in warcs:
        r = sign.sign_warc_file(w, identity, tsa_url, cfg.tsa_timeout, tsa_pool=pool,
                                fetch_revocation=cfg.fetch_revocation)  # fmt: skip
        if r.skipped:
            print(f"{w.name}: already signed ({r.manifest.name}, timestamp {r.timestamp})")
            continue
        line = f"{w.name}: signed {r.records} records -> {r.manifest.name}"
        if r.timestamp == "granted":
            line += ", timestamp granted"
        else:
            pending += 1
            line += f", timestamp pending ({r.reason})"
        print(line)
    if pending:
        print(f"{pending} file(s) await a timestamp: run `bewaar sign --retimestamp` when the TSA is reachable",
              file=sys.stderr)
    return OK


# --------------------------------------------------------------------------- package


def add_package_arguments(p: argparse.ArgumentParser) -> None:
    _root_arg(p)
    p.add_argument("collection", help="collection name")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.wacz")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="only WARCs/pages captured from DATE (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="only WARCs/pages captured up to DATE")
    p.add_argument("--title", help="package title (default: the collection name)")


def cmd_package(args: argparse.Namespace, volatile: VolatileParameters | None = None) -> int:
    """`volatile`: request parameters to leave out of the index keys (signing/wacz.py); the
    application layer passes what replay learned from the collection."""
    cfg = _cfg(args)
    from signing import wacz  # pulls in cdxj-indexer; only `package` needs it

    r = wacz.package(args.root, cfg, args.collection, args.output, args.date_from, args.date_to, args.title,
                     volatile=volatile)  # fmt: skip
    print(f"wrote {r.path}: {len(r.warcs)} WARC file(s), {r.pages} page(s), signed; timestamp {r.timestamp}"
          + (f" ({r.reason})" if r.reason else ""))
    if r.timestamp != "granted":
        print("warning: the package has no trusted timestamp, so authsign and `bewaar verify --strict` "
              "will not accept it; package again when the TSA is reachable", file=sys.stderr)
    return OK


# --------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    signer_file = args.trusted_roots or args.roots or api.resolve(args.root, cfg.trusted_roots)
    tsa_file = args.trusted_tsa_roots or args.roots or api.resolve(args.root, cfg.trusted_tsa_roots)
    for f in (args.roots, args.trusted_roots, args.trusted_tsa_roots):
        if f is not None and not f.exists():
            raise InputError(f"{f}: trusted-roots file not found")
    policy = verify.Policy(
        signer_trust=trust.load_trust(signer_file, "signer"),
        tsa_trust=trust.load_trust(tsa_file, "tsa"),
        max_delay=cfg.max_timestamp_delay,
        strict=args.strict,
        evidence=args.report is not None,
    )
    paths = args.paths or [args.root]
    report = verify.verify_paths(paths, policy)
    if args.report:
        from signing import evidence

        evidence.write(report, args.report)
    if args.json:
        print(report.as_json())
    else:
        print(report.human())
        if args.report:
            print(f"evidence report: {args.report}")
    return report.exit_code


# --------------------------------------------------------------------------- ledger


def _collection_dirs(root: Path, names: list[str]) -> list[Path]:
    base = root / "collections"
    if not names:
        found = sorted(c for c in base.glob("*") if (c / "archive").is_dir()) if base.is_dir() else []
        if not found:
            raise InputError(f"{root}: no collections")
        return found
    out = []
    for n in names:
        if not (base / n / "archive").is_dir():
            raise InputError(f"no collection '{n}' in {root}")
        out.append(base / n)
    return out


def cmd_ledger_update(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    for d in _collection_dirs(args.root, args.collections):
        with collection_lock(d):
            started = not ledger.ledger_file(d).exists()
            pos = api.update_ledger(args.root, cfg, d)
        if pos is None:
            print(f"{d.name}: ledger up to date")
        else:
            how = "started from the files present" if started else "updated"
            print(f"{d.name}: ledger {how}; {_sealed(pos)}")
    return OK


def cmd_ledger_seal(args: argparse.Namespace) -> int:
    cfg = _cfg(args)
    for d in _collection_dirs(args.root, args.collections):
        if not ledger.ledger_file(d).exists():
            raise InputError(f"{d.name} has no ledger yet: run `bewaar ledger update {d.name}`")
        with collection_lock(d):
            pos = ledger.append(d, [], api.ledger_signer(args.root, cfg))
        print(f"{d.name}: {_sealed(pos)}")
    return OK


def cmd_ledger_show(args: argparse.Namespace) -> int:
    (d,) = _collection_dirs(args.root, [args.collection])
    lines = ledger.load(d)
    if not lines:
        raise InputError(f"{d.name} has no ledger yet: run `bewaar ledger update {d.name}`")
    for ln in lines:
        if args.json:
            print(ln.raw.decode("utf-8", "replace"))
            continue
        e = ln.data or {}
        print(f"{ln.number:>5} {e.get('time', '')} {_describe_event(e) if ln.data else ln.error}")
    return OK


def _sealed(pos: dict[str, object]) -> str:
    """`sealed at line 12` (+ why not timestamped yet)."""
    pending = pos.get("timestamp") != "granted"
    return f"sealed at line {pos['line']}" + (", seal timestamp pending" if pending else ", timestamped")


def _describe_event(e: dict[str, object]) -> str:
    ev = e.get("event")
    f = e.get("file", "")
    if ev == "started":
        return ("started" + (" from the files then present (nothing proves what came before)"
                             if e.get("from_existing") else ""))
    if ev == "added":
        return f"added {f} sha256 {e.get('sha256')}" + (" (present when the ledger started)"
                                                          if e.get("existing") else "")
    if ev in ("renewed", "retimestamped"):
        return f"{ev} {f} (TSA time {e.get('tsa_time')})"
    if ev == "record":
        return f"filed {e.get('kind')} record {e.get('record')} (sha256 {e.get('sha256')})"
    if ev == "destroyed":
        return f"destroyed {f} sha256 {e.get('sha256')} under record {e.get('record')}"
    if ev == "replaced":
        n = len(e.get("removed") or [])  # type: ignore[arg-type]
        return (f"replaced {f} by {e.get('new_file')} (sha256 {e.get('new_sha256')}) under record "
                f"{e.get('record')}: {n} record(s) removed")
    if ev == "retention":
        return f"retention of {e.get('scope')} {e.get('key')}: {json.dumps(e.get('rule'))}"
    if ev == "seal":
        ts = e.get("timestamp") or {}
        t = ts.get("time") if isinstance(ts, dict) and ts.get("status") == "granted" else "pending"
        who = (e.get("signer") or {}).get("subject", "")  # type: ignore[union-attr]
        return f"seal by '{who}', timestamp {t}"
    return str(ev)
