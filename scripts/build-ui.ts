/**
 * Builds the dashboard: bundles and minifies `src/server/ui/main.ts` (Preact + htm) and `styles.css` with esbuild into
 * `src/server/ui/dist/` (content-hashed names, `index.html` pointing at them, no source maps shipped), prints the
 * gzipped size of everything the browser downloads, and fails when it exceeds the budget. When the package has been
 * compiled (`dist/server/` exists) the same files are copied to `dist/server/ui/dist/`, where the compiled service
 * looks for them.
 *
 * Usage: `tsx scripts/build-ui.ts` (exit 1 over budget or on a build error).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The whole UI (JS + CSS + HTML + icon), gzipped, must stay under this. */
export const UI_BUDGET_BYTES = 150 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uiDir = join(root, 'src/server/ui');

export interface BuildUiResult {
  outDir: string;
  files: { name: string; bytes: number; gzipBytes: number }[];
  totalGzipBytes: number;
  overBudget: boolean;
}

/** Builds the UI into `outDir` (default `src/server/ui/dist`). Throws on esbuild errors. */
export async function buildUi({ outDir = join(uiDir, 'dist'), quiet = false } = {}): Promise<BuildUiResult> {
  rmSync(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  mkdirSync(assets, { recursive: true });
  const result = await build({
    entryPoints: { app: join(uiDir, 'main.ts'), styles: join(uiDir, 'styles.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(assets, join(root, p)));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`esbuild produced no ${js ? 'CSS' : 'JS'} bundle`);
  const html = readFileSync(join(uiDir, 'index.html'), 'utf8').replace('%JS%', js).replace('%CSS%', css);
  writeFileSync(join(outDir, 'index.html'), html);
  cpSync(join(uiDir, 'favicon.svg'), join(assets, 'favicon.svg'));

  const files = ['index.html', ...[js, css, 'favicon.svg'].map((f) => `assets/${f}`)].map((name) => {
    const body = readFileSync(join(outDir, name));
    return { name, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
  });
  const totalGzipBytes = files.reduce((s, f) => s + f.gzipBytes, 0);
  const overBudget = totalGzipBytes > UI_BUDGET_BYTES;
  if (!quiet) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    for (const f of files) console.log(`  ${f.name.padEnd(32)} ${kb(f.bytes).padStart(9)}  gzip ${kb(f.gzipBytes).padStart(8)}`);
    console.log(`dashboard UI: ${kb(totalGzipBytes)} gzipped (${totalGzipBytes} bytes) of the ${kb(UI_BUDGET_BYTES)} budget${overBudget ? ' — OVER BUDGET' : ''}`);
  }
  return { outDir, files, totalGzipBytes, overBudget };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  try {
    const r = await buildUi();
    const compiled = join(root, 'dist/server');
    if (existsSync(compiled)) {
      const target = join(compiled, 'ui/dist');
      rmSync(target, { recursive: true, force: true });
      cpSync(r.outDir, target, { recursive: true });
      console.log(`copied to ${relative(root, target)}`);
    }
    if (r.overBudget) {
      console.error(`dashboard UI is over its ${UI_BUDGET_BYTES / 1024} KB gzip budget`);
      process.exitCode = 1;
    }
  } catch (err) {
    console.error(`dashboard UI build failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
