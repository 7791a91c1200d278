// Latency samples and the small amount of arithmetic the reports need.

/** A growable array of latency samples in milliseconds (no per-sample object allocation). */
export class Samples {
  private data = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  append(other: Samples): void {
    for (let i = 0; i < other.length; i++) this.push(other.data[i]!);
  }

  summary(): LatencySummary {
    if (this.length === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
    const sorted = this.data.slice(0, this.length).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1]!,
      mean: sum / sorted.length,
    };
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (the value at least q of samples are ≤ to). */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** MB/s with MB = 10^6 bytes, the unit bench-codec and `dd` report, so figures compare directly. */
export function mbPerSec(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

/** Human form of a byte count: 4096 → "4KiB", 67108864 → "64MiB", 1000 → "1000B". */
export function formatBytes(n: number): string {
  const units: Array<[string, number]> = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
  for (const [u, f] of units) if (n >= f && n % f === 0) return `${n / f}${u}`;
  return `${n}B`;
}

/** A number with a sensible count of digits for a table cell. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Pads cells to column widths; numbers (and "-") right-aligned, text left-aligned. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.,]+[x%]?$|^-$/.test(s);
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric(c) && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
