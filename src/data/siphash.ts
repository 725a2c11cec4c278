/**
 * SipHash-2-4 with a 128-bit output (Aumasson and Bernstein's keyed pseudorandom function for
 * short inputs), in plain JavaScript on 32-bit halves: the keyed hash behind every scrubbed
 * value. One call hashes a byte range in place (no string, no buffer, no hash object per value),
 * which is what lets a refresh scrub millions of values at the speed of copying them.
 *
 * Checked against the reference implementation's test vectors (`test/data/siphash.test.ts`).
 */

/** A 128-bit key as four little-endian 32-bit words: k0 low, k0 high, k1 low, k1 high. */
export type SipKey = Uint32Array;

/**
 * The key of 16 bytes `bytes` (only the first 16 are read).
 * @throws RangeError when `bytes` holds fewer than 16 bytes.
 */
export function sipKey(bytes: Uint8Array): SipKey {
  if (bytes.length < 16) throw new RangeError('a SipHash key is 16 bytes');
  const k = new Uint32Array(4);
  for (let w = 0; w < 4; w++)
    k[w] =
      (bytes[w * 4]! | (bytes[w * 4 + 1]! << 8) | (bytes[w * 4 + 2]! << 16)) +
      bytes[w * 4 + 3]! * 0x1000000;
  return k;
}

/**
 * SipHash-2-4-128 of the bytes `data[start, end)` under `key`; the 16 bytes of the result go
 * into `out[0, 16)` (the reference implementation's byte order).
 *
 * One function on local 32-bit halves (v0..v3 as high and low words), its SipRound written
 * once: step k < blocks absorbs message block k with 2 rounds, step `blocks` runs the 4 rounds
 * giving the first 8 bytes, the last step the 4 giving the other 8.
 */
export function siphash128(
  key: SipKey,
  data: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): void {
  const k0l = key[0]!;
  const k0h = key[1]!;
  const k1l = key[2]!;
  const k1h = key[3]!;
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d ^ 0xee) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  const length = end - start;
  // Whole 8-byte blocks, then one last block: the remaining bytes and the length's low byte.
  const blocks = (length >>> 3) + 1;
  let l = 0;
  let h = 0;
  let mh = 0;
  let ml = 0;
  for (let step = 0; step <= blocks + 1; step++) {
    let n = 4;
    if (step < blocks) {
      const i = start + step * 8;
      if (step < blocks - 1) {
        ml = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0;
        mh =
          (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0;
      } else {
        ml = 0;
        mh = (length & 0xff) << 24;
        for (let j = 0; j < end - i; j++) {
          if (j < 4) ml |= data[i + j]! << (8 * j);
          else mh |= data[i + j]! << (8 * (j - 4));
        }
        ml >>>= 0;
        mh >>>= 0;
      }
      v3h = (v3h ^ mh) >>> 0;
      v3l = (v3l ^ ml) >>> 0;
      n = 2;
    } else if (step === blocks) {
      v2l = (v2l ^ 0xee) >>> 0;
    } else {
      v1l = (v1l ^ 0xdd) >>> 0;
    }
    for (let r = 0; r < n; r++) {
      // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
      l = (v0l + v1l) >>> 0;
      v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
      l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
      v1h = (h ^ v0h) >>> 0;
      v1l = (l ^ v0l) >>> 0;
      h = v0h;
      v0h = v0l;
      v0l = h;
      // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
      l = (v2l + v3l) >>> 0;
      v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
      l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
      v3h = (h ^ v2h) >>> 0;
      v3l = (l ^ v2l) >>> 0;
      // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
      l = (v0l + v3l) >>> 0;
      v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0;
      v0l = l;
      h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
      l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
      v3h = (h ^ v0h) >>> 0;
      v3l = (l ^ v0l) >>> 0;
      // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
      l = (v2l + v1l) >>> 0;
      v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0;
      v2l = l;
      h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
      l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
      v1h = (h ^ v2h) >>> 0;
      v1l = (l ^ v2l) >>> 0;
      h = v2h;
      v2h = v2l;
      v2l = h;
    }
    if (step < blocks) {
      v0h = (v0h ^ mh) >>> 0;
      v0l = (v0l ^ ml) >>> 0;
    } else {
      // v0 ^ v1 ^ v2 ^ v3, little-endian, into out[0, 8) then out[8, 16).
      const at = step === blocks ? 0 : 8;
      l = v0l ^ v1l ^ v2l ^ v3l;
      h = v0h ^ v1h ^ v2h ^ v3h;
      out[at] = l;
      out[at + 1] = l >>> 8;
      out[at + 2] = l >>> 16;
      out[at + 3] = l >>> 24;
      out[at + 4] = h;
      out[at + 5] = h >>> 8;
      out[at + 6] = h >>> 16;
      out[at + 7] = h >>> 24;
    }
  }
}
