// Geometry of an erasure-coded object. Data is cut into stripes of k × blockSize bytes; each
// stripe is split into k equal blocks (the last stripe's blocks are shorter, zero-padded to a
// common length) and m parity blocks are computed. Shard file i holds block i of every stripe,
// each preceded by its CRC32C (4 bytes, big-endian); a JSON trailer naming the content ends
// the file. Because only the last stripe is short, stripe s starts at s × (4 + blockSize).

export const CRC_BYTES = 4;

export interface Geometry {
  size: number;
  k: number;
  blockSize: number;
}

export function stripeCount(g: Geometry): number {
  return Math.ceil(g.size / (g.k * g.blockSize));
}

/** Bytes of object data in stripe s. */
export function stripeDataBytes(g: Geometry, s: number): number {
  const full = g.k * g.blockSize;
  return Math.min(full, g.size - s * full);
}

/** Length of each shard block of stripe s (data and parity alike). */
export function shardBlockLength(g: Geometry, s: number): number {
  return Math.ceil(stripeDataBytes(g, s) / g.k);
}

/** Offset of stripe s's CRC in every shard file. */
export function shardBlockOffset(g: Geometry, s: number): number {
  return s * (CRC_BYTES + g.blockSize);
}

/** Size of the shard file's block area (without the trailer). */
export function shardDataLength(g: Geometry): number {
  const n = stripeCount(g);
  if (n === 0) return 0;
  return (n - 1) * (CRC_BYTES + g.blockSize) + CRC_BYTES + shardBlockLength(g, n - 1);
}

/** What a shard file says about itself, so lost metadata can be rebuilt from the disks. */
export interface ShardTrailer {
  bucket: string;
  key: string;
  versionId?: string;
  uploadId?: string;
  partNumber?: number;
  dataId: string;
  size: number;
  k: number;
  m: number;
  blockSize: number;
  shardIndex: number;
}

const TRAILER_MAGIC = 0x54535231; // "TSR1"

/** JSON, then its length (u32 BE) and a magic number, so it can be read from the end. */
export function encodeTrailer(t: ShardTrailer): Buffer {
  const json = Buffer.from(JSON.stringify(t), 'utf8');
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(json.length, 0);
  tail.writeUInt32BE(TRAILER_MAGIC, 4);
  return Buffer.concat([json, tail]);
}

export function decodeTrailerTail(tail: Buffer): number | undefined {
  if (tail.length !== 8 || tail.readUInt32BE(4) !== TRAILER_MAGIC) return undefined;
  return tail.readUInt32BE(0);
}

/** Picks the disk of each shard, rotating by a hash of the data id so disks fill evenly. */
export function distribute(dataId: string, diskCount: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < dataId.length; i++) h = Math.imul(h ^ dataId.charCodeAt(i), 16777619) >>> 0;
  const start = h % diskCount;
  return Array.from({ length: diskCount }, (_, i) => (start + i) % diskCount);
}
