// The journal across all disks: each record goes to every online disk, and counts as written
// (the commit point of whatever it carries) once write-quorum disks have synced it. Records
// are appended one at a time; the metadata store's group commit puts many callers into one.

import { randomInt } from 'node:crypto';
import type { Disk } from '../../disk/disk.js';
import { isNoSpace, storageFullError } from '../../disk/space.js';
import { S3Error, slowDown } from '../../errors.js';
import { isResourceError } from '../../util/process-errors.js';
import type { Digest } from '../digest.js';
import { DiskJournal } from './disk-journal.js';
import { encodeRecord, GENESIS, Kind, type RecordId } from './record.js';

/** Epochs are a counter times this, plus random low bits (see record.ts). */
const EPOCH_STEP = 2 ** 20;

/**
 * Metadata needs a majority of the disks as well as the data's write quorum: a start-up that
 * can read the other disks then always sees at least one copy of every committed record.
 */
export function metaWriteQuorum(diskCount: number, dataWriteQuorum: number): number {
  return Math.max(dataWriteQuorum, Math.floor(diskCount / 2) + 1);
}

/** Disks a start-up must read to be sure it sees every committed record. */
export function metaReadQuorum(diskCount: number, writeQuorum: number): number {
  return diskCount - writeQuorum + 1;
}

export class QuorumJournal {
  readonly disks: DiskJournal[];
  /** The last committed record: the `prev` of the next one. */
  head: RecordId = GENESIS;
  private epoch = 0;
  private nextSeq = 1;
  private epochOpen = false;
  /** Bytes appended since the last checkpoint (drives compaction). */
  bytesSinceCheckpoint = 0;
  /** Digest after the last committed record (what an epoch record repeats). */
  private lastDigest: Digest = { count: 0, bytes: 0, sum: 0 };

  constructor(disks: Disk[], readonly quorum: number) {
    this.disks = disks.map((d) => new DiskJournal(d));
  }

  /** Continues the history after `head`, in a fresh epoch above every one seen on the disks. */
  resume(head: RecordId, maxEpochSeen: number, digest: Digest): void {
    this.head = head;
    this.lastDigest = { ...digest };
    this.nextSeq = head.seq + 1;
    this.epoch = (Math.floor(Math.max(maxEpochSeen, head.epoch) / EPOCH_STEP) + 1) * EPOCH_STEP + randomInt(EPOCH_STEP);
    this.epochOpen = false;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  /**
   * Appends one record on quorum. The epoch's opening record goes first, once: it must be on
   * quorum before any change of this epoch is, so a later start always sees this epoch.
   */
  async append(kind: Kind, payload: Buffer, digest: Digest): Promise<RecordId> {
    if (!this.epochOpen) {
      const info = Buffer.from(JSON.stringify({ started: Date.now(), pid: process.pid }), 'utf8');
      await this.appendOne(Kind.Epoch, info, this.lastDigest);
      this.epochOpen = true;
    }
    return this.appendOne(kind, payload, digest);
  }

  private async appendOne(kind: Kind, payload: Buffer, digest: Digest): Promise<RecordId> {
    // A seq is never reused within an epoch, even when its record failed: the next record
    // names the last committed one as `prev`, so a failed one is off the chain for good.
    const id: RecordId = { epoch: this.epoch, seq: this.nextSeq++ };
    const record = encodeRecord({ kind, id, prev: this.head, digest }, payload);
    await this.appendOnQuorum(id, record);
    this.head = id;
    this.lastDigest = { ...digest };
    this.bytesSinceCheckpoint += record.length;
    return id;
  }

  /**
   * Writes the record, synced, to `quorum` online disks, rotating which ones so every disk
   * holds its share of the history. Copies beyond the quorum would add nothing to what the
   * quorum promises (a start-up that reads the other disks sees at least one copy; a lost
   * disk's share is put back by a checkpoint) but would cost a device write and flush per
   * record, and disks that share a device queue their flushes behind each other. When a
   * disk fails, the next online one takes its copy; rejects only when too few are left.
   */
  private appendOnQuorum(id: RecordId, record: Buffer): Promise<void> {
    const n = this.disks.length;
    const candidates = Array.from({ length: n }, (_, i) => this.disks[(id.seq + i) % n]!).filter((d) => d.disk.online);
    const errors: string[] = [];
    if (candidates.length < n) errors.push(`${n - candidates.length} disk(s) offline`);
    // Too few disks to reach quorum: write nothing, so no record lingers on a minority.
    if (candidates.length < this.quorum) {
      return Promise.reject(new S3Error('InsufficientWriteQuorum', `Metadata could not be written on enough disks (${candidates.length} of ${n} online, ${this.quorum} needed)`));
    }
    return new Promise((resolve, reject) => {
      let ok = 0;
      let running = 0;
      let settled = false;
      // A disk that failed for want of descriptors or memory is not a failed disk.
      let exhausted = false;
      let noSpace = false;
      const next = () => {
        while (!settled && ok + running < this.quorum && candidates.length > 0) {
          const d = candidates.shift()!;
          running++;
          d.append(id, record).then(
            () => {
              running--;
              if (++ok === this.quorum && !settled) {
                settled = true;
                resolve();
              }
            },
            (e: Error) => {
              running--;
              if (isResourceError(e)) exhausted = true;
              errors.push(e.message);
              if (isNoSpace(e)) noSpace = true;
              next();
            },
          );
        }
        if (!settled && ok + running < this.quorum) {
          settled = true;
          // Full disks are not failed ones: the client hears that space ran out (507), the
          // log the details. Nothing is committed either way.
          if (noSpace) {
            reject(storageFullError());
            return;
          }
          if (exhausted) return reject(slowDown('The server is short of file descriptors or memory; please retry.'));
          reject(new S3Error('InsufficientWriteQuorum', `Metadata could not be written on enough disks (${ok} of ${n}, ${this.quorum} needed): ${errors.join('; ')}`));
        }
      };
      next();
    });
  }

  /** Every disk starts a new segment with the next record. */
  roll(): void {
    for (const d of this.disks) d.roll();
  }

  async close(): Promise<void> {
    await Promise.all(this.disks.map((d) => d.close()));
  }
}
