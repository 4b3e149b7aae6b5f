/** The README's configuration table is generated from the code; this keeps the two from drifting apart. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationTable } from '../src/server/config.js';

describe('README', () => {
  const readme = readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

  it('holds the current configuration table', () => {
    expect(readme).toContain(configurationTable());
  });

  it('shows the two newcomer commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });
});
