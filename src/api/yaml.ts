// YAML that means the same to YAML 1.1 readers (kubectl, the API server, Helm: `Yes`, `on`, `y` are
// booleans there) and to YAML 1.2 readers (the `yaml` package's default). Strings that either version
// would read as something else are quoted; everything else stays plain and readable.
import { stringify, type ScalarTag } from 'yaml';

/**
 * Plain scalars YAML 1.2's core schema reads as numbers but the 1.1 schema does not (`0o17`, `1e3`).
 * Never used to write a value (identify is false): it only makes the 1.1 stringifier quote such strings.
 */
const YAML12_NUMBERS: ScalarTag = {
  identify: () => false,
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^(?:0o[0-7]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$/,
  resolve: (s: string) => s,
};

/** YAML text whose YAML 1.1 and YAML 1.2 readings are both `value`. */
export function stringifyPortable(value: unknown): string {
  return stringify(value, {
    version: '1.1',
    lineWidth: 0,
    customTags: (tags) => [...tags, YAML12_NUMBERS],
  });
}
