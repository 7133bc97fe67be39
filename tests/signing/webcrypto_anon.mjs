// Anonymous WACZ signatures with WebCrypto, the way ArchiveWeb.page makes them and
// ReplayWeb.page (wabac.js) checks them: ECDSA P-384, SHA-256, SPKI public key and a raw
// r||s signature, both base64, over the UTF-8 bytes of signedData.hash.
//
//   node webcrypto_anon.mjs sign HASH [P-384|P-256]  -> {"publicKey": ..., "signature": ...}
//   node webcrypto_anon.mjs verify HASH PUBLICKEY SIGNATURE  -> true | false
//
// Run with the Node.js that Playwright ships (tests/signing/test_authsign.py).

const subtle = globalThis.crypto.subtle;
const b64 = (buf) => Buffer.from(new Uint8Array(buf)).toString("base64");
const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));
const [mode, hash, ...rest] = process.argv.slice(2);
const data = new TextEncoder().encode(hash);
const params = { name: "ECDSA", hash: "SHA-256" };

if (mode === "sign") {
  const curve = rest[0] || "P-384";
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
  const signature = await subtle.sign(params, pair.privateKey, data);
  const publicKey = await subtle.exportKey("spki", pair.publicKey);
  console.log(JSON.stringify({ publicKey: b64(publicKey), signature: b64(signature) }));
} else if (mode === "verify") {
  // as wabac.js: the key is imported as P-384 whatever it is; an import error is a failure
  let ok = false;
  try {
    const key = await subtle.importKey("spki", unb64(rest[0]), { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"]);
    ok = await subtle.verify(params, key, unb64(rest[1]), data);
  } catch (e) {
    ok = false;
  }
  console.log(JSON.stringify(ok));
} else {
  console.error("usage: sign HASH [curve] | verify HASH PUBLICKEY SIGNATURE");
  process.exit(2);
}
