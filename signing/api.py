"""What other parts of bewaar may call. Everything here takes paths and configuration only."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from bewaar.config import SigningConfig, load_root_config, save_root_config
from bewaar.errors import BewaarError, InputError
from signing import keys, ledger, sign, trust


def resolve(root: Path, configured: str) -> Path:
    """Paths in bewaar.yaml are relative to the root (absolute ones stay as they are)."""
    return Path(root) / configured


def _outside_collections(root: Path, path: Path) -> None:
    collections = (Path(root) / "collections").resolve()
    target = path.resolve()
    if target == collections or collections in target.parents:
        raise InputError(
            f"{path} is inside collections/: private keys must never be stored where they "
            "could be packaged or served; choose another directory"
        )


def _relative(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path.resolve())


def _save_signing(root: Path, cfg: SigningConfig) -> None:
    full = load_root_config(root)
    save_root_config(root, full.model_copy(update={"signing": cfg}))


def init_keys(
    root: Path,
    cfg: SigningConfig,
    *,
    directory: Path | None = None,
    org_key: Path | None = None,
    org_cert: Path | None = None,
    common_name: str | None = None,
    organisation: str | None = None,
) -> tuple[SigningConfig, str]:
    """Create (or adopt) the root's signing identity and trust it. Returns (config, message).

    Self-managed: a new P-256 key and a self-signed certificate, which is itself the trust
    anchor. Organisation: an existing key plus its PKI chain (leaf first), copied into the key
    directory; the chain's root is trusted when the chain includes it.
    """
    root = Path(root)
    if directory is not None:
        key_path = Path(directory) / Path(cfg.key).name
        cert_path = Path(directory) / Path(cfg.certificate).name
    else:
        key_path = resolve(root, cfg.key)
        cert_path = resolve(root, cfg.certificate)
    _outside_collections(root, key_path.parent)
    if key_path.exists():
        raise InputError(
            f"{key_path} already exists: keys are never overwritten (move it away first, "
            "or use --dir for a new one)"
        )
    if org_key or org_cert:
        if not (org_key and org_cert):
            raise InputError("an organisation identity needs both --key and --cert")
        key = keys.load_private_key(org_key)
        chain = keys.load_certificates(org_cert)
        keys.check_pair(key, chain, str(org_cert))
        identity = keys.Identity(key, chain)
    else:
        identity = keys.self_managed_identity(
            common_name or keys.default_common_name(), organisation
        )
    keys.write_private(key_path, keys.key_pem(identity.key))
    keys.write_public(cert_path, keys.certs_pem(identity.chain))
    new_cfg = cfg.model_copy(
        update={"key": _relative(root, key_path), "certificate": _relative(root, cert_path)}
    )
    anchor = identity.chain[-1]
    trusted_file = resolve(root, new_cfg.trusted_roots)
    self_signed = anchor.issuer == anchor.subject
    if self_signed:
        why = "self-managed signing certificate" if len(identity.chain) == 1 else "organisation root CA"
        trust.add_trusted(trusted_file, anchor, why)
        trusted = f"trusted in {_relative(root, trusted_file)}"
    else:
        trusted = (
            f"NOT yet trusted: the chain ends at '{keys.subject_name(anchor)}', which is not a "
            f"root; add your root with `bewaar keys trust ROOT.pem`"
        )
    if new_cfg != cfg:
        _save_signing(root, new_cfg)
    kind = "self-managed" if len(identity.chain) == 1 and self_signed and not org_key else "organisation"
    message = (
        f"created {kind} signing identity '{keys.subject_name(identity.certificate)}' "
        f"(certificate sha256 {keys.fingerprint(identity.certificate)}): key {key_path} (0600), "
        f"certificate {cert_path}; {trusted}"
    )
    return new_cfg, message


def ensure_key(root: Path, cfg: SigningConfig) -> str | None:
    """Create a self-managed key + certificate if the root has none (and trust it).

    Returns one line to show the user when a key was created, else None.
    """
    key_path = resolve(root, cfg.key)
    cert_path = resolve(root, cfg.certificate)
    if key_path.exists():
        if not cert_path.exists():
            raise BewaarError(
                f"{key_path} exists but its certificate {cert_path} is missing: restore it, "
                "or move the key away and run `bewaar keys init`"
            )
        return None
    _cfg, _message = init_keys(root, cfg)
    return (
        f"no signing key yet: created a self-managed one ({cfg.key}); captures are signed with it"
        + ("" if cfg.tsa_url else ", timestamps pending until signing.tsa_url is set")
    )


def load_identity(root: Path, cfg: SigningConfig) -> keys.Identity:
    return keys.load_identity(resolve(root, cfg.key), resolve(root, cfg.certificate))


def tsa_pool(root: Path, cfg: SigningConfig) -> list[x509.Certificate]:
    """The trusted TSA certificates (PEM), where a token's issuers are found."""
    return list(trust.load_trust(resolve(root, cfg.trusted_tsa_roots), "tsa").certificates)


def sign_warc(path: Path, root: Path, cfg: SigningConfig) -> Path:
    """Write PATH.sig.json next to a finished WARC. An unreachable TSA never raises: the
    manifest then says "timestamp pending"."""
    identity = load_identity(root, cfg)
    return sign.sign_warc_file(
        Path(path), identity, cfg.tsa_url, cfg.tsa_timeout,
        tsa_pool=tsa_pool(root, cfg), fetch_revocation=cfg.fetch_revocation,
    ).manifest


def trust_tsa_root(root: Path, cfg: SigningConfig, pem_path: Path) -> SigningConfig:
    """Trust the first certificate in PEM_PATH as a TSA root (appended to trusted_tsa_roots)."""
    cert = keys.load_certificates(Path(pem_path))[0]
    trust.add_trusted(resolve(root, cfg.trusted_tsa_roots), cert, "TSA root")
    return cfg


def trust_signer_root(root: Path, cfg: SigningConfig, pem_path: Path) -> SigningConfig:
    """Trust the first certificate in PEM_PATH as a signer root (appended to trusted_roots)."""
    cert = keys.load_certificates(Path(pem_path))[0]
    trust.add_trusted(resolve(root, cfg.trusted_roots), cert, "signer root")
    return cfg


def set_tsa_url(root: Path, url: str | None) -> SigningConfig:
    """Record the TSA URL in the root's bewaar.yaml and return the new signing config."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise InputError(f"'{url}' is not an http(s) URL for a Time Stamping Authority")
    full = load_root_config(root)
    new = full.signing.model_copy(update={"tsa_url": url})
    save_root_config(root, full.model_copy(update={"signing": new}))
    return new



def ledger_signer(root: Path, cfg: SigningConfig) -> ledger.Signer:
    """The key and TSA a collection's ledger is sealed with: the root's, as its WARCs are."""
    return ledger.Signer(load_identity(root, cfg), cfg.tsa_url, cfg.tsa_timeout)


def update_ledger(root: Path, cfg: SigningConfig, collection_dir: Path,
                  new: list[Path] | None = None,
                  extra: list[dict[str, object]] | None = None) -> dict[str, object] | None:
    """Record the collection's signed WARCs not yet in its ledger (starting the ledger from
    what is present when there is none) and `extra` events, under one seal. The caller holds
    the collection's lock. Returns the seal's position, or None when nothing was new."""
    return ledger.update(collection_dir, ledger_signer(root, cfg), new, extra)  # type: ignore[arg-type]
