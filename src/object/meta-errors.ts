// Errors of the metadata index that stop a start (the CLI prints them as one line, exit 2).

/** The index cannot be trusted and cannot be rebuilt from these disks. */
export class MetaIndexError extends Error {}

/** A check cut short because the server is stopping. */
export class StoppedError extends Error {}
