// Errors that say something about this process or the machine, not about a disk or a request:
// out of file descriptors, memory or kernel buffers. (Clients that hang up: http/wire.ts.) A disk that
// answers EMFILE is healthy; it is the process that has too many files open. Marking it offline
// (and queueing repairs of shards that are fine) would turn a burst of connections into a
// storage outage, so every layer that judges a disk asks here first.

/** errno codes that mean "the process or the machine is out of a resource; try again later". */
const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EWOULDBLOCK', 'ENOBUFS']);

/** Messages of libraries (LevelDB) that report the same conditions without an errno code. */
const RESOURCE_MESSAGE = /too many open files|cannot allocate memory|resource temporarily unavailable/i;

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True when `e` says the process ran out of descriptors, memory or buffers. */
export function isResourceError(e: unknown): boolean {
  const code = codeOf(e);
  if (code !== undefined && RESOURCE_CODES.has(code)) return true;
  const cause = (e as { cause?: unknown } | null | undefined)?.cause;
  if (cause !== undefined && cause !== e && isResourceError(cause)) return true;
  return e instanceof Error && RESOURCE_MESSAGE.test(e.message);
}
