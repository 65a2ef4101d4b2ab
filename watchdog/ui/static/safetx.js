// Recomputes a Safe's safeTxHash (EIP-712, Safe >= 1.3.0) from the SafeTx fields shown in the page and compares
// it with the stored one. Fields are read from the table cells in this order: chainId, Safe, to, value, data,
// operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, nonce.
(function () {
  "use strict";
  const DOMAIN = "EIP712Domain(uint256 chainId,address verifyingContract)";
  const SAFE_TX = "SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas," +
    "uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)";

  function hexToBytes(hex) {
    const h = hex.trim().replace(/^0x/i, "");
    if (h.length % 2 || /[^0-9a-f]/i.test(h)) throw new Error("not hex: " + hex);
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
    return out;
  }
  const toHex = (bytes) => "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const utf8 = (text) => new TextEncoder().encode(text);
  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  function uint(text) { // a 32-byte big-endian word
    const value = BigInt(text.trim());
    if (value < 0n || value >= (1n << 256n)) throw new Error("out of range: " + text);
    return hexToBytes(value.toString(16).padStart(64, "0"));
  }
  function address(text) {
    const bytes = hexToBytes(text);
    if (bytes.length !== 20) throw new Error("not an address: " + text);
    return concat([new Uint8Array(12), bytes]);
  }

  function safeTxHash(f) {
    const domain = keccak256(concat([keccak256(utf8(DOMAIN)), uint(f[0]), address(f[1])]));
    const struct = keccak256(concat([keccak256(utf8(SAFE_TX)), address(f[2]), uint(f[3]), keccak256(hexToBytes(f[4])),
      uint(f[5]), uint(f[6]), uint(f[7]), uint(f[8]), address(f[9]), address(f[10]), uint(f[11])]));
    return toHex(keccak256(concat([new Uint8Array([0x19, 0x01]), domain, struct])));
  }

  function check() {
    const cells = Array.from(document.querySelectorAll("#safetx td.field"));
    const stored = document.getElementById("stored-hash").textContent.trim().toLowerCase();
    const status = document.getElementById("hash-status");
    const shown = document.getElementById("recomputed-hash");
    let hash;
    try {
      hash = safeTxHash(cells.map((c) => c.textContent));
    } catch (err) {
      shown.textContent = "cannot compute: " + err.message;
      status.className = "mismatch";
      status.textContent = "MISMATCH: a field is not valid (" + err.message + "): do not sign";
      return;
    }
    shown.textContent = hash;
    const same = hash === stored;
    status.className = same ? "match" : "mismatch";
    status.textContent = same ? "match: the hash recomputed from these fields equals the stored safeTxHash"
      : "MISMATCH: the fields shown do not hash to the stored safeTxHash: do not sign";
  }

  window.safeTxHash = safeTxHash;
  window.recomputeSafeTxHash = check;
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("#safetx td.field").forEach((c) => c.addEventListener("input", check));
    check();
  });
})();
