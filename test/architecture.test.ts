/**
 * Architecture rules, checked on the source: the root import never reaches the HTTP server or a database driver,
 * and imports between subsystems only point down the layers of docs/architecture.md.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');
const RUNTIME_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /import\(\s*['"]([^'"]+)['"]\s*\)/g;

function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(RUNTIME_IMPORT)) out.push(m[1]!);
  for (const m of text.matchAll(DYNAMIC_IMPORT)) out.push(m[1]!);
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') && !full.endsWith('.test.ts') && !full.endsWith('.case.ts') && !full.includes(`${path.sep}testing${path.sep}`) ? [full] : [];
  });
}

describe('architecture', () => {
  it('keeps the root import free of the server, database drivers and the CLI', () => {
    const forbidden = ['better-sqlite3', 'pg', 'ioredis', 'hono', '@hono/node-server', '@hono/zod-openapi', 'commander', 'prom-client'];
    const seen = new Set<string>();
    const stack = [path.join(SRC, 'index.ts')];
    const external = new Set<string>();
    while (stack.length) {
      const file = stack.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of runtimeImports(file)) {
        const local = resolveLocal(file, spec);
        if (local) stack.push(local);
        else external.add(spec);
      }
    }
    expect([...external].filter((e) => forbidden.includes(e))).toEqual([]);
    expect([...seen].some((f) => f.includes(`${path.sep}server${path.sep}`))).toBe(false);
  });

  it('only imports downwards between subsystems', () => {
    const layer: Record<string, number> = { common: 0, resilience: 1, trace: 2, store: 3, state: 3.5, emulators: 3, tools: 4, agent: 5, server: 6, cli: 7 };
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = path.relative(SRC, file).split(path.sep)[0]!;
      if (!(from in layer)) continue;
      for (const spec of runtimeImports(file)) {
        const local = resolveLocal(file, spec);
        if (!local) continue;
        const to = path.relative(SRC, local).split(path.sep)[0]!;
        if (to in layer && to !== from && layer[to]! >= layer[from]!) violations.push(`${path.relative(SRC, file)} → ${spec}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
