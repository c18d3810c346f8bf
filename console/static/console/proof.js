/* The trade dossier's inclusion proof, re-checked by the browser itself (Web Crypto SHA-256).
 * RFC 6962 / 9162 as in ledger/canonical.py and ledger/sealing.py:
 *   leaf = SHA-256(0x00 || canonical transaction bytes), node = SHA-256(0x01 || left || right);
 *   the audit path is verified with RFC 9162 §2.1.3.2 against the signed checkpoint's root. */
(function () {
  "use strict";
  function hex2bytes(h) { var a = new Uint8Array(h.length / 2); for (var i = 0; i < a.length; i++) a[i] = parseInt(h.substr(i * 2, 2), 16); return a; }
  function bytes2hex(b) { return Array.prototype.map.call(new Uint8Array(b), function (x) { return ("0" + x.toString(16)).slice(-2); }).join(""); }
  function concat(prefix, parts) {
    var n = 1; parts.forEach(function (p) { n += p.length; });
    var out = new Uint8Array(n), o = 1; out[0] = prefix;
    parts.forEach(function (p) { out.set(p, o); o += p.length; });
    return out;
  }
  function sha(data) { return crypto.subtle.digest("SHA-256", data).then(function (d) { return new Uint8Array(d); }); }
  function node(l, r) { return sha(concat(1, [l, r])); }

  async function verify(p) {
    var leaf = await sha(concat(0, [hex2bytes(p.leaf_data)]));
    if (bytes2hex(leaf) !== p.leaf_hash) return false;            // the stored leaf is the hash of these bytes
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
    return sn === 0 && bytes2hex(r) === p.root_hash;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var out = document.getElementById("proof-result"), data = document.getElementById("proof-data");
    if (!out || !data) return;
    var labels = document.getElementById("proof-labels").dataset, proof = JSON.parse(data.textContent);
    if (!proof) { out.textContent = labels.none; out.className = "none"; return; }
    verify(proof).then(function (ok) {
      out.textContent = (ok ? "✔ " + labels.ok : "✘ " + labels.bad) + " (leaf " + proof.leaf_index + " / " + proof.tree_size + ", root " + proof.root_hash.slice(0, 16) + "…)";
      out.className = ok ? "ok" : "bad";
      out.dataset.verified = ok ? "true" : "false";
    }, function (e) { out.textContent = labels.bad + ": " + e; out.className = "bad"; out.dataset.verified = "false"; });
  });
})();
