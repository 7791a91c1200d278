// Running totals of what healing found and repaired, for the metrics endpoint. Every repair
// (a read that found damage and queued it, the background scanner, a heal after a disk was
// replaced, an admin heal) goes through healVersion, which adds to these; nothing here is
// ever reset while the process runs.

export class HealStats {
  /** Shard files rewritten from the others. */
  shardsRebuilt = 0;
  /** Shard files found with a block that failed its CRC32C (bit rot), by a verifying pass. */
  bitrotFound = 0;
  /** Of those, the ones rewritten (the rest sat on a disk that was offline at the time). */
  bitrotRepaired = 0;
  /** Shard files found missing (a wiped or replaced disk, a deleted file). */
  missingFound = 0;

  add(r: { damaged: number[]; corrupt: number[]; rebuilt: number[] }): void {
    this.shardsRebuilt += r.rebuilt.length;
    this.bitrotFound += r.corrupt.length;
    this.bitrotRepaired += r.corrupt.filter((i) => r.rebuilt.includes(i)).length;
    this.missingFound += r.damaged.length - r.corrupt.length;
  }
}
