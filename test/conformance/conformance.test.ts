// The conformance run (conformance/run.ts) against an in-process Tessera server, with every
// client this machine has. The clients the README promises (aws-cli, boto3, the AWS SDK for
// JavaScript, s3cmd, rclone; .ci/run installs them) must be there: a missing one fails the run
// rather than silently shrinking the matrix. A second (v2) aws-cli and minio-js, which Tessera
// does not promise, join when installed. Nothing may FAIL or be SKIPped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { excerpt, formatReport, parseArgs, runConformance, UsageError } from '../../conformance/run.js';

/** The clients the README names as working with Tessera. */
const PROMISED = ['aws-cli', 'boto3', 'sdk-js', 's3cmd', 'rclone'];

test('every installed client passes every check against an in-process server', { timeout: 300_000 }, async () => {
  const report = await runConformance({ parallel: 3, timeoutMs: 60_000 });
  const text = formatReport(report);
  assert.ok(report.inProcessServer, 'the run should start its own server');
  for (const name of PROMISED) {
    const c = report.clients.find((x) => x.name === name);
    assert.ok(c?.available, `${name} must be installed on this machine (the README promises it; .ci/run installs it): ${c?.reason}\n${text}`);
  }
  assert.equal(report.counts.FAIL, 0, text);
  assert.equal(report.counts.SKIP, 0, text);
  for (const c of report.clients.filter((x) => x.available)) {
    for (const check of report.checks) {
      const r = c.results[check.id];
      assert.ok(r && (r.status === 'PASS' || r.status === 'n/a'), `${c.name} / ${check.title}: ${r?.status}\n${text}`);
    }
    assert.equal(c.cleanup, undefined, `${c.name}: ${c.cleanup}`);
  }
  // The clients that do everything must not need an n/a anywhere.
  for (const name of ['aws-cli', 'boto3', 'sdk-js']) {
    const c = report.clients.find((x) => x.name === name)!;
    assert.deepEqual(Object.entries(c.results).filter(([, r]) => r.status !== 'PASS').map(([id]) => id), [], `${name}\n${text}`);
  }
  assert.ok(report.ok);
});

test('command-line parsing', () => {
  const o = parseArgs(['--endpoint=http://h:9000', '--clients', 'aws-cli,boto3', '--keep', '--timeout', '5'], { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' });
  assert.equal(o.endpoint, 'http://h:9000');
  assert.deepEqual(o.clients, ['aws-cli', 'boto3']);
  assert.equal(o.keep, true);
  assert.equal(o.timeoutMs, 5000);
  assert.equal(o.accessKey, 'AK');
  assert.equal(o.secretKey, 'SK');
  // Without --endpoint the environment's keys are not picked up: the in-process server makes its own.
  assert.equal(parseArgs([], { AWS_ACCESS_KEY_ID: 'AK' }).accessKey, undefined);
  assert.throws(() => parseArgs(['--bogus']), UsageError);
  assert.throws(() => parseArgs(['--endpoint', 'ftp://x']), UsageError);
  assert.throws(() => parseArgs(['--timeout', '0']), UsageError);
  assert.throws(() => parseArgs(['--region']), UsageError);
});

test('unknown client names are refused before anything starts', async () => {
  await assert.rejects(runConformance({ clients: ['aws-cli', 'cyberduck'] }), UsageError);
});

test('a long error is cut to the lines that say what went wrong', () => {
  const tb = ['exit code 1', 'Traceback (most recent call last):', ...Array.from({ length: 20 }, (_, i) => `  File "x.py", line ${i}, in f`), "botocore.exceptions.ClientError: An error occurred (NoSuchKey) when calling the GetObject operation: nope"].join('\n');
  const e = excerpt(tb, 8);
  assert.equal(e.shown[0], 'exit code 1');
  assert.ok(e.shown.some((l) => l.includes('(NoSuchKey)')));
  assert.ok(e.omitted > 0);
  assert.deepEqual(excerpt('a\nb', 8), { shown: ['a', 'b'], omitted: 0 });
});
