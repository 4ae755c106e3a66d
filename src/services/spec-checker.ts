// Compiles specs with the plugin catalogue: the one check run by validate, create, save and trigger.
import { InvalidInput } from '../errors';
import { compilePipeline } from '../spec';
import type { CompileResult, CompiledPipeline } from '../spec/model';
import type { PluginResolver } from '../plugins/types';

export type SpecFormat = 'yaml' | 'yml' | 'json';

export interface SpecChecker {
  check(spec: unknown, format?: SpecFormat): CompileResult;
  /** The compiled pipeline, or a 400 carrying every error (path, message, line, column). */
  compileOrReject(spec: unknown, format?: SpecFormat): CompiledPipeline;
}

export function createSpecChecker(plugins: PluginResolver): SpecChecker {
  const check = (spec: unknown, format?: SpecFormat) => compilePipeline(spec, { format, plugins });
  return {
    check,
    compileOrReject(spec, format) {
      const result = check(spec, format);
      if (!result.valid) {
        const first = result.errors[0];
        throw new InvalidInput(`invalid pipeline spec: ${first.path ? first.path + ': ' : ''}${first.message}`, result.errors);
      }
      return result.pipeline;
    },
  };
}
