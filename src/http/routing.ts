// Finds the bucket and key a request addresses, in path style (/bucket/key) or virtual-host
// style (bucket.DOMAIN/key). Works on the raw request line so keys round-trip exactly:
// "a%2Fb", "a//b", a leading "/", "+" and unicode all keep their meaning.

import { S3Error } from '../errors.js';

export interface Target {
  bucket?: string;
  key?: string;
  rawPath: string;
  rawQuery: string;
  virtualHost: boolean;
}

export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { rawPath: url, rawQuery: '' } : { rawPath: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error('InvalidURI', 'Couldn\'t parse the specified URI.');
  }
}

export function resolveTarget(url: string, host: string | undefined, domains: string[]): Target {
  const { rawPath, rawQuery } = splitUrl(url);
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI', 'Couldn\'t parse the specified URI.');
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  for (const d of domains) {
    const suffix = '.' + d.toLowerCase();
    if (hostname.endsWith(suffix) && hostname.length > suffix.length) {
      const bucket = hostname.slice(0, -suffix.length);
      const key = rawPath.length > 1 ? decode(rawPath.slice(1)) : undefined;
      return { bucket, key, rawPath, rawQuery, virtualHost: true };
    }
  }
  const rest = rawPath.slice(1);
  if (rest === '') return { rawPath, rawQuery, virtualHost: false };
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: decode(rest), rawPath, rawQuery, virtualHost: false };
  const bucket = decode(rest.slice(0, slash));
  const key = rest.slice(slash + 1);
  return { bucket, key: key === '' ? undefined : decode(key), rawPath, rawQuery, virtualHost: false };
}
