#!/usr/bin/env node
// An arm64 Node.js that runs on an x86-64 Linux machine, to test the linux-arm64 prebuild:
// Debian/Ubuntu's own nodejs:arm64 and the arm64 libraries it needs, fetched with
// `apt-get download` and unpacked (`dpkg -x`) into .arm64-sysroot/ (git-ignored), run by
// qemu user-mode emulation: `qemu-aarch64 -L .arm64-sysroot/root .../usr/bin/node`.
// Idempotent: the packages are fetched again only when apt's candidate versions change.
// Needs (as root): dpkg --add-architecture arm64 && apt-get update && apt-get install qemu-user
//
//   node scripts/arm64-node.mjs [node arguments]    e.g. -p process.arch
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ARCH = 'arm64';

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? r.status}):\n${r.stderr ?? ''}`);
  }
  return r.stdout;
}

const onPath = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** qemu-aarch64 (qemu-user) or qemu-aarch64-static (qemu-user-static), or null. */
export function findQemu() {
  return ['qemu-aarch64', 'qemu-aarch64-static'].find(onPath) ?? null;
}

/** Why an emulated arm64 Node cannot be set up here, or null when it can. */
export function arm64NodeUnavailable() {
  if (process.platform !== 'linux' || process.arch === ARCH)
    return `needs a non-arm64 Linux host (this is ${process.platform}-${process.arch})`;
  if (!onPath('apt-get') || !onPath('dpkg')) return 'needs apt-get and dpkg (Debian/Ubuntu)';
  if (!findQemu()) return 'qemu-aarch64 not found (apt-get install qemu-user)';
  const policy = spawnSync('apt-cache', ['policy', `nodejs:${ARCH}`], { encoding: 'utf8' }).stdout ?? '';
  if (!/Candidate: (?!\(none\))/.test(policy)) {
    return `apt knows no nodejs:${ARCH} (as root: dpkg --add-architecture ${ARCH} && apt-get update)`;
  }
  return null;
}

/**
 * The packages nodejs:arm64 needs at run time: Depends and Pre-Depends, recursively; arm64
 * packages, plus the architecture-independent ones Debian's node loads its bundled-elsewhere
 * modules from (node-cjs-module-lexer, node-undici, ...). Host-architecture packages are
 * never taken.
 */
function dependencyClosure() {
  const seen = new Set();
  const archAll = new Set();
  let level = [`nodejs:${ARCH}`];
  // One apt-cache call per level of the dependency tree (each call costs seconds).
  while (level.length) {
    for (const p of level) seen.add(p);
    const found = [];
    let pkg = null;
    const lines = sh('apt-cache', [
      'depends',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...level,
    ]).split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (/^\S/.test(lines[i])) pkg = lines[i].trim();
      const m = /^\s*\|?(?:Pre)?Depends: (\S+)/.exec(lines[i]);
      if (!m || !pkg) continue;
      let deps = [m[1]];
      if (m[1].startsWith('<')) {
        // A virtual package: its providers follow, indented.
        deps = [];
        for (let j = i + 1; j < lines.length && /^\s{4}\S/.test(lines[j]); j++) deps.push(lines[j].trim());
      }
      // The root itself is skipped (Debian's node-* modules depend on nodejs:any).
      deps = deps.filter((d) => !/^nodejs(:|$)/.test(d) && (d.endsWith(`:${ARCH}`) || !d.includes(':')));
      if (deps.length) found.push(deps);
    }
    // Names without an architecture are the host's or architecture-independent: keep the latter.
    const plain = [...new Set(found.flat().filter((d) => !d.includes(':') && !seen.has(d)))];
    if (plain.length) {
      const show = sh('apt-cache', ['show', '--no-all-versions', ...plain]);
      for (const m of show.matchAll(/^Package: (\S+)\n(?:.+\n)*?Architecture: all$/gm)) archAll.add(m[1]);
    }
    const next = new Set();
    for (const deps of found) {
      const dep = deps.find((d) => d.endsWith(`:${ARCH}`)) ?? deps.find((d) => archAll.has(d));
      if (dep && !seen.has(dep)) next.add(dep);
    }
    level = [...next];
  }
  return [...seen].sort();
}

/** Fetches and unpacks (once) the arm64 Node; returns { qemu, sysroot, node, version }. */
export function prepareArm64Node({ cache = path.join(repo, '.arm64-sysroot'), log = console.log } = {}) {
  const why = arm64NodeUnavailable();
  if (why) throw new Error(`arm64 Node under emulation: ${why}`);
  const qemu = findQemu();
  const sysroot = path.join(cache, 'root');
  const stampFile = path.join(cache, 'packages.json');
  const node = path.join(sysroot, 'usr', 'bin', 'node');
  // The exact .deb file names (name_version_arch.deb) of apt's candidates: the cache key.
  const debsOf = (packages) => {
    const uris = sh('apt-get', ['download', '--print-uris', ...packages]);
    const debs = [...uris.matchAll(/^'\S+' (\S+\.deb) /gm)].map((m) => m[1]).sort();
    if (debs.length !== packages.length)
      throw new Error(`apt-get download --print-uris: expected ${packages.length} packages, got:\n${uris}`);
    return debs;
  };
  let stamp = null;
  try {
    stamp = fs.existsSync(node) ? JSON.parse(fs.readFileSync(stampFile, 'utf8')) : null;
  } catch {
    stamp = null;
  }
  // Same candidate versions of the cached packages: same dependencies, nothing to do.
  const fresh = !(stamp && debsOf(stamp.packages).join() === stamp.debs.join());
  if (fresh) {
    const packages = dependencyClosure();
    const debs = debsOf(packages);
    log(
      `arm64 node: fetching ${packages.length} packages into ${path.relative(process.cwd(), cache) || cache}/ (${packages.join(' ')})`,
    );
    const debDir = path.join(cache, 'debs');
    fs.rmSync(cache, { recursive: true, force: true });
    fs.mkdirSync(debDir, { recursive: true });
    sh('apt-get', ['download', '-q', ...packages], { cwd: debDir });
    fs.mkdirSync(sysroot, { recursive: true });
    for (const deb of fs.readdirSync(debDir).filter((f) => f.endsWith('.deb')))
      sh('dpkg', ['-x', path.join(debDir, deb), sysroot]);
    fs.rmSync(debDir, { recursive: true, force: true });
    fs.writeFileSync(stampFile, `${JSON.stringify({ packages, debs }, null, 2)}\n`);
  }
  const [arch, version] = sh(qemu, ['-L', sysroot, node, '-p', 'process.arch + " " + process.version']).trim().split(' ');
  if (arch !== ARCH) throw new Error(`the emulated node reports process.arch ${arch}, expected ${ARCH}`);
  return { qemu, sysroot, node, version, fresh };
}

/** Runs the emulated arm64 node with `args` (spawnSync options as given). */
export function runArm64Node(env, args, opts = {}) {
  return spawnSync(env.qemu, ['-L', env.sysroot, env.node, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const env = prepareArm64Node({ log: console.error });
    const r = runArm64Node(env, process.argv.slice(2), { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
