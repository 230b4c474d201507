// Errors the user must fix: printed as one line, exit code 1, never a stack trace.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** One printable line: no newlines, so a hostile value cannot forge log or terminal lines. */
export function oneLine(text: string, max = 500): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ').replace(/[\x00-\x1f\x7f]/g, '?');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
