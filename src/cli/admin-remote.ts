// `tessera admin user|key|policy|bucket …`: the CLI of the admin API (src/http/admin-api.ts). Talks
// to a running server, signing each request with SigV4 (aws4) using the root credentials from
// --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Output is meant for
// people by default and for scripts with --json; `user add` and `key add` always print one
// JSON object with the new secret (shown this once). Any error: the server's message on
// stderr and exit status 1.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import aws4 from 'aws4';

export const REMOTE_USAGE = `usage: tessera admin [--endpoint URL] [--access-key K --secret-key S] [--json] COMMAND
  user add NAME [--policy P]...     add a user with one access key; prints {"user","accessKey","secretKey"}
  user list                         list users
  user info NAME                    show a user (policies, access keys)
  user remove NAME                  remove a user and its keys
  user enable NAME | disable NAME   let a user's keys sign, or stop them at once
  user attach NAME POLICY           attach a policy to a user
  user detach NAME POLICY           detach it
  key add NAME                      add an access key to a user (at most 2); prints {"user","accessKey","secretKey"}
  key remove ACCESS_KEY             remove an access key
  policy add NAME FILE.json         add or replace a policy (IAM JSON)
  policy list                       list policies (built-in and stored)
  policy info NAME                  show a policy's document
  policy remove NAME                remove a policy (detach it from every user first)
  bucket quota BUCKET               show a bucket's quota and the bytes it holds
  bucket quota BUCKET --max-bytes N set the quota (N bytes, or a size such as 10GiB)
  bucket quota BUCKET --clear       remove the quota
  info                              version, uptime, disks (state, space), erasure layout, buckets/objects/bytes
  heal [--bucket B] [--prefix P] [--dry-run] [--rate BYTES/S] [--detach]
                                    rewrite missing or corrupt shards (a server-side job) and show its progress;
                                    Ctrl-C detaches, the heal goes on
  heal --status | heal --stop       reattach to (or show the last) heal job | stop the running one
  scan [--bucket B] [--prefix P] [--rate BYTES/S] [--detach]
                                    verify every shard's CRC32C, change nothing, report damage
  scan --status | scan --stop       as for heal
  (heal and scan exit 0 when clean, 3 when damage was found or left, 1 on any error)
endpoint: --endpoint or TESSERA_ENDPOINT (default http://127.0.0.1:9000)
credentials: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the root key)
`;

export class CliError extends Error {}

export interface Options {
  endpoint: URL;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  json: boolean;
  policies: string[];
  words: string[];
  maxBytes?: string;
  clear: boolean;
  bucket?: string;
  prefix?: string;
  dryRun: boolean;
  detach: boolean;
  status: boolean;
  stop: boolean;
  rate?: string;
  /** Seconds between progress polls (default 1). */
  interval?: string;
}

/** Options that take a value (for admin.ts, which picks the command words out of argv). */
export const VALUE_OPTIONS = ['--endpoint', '--access-key', '--secret-key', '--region', '--policy', '--max-bytes', '--bucket', '--prefix', '--rate', '--interval'];

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Options {
  const words: string[] = [];
  const policies: string[] = [];
  let endpoint = env.TESSERA_ENDPOINT;
  let accessKeyId = env.AWS_ACCESS_KEY_ID;
  let secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  let region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  let json = false;
  let maxBytes: string | undefined;
  let clear = false;
  const flags = { dryRun: false, detach: false, status: false, stop: false };
  const named: { bucket?: string; prefix?: string; rate?: string; interval?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [name, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new CliError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--endpoint': endpoint = value(); break;
      case '--access-key': accessKeyId = value(); break;
      case '--secret-key': secretAccessKey = value(); break;
      case '--region': region = value(); break;
      case '--policy': policies.push(value()); break;
      case '--json': json = true; break;
      case '--max-bytes': maxBytes = value(); break;
      case '--clear': clear = true; break;
      case '--bucket': named.bucket = value(); break;
      case '--prefix': named.prefix = value(); break;
      case '--rate': named.rate = value(); break;
      case '--interval': named.interval = value(); break;
      case '--dry-run': flags.dryRun = true; break;
      case '--detach': flags.detach = true; break;
      case '--status': flags.status = true; break;
      case '--stop': flags.stop = true; break;
      default:
        if (a.startsWith('--')) throw new CliError(`unknown option ${name}`);
        words.push(a);
    }
  }
  if (!accessKeyId || !secretAccessKey) {
    throw new CliError('root credentials are needed: --access-key and --secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  let url: URL;
  try {
    url = new URL(endpoint ?? 'http://127.0.0.1:9000');
  } catch {
    throw new CliError(`--endpoint is not a URL: ${endpoint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--endpoint must be http:// or https://: ${endpoint}`);
  return { endpoint: url, accessKeyId, secretAccessKey, region, json, policies, words, maxBytes, clear, ...flags, ...named };
}

/** The error of a failed admin call: the API's code (e.g. XTesseraJobRunning) and message. */
export class ApiError extends CliError {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

/** One signed admin API call; resolves to the parsed JSON reply (undefined for 204). */
export async function call(o: Options, method: string, path: string, body?: string): Promise<unknown> {
  const base = o.endpoint.pathname.replace(/\/+$/, '');
  const req = {
    host: o.endpoint.host,
    method,
    path: `${base}/tessera/admin/v1/${path}`,
    service: 's3',
    region: o.region,
    headers: (body !== undefined ? { 'Content-Type': 'application/json' } : {}) as Record<string, string | number>,
    body,
  };
  aws4.sign(req, { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey });
  const lib = o.endpoint.protocol === 'https:' ? https : http;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const r = lib.request(
      { hostname: o.endpoint.hostname, port: o.endpoint.port || undefined, method, path: req.path, headers: req.headers, timeout: 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('no answer within 60 s')));
    r.on('error', (e) => reject(new CliError(`cannot reach ${o.endpoint.origin}: ${e.message}`)));
    r.end(body);
  });
  if (status === 204) return undefined;
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (status >= 200 && status < 300) return parsed;
  const err = parsed as { code?: string; message?: string } | undefined;
  if (err?.code) throw new ApiError(err.code, err.message ?? '');
  // Not the admin API's JSON: an S3 XML error (wrong key, signature) or something else.
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  throw new CliError(code ? `${code}: ${message ?? ''}` : `HTTP ${status} from ${o.endpoint.origin}`);
}

const enc = encodeURIComponent;

interface UserInfo {
  user: string;
  enabled: boolean;
  policies: string[];
  accessKeys: Array<{ accessKey: string; created: string }>;
  fromConfig: boolean;
}

interface PolicyInfo {
  name: string;
  builtin: boolean;
  document: unknown;
  users: string[];
}

/** Runs one admin command; resolves to the exit status (0 unless a command says otherwise). */
export async function runRemote(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number | void> {
  const o = parseArgs(argv, process.env);
  const [group, cmd, ...args] = o.words;
  if (group === 'info' || group === 'heal' || group === 'scan') {
    const { runJobCommand } = await import('./admin-jobs.js');
    return runJobCommand(o, out);
  }
  const need = (n: number, usage: string): string[] => {
    if (args.length !== n) throw new CliError(`usage: tessera admin ${group} ${cmd} ${usage}`);
    return args;
  };
  const print = (v: unknown) => out(JSON.stringify(v) + '\n');
  const done = (msg: string) => out(o.json ? JSON.stringify({ ok: true }) + '\n' : msg + '\n');
  switch (`${group} ${cmd}`) {
    case 'user add': {
      const [name] = need(1, 'NAME [--policy P]...');
      return print(await call(o, 'POST', 'users', JSON.stringify({ user: name, policies: o.policies })));
    }
    case 'user list': {
      need(0, '');
      const { users } = (await call(o, 'GET', 'users')) as { users: UserInfo[] };
      if (o.json) return print(users);
      out(users.length === 0 ? 'no users\n' : users.map(userLine).join('\n') + '\n');
      return;
    }
    case 'user info': {
      const [name] = need(1, 'NAME');
      const u = (await call(o, 'GET', `users/${enc(name!)}`)) as UserInfo;
      if (o.json) return print(u);
      out(`${userLine(u)}\n${u.accessKeys.map((k) => `  key ${k.accessKey}  created ${k.created}`).join('\n') || '  no access keys'}\n`);
      return;
    }
    case 'user remove':
      await call(o, 'DELETE', `users/${enc(need(1, 'NAME')[0]!)}`);
      return done(`removed user ${args[0]}`);
    case 'user enable':
    case 'user disable':
      await call(o, 'POST', `users/${enc(need(1, 'NAME')[0]!)}/${cmd}`);
      return done(`${cmd}d user ${args[0]}`);
    case 'user attach':
    case 'user detach': {
      const [name, policy] = need(2, 'NAME POLICY');
      await call(o, cmd === 'attach' ? 'PUT' : 'DELETE', `users/${enc(name!)}/policies/${enc(policy!)}`);
      return done(`${cmd === 'attach' ? 'attached' : 'detached'} ${policy} ${cmd === 'attach' ? 'to' : 'from'} ${name}`);
    }
    case 'key add':
      return print(await call(o, 'POST', `users/${enc(need(1, 'NAME')[0]!)}/keys`));
    case 'key remove':
      await call(o, 'DELETE', `keys/${enc(need(1, 'ACCESS_KEY')[0]!)}`);
      return done(`removed access key ${args[0]}`);
    case 'policy add': {
      const [name, file] = need(2, 'NAME FILE.json');
      let text: string;
      try {
        text = await readFile(file!, 'utf8');
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
      }
      await call(o, 'PUT', `policies/${enc(name!)}`, text);
      return done(`stored policy ${name}`);
    }
    case 'policy list': {
      need(0, '');
      const { policies } = (await call(o, 'GET', 'policies')) as { policies: PolicyInfo[] };
      if (o.json) return print(policies);
      out(policies.map((p) => `${p.name}${p.builtin ? ' (built-in)' : ''}${p.users.length ? `  users: ${p.users.join(', ')}` : ''}`).join('\n') + '\n');
      return;
    }
    case 'policy info': {
      const p = (await call(o, 'GET', `policies/${enc(need(1, 'NAME')[0]!)}`)) as PolicyInfo;
      return o.json ? print(p) : out(JSON.stringify(p.document, null, 2) + '\n');
    }
    case 'policy remove':
      await call(o, 'DELETE', `policies/${enc(need(1, 'NAME')[0]!)}`);
      return done(`removed policy ${args[0]}`);
    case 'bucket quota': {
      const [bucket] = need(1, 'BUCKET [--max-bytes N | --clear]');
      if (o.maxBytes !== undefined && o.clear) throw new CliError('give --max-bytes or --clear, not both');
      const q = `bucket-quota?bucket=${enc(bucket!)}`;
      let info: QuotaInfo;
      if (o.clear) {
        await call(o, 'DELETE', q);
        return done(`removed the quota of ${bucket}`);
      }
      if (o.maxBytes !== undefined) info = (await call(o, 'PUT', q, JSON.stringify({ maxBytes: parseBytes(o.maxBytes, '--max-bytes') }))) as QuotaInfo;
      else info = (await call(o, 'GET', q)) as QuotaInfo;
      if (o.json) return print(info);
      const used = info.usedBytes === null ? 'not kept (bucket made before usage was kept)' : `${info.usedBytes} bytes in ${info.versions} version(s)`;
      out(`${info.bucket}  quota: ${info.maxBytes === null ? 'none' : `${info.maxBytes} bytes`}  used: ${used}\n`);
      return;
    }
    default:
      throw new CliError(`unknown command "${o.words.join(' ')}"\n${REMOTE_USAGE}`);
  }
}

interface QuotaInfo {
  bucket: string;
  maxBytes: number | null;
  usedBytes: number | null;
  versions: number | null;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/** "1000", "10GiB", "1.5TB" → bytes. */
export function parseBytes(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n)) throw new CliError(`${option}: expected a number of bytes or a size such as 10GiB, got ${text}`);
  return n;
}

function userLine(u: UserInfo): string {
  const state = u.enabled ? 'enabled' : 'DISABLED';
  return `${u.user}  ${state}  policies: ${u.policies.join(', ') || '-'}  keys: ${u.accessKeys.map((k) => k.accessKey).join(', ') || '-'}${u.fromConfig ? '  (config file)' : ''}`;
}
