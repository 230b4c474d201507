// Errors the user must fix: printed as one line, exit code 1, never a stack trace.
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/**
 * One printable line, so a hostile value cannot forge log or terminal lines: line breaks become spaces;
 * any other control character, line or paragraph separator or bidi override is escaped as \uXXXX.
 */
export function oneLine(text: string, max = Number.POSITIVE_INFINITY): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, ' ').replace(
    // eslint-disable-next-line no-control-regex -- replacing control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
