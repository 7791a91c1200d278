// Reading the journals back: every valid record on every readable disk, and the chain of
// committed records from the newest back to the latest checkpoint (or to the beginning).

import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Disk } from '../../disk/disk.js';
import { journalDir, SEGMENT_RE } from './disk-journal.js';
import {
  compareIds, decodeHeader, GENESIS, HEADER_BYTES, idText, Kind, MAGIC, sameId, verifyRecord,
  type RecordHeader, type RecordId,
} from './record.js';

export interface RecordCopy {
  disk: number;
  file: string;
  offset: number;
}

export interface FoundRecord {
  header: RecordHeader;
  copies: RecordCopy[];
}

export interface SegmentInfo {
  disk: number;
  name: string;
  /** Highest seq of any valid record in it (0 when none). */
  maxSeq: number;
}

export interface JournalScan {
  records: Map<string, FoundRecord>;
  segments: SegmentInfo[];
  /** Disks whose journal directory could be read (an empty one counts). */
  disksRead: number[];
  /** Records whose bytes failed their CRC (bit rot, or a write torn by a crash). */
  damaged: number;
  /** Highest epoch in any valid record, committed or not. */
  maxEpoch: number;
}


export async function scanJournals(disks: Disk[]): Promise<JournalScan> {
  const scan: JournalScan = { records: new Map(), segments: [], disksRead: [], damaged: 0, maxEpoch: 0 };
  for (const disk of disks) {
    if (!disk.online) continue;
    let names: string[];
    try {
      names = (await fsp.readdir(journalDir(disk))).filter((n) => SEGMENT_RE.test(n)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') continue;
      names = [];
    }
    scan.disksRead.push(disk.index);
    for (const name of names) {
      const file = path.join(journalDir(disk), name);
      let buf: Buffer;
      try {
        buf = await fsp.readFile(file);
      } catch {
        continue;
      }
      let maxSeq = 0;
      parseSegment(buf, (h, offset) => {
        maxSeq = Math.max(maxSeq, h.id.seq);
        scan.maxEpoch = Math.max(scan.maxEpoch, h.id.epoch);
        const k = idText(h.id);
        const found = scan.records.get(k);
        if (found) found.copies.push({ disk: disk.index, file, offset });
        else scan.records.set(k, { header: h, copies: [{ disk: disk.index, file, offset }] });
      }, () => scan.damaged++);
      scan.segments.push({ disk: disk.index, name, maxSeq });
    }
  }
  return scan;
}

/**
 * Calls `onRecord` for every record whose header and payload CRCs hold. A record whose header
 * holds but whose payload rotted is skipped (its length is known). A header that does not hold
 * ends the segment on this disk: the rest cannot be told apart from payload bytes (other disks
 * hold copies, and a checkpoint replaces the segment). A record torn by a crash during its
 * append (at the end, nothing valid after it) is not damage: that append was never
 * acknowledged.
 */
export function parseSegment(buf: Buffer, onRecord: (h: RecordHeader, offset: number) => void, onDamage: () => void): void {
  let at = 0;
  while (at + HEADER_BYTES <= buf.length) {
    const h = decodeHeader(buf.subarray(at, at + HEADER_BYTES));
    if (!h) {
      if (buf.subarray(at).some((b) => b !== 0) && !tornTail(buf, at)) onDamage();
      return;
    }
    const end = at + HEADER_BYTES + h.payloadLength;
    if (end > buf.length) return; // torn last append
    if (verifyRecord(buf.subarray(at, end))) onRecord(h, at);
    else if (end < buf.length) onDamage(); // rotted payload; a torn last one is not damage
    at = end;
  }
}

/** A partial header at the very end (a crash during the last append). */
function tornTail(buf: Buffer, at: number): boolean {
  return buf.length - at < HEADER_BYTES || buf.readUInt32BE(at) === MAGIC && buf.length - at < HEADER_BYTES * 2;
}

/**
 * Reads records' payloads, each from the first copy that still reads back with a matching
 * CRC. Files stay open between reads (a rebuild reads many records from few files).
 */
export class PayloadReader {
  private readonly files = new Map<string, FileHandle>();

  async read(r: FoundRecord): Promise<Buffer> {
    for (const c of r.copies) {
      try {
        let fh = this.files.get(c.file);
        if (!fh) {
          fh = await fsp.open(c.file, 'r');
          this.files.set(c.file, fh);
        }
        const buf = Buffer.allocUnsafe(HEADER_BYTES + r.header.payloadLength);
        const { bytesRead } = await fh.read(buf, 0, buf.length, c.offset);
        if (bytesRead === buf.length && verifyRecord(buf)) return buf.subarray(HEADER_BYTES);
      } catch {
        // try the next copy
      }
    }
    throw new Error(`journal record ${idText(r.header.id)}: no readable copy on any disk`);
  }

  async close(): Promise<void> {
    for (const fh of this.files.values()) await fh.close().catch(() => undefined);
    this.files.clear();
  }
}

export interface CheckpointInfo {
  /** The record id whose state the checkpoint holds. */
  snapshot: RecordId;
  digest: { count: number; bytes: number; sum: number };
  /** Where the checkpoint's bytes are (an erasure-coded layout; see object/meta-checkpoint.ts). */
  layout: unknown;
  created: number;
}

export interface Chain {
  head: RecordId;
  /** The newest checkpoint on the chain, if any; `records` start right after its snapshot. */
  checkpoint?: { record: FoundRecord; info: CheckpointInfo };
  /** Committed records to apply, oldest first (after the checkpoint's snapshot, if any). */
  records: FoundRecord[];
}

export class BrokenChainError extends Error {}

/**
 * The newest record that changes or checkpoints the index (highest epoch, then seq). Epoch
 * records do not count: one that reached too few disks (its start failed) must not outrank a
 * later epoch whose start did not see it; every ops or checkpoint record was written only after
 * its epoch record was on quorum, so a read of a read quorum of disks always sees its epoch.
 */
export function newestId(scan: JournalScan): RecordId {
  let head = GENESIS;
  for (const r of scan.records.values()) {
    if (r.header.kind !== Kind.Epoch && compareIds(r.header.id, head) > 0) head = r.header.id;
  }
  return head;
}

/**
 * The committed history: from `head` (by default the newest record, see newestId) back along
 * `prev` until the beginning or the newest checkpoint's snapshot. A record missing on every
 * disk in between means the history cannot be rebuilt from these disks.
 */
export async function resolveChain(scan: JournalScan, head: RecordId = newestId(scan)): Promise<Chain> {
  const chain: Chain = { head, records: [] };
  const back: FoundRecord[] = [];
  let cur = head;
  const payloads = new PayloadReader();
  try {
    while (!sameId(cur, GENESIS)) {
      if (chain.checkpoint && sameId(cur, chain.checkpoint.info.snapshot)) break;
      const r = scan.records.get(idText(cur));
      if (!r) {
        throw new BrokenChainError(`journal record ${idText(cur)} is missing on every readable disk (${scan.disksRead.length} read)`);
      }
      // The first checkpoint met is the newest: the walk ends at its snapshot.
      if (r.header.kind === Kind.Checkpoint && !chain.checkpoint) {
        chain.checkpoint = { record: r, info: JSON.parse((await payloads.read(r)).toString('utf8')) as CheckpointInfo };
      }
      back.push(r);
      cur = r.header.prev;
    }
  } finally {
    await payloads.close();
  }
  chain.records = back.reverse();
  return chain;
}

/** True when `id` is the chain's head, its checkpoint's snapshot, or one of its records. */
export function onChain(chain: Chain, id: RecordId): boolean {
  if (sameId(id, chain.head)) return true;
  if (chain.checkpoint && sameId(id, chain.checkpoint.info.snapshot)) return true;
  if (!chain.checkpoint && sameId(id, GENESIS)) return true;
  return chain.records.some((r) => sameId(r.header.id, id));
}
