// SHA-512 (FIPS 180-4) in plain JavaScript, for pages served over plain http on a LAN address: those are not
// a secure context, so crypto.subtle is missing there. sha512(bytes) takes a Uint8Array or ArrayBuffer and
// returns the 64-byte digest as a Uint8Array. 64-bit words are kept as (high, low) pairs of 32-bit integers.

// The round constants and the initial hash value, as 16 hex digits per 64-bit word.
const K_HEX = [
  "428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc",
  "3956c25bf348b538 59f111f1b605d019 923f82a4af194f9b ab1c5ed5da6d8118",
  "d807aa98a3030242 12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2",
  "72be5d74f27b896f 80deb1fe3b1696b1 9bdc06a725c71235 c19bf174cf692694",
  "e49b69c19ef14ad2 efbe4786384f25e3 0fc19dc68b8cd5b5 240ca1cc77ac9c65",
  "2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5",
  "983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4",
  "c6e00bf33da88fc2 d5a79147930aa725 06ca6351e003826f 142929670a0e6e70",
  "27b70a8546d22ffc 2e1b21385c26c926 4d2c6dfc5ac42aed 53380d139d95b3df",
  "650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6 92722c851482353b",
  "a2bfe8a14cf10364 a81a664bbc423001 c24b8b70d0f89791 c76c51a30654be30",
  "d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8",
  "19a4c116b8d2d0c8 1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8",
  "391c0cb3c5c95a63 4ed8aa4ae3418acb 5b9cca4f7763e373 682e6ff3d6b2b8a3",
  "748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72 8cc702081a6439ec",
  "90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b",
  "ca273eceea26619c d186b8c721c0c207 eada7dd6cde0eb1e f57d4f7fee6ed178",
  "06f067aa72176fba 0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b",
  "28db77f523047d84 32caab7b40c72493 3c9ebe0a15c9bebc 431d67c49c100d4c",
  "4cc5d4becb3e42b6 597f299cfc657e2a 5fcb6fab3ad6faec 6c44198c4a475817",
];
const H0_HEX = "6a09e667f3bcc908 bb67ae8584caa73b 3c6ef372fe94f82b a54ff53a5f1d36f1 " +
               "510e527fade682d1 9b05688c2b3e6c1f 1f83d9abfb41bd6b 5be0cd19137e2179";

// "hhhhhhhhllllllll ..." -> Int32Array [high0, low0, high1, low1, ...]
function words(hex) {
  const out = [];
  for (const word of hex.split(/\s+/).filter(Boolean)) {
    out.push(parseInt(word.slice(0, 8), 16) | 0, parseInt(word.slice(8), 16) | 0);
  }
  return Int32Array.from(out);
}

const K = words(K_HEX.join(" "));
const H0 = words(H0_HEX);
const TWO32 = 4294967296;

// Run the compression function over `count` 128-byte blocks of `bytes` starting at `offset`.
function compress(H, W, bytes, offset, count) {
  for (let block = 0; block < count; block++, offset += 128) {
    for (let i = 0; i < 32; i++) {
      const p = offset + 4 * i;
      W[i] = (bytes[p] << 24) | (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
    }
    for (let t = 16; t < 80; t++) {
      // sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16]
      let h = W[2 * t - 4], l = W[2 * t - 3];
      const s1h = (h >>> 19 | l << 13) ^ (l >>> 29 | h << 3) ^ (h >>> 6);
      const s1l = (l >>> 19 | h << 13) ^ (h >>> 29 | l << 3) ^ (l >>> 6 | h << 26);
      h = W[2 * t - 30]; l = W[2 * t - 29];
      const s0h = (h >>> 1 | l << 31) ^ (h >>> 8 | l << 24) ^ (h >>> 7);
      const s0l = (l >>> 1 | h << 31) ^ (l >>> 8 | h << 24) ^ (l >>> 7 | h << 25);
      const lo = (s1l >>> 0) + (W[2 * t - 13] >>> 0) + (s0l >>> 0) + (W[2 * t - 31] >>> 0);
      W[2 * t] = s1h + W[2 * t - 14] + s0h + W[2 * t - 32] + ((lo / TWO32) | 0);
      W[2 * t + 1] = lo;
    }
    let ah = H[0], al = H[1], bh = H[2], bl = H[3], ch = H[4], cl = H[5], dh = H[6], dl = H[7];
    let eh = H[8], el = H[9], fh = H[10], fl = H[11], gh = H[12], gl = H[13], hh = H[14], hl = H[15];
    for (let t = 0; t < 160; t += 2) {
      // T1 = h + Sigma1(e) + Ch(e, f, g) + K[t] + W[t]
      const S1h = (eh >>> 14 | el << 18) ^ (eh >>> 18 | el << 14) ^ (el >>> 9 | eh << 23);
      const S1l = (el >>> 14 | eh << 18) ^ (el >>> 18 | eh << 14) ^ (eh >>> 9 | el << 23);
      const chh = (eh & fh) ^ (~eh & gh), chl = (el & fl) ^ (~el & gl);
      let lo = (hl >>> 0) + (S1l >>> 0) + (chl >>> 0) + (K[t + 1] >>> 0) + (W[t + 1] >>> 0);
      const t1h = (hh + S1h + chh + K[t] + W[t] + ((lo / TWO32) | 0)) | 0;
      const t1l = lo >>> 0;
      // T2 = Sigma0(a) + Maj(a, b, c)
      const S0h = (ah >>> 28 | al << 4) ^ (al >>> 2 | ah << 30) ^ (al >>> 7 | ah << 25);
      const S0l = (al >>> 28 | ah << 4) ^ (ah >>> 2 | al << 30) ^ (ah >>> 7 | al << 25);
      const mjh = (ah & bh) ^ (ah & ch) ^ (bh & ch), mjl = (al & bl) ^ (al & cl) ^ (bl & cl);
      hh = gh; hl = gl; gh = fh; gl = fl; fh = eh; fl = el;
      lo = (dl >>> 0) + t1l;
      eh = (dh + t1h + ((lo / TWO32) | 0)) | 0; el = lo | 0;
      dh = ch; dl = cl; ch = bh; cl = bl; bh = ah; bl = al;
      lo = t1l + (S0l >>> 0) + (mjl >>> 0);
      ah = (t1h + S0h + mjh + ((lo / TWO32) | 0)) | 0; al = lo | 0;
    }
    const state = [ah, al, bh, bl, ch, cl, dh, dl, eh, el, fh, fl, gh, gl, hh, hl];
    for (let i = 0; i < 16; i += 2) {
      const lo = (H[i + 1] >>> 0) + (state[i + 1] >>> 0);
      H[i] = H[i] + state[i] + ((lo / TWO32) | 0);
      H[i + 1] = lo;
    }
  }
}

export function sha512(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const H = Int32Array.from(H0);
  const W = new Int32Array(160);
  const whole = Math.floor(bytes.length / 128);
  compress(H, W, bytes, 0, whole);

  // The rest, the 0x80 marker, zeros and the length in bits as a 128-bit big-endian number.
  const rest = bytes.length - whole * 128;
  const tail = new Uint8Array(rest < 112 ? 128 : 256);
  tail.set(bytes.subarray(whole * 128));
  tail[rest] = 0x80;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(tail.length - 4, (bytes.length << 3) >>> 0);
  compress(H, W, tail, 0, tail.length / 128);

  const digest = new Uint8Array(64);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 16; i++) out.setInt32(4 * i, H[i]);
  return digest;
}
