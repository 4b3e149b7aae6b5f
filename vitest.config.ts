import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      exclude: ['src/**/*.test.ts', 'src/**/*.case.ts', 'src/**/index.ts', 'src/cli/main.ts', 'src/trace/model.ts', 'src/server/ui/**', 'src/**/testing/**'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: {
        lines: 85,
        'src/resilience/**': { lines: 90 },
        'src/trace/**': { lines: 90 },
        'src/store/**': { lines: 90 },
        'src/state/**': { lines: 90 },
        'src/tools/**': { lines: 85 },
        'src/agent/**': { lines: 85 },
      },
    },
  },
});
