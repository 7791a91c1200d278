// The container and deployment files, read as Docker, Compose and Kubernetes would read them,
// checked for what running Tessera safely depends on: a supported Node, a non-root user that
// owns the data directories, a health check on the real health endpoints, no dev dependencies
// in the image, one volume per disk, probes on the right paths, credentials from secrets.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { HEALTH_LIVE_PATH, HEALTH_READY_PATH, METRICS_PATH } from '../../src/ops/routes.js';
import { FILE_VARIABLES } from '../../src/config/config.js';

/** The repository root: the directory above dist/ when compiled. */
const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'Dockerfile'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('Dockerfile not found above the test');
    dir = up;
  }
  return dir;
})();
const read = (rel: string): string => readFileSync(path.join(ROOT, rel), 'utf8');

// -------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  op: string;
  args: string;
}

/** Instructions grouped by stage, continuation lines joined and comments dropped. */
function dockerStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    const full = (pending + line).trim().replace(/\s+/g, ' ');
    pending = '';
    if (full === '') continue;
    const [op, ...rest] = full.split(' ');
    const ins = { op: op!.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') stages.push([]);
    assert.ok(stages.length > 0, `${ins.op} before any FROM`);
    stages.at(-1)!.push(ins);
  }
  return stages;
}

const stages = dockerStages(read('Dockerfile'));
const final = stages.at(-1)!;
const all = (st: Instruction[], op: string) => st.filter((i) => i.op === op);
const one = (st: Instruction[], op: string): Instruction => {
  const found = all(st, op);
  assert.equal(found.length, 1, `expected one ${op} in the stage, found ${found.length}`);
  return found[0]!;
};
const finalEnv = Object.fromEntries(all(final, 'ENV').flatMap((i) => i.args.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
const volumes: string[] = JSON.parse(one(final, 'VOLUME').args);
const imageUser = one(final, 'USER').args;

describe('Dockerfile', { timeout: 10_000 }, () => {
  test('every stage is an official Node image of the same LTS major, 22 or newer', () => {
    const majors = stages.map((st) => /^node:(\d+)-/.exec(st[0]!.args)?.[1]);
    assert.ok(majors.every((m) => m !== undefined), `not node:<major>-… images: ${stages.map((s) => s[0]!.args).join(', ')}`);
    assert.equal(new Set(majors).size, 1, 'one Node major for build and run (native addons are built for it)');
    const major = Number(majors[0]);
    assert.ok(major >= 22 && major % 2 === 0, `Node ${major}: an even (LTS) major, 22 or newer`);
  });

  test('the server runs as a non-root user, as node itself (exec form), so SIGTERM reaches it', () => {
    assert.ok(imageUser !== '' && imageUser !== 'root' && !/^0(:|$)/.test(imageUser), `USER ${imageUser}`);
    // USER must come before CMD's effect and after every RUN that needs root.
    const lastRun = final.map((i) => i.op).lastIndexOf('RUN');
    assert.ok(final.findIndex((i) => i.op === 'USER') > lastRun, 'USER after the last RUN');
    const cmd = JSON.parse(one(final, 'CMD').args) as string[];
    assert.deepEqual(cmd.slice(0, 1), ['node']);
    assert.ok(existsSync(path.join(ROOT, cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${cmd[1]} is built from a source file`);
    assert.equal(cmd[2], 'server');
  });

  test('HEALTHCHECK asks /health/live with node, from a file the build produces', () => {
    const hc = one(final, 'HEALTHCHECK').args;
    const cmd = JSON.parse(/CMD (\[.*\])$/.exec(hc)![1]!) as string[];
    assert.equal(cmd[0], 'node');
    assert.equal(cmd.at(-1), HEALTH_LIVE_PATH);
    assert.ok(existsSync(path.join(ROOT, cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), `${cmd[1]} is built from a source file`);
    for (const opt of ['--interval=', '--timeout=', '--start-period=', '--retries=']) assert.ok(hc.includes(opt), `HEALTHCHECK ${opt}`);
  });

  test('one VOLUME per disk and one for the metadata, matching the ENV, created and owned by the runtime user', () => {
    const disks = finalEnv.TESSERA_DISKS!.split(',');
    assert.equal(disks.length, 4);
    assert.deepEqual(volumes.sort(), [...disks, finalEnv.TESSERA_META_DIR!].sort());
    const runs = all(final, 'RUN').map((i) => i.args).join(' && ');
    for (const v of volumes) assert.match(runs, new RegExp(`mkdir -p [^&]*${v}( |$)`), `${v} is created in the image`);
    const chown = /chown -R (\w+):(\w+) (\S+)/.exec(runs);
    assert.ok(chown, 'the data directories are given to the runtime user');
    assert.equal(chown[1], imageUser);
    for (const v of volumes) assert.ok(v.startsWith(`${chown[3]}/`) || v === chown[3], `${v} is under the chown'ed ${chown[3]}`);
  });

  test('the image keeps a configured secret out of its log and listens on all interfaces', () => {
    assert.equal(finalEnv.TESSERA_PRINT_SECRET, 'false');
    assert.equal(finalEnv.TESSERA_ADDRESS, `0.0.0.0:${one(final, 'EXPOSE').args}`);
    assert.equal(finalEnv.NODE_ENV, 'production');
  });

  test('on Node 24 or newer, V8\'s young generation is held to Node 22\'s size (memory goals)', () => {
    const major = Number(/^node:(\d+)-/.exec(final[0]!.args)![1]);
    if (major >= 24) assert.match(finalEnv.NODE_OPTIONS ?? '', /--max-semi-space-size=16\b/);
  });

  test('no dev dependencies in the final stage: node_modules comes from a pruned build', () => {
    for (const i of all(final, 'RUN')) assert.doesNotMatch(i.args, /npm (ci|install|i)\b(?![^&]*--omit=dev)/, `final stage installs packages: ${i.args}`);
    const copy = all(final, 'COPY').find((i) => /node_modules/.test(i.args));
    assert.ok(copy, 'node_modules is copied from the build stage');
    const from = /--from=(\S+)/.exec(copy.args)![1]!;
    const build = stages.find((st) => new RegExp(`AS ${from}$`, 'i').test(st[0]!.args));
    assert.ok(build, `stage ${from}`);
    const runs = all(build, 'RUN').map((i) => i.args);
    const install = runs.findIndex((r) => /npm ci\b/.test(r));
    const prune = runs.findIndex((r) => /npm prune --omit=dev/.test(r) || /npm ci [^&]*--omit=dev/.test(r));
    assert.ok(install >= 0 && prune >= install, 'npm prune --omit=dev (or npm ci --omit=dev) after the full install');
  });

  test('.dockerignore lets in only what the COPY lines need: no host node_modules, data or secrets', () => {
    const rules = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    assert.equal(rules[0], '*', 'everything excluded first, then the needed files allowed back');
    const allowed = rules.slice(1).map((r) => {
      assert.ok(r.startsWith('!'), `only "!" rules after "*": ${r}`);
      return r.slice(1).replace(/\/$/, '');
    });
    const copied = stages.flat().filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(' ').slice(0, -1));
    assert.deepEqual([...new Set(copied)].sort(), allowed.sort(), 'the allowed paths are exactly the ones copied from the context');
    for (const p of allowed) assert.ok(existsSync(path.join(ROOT, p)), `${p} exists`);
  });
});

// -------------------------------------------------------------------------------------------
// docker-compose.yml

type Obj = Record<string, any>;
const compose = parse(read('docker-compose.yml')) as Obj;

describe('docker-compose.yml', { timeout: 10_000 }, () => {
  const tessera = compose.services.tessera as Obj;

  test('tessera: a named volume on each of the image\'s volumes, declared at the top level', () => {
    const mounts = (tessera.volumes as string[]).map((v) => v.split(':'));
    assert.deepEqual(mounts.map((m) => m[1]).sort(), [...volumes].sort());
    const names = mounts.map((m) => m[0]!);
    assert.equal(new Set(names).size, names.length, 'a volume of its own for each');
    for (const n of names) assert.ok(n in compose.volumes, `volume ${n} declared`);
    assert.equal(tessera.build, '.');
  });

  test('tessera: healthcheck on /health/live with the image\'s health check command', () => {
    const t = tessera.healthcheck.test as string[];
    assert.deepEqual(t.slice(0, 3), ['CMD', 'node', 'dist/src/cli/healthcheck.js']);
    assert.equal(t[3], HEALTH_LIVE_PATH);
    assert.ok(tessera.stop_grace_period, 'time for in-flight requests on docker compose stop');
  });

  test('tessera: root credentials from secrets (files), never inline', () => {
    const env = tessera.environment as Obj;
    assert.equal(env.TESSERA_ROOT_SECRET_KEY, undefined);
    assert.equal(env.TESSERA_ROOT_ACCESS_KEY, undefined);
    for (const v of ['TESSERA_ROOT_ACCESS_KEY_FILE', 'TESSERA_ROOT_SECRET_KEY_FILE']) {
      assert.ok(FILE_VARIABLES.has(v.replace(/_FILE$/, '')), `${v} is a variable the server reads`);
      const secret = /^\/run\/secrets\/(\w+)$/.exec(env[v])?.[1];
      assert.ok(secret && (tessera.secrets as string[]).includes(secret) && compose.secrets[secret]?.file, `${v} names a declared secret`);
    }
    // The secret files themselves are kept out of git.
    assert.match(read('deploy/secrets/.gitignore'), /^\*$/m);
  });

  test('monitoring profile: Prometheus scrapes tessera:9000/metrics, Grafana loads the dashboard from deploy/grafana', () => {
    const { prometheus, grafana } = compose.services as Obj;
    assert.deepEqual(prometheus.profiles, ['monitoring']);
    assert.deepEqual(grafana.profiles, ['monitoring']);
    const promMount = (prometheus.volumes as string[]).find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'))!;
    const prom = parse(read(promMount.split(':')[0]!)) as Obj;
    const job = (prom.scrape_configs as Obj[]).find((j) => j.job_name === 'tessera')!;
    assert.equal(job.metrics_path, METRICS_PATH);
    assert.deepEqual(job.static_configs[0].targets, ['tessera:9000']);

    const gv = grafana.volumes as string[];
    const provisioning = gv.find((v) => v.endsWith(':/etc/grafana/provisioning:ro'))!.split(':')[0]!;
    const dashboard = gv.find((v) => v.includes('tessera-dashboard.json'))!.split(':');
    assert.equal(dashboard[0], './deploy/grafana/tessera-dashboard.json');
    const ds = parse(read(path.join(provisioning, 'datasources/prometheus.yml'))) as Obj;
    assert.equal(ds.datasources[0].type, 'prometheus');
    assert.equal(ds.datasources[0].url, 'http://prometheus:9090');
    const dp = parse(read(path.join(provisioning, 'dashboards/tessera.yml'))) as Obj;
    assert.equal(dp.providers[0].options.path, path.posix.dirname(dashboard[1]!), 'the provider reads the directory the dashboard is mounted in');
    assert.match(grafana.environment.GF_SECURITY_ADMIN_PASSWORD, /^\$\{GRAFANA_ADMIN_PASSWORD:\?/, 'no default admin password');
  });

  test('the provisioned dashboard names its data source through a variable file provisioning can resolve', () => {
    const board = JSON.parse(read('deploy/grafana/tessera-dashboard.json')) as Obj;
    // File provisioning ignores "__inputs" (that is for imports in the UI): every ${VAR} data
    // source must be a dashboard variable of type datasource, which picks the default one.
    const variables = new Map(((board.templating?.list ?? []) as Obj[]).map((v) => [v.name as string, v]));
    const used = new Set([...JSON.stringify(board).matchAll(/"uid":"\$\{(\w+)\}"/g)].map((m) => m[1]!));
    assert.ok(used.size > 0, 'the panels name a data source');
    for (const name of used) {
      assert.equal(variables.get(name)?.type, 'datasource', `\${${name}} is a datasource variable`);
      assert.equal(variables.get(name)?.query, 'prometheus');
    }
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as Obj;
    assert.equal(ds.datasources.filter((d: Obj) => d.isDefault).length, 1, 'one default data source for the variable to pick');
  });
});

// -------------------------------------------------------------------------------------------
// deploy/kubernetes

const k8s = readdirSync(path.join(ROOT, 'deploy/kubernetes'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(read(`deploy/kubernetes/${f}`)).map((d) => {
    assert.equal(d.errors.length, 0, `${f}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  }));

describe('deploy/kubernetes', { timeout: 10_000 }, () => {
  const sts = k8s.find((d) => d.kind === 'StatefulSet')!;
  const pod = sts.spec.template.spec as Obj;
  const container = pod.containers[0] as Obj;
  const env = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e]));
  const mountOf = (p: string) => (container.volumeMounts as Obj[]).find((m) => p === m.mountPath || p.startsWith(`${m.mountPath}/`));

  test('a StatefulSet with one PersistentVolumeClaim per disk and one for the metadata, each mounted where the server looks', () => {
    assert.ok(sts, 'a StatefulSet');
    const claims = (sts.spec.volumeClaimTemplates as Obj[]).map((c) => c.metadata.name as string);
    const disks = (env.TESSERA_DISKS.value as string).split(',');
    assert.equal(disks.length, 4);
    const used = [...disks, env.TESSERA_META_DIR.value as string].map((p) => {
      const m = mountOf(p);
      assert.ok(m, `${p} is on a mounted volume`);
      assert.ok(claims.includes(m.name), `${p} is on a claim (${m.name})`);
      return m.name as string;
    });
    assert.equal(new Set(used).size, 5, 'each disk and the metadata on a claim of its own');
    assert.deepEqual(claims.sort(), [...used].sort());
  });

  test('liveness on /health/live, readiness on /health/ready, on the container\'s port', () => {
    const port = (container.ports as Obj[])[0]!;
    const probe = (p: Obj) => {
      assert.ok(p.port === port.name || p.port === port.containerPort, 'the S3 port');
      return p.path;
    };
    assert.equal(probe(container.livenessProbe.httpGet), HEALTH_LIVE_PATH);
    assert.equal(probe(container.readinessProbe.httpGet), HEALTH_READY_PATH);
    assert.equal(probe(container.startupProbe.httpGet), HEALTH_LIVE_PATH);
  });

  test('runs as non-root with an fsGroup, without privilege escalation; resources requested and limited', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.ok(pod.securityContext.fsGroup > 0, 'fsGroup makes the volumes writable');
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    for (const kind of ['requests', 'limits']) {
      assert.ok(container.resources[kind].cpu && container.resources[kind].memory, `${kind}: cpu and memory`);
    }
  });

  test('root credentials come from a Secret, as files the server reads through _FILE variables', () => {
    assert.equal(env.TESSERA_ROOT_SECRET_KEY, undefined);
    assert.equal(env.TESSERA_ROOT_ACCESS_KEY, undefined);
    for (const v of ['TESSERA_ROOT_ACCESS_KEY_FILE', 'TESSERA_ROOT_SECRET_KEY_FILE']) {
      const file = env[v].value as string;
      const mount = mountOf(file);
      assert.ok(mount?.readOnly, `${v}: ${file} is on a read-only mount`);
      const volume = (pod.volumes as Obj[]).find((x) => x.name === mount.name)!;
      assert.ok(volume.secret?.secretName, `${v}: mounted from a Secret`);
      const key = path.posix.relative(mount.mountPath, file);
      assert.ok((volume.secret.items as Obj[]).some((i) => i.path === key), `${v}: the Secret provides ${key}`);
    }
    assert.equal(env.TESSERA_PRINT_SECRET.value, 'false');
  });

  test('a Service selects the pod and targets its port; the StatefulSet\'s headless Service exists', () => {
    const labels = sts.spec.template.metadata.labels as Obj;
    const services = k8s.filter((d) => d.kind === 'Service');
    for (const s of services) {
      for (const [k, v] of Object.entries(s.spec.selector as Obj)) assert.equal(labels[k], v, `${s.metadata.name} selects the pod`);
      assert.equal(s.spec.ports[0].targetPort, container.ports[0].name);
    }
    assert.ok(services.some((s) => s.metadata.name === sts.spec.serviceName && s.spec.clusterIP === 'None'), 'headless service');
    assert.ok(services.some((s) => s.spec.clusterIP !== 'None'), 'a Service for clients');
  });
});
