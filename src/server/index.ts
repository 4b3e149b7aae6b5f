/** The AgentEx service: configuration, the HTTP app, metrics and the process that ties them together. */
export { startService, providerFromConfig, searchClientsFromConfig, DEFAULT_MODELS } from './service.js';
export type { StartServiceOptions, RunningService } from './service.js';
export { createApp } from './app.js';
export type { ServiceDeps, CircuitsPort, CircuitView, IngestResult, AgentRunRequest, AgentRunResponse, HttpMetrics } from './app.js';
export { loadConfig, configurationTable, ConfigError, SETTINGS } from './config.js';
export type { Config, LoadConfigInput } from './config.js';
export { createMetrics } from './metrics.js';
export type { ServiceMetrics, MetricsSources } from './metrics.js';
export { decodeOtlpJson } from './otlpIngest.js';
export { generateToken, safeEqual } from './auth.js';
