#!/usr/bin/env node
/** The `agentex` command. For now only a placeholder: the service issue makes `serve` real. */
const command = process.argv[2] ?? 'serve';
if (command === 'serve') {
  console.log('agentex: the HTTP service (traces, circuits, OTLP ingest, dashboard) is not built yet.');
  console.log('The library is usable today: import { circuitBreaker, withTrace } from "agentex".');
} else {
  console.error(`agentex: unknown command "${command}"`);
  process.exit(2);
}
