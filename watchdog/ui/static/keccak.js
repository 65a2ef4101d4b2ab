// Keccak-256 (the original Keccak padding, as Ethereum uses it), written for this page: 64-bit lanes are
// kept as pairs of 32-bit words (low, high). keccak256(Uint8Array) -> Uint8Array(32).
(function (global) {
  "use strict";
  const RC = [
    0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000,
    0x0000808b, 0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000,
    0x0000008a, 0x00000000, 0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000,
    0x8000808b, 0x00000000, 0x0000008b, 0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000,
    0x00008002, 0x80000000, 0x00000080, 0x80000000, 0x0000800a, 0x00000000, 0x8000000a, 0x80000000,
    0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001, 0x00000000, 0x80008008, 0x80000000];
  // rotation of lane x + 5y
  const ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];
  const RATE = 136; // bytes, for a 256-bit output

  function rotl(lo, hi, n) {
    if (n === 0) return [lo, hi];
    if (n >= 32) { const t = lo; lo = hi; hi = t; n -= 32; if (n === 0) return [lo, hi]; }
    return [((lo << n) | (hi >>> (32 - n))) >>> 0, ((hi << n) | (lo >>> (32 - n))) >>> 0];
  }

  function permute(s) {
    const c = new Uint32Array(10), b = new Uint32Array(50);
    for (let round = 0; round < 24; round++) {
      for (let x = 0; x < 5; x++) { // theta
        c[2 * x] = s[2 * x] ^ s[2 * x + 10] ^ s[2 * x + 20] ^ s[2 * x + 30] ^ s[2 * x + 40];
        c[2 * x + 1] = s[2 * x + 1] ^ s[2 * x + 11] ^ s[2 * x + 21] ^ s[2 * x + 31] ^ s[2 * x + 41];
      }
      for (let x = 0; x < 5; x++) {
        const n = (x + 1) % 5, p = (x + 4) % 5;
        const r = rotl(c[2 * n], c[2 * n + 1], 1);
        const dlo = c[2 * p] ^ r[0], dhi = c[2 * p + 1] ^ r[1];
        for (let y = 0; y < 5; y++) { s[2 * (x + 5 * y)] ^= dlo; s[2 * (x + 5 * y) + 1] ^= dhi; }
      }
      for (let x = 0; x < 5; x++) { // rho and pi: B[y, 2x + 3y] = rot(A[x, y])
        for (let y = 0; y < 5; y++) {
          const i = x + 5 * y, j = y + 5 * ((2 * x + 3 * y) % 5);
          const r = rotl(s[2 * i], s[2 * i + 1], ROT[i]);
          b[2 * j] = r[0]; b[2 * j + 1] = r[1];
        }
      }
      for (let y = 0; y < 5; y++) { // chi
        for (let x = 0; x < 5; x++) {
          const i = x + 5 * y, i1 = (x + 1) % 5 + 5 * y, i2 = (x + 2) % 5 + 5 * y;
          s[2 * i] = b[2 * i] ^ (~b[2 * i1] & b[2 * i2]);
          s[2 * i + 1] = b[2 * i + 1] ^ (~b[2 * i1 + 1] & b[2 * i2 + 1]);
        }
      }
      s[0] ^= RC[2 * round]; s[1] ^= RC[2 * round + 1]; // iota
    }
  }

  function keccak256(bytes) {
    const padded = new Uint8Array(Math.floor(bytes.length / RATE + 1) * RATE);
    padded.set(bytes);
    padded[bytes.length] ^= 0x01;
    padded[padded.length - 1] ^= 0x80;
    const s = new Uint32Array(50);
    for (let off = 0; off < padded.length; off += RATE) {
      for (let i = 0; i < RATE / 4; i++) {
        const k = off + 4 * i;
        s[i] ^= padded[k] | (padded[k + 1] << 8) | (padded[k + 2] << 16) | (padded[k + 3] << 24);
      }
      permute(s);
    }
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      out[4 * i] = s[i] & 0xff; out[4 * i + 1] = (s[i] >>> 8) & 0xff;
      out[4 * i + 2] = (s[i] >>> 16) & 0xff; out[4 * i + 3] = (s[i] >>> 24) & 0xff;
    }
    return out;
  }

  global.keccak256 = keccak256;
})(typeof window !== "undefined" ? window : globalThis);
