// What the spec compiler needs from the plugin catalogue: resolve a `uses` reference, check its args.

export interface ArgIssue {
  /** Path below `args`, e.g. `go_version` or `matrix[0]`; empty for the args object itself. */
  path: string;
  message: string;
}

export interface ResolvedPlugin {
  /** owner/name */
  name: string;
  /** The exact version chosen (`@v1` takes the newest 1.x). */
  version: string;
  /** Actions the plugin offers; a step's `action` must be one of them (when the list is not empty). */
  actions: string[];
  defaultAction?: string;
  /** Checks a step's args against the manifest; expression strings (`${{ … }}`) are accepted for any type. */
  checkArgs(args: Record<string, unknown>, action?: string): ArgIssue[];
}

export type PluginResolution = { ok: true; plugin: ResolvedPlugin } | { ok: false; message: string };

export interface PluginResolver {
  resolve(uses: string): PluginResolution;
}
