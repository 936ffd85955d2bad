/** The `i`th key: 16 bytes from a 64-bit mix of i, so every phase and mode sees the same keys without storing them. */
export function keyAt(i: number, into = Buffer.allocUnsafe(16)): Buffer {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  let l = Math.imul((i / 0x100000000) ^ 0xc2b2ae35, 0x27d4eb2f) >>> 0;
  for (let word = 0; word < 4; word++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    l = Math.imul(l ^ (l >>> 13) ^ h, 0x297a2d39) >>> 0;
    into.writeUInt32LE((h ^ l) >>> 0, word * 4);
    h = (h + 0x6d2b79f5 + word) >>> 0;
  }
  return into;
}
