// Parsers for the individual config values. Each takes the raw value as it came from YAML or
// from the environment and either returns the typed value or throws ConfigError with a
// message that says what was expected. The caller prefixes where the value came from.

import { isIP } from 'node:net';

/** A configuration problem that must stop start-up. The message is one line, for humans. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  // Decimal units are accepted too because people write them, but they mean what they say:
  // 1MB is 1,000,000 bytes, not 1 MiB.
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/** Shows a raw value in an error message without letting it run over several lines. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** What kind of value this is, for messages about values that must not be echoed. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return 'a number (quote it)';
  return `a ${typeof value}`;
}

/**
 * A byte count: a whole number, or a string such as "1MiB", "128 KiB", "1.5GiB" or "4096".
 * Bare letters like "1M" are refused because it is unclear whether they mean 10^6 or 2^20.
 */
export function parseSize(value: unknown): number {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    if (!m) throw new ConfigError(`expected a size such as 1048576, "1MiB" or "128KiB", got ${show(value)}`);
    const unit = m[2]!.toLowerCase();
    const factor = unit === '' ? 1 : SIZE_UNITS[unit];
    if (factor === undefined) {
      throw new ConfigError(`unknown size unit ${JSON.stringify(m[2])} in ${show(value)} (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)`);
    }
    // Multiply before rounding checks so "1.5KiB" (1536) is fine and "1.5B" is not.
    bytes = Number(m[1]) * factor;
  } else {
    throw new ConfigError(`expected a size such as 1048576, "1MiB" or "128KiB", got ${show(value)}`);
  }
  if (!Number.isFinite(bytes) || bytes < 0) throw new ConfigError(`expected a size of zero or more bytes, got ${show(value)}`);
  if (!Number.isInteger(bytes)) throw new ConfigError(`size ${show(value)} is not a whole number of bytes`);
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(`size ${show(value)} is too large`);
  return bytes;
}

/** A whole number ≥ 0. Strings of digits are accepted because environment values are strings. */
export function parseWholeNumber(value: unknown): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) n = Number(value);
  else throw new ConfigError(`expected a whole number, got ${show(value)}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`expected a whole number, got ${show(value)}`);
  return n;
}

export interface Address {
  host: string;
  port: number;
}

/**
 * "host:port", "[ipv6]:port" or ":port" (all IPv4 interfaces). The host is returned without
 * brackets, ready for server.listen(). Port 0 is allowed: it asks the OS for a free port,
 * which is what tests do.
 */
export function parseAddress(value: unknown): Address {
  if (typeof value !== 'string') throw new ConfigError(`expected host:port such as "127.0.0.1:9000", got ${show(value)}`);
  const text = value.trim();
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (isIP(host) !== 6) throw new ConfigError(`${show(value)}: ${show(host)} in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new ConfigError(`expected host:port such as "127.0.0.1:9000", got ${show(value)} (no port)`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      throw new ConfigError(`${show(value)}: write an IPv6 address in brackets, such as "[::1]:9000"`);
    }
    if (host === '') host = '0.0.0.0';
    else if (isIP(host) !== 4 && !isHostName(host)) throw new ConfigError(`${show(value)}: ${show(host)} is not a valid host name or IP address`);
  }
  if (!/^\d+$/.test(portText)) throw new ConfigError(`${show(value)}: port ${show(portText)} is not a number`);
  const port = Number(portText);
  if (port > 65535) throw new ConfigError(`${show(value)}: port ${port} is out of range (0-65535)`);
  return { host, port };
}

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
export function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

/**
 * A domain for virtual-host style requests (bucket.DOMAIN). Lower-cased and without a
 * trailing dot, because Host headers are compared case-insensitively and without one.
 */
export function parseDomain(value: string): string {
  const text = value.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new ConfigError(`domain ${show(value)} must be a bare host name, without a scheme`);
  if (text.includes('/')) throw new ConfigError(`domain ${show(value)} must be a bare host name, without a path`);
  if (text.includes(':')) throw new ConfigError(`domain ${show(value)} must be a bare host name, without a port (the port of the Host header is ignored when matching)`);
  const name = text.toLowerCase().replace(/\.$/, '');
  if (isIP(name)) throw new ConfigError(`domain ${show(value)} is an IP address; virtual-host style needs a host name`);
  if (!isHostName(name)) throw new ConfigError(`domain ${show(value)} is not a valid host name`);
  return name;
}

/**
 * Splits a list value: YAML lists are taken as they are, and a string (always the case for
 * environment values) is split on commas. Empty entries from stray commas are dropped.
 */
export function parseStringList(value: unknown, what: string): string[] {
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'string') items = value.split(',');
  else throw new ConfigError(`expected a list of ${what}, got ${show(value)}`);
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new ConfigError(`expected a list of ${what}, but one entry is ${show(item)}`);
    const trimmed = item.trim();
    if (trimmed !== '') out.push(trimmed);
  }
  return out;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(value: unknown): LogLevel {
  const text = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (typeof text === 'string' && (LOG_LEVELS as readonly string[]).includes(text)) return text as LogLevel;
  throw new ConfigError(`expected one of ${LOG_LEVELS.join(', ')}, got ${show(value)}`);
}

/**
 * A region name. It becomes part of the SigV4 credential scope ("date/region/s3/aws4_request"),
 * so a slash or whitespace would make every signature unparseable.
 */
export function parseRegion(value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError(`expected a region name such as "us-east-1", got ${show(value)}`);
  const text = value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text)) {
    throw new ConfigError(`region ${show(value)} must be 1-64 letters, digits, '-', '_' or '.', such as "us-east-1"`);
  }
  return text;
}

/**
 * Access key: 3-128 characters. It travels inside "Credential=KEY/date/region/…" in the
 * Authorization header and in query strings, so '/', ',', '=' and whitespace would break parsing.
 * The value is echoed in messages only by length: it may have been pasted next to the secret.
 */
export function parseAccessKey(value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError(`expected a string, got ${kindOf(value)}`);
  if (value.length < 3 || value.length > 128) throw new ConfigError(`access key must be 3 to 128 characters long, got ${value.length}`);
  if (!/^[\x21-\x7e]+$/.test(value) || /[/,=]/.test(value)) {
    throw new ConfigError(`access key may contain only printable ASCII characters other than '/', ',', '=' and spaces`);
  }
  return value;
}

/** Secret key: at least 8 characters. Never echoed in any message. */
export function parseSecretKey(value: unknown): string {
  if (typeof value !== 'string') throw new ConfigError(`expected a string, got ${kindOf(value)}`);
  if (value.length < 8) throw new ConfigError(`secret key must be at least 8 characters long, got ${value.length}`);
  if (value.length > 1024) throw new ConfigError(`secret key must be at most 1024 characters long, got ${value.length}`);
  if (/[\x00-\x1f\x7f]/.test(value)) throw new ConfigError(`secret key contains control characters (a stray newline?)`);
  if (value.trim() !== value) throw new ConfigError(`secret key has leading or trailing spaces (a copy-paste slip?)`);
  return value;
}

/** Edit distance, used only to suggest the key that a misspelt one was probably meant to be. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
