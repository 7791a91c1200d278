// Generated identifiers. Version ids double as sort keys: byte order ascending is newest
// first, so listing a key's versions is a forward range scan.

import { randomBytes } from 'node:crypto';

const MAX_MS = 0xffffffffffff; // 48-bit millisecond clock: good until the year 10889

export class IdGenerator {
  private lastMs = 0;
  private seq = 0;

  constructor(private readonly now: () => number = Date.now, private readonly random: (n: number) => Buffer = randomBytes) {}

  /** Random id for data (shard files, inline records): 32 hex chars. */
  dataId(): string {
    return this.random(16).toString('hex');
  }

  /**
   * Sort key for a new version: inverted time (12 hex), a sequence within the millisecond
   * (4 hex) so keys generated in one process never collide or reorder, and 8 random hex
   * chars so two processes never collide either.
   */
  versionSortKey(): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.seq++;
      if (this.seq > 0xffff) {
        ms = ++this.lastMs;
        this.seq = 0;
      }
    } else {
      this.seq = 0;
    }
    this.lastMs = ms;
    const inv = (MAX_MS - ms).toString(16).padStart(12, '0');
    return inv + (0xffff - this.seq).toString(16).padStart(4, '0') + this.random(4).toString('hex');
  }

  /** Upload ids sort by creation time (oldest first), so ListMultipartUploads orders them like S3. */
  uploadId(): string {
    const ms = this.now().toString(16).padStart(12, '0');
    return ms + this.random(12).toString('base64url');
  }
}

/** Our generated version ids are 24 lower-case hex chars; anything else cannot exist here. */
export function isWellFormedVersionId(v: string): boolean {
  return v === 'null' || /^[0-9a-f]{24}$/.test(v);
}

/** Our upload ids: 12 hex chars of creation time, then 16 base64url chars of randomness. */
export function isWellFormedUploadId(v: string): boolean {
  return /^[0-9a-f]{12}[A-Za-z0-9_-]{16}$/.test(v);
}
