// How many shards must be durable for a write to count, and readable for a read to succeed.
// With k = m, k shards alone could exist twice over in two different versions after a
// split, so one more is required (the usual rule for erasure-coded stores).
export function writeQuorum(k: number, m: number): number {
  return k === m ? k + 1 : k;
}

export function readQuorum(k: number): number {
  return k;
}
