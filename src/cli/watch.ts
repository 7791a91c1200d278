// `tessera watch s3://bucket/prefix [--events put,delete] [--json]`: prints a bucket's changes
// as they happen, from the admin API's live event stream (http/event-stream.ts). One line per
// event: time, event name, key, size; with --json one AWS event record per line. Endpoint and
// credentials as for `tessera admin` (--endpoint/TESSERA_ENDPOINT, --access-key/--secret-key or
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY). Runs until interrupted (exit 0) or until the server
// ends the stream (exit 1, with the reason on stderr).

import http from 'node:http';
import https from 'node:https';
import aws4 from 'aws4';
import { CliError, parseArgs } from './admin-remote.js';

export const WATCH_USAGE = `usage: tessera watch s3://BUCKET[/PREFIX] [--events put,delete,tagging,lifecycle] [--suffix S] [--json]
               [--endpoint URL] [--access-key K --secret-key S]
  prints each change in the bucket (under PREFIX) as it happens: time, event, key, size;
  --json: one AWS event record per line. Ctrl-C stops.
endpoint: --endpoint or TESSERA_ENDPOINT (default http://127.0.0.1:9000)
credentials: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
`;

interface Record0 {
  eventTime: string;
  eventName: string;
  s3: { object: { key: string; size?: number; versionId?: string } };
}

export async function runWatch(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(WATCH_USAGE);
    return 0;
  }
  // Our own options out first; the rest (endpoint, credentials) are the admin CLI's.
  const rest: string[] = [];
  let events: string | undefined;
  let suffix: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--events' || a === '--suffix') {
      const v = argv[++i];
      if (v === undefined) throw new CliError(`${a} needs a value`);
      if (a === '--events') events = v;
      else suffix = v;
    } else if (a.startsWith('--events=')) events = a.slice(9);
    else if (a.startsWith('--suffix=')) suffix = a.slice(9);
    else rest.push(a);
  }
  const o = parseArgs(rest, process.env);
  if (o.words.length !== 1 || !o.words[0]!.startsWith('s3://')) throw new CliError(WATCH_USAGE.trimEnd());
  const target = o.words[0]!.slice(5);
  const slash = target.indexOf('/');
  const bucket = slash < 0 ? target : target.slice(0, slash);
  const prefix = slash < 0 ? '' : target.slice(slash + 1);
  if (bucket === '') throw new CliError(WATCH_USAGE.trimEnd());

  const q = new URLSearchParams({ bucket });
  if (prefix) q.set('prefix', prefix);
  if (suffix) q.set('suffix', suffix);
  if (events) q.set('events', events);
  const base = o.endpoint.pathname.replace(/\/+$/, '');
  // aws4 signs the query as given; %20 rather than + keeps it canonical.
  const path = `${base}/tessera/admin/v1/events?${q.toString().replace(/\+/g, '%20')}`;
  const req = { host: o.endpoint.host, method: 'GET', path, service: 's3', region: o.region, headers: { Accept: 'text/event-stream' } as Record<string, string> };
  aws4.sign(req, { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey });
  const lib = o.endpoint.protocol === 'https:' ? https : http;

  return new Promise<number>((resolve, reject) => {
    const r = lib.request({ hostname: o.endpoint.hostname, port: o.endpoint.port || undefined, method: 'GET', path, headers: req.headers }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let msg = `HTTP ${res.statusCode}`;
          try {
            const e = JSON.parse(text) as { code?: string; message?: string };
            if (e.code) msg = `${e.code}: ${e.message ?? ''}`;
          } catch {
            const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
            if (code) msg = `${code}: ${/<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? ''}`;
          }
          reject(new CliError(msg));
        });
        return;
      }
      // On stderr, so stdout holds events only; scripts can wait for it before making changes.
      process.stderr.write(`watching s3://${bucket}/${prefix}${events ? ` (events: ${events})` : ''}\n`);
      let buf = '';
      let status = 1;
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const message = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of message.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (data === '') continue;
          if (event === 'dropped') {
            process.stderr.write(`tessera watch: the server ended the stream: ${(JSON.parse(data) as { reason: string }).reason}\n`);
            continue;
          }
          for (const rec of (JSON.parse(data) as { Records: Record0[] }).Records) out(json ? JSON.stringify(rec) + '\n' : line(rec));
        }
      });
      res.on('end', () => {
        process.stderr.write('tessera watch: the server closed the stream\n');
        resolve(status);
      });
      res.on('error', (e) => reject(new CliError(e.message)));
      const stop = () => {
        status = 0;
        r.destroy();
        resolve(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    r.on('error', (e) => reject(new CliError(`cannot reach ${o.endpoint.origin}: ${e.message}`)));
    r.end();
  });
}

/** time  event  key  size — the key decoded (records carry it form-URL-encoded, as S3's do). */
function line(rec: Record0): string {
  const o = rec.s3.object;
  const key = decodeURIComponent(o.key.replace(/\+/g, ' '));
  const size = o.size === undefined ? '-' : String(o.size);
  return `${rec.eventTime}  ${rec.eventName.padEnd(36)}  ${key}  ${size}${o.versionId ? `  (version ${o.versionId})` : ''}\n`;
}
