// Listing part of the MetaStore contract: ListObjects, ListObjectVersions and
// ListMultipartUploads semantics (prefix, delimiter, markers, max-keys, paging, byte order).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ListCurrentOptions, MetaOp, MetaStore } from '../../src/meta/types.js';
import {
  byteSorted, type MakeStore, pageCurrent, pageVersions, putObjects, upload, version, withStore,
} from './fixtures.js';

/** Keys whose UTF-8 byte order differs from JS (UTF-16) string order, plus troublemakers. */
const AWKWARD_KEYS = [
  'a', 'a b', 'a+b', 'a%2Fb', 'a/b', 'a/b/c', 'ab', 'ab c', 'abc', 'abcd', 'a\u00e9', 'é', 'Z', 'z', '0', '~',
  '😀', 'a😀', '\uFF5E', '\uE000', 'a\uFFFD', '日本語/ファイル', ' leading space', 'trailing space ', '%', '+',
];

async function list(s: MetaStore, bucket: string, opts: Partial<ListCurrentOptions> = {}) {
  const r = await s.listCurrent(bucket, { maxKeys: 1000, ...opts });
  return { keys: r.objects.map((o) => o.key), prefixes: r.commonPrefixes, isTruncated: r.isTruncated, lastReturned: r.lastReturned };
}

export function listingContract(make: MakeStore): void {
  describe('listing', () => {
    it('orders keys by UTF-8 bytes in every listing', () => withStore(make, async (s) => {
      const expected = byteSorted(AWKWARD_KEYS);
      assert.notDeepEqual(expected, [...AWKWARD_KEYS].sort(), 'the fixture must tell byte order from UTF-16 order');
      await putObjects(s, 'b', AWKWARD_KEYS);
      await s.batch(AWKWARD_KEYS.map((k, i) => ({ type: 'putUpload', upload: upload('b', k, `u${i}`) }) as MetaOp));
      assert.deepEqual((await list(s, 'b')).keys, expected);
      const onePerPage = (await pageCurrent(s, 'b', { maxKeys: 1 })).flatMap((p) => p.objects.map((o) => o.key));
      assert.deepEqual(onePerPage, expected);
      assert.deepEqual((await s.listVersions('b', { maxKeys: 1000 })).versions.map((v) => v.key), expected);
      assert.deepEqual((await s.listUploads('b', { maxUploads: 1000 })).uploads.map((u) => u.key), expected);
      assert.deepEqual((await list(s, 'b', { prefix: 'a' })).keys, expected.filter((k) => k.startsWith('a')));
      assert.deepEqual((await list(s, 'b', { startAfter: '\uE000' })).keys, expected.slice(expected.indexOf('\uE000') + 1));
    }));

    it('keeps buckets apart, even when one name is a prefix of another', () => withStore(make, async (s) => {
      await putObjects(s, 'b', ['x', 'y/1']);
      await putObjects(s, 'b2', ['a', 'x', 'y/2']);
      await s.batch([{ type: 'putUpload', upload: upload('b2', 'u', 'up') }]);
      assert.deepEqual((await list(s, 'b')).keys, ['x', 'y/1']);
      assert.deepEqual((await list(s, 'b', { delimiter: '/' })).prefixes, ['y/']);
      assert.deepEqual((await s.listVersions('b', { maxKeys: 100 })).versions.map((v) => v.key), ['x', 'y/1']);
      assert.deepEqual((await s.listUploads('b', { maxUploads: 100 })).uploads, []);
      assert.deepEqual((await list(s, 'b2')).keys, ['a', 'x', 'y/2']);
      assert.deepEqual((await list(s, 'nope')).keys, []);
    }));

    it('listCurrent: empty bucket, max-keys 0, exactly max-keys', () => withStore(make, async (s) => {
      assert.deepEqual(await s.listCurrent('b', { maxKeys: 1000 }), { objects: [], commonPrefixes: [], isTruncated: false });
      await putObjects(s, 'b', ['k1', 'k2', 'k3', 'k4', 'k5']);
      assert.deepEqual(await s.listCurrent('b', { maxKeys: 0 }), { objects: [], commonPrefixes: [], isTruncated: false });
      assert.deepEqual(await list(s, 'b', { maxKeys: 5 }), { keys: ['k1', 'k2', 'k3', 'k4', 'k5'], prefixes: [], isTruncated: false, lastReturned: 'k5' });
      assert.deepEqual(await list(s, 'b', { maxKeys: 4 }), { keys: ['k1', 'k2', 'k3', 'k4'], prefixes: [], isTruncated: true, lastReturned: 'k4' });
      assert.deepEqual(await list(s, 'b', { maxKeys: 4, startAfter: 'k4' }), { keys: ['k5'], prefixes: [], isTruncated: false, lastReturned: 'k5' });
      assert.deepEqual(await list(s, 'b', { startAfter: 'k5' }), { keys: [], prefixes: [], isTruncated: false, lastReturned: undefined });
      assert.deepEqual((await list(s, 'b', { startAfter: 'k2x' })).keys, ['k3', 'k4', 'k5']);
      // Objects that are no longer current do not list.
      await s.batch([{ type: 'setCurrent', bucket: 'b', key: 'k2', version: null }]);
      assert.deepEqual((await list(s, 'b')).keys, ['k1', 'k3', 'k4', 'k5']);
    }));

    it('listCurrent: prefix and delimiter', () => withStore(make, async (s) => {
      await putObjects(s, 'b', ['a/', 'a/1', 'a/2', 'b', 'c/d/e', 'c/f', 'fo', 'foo', 'fob/x', 'f', 'x--1', 'x--2', 'x-y', 'y']);
      assert.deepEqual(await list(s, 'b', { delimiter: '/' }), {
        keys: ['b', 'f', 'fo', 'foo', 'x--1', 'x--2', 'x-y', 'y'], prefixes: ['a/', 'c/', 'fob/'], isTruncated: false, lastReturned: 'y',
      });
      assert.deepEqual(await list(s, 'b', { prefix: 'c/', delimiter: '/' }), { keys: ['c/f'], prefixes: ['c/d/'], isTruncated: false, lastReturned: 'c/f' });
      assert.deepEqual((await list(s, 'b', { prefix: 'a/', delimiter: '/' })).keys, ['a/', 'a/1', 'a/2'], 'the key equal to the prefix lists');
      // A prefix that ends inside a key.
      assert.deepEqual(await list(s, 'b', { prefix: 'fo', delimiter: '/' }), { keys: ['fo', 'foo'], prefixes: ['fob/'], isTruncated: false, lastReturned: 'foo' });
      assert.deepEqual((await list(s, 'b', { prefix: 'fo' })).keys, ['fo', 'fob/x', 'foo']);
      assert.deepEqual((await list(s, 'b', { prefix: 'nothing' })).keys, []);
      // Other and multi-character delimiters.
      assert.deepEqual((await list(s, 'b', { prefix: 'x', delimiter: '-' })).prefixes, ['x-']);
      assert.deepEqual(await list(s, 'b', { prefix: 'x', delimiter: '--' }), { keys: ['x-y'], prefixes: ['x--'], isTruncated: false, lastReturned: 'x-y' });
      assert.deepEqual((await list(s, 'b', { delimiter: 'o' })).prefixes, ['fo']);
      assert.deepEqual((await list(s, 'b', { delimiter: '' })).keys.length, 14, 'an empty delimiter is no delimiter');
    }));

    it('listCurrent: common prefixes count toward max-keys; markers inside a group', () => withStore(make, async (s) => {
      await putObjects(s, 'b', ['a/1', 'a/2', 'b/1', 'c', 'd/1', 'd/2/3']);
      assert.deepEqual(await list(s, 'b', { delimiter: '/', maxKeys: 2 }), { keys: [], prefixes: ['a/', 'b/'], isTruncated: true, lastReturned: 'b/' });
      assert.deepEqual(await list(s, 'b', { delimiter: '/', maxKeys: 2, startAfter: 'b/' }), { keys: ['c'], prefixes: ['d/'], isTruncated: false, lastReturned: 'd/' });
      assert.deepEqual(await list(s, 'b', { delimiter: '/', maxKeys: 3 }), { keys: ['c'], prefixes: ['a/', 'b/'], isTruncated: true, lastReturned: 'c' });
      // A marker inside a group ("a/1" > "a/") does not bring the group back.
      assert.deepEqual(await list(s, 'b', { delimiter: '/', startAfter: 'a/1' }), { keys: ['c'], prefixes: ['b/', 'd/'], isTruncated: false, lastReturned: 'd/' });
      assert.deepEqual((await list(s, 'b', { delimiter: '/', startAfter: 'a' })).prefixes, ['a/', 'b/', 'd/']);
      // A marker before the prefix starts at the prefix.
      assert.deepEqual((await list(s, 'b', { prefix: 'd/', startAfter: 'a' })).keys, ['d/1', 'd/2/3']);
      assert.deepEqual((await list(s, 'b', { prefix: 'd/', delimiter: '/', startAfter: 'd/1' })).prefixes, ['d/2/']);
    }));

    it('listCurrent: pages through 2,500 keys as 1000 + 1000 + 500 without gaps or repeats', () => withStore(make, async (s) => {
      const keys = Array.from({ length: 2500 }, (_, i) => `obj/${(i * 7919) % 2500}/${i % 3 ? 'é' : '😀'}`);
      await putObjects(s, 'b', keys);
      const pages = await pageCurrent(s, 'b', { maxKeys: 1000 });
      assert.deepEqual(pages.map((p) => [p.objects.length, p.isTruncated]), [[1000, true], [1000, true], [500, false]]);
      assert.deepEqual(pages.flatMap((p) => p.objects.map((o) => o.key)), byteSorted(keys));
    }));

    it('listCurrent: paging with a delimiter yields exactly the one-page answer', () => withStore(make, async (s) => {
      const keys: string[] = [];
      for (let d = 0; d < 30; d++) keys.push(`dir${d}/a`, `dir${d}/b`, `dir${d}/sub/c`, `dir${d}`);
      for (let i = 0; i < 20; i++) keys.push(`file${i}`, `ü${i}/x`);
      await putObjects(s, 'b', keys);
      for (const prefix of ['', 'dir1', 'dir1/']) {
        const whole = await s.listCurrent('b', { prefix, delimiter: '/', maxKeys: 1000 });
        assert.equal(whole.isTruncated, false);
        for (const maxKeys of [1, 2, 7, 50]) {
          const pages = await pageCurrent(s, 'b', { prefix, delimiter: '/', maxKeys });
          for (const p of pages.slice(0, -1)) assert.equal(p.objects.length + p.commonPrefixes.length, maxKeys);
          assert.deepEqual(pages.flatMap((p) => p.objects.map((o) => o.key)), whole.objects.map((o) => o.key), `${prefix} ${maxKeys}`);
          assert.deepEqual(pages.flatMap((p) => p.commonPrefixes), whole.commonPrefixes, `${prefix} ${maxKeys}`);
        }
      }
    }));

    it('listVersions: newest first per key, paging with boundaries inside a key', () => withStore(make, async (s) => {
      const counts: Record<string, number> = { k1: 7, 'k1/x': 2, k2: 1, k3: 5 };
      const ops: MetaOp[] = [];
      for (const [key, n] of Object.entries(counts)) {
        for (let i = 1; i <= n; i++) ops.push({ type: 'putVersion', version: version('b', key, i, { isDeleteMarker: i === 3 }) });
      }
      await s.batch(ops);
      const expected = byteSorted(Object.keys(counts)).flatMap((key) =>
        Array.from({ length: counts[key]! }, (_, i) => `${key}@v${counts[key]! - i}`));
      const whole = await s.listVersions('b', { maxKeys: 1000 });
      assert.equal(whole.isTruncated, false);
      assert.equal(whole.nextKeyMarker, undefined);
      assert.deepEqual(whole.versions.map((v) => `${v.key}@${v.versionId}`), expected);
      assert.equal(whole.versions.filter((v) => v.isDeleteMarker).length, 2, 'delete markers list like versions');

      for (const maxKeys of [1, 2, 3, 4, 6]) {
        const pages = await pageVersions(s, 'b', { maxKeys });
        assert.deepEqual(pages.flatMap((p) => p.versions.map((v) => `${v.key}@${v.versionId}`)), expected, `maxKeys ${maxKeys}`);
      }
      const first = await s.listVersions('b', { maxKeys: 3 });
      assert.deepEqual([first.isTruncated, first.nextKeyMarker, first.nextVersionIdMarker], [true, 'k1', 'v5']);

      const ids = async (opts: { keyMarker?: string; versionIdMarker?: string; prefix?: string }) =>
        (await s.listVersions('b', { maxKeys: 1000, ...opts })).versions.map((v) => `${v.key}@${v.versionId}`);
      assert.deepEqual(await ids({ keyMarker: 'k1' }), expected.slice(7), 'keyMarker alone skips every version of it');
      assert.deepEqual(await ids({ keyMarker: 'k1', versionIdMarker: 'v3' }), expected.slice(5));
      assert.deepEqual(await ids({ keyMarker: 'k3', versionIdMarker: 'v1' }), []);
      assert.deepEqual(await ids({ keyMarker: 'k0' }), expected);
      assert.deepEqual(await ids({ prefix: 'k1' }), expected.slice(0, 9));
      assert.deepEqual(await ids({ prefix: 'k1', keyMarker: 'k1', versionIdMarker: 'v1' }), expected.slice(7, 9));
      assert.deepEqual(await s.listVersions('b', { maxKeys: 0 }), { versions: [], commonPrefixes: [], isTruncated: false });
    }));

    it('listVersions: delimiter, common prefixes count, paging over groups', () => withStore(make, async (s) => {
      const ops: MetaOp[] = [];
      const add = (key: string, n: number) => { for (let i = 1; i <= n; i++) ops.push({ type: 'putVersion', version: version('b', key, i) }); };
      add('a/1', 3); add('a/2', 1); add('b', 2); add('c/x', 4); add('c/y/z', 1); add('d', 1);
      await s.batch(ops);
      const whole = await s.listVersions('b', { delimiter: '/', maxKeys: 1000 });
      assert.deepEqual(whole.commonPrefixes, ['a/', 'c/']);
      assert.deepEqual(whole.versions.map((v) => `${v.key}@${v.versionId}`), ['b@v2', 'b@v1', 'd@v1']);

      const p1 = await s.listVersions('b', { delimiter: '/', maxKeys: 2 });
      assert.deepEqual([p1.commonPrefixes, p1.versions.map((v) => v.versionId), p1.nextKeyMarker, p1.nextVersionIdMarker], [['a/'], ['v2'], 'b', 'v2']);
      const p2 = await s.listVersions('b', { delimiter: '/', maxKeys: 2, keyMarker: 'b', versionIdMarker: 'v2' });
      assert.deepEqual([p2.commonPrefixes, p2.versions.map((v) => v.versionId), p2.nextKeyMarker, p2.nextVersionIdMarker], [['c/'], ['v1'], 'c/', undefined]);
      const p3 = await s.listVersions('b', { delimiter: '/', maxKeys: 2, keyMarker: 'c/' });
      assert.deepEqual([p3.commonPrefixes, p3.versions.map((v) => v.key), p3.isTruncated], [[], ['d'], false]);

      for (const maxKeys of [1, 3]) {
        const pages = await pageVersions(s, 'b', { delimiter: '/', maxKeys });
        assert.deepEqual(pages.flatMap((p) => p.commonPrefixes), whole.commonPrefixes);
        assert.deepEqual(pages.flatMap((p) => p.versions.map((v) => `${v.key}@${v.versionId}`)), whole.versions.map((v) => `${v.key}@${v.versionId}`));
      }
      const inC = await s.listVersions('b', { prefix: 'c/', delimiter: '/', maxKeys: 1000 });
      assert.deepEqual([inC.commonPrefixes, inC.versions.length], [['c/y/'], 4]);
    }));

    it('listUploads: key then uploadId order, markers, delimiter, paging', () => withStore(make, async (s) => {
      const all: Array<[string, string]> = [['a/1', 'u2'], ['a/1', 'u1'], ['b', 'u5'], ['b', 'u3'], ['b', 'u4'], ['c/x', 'u6'], ['d', 'u7']];
      await s.batch(all.map(([key, id]) => ({ type: 'putUpload', upload: upload('b', key, id) }) as MetaOp));
      const ids = async (opts: { keyMarker?: string; uploadIdMarker?: string; prefix?: string; delimiter?: string; maxUploads?: number }) => {
        const r = await s.listUploads('b', { maxUploads: 1000, ...opts });
        return { uploads: r.uploads.map((u) => `${u.key}@${u.uploadId}`), prefixes: r.commonPrefixes, truncated: r.isTruncated, next: [r.nextKeyMarker, r.nextUploadIdMarker] };
      };
      const everything = ['a/1@u1', 'a/1@u2', 'b@u3', 'b@u4', 'b@u5', 'c/x@u6', 'd@u7'];
      assert.deepEqual((await ids({})).uploads, everything);
      assert.deepEqual(await ids({ maxUploads: 3 }), { uploads: everything.slice(0, 3), prefixes: [], truncated: true, next: ['b', 'u3'] });
      assert.deepEqual((await ids({ keyMarker: 'b', uploadIdMarker: 'u3' })).uploads, everything.slice(3));
      assert.deepEqual((await ids({ keyMarker: 'b' })).uploads, everything.slice(5));
      assert.deepEqual((await ids({ prefix: 'a/' })).uploads, everything.slice(0, 2));
      assert.deepEqual(await ids({ delimiter: '/', maxUploads: 2 }), { uploads: ['b@u3'], prefixes: ['a/'], truncated: true, next: ['b', 'u3'] });
      assert.deepEqual(await ids({ delimiter: '/', maxUploads: 3, keyMarker: 'b', uploadIdMarker: 'u4' }), { uploads: ['b@u5', 'd@u7'], prefixes: ['c/'], truncated: false, next: [undefined, undefined] });
      assert.deepEqual(await ids({ delimiter: '/', maxUploads: 1, keyMarker: 'b', uploadIdMarker: 'u5' }), { uploads: [], prefixes: ['c/'], truncated: true, next: ['c/', undefined] });
      assert.deepEqual((await ids({ delimiter: '/', keyMarker: 'c/' })).uploads, ['d@u7']);
      assert.deepEqual(await s.listUploads('b', { maxUploads: 0 }), { uploads: [], commonPrefixes: [], isTruncated: false });
    }));
  });
}
