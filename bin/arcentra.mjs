#!/usr/bin/env node
// Runs the built CLI (dist/<key>/arcentra.mjs) in this very process, building it first when the
// sources changed. `bin/arcentra` is the usual way in; it adds per-role node flags.
import { pathToFileURL } from 'node:url';
import { ensureBuilt } from '../scripts/build.mjs';

const entry = await ensureBuilt();
process.setSourceMapsEnabled(true);
await import(pathToFileURL(entry).href);
