/**
 * Architecture rules, checked on the source: the root import never reaches the HTTP server or a database driver,
 * and imports between subsystems — `import type` and type-position `import('…')` included — follow the layers of
 * ../shared/ARCHITECTURE.md (pictured in docs/architecture.md).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');
/** Static imports and re-exports; `[^'";]` keeps a match inside one statement. */
const STATIC_IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** What a file imports: at run time only, or also for its types (`import type`, `export type … from`). */
function imports(file: string, withTypes: boolean): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(STATIC_IMPORT)) if (withTypes || !m[1]) out.push(m[2]!);
  for (const m of text.matchAll(DYNAMIC_IMPORT)) out.push(m[1]!);
  return out;
}

function runtimeImports(file: string): string[] {
  return imports(file, false);
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'ui' ? [] : allFiles(full); // the dashboard bundle imports only itself
    return full.endsWith('.ts') ? [full] : [];
  });
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

  /**
   * Who may import whom (../shared/ARCHITECTURE.md): `common/` is the ground floor; `resilience/` and `trace/` stand
   * on it alone (and not on each other); `store/` and `state/` on those, sharing plumbing through `common/` rather
   * than each other; `tools/` on those, `agent/` on those and `tools/`; `server/` and `cli/` on top. `emulators/`
   * (fake external APIs for tests and the demo) stands on `common/` alone.
   */
  const MAY_IMPORT: Record<string, readonly string[]> = {
    common: [],
    resilience: ['common'],
    trace: ['common'],
    emulators: ['common'],
    store: ['common', 'resilience', 'trace'],
    state: ['common', 'resilience', 'trace'],
    tools: ['common', 'resilience', 'trace', 'store', 'state'],
    agent: ['common', 'resilience', 'trace', 'store', 'state', 'tools'],
    server: ['common', 'resilience', 'trace', 'store', 'state', 'tools', 'agent', 'emulators'],
    cli: ['common', 'resilience', 'trace', 'store', 'state', 'tools', 'agent', 'emulators', 'server'],
  };

  function violations(files: readonly string[], extra: readonly string[] = []): string[] {
    const out: string[] = [];
    for (const file of files) {
      const from = path.relative(SRC, file).split(path.sep)[0]!;
      const allowed = MAY_IMPORT[from];
      if (!allowed) continue;
      for (const spec of imports(file, true)) {
        const local = resolveLocal(file, spec);
        if (!local) continue;
        const to = path.relative(SRC, local).split(path.sep)[0]!;
        if (to !== from && to in MAY_IMPORT && !allowed.includes(to) && !extra.includes(to)) out.push(`${path.relative(SRC, file)} → ${spec}`);
      }
    }
    return out;
  }

  it('knows every subsystem under src/', () => {
    const dirs = readdirSync(SRC).filter((name) => statSync(path.join(SRC, name)).isDirectory());
    expect(dirs.filter((d) => !(d in MAY_IMPORT))).toEqual([]);
  });

  it('only imports down the layers, type imports included', () => {
    expect(violations(sourceFiles(SRC))).toEqual([]);
  });

  it('keeps the layers in tests too, which may also use the emulators', () => {
    const tests = allFiles(SRC).filter((f) => !sourceFiles(SRC).includes(f));
    expect(violations(tests, ['emulators'])).toEqual([]);
  });

  it('sees type-only imports (the check would miss a back-edge made of types otherwise)', () => {
    expect(imports(path.join(SRC, 'tools', 'registry.ts'), true)).toContain('./spec.js');
    expect(runtimeImports(path.join(SRC, 'tools', 'registry.ts'))).not.toContain('./spec.js');
  });
});
