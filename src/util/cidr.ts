// IP addresses and CIDR blocks as bytes, for IpAddress conditions. An IPv4-mapped IPv6
// address (::ffff:192.0.2.1, what a dual-stack socket reports for an IPv4 client) is taken as
// the IPv4 address it carries, so that a policy naming 192.0.2.0/24 matches that client.

import { isIP } from 'node:net';

export interface Cidr {
  /** 4 bytes (IPv4) or 16 (IPv6), bits past the prefix as given. */
  bytes: Uint8Array;
  prefix: number;
}

/** The address as 4 or 16 bytes, or undefined when it is not an IP address. */
export function parseIp(text: string): Uint8Array | undefined {
  const family = isIP(text);
  if (family === 4) return parseIPv4(text);
  if (family !== 6 || text.includes('%')) return undefined; // no zone ids
  const bytes = parseIPv6(text);
  return isIPv4Mapped(bytes) ? bytes.subarray(12) : bytes;
}

/** 'a.b.c.d/n', 'x:y::z/n' or a bare address (a block of one). Undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addressText);
  if (family === 0 || addressText.includes('%')) return undefined;
  const bytes = family === 4 ? parseIPv4(addressText) : parseIPv6(addressText);
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > bits) return undefined;
  }
  // ::ffff:192.0.2.0/120 is the IPv4 block 192.0.2.0/24.
  if (family === 6 && prefix >= 96 && isIPv4Mapped(bytes)) return { bytes: bytes.subarray(12), prefix: prefix - 96 };
  return { bytes, prefix };
}

export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  if (cidr.bytes.length !== address.length) return false;
  const whole = cidr.prefix >> 3;
  for (let i = 0; i < whole; i++) if (cidr.bytes[i] !== address[i]) return false;
  const rest = cidr.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (cidr.bytes[whole] & mask) === (address[whole] & mask);
}

function parseIPv4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

// Called on text isIP accepted as IPv6: groups, one '::' at most, maybe a dotted IPv4 tail.
function parseIPv6(text: string): Uint8Array {
  const bytes = new Uint8Array(16);
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headBytes = groupsToBytes(head);
  bytes.set(headBytes, 0);
  if (tail !== undefined) {
    const tailBytes = groupsToBytes(tail);
    bytes.set(tailBytes, 16 - tailBytes.length);
  }
  return bytes;
}

function groupsToBytes(text: string): number[] {
  if (text === '') return [];
  const out: number[] = [];
  for (const group of text.split(':')) {
    if (group.includes('.')) out.push(...parseIPv4(group));
    else {
      const n = parseInt(group, 16);
      out.push(n >> 8, n & 0xff);
    }
  }
  return out;
}

function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
