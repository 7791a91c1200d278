// The journal on one disk: `<disk>/meta/j-<first seq>-<epoch>.log` segment files, appended
// and synced record by record. A disk holds its own copy of every record it was online for;
// the quorum journal (quorum-journal.ts) decides what counts.

import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fsyncDir, type Disk } from '../../disk/disk.js';
import { PRIVATE_DIR_MODE } from '../../util/private-files.js';
import type { RecordId } from './record.js';

const write = promisify(fs.write);
const fstat = promisify(fs.fstat);
const close = promisify(fs.close);
const open = promisify(fs.open);
const ftruncate = promisify(fs.ftruncate);

/** A segment is closed and a new one started past this size, so compaction can drop whole files. */
export const SEGMENT_BYTES = 64 * 1024 * 1024;

export function journalDir(disk: Disk): string {
  return path.join(disk.root, 'meta');
}

export function segmentName(first: RecordId): string {
  return `j-${first.seq.toString(16).padStart(16, '0')}-${first.epoch.toString(16).padStart(14, '0')}.log`;
}

export const SEGMENT_RE = /^j-[0-9a-f]{16}-[0-9a-f]{14}\.log$/;

interface OpenSegment {
  name: string;
  /** Opened with O_DSYNC: a write returns once it is on the device (one call, not write + fdatasync). */
  fd: number;
  size: number;
  /** The disk's identity when the file was opened: a disk wiped and reformatted since is not this one. */
  diskId: string | undefined;
  /** When the file was last seen still linked into the directory. */
  checked: number;
}

const LINK_CHECK_MS = 1000;

export class DiskJournal {
  private segment: OpenSegment | undefined;
  /** Appends run one after another on one disk, in record order. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Highest seq in each segment this process wrote or found at start-up: what compaction may delete. */
  readonly segments = new Map<string, number>();

  constructor(readonly disk: Disk) {}

  get dir(): string {
    return journalDir(this.disk);
  }

  /** Appends one encoded record, synced to the device; rejects if this disk could not take it. */
  append(first: RecordId, record: Buffer): Promise<void> {
    const run = this.tail.then(() => this.appendNow(first, record));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Closes the open segment after the appends queued so far: later records go to a new one. */
  roll(): void {
    this.tail = this.tail.then(() => this.closeSegment()).catch(() => undefined);
  }

  private async appendNow(id: RecordId, record: Buffer): Promise<void> {
    if (!this.disk.online) throw new Error(`disk ${this.disk.root} is offline`);
    const diskId = this.disk.format?.diskId;
    if (this.segment && (this.segment.diskId !== diskId || this.segment.size >= SEGMENT_BYTES)) {
      await this.closeSegment();
    }
    const seg = this.segment ?? (await this.openSegment(id, diskId));
    try {
      // The file is opened with O_DSYNC: the write returns once the record is on the device,
      // one call instead of a write and an fdatasync (each a trip through the thread pool).
      const { bytesWritten } = await write(seg.fd, record, 0, record.length, seg.size);
      // A short write is a full filesystem (or quota): not a copy.
      if (bytesWritten !== record.length) {
        throw Object.assign(new Error(`short journal write on ${this.disk.root} (${bytesWritten} of ${record.length} bytes): no space left`), { code: 'ENOSPC' });
      }
      seg.size += record.length;
      // A disk directory wiped under us leaves the fd writable, but its file is gone (no
      // links), and records that only reached such a file are not durable. Checked at most
      // every LINK_CHECK_MS (the disk monitor notices a wipe within seconds anyway) and the
      // append fails from then on.
      if (Date.now() - seg.checked >= LINK_CHECK_MS) {
        const st = await fstat(seg.fd);
        seg.checked = Date.now();
        if (st.nlink === 0) throw new Error(`journal file on ${this.disk.root} was removed`);
      }
      this.segments.set(seg.name, Math.max(this.segments.get(seg.name) ?? 0, id.seq));
    } catch (e) {
      // Cut off whatever part of the record reached the file (a full disk takes some of it):
      // the segment then ends with whole records only. Shrinking needs no free space.
      await ftruncate(seg.fd, seg.size).catch(() => undefined);
      await this.closeSegment();
      throw e;
    }
  }

  private async openSegment(first: RecordId, diskId: string | undefined): Promise<OpenSegment> {
    const made = await fsp.mkdir(this.dir, { mode: PRIVATE_DIR_MODE }).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      return false;
    });
    if (made) await fsyncDir(this.disk.root);
    const name = segmentName(first);
    // A new file every time (the name holds this epoch), so the records start at offset 0.
    const fd = await open(path.join(this.dir, name), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DSYNC, 0o600);
    try {
      await fsyncDir(this.dir);
      this.segment = { name, fd, size: 0, diskId, checked: Date.now() };
      return this.segment;
    } catch (e) {
      await close(fd).catch(() => undefined);
      throw e;
    }
  }

  private async closeSegment(): Promise<void> {
    const seg = this.segment;
    if (!seg) return;
    this.segment = undefined;
    await close(seg.fd).catch(() => undefined);
  }

  /**
   * Compaction: removes every segment, other than the open one, whose records all lie at or
   * before `seq` (a checkpoint holds their effect). Missing files are fine.
   */
  async removeSegmentsUpTo(seq: number): Promise<number> {
    let removed = 0;
    for (const [name, max] of [...this.segments]) {
      if (max > seq || name === this.segment?.name) continue;
      try {
        await fsp.unlink(path.join(this.dir, name));
        removed++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.segments.delete(name);
    }
    return removed;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.closeSegment();
  }
}
