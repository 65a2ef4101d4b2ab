#!/usr/bin/env node
'use strict';
// A native-style `solc` command over solc-js, for forge (--use) and slither (--solc).
// It answers `--version` and `--standard-json` only; the compiler version is chosen from the
// sources' pragmas among the solc-js releases installed side by side in node_modules
// (`solc` and npm aliases named `solc-X.Y.Z`).
const fs = require('fs');
const path = require('path');

function findNodeModules() {
  const starts = [process.env.WATCHDOG_NODE_MODULES, __dirname, process.cwd()].filter(Boolean);
  for (const start of starts) {
    let dir = path.resolve(start);
    if (path.basename(dir) === 'node_modules' && fs.existsSync(path.join(dir, 'solc'))) return dir;
    for (;;) {
      const candidate = path.join(dir, 'node_modules');
      if (fs.existsSync(path.join(candidate, 'solc', 'package.json'))) return candidate;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  fail('solc-js is not installed: run `make setup` (or `npm install`) in the watchdog checkout (or set WATCHDOG_NODE_MODULES)');
}

function fail(message) {
  process.stderr.write(`solc: ${message}\n`);
  process.exit(1);
}

function installedCompilers(nodeModules) {
  const found = [];
  for (const name of fs.readdirSync(nodeModules)) {
    if (!/^solc(-\d+\.\d+\.\d+)?$/.test(name)) continue;
    const pkgFile = path.join(nodeModules, name, 'package.json');
    if (!fs.existsSync(pkgFile)) continue;
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
    if (pkg.name === 'solc') found.push({ version: pkg.version, dir: path.join(nodeModules, name) });
  }
  return found;
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, roots: [] };
  const withValue = new Set(['--allow-paths', '--base-path', '--include-path']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.split('=', 2);
    if (flag === '--version') opts.version = true;
    else if (flag === '--standard-json') opts.standardJson = true;
    else if (withValue.has(flag)) {
      const value = inline !== undefined ? inline : argv[++i];
      if (flag !== '--allow-paths' && value) opts.roots.push(value);
    }
  }
  return opts;
}

// Pragma constraints of the input sources and of everything they import (found by regex, loop-safe).
function collectPragmas(sources, resolveImport) {
  const ranges = [];
  const seen = new Set();
  const queue = Object.entries(sources).map(([name, src]) => [name, src.content]);
  while (queue.length) {
    const [name, content] = queue.shift();
    if (seen.has(name) || typeof content !== 'string') continue;
    seen.add(name);
    for (const m of content.matchAll(/pragma\s+solidity\s+([^;]+);/g)) ranges.push(m[1].trim());
    for (const m of content.matchAll(/import\s+(?:[^'"]*from\s+)?["']([^"']+)["']/g)) {
      const target = m[1].startsWith('.') ? path.posix.join(path.posix.dirname(name), m[1]) : m[1];
      if (seen.has(target) || sources[target]) continue;
      const found = resolveImport(target);
      if (found.contents !== undefined) queue.push([target, found.contents]);
    }
  }
  return ranges;
}

function chooseCompiler(compilers, ranges, semver) {
  const pinned = process.env.WATCHDOG_SOLC_VERSION;
  const candidates = compilers
    .filter((c) => !pinned || c.version === pinned)
    .filter((c) => ranges.every((r) => semver.satisfies(c.version, r)))
    .sort((a, b) => semver.rcompare(a.version, b.version));
  if (candidates.length) return candidates[0];
  const have = compilers.map((c) => c.version).join(', ');
  return { error: `no installed solc-js release satisfies ${JSON.stringify(ranges)} (installed: ${have}); add one as an npm alias "solc-X.Y.Z": "npm:solc@X.Y.Z"` };
}

function makeImportResolver(roots) {
  const bases = [process.cwd(), ...roots];
  return (importPath) => {
    for (const base of bases) {
      const full = path.isAbsolute(importPath) ? importPath : path.join(base, importPath);
      try {
        if (fs.statSync(full).isFile()) return { contents: fs.readFileSync(full, 'utf8') };
      } catch (_) { /* try the next root */ }
    }
    return { error: `File not found: ${importPath} (searched ${bases.join(', ')})` };
  };
}

function errorOutput(message) {
  return JSON.stringify({ errors: [{ component: 'general', severity: 'error', type: 'IOError', message, formattedMessage: message }] });
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const nodeModules = findNodeModules();
  const compilers = installedCompilers(nodeModules);
  const semver = require(path.join(nodeModules, 'semver'));
  if (opts.version) {
    const pick = chooseCompiler(compilers, [], semver);
    const solc = require(pick.dir);
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) fail('only --version and --standard-json are supported by this solc-js shim');

  const raw = fs.readFileSync(0, 'utf8');
  let input;
  try {
    input = JSON.parse(raw);
  } catch (e) {
    process.stdout.write(errorOutput(`standard JSON input is not valid JSON: ${e.message}`));
    return;
  }
  const resolveImport = makeImportResolver(opts.roots);
  for (const [name, src] of Object.entries(input.sources || {})) {
    if (src.content === undefined && Array.isArray(src.urls)) {
      const found = src.urls.map(resolveImport).find((r) => r.contents !== undefined);
      if (found) src.content = found.contents;
    }
  }
  const pick = chooseCompiler(compilers, collectPragmas(input.sources || {}, resolveImport), semver);
  if (pick.error) {
    process.stdout.write(errorOutput(pick.error));
    return;
  }
  const solc = require(pick.dir);
  const output = solc.compile(JSON.stringify(input), { import: resolveImport });
  // No process.exit(): stdout to a pipe must drain (it is cut at 64 KiB otherwise).
  process.stdout.write(output);
}

main();
