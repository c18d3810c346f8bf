/* The trade dossier's proof, re-checked by the browser itself (Web Crypto only, no library):
 *  1. inclusion (RFC 6962 / 9162, as ledger/canonical.py and ledger/sealing.py):
 *     leaf = SHA-256(0x00 || canonical transaction bytes), node = SHA-256(0x01 || left || right);
 *     the audit path is walked (RFC 9162 §2.1.3.2) to a root that must equal the checkpoint's signed root;
 *  2. the checkpoint's Ed25519 signature: the signed body is rebuilt here from the checkpoint's fields
 *     (JSON, sorted keys, no spaces: ledger.canonical.checkpoint_body) and verified with the exchange's
 *     published key (GET /api/v1/checkpoints/public-keys), chosen by key id after recomputing the id
 *     (first 16 hex digits of SHA-256 over the raw key, ledger.keys.key_id).
 * The data comes from console.views_proof as JSON; the verdicts are this script's alone. */
(function () {
  "use strict";
  function hex2bytes(h) {
    if (typeof h !== "string" || h.length % 2 || /[^0-9a-f]/i.test(h)) throw new Error("bad hex");
    var a = new Uint8Array(h.length / 2); for (var i = 0; i < a.length; i++) a[i] = parseInt(h.substr(i * 2, 2), 16); return a;
  }
  function bytes2hex(b) { return Array.prototype.map.call(new Uint8Array(b), function (x) { return ("0" + x.toString(16)).slice(-2); }).join(""); }
  function concat(prefix, parts) {
    var n = 1; parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n), o = 1; out[0] = prefix;
    parts.forEach(function (p) { out.set(p, o); o += p.length; });
    return out;
  }
  function sha(data) { return crypto.subtle.digest("SHA-256", data).then(function (d) { return new Uint8Array(d); }); }
  function node(l, r) { return sha(concat(1, [l, r])); }

  async function verifyInclusion(p, body) {
    var leaf = await sha(concat(0, [hex2bytes(p.leaf_data)]));
    if (bytes2hex(leaf) !== p.leaf_hash) return false;            // the stored leaf is the hash of these bytes
    if (p.tree_size !== body.tree_size) return false;              // proved against the signed tree size
    var fn = p.leaf_index, sn = p.tree_size - 1, r = leaf;
    if (fn > sn) return false;
    for (var i = 0; i < p.path.length; i++) {
      var c = hex2bytes(p.path[i]);
      if (sn === 0) return false;
      if ((fn & 1) === 1 || fn === sn) {
        r = await node(c, r);
        if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; } }
      } else {
        r = await node(r, c);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && bytes2hex(r) === body.root;               // the root the checkpoint signs
  }

  function signedBody(fields) {  // json.dumps(..., sort_keys=True, separators=(",", ":")) for ASCII strings and integers
    var sorted = {};
    Object.keys(fields).sort().forEach(function (k) { sorted[k] = fields[k]; });
    return new TextEncoder().encode(JSON.stringify(sorted));
  }

  async function verifySignature(cp, keysUrl, labels) {
    var keys = await fetch(keysUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); });
    var key = (keys || []).filter(function (k) { return k.key_id === cp.key_id && k.algorithm === "ed25519"; })[0];
    if (!key) return {ok: false, why: labels.nokey + " (" + cp.key_id + ")"};
    var raw = hex2bytes(key.public_key_hex);
    if (bytes2hex(await sha(raw)).slice(0, 16) !== cp.key_id) return {ok: false, why: labels.nokey};
    var pub;
    try {
      pub = await crypto.subtle.importKey("raw", raw, {name: "Ed25519"}, false, ["verify"]);
    } catch (e) { return {ok: false, why: labels.unsupported + ": " + e}; }
    var ok = await crypto.subtle.verify({name: "Ed25519"}, pub, hex2bytes(cp.signature), signedBody(cp.body));
    return {ok: ok, why: "key " + cp.key_id};
  }

  function show(el, ok, text) {
    el.textContent = (ok ? "✔ " : "✘ ") + text;
    el.className = ok ? "ok" : "bad";
    el.dataset.verified = ok ? "true" : "false";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("proof");
    if (!box) return;
    var out = document.getElementById("proof-result"), sig = document.getElementById("signature-result");
    var labels = document.getElementById("proof-labels").dataset;
    fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(async function (data) {
      var p = data.proof, cp = data.checkpoint;
      if (!p || !cp) { out.textContent = sig.textContent = labels.none; out.className = sig.className = "none"; return; }
      try {
        var included = await verifyInclusion(p, cp.body);
        show(out, included, (included ? labels.ok : labels.bad) + " (leaf " + p.leaf_index + " / " + p.tree_size +
             ", root " + String(cp.body.root).slice(0, 16) + "…)");
      } catch (e) { show(out, false, labels.bad + ": " + e.message); }
      try {
        var signed = await verifySignature(cp, data.public_keys_url, labels);
        show(sig, signed.ok, (signed.ok ? labels.sigOk : labels.bad) + " (" + signed.why + ")");
      } catch (e) { show(sig, false, labels.bad + ": " + e.message); }
    }, function (e) { show(out, false, labels.bad + ": " + e); show(sig, false, labels.bad + ": " + e); });
  });
})();
