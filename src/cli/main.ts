#!/usr/bin/env node
/** Entry point of the `agentex` command; the commands live in program.ts. */
import { main } from './program.js';

process.exitCode = await main(process.argv);
