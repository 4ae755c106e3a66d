// A plugin's manifest (arcentra-plugin.yaml): name, version, actions, and a JSON Schema for its args.
import * as v from 'valibot';

export const MANIFEST_FILE = 'arcentra-plugin.yaml';

const JsonSchemaObject = v.looseObject({ type: v.optional(v.literal('object', 'the args schema must be of type object')) });

export const Manifest = v.object({
  name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/i, 'must be owner/name')),
  version: v.pipe(v.string(), v.regex(/^\d+\.\d+\.\d+$/, 'must be a semantic version like 1.2.3')),
  description: v.optional(v.string(), ''),
  actions: v.optional(v.array(v.string()), []),
  defaultAction: v.optional(v.string()),
  args: v.optional(JsonSchemaObject, { type: 'object' }),
  /** Executable (relative to the plugin folder) the agent runs; args arrive as ARC_ARG_<NAME> variables. */
  entrypoint: v.optional(v.string()),
});

export type PluginManifest = v.InferOutput<typeof Manifest>;
