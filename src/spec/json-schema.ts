// JSON Schema of pipeline.yaml, generated from the same valibot schemas the validator uses.
import { toJsonSchema } from '@valibot/to-json-schema';
import type { GenericSchema } from 'valibot';
import { pipelineSchema } from './schema';

let cached: Record<string, unknown> | undefined;

export function pipelineJsonSchema(): Record<string, unknown> {
  // errorMode 'ignore': custom checks (cross-field rules) have no JSON Schema form; the validator still runs them.
  cached ??= {
    $id: 'https://arcentra.dev/schemas/pipeline.v1.json',
    title: 'Arcentra pipeline',
    ...toJsonSchema(pipelineSchema as GenericSchema, { errorMode: 'ignore' }),
  };
  return cached;
}
