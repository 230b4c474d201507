// `tributary crd`: the CustomResourceDefinition, generated from the same zod schemas the code uses.
import { renderCrdYaml } from '../../api/crd.js';

export function crdCommand(): void {
  process.stdout.write(renderCrdYaml());
}
